"""Build the optimizer a config names: the paper's methods or any ``torch.optim.Optimizer``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch import Tensor

from momentum_repro.optim.schedule import momentum_schedule


def schedule_from_config(cfg: DictConfig) -> Callable[[int], float]:
    """mu_t for update t, from ``optimizer.mu_max`` and the ``schedule`` group (eq. 5, Table 2)."""
    return partial(
        momentum_schedule,
        mu_max=float(cfg.optimizer.mu_max),
        period=int(cfg.schedule.period),
        total_updates=int(cfg.trainer.total_updates),
        final_phase_updates=int(cfg.schedule.final_phase_updates),
        final_mu=float(cfg.schedule.final_mu),
    )


def optimizer_factory(cfg: DictConfig) -> Callable[[Iterable[Tensor]], torch.optim.Optimizer]:
    """``params -> optimizer`` from ``optimizer.factory`` (a ``_partial_`` target).

    Methods with ``momentum_schedule: true`` (SGD, CM, NAG) get ``momentum=`` the schedule;
    every optimizer gets ``lr=optimizer.lr``. A user's optimizer needs nothing else.
    """
    factory = instantiate(cfg.optimizer.factory)
    kwargs: dict[str, object] = {"lr": float(cfg.optimizer.lr)}
    if cfg.optimizer.get("momentum_schedule", False):
        kwargs["momentum"] = schedule_from_config(cfg)

    def build(params: Iterable[Tensor]) -> torch.optim.Optimizer:
        return factory(params, **kwargs)

    return build
