"""Training runs: the error falls, a diverging lr is a recorded result, runs are deterministic."""

from __future__ import annotations

import mlflow
import pytest
from omegaconf import DictConfig

from conftest import train, with_values
from momentum_repro.errors import ConfigError
from momentum_repro.training.run import run_job

pytestmark = pytest.mark.slow


def test_short_fit_lowers_the_training_error(tiny_cfg: DictConfig) -> None:
    curve: list[tuple[int, float]] = []
    result = train(tiny_cfg, metric_sink=lambda m, step: curve.append((step, m["train_error"])))
    assert not result.diverged
    assert result.updates_done == 60
    assert [s for s, _ in curve] == [0, 20, 40, 60]
    assert curve[-1][1] < 0.5 * curve[0][1]
    assert result.final["final_train_error"] < 0.5 * curve[0][1]


def test_same_config_and_seed_give_bit_identical_results(tiny_cfg: DictConfig) -> None:
    first = train(tiny_cfg).final
    second = train(tiny_cfg).final
    assert first == second
    other = train(with_values(tiny_cfg, seed=2)).final
    assert other != first


def test_final_phase_records_the_error_before_it(tiny_cfg: DictConfig) -> None:
    cfg = with_values(tiny_cfg, schedule__final_phase_updates=20)
    result = train(cfg)
    assert "train_error_before_final_phase" in result.final


def test_diverging_run_is_recorded_failed_and_the_next_run_goes_on(tiny_cfg: DictConfig) -> None:
    # a linear output with squared error and a large lr blows up to inf/NaN
    bad = with_values(tiny_cfg, model__output="linear", optimizer__lr=0.5)
    outcome = run_job(bad)
    assert outcome["diverged"] and outcome["status"] == "FAILED"
    good = run_job(tiny_cfg)
    assert good["status"] == "FINISHED"
    mlflow.set_tracking_uri(tiny_cfg.tracking.uri)
    runs = mlflow.search_runs(experiment_names=[tiny_cfg.tracking.experiment])
    by_id = runs.set_index("run_id")
    assert by_id.loc[outcome["run_id"], "tags.diverged"] == "true"
    assert "NaN or infinite" in by_id.loc[outcome["run_id"], "tags.failure_reason"]
    assert by_id.loc[good["run_id"], "status"] == "FINISHED"
    assert by_id.loc[good["run_id"], "metrics.final_train_error"] == pytest.approx(
        good["final_train_error"]
    )


def test_finished_run_is_not_redone(tiny_cfg: DictConfig) -> None:
    first = run_job(tiny_cfg)
    again = run_job(tiny_cfg)
    assert again["reused"] and again["run_id"] == first["run_id"]


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"optimizer__lr": -0.1}, "optimizer.lr"),
        ({"optimizer__lr": float("nan")}, "optimizer.lr"),
        ({"optimizer__mu_max": 1.0}, "optimizer.mu_max"),
        ({"model__encoder_sizes": [625, 100, 10]}, "model.encoder_sizes"),
        ({"schedule__final_phase_updates": 100}, "schedule.final_phase_updates"),
        ({"trainer__total_updates": 0}, "trainer.total_updates"),
        ({"trainer__threads": 0}, "trainer.threads"),
        ({"trainer__progress_bar": "sometimes"}, "trainer.progress_bar"),
        ({"optimizer__factory___target_": "torch.optim.RMSProp"}, "optimizer.factory._target_"),
    ],
)
def test_bad_values_fail_before_training_naming_the_key(
    tiny_cfg: DictConfig, values: dict, key: str
) -> None:
    cfg = with_values(tiny_cfg, **values)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        run_job(cfg)
    mlflow.set_tracking_uri(tiny_cfg.tracking.uri)
    assert (
        mlflow.search_experiments() == [] or mlflow.search_runs(search_all_experiments=True).empty
    )
