"""``fit_moons``: the study notes' worked example, built from its config (experiment=moons).

A [2, 5, 2, 1] classifier on the two-moons set, minibatches of 64 reshuffled every epoch,
cross-entropy, lr 0.0007, with GD, EMA momentum or Adam. The run is counted in epochs
(``data.epochs``); :func:`with_epoch_updates` turns them into the trainer's update count.
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, open_dict

from momentum_repro.data.sets import LabelledSet
from momentum_repro.errors import ConfigError
from momentum_repro.models.boundary import ARTIFACT
from momentum_repro.models.classifier import accuracy, cross_entropy, decision_boundary
from momentum_repro.training.batches import ReshuffledBatches
from momentum_repro.training.loop import FitResult, result, train_for_updates
from momentum_repro.training.modules.base import MetricSink
from momentum_repro.training.modules.moons import MoonsModule
from momentum_repro.training.optimizers import optimizer_factory

ArtifactSink = Callable[[Path], None]


def updates_per_epoch(n_cases: int, batch_size: int) -> int:
    """Minibatches in one pass over ``n_cases``, the last one smaller: 300 in 64s is 5."""
    return -(-n_cases // batch_size)


def with_epoch_updates(cfg: DictConfig, n_cases: int) -> DictConfig:
    """A copy of ``cfg`` with ``trainer.total_updates`` = ``data.epochs`` x minibatches per
    epoch, so the run's tags, resume key and Trainer all see the real update count."""
    epochs, batch_size = cfg.data.epochs, cfg.trainer.batch_size
    for key, value in (("data.epochs", epochs), ("trainer.batch_size", batch_size)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(key, value, "it must be an integer >= 1")
    per_epoch = updates_per_epoch(n_cases, batch_size)
    total = epochs * per_epoch
    given = cfg.trainer.total_updates
    if given is not None and given != total:
        raise ConfigError(
            "trainer.total_updates",
            given,
            f"a two-moons run is counted in epochs: leave it null and set data.epochs "
            f"({epochs} epochs x {per_epoch} minibatches of {n_cases} cases = {total} updates)",
        )
    cfg = copy.deepcopy(cfg)  # the caller's config keeps its null
    with open_dict(cfg):
        cfg.trainer.total_updates = total
    return cfg


def fit_moons(
    cfg: DictConfig,
    data: LabelledSet,
    metric_sink: MetricSink | None = None,
    artifact_sink: ArtifactSink | None = None,
) -> FitResult:
    """Train for ``trainer.total_updates`` updates (see :func:`with_epoch_updates`); final
    cost and training accuracy on the whole set; the decision boundary to ``artifact_sink``."""
    dtype = getattr(torch, cfg.trainer.precision)
    points = torch.from_numpy(data.points).to(dtype)
    labels = torch.from_numpy(data.labels)
    model = instantiate(cfg.model, seed=cfg.seed, dtype=dtype)
    module = MoonsModule(
        model,
        optimizer_factory(cfg),
        points,
        labels,
        log_every=int(cfg.trainer.log_every),
        metric_sink=metric_sink,
    )
    batches = ReshuffledBatches(
        points, labels, int(cfg.trainer.batch_size), int(cfg.data.shuffle_seed)
    )
    updates, seconds = train_for_updates(cfg, module, batches)

    def final() -> dict[str, float]:
        model.cpu()
        with torch.no_grad():
            cost = float(cross_entropy(model(points), labels))
        return {"final_cost": cost, "final_train_accuracy": accuracy(model, points, labels)}

    fit = result(module, updates, seconds, final)
    if artifact_sink is not None and not fit.diverged:
        with tempfile.TemporaryDirectory() as tmp:
            boundary = decision_boundary(model, data.points, data.labels)
            artifact_sink(boundary.save(Path(tmp) / ARTIFACT))
    return fit
