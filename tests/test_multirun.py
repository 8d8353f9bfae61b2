"""Hydra multirun end to end: one MLflow child run per job under its sweep's parent run; an
Optuna search logs one run per trial. (A rerun that skips finished jobs: test_dvc_pipeline.py
and test_checkpoints.py.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest

from conftest import ROOT, empty_store
from momentum_repro.tracking.summary import load_summary

pytestmark = pytest.mark.slow


def multirun(tmp_path: Path, data: Path, *overrides: str) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable,
        str(ROOT / "pipelines" / "train.py"),
        "-m",
        "profile=tiny",
        "trainer.total_updates=20",
        f"data.path={data}",
        f"tracking.uri={empty_store(tmp_path / 'mlflow.db')}",
        f"tracking.artifact_root={tmp_path / 'mlartifacts'}",
        f"hydra.sweep.dir={tmp_path / 'multirun'}",
        "sweep_name=test_sweep",
        *overrides,
    ]
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=600)


def job_runs(tmp_path: Path):
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["momentum-repro"])
    return runs[runs["tags.run_kind"] == "job"], runs[runs["tags.run_kind"] == "sweep"]


def most_at_once(intervals: list[tuple]) -> int:
    """The largest number of [start, end] intervals that share one instant."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    at_once = most = 0
    for _, change in events:
        at_once += change
        most = max(most, at_once)
    return most


def test_two_sweeps_in_four_joblib_workers_on_one_sqlite_store(
    tmp_path: Path, tiny_curves: Path
) -> None:
    """A multirun of two sweeps (jobs that set their own sweep_name), six jobs in four joblib
    worker processes writing to one SQLite store at once. Each job is the child of its own
    sweep's parent run, which the workers learn per job, resolves an interpolation of its
    grid in its own config (its seed 4, not the multirun's 1), and is listed in its own
    sweep's summary; no run loses a tag, a param, a final metric, a point of a curve or an
    artifact."""
    done = multirun(
        tmp_path,
        tiny_curves,
        "sweep_name=a+b",
        "trainer.threads=1",
        "trainer.log_every=5",
        "trainer.progress_bar=false",
        "hydra/sweeper=grids",
        "hydra.sweeper.grids=[['sweep_name=a','optimizer=sgd','optimizer.lr=0.01,0.005'],"
        "['sweep_name=b','optimizer=cm,nag','optimizer.mu_max=0.9,0.99','optimizer.lr=0.01',"
        "'seed=4','schedule.final_phase_updates=\\${seed}']]",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=4",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "sweep a+b: job 6/6 done" in done.stdout + done.stderr
    jobs, sweeps = job_runs(tmp_path)
    parents = dict(zip(sweeps["run_id"], sweeps["tags.sweep_name"], strict=True))
    assert sorted(parents.values()) == ["a", "b"]
    assert (sweeps["status"] == "FINISHED").all()
    tags = ("tags.sweep_name", "tags.method", "tags.mu_max", "tags.lr")
    assert sorted(zip(*(jobs[t] for t in tags), strict=True)) == [
        ("a", "sgd", "0", "0.005"),
        ("a", "sgd", "0", "0.01"),
        ("b", "cm", "0.9", "0.01"),
        ("b", "cm", "0.99", "0.01"),
        ("b", "nag", "0.9", "0.01"),
        ("b", "nag", "0.99", "0.01"),
    ]  # every point of both grids, none twice
    for parent, name in zip(jobs["tags.mlflow.parentRunId"], jobs["tags.sweep_name"], strict=True):
        assert parents[parent] == name
    assert (jobs["tags.sweep_id"] == jobs["tags.mlflow.parentRunId"]).all()
    phase = set(zip(jobs["tags.method"], jobs["params.schedule.final_phase_updates"], strict=True))
    assert phase == {("sgd", "0"), ("cm", "4"), ("nag", "4")}
    summaries = {
        name: load_summary(tmp_path / "results" / "sweeps" / f"{name}.json") for name in "ab"
    }
    assert [r["method"] for r in summaries["a"]["runs"]] == ["sgd", "sgd"]
    assert sorted(r["method"] for r in summaries["b"]["runs"]) == ["cm", "cm", "nag", "nag"]
    runs = dict(zip(jobs["run_id"], jobs["tags.run_key"], strict=True))
    for summary in summaries.values():
        assert summary["complete"] and summary["counts"]["FINISHED"] == len(summary["runs"])
        assert all(runs[r["run_id"]] == r["run_key"] for r in summary["runs"])
    # the jobs did run at the same time: worker processes writing to one file
    assert most_at_once(list(zip(jobs["start_time"], jobs["end_time"], strict=True))) >= 3
    assert (jobs["status"] == "FINISHED").all()
    assert set(jobs["tags.data_source"]) == {"rebuilt"}
    assert (jobs["params.optimizer.lr"] == jobs["tags.lr"]).all()
    assert jobs["metrics.final_train_error"].notna().all()
    client = mlflow.MlflowClient()
    for run_id in jobs["run_id"]:
        assert [a.path for a in client.list_artifacts(run_id)] == [
            "config.yaml",
            "final_state_dict.pt",
        ]
        for name in ("train_error", "mu", "lr"):  # each curve, every logged step
            history = client.get_metric_history(run_id, name)
            assert sorted(m.step for m in history) == [0, 5, 10, 15, 20], name


def test_optuna_search_logs_one_child_run_per_trial_and_reports_the_best(
    tmp_path: Path, tiny_curves: Path
) -> None:
    """hydra/sweeper=tpe: TPE over log(lr) and log(1 - mu_max); the objective is the
    trial's final training error, so the best value is the smallest one MLflow holds."""
    import yaml

    done = multirun(tmp_path, tiny_curves, "hydra/sweeper=tpe", "hydra.sweeper.n_trials=3")
    assert done.returncode == 0, done.stderr[-3000:]
    jobs, sweeps = job_runs(tmp_path)
    assert len(sweeps) == 1 and len(jobs) == 3
    assert set(jobs["tags.mlflow.parentRunId"]) == {sweeps["run_id"].iloc[0]}
    mu = jobs["params.optimizer.mu_max"].astype(float)
    gap = jobs["params.tune.momentum_gap"].astype(float)
    assert ((0.5 <= mu) & (mu <= 0.999)).all()
    assert (abs(1 - mu - gap) < 1e-9).all()  # mu_max = 1 - the searched gap
    assert jobs["params.optimizer.lr"].nunique() == 3
    results = yaml.safe_load((tmp_path / "multirun" / "optimization_results.yaml").read_text())
    assert results["best_value"] == pytest.approx(jobs["metrics.final_train_error"].min())
    assert "Best value" in done.stdout + done.stderr
