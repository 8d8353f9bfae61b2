"""CURVES as the paper used it: ``digs3pts_1.mat`` from James Martens' page.

The file (by Ruslan Salakhutdinov, see Hinton & Salakhutdinov 2006) holds ``bdata`` (training)
and ``bdatatest`` (test): 28x28 images of curves, one per row, intensities in [0, 1].
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from momentum_repro.data.matfile import read_mat

N_PIXELS = 28 * 28


def load_paper_curves(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) from ``digs3pts_1.mat``: float32 arrays of shape (cases, 784) in [0, 1]."""
    data = read_mat(path, ["bdata", "bdatatest"])
    splits = []
    for key in ("bdata", "bdatatest"):
        values = np.asarray(data[key], dtype=np.float32)
        if values.ndim != 2 or values.shape[1] != N_PIXELS:
            raise ValueError(f"{path}: {key} has shape {values.shape}; expected (cases, 784)")
        low, high = float(values.min(initial=0.0)), float(values.max(initial=0.0))
        if low < 0.0 or high > 1.0:
            raise ValueError(f"{path}: {key} has values in [{low}, {high}]; expected [0, 1]")
        splits.append(values)
    return splits[0], splits[1]
