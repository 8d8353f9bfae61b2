"""Bad input, as a user meets it: one clear line naming what is wrong, and nothing logged."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT
from momentum_repro.data.sets import load_set, save_set
from momentum_repro.errors import DataSetError


@pytest.fixture
def small_set(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    return save_set(tmp_path / "curves", rng.random((50, 784)), rng.random((10, 784)), {})


def test_a_truncated_array_is_refused_naming_the_file_and_the_fix(small_set: Path) -> None:
    file = small_set / "train.npy"
    file.write_bytes(file.read_bytes()[:-1000])
    with pytest.raises(DataSetError) as error:
        load_set(small_set)
    message = str(error.value)
    assert str(file) in message and "damaged" in message
    assert "python pipelines/build_data.py curves" in message


def test_a_non_finite_pixel_is_refused_at_load_not_blamed_on_the_optimizer(small_set: Path) -> None:
    train = np.load(small_set / "train.npy")
    train[3, 100] = np.nan
    np.save(small_set / "train.npy", train)
    with pytest.raises(DataSetError, match=r"train.npy holds 1 NaN or infinite value"):
        load_set(small_set)


def test_damaged_meta_is_refused(small_set: Path) -> None:
    (small_set / "meta.json").write_text("{not json")
    with pytest.raises(DataSetError, match=r"meta\.json is damaged"):
        load_set(small_set)


def train(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = {
        k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "HYDRA_FULL_ERROR")
    }
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "pipelines" / "train.py"),
            *args,
            f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}",
            f"tracking.artifact_root={tmp_path / 'art'}",
            f"hydra.run.dir={tmp_path / 'out'}",
            "profile=tiny",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["optimizer.mu_max=1.5"], "error: config error: optimizer.mu_max=1.5 is not allowed"),
        (  # a misspelt optimizer class: refused before anything trains or is logged
            ["optimizer=adam", "optimizer.factory._target_=torch.optim.RMSProp"],
            "error: config error: optimizer.factory._target_='torch.optim.RMSProp' is not",
        ),
    ],
)
def test_a_config_error_is_one_line_and_logs_no_run(
    args: list[str], expected: str, tmp_path: Path
) -> None:
    result = train(args, tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(expected), result.stderr
    assert "it must be" in errors[0] or "it names no class" in errors[0]
    if (tmp_path / "mlflow.db").exists():
        from mlflow.tracking import MlflowClient

        client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
        assert all(not client.search_runs([e.experiment_id]) for e in client.search_experiments())


@pytest.mark.slow
def test_a_damaged_set_is_one_line_from_the_command_line(small_set: Path, tmp_path: Path) -> None:
    train_file = small_set / "train.npy"
    train_file.write_bytes(train_file.read_bytes()[:-1000])
    result = train([f"data.path={small_set}", "trainer.batch_size=10"], tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"error: data set file {train_file} is damaged" in result.stderr


@pytest.mark.parametrize("entry", ["train.py", "report.py", "build_data.py", "download.py"])
def test_an_entry_point_under_a_python_without_the_project_says_how_to_set_it_up(
    entry: str, tmp_path: Path
) -> None:
    """As a DVC stage run by a dvc outside .venv: a python that has none of the project's
    packages (``-S``: no site-packages; no PYTHONPATH) names the command that sets it up."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-S", str(ROOT / "pipelines" / entry)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "is not installed for" in done.stderr and "make venv" in done.stderr
