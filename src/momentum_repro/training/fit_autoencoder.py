"""``fit_autoencoder``: build a run from its config and train it (section 3 of the paper)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch import Tensor

from momentum_repro.data.sets import DataSet
from momentum_repro.models.autoencoder import DeepAutoencoder, final_errors
from momentum_repro.training.batches import InMemoryBatches, evenly_spaced
from momentum_repro.training.fit_hessian_free import fit_hessian_free
from momentum_repro.training.loop import FitResult, result, train_for_updates
from momentum_repro.training.modules.autoencoder import AutoencoderModule
from momentum_repro.training.modules.base import MetricSink
from momentum_repro.training.optimizers import optimizer_factory

log = logging.getLogger(__name__)


@dataclass
class AutoencoderRun:
    """What a solo autoencoder run is built from; a population member is built the same way."""

    model: DeepAutoencoder
    train: Tensor
    test: Tensor
    curve_data: Tensor  # the fixed subset of the train_error curve
    snapshot_at: int | None  # the update after which the error before the final phase is taken


def autoencoder_tensors(cfg: DictConfig, data: DataSet) -> tuple[Tensor, Tensor, Tensor]:
    """The train and test sets in ``trainer.precision``, and the train_error curve's subset."""
    dtype = getattr(torch, cfg.trainer.precision)
    train = torch.from_numpy(np.array(data.train)).to(dtype)
    test = torch.from_numpy(np.array(data.test)).to(dtype)
    return train, test, evenly_spaced(train, int(cfg.trainer.curve_cases))


def build_autoencoder_run(
    cfg: DictConfig, data: DataSet, tensors: tuple[Tensor, Tensor, Tensor] | None = None
) -> AutoencoderRun:
    """The model (the paper's init, drawn from ``seed``), the data tensors and the snapshot.

    ``tensors``: ``autoencoder_tensors(cfg, data)`` when the caller has them already (the
    members of a population share one copy)."""
    train, test, curve_data = tensors or autoencoder_tensors(cfg, data)
    torch.manual_seed(cfg.seed)
    model = instantiate(cfg.model, seed=cfg.seed).to(train.dtype)
    total = int(cfg.trainer.total_updates)
    final_phase = int(cfg.schedule.final_phase_updates)
    uses_final_phase = final_phase > 0 and float(cfg.optimizer.get("mu_max") or 0.0) > 0
    snapshot_at = total - final_phase if uses_final_phase else None
    return AutoencoderRun(model, train, test, curve_data, snapshot_at)


def fit_autoencoder(
    cfg: DictConfig, data: DataSet, metric_sink: MetricSink | None = None
) -> FitResult:
    """Train the configured autoencoder on ``data`` for ``trainer.total_updates`` updates.

    The config is checked once, by ``run_job`` (``training/validate.py``), before this runs."""
    if cfg.optimizer.get("kind") == "hessian_free":
        return fit_hessian_free(cfg, data, metric_sink)
    run = build_autoencoder_run(cfg, data)
    model, train, test = run.model, run.train, run.test
    module = AutoencoderModule(
        model,
        optimizer_factory(cfg),
        curve_data=run.curve_data,
        log_every=int(cfg.trainer.log_every),
        metric_sink=metric_sink,
        snapshot_at=run.snapshot_at,
        full_train_data=train,
    )
    batches = InMemoryBatches(train, cfg.trainer.batch_size, cfg.seed)
    updates, seconds = train_for_updates(cfg, module, batches)
    return result(
        module,
        updates,
        seconds,
        lambda: {**final_errors(model, train, test), **module.snapshots},
    )
