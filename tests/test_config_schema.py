"""Structured configs: Hydra itself refuses unknown keys and wrong types, naming the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra.errors import ConfigCompositionException

from conftest import compose_config


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("trainer.batch_sise=100", "Key 'batch_sise' not in 'TrainerConfig'"),
        ("trainer.batch_size=abc", "could not be converted to Integer"),
        ("trainer.precision=float16", "expected one of [float32, float64]"),
        ("trainer.flush_denormal=maybe", "is not a valid bool"),
        ("optimizer.mu_max=high", "could not be converted to Float"),
        ("optimizer.momentum=0.9", "Key 'momentum' not in 'MomentumOptimizerConfig'"),
        ("optimizer=hf optimizer.damping=lots", "could not be converted to Float"),
        ("optimizer=hf optimizer.cg_iters=10", "Key 'cg_iters' not in 'HessianFreeConfig'"),
    ],
)
def test_bad_keys_and_types_fail_composition_naming_the_key(override: str, message: str) -> None:
    with pytest.raises(ConfigCompositionException) as error:
        compose_config(override.split())
    text = str(error.value) + str(error.value.__cause__)
    assert message in text, text


def test_good_values_are_typed() -> None:
    cfg = compose_config(["trainer.precision=float64", "optimizer.lr=1e-3", "optimizer=cm"])
    assert getattr(torch, cfg.trainer.precision) is torch.float64
    assert isinstance(cfg.optimizer.lr, float) and cfg.optimizer.momentum_schedule is True


def test_a_users_optimizer_has_no_schema_and_keeps_its_keys() -> None:
    cfg = compose_config(["optimizer=adam", "+optimizer.factory.amsgrad=true"])
    assert cfg.optimizer.factory.amsgrad is True


def test_the_schemas_are_not_options_a_user_can_pick() -> None:
    """`train.py --help` lists the groups a user composes from; the schemas are not among them."""
    root = Path(__file__).resolve().parents[1]
    help_text = subprocess.run(
        [sys.executable, str(root / "pipelines" / "train.py"), "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
    ).stdout
    groups = help_text.split("== Configuration groups ==")[1].split("== Config ==")[0]
    listed = [line.split(":")[0] for line in groups.splitlines() if ": " in line]
    assert "optimizer" in listed and "trainer" in listed, groups
    assert "schema" not in groups.lower(), groups
