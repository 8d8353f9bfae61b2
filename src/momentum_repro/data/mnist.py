"""MNIST (LeCun, Cortes & Burges) as the paper's autoencoder uses it: 784 pixels in [0, 1].

Two sources give the same arrays:
- the IDX files (``train-images-idx3-ubyte.gz`` ...), in the original order of the data set;
- ``mnist_all.mat`` (James Martens' / Sam Roweis' copy used by the paper): ``train0..train9`` and
  ``test0..test9``, uint8 (n, 784), each row one image in row-major order, grouped by digit.

Ordering choice: the .mat file has lost the original order, so both loaders return the images
sorted by (label, original index), i.e. the IDX images stably sorted by label. This assumes the
.mat file keeps the original order within each digit. Training code shuffles minibatches itself,
so the order only matters for making the two sources give identical arrays.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from momentum_repro.data.matfile import read_mat

N_TRAIN = 60_000
N_TEST = 10_000
N_PIXELS = 28 * 28
IDX_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_IDX_UBYTE = 0x08  # IDX type code of unsigned bytes


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (gzip or plain) of unsigned bytes into an array of its stated shape."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path}: not an IDX file (magic {data[:4].hex()})")
    if data[2] != _IDX_UBYTE:
        raise ValueError(f"{path}: IDX type 0x{data[2]:02x}; only unsigned bytes (0x08) supported")
    ndim = data[3]
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    body = np.frombuffer(data, np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says shape {shape} but holds {body.size} values")
    return body.reshape(shape)


def to_unit_interval(pixels: np.ndarray) -> np.ndarray:
    """uint8 images (n, ...) to float32 rows (n, pixels) in [0, 1]: pixel / 255."""
    return pixels.reshape(len(pixels), -1).astype(np.float32) / np.float32(255)


def load_mnist_idx(directory: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) from the four IDX files in ``directory``, sorted stably by label."""
    directory = Path(directory)
    splits = []
    for images_name, labels_name in IDX_FILES.values():
        images = read_idx(directory / images_name)
        labels = read_idx(directory / labels_name)
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise ValueError(
                f"{directory}: {images_name} has shape {images.shape} and {labels_name} "
                f"{labels.shape}; expected (n, 28, 28) and (n,)"
            )
        order = np.argsort(labels, kind="stable")
        splits.append(to_unit_interval(images[order]))
    return splits[0], splits[1]


def load_mnist_mat(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) from ``mnist_all.mat``: train0..train9 then test0..test9, concatenated."""
    keys = [f"{split}{digit}" for split in ("train", "test") for digit in range(10)]
    data = read_mat(path, keys)
    for key in keys:
        if data[key].ndim != 2 or data[key].shape[1] != N_PIXELS:
            raise ValueError(f"{path}: {key} has shape {data[key].shape}; expected (n, 784)")
    train = np.concatenate([data[f"train{d}"] for d in range(10)])
    test = np.concatenate([data[f"test{d}"] for d in range(10)])
    return to_unit_interval(train), to_unit_interval(test)
