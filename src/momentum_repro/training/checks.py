"""The checks a config must pass before anything trains or is logged, in one place.

Hydra checks what a type says (structured configs, ``training/config.py``: an unknown key, a
string for a number); this module checks what a type cannot say, each rule once, and each
error names the key, the value and what is allowed. What only a workload can check (the
model fits the data; the problem's model and schedule) is its own ``prepare``.
"""

from __future__ import annotations

import math
from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import get_object, instantiate
from omegaconf import DictConfig, OmegaConf

from momentum_repro.errors import ConfigError
from momentum_repro.training.hessian_free_config import validate_hessian_free

FINITE_POSITIVE = "it must be a finite number > 0"


def is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _positive_int(cfg: DictConfig, key: str) -> None:
    section, name = key.split(".")
    value = cfg[section][name]
    if not is_count(value) or value < 1:
        raise ConfigError(key, value, "it must be an integer >= 1")


def check_optimizer(cfg: DictConfig) -> None:
    """lr > 0 and finite; mu_max in [0, 1) for methods that follow the momentum schedule;
    Hessian-free's settings (damping, fractions, CG iterations, phases)."""
    from momentum_repro.training.optimizers import builds_hessian_free

    lr = cfg.optimizer.lr
    if not isinstance(lr, int | float) or not math.isfinite(lr) or lr <= 0:
        raise ConfigError("optimizer.lr", lr, FINITE_POSITIVE)
    if cfg.optimizer.get("momentum_schedule", False):
        mu_max = cfg.optimizer.mu_max
        if not isinstance(mu_max, int | float) or not 0.0 <= mu_max < 1.0:
            raise ConfigError("optimizer.mu_max", mu_max, "it must be in [0, 1) (0 is plain SGD)")
    if builds_hessian_free(cfg):
        validate_hessian_free(cfg)


def check_training(cfg: DictConfig) -> None:
    """Update counts, batch size, logging interval and the schedule's final phase."""
    for key in ("trainer.total_updates", "trainer.batch_size", "trainer.log_every"):
        _positive_int(cfg, key)
    threads = cfg.trainer.threads
    if threads != "auto" and not (is_count(threads) and threads >= 1):
        raise ConfigError("trainer.threads", threads, "it must be an integer >= 1 or auto")
    progress_bar = cfg.trainer.progress_bar
    if progress_bar != "auto" and not isinstance(progress_bar, bool):
        raise ConfigError("trainer.progress_bar", progress_bar, "it must be true, false or auto")
    schedule = cfg.schedule
    if "period" in schedule:
        _positive_int(cfg, "schedule.period")
    final = schedule.get("final_phase_updates", 0)
    if not is_count(final) or not 0 <= final < cfg.trainer.total_updates:
        raise ConfigError(
            "schedule.final_phase_updates",
            final,
            f"it must be an integer in [0, trainer.total_updates={cfg.trainer.total_updates})",
        )
    final_mu = schedule.get("final_mu", 0.0)
    if not isinstance(final_mu, int | float) or not 0.0 <= final_mu < 1.0:
        raise ConfigError("schedule.final_mu", final_mu, "it must be in [0, 1)")


def check_schedule(cfg: DictConfig) -> None:
    """The schedule the config names builds with its settings (a schedule with no final
    phase refuses one, rather than silently ignoring it)."""
    if not cfg.optimizer.get("momentum_schedule", False):
        return
    try:
        instantiate(cfg.schedule)
    except InstantiationException as error:
        cause = error.__cause__ or error
        raise ConfigError(
            "schedule", cfg.schedule.get("_target_"), f"it cannot take these settings ({cause})"
        ) from None


# the config nodes built by ``_target_``: what each builds, for the error a misspelling gives
TARGETS = {
    "optimizer.factory": "the optimizer (a torch.optim.Optimizer, e.g. torch.optim.RMSprop)",
    "model": "the model",
    "data": "the workload (momentum_repro.workloads)",
    "schedule": "the momentum schedule (momentum_repro.optim)",
}


def check_targets(cfg: DictConfig) -> None:
    """Every ``_target_`` names something that exists: a misspelt class is one line before
    anything is trained or logged, not an error of the run."""
    for node, what in TARGETS.items():
        target = OmegaConf.select(cfg, f"{node}._target_")
        if target is None:
            continue
        try:
            get_object(str(target))
        except Exception:
            raise ConfigError(
                f"{node}._target_", target, f"it names no class or function: {what}"
            ) from None


def check_config(cfg: DictConfig) -> None:
    """The checks that need no data: before the training code is even imported."""
    check_targets(cfg)
    check_optimizer(cfg)


def check_run(cfg: DictConfig) -> None:
    """Every check of a run's config (after its workload filled in what it derives)."""
    check_config(cfg)
    check_training(cfg)
    check_schedule(cfg)
