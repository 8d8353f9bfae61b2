"""Sweeps, resume and the report through a real MLflow tracking server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from omegaconf import OmegaConf
from sweeps import failure, tiny_sweep, train_multirun
from tracking_server import answers, mlflow_server

from conftest import ROOT

pytestmark = pytest.mark.slow


def runs_by_kind(client: MlflowClient) -> tuple[list, list]:
    exp = client.get_experiment_by_name("momentum-repro")
    runs = client.search_runs([exp.experiment_id])
    jobs = [r for r in runs if r.data.tags.get("run_kind") == "job"]
    return jobs, [r for r in runs if r.data.tags.get("run_kind") == "sweep"]


def test_sweep_resume_and_report_through_a_tracking_server(
    tmp_path: Path, tiny_curves: Path
) -> None:
    work = tmp_path / "work"  # the user's folder: no mlflow.db nor mlartifacts/ may appear
    work.mkdir()
    store = tmp_path / "server"
    with mlflow_server(store) as uri:
        sweep = [*tiny_sweep(work, tiny_curves, "server_test"), f"tracking.uri={uri}"]
        done = train_multirun(work, *sweep, "optimizer=cm,nag")
        assert done.returncode == 0, failure(done)

        client = MlflowClient(uri)
        # the server chose where artifacts go (--serve-artifacts), not a folder of the client
        experiment = client.get_experiment_by_name("momentum-repro")
        assert experiment.artifact_location.startswith("mlflow-artifacts:")
        jobs, sweeps = runs_by_kind(client)
        assert len(sweeps) == 1 and sweeps[0].info.status == "FINISHED"
        assert sorted(r.data.tags["method"] for r in jobs) == ["cm", "nag"]
        for run in jobs:
            assert run.info.status == "FINISHED", run.data.tags.get("failure_reason")
            assert run.data.tags["mlflow.parentRunId"] == sweeps[0].info.run_id
            assert run.data.params["optimizer.name"] == run.data.tags["method"]
            assert "final_train_error" in run.data.metrics
            history = client.get_metric_history(run.info.run_id, "train_error")
            assert [m.step for m in history] == [0, 20]
            config = client.download_artifacts(run.info.run_id, "config.yaml", str(tmp_path))
            assert OmegaConf.load(config).optimizer.name == run.data.tags["method"]
        # uploaded through the server into its own artifact folder
        assert len(list((store / "mlartifacts").rglob("config.yaml"))) == 2
        assert not (work / "mlflow.db").exists() and not (work / "mlartifacts").exists()

        # the report reads the runs from the server and logs its files to the sweep's run
        report = subprocess.run(
            [sys.executable, str(ROOT / "pipelines" / "report.py"), "server_test",
             "--params", str(ROOT / "params.yaml"), "--out", "reports"],
            cwd=work, capture_output=True, text=True, timeout=300,
            env={**os.environ, "MLFLOW_TRACKING_URI": uri},
        )  # fmt: skip
        assert report.returncode == 0, failure(report)
        assert "(2 runs)" in report.stdout
        parent = sweeps[0].info.run_id
        logged = {a.path for a in client.list_artifacts(parent)}
        assert "report_reports" in logged

        # the same command again: both jobs are found on the server and skipped
        again = train_multirun(work, *sweep, "optimizer=cm,nag")
        assert again.returncode == 0, failure(again)
        assert (again.stdout + again.stderr).count("already done, skipping") == 2
        jobs, sweeps = runs_by_kind(client)
        # its parent, with no job of its own, was not kept: the sweep's newest parent is
        # still the one with its runs and the report's files
        assert len(jobs) == 2 and [s.info.run_id for s in sweeps] == [parent]
    assert not answers(f"{uri}/health")  # stopped
