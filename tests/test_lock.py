"""requirements.lock: made from pyproject.toml's dependencies, and checked against them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

CHECK = ROOT / "tools" / "check_lock.py"


def run_check(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            str(CHECK),
            "--pyproject",
            "pyproject.toml",
            "--lock",
            "requirements.lock",
        ],
        cwd=folder,
        capture_output=True,
        text=True,
    )


def test_the_committed_lock_matches_pyproject() -> None:
    result = run_check(ROOT)
    assert result.returncode == 0, result.stderr


def test_the_lock_pins_torchs_cpu_build_and_every_requirement() -> None:
    lock = (ROOT / "requirements.lock").read_text()
    assert "\ntorch==2.13.0+cpu\n" in lock
    assert "nvidia" not in lock  # no CUDA libraries in a CPU install
    for name in ("mlflow==", "dvc==", "hydra-core==", "pytorch-lightning==", "numpy=="):
        assert f"\n{name}" in lock, name


def test_a_changed_dependency_or_a_stale_pin_fails_the_check(tmp_path: Path) -> None:
    shutil.copy(ROOT / "requirements.lock", tmp_path / "requirements.lock")
    pyproject = (ROOT / "pyproject.toml").read_text()
    (tmp_path / "pyproject.toml").write_text(
        pyproject.replace('"tqdm>=4.66"', '"tqdm>=4.66", "pendulum>=3"')
    )
    result = run_check(tmp_path)
    assert result.returncode == 1
    assert (
        "not compiled from" in result.stderr and "pendulum (pendulum>=3) is not in" in result.stderr
    )

    (tmp_path / "pyproject.toml").write_text(pyproject.replace('"tqdm>=4.66"', '"tqdm>=99"'))
    result = run_check(tmp_path)
    assert result.returncode == 1
    assert "tqdm==" in result.stderr and "does not satisfy 'tqdm>=99'" in result.stderr
