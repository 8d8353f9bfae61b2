"""``dvc repro`` end to end on the tiny profile, in a temporary copy of the repository."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient

from conftest import ROOT

pytestmark = pytest.mark.slow


def copy_repo(dest: Path) -> None:
    """The files git tracks (what a clone has), plus new files not yet committed."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in listed:
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)


def tiny_params(path: Path) -> None:
    params = yaml.safe_load(path.read_text())
    params["profile"] = "tiny"
    params["launcher"] = "basic"
    params["data"]["curves"].update(n_train=400, n_test=100)
    params["data"]["rnn"].update(n_eval=100, sets={"addition": [12]})
    params["sweeps"]["curves"].update(methods=["sgd", "nag"], mu_max=[0.9], lr=[0.01])
    params["sweeps"]["rnn"].update(
        data=["addition"], overrides={"data.seq_len": 12}, methods=["biases", "nag"], mu_max=[0.9]
    )
    params["sweeps"]["rnn"]["lr"] = [0.0001]  # the paper's grid (summed objective)
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def dvc(repo: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["DVC_NO_ANALYTICS"] = "1"
    env["PYTHONPATH"] = str(repo / "src")  # the copy's library, not the working tree's
    return subprocess.run(
        [str(Path(sys.executable).parent / "dvc"), *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_dvc_repro_runs_end_to_end_and_reruns_only_what_changed(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    copy_repo(repo)
    tiny_params(repo / "params.yaml")
    first = dvc(repo, "repro")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]

    curves = json.loads((repo / "results/sweeps/curves.json").read_text())
    assert curves["sweep_name"] == "curves_tiny"
    assert curves["counts"]["FINISHED"] == 2  # sgd and nag at mu_max 0.9, one lr
    rnn = json.loads((repo / "results/sweeps/rnn.json").read_text())
    assert rnn["counts"]["FINISHED"] == 2
    table1 = (repo / "reports/table1.md").read_text()
    assert "tiny" in table1 and "0.074" in table1  # our number beside the paper's
    metrics = json.loads((repo / "reports/metrics.json").read_text())
    assert "table1" in metrics
    # the sweep's NAG runs end with the final phase: Table 2 and claim (d) have numbers
    assert metrics["table2"]["curves"]["after"] > 0
    assert metrics["claims"]["d"]["comparisons"] == 1
    assert (repo / "reports/claims.md").read_text().startswith("# The paper's claims")
    assert (repo / "reports/index.html").stat().st_size > 1000

    again = dvc(repo, "repro")
    assert again.returncode == 0
    assert "Running stage" not in again.stdout, again.stdout

    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["sweeps"]["curves"]["lr"] = [0.01, 0.005]
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    status = dvc(repo, "status")
    changed = {
        line.rstrip(":").strip() for line in status.stdout.splitlines() if line.endswith(":")
    }
    assert {"sweeps", "report"} <= changed
    assert not changed & {"build_curves", "build_rnn"}, status.stdout

    # both sweeps run as one multirun, each job under its own sweep's parent run; rerun,
    # the RNN jobs (finished, unchanged) are skipped and the two new CURVES jobs train
    redo = dvc(repo, "repro")
    assert redo.returncode == 0, redo.stdout[-3000:] + redo.stderr[-3000:]
    assert json.loads((repo / "results/sweeps/rnn.json").read_text())["runs"] == rnn["runs"]
    curves_again = json.loads((repo / "results/sweeps/curves.json").read_text())
    assert curves_again["counts"]["FINISHED"] == 4
    client = MlflowClient(f"sqlite:///{repo / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("momentum-repro").experiment_id])
    parents = {
        r.info.run_id: r.data.tags["sweep_name"] for r in runs if r.data.tags["run_kind"] == "sweep"
    }
    # two multiruns; the second ran no RNN job, so its empty RNN parent was not kept
    assert sorted(parents.values()) == ["curves_tiny"] * 2 + ["rnn_tiny"]
    for run in (r for r in runs if r.data.tags["run_kind"] == "job"):
        assert parents[run.data.tags["mlflow.parentRunId"]] == run.data.tags["sweep_name"]
