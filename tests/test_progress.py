"""Progress lines: a heartbeat per run (terminal or not), and the sweep's job k/N with ETA."""

from __future__ import annotations

import logging

import pytest
from omegaconf import DictConfig

from conftest import with_values
from momentum_repro.data.sets import load_set
from momentum_repro.durations import duration
from momentum_repro.tracking.hydra_callback import sweep_progress_line, sweep_size
from momentum_repro.training.fit_autoencoder import fit_autoencoder
from momentum_repro.training.progress import heartbeat_line


def test_duration_reads_as_hours_minutes_seconds() -> None:
    assert [duration(s) for s in (0, 42.4, 185, 3720, -3)] == ["0s", "42s", "3m05s", "1h02m", "0s"]


def test_heartbeat_line_has_update_rate_eta_and_error() -> None:
    line = heartbeat_line("curves nag", 1200, 3000, 60.0, {"lr": 0.01, "train_error": 11.23})
    assert line == (
        "curves nag: update 1200/3000 (40%), 60.0 updates/s, ETA 30s, train_error 11.23"
    )
    assert heartbeat_line("add", 10, 20, 0.0, {}) == "add: update 10/20 (50%), 0.0 updates/s, ETA ?"


@pytest.mark.parametrize(
    ("overrides", "size"),
    [
        (["optimizer=cm,nag", "optimizer.mu_max=0.9,0.99", "optimizer.lr=0.01,0.005"], 8),
        (["optimizer=sgd", "seed=1,2,3", "hydra/launcher=joblib"], 3),
        (["profile=tiny"], 1),
    ],
)
def test_sweep_size_is_the_product_of_the_swept_values(overrides: list[str], size: int) -> None:
    assert sweep_size(overrides) == size


def test_sweep_progress_line_projects_the_rest_from_the_mean_job() -> None:
    assert sweep_progress_line("curves_quick", 2, 10, 100.0) == (
        "sweep curves_quick: job 2/10 done, 1m40s elapsed, ETA 6m40s"
    )
    assert sweep_progress_line("x", 10, 10, 61.0) == "sweep x: job 10/10 done, 1m01s elapsed"


@pytest.mark.slow
def test_a_run_logs_heartbeats_without_a_terminal(
    tiny_cfg: DictConfig, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = with_values(tiny_cfg, trainer__heartbeat_seconds=1e-9, trainer__progress_bar=False)
    with caplog.at_level(logging.INFO, logger="momentum_repro.training.callbacks"):
        fit_autoencoder(cfg, load_set(cfg.data.path))
    lines = [r.getMessage() for r in caplog.records]
    beats = [line for line in lines if ": update " in line]
    assert len(beats) >= 50  # one per update at this period; 60 updates
    assert beats[-1].startswith("curves nag mu_max=0.99 lr=0.005 seed=1: update 60/60 (100%)")
    assert "train_error" in beats[-1]
    assert lines[-1].startswith("curves nag mu_max=0.99 lr=0.005 seed=1: trained 60/60 updates")
