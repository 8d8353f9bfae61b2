"""Hessian-free and the momentum-HF hybrid as optimizer choices of the training pipeline."""

from __future__ import annotations

import pytest
import torch
from hydra.errors import ConfigCompositionException
from mlflow.tracking import MlflowClient
from omegaconf import DictConfig

from conftest import compose_config, with_values
from momentum_repro.errors import ConfigError
from momentum_repro.optim.hessian_free import HessianFree
from momentum_repro.optim.schedule import momentum_schedule
from momentum_repro.tracking.mlflow_tracking import tracking_uri
from momentum_repro.training.checks import check_optimizer
from momentum_repro.training.hessian_free_config import (
    hessian_free_optimizer,
    hessian_free_settings,
    phases_from_config,
)
from momentum_repro.training.run import run_job


def client(cfg: DictConfig) -> MlflowClient:
    """The store run_job wrote to (MLFLOW_TRACKING_URI, if set, wins over tracking.uri)."""
    return MlflowClient(tracking_uri(cfg.tracking.uri))


def metric_history(cfg: DictConfig, run_id: str, key: str) -> list[tuple[int, float]]:
    history = client(cfg).get_metric_history(run_id, key)
    return sorted((m.step, m.value) for m in history)


# ------------------------------------------------------------------------------------------
# Config -> optimizer, without training
# ------------------------------------------------------------------------------------------


def test_hf_config_is_martens_2010() -> None:
    cfg = compose_config(["optimizer=hf"])
    s = hessian_free_settings(cfg)
    assert (cfg.optimizer.name, cfg.optimizer.lr, cfg.optimizer.mu_max) == ("hf", 1.0, None)
    assert s["damping"] == 45.0 and s["cg_decay"] == 0.95 and s["cg_max_iters"] == 250
    assert s["line_search"] and s["batch_fraction"] == 1.0 and s["phases"] == []
    # HF-star had L2 (HF-dagger is the paper's variant "without L2"): HFDemo's 2e-5, on
    # biases too, as that code does (see test_hessian_free.py's quadratic with a weight cost)
    assert s["weight_cost"] == 2e-5
    fractions = {
        d: compose_config(["optimizer=hf", f"data={d}"]).optimizer.curvature_fraction
        for d in ("curves", "mnist", "faces")
    }
    assert fractions == {"curves": 1 / 4, "mnist": 1 / 8, "faces": 1 / 20}


def test_hybrid_decay_rises_with_the_schedule_up_to_mu_max() -> None:
    cfg = compose_config(["optimizer=hf_momentum", "profile=quick"])
    decay = hessian_free_settings(cfg)["cg_decay"]
    assert not cfg.optimizer.line_search
    for t in (0, 30, 400, 5000):
        assert decay(t) == momentum_schedule(t, cfg.optimizer.mu_max, period=cfg.schedule.period)
    assert decay(10**6) == cfg.optimizer.mu_max


def test_curves_recipe_phases_scale_with_the_run_and_match_the_paper_when_pinned() -> None:
    cfg = compose_config(["experiment=hf_momentum_curves", "trainer.total_updates=10000"])
    phases = hessian_free_settings(cfg)["phases"]
    assert [p.start_update for p in phases] == [3000, 7000, 8500]
    assert phases[0].lr(3000) == 1.0 and phases[0].lr(3500) == 0.5 and phases[0].decay == 0.999
    assert phases[1].batch_fraction == 1.0 and phases[1].cg_max_iters == 200
    ramp = phases[2].weight_cost
    assert ramp(8500) == pytest.approx(2e-5) and ramp(9999) < 1e-7 and ramp(10000) == 0.0
    # start_update 4500 gives the paper's lr = 500 / (t - 4000)
    (pinned,) = phases_from_config([{"start_update": 4500, "lr_inverse_time": 500}], 10**5, 0.0)
    assert [pinned.lr(t) for t in (4500, 5000, 9000)] == [1.0, 500 / 1000, 500 / 5000]


