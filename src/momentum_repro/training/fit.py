"""``fit_autoencoder``: build a run from its config and train it (section 3 of the paper)."""

from __future__ import annotations

import logging
import math
import os
import sys
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from momentum_repro.data.sets import DataSet
from momentum_repro.models.autoencoder import squared_error
from momentum_repro.training.autoencoder_module import AutoencoderModule, MetricSink
from momentum_repro.training.batches import InMemoryBatches
from momentum_repro.training.optimizers import optimizer_factory
from momentum_repro.training.validate import validate_autoencoder

log = logging.getLogger(__name__)


@dataclass
class FitResult:
    """What a run produced: its final errors, or where it diverged."""

    updates_done: int
    seconds: float
    diverged: bool = False
    failure_reason: str | None = None
    final: dict[str, float] = field(default_factory=dict)


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


def fit_autoencoder(
    cfg: DictConfig, data: DataSet, metric_sink: MetricSink | None = None
) -> FitResult:
    """Train the configured autoencoder on ``data`` for ``trainer.total_updates`` updates."""
    if cfg.optimizer.get("kind") == "hessian_free":
        # imported here: hessian_free_module builds on FitResult and the helpers of this module
        from momentum_repro.training.hessian_free_module import fit_hessian_free

        return fit_hessian_free(cfg, data, metric_sink)
    validate_autoencoder(cfg, data.dim)
    quiet_lightning()
    torch.manual_seed(cfg.seed)
    dtype = getattr(torch, cfg.trainer.precision)
    train = torch.from_numpy(np.array(data.train)).to(dtype)
    test = torch.from_numpy(np.array(data.test)).to(dtype)
    curve_data = train[: cfg.trainer.curve_cases]
    model = instantiate(cfg.model, seed=cfg.seed).to(dtype)
    total = int(cfg.trainer.total_updates)
    final_phase = int(cfg.schedule.final_phase_updates)
    uses_final_phase = final_phase > 0 and float(cfg.optimizer.get("mu_max") or 0.0) > 0
    module = AutoencoderModule(
        model,
        optimizer_factory(cfg),
        curve_data=curve_data,
        log_every=int(cfg.trainer.log_every),
        metric_sink=metric_sink,
        snapshot_at=total - final_phase if uses_final_phase else None,
        full_train_data=train,
    )
    trainer = pl.Trainer(
        max_steps=total,
        max_epochs=-1,
        accelerator=cfg.trainer.accelerator,
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=progress_bar_enabled(cfg.trainer.progress_bar),
        num_sanity_val_steps=0,
        limit_val_batches=0,
    )
    start = time.perf_counter()
    trainer.fit(module, train_dataloaders=InMemoryBatches(train, cfg.trainer.batch_size, cfg.seed))
    seconds = time.perf_counter() - start
    updates = trainer.global_step
    if module.diverged_at is not None:
        return FitResult(
            updates_done=updates,
            seconds=seconds,
            diverged=True,
            failure_reason=f"diverged: the loss became NaN or infinite at update {module.diverged_at}",
        )
    model = model.cpu()
    final = {
        "final_train_error": squared_error(model, train),
        "final_test_error": squared_error(model, test),
        **module.snapshots,
    }
    if not all(math.isfinite(v) for v in final.values()):
        return FitResult(updates, seconds, True, "diverged: the final error is not finite", final)
    return FitResult(updates_done=updates, seconds=seconds, final=final)
