"""Progress lines: a heartbeat per run (terminal or not), and the sweep's job k/N with ETA."""

from __future__ import annotations

import logging

import pytest
from omegaconf import DictConfig

from conftest import train, with_values
from momentum_repro.tracking.hydra_callback import (
    multirun_jobs,
    sweep_names_of,
    sweep_progress_line,
)
from momentum_repro.tracking.progress import duration
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
    assert len(multirun_jobs(overrides)) == size


def test_an_experiments_sweeper_params_count_as_the_sweeper_runs_them() -> None:
    """experiment=rnn_table's grid lives in hydra.sweeper.params: 4 problems x 4 lrs x 4
    seeds x 8 method columns = the paper's 512 runs (Table 5)."""
    from conftest import compose_config
    from momentum_repro.tracking.sweep_grids import grids_as_written

    overrides = ["experiment=rnn_table", "profile=paper"]
    sweeper = compose_config(overrides, with_hydra=True).hydra.sweeper
    params = {k: str(v) for k, v in sweeper.params.items()}
    assert len(multirun_jobs(overrides, grids_as_written(sweeper), params)) == 512
    assert len(multirun_jobs(overrides, grids_as_written(sweeper))) == 8


def test_each_jobs_sweep_name_is_read_as_its_config_reads_it() -> None:
    own = "sweep_name=t_${profile_name}"
    jobs = [
        ["sweep_name=a", "optimizer=sgd"],
        ["sweep_name=run\\:1 b", "optimizer=nag"],  # Hydra's escaping of "run:1 b"
        ["sweep_name='my sweep'", "optimizer=cm"],
        [own, "optimizer=cm"],  # the command line's own: its resolved value
        ["optimizer=sgd"],
        ["sweep_name=a", "optimizer=nag"],
    ]
    assert sweep_names_of(jobs, "t_quick", own) == ["a", "run:1 b", "my sweep", "t_quick"]


def test_sweep_progress_line_projects_the_rest_from_the_mean_job() -> None:
    assert sweep_progress_line("curves_quick", 2, 10, 100.0) == (
        "sweep curves_quick: job 2/10 done, 1m40s elapsed, ETA 6m40s"
    )
    assert sweep_progress_line("x", 10, 10, 61.0) == "sweep x: job 10/10 done, 1m01s elapsed"
    # jobs trained before they end (a population's members): no projection from them
    assert sweep_progress_line("x", 1, 29, 159.0, project=False) == (
        "sweep x: job 1/29 done, 2m39s elapsed"
    )


@pytest.mark.slow
def test_a_run_logs_heartbeats_without_a_terminal(
    tiny_cfg: DictConfig, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = with_values(tiny_cfg, trainer__heartbeat_seconds=1e-9, trainer__progress_bar=False)
    with caplog.at_level(logging.INFO, logger="momentum_repro.training.progress"):
        train(cfg)
    lines = [r.getMessage() for r in caplog.records]
    beats = [line for line in lines if ": update " in line]
    assert len(beats) >= 50  # one per update at this period; 60 updates
    assert beats[-1].startswith("curves nag mu_max=0.99 lr=0.005 seed=1: update 60/60 (100%)")
    assert "train_error" in beats[-1]
    assert lines[-1].startswith("curves nag mu_max=0.99 lr=0.005 seed=1: trained 60/60 updates")
