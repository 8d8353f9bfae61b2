"""A trained classifier's decision boundary as a value: its probabilities on a grid over the
data, with the data. NumPy only, so the report draws it without torch.

A moons run stores one as the MLflow artifact ``decision_boundary.npz`` (docs/CONVENTIONS.md;
``workloads/moons.py`` draws it); the report reads it back with :func:`load_boundary`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

ARTIFACT = "decision_boundary.npz"
FIELDS = ("points", "labels", "grid_x", "grid_y", "probability")


@dataclass(frozen=True)
class DecisionBoundary:
    """P(label 1) on the grid ``grid_y`` x ``grid_x`` (rows follow y), and the training data."""

    points: np.ndarray  # (n, 2)
    labels: np.ndarray  # (n,)
    grid_x: np.ndarray  # (nx,)
    grid_y: np.ndarray  # (ny,)
    probability: np.ndarray  # (ny, nx)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        np.savez_compressed(path, **{name: getattr(self, name) for name in FIELDS})
        return path


def grid_around(
    points: np.ndarray, step: float = 0.02, margin: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """(grid_x, grid_y): every ``step`` over the points' bounding box widened by ``margin``."""
    lo, hi = points.min(axis=0) - margin, points.max(axis=0) + margin
    return (
        np.arange(lo[0], hi[0] + step / 2, step),
        np.arange(lo[1], hi[1] + step / 2, step),
    )


def load_boundary(path: str | Path) -> DecisionBoundary:
    """Read a boundary written by :meth:`DecisionBoundary.save`."""
    with np.load(path) as arrays:
        missing = [name for name in FIELDS if name not in arrays]
        if missing:
            raise ValueError(f"{path} is not a decision boundary: it lacks {missing}")
        return DecisionBoundary(**{name: arrays[name] for name in FIELDS})
