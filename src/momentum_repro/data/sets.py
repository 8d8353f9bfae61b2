"""Built data sets on disk: ``train.npy``, ``test.npy`` and ``meta.json`` in one folder (the
autoencoder sets); ``points.npy``, ``labels.npy`` and ``meta.json`` (a labelled set: two moons)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from momentum_repro.errors import DataSetError

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
    arrays = {"train": (train, np.float32), "test": (test, np.float32)}
    return write_set_dir(path, arrays, meta)


def write_set_dir(
    path: Path, arrays: dict[str, tuple[np.ndarray, Any]], meta: dict[str, Any]
) -> Path:
    """Write ``<name>.npy`` per array (in its dtype) and ``meta.json`` into a temporary
    sibling folder, then rename it over ``path``: a crash never leaves half a set."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    tmp.chmod(0o755)
    try:
        for name, (array, dtype) in arrays.items():
            np.save(tmp / f"{name}.npy", np.ascontiguousarray(array, dtype=dtype))
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
    rebuild = f"rebuild it: `dvc repro --force build_{path.name}` or `python pipelines/build_data.py {path.name}`"
    mode = "r" if mmap else None
    arrays = {}
    for name in ("train", "test"):
        file = path / f"{name}.npy"
        try:
            arrays[name] = np.load(file, mmap_mode=mode)
        except (ValueError, OSError, EOFError) as error:  # truncated, not an .npy, ...
            raise DataSetError(f"data set file {file} is damaged ({error}); {rebuild}") from None
    train, test = arrays["train"], arrays["test"]
    try:
        meta = json.loads((path / "meta.json").read_text())
    except json.JSONDecodeError as error:
        raise DataSetError(f"data set file {path / 'meta.json'} is damaged ({error}); {rebuild}") from None
    if train.ndim != 2 or test.ndim != 2 or train.shape[1] != test.shape[1]:
        raise DataSetError(
            f"data set {path}: bad shapes train {train.shape}, test {test.shape}; {rebuild}"
        )
    for name, array in (("train", train), ("test", test)):
        bad = int(np.count_nonzero(~np.isfinite(array)))  # one pass; the set then trains
        if bad:
            raise DataSetError(
                f"data set file {path / (name + '.npy')} holds {bad} NaN or infinite value(s): "
                f"training on it would be recorded as a diverged run; {rebuild}"
            )
    return DataSet(train=train, test=test, meta=meta)


LABELLED_SET_FILES = ("points.npy", "labels.npy", "meta.json")


@dataclass(frozen=True)
class LabelledSet:
    """A built classification set (the worked example's two moons): float64 points
    (cases, dim), int64 labels (cases,), and its provenance. Kept in float64 so the points
    are exactly the generator's."""

    points: np.ndarray
    labels: np.ndarray
    meta: dict[str, Any]

    @property
    def dim(self) -> int:
        return int(self.points.shape[1])


def save_labelled_set(
    path: str | Path, points: np.ndarray, labels: np.ndarray, meta: dict[str, Any]
) -> Path:
    """Write ``points.npy``, ``labels.npy`` and ``meta.json`` atomically, as :func:`save_set`."""
    path = Path(path)
    if points.ndim != 2 or not np.isfinite(points).all():
        raise ValueError(
            f"save_labelled_set: points must be a finite 2-D array, got {points.shape}"
        )
    if labels.shape != (points.shape[0],):
        raise ValueError(
            f"save_labelled_set: labels must have shape ({points.shape[0]},), got {labels.shape}"
        )
    meta = {**meta, "n_train": int(points.shape[0]), "n_test": 0, "dim": int(points.shape[1])}
    arrays = {"points": (points, np.float64), "labels": (labels, np.int64)}
    return write_set_dir(path, arrays, meta)


def load_labelled_set(path: str | Path) -> LabelledSet:
    """Load a set written by :func:`save_labelled_set`; a missing folder names the fix."""
    path = Path(path)
    missing = [name for name in LABELLED_SET_FILES if not (path / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"data set {path} is missing {', '.join(missing)}: build it first "
            f"(`python pipelines/build_data.py {path.name}`)"
        )
    points = np.load(path / "points.npy")
    labels = np.load(path / "labels.npy")
    meta = json.loads((path / "meta.json").read_text())
    if points.ndim != 2 or labels.shape != (points.shape[0],):
        raise DataSetError(
            f"data set {path}: bad shapes points {points.shape}, labels {labels.shape}; "
            f"rebuild it: `python pipelines/build_data.py {path.name}`"
        )
    return LabelledSet(points=points, labels=labels, meta=meta)
