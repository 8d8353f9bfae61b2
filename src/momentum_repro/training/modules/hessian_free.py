"""Hessian-free training of a deep autoencoder: Martens (2010) and the hybrid of appendix A.6.

The LightningModule stays thin: one ``training_step`` is one ``HessianFree.step(data=...)``,
one parameter update, which picks its own gradient and curvature batches from the whole
training set of the workload's run (``Run.hessian_free_data``). Lightning's data loader only
counts the updates.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor

from momentum_repro.optim.hessian_free import HessianFree
from momentum_repro.training.modules.base import GuardedModule, MetricSink, OptimizerFactory
from momentum_repro.workloads.base import Run


class UpdateCounter:
    """The 'data loader' of an HF run: one item (the update's index) per parameter update."""

    def __init__(self, total_updates: int) -> None:
        self.total_updates = total_updates
        self.start = 0

    def __len__(self) -> int:
        return self.total_updates

    def skip(self, updates: int) -> None:
        """Continue at update ``updates`` (a resumed run)."""
        self.start = updates

    def __iter__(self) -> Iterator[Tensor]:
        return (torch.tensor(t) for t in range(self.start, self.total_updates))


class HessianFreeModule(GuardedModule):
    """Trains a run's model with a :class:`HessianFree` optimizer on its whole training set.

    Every ``log_every`` updates it reports the run's curve (``train_error``, at the current
    parameters) and the last update's ``cg_iterations``, ``damping`` (the lambda it used),
    ``lr`` and ``mu`` (its CG decay). A non-finite objective at the start of an update, or a
    non-finite curve error, stops the run as diverged.
    """

    def __init__(
        self,
        run: Run,
        optimizer_factory: OptimizerFactory,
        log_every: int = 100,
        metric_sink: MetricSink | None = None,
    ) -> None:
        super().__init__(run.model, optimizer_factory, log_every, metric_sink)
        if run.hessian_free_data is None:
            raise ValueError("Hessian-free trains the deep autoencoders only")
        self.run = run
        self.train_data = run.hessian_free_data
        self.hessian_free: HessianFree | None = None  # built by configure_optimizers
        self.last_stats: dict[str, Any] = {}

    def configure_optimizers(self) -> torch.optim.Optimizer:
        optimizer = self.optimizer_factory(self.model.parameters())
        if not isinstance(optimizer, HessianFree):
            raise TypeError(f"HessianFreeModule needs a HessianFree optimizer, got {optimizer!r}")
        self.hessian_free = optimizer
        return optimizer

    def on_fit_start(self) -> None:
        self.train_data = self.train_data.to(self.device)
        self.run.to_device(self.device)

    def training_step(self, batch: Tensor, batch_idx: int) -> Tensor:
        """One HF update; its loss (at the start of the update) for the divergence guard."""
        self.last_stats = self.optimizers().step(data=self.train_data)
        return torch.as_tensor(float(self.last_stats["loss"]))

    def log_curve(self, updates: int) -> None:
        """train_error at the current parameters, and the settings of the last update."""
        metrics = self.run.curve()
        if self.stop_if_not_finite(metrics["train_error"], updates):
            return
        if self.last_stats:
            s = self.last_stats
            metrics |= {"cg_iterations": s["cg_iterations"], "damping": s["damping"]}
            metrics |= {"lr": s["lr"], "mu": s["cg_decay"]}
        elif self.hessian_free is not None:  # before the first update: what it will use
            first = self.hessian_free.settings(0)
            metrics |= {"damping": self.hessian_free.damping, "lr": first.lr, "mu": first.cg_decay}
        self.report({k: float(v) for k, v in metrics.items()}, updates)
