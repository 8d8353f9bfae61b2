"""Run ``pipelines/train.py -m`` as a user would, in its own process, for the sweep tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import ROOT


def train_multirun(
    cwd: Path, *overrides: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    """``python pipelines/train.py -m <overrides>`` in ``cwd``; MLFLOW_TRACKING_URI is dropped
    from the environment (it would win over ``tracking.uri``) unless ``env`` sets it."""
    base = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    cmd = [sys.executable, str(ROOT / "pipelines" / "train.py"), "-m", *overrides]
    return subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, env={**base, **(env or {})}, timeout=timeout
    )


def tiny_sweep(tmp_path: Path, data: Path, name: str) -> list[str]:
    """Overrides of a tiny sweep on ``data`` whose Hydra folders are in ``tmp_path``."""
    return [
        "profile=tiny",
        "trainer.total_updates=20",
        "trainer.threads=1",
        "trainer.progress_bar=false",
        f"data.path={data}",
        f"hydra.sweep.dir={tmp_path / 'multirun'}",
        f"sweep_name={name}",
    ]


def failure(done: subprocess.CompletedProcess) -> str:
    """The end of a failed command's output, for an assertion message."""
    return f"exit {done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
