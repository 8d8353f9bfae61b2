"""RNN runs through the pipeline: configs, the RNN schedule, a short run beats the biases baseline."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pytest
from hydra.errors import ConfigCompositionException

from conftest import compose_config, empty_store
from momentum_repro.data.rnn_tasks import make_eval_set
from momentum_repro.errors import ConfigError
from momentum_repro.optim import rnn_momentum_schedule
from momentum_repro.tracking.sweep_grids import expand_grids
from momentum_repro.training.optimizers import momentum_schedule_of
from momentum_repro.training.run import run_job


def test_rnn_schedule_is_0_9_then_mu_0() -> None:
    assert rnn_momentum_schedule(999, 0.995) == 0.9
    assert rnn_momentum_schedule(1000, 0.995) == 0.995
    assert rnn_momentum_schedule(1000, 0.0) == 0.0
    cfg = compose_config(["experiment=rnn", "profile=paper", "optimizer.mu_max=0.98"])
    mu = momentum_schedule_of(cfg)
    assert (mu(0), mu(999), mu(1000), mu(49_999)) == (0.9, 0.9, 0.98, 0.98)
    assert cfg.trainer.total_updates == 50_000 and cfg.trainer.batch_size == 100


def test_rnn_table_experiment_is_the_papers_grid() -> None:
    cfg = compose_config(["experiment=rnn_table", "profile=paper"], with_hydra=True)
    sweeper = cfg.hydra.sweeper
    assert cfg.schedule._target_.endswith("RNNSchedule") and sweeper._target_.endswith(
        "GridsSweeper"
    )
    params = [f"{k}={v}" for k, v in sweeper.params.items()]
    jobs = [dict(o.split("=", 1) for o in job) for job in expand_grids(params, sweeper.grids)]
    assert len(jobs) == 512  # 4 problems x 4 lrs x 4 seeds x (biases, NAG at 0, 6 more)
    assert {j["data"] for j in jobs} == {"addition", "multiplication", "mem5", "mem20"}
    assert {float(j["optimizer.lr"]) for j in jobs} == {1e-3, 1e-4, 1e-5, 1e-6}
    assert {j["seed"] for j in jobs} == {"1", "2", "3", "4"}
    columns = {(j["optimizer"], j.get("optimizer.mu_max", "-")) for j in jobs}
    assert columns == {
        ("biases", "-"),
        ("nag", "0"),  # Table 5's "0" column: mu_0 = 0 with one method only
        *{(m, mu) for m in ("nag", "cm") for mu in ("0.9", "0.98", "0.995")},
    }
    # each job composes: the paper's update count and T of every row
    cfg = compose_config(["experiment=rnn_table", "profile=paper", "optimizer=cm"])
    assert cfg.trainer.total_updates == 50_000 and cfg.optimizer.name == "cm"
    lengths = {
        name: compose_config(["experiment=rnn", f"data={name}"]).data.seq_len
        for name in ("addition", "multiplication", "mem5", "mem20")
    }
    assert lengths == {"addition": 80, "multiplication": 80, "mem5": 200, "mem20": 80}


def test_rnn_problem_without_rnn_model_fails_naming_it(tmp_path: Path) -> None:
    # the model follows the data set's name; an RNN problem has no autoencoder of its name
    with pytest.raises(ConfigCompositionException, match="model/addition"):
        compose_config(["data=addition"])
    cfg = compose_config(["data=addition", "model=rnn", f"tracking.uri=sqlite:///{tmp_path}/m.db"])
    with pytest.raises(ConfigError, match="experiment=rnn"):  # the schedule is still eq. 5's
        run_job(cfg)


@pytest.mark.slow
def test_short_addition_run_beats_the_biases_baseline(tmp_path: Path) -> None:
    T = 10
    batch = make_eval_set("addition", T, 500, seed=3)
    eval_path = tmp_path / f"addition_T{T}.npz"
    np.savez(eval_path, **batch.as_arrays())
    common = [
        "experiment=rnn",
        "data=addition",
        f"data.seq_len={T}",
        f"data.eval_path={eval_path}",
        "profile=tiny",
        "trainer.total_updates=300",
        "trainer.log_every=100",
        "trainer.threads=1",
        "trainer.progress_bar=false",
        # the summed objective's scale (models/rnn.py task_loss); tiny's minibatches are 50
        "optimizer.lr=0.0012",
        "optimizer.mu_max=0.9",
        f"tracking.uri={empty_store(tmp_path / 'mlflow.db')}",
        f"tracking.artifact_root={tmp_path}/art",
    ]
    trained = run_job(compose_config([*common, "optimizer=nag"]))
    biases = run_job(compose_config([*common, "optimizer=biases"]))
    assert trained["status"] == biases["status"] == "FINISHED"
    assert biases["final_zero_one"] > 0.6  # only the output bias: most sums are off by > 0.04
    assert trained["final_zero_one"] < biases["final_zero_one"] - 0.05
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    runs = mlflow.search_runs(experiment_names=["momentum-repro"]).set_index("run_id")
    row = runs.loc[trained["run_id"]]
    assert (row["tags.dataset"], row["tags.seq_len"], row["tags.method"]) == (
        "addition",
        "10",
        "nag",
    )
    assert runs.loc[biases["run_id"], "tags.method"] == "biases"
    history = mlflow.MlflowClient().get_metric_history(trained["run_id"], "eval_zero_one")
    assert [m.step for m in history] == [0, 100, 200, 300]
    mu = mlflow.MlflowClient().get_metric_history(trained["run_id"], "mu")
    assert mu[0].value == 0.9
