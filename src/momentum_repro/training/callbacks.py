"""Lightning callbacks every training module shares, written once.

- ``DivergenceGuard``: a NaN or infinite loss stops the run, recorded as diverged (a result
  of the sweep, never a crash of it).
- ``CurveLogger``: a curve point (the module's ``log_curve``) at update 0 and every
  ``log_every`` updates, at theta_t, plus the module's ``after_update`` hook.
- ``RunProgress``: a heartbeat line every ``every_seconds`` to the run's log, terminal or not
  (run, update t/T, updates/s, ETA, the latest curve value), and on a terminal one tqdm bar
  over t/T (Lightning's own bar restarts every epoch: no overall ETA).

MLflow is written to through the module's metric sink rather than a Lightning logger: a
run's MLflow run is opened by ``run_job`` before the Trainer exists (tags, params, the
config artifact, the resume key), and a logger would open a second one or need that run's
id passed through Lightning; the sink is that run's ``log_metrics``, nothing more.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import pytorch_lightning as pl
from tqdm import tqdm

from momentum_repro.tracking.progress import duration
from momentum_repro.training.progress import CURVE_KEYS, heartbeat_line

log = logging.getLogger(__name__)


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


class RunProgress(pl.Callback):
    """Heartbeat lines every ``every_seconds`` (0: none) and, with ``bar``, a bar over t/T."""

    def __init__(self, name: str, total: int, every_seconds: float = 30.0, bar: bool = False):
        self.name, self.total, self.every_seconds = name, total, every_seconds
        self.use_bar = bar
        self.bar: tqdm | None = None
        self.start = self.last_time = 0.0
        self.last_step = self.first_step = 0

    def on_train_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.start = self.last_time = time.perf_counter()
        self.last_step = self.first_step = trainer.global_step
        if self.use_bar:
            self.bar = tqdm(total=self.total, desc=self.name, unit="upd", dynamic_ncols=True)
            self.bar.update(trainer.global_step)

    def on_train_batch_end(
        self, trainer: pl.Trainer, module: pl.LightningModule, *args: Any
    ) -> None:
        step = trainer.global_step
        metrics = getattr(module, "latest_metrics", {})
        if self.bar is not None:
            self.bar.update(step - self.bar.n)
            key = next((k for k in CURVE_KEYS if k in metrics), None)
            if key is not None and step % 50 == 0:
                self.bar.set_postfix({key: f"{metrics[key]:.4g}"}, refresh=False)
        now = time.perf_counter()
        if self.every_seconds > 0 and now - self.last_time >= self.every_seconds:
            rate = (step - self.last_step) / (now - self.last_time)
            self.last_time, self.last_step = now, step
            members = getattr(module, "active_members", None)  # a population's
            log.info(heartbeat_line(self.name, step, self.total, rate, metrics, members))

    def on_train_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        seconds = time.perf_counter() - self.start
        step = trainer.global_step
        rate = (step - self.first_step) / seconds if seconds > 0 else 0.0
        members = getattr(module, "active_members", None)
        per_member = f", {rate * members:.1f} member-updates/s" if members else ""
        log.info(
            "%s: trained %d/%d updates in %s (%.1f updates/s%s)",
            self.name,
            step,
            self.total,
            duration(seconds),
            rate,
            per_member,
        )
