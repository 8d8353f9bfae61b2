"""hydra/launcher=local: the submitit path (pickled jobs, one process each) that
hydra/launcher=slurm takes on a cluster, with one MLflow parent run per sweep."""

from __future__ import annotations

from pathlib import Path
from subprocess import CompletedProcess

import pytest
from mlflow.tracking import MlflowClient
from sweeps import tiny_sweep, train_multirun

from conftest import empty_store
from momentum_repro.tracking.mlflow_tracking import PARENT_RUN_ENV

pytestmark = pytest.mark.slow


def local_sweep(tmp_path: Path, data: Path, *overrides: str) -> tuple[CompletedProcess, list, list]:
    db = tmp_path / "mlflow.db"
    done = train_multirun(
        tmp_path,
        *tiny_sweep(tmp_path, data, "submitit"),
        f"tracking.uri={empty_store(db)}",
        f"tracking.artifact_root={tmp_path / 'mlartifacts'}",
        "hydra/launcher=local",
        # A job whose process did not inherit the submitting shell's environment (SLURM with
        # --export=NONE) would hold no parent id, or a stale one: give it a wrong one. The job
        # must still log under this sweep's parent, which comes with the pickled job.
        f"+hydra.job.env_set.{PARENT_RUN_ENV}=not-inherited",
        *overrides,
    )
    client = MlflowClient(f"sqlite:///{db}")
    runs = client.search_runs([client.get_experiment_by_name("momentum-repro").experiment_id])
    jobs = [r for r in runs if r.data.tags.get("run_kind") == "job"]
    sweeps = [r for r in runs if r.data.tags.get("run_kind") == "sweep"]
    return done, jobs, sweeps


def test_a_local_submitit_sweep_logs_its_jobs_under_one_parent_and_survives_a_crash(
    tmp_path: Path, tiny_curves: Path
) -> None:
    """Two jobs: NAG, and NAG at lr=-1, which its process refuses before training (one line),
    a job that fails the way a crashed one does. Its sibling finishes as a child of the
    sweep's parent run, which is closed as FAILED rather than left RUNNING."""
    done, jobs, sweeps = local_sweep(
        tmp_path,
        tiny_curves,
        "hydra/sweeper=grids",
        "hydra.sweeper.grids=[['optimizer=nag'],['optimizer=nag','optimizer.lr=-1']]",
    )
    assert done.returncode != 0
    assert "optimizer.lr" in done.stdout + done.stderr
    assert len(sweeps) == 1 and sweeps[0].info.status == "FAILED"  # closed, not left RUNNING
    assert [r.data.tags["lr"] for r in jobs] == ["0.005"]  # the refused job logged no run
    for run in jobs:
        assert run.info.status == "FINISHED", run.data.tags.get("failure_reason")
        assert run.data.tags["mlflow.parentRunId"] == sweeps[0].info.run_id
        assert run.data.tags["sweep_id"] == sweeps[0].info.run_id
        assert "final_train_error" in run.data.metrics
    # the jobs went through submitit: pickled, run by their own processes, results (the
    # refused job's error among them) pickled back
    submitted = tmp_path / "multirun" / ".submitit"
    assert len(list(submitted.glob("*/*_submitted.pkl"))) == 2
    assert len(list(submitted.glob("*/*_result.pkl"))) == 2
