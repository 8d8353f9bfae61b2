"""The report reads the current runs only: a sweep rerun after a change to the code its runs
compute with holds as many seeds per cell as before; a tuning study in the same store changes
no cell and no verdict; a user's own optimizer reaches the tables with the README's commands."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sweeps import failure

from conftest import ROOT, empty_store
from momentum_repro.report.build import build_report

pytestmark = pytest.mark.slow

CELLS = ["optimizer=sgd,nag", "optimizer.mu_max=0.99", "optimizer.lr=0.01", "seed=1,2"]


def train(
    work: Path,
    data: Path,
    *overrides: str,
    src: Path | None = None,
    launcher: str = "population",
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    if src is not None:  # another version of the code
        env["PYTHONPATH"] = str(src)
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "pipelines" / "train.py"),
            "-m",
            "profile=tiny",
            "trainer.total_updates=20",
            "trainer.threads=1",
            f"data.path={data}",
            f"tracking.uri={empty_store(work / 'mlflow.db')}",
            f"hydra/launcher={launcher}",
            *overrides,
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, failure(done)


def report(work: Path, out: str, *sweeps: str, tuned: tuple[str, ...] = ()) -> dict:
    result = build_report(
        f"sqlite:///{work / 'mlflow.db'}",
        "momentum-repro",
        list(sweeps),
        work / out,
        summary_dir=work / "results" / "sweeps",
        tuned_sweeps=tuned,
        profile="tiny",
        log_artifacts=False,
    )
    return result.metrics


def seeds_per_cell(metrics_dir: Path) -> dict[str, str]:
    rows = csv.DictReader((metrics_dir / "table1.csv").open())
    return {r["column"]: r["n_seeds"] for r in rows if r["row"] == "curves" and r["n_seeds"]}


def test_only_the_current_runs_of_a_sweep_fill_its_cells(tmp_path: Path, tiny_curves: Path) -> None:
    """A tuning study in the same store changes no cell and no verdict; a rerun after a change
    to the code the runs compute with holds as many seeds per cell as before, not twice as
    many, and the page says how many runs it left out and why."""
    train(tmp_path, tiny_curves, *CELLS, "sweep_name=cells")
    first = report(tmp_path, "first", "cells")
    assert seeds_per_cell(tmp_path / "first") == {"sgd": "2", "nag_0.99": "2"}

    train(
        tmp_path,
        tiny_curves,
        "experiment=tune",
        "optimizer=nag",
        "hydra.sweeper.n_trials=2",
        launcher="basic",
    )
    tuned = report(tmp_path, "tuned", "cells", tuned=("tune_curves_nag",))
    assert {k: v for k, v in tuned.items() if k != "tuning"} == first
    assert len(tuned["tuning"]) == 1 and tuned["tuning"][0]["trials"] == "2"
    assert (tmp_path / "tuned" / "tuning.md").exists()
    report(tmp_path, "tuned", "cells")  # a rebuild removes what it no longer writes
    assert not (tmp_path / "tuned" / "tuning.md").exists()

    src = tmp_path / "src"  # the same project with a changed optimizer file: new run keys
    shutil.copytree(ROOT / "src", src, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    schedule = src / "momentum_repro" / "optim" / "schedule.py"
    schedule.write_text(schedule.read_text() + "\n# changed\n")
    train(tmp_path, tiny_curves, *CELLS, "sweep_name=cells", src=src)
    second = report(tmp_path, "second", "cells")
    assert seeds_per_cell(tmp_path / "second") == {"sgd": "2", "nag_0.99": "2"}  # not 4
    assert second["runs"]["total"] == first["runs"]["total"] == 4
    assert second["runs"]["left_out"]["cells"] == {
        "made by other code or data than the current run of its config": 4
    }
    assert "cells: 4 run(s) left out" in (tmp_path / "second" / "claims.md").read_text()


def test_the_readmes_own_optimizer_reaches_the_tables(tmp_path: Path, tiny_curves: Path) -> None:
    """README, "Your own optimizer": any torch.optim class by _target_, then --add."""
    train(
        tmp_path,
        tiny_curves,
        "optimizer=adam",
        "optimizer.name=rmsprop",
        "optimizer.factory._target_=torch.optim.RMSprop",
        "optimizer.lr=0.01,0.001",
        "seed=1,2",
        "sweep_name=rmsprop_tiny",
    )
    (tmp_path / "params.yaml").write_text("profile: tiny\n")
    done = subprocess.run(
        [sys.executable, str(ROOT / "pipelines" / "report.py"), "--add", "rmsprop_tiny"],
        cwd=tmp_path,
        env={**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, failure(done)
    assert "rmsprop_tiny" in done.stdout
    table = (tmp_path / "reports" / "table1.md").read_text().splitlines()
    header = next(line for line in table if line.startswith("| task"))
    assert header.rstrip(" |").endswith("rmsprop")  # its column, beside the paper's
    metrics = json.loads((tmp_path / "reports" / "metrics.json").read_text())
    assert metrics["table1"]["curves"]["rmsprop"] > 0
