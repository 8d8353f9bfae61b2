"""Which runs can be population members, which can share a population, and each member's
optimizer settings, read from the solo optimizer its config builds."""

from __future__ import annotations

import json
from dataclasses import dataclass

import torch
from omegaconf import DictConfig, OmegaConf

from momentum_repro.optim.momentum import ClassicalMomentum, Nesterov
from momentum_repro.tracking.mlflow_tracking import flatten
from momentum_repro.training.optimizers import optimizer_factory
from momentum_repro.training.population.momentum import MomentumSchedule
from momentum_repro.workloads import workload_for

# Keys in which the members of one population may differ: the optimizer (method, lr, mu_max,
# its schedule and final phase), the seed (init and minibatches) and the initialization's
# scales. Every other key (data, architecture, trainer, update count, profile) is shared.
MEMBER_KEYS = (
    "optimizer.",
    "schedule.",
    "tune.",
    "model.init_",
    "model.input_scale",
    "model.spectral_radius",
    "model.output_scale",
    "model.fan_in",
    "trainer.run_checkpoints",
)


@dataclass(frozen=True)
class MemberOptimizer:
    """A member's update rule: its solo optimizer's lr, mu_t and method."""

    lr: float
    schedule: MomentumSchedule
    nesterov: bool


def member_optimizer(cfg: DictConfig) -> MemberOptimizer:
    """Built by the solo run's own factory, so mu_t is the solo run's (``optimizer.mu(t)``)."""
    optimizer = optimizer_factory(cfg)([torch.zeros(1, requires_grad=True)])
    if type(optimizer) not in (ClassicalMomentum, Nesterov):
        raise ValueError(f"{type(optimizer).__name__} has no population form")
    lr = float(optimizer.param_groups[0]["lr"])
    return MemberOptimizer(lr, optimizer.mu, isinstance(optimizer, Nesterov))


CLASSICAL_MOMENTUM = "momentum_repro.optim.ClassicalMomentum"  # CM, and SGD (mu = 0)
NESTEROV = "momentum_repro.optim.Nesterov"


def _factory_target(cfg: DictConfig) -> str:
    return str(cfg.optimizer.get("factory", {}).get("_target_", ""))


def is_nesterov(cfg: DictConfig) -> bool:
    """Whether a member's config builds NAG (read from the config: nothing is built)."""
    return _factory_target(cfg) == NESTEROV


def solo_only_reason(cfg: DictConfig) -> str | None:
    """Why a run must be trained alone (None: it can be a population member)."""
    refusal = workload_for(cfg).population_refusal()
    if refusal is not None:
        return refusal
    if cfg.trainer.get("clip_grad_norm") is not None:
        return "gradient clipping (trainer.clip_grad_norm) is per run"
    target = _factory_target(cfg)
    if target not in (CLASSICAL_MOMENTUM, NESTEROV):
        return (
            f"optimizer {target or cfg.optimizer.name!r} has no population form (CM, NAG, SGD do)"
        )
    return None


def population_group(cfg: DictConfig) -> str:
    """Runs with the same group can share a population: everything but ``MEMBER_KEYS`` and
    the seed agrees (data, architecture, trainer, update count, profile)."""
    resolved = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(resolved, dict)
    shared = {
        k: v for k, v in flatten(resolved).items() if k != "seed" and not k.startswith(MEMBER_KEYS)
    }
    return json.dumps(shared, sort_keys=True)
