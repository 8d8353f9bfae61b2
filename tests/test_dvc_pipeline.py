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
    params["data"]["curves"].update(n_train=400, n_test=100)
    params["data"]["rnn"].update(n_eval=100, sets={"addition": [12]})
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    # one RNN problem is enough here, and a narrower CURVES autoencoder (same depth and code)
    edit(
        path.parent / "conf/experiment/claims_rnn.yaml",
        "data: addition,multiplication",
        "data: addition",
    )
    edit(
        path.parent / "conf/model/curves.yaml",
        "encoder_sizes: [784, 400, 200, 100, 50, 25, 6]",
        "encoder_sizes: [784, 40, 20, 10, 6]",
    )


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new))


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

    curves = json.loads((repo / "results/sweeps/claims_curves_tiny.json").read_text())
    # SGD, CM 0.99, NAG 0.9 and 0.99, NAG 0.99 without the final phase; 2 seeds each
    assert curves["sweep_name"] == "claims_curves_tiny" and curves["counts"]["FINISHED"] == 10
    rnn = json.loads((repo / "results/sweeps/claims_rnn_tiny.json").read_text())
    assert rnn["counts"]["FINISHED"] == 8  # 4 columns x 2 seeds
    table1 = (repo / "reports/table1.md").read_text()
    assert "tiny" in table1 and "0.074" in table1  # our number beside the paper's
    metrics = json.loads((repo / "reports/metrics.json").read_text())
    assert metrics["table2"]["curves"]["after"] > 0
    assert metrics["table2"]["curves"]["control"] > 0  # claim (d)'s control
    claims = metrics["claims"]
    assert claims["d"]["rows_tested"] == ["Curves"] and claims["d"]["rests_on"][
        "seeds_per_cell"
    ] == [2]
    for key in "abcdfg":
        assert claims[key]["ours"] in ("reproduced", "not reproduced", "inconclusive"), key
    assert (repo / "reports/claims.md").read_text().startswith("# Does the paper hold?")
    assert (repo / "reports/index.html").stat().st_size > 1000

    again = dvc(repo, "repro")
    assert again.returncode == 0
    assert "Running stage" not in again.stdout, again.stdout

    # a second learning rate in the CURVES experiment: its sweep and the report rerun
    experiment = repo / "conf/experiment/claims_autoencoder.yaml"
    edit(experiment, "optimizer.lr: 0.01\n", "optimizer.lr: 0.01,0.005\n")
    status = dvc(repo, "status", "dvc.yaml")
    changed = {
        line.rstrip(":").strip() for line in status.stdout.splitlines() if line.endswith(":")
    }
    assert "sweep_curves" in changed, status.stdout
    assert not changed & {"build_curves", "build_rnn", "sweep_rnn"}, status.stdout
    redo = dvc(repo, "repro")
    assert redo.returncode == 0, redo.stdout[-3000:] + redo.stderr[-3000:]
    # the population launcher skips the 10 finished runs and trains only the 10 new ones
    out = redo.stdout + redo.stderr
    assert out.count("already done, skipping") == 10 and "population of 10 " in out, out[-3000:]
    curves = json.loads((repo / "results/sweeps/claims_curves_tiny.json").read_text())
    # the summary lists both: the 10 finished runs at lr 0.01, reused, and the 10 new ones
    assert curves["counts"]["FINISHED"] == 20
    assert sorted((r["lr"], r["reused"]) for r in curves["runs"]) == [
        *[("0.005", False)] * 10,
        *[("0.01", True)] * 10,
    ]
    client = MlflowClient(f"sqlite:///{repo / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("momentum-repro").experiment_id])
    parents = {
        r.info.run_id: r.data.tags["sweep_name"] for r in runs if r.data.tags["run_kind"] == "sweep"
    }
    for run in (r for r in runs if r.data.tags["run_kind"] == "job"):
        assert parents[run.data.tags["mlflow.parentRunId"]] == run.data.tags["sweep_name"]
