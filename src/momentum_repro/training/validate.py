"""Config checks that run before any training: each error names the key, the value and what is allowed."""

from __future__ import annotations

import math

from omegaconf import DictConfig

from momentum_repro.errors import ConfigError
from momentum_repro.training.hessian_free_config import validate_hessian_free

__all__ = ["ConfigError", "validate_autoencoder", "validate_optimizer", "validate_training"]


def _positive_int(cfg: DictConfig, key: str) -> None:
    value = cfg[key.split(".")[0]][key.split(".")[1]]
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(key, value, "it must be an integer >= 1")


def validate_optimizer(cfg: DictConfig) -> None:
    """lr > 0 and finite; mu_max in [0, 1) for methods that follow the momentum schedule;
    Hessian-free settings (damping, fractions, CG iterations, phases)."""
    lr = cfg.optimizer.lr
    if not isinstance(lr, int | float) or not math.isfinite(lr) or lr <= 0:
        raise ConfigError("optimizer.lr", lr, "it must be a finite number > 0")
    if cfg.optimizer.get("momentum_schedule", False):
        mu_max = cfg.optimizer.mu_max
        if not isinstance(mu_max, int | float) or not 0.0 <= mu_max < 1.0:
            raise ConfigError("optimizer.mu_max", mu_max, "it must be in [0, 1) (0 is plain SGD)")
    if cfg.optimizer.get("kind") == "hessian_free":
        validate_hessian_free(cfg)


def validate_training(cfg: DictConfig) -> None:
    """Update counts, batch size, logging interval and the schedule's final phase."""
    for key in (
        "trainer.total_updates",
        "trainer.batch_size",
        "trainer.log_every",
        "schedule.period",
    ):
        _positive_int(cfg, key)
    final = cfg.schedule.final_phase_updates
    if not isinstance(final, int) or not 0 <= final < cfg.trainer.total_updates:
        raise ConfigError(
            "schedule.final_phase_updates",
            final,
            f"it must be an integer in [0, trainer.total_updates={cfg.trainer.total_updates})",
        )
    if not 0.0 <= cfg.schedule.final_mu < 1.0:
        raise ConfigError("schedule.final_mu", cfg.schedule.final_mu, "it must be in [0, 1)")
    if final and cfg.schedule.get("kind") == "nesterov":  # it would be silently ignored
        raise ConfigError(
            "schedule.final_phase_updates",
            final,
            f"schedule.kind={cfg.schedule.kind} has no final phase: it must be 0",
        )


def validate_autoencoder(cfg: DictConfig, data_dim: int) -> None:
    """The encoder's layer sizes must be positive integers that start at the data's dimension."""
    sizes = list(cfg.model.encoder_sizes)
    if len(sizes) < 2 or any(not isinstance(s, int) or s < 1 for s in sizes):
        raise ConfigError(
            "model.encoder_sizes", sizes, "it must list at least 2 positive integer layer sizes"
        )
    if sizes[0] != data_dim:
        raise ConfigError(
            "model.encoder_sizes",
            sizes,
            f"its first size must equal the data's {data_dim} inputs per case ({cfg.data.name})",
        )


def validate_problem(cfg: DictConfig) -> None:
    """An RNN problem needs the RNN model and schedule (experiment=rnn sets both); the
    two-moons problem its classifier (experiment=moons)."""
    if cfg.data.kind == "rnn":
        target = str(cfg.model.get("_target_", ""))
        if "rnn" not in target or cfg.schedule.get("kind") != "rnn":
            raise ConfigError(
                "data",
                cfg.data.name,
                "an RNN problem trains with model=rnn schedule=rnn: add experiment=rnn",
            )
    elif cfg.data.kind == "moons":
        if "classifier" not in str(cfg.model.get("_target_", "")):
            raise ConfigError(
                "data",
                cfg.data.name,
                "the two-moons problem trains with model=moons: add experiment=moons",
            )
    elif cfg.data.kind != "autoencoder":
        raise ConfigError("data.kind", cfg.data.kind, "it must be autoencoder, rnn or moons")
