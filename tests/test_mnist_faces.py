"""MNIST, CURVES and FACES loaders and the FACES re-creation, on small fixtures."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch

from momentum_repro.data.faces import (
    PAPER_N_TEST,
    PAPER_N_TRAIN,
    load_olivetti,
    load_paper_faces,
    rebuild_faces,
    transform_faces,
)
from momentum_repro.data.matfile import MatFileError
from momentum_repro.data.mnist import IDX_FILES, load_mnist_idx, load_mnist_mat, read_idx
from momentum_repro.data.paper_curves import load_paper_curves

SHARED_DATA = Path(__file__).parents[2] / "shared" / "data"


def write_idx_gz(path: Path, values: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, values.ndim]) + np.asarray(values.shape, ">u4").tobytes()
    path.write_bytes(gzip.compress(header + values.astype(np.uint8).tobytes(), mtime=0))


# --- MNIST ----------------------------------------------------------------------------------


@pytest.fixture
def mnist_sources(tmp_path):
    """The same small MNIST-like data as IDX files (original order) and as mnist_all.mat."""
    rng = np.random.default_rng(0)
    mat = {}
    for split, n in (("train", 50), ("test", 20)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.permutation(np.arange(n) % 10).astype(np.uint8)
        images_name, labels_name = IDX_FILES[split]
        write_idx_gz(tmp_path / images_name, images)
        write_idx_gz(tmp_path / labels_name, labels)
        for digit in range(10):  # Roweis' layout: one (n_digit, 784) uint8 block per digit
            mat[f"{split}{digit}"] = images[labels == digit].reshape(-1, 784)
        mat[f"_{split}"] = (images, labels)
    arrays = {k: v for k, v in mat.items() if not k.startswith("_")}
    scipy.io.savemat(tmp_path / "mnist_all.mat", arrays)
    return tmp_path, mat


def test_idx_and_mat_sources_give_identical_arrays(mnist_sources):
    folder, _ = mnist_sources
    idx_train, idx_test = load_mnist_idx(folder)
    mat_train, mat_test = load_mnist_mat(folder / "mnist_all.mat")
    assert idx_train.shape == (50, 784) and idx_test.shape == (20, 784)
    assert idx_train.dtype == np.float32 and mat_train.dtype == np.float32
    np.testing.assert_array_equal(idx_train, mat_train)
    np.testing.assert_array_equal(idx_test, mat_test)


def test_idx_images_are_sorted_stably_by_label_and_scaled_by_255(mnist_sources):
    folder, mat = mnist_sources
    images, labels = mat["_train"]
    train, _ = load_mnist_idx(folder)
    expected = [images[i] for digit in range(10) for i in np.flatnonzero(labels == digit)]
    np.testing.assert_array_equal(train, np.reshape(expected, (50, 784)) / np.float32(255))
    assert train.min() >= 0.0 and train.max() <= 1.0


def test_read_idx_rejects_a_file_that_is_not_idx(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x1f\x8b\x08\x00 not idx at all")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "bad")


def test_read_idx_rejects_a_truncated_file(tmp_path):
    path = tmp_path / "short.gz"
    write_idx_gz(path, np.zeros((3, 28, 28)))
    data = gzip.decompress(path.read_bytes())[:-5]
    path.write_bytes(gzip.compress(data))
    with pytest.raises(ValueError, match=r"shape \(3, 28, 28\)"):
        read_idx(path)


# --- CURVES and .mat handling ---------------------------------------------------------------


def test_paper_curves_loader(tmp_path):
    rng = np.random.default_rng(1)
    bdata, bdatatest = rng.random((6, 784)), rng.random((3, 784))
    scipy.io.savemat(tmp_path / "digs3pts_1.mat", {"bdata": bdata, "bdatatest": bdatatest})
    train, test = load_paper_curves(tmp_path / "digs3pts_1.mat")
    assert train.dtype == np.float32 and train.shape == (6, 784) and test.shape == (3, 784)
    np.testing.assert_allclose(train, bdata, rtol=1e-6)


def test_paper_curves_rejects_values_outside_the_unit_interval(tmp_path):
    bad = {"bdata": np.full((2, 784), 2.0), "bdatatest": np.zeros((1, 784))}
    scipy.io.savemat(tmp_path / "c.mat", bad)
    with pytest.raises(ValueError, match="bdata has values in"):
        load_paper_curves(tmp_path / "c.mat")


def test_missing_variable_and_v73_files_give_clear_errors(tmp_path):
    scipy.io.savemat(tmp_path / "c.mat", {"bdata": np.zeros((2, 784))})
    with pytest.raises(MatFileError, match="bdatatest"):
        load_paper_curves(tmp_path / "c.mat")
    # A v7.3 header: 116 bytes of text, 8 bytes subsystem offset, version 0x0200, 'IM'.
    header = b"MATLAB 7.3 MAT-file".ljust(116) + bytes(8) + b"\x00\x02IM"
    (tmp_path / "v73.mat").write_bytes(header + bytes(384))
    with pytest.raises(MatFileError, match=r"v7\.3"):
        load_paper_curves(tmp_path / "v73.mat")


# --- FACES: the paper's file ----------------------------------------------------------------


def test_paper_faces_columns_split_into_first_train_and_last_test(tmp_path):
    faces = np.arange(8, dtype=np.float32)[None, :] + np.zeros((625, 1), dtype=np.float32)
    scipy.io.savemat(tmp_path / "f.mat", {"newfaces_single": faces})
    train, test = load_paper_faces(tmp_path / "f.mat", n_train=5, n_test=2)
    assert train.shape == (5, 625) and test.shape == (2, 625) and train.dtype == np.float32
    np.testing.assert_array_equal(train[:, 0], [0, 1, 2, 3, 4])  # columns 0-4
    np.testing.assert_array_equal(test[:, 0], [6, 7])  # the last two; column 5 is unused
    assert (PAPER_N_TRAIN, PAPER_N_TEST) == (103_500, 41_400)
    with pytest.raises(ValueError, match="at least"):
        load_paper_faces(tmp_path / "f.mat", n_train=7, n_test=2)


# --- FACES: the re-creation -----------------------------------------------------------------


@pytest.fixture(scope="module")
def olivetti_fixture(tmp_path_factory):
    """A small stand-in for olivettifaces.mat: 400 smooth 64x64 images, column-major columns."""
    rng = np.random.default_rng(2)
    coarse = rng.integers(0, 256, size=(400, 8, 8)).astype(np.float64)
    images = np.kron(coarse, np.ones((8, 8))).astype(np.uint8)  # (400, 64, 64)
    faces = np.stack([image.flatten(order="F") for image in images], axis=1)
    path = tmp_path_factory.mktemp("olivetti") / "olivettifaces.mat"
    scipy.io.savemat(path, {"faces": faces})
    return path, images


def test_olivetti_columns_are_column_major_images(olivetti_fixture):
    path, images = olivetti_fixture
    loaded, person = load_olivetti(path)
    np.testing.assert_array_equal(loaded, images)
    np.testing.assert_array_equal(person[::10], np.arange(40))


def test_rebuilt_faces_shapes_split_by_person_and_normalisation(olivetti_fixture):
    faces = rebuild_faces(olivetti_fixture[0], seed=0, variants_per_image=3)
    assert faces.train.shape == (25 * 10 * 3, 625)
    assert faces.validation.shape == (5 * 10 * 3, 625)
    assert faces.test.shape == (10 * 10 * 3, 625)
    assert set(faces.train_person) == set(range(25))
    assert set(faces.validation_person) == set(range(25, 30))
    assert set(faces.test_person) == set(range(30, 40))
    assert faces.train.dtype == np.float32
    np.testing.assert_allclose(faces.train.mean(axis=0), 0.0, atol=1e-5)
    assert faces.train.var(axis=0).mean() == pytest.approx(1.0, rel=1e-4)
    assert faces.test.var(axis=0).mean() > 0.1  # the same shift and scale, not its own


def test_rebuilt_faces_are_deterministic_per_seed(olivetti_fixture):
    first = rebuild_faces(olivetti_fixture[0], seed=7, variants_per_image=2)
    again = rebuild_faces(olivetti_fixture[0], seed=7, variants_per_image=2)
    other = rebuild_faces(olivetti_fixture[0], seed=8, variants_per_image=2)
    np.testing.assert_array_equal(first.train, again.train)
    np.testing.assert_array_equal(first.test_person, again.test_person)
    assert not np.array_equal(first.train, other.train)


def test_transform_rotates_and_magnifies_about_the_centre():
    ramp = torch.linspace(0, 1, 64).repeat(64, 1)[None]  # brightness grows to the right
    plain = transform_faces(ramp, np.array([0.0]), np.array([1.0])).reshape(25, 25)
    assert np.all(np.diff(plain[12]) > 0) and np.allclose(plain[:, 12], plain[0, 12])
    turned = transform_faces(ramp, np.array([90.0]), np.array([1.0])).reshape(25, 25)
    assert np.allclose(turned[12], turned[12, 0], atol=1e-6)  # now constant along rows
    assert abs(turned[0, 12] - turned[-1, 12]) > 0.9
    zoomed = transform_faces(ramp, np.array([0.0]), np.array([2.0])).reshape(25, 25)
    span = zoomed[12, -1] - zoomed[12, 0]
    assert span == pytest.approx((plain[12, -1] - plain[12, 0]) / 2, rel=0.05)


@pytest.mark.shared_data
@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data is absent")
def test_real_mnist_and_olivetti_from_shared_data():
    train, test = load_mnist_idx(SHARED_DATA / "mnist")
    assert train.shape == (60_000, 784) and test.shape == (10_000, 784)
    faces = rebuild_faces(
        SHARED_DATA / "olivetti" / "olivettifaces.mat", seed=0, variants_per_image=1
    )
    assert faces.train.shape == (250, 625) and faces.test.shape == (100, 625)