def test_a_model_less_hf_optimizer_is_built_but_cannot_step() -> None:
    opt = hessian_free_optimizer([torch.nn.Parameter(torch.ones(3))], lr=1.0)
    assert isinstance(opt, HessianFree) and opt.settings().lr == 1.0
    with pytest.raises(RuntimeError, match="without model"):
        opt.step(data=torch.ones(4, 3))


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"optimizer__damping": 0.0}, "optimizer.damping"),
        ({"optimizer__damping": -1.0}, "optimizer.damping"),
        ({"optimizer__batch_fraction": 1.5}, "optimizer.batch_fraction"),
        ({"optimizer__curvature_fraction": 0.0}, "optimizer.curvature_fraction"),
        ({"optimizer__cg_max_iters": 0}, "optimizer.cg_max_iters"),
        ({"optimizer__cg_decay": 1.2}, "optimizer.cg_decay"),
        (
            "optimizer.phases=[{start_fraction:0.5,batch_fraction:2.0}]",
            "optimizer.phases[0].batch_fraction",
        ),
        ("optimizer.phases=[{lr:0.5}]", "optimizer.phases[0].start_update"),
    ],
)
def test_bad_hf_values_name_their_key(values: dict | str, key: str) -> None:
    if isinstance(values, str):  # an override, as on the command line
        cfg = compose_config(["optimizer=hf", "profile=tiny", values])
    else:
        cfg = with_values(compose_config(["optimizer=hf", "profile=tiny"]), **values)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.").replace("[", r"\[")):
        check_optimizer(cfg)


def test_an_unknown_hf_phase_key_is_refused_by_hydra_itself() -> None:
    with pytest.raises(ConfigCompositionException, match="cg_steps"):
        compose_config(["optimizer=hf", "optimizer.phases=[{start_update:3,cg_steps:9}]"])


# ------------------------------------------------------------------------------------------
# Training runs through run_job, logged to MLflow
# ------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_hf_run_is_logged_with_cg_iterations_and_lowers_the_error(tiny_cfg: DictConfig) -> None:
    cfg = with_values(
        compose_config(["optimizer=hf", *tiny_cfg_overrides(tiny_cfg)]),
        trainer__total_updates=5,
        optimizer__cg_max_iters=20,
    )
    outcome = run_job(cfg)
    assert outcome["status"] == "FINISHED" and not outcome["diverged"]
    run = client(cfg).get_run(outcome["run_id"])
    assert run.data.tags["method"] == "hf" and run.data.tags["mu_max"] == "none"
    cg = metric_history(cfg, outcome["run_id"], "cg_iterations")
    assert [s for s, _ in cg] == [1, 2, 3, 4, 5] and all(1 <= n <= 20 for _, n in cg)
    assert run.data.metrics["total_cg_iterations"] == sum(n for _, n in cg)
    errors = metric_history(cfg, outcome["run_id"], "train_error")
    assert errors[0][0] == 0 and errors[-1][0] == 5
    assert errors[-1][1] < 0.5 * errors[0][1]
    assert run.data.metrics["final_train_error"] < 0.5 * errors[0][1]
    assert {"damping", "lr", "mu"} <= set(run.data.metrics)


def tiny_cfg_overrides(tiny_cfg: DictConfig) -> list[str]:
    """The fixture's data and tracking settings as overrides (for composing another config)."""
    return [
        "profile=tiny",
        f"data.path={tiny_cfg.data.path}",
        f"tracking.uri={tiny_cfg.tracking.uri}",
        f"tracking.artifact_root={tiny_cfg.tracking.artifact_root}",
        "trainer.threads=1",
        "trainer.progress_bar=false",
        "trainer.log_every=1",
    ]


@pytest.mark.slow
def test_hybrid_experiment_runs_its_phases(tiny_cfg: DictConfig) -> None:
    overrides = [*tiny_cfg_overrides(tiny_cfg), "experiment=hf_momentum_curves"]
    cfg = compose_config([*overrides, "trainer.total_updates=8"])
    outcome = run_job(cfg)
    assert outcome["status"] == "FINISHED"
    run_id = outcome["run_id"]
    tags = client(cfg).get_run(run_id).data.tags
    assert (tags["method"], tags["mu_max"], tags["dataset"]) == ("hf_momentum", "0.999", "curves")
    # stages start at round(0.3 * 8) = 2, round(0.7 * 8) = 6, round(0.85 * 8) = 7
    mu = [v for s, v in metric_history(cfg, run_id, "mu") if s > 0]
    assert mu == pytest.approx([0.95, 0.95, 0.999, 0.999, 0.999, 0.999, 0.995, 0.995])
    lr = [v for s, v in metric_history(cfg, run_id, "lr") if s > 0]
    assert lr == pytest.approx([1, 1, 1, 500 / 501, 500 / 502, 500 / 503, 1, 1])
    errors = metric_history(cfg, run_id, "train_error")
    assert errors[-1][1] < errors[0][1]


@pytest.mark.slow
def test_bad_hf_value_fails_before_a_run_is_logged(tiny_cfg: DictConfig) -> None:
    cfg = with_values(
        compose_config(["optimizer=hf", *tiny_cfg_overrides(tiny_cfg)]), optimizer__damping=0
    )

    def runs() -> int:
        store = client(cfg)
        return sum(len(store.search_runs([e.experiment_id])) for e in store.search_experiments())

    before = runs()
    with pytest.raises(ConfigError, match=r"optimizer\.damping=0\.0 "):
        run_job(cfg)
    assert runs() == before


@pytest.mark.slow
def test_diverging_hybrid_is_a_failed_run(tiny_cfg: DictConfig) -> None:
    # no line search: a huge fixed lr throws the linear outputs to inf
    overrides = ["optimizer=hf_momentum", "model.output=linear", "optimizer.lr=1e30"]
    cfg = compose_config([*overrides, *tiny_cfg_overrides(tiny_cfg), "trainer.total_updates=4"])
    outcome = run_job(with_values(cfg, optimizer__cg_max_iters=5))
    assert outcome["diverged"] and outcome["status"] == "FAILED"
    tags = client(cfg).get_run(outcome["run_id"]).data.tags
    assert tags["diverged"] == "true" and "NaN or infinite" in tags["failure_reason"]
