"""Read variables from MATLAB ``.mat`` files (v4/v5/v7 through scipy.io).

MATLAB v7.3 files are HDF5 containers that scipy cannot read; h5py is not a dependency of this
project, so they get a clear error instead of a fallback.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.io
from scipy.io.matlab import matfile_version


class MatFileError(ValueError):
    """A ``.mat`` file that cannot be read or lacks a variable we need."""


def mat_version(path: str | Path) -> tuple[int, int]:
    """Return the MAT-file version as scipy reports it: (0, x) v4, (1, x) v5/v7, (2, 0) v7.3."""
    try:
        with open(path, "rb") as f:
            return matfile_version(f)
    except (ValueError, OSError) as err:
        raise MatFileError(f"{path}: not a MATLAB .mat file ({err})") from err


def read_mat(path: str | Path, keys: Sequence[str]) -> dict[str, np.ndarray]:
    """Load the variables ``keys`` from ``path``; raise MatFileError naming any that are missing."""
    path = Path(path)
    if mat_version(path)[0] == 2:
        raise MatFileError(
            f"{path} is a MATLAB v7.3 (HDF5) file; scipy.io cannot read it and h5py is not "
            "installed. Re-save it in MATLAB with save(..., '-v7') or install h5py and convert it."
        )
    data = scipy.io.loadmat(path, variable_names=list(keys))
    missing = [k for k in keys if k not in data]
    if missing:
        found = [name for name, _, _ in scipy.io.whosmat(path)]
        raise MatFileError(f"{path}: missing variable(s) {missing}; the file holds {found}")
    return {k: data[k] for k in keys}


def mat_variables(path: str | Path) -> dict[str, tuple[int, ...]]:
    """Return ``{name: shape}`` of the variables in a v4/v5/v7 file (v7.3: an empty dict)."""
    if mat_version(path)[0] == 2:
        return {}
    return {name: tuple(shape) for name, shape, _ in scipy.io.whosmat(path)}
