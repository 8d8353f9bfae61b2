"""The config a ``pipelines/train.py`` run composes, without the training code (so a test's
subprocess can compose in a second, without importing torch and Lightning)."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from momentum_repro.training import config  # noqa: F401  registers the config schemas

CONF = Path(__file__).resolve().parents[1] / "conf"


def compose_config(overrides: list[str], *, with_hydra: bool = False) -> DictConfig:
    """The config a ``pipelines/train.py`` run with these overrides would get (``with_hydra``:
    also the ``hydra`` node, e.g. an experiment's sweeper grid)."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="config", overrides=overrides, return_hydra_config=with_hydra)
