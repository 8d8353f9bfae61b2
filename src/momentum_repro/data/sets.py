"""Built data sets on disk: ``train.npy``, ``test.npy`` and ``meta.json`` in one folder."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SET_FILES = ("train.npy", "test.npy", "meta.json")


@dataclass(frozen=True)
class DataSet:
    """A built autoencoder set: (cases, pixels) float32 arrays and their provenance."""

    train: np.ndarray
    test: np.ndarray
    meta: dict[str, Any]

    @property
    def dim(self) -> int:
        return int(self.train.shape[1])


def save_set(path: str | Path, train: np.ndarray, test: np.ndarray, meta: dict[str, Any]) -> Path:
    """Write a set atomically: into a temporary sibling folder, then renamed over ``path``."""
    path = Path(path)
    for name, array in (("train", train), ("test", test)):
        if array.ndim != 2 or not np.isfinite(array).all():
            raise ValueError(
                f"save_set: {name} must be a finite 2-D array, got shape {array.shape}"
            )
    if train.shape[1] != test.shape[1]:
        raise ValueError(f"save_set: train has {train.shape[1]} pixels, test {test.shape[1]}")
    meta = {
        **meta,
        "n_train": int(train.shape[0]),
        "n_test": int(test.shape[0]),
        "dim": int(train.shape[1]),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    tmp.chmod(0o755)
    try:
        np.save(tmp / "train.npy", np.ascontiguousarray(train, dtype=np.float32))
        np.save(tmp / "test.npy", np.ascontiguousarray(test, dtype=np.float32))
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    replace_dir(tmp, path)
    return path


def replace_dir(new: Path, path: Path) -> None:
    """Put the finished folder ``new`` at ``path``: the old one is moved aside first and
    removed only once the new one is in place, so a crash never leaves neither."""
    old = path.with_name(f".{path.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if path.exists():
        os.replace(path, old)
    try:
        os.replace(new, path)
    except BaseException:
        if old.exists() and not path.exists():
            os.replace(old, path)
        raise
    shutil.rmtree(old, ignore_errors=True)


def load_set(path: str | Path, *, mmap: bool = True) -> DataSet:
    """Load a built set; a missing or malformed folder raises an error naming what is wrong."""
    path = Path(path)
    missing = [name for name in SET_FILES if not (path / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"data set {path} is missing {', '.join(missing)}: build it first "
            f"(`dvc repro` or `python pipelines/build_data.py {path.name}`)"
        )
    mode = "r" if mmap else None
    train = np.load(path / "train.npy", mmap_mode=mode)
    test = np.load(path / "test.npy", mmap_mode=mode)
    meta = json.loads((path / "meta.json").read_text())
    if train.ndim != 2 or test.ndim != 2 or train.shape[1] != test.shape[1]:
        raise ValueError(f"data set {path}: bad shapes train {train.shape}, test {test.shape}")
    return DataSet(train=train, test=test, meta=meta)
