"""Build the autoencoder sets named in ``params.yaml`` into ``data/sets/<name>/``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import yaml

from momentum_repro.data.curves import generate_curves
from momentum_repro.data.sets import save_set

log = logging.getLogger(__name__)


def read_params(params_path: str | Path, section: str) -> dict[str, Any]:
    """One section of the DVC params file, with an error naming it if absent."""
    params = yaml.safe_load(Path(params_path).read_text()) or {}
    try:
        return dict(params["data"][section])
    except (KeyError, TypeError):
        raise KeyError(f"{params_path} has no data.{section} section") from None


def build_curves(params: dict[str, Any]) -> Path:
    """CURVES from the generator (a re-creation; see ``momentum_repro.data.curves``)."""
    n_train, n_test, seed = int(params["n_train"]), int(params["n_test"]), int(params["seed"])
    images = generate_curves(n_train + n_test, seed)
    meta = {"name": "curves", "source": "rebuilt", "generator_seed": seed, "inputs": {}}
    return save_set(params["out"], images[:n_train], images[n_train:], meta)


BUILDERS = {"curves": build_curves}


def build_set(name: str, params_path: str | Path = "params.yaml") -> Path:
    if name not in BUILDERS:
        raise ValueError(f"unknown data set {name!r}; choose one of {sorted(BUILDERS)}")
    path = BUILDERS[name](read_params(params_path, name))
    log.info("built %s at %s", name, path)
    print(f"built {name} at {path}")
    return path
