"""The two-moons set of the study notes' worked example, as scikit-learn's ``make_moons``
makes it (without depending on scikit-learn).

Two interleaving half circles: the outer one (label 0) at (cos s, sin s), the inner one
(label 1) at (1 - cos s, 1 - sin s - 0.5), s evenly spaced over [0, pi]; n // 2 points on the
outer, the rest on the inner. With ``shuffle`` the points are permuted, then Gaussian noise of
standard deviation ``noise`` is added to both coordinates.

The random draws are scikit-learn's, in its order, from ``np.random.RandomState(seed)``: a
shuffle of the indices, then the noise. So ``make_moons(300, 0.2, seed=3)`` is the set of the
published exercise, which calls ``np.random.seed(3)`` and then
``sklearn.datasets.make_moons(n_samples=300, noise=.2)``.
"""

from __future__ import annotations

import numpy as np


def make_moons(
    n_samples: int, noise: float | None, seed: int, *, shuffle: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """(points, labels): float64 (n, 2) and int64 (n,) with labels 0 (outer) and 1 (inner)."""
    if n_samples < 2:
        raise ValueError(f"make_moons: n_samples must be >= 2, got {n_samples}")
    if noise is not None and not noise >= 0.0:
        raise ValueError(f"make_moons: noise must be >= 0 or None, got {noise}")
    n_out = n_samples // 2
    n_in = n_samples - n_out
    rng = np.random.RandomState(seed)  # the legacy generator: scikit-learn's draws, bit for bit
    s_out = np.linspace(0.0, np.pi, n_out)
    s_in = np.linspace(0.0, np.pi, n_in)
    points = np.vstack(
        [
            np.append(np.cos(s_out), 1.0 - np.cos(s_in)),
            np.append(np.sin(s_out), 1.0 - np.sin(s_in) - 0.5),
        ]
    ).T
    labels = np.hstack([np.zeros(n_out, dtype=np.int64), np.ones(n_in, dtype=np.int64)])
    if shuffle:
        order = np.arange(n_samples)
        rng.shuffle(order)  # sklearn.utils.shuffle draws exactly this permutation
        points, labels = points[order], labels[order]
    if noise is not None:
        points = points + rng.normal(scale=noise, size=points.shape)
    return points, labels
