"""Hessian-free training of a deep autoencoder: Martens (2010) and the hybrid of appendix A.6.

The LightningModule stays thin: one ``training_step`` is one ``HessianFree.step(data=...)``,
one parameter update, which picks its own gradient and curvature batches from the whole
training set held by the module. Lightning's data loader only counts the updates.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch import Tensor

from momentum_repro.data.sets import DataSet
from momentum_repro.models.autoencoder import DeepAutoencoder, final_errors, squared_error
from momentum_repro.optim.hessian_free import HessianFree
from momentum_repro.training.batches import evenly_spaced
from momentum_repro.training.hessian_free_config import validate_hessian_free
from momentum_repro.training.optimizers import optimizer_factory
from momentum_repro.training.trainer import (
    FitResult,
    GuardedModule,
    MetricSink,
    OptimizerFactory,
    result,
    train_for_updates,
)
from momentum_repro.training.validate import validate_autoencoder


class UpdateCounter:
    """The 'data loader' of an HF run: one item (the update's index) per parameter update."""

    def __init__(self, total_updates: int) -> None:
        self.total_updates = total_updates

    def __len__(self) -> int:
        return self.total_updates

    def __iter__(self) -> Iterator[Tensor]:
        return (torch.tensor(t) for t in range(self.total_updates))


class HessianFreeModule(GuardedModule):
    """Trains ``model`` with a :class:`HessianFree` optimizer on ``train_data``.

    Every ``log_every`` updates it reports ``train_error`` (squared error on the fixed
    ``curve_data``, at the current parameters) and the last update's ``cg_iterations``,
    ``damping`` (the lambda it used), ``lr`` and ``mu`` (its CG decay). A non-finite objective
    at the start of an update, or a non-finite curve error, stops the run as diverged.
    """

    def __init__(
        self,
        model: DeepAutoencoder,
        optimizer_factory: OptimizerFactory,
        train_data: Tensor,
        curve_data: Tensor,
        log_every: int = 100,
        metric_sink: MetricSink | None = None,
    ) -> None:
        super().__init__(model, optimizer_factory, log_every, metric_sink)
        self.train_data = train_data
        self.curve_data = curve_data
        self.hessian_free: HessianFree | None = None  # built by configure_optimizers
        self.last_stats: dict[str, Any] = {}

    def configure_optimizers(self) -> torch.optim.Optimizer:
        optimizer = self.optimizer_factory(self.model.parameters())
        if not isinstance(optimizer, HessianFree):
            raise TypeError(f"HessianFreeModule needs a HessianFree optimizer, got {optimizer!r}")
        self.hessian_free = optimizer
        return optimizer

    def on_train_start(self) -> None:
        self.train_data = self.train_data.to(self.device)
        self.curve_data = self.curve_data.to(self.device)
        self.log_curve(0)

    def training_step(self, batch: Tensor, batch_idx: int) -> None:
        self.last_stats = self.optimizers().step(data=self.train_data)

    def on_train_batch_end(self, outputs: object, batch: Tensor, batch_idx: int) -> None:
        updates = self.trainer.global_step
        if self.stop_if_not_finite(self.last_stats["loss"], updates):
            return
        if updates % self.log_every == 0:
            self.log_curve(updates)

    def log_curve(self, updates: int) -> None:
        """train_error at the current parameters, and the settings of the last update."""
        error = squared_error(self.model, self.curve_data)
        if self.stop_if_not_finite(error, updates):
            return
        metrics = {"train_error": error}
        if self.last_stats:
            s = self.last_stats
            metrics |= {"cg_iterations": s["cg_iterations"], "damping": s["damping"]}
            metrics |= {"lr": s["lr"], "mu": s["cg_decay"]}
        elif self.hessian_free is not None:  # before the first update: what it will use
            first = self.hessian_free.settings(0)
            metrics |= {"damping": self.hessian_free.damping, "lr": first.lr, "mu": first.cg_decay}
        self.report({k: float(v) for k, v in metrics.items()}, updates)


def fit_hessian_free(
    cfg: DictConfig, data: DataSet, metric_sink: MetricSink | None = None
) -> FitResult:
    """Train the configured autoencoder with HF for ``trainer.total_updates`` updates.

    Same result as ``fit_autoencoder`` (``final_train_error``, ``final_test_error``), plus
    ``total_cg_iterations``.
    """
    validate_autoencoder(cfg, data.dim)
    validate_hessian_free(cfg)
    torch.manual_seed(cfg.seed)
    dtype = getattr(torch, cfg.trainer.precision)
    train = torch.from_numpy(np.array(data.train)).to(dtype)
    test = torch.from_numpy(np.array(data.test)).to(dtype)
    model = instantiate(cfg.model, seed=cfg.seed).to(dtype)
    build = optimizer_factory(cfg)
    total = int(cfg.trainer.total_updates)
    module = HessianFreeModule(
        model,
        lambda params: build(params, model=model),
        train_data=train,
        curve_data=evenly_spaced(train, int(cfg.trainer.curve_cases)),
        # HF runs far fewer updates than first-order runs: at least 20 points on the curve
        log_every=max(1, min(int(cfg.trainer.log_every), total // 20)),
        metric_sink=metric_sink,
    )
    updates, seconds = train_for_updates(cfg, module, UpdateCounter(total))
    return result(
        module,
        updates,
        seconds,
        lambda: {
            **final_errors(model, train, test),
            "total_cg_iterations": float(module.hessian_free.total_cg_iterations),
        },
    )
