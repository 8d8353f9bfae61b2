"""The DVC sweep stage's plan: one multirun per sweep, as a union of grids whose jobs are
exactly the paper's grid (SGD over lr; CM and NAG over mu_max x lr)."""

from __future__ import annotations

import pytest

from momentum_repro.grids import expand_grids
from momentum_repro.training.sweep import multirun_overrides, sweep_grids, swept_over_mu_max

CURVES = {"data": "curves", "model": "curves", "methods": ["sgd", "cm", "nag"]}


def jobs(sweep: dict) -> set[tuple[str, ...]]:
    """(optimizer, mu_max or '-', lr) of every job the plan's multirun runs."""
    overrides = multirun_overrides("s", sweep, "quick", "basic")
    grids_arg = next(o for o in overrides if o.startswith("hydra.sweeper.grids="))
    common = [o for o in overrides if not o.startswith(("hydra/", "hydra."))]
    out = set()
    for job in expand_grids(common, sweep_grids(sweep)):
        values = dict(o.split("=", 1) for o in job)
        out.add((values["optimizer"], values.get("optimizer.mu_max", "-"), values["optimizer.lr"]))
    assert grids_arg.count("[") == len(sweep_grids(sweep)) + 1
    return out


def test_the_flag_in_the_optimizer_config_says_what_is_swept_over_mu_max() -> None:
    assert [swept_over_mu_max(m) for m in ("cm", "nag")] == [True, True]
    assert [swept_over_mu_max(m) for m in ("sgd", "biases", "hf", "hf_momentum", "adam")] == [
        False
    ] * 5
    with pytest.raises(ValueError, match="unknown method 'rmsprop'"):
        swept_over_mu_max("rmsprop")


def test_sgd_runs_once_per_lr_and_momentum_methods_per_mu_max_and_lr() -> None:
    sweep = {**CURVES, "mu_max": [0.9, 0.99], "lr": [0.01, 0.005]}
    expected = {("sgd", "-", lr) for lr in ("0.01", "0.005")}
    expected |= {
        (m, mu, lr) for m in ("cm", "nag") for mu in ("0.9", "0.99") for lr in ("0.01", "0.005")
    }
    assert jobs(sweep) == expected  # 10 jobs, no SGD crossed with mu_max


def test_a_users_optimizer_is_swept_over_lr_only() -> None:
    sweep = {**CURVES, "methods": ["adam", "nag"], "mu_max": [0.9, 0.99], "lr": [0.001]}
    assert jobs(sweep) == {
        ("adam", "-", "0.001"),
        ("nag", "0.9", "0.001"),
        ("nag", "0.99", "0.001"),
    }


def test_mu_zero_runs_with_one_method_only() -> None:
    sweep = {
        "experiment": "rnn",
        "data": ["addition"],
        "methods": ["biases", "cm", "nag"],
        "mu_max": [0, 0.9, 0.995],
        "mu_zero_method": "nag",
        "lr": [0.01],
    }
    assert jobs(sweep) == {
        ("biases", "-", "0.01"),
        ("nag", "0", "0.01"),
        *{(m, mu, "0.01") for m in ("cm", "nag") for mu in ("0.9", "0.995")},
    }
    with pytest.raises(ValueError, match="mu_zero_method='sgd'"):
        sweep_grids({**sweep, "mu_zero_method": "sgd"})
