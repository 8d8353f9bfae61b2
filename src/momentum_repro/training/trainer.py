"""What every kind of run shares: the Lightning Trainer, the divergence guard, the result.

A run is trained for a fixed number of parameter updates; a run whose loss or error becomes
NaN or infinite stops and is a result (diverged), never a crash of the sweep.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig
from torch import Tensor

from momentum_repro.models.denormals import flush_denormals
from momentum_repro.training.progress import RunProgress, run_name

OptimizerFactory = Callable[[Iterable[Tensor]], torch.optim.Optimizer]
MetricSink = Callable[[dict[str, float], int], None]


@dataclass
class FitResult:
    """What a run produced: its final errors, or where it diverged."""

    updates_done: int
    seconds: float
    diverged: bool = False
    failure_reason: str | None = None
    final: dict[str, float] = field(default_factory=dict)


class GuardedModule(pl.LightningModule):
    """What every training module shares: a model, an optimizer factory, a metric sink
    called every ``log_every`` updates, manual optimization (each optimizer's own
    ``step(closure)``; NAG needs the closure at its look-ahead point), and a stop at the
    first non-finite loss or error."""

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
        self.automatic_optimization = False

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer_factory(self.model.parameters())

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


def quiet_lightning() -> None:
    """Lightning's banner lines (GPU available, ...) say nothing about a CPU run, and its
    pytree deprecation notice (a Lightning-internal call) would repeat in every job's log."""
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")


def progress_bar_enabled(setting: str | bool) -> bool:
    """``auto``: a bar on an interactive terminal, none in CI logs or redirected output."""
    if isinstance(setting, bool):
        return setting
    return sys.stderr.isatty() and not os.environ.get("CI")


def train_for_updates(cfg: DictConfig, module: GuardedModule, data: Iterable) -> tuple[int, float]:
    """Fit ``module`` for ``trainer.total_updates`` updates; (updates done, seconds).

    Every kind of run (autoencoder, RNN, HF) starts here, so this is where the CPU's
    flush-to-zero mode is set from ``trainer.flush_denormal`` (see models/denormals.py).
    """
    flush_denormals(bool(cfg.trainer.flush_denormal))
    quiet_lightning()
    total = int(cfg.trainer.total_updates)
    progress = RunProgress(
        run_name(cfg),
        total,
        every_seconds=float(cfg.trainer.heartbeat_seconds),
        bar=progress_bar_enabled(cfg.trainer.progress_bar),
    )
    trainer = pl.Trainer(
        max_steps=total,
        max_epochs=-1,
        accelerator=cfg.trainer.accelerator,
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=False,  # RunProgress: one bar over the whole run, not per epoch
        callbacks=[progress],
        num_sanity_val_steps=0,
        limit_val_batches=0,
    )
    start = time.perf_counter()
    trainer.fit(module, train_dataloaders=data)
    return trainer.global_step, time.perf_counter() - start


def result(
    module: GuardedModule, updates: int, seconds: float, final: Callable[[], dict[str, float]]
) -> FitResult:
    """The run's result: diverged (where), or the final metrics ``final()`` measures."""
    if module.diverged_at is not None:
        reason = f"diverged: the loss became NaN or infinite at update {module.diverged_at}"
        return FitResult(updates, seconds, diverged=True, failure_reason=reason)
    metrics = final()
    if not all(math.isfinite(v) for v in metrics.values()):
        return FitResult(updates, seconds, True, "diverged: a final metric is not finite", metrics)
    return FitResult(updates, seconds, final=metrics)
