"""Build the data sets named in ``params.yaml`` into ``data/sets/<name>/``.

``data.source`` chooses where the pixels come from:

- ``rebuilt``: CURVES from our generator, MNIST from the IDX files, FACES re-created from the
  Olivetti faces. Needs no network for CURVES; MNIST and FACES need the download stage's files.
- ``paper``: the prepared files the paper used (``digs3pts_1.mat``, ``mnist_all.mat``,
  ``newfaces_rot_single.mat`` from James Martens' page), fetched by the download stage into
  ``data.raw``; a clear error if they are not there.

``meta.json`` records the source and the sha256 of every raw file read (of the decompressed
content for ``.gz`` files, as the download manifest does).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from momentum_repro.data.curves import generate_curves
from momentum_repro.data.download import MIRROR_ENV, file_sha256
from momentum_repro.data.faces import (
    PAPER_N_TEST,
    PAPER_N_TRAIN,
    VARIANTS_PER_IMAGE,
    load_paper_faces,
    rebuild_faces,
)
from momentum_repro.data.mnist import IDX_FILES, load_mnist_idx, load_mnist_mat
from momentum_repro.data.moons import make_moons
from momentum_repro.data.paper_curves import load_paper_curves
from momentum_repro.data.rnn_tasks import make_eval_set
from momentum_repro.data.sets import replace_dir, save_labelled_set, save_set

log = logging.getLogger(__name__)

SOURCES = ("rebuilt", "paper")
DEFAULT_RAW_DIR = "data/raw"
FETCH_REPORT = "fetch_report.json"  # written by the download stage next to the raw files
PAPER_FILES = {
    "curves": "digs3pts_1.mat",
    "mnist": "mnist_all.mat",
    "faces": "newfaces_rot_single.mat",
}
OLIVETTI_FILE = "olivettifaces.mat"
# Sets with default parameters, used where params.yaml has no data.<name> section. Two moons:
# the published exercise's set (np.random.seed(3); make_moons(n_samples=300, noise=.2)).
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "moons": {"n_samples": 300, "noise": 0.2, "seed": 3, "out": "data/sets/moons"},
}


class RawDataMissingError(FileNotFoundError):
    """A raw file a builder needs is not in the raw folder; the message says how to get it."""


def data_source(data: Mapping[str, Any]) -> tuple[str, Path]:
    """``(data.source, data.raw)`` of the params' ``data`` mapping; source ``rebuilt`` if unset."""
    source = data.get("source", "rebuilt")
    if source not in SOURCES:
        raise ValueError(f"params: data.source={source!r}; choose one of {list(SOURCES)}")
    return source, Path(data.get("raw", DEFAULT_RAW_DIR))


def input_digests(paths: Iterable[Path]) -> dict[str, str]:
    """``{file name: sha256}`` of the raw files a set was built from."""
    return {p.name: file_sha256(p, decompress=p.suffix == ".gz") for p in paths}


def require_raw(raw_dir: Path, name: str, dataset: str, source: str) -> Path:
    """``raw_dir / name``, or a RawDataMissingError saying why it is missing and what to do."""
    path = raw_dir / name
    if path.is_file():
        return path
    why = ""
    report = raw_dir / FETCH_REPORT
    if report.is_file():
        unavailable = json.loads(report.read_text()).get("unavailable", {})
        if name in unavailable:
            why = f" The download stage could not obtain it: {unavailable[name]}."
    else:
        why = f" The download stage has not run ({report} does not exist)."
    if source == "paper":
        fix = (
            f"Put {name} into {raw_dir}/ (or into a mirror named by {MIRROR_ENV}) and run the "
            f"download stage again, or set data.source: rebuilt in params.yaml to use the "
            "rebuilt sets (generated CURVES, IDX MNIST, FACES re-created from Olivetti)."
        )
    else:
        fix = (
            f"Run the download stage: `dvc repro pipelines/full/dvc.yaml:download`; without "
            f"internet set {MIRROR_ENV} to a folder holding the raw files, "
            f"e.g. `{MIRROR_ENV}=/path/to/mirror dvc repro pipelines/full/dvc.yaml`."
        )
    raise RawDataMissingError(
        f"data.source={source}: {dataset.upper()} needs {path}, which does not exist.{why} {fix}"
    )


def _subset(images: np.ndarray, n: int | None) -> np.ndarray:
    """The first ``n`` of evenly spaced cases (all if ``n`` is None): keeps the digit mix of a
    label-sorted array, for small builds."""
    if n is None or int(n) >= len(images):
        return images
    if int(n) < 1:
        raise ValueError(f"a set needs at least 1 case, got n={n}")
    return images[np.linspace(0, len(images) - 1, int(n)).round().astype(int)]


def build_curves(params: dict[str, Any], source: str, raw_dir: Path) -> Path:
    """CURVES: the paper's ``digs3pts_1.mat``, or the generator (``momentum_repro.data.curves``)."""
    if source == "paper":
        path = require_raw(raw_dir, PAPER_FILES["curves"], "curves", source)
        train, test = load_paper_curves(path)
        meta = {"name": "curves", "source": "paper", "inputs": input_digests([path])}
        return save_set(params["out"], train, test, meta)
    n_train, n_test, seed = int(params["n_train"]), int(params["n_test"]), int(params["seed"])
    images = generate_curves(n_train + n_test, seed)
    meta = {"name": "curves", "source": "rebuilt", "generator_seed": seed, "inputs": {}}
    return save_set(params["out"], images[:n_train], images[n_train:], meta)


