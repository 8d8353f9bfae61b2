"""Build the optimizer a config names: the paper's methods or any ``torch.optim.Optimizer``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch import Tensor

from momentum_repro.optim.schedule import (
    momentum_schedule,
    nesterov_schedule,
    rnn_momentum_schedule,
)
from momentum_repro.training.hessian_free_config import hessian_free_settings


def schedule_from_config(cfg: DictConfig) -> Callable[[int], float]:
    """mu_t for update t, from ``optimizer.mu_max`` and the ``schedule`` group.

    Autoencoders: eq. (5) capped at mu_max, with Table 2's final phase. RNNs
    (``schedule.kind: rnn``, section 4): 0.9 for the first updates, then mu_0 = ``mu_max``.
    ``schedule.kind: nesterov``: 1 - 3/(t + 5) capped at mu_max, with any data set.
    """
    if cfg.schedule.get("kind") == "nesterov":
        return partial(nesterov_schedule, mu_max=float(cfg.optimizer.mu_max))
    if cfg.schedule.get("kind") == "rnn":
        return partial(
            rnn_momentum_schedule,
            mu_0=float(cfg.optimizer.mu_max),
            warmup_updates=int(cfg.schedule.warmup_updates),
            warmup_mu=float(cfg.schedule.warmup_mu),
        )
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
    Hessian-free (``kind: hessian_free``) also gets its settings, and ``model=`` at build time.
    """
    factory = instantiate(cfg.optimizer.factory)
    kwargs: dict[str, object] = {"lr": float(cfg.optimizer.lr)}
    if cfg.optimizer.get("momentum_schedule", False):
        kwargs["momentum"] = schedule_from_config(cfg)
    if cfg.optimizer.get("kind") == "hessian_free":
        kwargs.update(hessian_free_settings(cfg))

    def build(params: Iterable[Tensor], **extra: object) -> torch.optim.Optimizer:
        return factory(params, **kwargs, **extra)

    return build
