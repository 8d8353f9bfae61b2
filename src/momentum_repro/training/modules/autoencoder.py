"""The LightningModule that wires a deep autoencoder, its objective and an optimizer.

It stays thin: the model, the optimizer and the momentum schedule are plain objects; this
module only runs the step, watches for divergence and reports the error curve.
"""

from __future__ import annotations

from torch import Tensor

from momentum_repro.models.autoencoder import DeepAutoencoder, squared_error
from momentum_repro.training.modules.base import GuardedModule, MetricSink, OptimizerFactory


class AutoencoderModule(GuardedModule):
    """Trains ``model`` on its objective; logs the paper's squared error every N updates.

    ``curve_data`` is a fixed subset of the training set on which ``train_error`` is
    measured at theta_t (never at NAG's look-ahead point) every ``log_every`` updates.
    ``snapshot_at`` asks for the full training error after that many updates (the error
    before Table 2's final phase), stored in ``snapshots``.
    """

    def __init__(
        self,
        model: DeepAutoencoder,
        optimizer_factory: OptimizerFactory,
        curve_data: Tensor,
        log_every: int = 100,
        metric_sink: MetricSink | None = None,
        snapshot_at: int | None = None,
        full_train_data: Tensor | None = None,
    ) -> None:
        super().__init__(model, optimizer_factory, log_every, metric_sink)
        self.curve_data = curve_data
        self.snapshot_at = snapshot_at
        self.full_train_data = full_train_data

    def on_fit_start(self) -> None:
        # evaluation data lives where the model does (a GPU run moves it once, here)
        self.curve_data = self.curve_data.to(self.device)
        if self.full_train_data is not None:
            self.full_train_data = self.full_train_data.to(self.device)

    def training_step(self, batch: Tensor, batch_idx: int) -> Tensor:
        optimizer = self.optimizers()

        def closure() -> Tensor:
            optimizer.zero_grad()
            loss = self.model.objective(self.model(batch), batch)
            self.manual_backward(loss)
            return loss

        return optimizer.step(closure=closure)

    def after_update(self, updates: int) -> None:
        if self.snapshot_at is not None and updates == self.snapshot_at:
            data = self.full_train_data if self.full_train_data is not None else self.curve_data
            self.snapshots["train_error_before_final_phase"] = squared_error(self.model, data)

    def log_curve(self, updates: int) -> None:
        """Log train_error at the current parameters (theta_t), and mu and lr."""
        error = squared_error(self.model, self.curve_data)
        if self.stop_if_not_finite(error, updates):
            return
        optimizer = self.trainer.optimizers[0]
        metrics = {"train_error": error, "lr": float(optimizer.param_groups[0]["lr"])}
        if hasattr(optimizer, "last_mu"):
            metrics["mu"] = float(optimizer.last_mu)
        self.report(metrics, updates)