def build_mnist(params: dict[str, Any], source: str, raw_dir: Path) -> Path:
    """MNIST, 784 pixels in [0, 1], sorted by label: ``mnist_all.mat`` (paper) or the IDX files
    (rebuilt; the same pixels). ``n_train`` / ``n_test`` (optional) keep evenly spaced subsets."""
    if source == "paper":
        paths = [require_raw(raw_dir, PAPER_FILES["mnist"], "mnist", source)]
        train, test = load_mnist_mat(paths[0])
        origin = "mnist_all.mat (James Martens' / Sam Roweis' copy)"
    else:
        names = [name for pair in IDX_FILES.values() for name in pair]
        paths = [require_raw(raw_dir, name, "mnist", source) for name in names]
        train, test = load_mnist_idx(raw_dir)
        origin = "MNIST IDX files (LeCun, Cortes & Burges), sorted stably by label"
    train, test = _subset(train, params.get("n_train")), _subset(test, params.get("n_test"))
    meta = {"name": "mnist", "source": source, "origin": origin, "inputs": input_digests(paths)}
    return save_set(params["out"], train, test, meta)


def build_faces(params: dict[str, Any], source: str, raw_dir: Path) -> Path:
    """FACES, 625 pixels: ``newfaces_rot_single.mat`` (paper: first 103,500 / last 41,400
    cases) or re-created from the Olivetti faces (``momentum_repro.data.faces``): people 1-25
    train, 31-40 test, the validation people unused."""
    if source == "paper":
        path = require_raw(raw_dir, PAPER_FILES["faces"], "faces", source)
        train, test = load_paper_faces(
            path,
            int(params.get("n_train") or PAPER_N_TRAIN),
            int(params.get("n_test") or PAPER_N_TEST),
        )
        meta = {"name": "faces", "source": "paper", "inputs": input_digests([path])}
        return save_set(params["out"], train, test, meta)
    path = require_raw(raw_dir, OLIVETTI_FILE, "faces", source)
    variants = int(params.get("variants_per_image") or VARIANTS_PER_IMAGE)  # 414: 165,600 cases
    rebuilt = rebuild_faces(path, int(params["seed"]), variants)
    meta = {
        "name": "faces",
        "source": "rebuilt",
        "recipe": rebuilt.info,
        "inputs": input_digests([path]),
    }
    return save_set(params["out"], rebuilt.train, rebuilt.test, meta)


def build_rnn_eval_sets(params: dict[str, Any], source: str, raw_dir: Path) -> Path:
    """The fixed, seeded evaluation sets of the RNN problems: ``<out>/<task>_T<T>.npz``.

    Training draws fresh sequences every update; these sets only measure the zero-one loss.
    ``source`` does not apply: the problems are synthetic.
    """
    out = Path(params["out"])
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    written = {}
    for task, lengths in params["sets"].items():
        for T in lengths:
            batch = make_eval_set(task, int(T), int(params["n_eval"]), int(params["seed"]))
            name = f"{task}_T{T}.npz"
            np.savez(tmp / name, **batch.as_arrays())
            written[name] = {"task": task, "T": int(T), "cases": int(params["n_eval"])}
    meta = {"name": "rnn", "source": "generated", "seed": int(params["seed"]), "sets": written}
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    replace_dir(tmp, out)
    return out


def build_moons(params: dict[str, Any], source: str, raw_dir: Path) -> Path:
    """The two-moons set of the worked example (``momentum_repro.data.moons``): training
    points only, as in the exercise. ``source`` does not apply: the set is generated."""
    n, noise, seed = int(params["n_samples"]), float(params["noise"]), int(params["seed"])
    points, labels = make_moons(n, noise, seed)
    meta = {
        "name": "moons",
        "source": "generated",
        "generator": "make_moons (scikit-learn's definition and draws)",
        "n_samples": n,
        "noise": noise,
        "generator_seed": seed,
        "inputs": {},
    }
    return save_labelled_set(params["out"], points, labels, meta)


Builder = Callable[[dict[str, Any], str, Path], Path]
BUILDERS: dict[str, Builder] = {
    "curves": build_curves,
    "mnist": build_mnist,
    "faces": build_faces,
    "rnn": build_rnn_eval_sets,
    "moons": build_moons,
}


def build_set(name: str, data: Mapping[str, Any]) -> Path:
    """Build set ``name`` from ``data`` (the ``data`` mapping of the DVC params: ``source``,
    ``raw`` and one section per set; the entry point reads the file, the library does not);
    a set in :data:`DEFAULT_PARAMS` takes its defaults for keys the params do not set."""
    if name not in BUILDERS:
        raise ValueError(f"unknown data set {name!r}; choose one of {sorted(BUILDERS)}")
    source, raw_dir = data_source(data)
    if name not in data and name not in DEFAULT_PARAMS:
        raise KeyError(f"params have no data.{name} section")
    params = {**DEFAULT_PARAMS.get(name, {}), **dict(data.get(name) or {})}
    path = BUILDERS[name](params, source, raw_dir)
    log.info("built %s (%s) at %s", name, source, path)
    print(f"built {name} ({source}) at {path}")
    return path
