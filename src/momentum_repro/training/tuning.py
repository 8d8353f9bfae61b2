"""Hyperparameter searches (``hydra/sweeper=tpe``, Optuna): the search space and the objective.

AlgoPerf's rule for comparing optimizers is equal tuning effort: every method gets the
same trial budget over its own hyperparameters. Here that is log(lr) for every method and
also log(1 - mu_max) for the methods that follow the momentum schedule (CM, NAG), searched
as ``tune.momentum_gap`` = 1 - mu_max and turned into ``optimizer.mu_max`` before the run.
"""

from __future__ import annotations

import math
from typing import Any

from omegaconf import DictConfig, open_dict

GAP_RANGE = (1e-3, 0.5)  # mu_max from 0.5 to 0.999, the paper's range


def momentum_search_space(cfg: DictConfig, trial: Any) -> None:
    """Optuna's custom search space: log(1 - mu_max) for schedule-following methods."""
    if cfg.optimizer.get("momentum_schedule", False):
        trial.suggest_float("tune.momentum_gap", *GAP_RANGE, log=True)


def apply_momentum_gap(cfg: DictConfig) -> DictConfig:
    """``optimizer.mu_max = 1 - tune.momentum_gap`` when a search set the gap."""
    gap = cfg.get("tune", {}).get("momentum_gap")
    if gap is not None:
        with open_dict(cfg):
            cfg.optimizer.mu_max = round(1.0 - float(gap), 12)
    return cfg


def objective(cfg: DictConfig, outcome: dict[str, Any]) -> float:
    """The value a sweeper minimises: the workload's final metric (the autoencoders' final
    training error, the RNNs' final zero-one loss); +inf for a diverged or failed run, so a
    search learns to avoid it."""
    from momentum_repro.workloads import workload_for

    value = outcome.get(workload_for(cfg).final_metric)
    if outcome.get("diverged") or value is None or not math.isfinite(float(value)):
        return math.inf
    return float(value)
