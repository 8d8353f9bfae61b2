"""hydra/launcher=local: the submitit path (pickled jobs, one process each) that
hydra/launcher=slurm takes on a cluster, with one MLflow parent run per sweep."""

from __future__ import annotations

from pathlib import Path
from subprocess import CompletedProcess

import pytest
from mlflow.tracking import MlflowClient
from sweeps import failure, tiny_sweep, train_multirun

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


def test_local_submitit_sweep_logs_each_job_as_a_child_of_one_parent(
    tmp_path: Path, tiny_curves: Path
) -> None:
    done, jobs, sweeps = local_sweep(tmp_path, tiny_curves, "optimizer=cm,nag")
    assert done.returncode == 0, failure(done)
    assert len(sweeps) == 1 and sweeps[0].info.status == "FINISHED"
    assert sorted(r.data.tags["method"] for r in jobs) == ["cm", "nag"]
    for run in jobs:
        assert run.info.status == "FINISHED", run.data.tags.get("failure_reason")
        assert run.data.tags["mlflow.parentRunId"] == sweeps[0].info.run_id
        assert run.data.tags["sweep_id"] == sweeps[0].info.run_id
        assert "final_train_error" in run.data.metrics
    # the jobs went through submitit: pickled, run by their own processes, results pickled
    submitted = tmp_path / "multirun" / ".submitit"
    assert len(list(submitted.glob("*/*_submitted.pkl"))) == 2
    assert len(list(submitted.glob("*/*_result.pkl"))) == 2


def test_a_crashed_job_leaves_its_sibling_finished_and_the_parent_closed(
    tmp_path: Path, tiny_curves: Path
) -> None:
    # lr=-1 is refused before training (one line, exit 2): a job process that dies without
    # a result, the way a killed or crashed job does
    done, jobs, sweeps = local_sweep(tmp_path, tiny_curves, "optimizer.lr=0.01,-1")
    assert done.returncode != 0
    assert "optimizer.lr" in done.stdout + done.stderr
    assert len(sweeps) == 1 and sweeps[0].info.status == "FAILED"  # closed, not left RUNNING
    assert len(jobs) == 1  # the refused job logged nothing
    assert jobs[0].info.status == "FINISHED"
    assert jobs[0].data.tags["mlflow.parentRunId"] == sweeps[0].info.run_id
