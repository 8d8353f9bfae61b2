"""A re-creation of the CURVES data set (Hinton & Salakhutdinov, 2006).

The paper used Ruslan Salakhutdinov's prepared file ``digs3pts_1.mat``: 28x28 images of a
smooth curve through three random points, grey levels in [0, 1], 20,000 training and
10,000 test images. Where that file cannot be downloaded, this generator makes images of
the same kind. It is a re-creation, not the original; the choices made where the
description is silent:

- the three points are drawn uniformly from [2, 25]^2 in pixel coordinates (a two-pixel
  margin keeps them on the canvas);
- the curve is the quadratic Bezier curve that passes through the three points (the
  middle point is hit at parameter 1/2), sampled at 256 points evenly spaced in the curve
  parameter (under 0.4 pixel apart for any curve that fits on the canvas);
- ink is a Gaussian pen of standard deviation ``pen_width`` pixels:
  intensity = exp(-d^2 / (2 pen_width^2)), d the distance from a pixel centre to the curve,
  so the brightest pixels are 1 and the background 0.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

SIDE = 28
N_SAMPLES = 256


def _bezier_through(points: np.ndarray, n_samples: int) -> np.ndarray:
    """Points (n, n_samples, 2) on the quadratic curve through 3 points (n, 3, 2)."""
    p0, p1, p2 = points[:, 0], points[:, 1], points[:, 2]
    control = 2.0 * p1 - 0.5 * (p0 + p2)  # B(1/2) = p1
    s = np.linspace(0.0, 1.0, n_samples)[None, :, None]
    return (
        (1 - s) ** 2 * p0[:, None, :]
        + 2 * (1 - s) * s * control[:, None, :]
        + s**2 * p2[:, None, :]
    )


def _squared_distance_to_curve(samples: np.ndarray) -> Tensor:
    """Squared distance (n, 28, 28) from each pixel centre (row y, column x) to the nearest
    of the curve samples (n, n_samples, 2), float32.

    Separable: (x - s_x)^2 + (y - s_y)^2 from one 28-vector per axis and sample, so no
    per-pixel-and-sample difference vectors are formed (5 times faster than ``cdist``)."""
    axis = torch.arange(SIDE, dtype=torch.float32)
    s = torch.from_numpy(samples).float()
    dx2 = (s[:, :, 0, None] - axis).square()  # (n, n_samples, 28 columns)
    dy2 = (s[:, :, 1, None] - axis).square()  # (n, n_samples, 28 rows)
    return (dy2[:, :, :, None] + dx2[:, :, None, :]).amin(dim=1)


def generate_curves(n: int, seed: int, *, pen_width: float = 0.5, chunk: int = 8) -> np.ndarray:
    """``n`` CURVES-like images, shape (n, 784), float32 in [0, 1], deterministic per seed.

    Pixels are in row-major order (row = y, column = x), as ``image.reshape(28, 28)`` shows.
    """
    if n < 0:
        raise ValueError(f"generate_curves: n must be >= 0, got {n}")
    if not pen_width > 0:
        raise ValueError(f"generate_curves: pen_width must be > 0, got {pen_width}")
    rng = np.random.Generator(np.random.PCG64(seed))
    points = rng.uniform(2.0, SIDE - 3.0, size=(n, 3, 2))  # (x, y) per point
    images = np.empty((n, SIDE * SIDE), dtype=np.float32)
    for start in range(0, n, chunk):
        samples = _bezier_through(points[start : start + chunk], N_SAMPLES)
        d2 = _squared_distance_to_curve(samples)
        ink = torch.exp(d2 * (-0.5 / pen_width**2))
        images[start : start + chunk] = ink.reshape(len(samples), -1).numpy()
    return images
