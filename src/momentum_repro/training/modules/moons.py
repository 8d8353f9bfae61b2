"""The LightningModule of the study notes' worked example: a small classifier on two moons.

Each update is one minibatch of the cross-entropy; the cost and the accuracy on the whole
training set are measured at theta_t in ``log_curve``, which the shared ``CurveLogger``
callback calls every N updates (the ``DivergenceGuard`` watches the loss).
"""

from __future__ import annotations

import torch
from torch import Tensor

from momentum_repro.models.classifier import FeedForwardClassifier, accuracy, cross_entropy
from momentum_repro.training.modules.base import GuardedModule, MetricSink, OptimizerFactory


class MoonsModule(GuardedModule):
    """Trains ``model`` on minibatches of (points, labels); logs ``train_cost`` (mean
    cross-entropy over all ``points``) and ``train_accuracy`` every ``log_every`` updates."""

    def __init__(
        self,
        model: FeedForwardClassifier,
        optimizer_factory: OptimizerFactory,
        points: Tensor,
        labels: Tensor,
        log_every: int = 500,
        metric_sink: MetricSink | None = None,
    ) -> None:
        super().__init__(model, optimizer_factory, log_every, metric_sink)
        self.points = points
        self.labels = labels

    def on_fit_start(self) -> None:
        # evaluation data lives where the model does (a GPU run moves it once, here)
        self.points, self.labels = self.points.to(self.device), self.labels.to(self.device)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        points, labels = batch
        optimizer = self.optimizers()

        def closure() -> Tensor:
            optimizer.zero_grad()
            loss = cross_entropy(self.model(points), labels)
            self.manual_backward(loss)
            return loss

        return optimizer.step(closure=closure)

    @torch.no_grad()
    def log_curve(self, updates: int) -> None:
        """train_cost and train_accuracy on the whole training set, at theta_t; lr and mu."""
        cost = float(cross_entropy(self.model(self.points), self.labels))
        if self.stop_if_not_finite(cost, updates):
            return
        optimizer = self.trainer.optimizers[0]
        metrics = {
            "train_cost": cost,
            "train_accuracy": accuracy(self.model, self.points, self.labels),
            "lr": float(optimizer.param_groups[0]["lr"]),
        }
        if hasattr(optimizer, "last_mu"):
            metrics["mu"] = float(optimizer.last_mu)
        self.report(metrics, updates)
