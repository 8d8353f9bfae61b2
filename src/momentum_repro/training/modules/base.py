"""The base every training module shares (``GuardedModule``) and the types it is built from."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import pytorch_lightning as pl
import torch
from torch import Tensor

OptimizerFactory = Callable[[Iterable[Tensor]], torch.optim.Optimizer]
MetricSink = Callable[[dict[str, float], int], None]


class GuardedModule(pl.LightningModule):
    """What every training module shares: a model, an optimizer factory, a metric sink,
    manual optimization (each optimizer's own ``step(closure)``; NAG needs the closure at its
    look-ahead point), and a stop at the first non-finite loss or error. A module returns its
    loss from ``training_step`` and measures its curves in ``log_curve``; the callbacks of
    ``training/callbacks.py`` (guard, curve logger, progress) call them."""

    def __init__(
        self,
        model: torch.nn.Module,
        optimizer_factory: OptimizerFactory,
        log_every: int = 100,
        metric_sink: MetricSink | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.optimizer_factory = optimizer_factory
        self.log_every = log_every
        self.metric_sink = metric_sink
        self.diverged_at: int | None = None
        self.latest_metrics: dict[str, float] = {}  # the last curve point (for progress lines)
        self.snapshots: dict[str, float] = {}  # errors measured once during the run
        self.automatic_optimization = False

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer_factory(self.model.parameters())

    def log_curve(self, updates: int) -> None:
        """Measure and ``report`` the curves at the current parameters (theta_t)."""

    def after_update(self, updates: int) -> None:
        """Called after every update that did not diverge (before any curve point)."""

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["momentum_repro"] = {
            "snapshots": self.snapshots,
            "latest_metrics": self.latest_metrics,
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        saved = checkpoint.get("momentum_repro", {})
        self.snapshots = dict(saved.get("snapshots", {}))
        self.latest_metrics = dict(saved.get("latest_metrics", {}))

    def report(self, metrics: dict[str, float], updates: int) -> None:
        """One point of the run's curves: kept for progress lines, sent to the metric sink."""
        self.latest_metrics = metrics
        if self.metric_sink is not None:
            self.metric_sink(metrics, updates)

    def stop_if_not_finite(self, value: float | Tensor | None, updates: int) -> bool:
        """Stop the run (recording where) when ``value`` is NaN or infinite; True if stopped."""
        finite = value is not None and math.isfinite(float(value))
        if not finite:
            self.diverged_at = updates
            self.trainer.should_stop = True
        return not finite
