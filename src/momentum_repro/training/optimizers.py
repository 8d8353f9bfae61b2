"""Build the optimizer a config names: the paper's methods or any ``torch.optim.Optimizer``."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch import Tensor

from momentum_repro.training.hessian_free_config import HESSIAN_FREE_FACTORY, hessian_free_settings

Schedule = Callable[[int], float]


def momentum_schedule_of(cfg: DictConfig) -> Schedule:
    """mu_t for update t: the ``schedule`` the config names by ``_target_`` (eq. 5 with
    Table 2's final phase, the RNN experiments' warm-up, Nesterov's), its mu_max the
    optimizer's (``conf/schedule/``)."""
    return instantiate(cfg.schedule)


def builds_hessian_free(cfg: DictConfig) -> bool:
    """Whether the optimizer config builds Hessian-free (its factory is HF's)."""
    return str(cfg.optimizer.get("factory", {}).get("_target_", "")) == HESSIAN_FREE_FACTORY


def optimizer_factory(cfg: DictConfig) -> Callable[[Iterable[Tensor]], torch.optim.Optimizer]:
    """``params -> optimizer`` from ``optimizer.factory`` (a ``_partial_`` target).

    Methods with ``momentum_schedule: true`` (CM, NAG) get ``momentum=`` the schedule;
    every optimizer gets ``lr=optimizer.lr``. A user's optimizer needs nothing else.
    Hessian-free also gets its settings, and ``model=`` at build time.
    """
    factory = instantiate(cfg.optimizer.factory)
    kwargs: dict[str, object] = {"lr": float(cfg.optimizer.lr)}
    if cfg.optimizer.get("momentum_schedule", False):
        kwargs["momentum"] = momentum_schedule_of(cfg)
    if builds_hessian_free(cfg):
        kwargs.update(hessian_free_settings(cfg))

    def build(params: Iterable[Tensor], **extra: object) -> torch.optim.Optimizer:
        return factory(params, **kwargs, **extra)

    return build
