"""Jobs that run at once on one SQLite MLflow store lose nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from sweeps import failure, tiny_sweep, train_multirun

from conftest import empty_store

pytestmark = pytest.mark.slow


def most_at_once(intervals: list[tuple[int, int]]) -> int:
    """The largest number of [start, end] intervals that share one instant."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    at_once = most = 0
    for _, change in events:
        at_once += change
        most = max(most, at_once)
    return most


def test_eight_runs_four_at_once_on_one_sqlite_store_are_all_complete(
    tmp_path: Path, tiny_curves: Path
) -> None:
    db = tmp_path / "mlflow.db"
    done = train_multirun(
        tmp_path,
        *tiny_sweep(tmp_path, tiny_curves, "concurrent"),
        f"tracking.uri={empty_store(db)}",
        f"tracking.artifact_root={tmp_path / 'mlartifacts'}",
        "trainer.log_every=5",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=4",
        "optimizer=cm,nag",
        "optimizer.mu_max=0.9,0.99",
        "optimizer.lr=0.01,0.005",
    )
    assert done.returncode == 0, failure(done)

    client = MlflowClient(f"sqlite:///{db}")
    exp = client.get_experiment_by_name("momentum-repro")
    runs = client.search_runs([exp.experiment_id])
    jobs = [r for r in runs if r.data.tags.get("run_kind") == "job"]
    sweeps = [r for r in runs if r.data.tags.get("run_kind") == "sweep"]
    assert len(sweeps) == 1 and sweeps[0].info.status == "FINISHED"
    assert len(jobs) == 8
    grid = {(r.data.tags["method"], r.data.tags["mu_max"], r.data.tags["lr"]) for r in jobs}
    assert len(grid) == 8  # every point of the 2 x 2 x 2 grid, none twice
    # the jobs did run at the same time: n_jobs=4 worker processes writing to one file
    assert most_at_once([(r.info.start_time, r.info.end_time) for r in jobs]) >= 3
    for run in jobs:
        assert run.info.status == "FINISHED", run.data.tags.get("failure_reason")
        assert run.data.tags["mlflow.parentRunId"] == sweeps[0].info.run_id
        assert run.data.params["optimizer.lr"] == run.data.tags["lr"]
        assert "final_train_error" in run.data.metrics
        for name in ("train_error", "mu", "lr"):  # each curve, every logged step
            history = client.get_metric_history(run.info.run_id, name)
            assert sorted(m.step for m in history) == [0, 5, 10, 15, 20], name
        assert "config.yaml" in {a.path for a in client.list_artifacts(run.info.run_id)}
