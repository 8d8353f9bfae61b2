"""The LightningModule of every first-order run: it wires a workload's run (``workloads/``)
to an optimizer, and stays thin.

One update is ``optimizer.step(closure)``: the closure zeroes the gradients, computes the
workload's objective on the minibatch and back-propagates (NAG calls it at its look-ahead
point); the workload's curves are measured at theta_t every N updates (``log_curve``,
called by the shared ``CurveLogger``), and its snapshot once (Table 2's error before the
final phase).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from momentum_repro.training.modules.base import GuardedModule, MetricSink, OptimizerFactory
from momentum_repro.workloads.base import Run


class WorkloadModule(GuardedModule):
    """Trains a workload's :class:`Run` with the optimizer the factory builds."""

    def __init__(
        self,
        run: Run,
        optimizer_factory: OptimizerFactory,
        log_every: int = 100,
        metric_sink: MetricSink | None = None,
        clip_grad_norm: float | None = None,
    ) -> None:
        super().__init__(run.model, optimizer_factory, log_every, metric_sink)
        self.run = run
        self.clip_grad_norm = clip_grad_norm

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer_factory(self.run.parameters())

    def on_fit_start(self) -> None:
        self.run.to_device(self.device)

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        optimizer = self.optimizers()

        def closure() -> Tensor:
            optimizer.zero_grad()
            loss = self.run.objective(batch)
            self.manual_backward(loss)
            if self.clip_grad_norm is not None:  # off by default: the paper mentions none
                torch.nn.utils.clip_grad_norm_(self.run.parameters(), self.clip_grad_norm)
            return loss

        return optimizer.step(closure=closure)

    def after_update(self, updates: int) -> None:
        if self.run.snapshot_at is not None and updates == self.run.snapshot_at:
            self.snapshots.update(self.run.snapshot())

    def log_curve(self, updates: int) -> None:
        """The workload's curves at the current parameters (theta_t), and lr and mu."""
        metrics = self.run.curve()
        finite = all(math.isfinite(v) for v in metrics.values())
        if self.stop_if_not_finite(0.0 if finite else math.nan, updates):
            return
        optimizer = self.trainer.optimizers[0]
        metrics["lr"] = float(optimizer.param_groups[0]["lr"])
        if hasattr(optimizer, "last_mu"):
            metrics["mu"] = float(optimizer.last_mu)
        self.report(metrics, updates)
