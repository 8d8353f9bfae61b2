"""The one training loop every kind of run goes through: the Lightning Trainer, checkpoints, the result.

A run is trained for a fixed number of parameter updates; a run whose loss or error becomes
NaN or infinite stops and is a result (diverged), never a crash of the sweep.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig
from pytorch_lightning.callbacks import ModelCheckpoint
from torch import Tensor

from momentum_repro.runtime import flush_denormals, keep_freed_memory
from momentum_repro.training.callbacks import CurveLogger, DivergenceGuard
from momentum_repro.training.modules.base import GuardedModule
from momentum_repro.training.progress import RunProgress, quiet_lightning

log = logging.getLogger(__name__)


@dataclass
class FitResult:
    """What a run produced: its final errors, or where it diverged."""

    updates_done: int
    seconds: float
    diverged: bool = False
    failure_reason: str | None = None
    final: dict[str, float] = field(default_factory=dict)
    weights: dict[str, Tensor] | None = None  # the model's final state_dict (CPU), logged


def progress_bar_enabled(setting: str | bool) -> bool:
    """``auto``: a bar on an interactive terminal, none in CI logs or redirected output."""
    if isinstance(setting, bool):
        return setting
    return sys.stderr.isatty() and not os.environ.get("CI")


def set_numerics(cfg: DictConfig) -> None:
    """The process-wide float modes a run asks for: denormals flushed to zero on the CPU
    (``trainer.flush_denormal``), and float32 matmul precision (``trainer.matmul_precision``:
    ``highest``, or ``high``, TF32 on a GPU that has it). Also keeps freed memory in the
    process (``runtime.py``: fewer page faults per update, the same numbers)."""
    keep_freed_memory()
    flush_denormals(bool(cfg.trainer.flush_denormal))
    torch.set_float32_matmul_precision(str(cfg.trainer.get("matmul_precision", "highest")))


CHECKPOINT = "last.ckpt"


def checkpoint_step(path: Path) -> int | None:
    """The update count a checkpoint was saved at; None for an unreadable file."""
    try:
        return int(torch.load(path, map_location="cpu", weights_only=False)["global_step"])
    except Exception as error:  # a damaged file: train from the start rather than crash
        log.warning("checkpoint %s is unreadable (%s); training from update 0", path, error)
        return None


def train_for_updates(
    cfg: DictConfig, module: GuardedModule, data: Iterable, name: str
) -> tuple[int, float]:
    """Fit ``module`` for ``trainer.total_updates`` updates; (updates done, seconds).

    Every kind of run (autoencoder, RNN, HF) starts here, so this is where the CPU's
    flush-to-zero mode and the matmul precision are set (``set_numerics``).

    With ``trainer.checkpoint_every`` > 0 and a run folder ``trainer.run_checkpoints`` (set
    by ``run_job``: one per resume key), Lightning's ``ModelCheckpoint`` writes
    ``last.ckpt`` every that many updates (model, optimizer state with the velocity and the
    schedule position, loop counters, the module's snapshots); a run started again finds it
    and continues from there (``trainer.fit(ckpt_path=...)``), the data streams skipping the
    batches already trained on, so it ends exactly where an uninterrupted run ends.
    """
    set_numerics(cfg)
    quiet_lightning()
    total = int(cfg.trainer.total_updates)
    progress = RunProgress(
        name,
        total,
        every_seconds=float(cfg.trainer.heartbeat_seconds),
        bar=progress_bar_enabled(cfg.trainer.progress_bar),
    )
    callbacks: list[pl.Callback] = [DivergenceGuard(), CurveLogger(module.log_every), progress]
    every = int(cfg.trainer.get("checkpoint_every") or 0)
    folder = cfg.trainer.get("run_checkpoints")
    resume_from = None
    checkpointing = every > 0 and bool(folder)
    if checkpointing:
        callbacks.append(
            ModelCheckpoint(
                dirpath=folder,
                filename=Path(CHECKPOINT).stem,
                every_n_train_steps=every,
                save_top_k=1,
                enable_version_counter=False,  # overwrite last.ckpt (saved atomically)
                save_on_train_epoch_end=False,
            )
        )
        last = Path(folder) / CHECKPOINT
        step = checkpoint_step(last) if last.exists() else None
        if step is not None:
            data.skip(step)  # type: ignore[attr-defined]
            resume_from = str(last)
            log.info("%s: resuming from update %d (%s)", name, step, last)
    trainer = pl.Trainer(
        max_steps=total,
        max_epochs=-1,
        accelerator=cfg.trainer.accelerator,
        devices=1,
        logger=False,
        enable_checkpointing=checkpointing,  # Lightning refuses a ModelCheckpoint otherwise
        enable_model_summary=False,
        enable_progress_bar=False,  # RunProgress: one bar over the whole run, not per epoch
        callbacks=callbacks,
        num_sanity_val_steps=0,
        limit_val_batches=0,
    )
    start = time.perf_counter()
    trainer.fit(module, train_dataloaders=data, ckpt_path=resume_from)
    return trainer.global_step, time.perf_counter() - start


def finished_result(
    updates: int,
    seconds: float,
    metrics: dict[str, float] | None,
    *,
    weights: dict[str, Tensor] | None = None,
    diverged_at: int | None = None,
) -> FitResult:
    """A run's result, solo or population member alike: diverged (where), or its final
    ``metrics`` and ``weights`` (a non-finite final metric is a divergence too)."""
    if diverged_at is not None:
        reason = f"diverged: the loss became NaN or infinite at update {diverged_at}"
        return FitResult(updates, seconds, diverged=True, failure_reason=reason)
    assert metrics is not None
    if not all(math.isfinite(v) for v in metrics.values()):
        return FitResult(updates, seconds, True, "diverged: a final metric is not finite", metrics)
    return FitResult(updates, seconds, final=metrics, weights=weights)


def result(
    module: GuardedModule, updates: int, seconds: float, final: Callable[[], dict[str, float]]
) -> FitResult:
    """The run's result: diverged (where), or the final metrics ``final()`` measures."""
    if module.diverged_at is not None:
        return finished_result(updates, seconds, None, diverged_at=module.diverged_at)
    metrics = final()
    weights = {k: v.detach().cpu().clone() for k, v in module.model.state_dict().items()}
    return finished_result(updates, seconds, metrics, weights=weights)
