"""The data builders of the DVC stages (build_curves, build_mnist, build_faces) on small fixtures:
their sets, meta.json provenance, and the errors when raw files are missing."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import yaml

from momentum_repro.data.build import (
    BUILDERS,
    FETCH_REPORT,
    PAPER_FILES,
    RawDataMissingError,
    build_set,
)
from momentum_repro.data.mnist import IDX_FILES
from momentum_repro.data.sets import load_set

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
needs_shared_data = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data is absent")

# sha256 of the decompressed real MNIST files (../shared/README.md)
MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte.gz": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte.gz": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte.gz": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
OLIVETTI_SHA256 = "b1988d02c72fe5b8ee82b5ef3bb7982eafc74f1e1ff0ae0ade35061ad0af534d"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_idx_gz(path: Path, values: np.ndarray) -> bytes:
    """An IDX file of unsigned bytes, gzipped; returns the decompressed bytes."""
    raw = bytes([0, 0, 0x08, values.ndim]) + np.asarray(values.shape, ">u4").tobytes()
    raw += values.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw, mtime=0))
    return raw


def write_params(tmp_path: Path, source: str, raw: Path, **sets: dict) -> dict:
    """The ``data`` params: ``source``, ``raw`` and one section per set (out under tmp)."""
    data: dict = {"source": source, "raw": str(raw)}
    for name, section in sets.items():
        data[name] = {"out": str(tmp_path / "sets" / name), **section}
    return data


@pytest.fixture
def idx_raw(tmp_path: Path) -> tuple[Path, dict[str, bytes], dict[str, np.ndarray]]:
    """A raw folder with tiny MNIST IDX files: 50 training and 20 test images."""
    raw = tmp_path / "raw"
    raw.mkdir()
    rng = np.random.default_rng(0)
    contents, labels = {}, {}
    for split, n in (("train", 50), ("test", 20)):
        images_name, labels_name = IDX_FILES[split]
        labels[split] = rng.permutation(np.arange(n) % 10).astype(np.uint8)
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        contents[images_name] = write_idx_gz(raw / images_name, images)
        contents[labels_name] = write_idx_gz(raw / labels_name, labels[split])
    return raw, contents, labels


@pytest.fixture
def olivetti_raw(tmp_path: Path) -> Path:
    """A raw folder with a random olivettifaces.mat of the real layout (4096 x 400 uint8)."""
    raw = tmp_path / "raw"
    raw.mkdir(exist_ok=True)
    faces = np.random.default_rng(1).integers(0, 256, size=(4096, 400), dtype=np.uint8)
    scipy.io.savemat(raw / "olivettifaces.mat", {"faces": faces})
    return raw


def test_builders_cover_the_autoencoder_sets_the_rnn_eval_sets_and_the_toy():
    assert set(BUILDERS) == {"curves", "mnist", "faces", "rnn", "moons"}


def test_rnn_eval_sets_are_the_seeded_sets_of_each_task_and_length(tmp_path):
    import numpy as np

    from momentum_repro.data.rnn_tasks import Batch, make_eval_set

    out = tmp_path / "rnn"
    params = {
        "seed": 5,
        "n_eval": 40,
        "out": str(out),
        "sets": {"addition": [20, 30], "mem5": [30]},
    }
    BUILDERS["rnn"](params, "rebuilt", tmp_path)
    assert sorted(p.name for p in out.iterdir()) == [
        "addition_T20.npz",
        "addition_T30.npz",
        "mem5_T30.npz",
        "meta.json",
    ]
    with np.load(out / "mem5_T30.npz") as arrays:
        saved = Batch.from_arrays(dict(arrays))
    expected = make_eval_set("mem5", 30, 40, seed=5)
    np.testing.assert_array_equal(saved.inputs, expected.inputs)
    np.testing.assert_array_equal(saved.targets, expected.targets)
    assert not list(tmp_path.glob(".rnn.tmp*"))


def test_mnist_from_idx_files_records_source_and_decompressed_digests(tmp_path, idx_raw):
    raw, contents, _ = idx_raw
    params = write_params(tmp_path, "rebuilt", raw, mnist={"n_train": None, "n_test": None})
    data = load_set(build_set("mnist", params))
    assert data.train.shape == (50, 784) and data.test.shape == (20, 784)
    assert data.train.dtype == np.float32 and 0.0 <= data.train.min() <= data.train.max() <= 1.0
    meta = data.meta
    assert (meta["name"], meta["source"], meta["dim"]) == ("mnist", "rebuilt", 784)
    assert (meta["n_train"], meta["n_test"]) == (50, 20)
    assert meta["inputs"] == {name: sha256(raw_bytes) for name, raw_bytes in contents.items()}


def test_mnist_size_options_keep_evenly_spaced_cases_of_every_digit(tmp_path, idx_raw):
    raw, _, _ = idx_raw
    params = write_params(tmp_path, "rebuilt", raw, mnist={"n_train": 20, "n_test": 10})
    data = load_set(build_set("mnist", params))
    assert data.train.shape == (20, 784) and data.test.shape == (10, 784)
    assert (data.meta["n_train"], data.meta["n_test"]) == (20, 10)
    everything = load_set(build_set("mnist", write_params(tmp_path, "rebuilt", raw, mnist={})))
    kept = np.linspace(0, 49, 20).round().astype(int)
    np.testing.assert_array_equal(data.train, everything.train[kept])


def test_mnist_from_the_paper_file(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    rng = np.random.default_rng(2)
    blocks = {
        f"{split}{d}": rng.integers(0, 256, size=(n, 784), dtype=np.uint8)
        for split, n in (("train", 3), ("test", 2))
        for d in range(10)
    }
    scipy.io.savemat(raw / "mnist_all.mat", blocks)
    data = load_set(build_set("mnist", write_params(tmp_path, "paper", raw, mnist={})))
    assert data.train.shape == (30, 784) and data.test.shape == (20, 784)
    np.testing.assert_array_equal(data.train[:3], blocks["train0"] / np.float32(255))
    assert data.meta["source"] == "paper"
    assert data.meta["inputs"] == {"mnist_all.mat": sha256((raw / "mnist_all.mat").read_bytes())}


def test_faces_rebuilt_from_olivetti_splits_people_and_records_the_recipe(tmp_path, olivetti_raw):
    params = write_params(
        tmp_path, "rebuilt", olivetti_raw, faces={"seed": 3, "variants_per_image": 2}
    )
    data = load_set(build_set("faces", params))
    # people 1-25 train (25 x 10 images x 2 variants), 31-40 test; 26-30 (validation) unused
    assert data.train.shape == (500, 625) and data.test.shape == (200, 625)
    meta = data.meta
    assert (meta["name"], meta["source"], meta["dim"]) == ("faces", "rebuilt", 625)
    assert meta["recipe"]["seed"] == 3 and meta["recipe"]["variants_per_image"] == 2
    digest = sha256((olivetti_raw / "olivettifaces.mat").read_bytes())
    assert meta["inputs"] == {"olivettifaces.mat": digest}
    # normalised on the training people: zero mean per pixel, average pixel variance 1
    assert abs(float(data.train.mean())) < 1e-4
    assert float(data.train.var(axis=0).mean()) == pytest.approx(1.0, rel=1e-3)


def test_faces_from_the_paper_file_takes_first_train_and_last_test_columns(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    faces = np.arange(625 * 12, dtype=np.float64).reshape(625, 12)
    scipy.io.savemat(raw / "newfaces_rot_single.mat", {"newfaces_single": faces})
    params = write_params(tmp_path, "paper", raw, faces={"n_train": 7, "n_test": 3})
    data = load_set(build_set("faces", params))
    np.testing.assert_array_equal(data.train, faces[:, :7].T.astype(np.float32))
    np.testing.assert_array_equal(data.test, faces[:, 9:].T.astype(np.float32))
    assert data.meta["source"] == "paper" and set(data.meta["inputs"]) == {PAPER_FILES["faces"]}


def test_curves_from_the_paper_file(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    rng = np.random.default_rng(4)
    bdata, bdatatest = rng.random((6, 784)), rng.random((4, 784))
    scipy.io.savemat(raw / "digs3pts_1.mat", {"bdata": bdata, "bdatatest": bdatatest})
    params = write_params(tmp_path, "paper", raw, curves={"seed": 1, "n_train": 9, "n_test": 9})
    data = load_set(build_set("curves", params))
    np.testing.assert_allclose(data.train, bdata.astype(np.float32))
    assert data.meta["source"] == "paper" and set(data.meta["inputs"]) == {"digs3pts_1.mat"}


def test_curves_rebuilt_needs_no_raw_folder(tmp_path):
    params = write_params(
        tmp_path, "rebuilt", tmp_path / "no-raw", curves={"seed": 5, "n_train": 8, "n_test": 4}
    )
    data = load_set(build_set("curves", params))
    assert data.train.shape == (8, 784) and data.meta["source"] == "rebuilt"
    assert data.meta["inputs"] == {}


@pytest.mark.parametrize("name", ["curves", "mnist", "faces"])
def test_paper_source_with_an_unavailable_file_says_why_and_what_to_do(tmp_path, name):
    raw = tmp_path / "raw"
    raw.mkdir()
    reason = f"http://www.cs.toronto.edu/~jmartens/{PAPER_FILES[name]}: host unreachable"
    report = {"fetched": {}, "unavailable": {PAPER_FILES[name]: reason}}
    (raw / FETCH_REPORT).write_text(json.dumps(report))
    section = {"seed": 1, "n_train": 4, "n_test": 2}
    with pytest.raises(RawDataMissingError) as err:
        build_set(name, write_params(tmp_path, "paper", raw, **{name: section}))
    message = str(err.value)
    assert f"data.source=paper: {name.upper()} needs {raw / PAPER_FILES[name]}" in message
    assert reason in message
    assert "data.source: rebuilt" in message and "MOMENTUM_REPRO_MIRROR" in message
    assert not (tmp_path / "sets" / name).exists()


def test_rebuilt_source_without_the_download_stage_names_the_stage_and_the_mirror(tmp_path):
    params = write_params(tmp_path, "rebuilt", tmp_path / "raw", faces={"seed": 1})
    with pytest.raises(RawDataMissingError) as err:
        build_set("faces", params)
    message = str(err.value)
    assert "olivettifaces.mat" in message and "has not run" in message
    assert "dvc repro pipelines/full/dvc.yaml" in message and "MOMENTUM_REPRO_MIRROR=" in message


def test_unknown_source_and_unknown_set_are_refused(tmp_path):
    params = write_params(tmp_path, "original", tmp_path, mnist={})
    with pytest.raises(
        ValueError, match=r"data.source='original'; choose one of \['rebuilt', 'paper'\]"
    ):
        build_set("mnist", params)
    with pytest.raises(ValueError, match="unknown data set 'cifar'"):
        build_set("cifar", params)


def test_every_sweep_stage_runs_an_experiment_as_a_person_would():
    """A DVC sweep stage is ``python pipelines/train.py -m experiment=<name> ...``: the
    experiment file exists, is one of the stage's params, and the sweep summary the stage
    writes is its out; every build stage declares its params."""
    stages = {}
    for dvc_file in (ROOT / "dvc.yaml", ROOT / "pipelines" / "full" / "dvc.yaml"):
        stages.update(yaml.safe_load(dvc_file.read_text())["stages"])
    experiments = set()
    for stage in stages.values():
        body = stage.get("do", stage)
        cmd = " ".join(str(body.get("cmd", "")).split())
        if "pipelines/train.py" not in cmd:
            continue
        assert cmd.startswith("python pipelines/train.py -m experiment="), cmd
        name = cmd.split("experiment=")[1].split()[0]
        experiments.add(name)
        assert (ROOT / "conf" / "experiment" / f"{name}.yaml").is_file(), cmd
        params = [p if isinstance(p, str) else next(iter(p)) for p in body["params"]]
        assert f"conf/experiment/{name}.yaml" in params, cmd
        outs = [next(iter(o)) for o in body["outs"]]
        assert all(o.startswith("results/sweeps/") and o.endswith(".json") for o in outs), cmd
    assert {"claims_autoencoder", "claims_rnn", "moons"} <= experiments
    for name in BUILDERS:
        assert f"data.{name}" in (stages.get(f"build_{name}") or {}).get("params", []), name
    assert "sweeps" not in yaml.safe_load((ROOT / "params.yaml").read_text())


@pytest.mark.shared_data
@needs_shared_data
def test_real_mnist_and_faces_from_shared_data(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    for name in MNIST_SHA256:
        shutil.copy(SHARED_DATA / "mnist" / name, raw / name)
    shutil.copy(SHARED_DATA / "olivetti" / "olivettifaces.mat", raw / "olivettifaces.mat")
    params = write_params(
        tmp_path,
        "rebuilt",
        raw,
        mnist={"n_train": 600, "n_test": 100},
        faces={"seed": 2013, "variants_per_image": 1},
    )
    mnist = load_set(build_set("mnist", params))
    assert mnist.train.shape == (600, 784) and mnist.meta["inputs"] == MNIST_SHA256
    faces = load_set(build_set("faces", params))
    assert faces.train.shape == (250, 625) and faces.test.shape == (100, 625)
    assert faces.meta["inputs"] == {"olivettifaces.mat": OLIVETTI_SHA256}
