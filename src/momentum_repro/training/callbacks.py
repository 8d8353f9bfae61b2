"""Lightning callbacks every training module shares, solo runs and populations alike.

- ``DivergenceGuard``: a NaN or infinite loss stops the run, recorded as diverged (a result
  of the sweep, never a crash of it); a population freezes the member instead.
- ``CurveLogger``: a curve point (the module's ``log_curve``) at update 0 and every
  ``log_every`` updates, at theta_t, plus the module's ``after_update`` hook.

What a run prints of its progress is ``progress.RunProgress``.

MLflow is written to through the module's metric sink rather than a Lightning logger: a
run's MLflow run is opened by ``run_job`` before the Trainer exists (tags, params, the
config artifact, the resume key), and a logger would open a second one or need that run's
id passed through Lightning; the sink is that run's ``log_metrics``, nothing more.
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl


class DivergenceGuard(pl.Callback):
    """Stop at the first non-finite loss a ``training_step`` returns (``module.diverged_at``)."""

    def on_train_batch_end(
        self, trainer: pl.Trainer, module: pl.LightningModule, outputs: Any, *args: Any
    ) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        module.stop_if_not_finite(loss, trainer.global_step)


class CurveLogger(pl.Callback):
    """``module.log_curve(t)`` at the start and every ``log_every`` updates; ``module.after_update(t)``
    after every update (e.g. the error snapshot before Table 2's final phase)."""

    def __init__(self, log_every: int) -> None:
        self.log_every = log_every

    def on_train_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        module.log_curve(trainer.global_step)

    def on_train_batch_end(
        self, trainer: pl.Trainer, module: pl.LightningModule, *args: Any
    ) -> None:
        if module.diverged_at is not None:
            return
        updates = trainer.global_step
        module.after_update(updates)
        if updates % self.log_every == 0:
            module.log_curve(updates)
