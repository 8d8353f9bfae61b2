"""``hydra/launcher=population`` end to end: one MLflow run per job, equal to the basic
launcher's run of the same config; jobs with no population form train alone in the same
sweep. (A population sweep run again, its finished members skipped: test_dvc_pipeline.py;
killed and run again: test_checkpoints.py.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from conftest import ROOT, empty_store

pytestmark = pytest.mark.slow

GRID = ["optimizer=cm,nag,sgd,adam", "optimizer.lr=0.01", "seed=1,2"]  # adam: no population form


def sweep(tmp_path: Path, data: Path, store: str, launcher: str) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable,
        str(ROOT / "pipelines" / "train.py"),
        "-m",
        f"hydra/launcher={launcher}",
        # the launcher's GPU option: accepted (and moot) on a CPU
        *(["hydra.launcher.cuda_graph=false"] if launcher == "population" else []),
        *GRID,
        "profile=tiny",
        "trainer.total_updates=40",
        "model.encoder_sizes=[784,40,20,10,6]",
        f"data.path={data}",
        f"tracking.uri={empty_store(tmp_path / f'{store}.db')}",
        f"tracking.artifact_root={tmp_path / store}",
        f"hydra.sweep.dir={tmp_path / store}-sweep",
        "sweep_name=population_test",
    ]
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=600)


def job_runs(tmp_path: Path, store: str) -> tuple[MlflowClient, dict[str, object]]:
    client = MlflowClient(f"sqlite:///{tmp_path / store}.db")
    ids = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(ids, filter_string="tags.run_kind = 'job'")
    return client, {r.data.tags["run_key"]: r for r in runs}


def test_population_sweep_equals_the_basic_sweep(tmp_path: Path, tiny_curves: Path) -> None:
    done = sweep(tmp_path, tiny_curves, "population", "population")
    assert done.returncode == 0, done.stderr[-3000:]
    log = done.stdout + done.stderr
    assert "population of 6" in log  # cm, nag, sgd x 2 seeds
    assert "has no population form" in log  # adam, trained alone in the same sweep
    # the population's members are logged as soon as it ends, before the jobs it left alone
    lines = log.splitlines()
    trained = next(
        i for i, line in enumerate(lines) if "population of 6" in line and "trained" in line
    )
    ends = [i for i, line in enumerate(lines) if "sweep population_test: job" in line]
    assert len(ends) == 8 and all(i > trained for i in ends)
    adam = next(
        i for i, line in enumerate(lines) if "curves adam" in line and "trained 40/40" in line
    )
    assert sum(i < adam for i in ends) == 6  # the 6 members were logged before adam trained
    basic = sweep(tmp_path, tiny_curves, "basic", "basic")
    assert basic.returncode == 0, basic.stderr[-3000:]
    pop_client, pop = job_runs(tmp_path, "population")
    basic_client, solo = job_runs(tmp_path, "basic")
    assert len(pop) == 8 and set(pop) == set(solo)  # the same run_key for every job
    for key, run in pop.items():
        reference = solo[key]
        assert run.info.status == reference.info.status == "FINISHED"
        ignore = {"sweep_id", "mlflow.parentRunId", "seconds", "population_members"}
        tags = {k: v for k, v in run.data.tags.items() if k not in ignore}
        ref_tags = {k: v for k, v in reference.data.tags.items() if k not in ignore}
        assert tags.keys() == ref_tags.keys()
        assert {k: v for k, v in tags.items() if k != "mlflow.log-model.history"} == {
            k: v for k, v in ref_tags.items() if k != "mlflow.log-model.history"
        }
        members = run.data.tags.get("population_members")
        assert members == ("6" if run.data.tags["method"] != "adam" else None)
        # float32: summation order may differ between bmm and mm; 1e-3 relative
        assert run.data.metrics.keys() == reference.data.metrics.keys()
        for name, value in reference.data.metrics.items():
            assert run.data.metrics[name] == pytest.approx(value, rel=1e-3), name
        steps = [m.step for m in pop_client.get_metric_history(run.info.run_id, "train_error")]
        ref = [
            m.step for m in basic_client.get_metric_history(reference.info.run_id, "train_error")
        ]
        assert steps == ref == [0, 20, 40]
        artifacts = {a.path for a in pop_client.list_artifacts(run.info.run_id)}
        assert {"config.yaml", "final_state_dict.pt"} <= artifacts
