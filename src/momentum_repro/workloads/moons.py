"""The study notes' worked example as a workload: a small classifier on two moons.

A [2, 5, 2, 1] classifier (ReLU, ReLU, sigmoid; He initialization drawn as the exercise
draws it) on the two-moons set, minibatches of 64 reshuffled every epoch, cross-entropy. The
run is counted in epochs (``data.epochs``): :func:`with_epoch_updates` turns them into the
trainer's update count. Every N updates the cost and the accuracy on the whole set are
measured; at the end, the same, and the decision boundary as an artifact. No population
form: its runs are few and small.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, open_dict
from torch import Tensor

from momentum_repro.data.sets import load_labelled_set
from momentum_repro.errors import ConfigError
from momentum_repro.models.classifier import FeedForwardClassifier, accuracy, cross_entropy
from momentum_repro.report.boundary import ARTIFACT, DecisionBoundary, grid_around
from momentum_repro.workloads.base import Loaded, Prepared, Run, Workload, meta_digest, read_once
from momentum_repro.workloads.batches import ReshuffledBatches


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


@torch.no_grad()
def decision_boundary(
    model: FeedForwardClassifier, points: np.ndarray, labels: np.ndarray
) -> DecisionBoundary:
    """P(label 1) on a grid over ``points`` (see ``grid_around``), with the data."""
    grid_x, grid_y = grid_around(points)
    xx, yy = np.meshgrid(grid_x, grid_y)
    weight = model.layers[0].weight
    grid = torch.from_numpy(np.c_[xx.ravel(), yy.ravel()]).to(weight.dtype).to(weight.device)
    probability = model.probability(grid).cpu().numpy().reshape(xx.shape).astype(np.float32)
    return DecisionBoundary(points, labels, grid_x, grid_y, probability)


class MoonsWorkload(Workload):
    """The worked example (``experiment=moons``): GD, EMA momentum, Adam compared."""

    task_kind = "moons"
    final_metric = "final_cost"

    def prepare(self, loaded: Loaded | None = None) -> Prepared:
        cfg = self.cfg
        if "classifier" not in str(cfg.model.get("_target_", "")):
            raise ConfigError(
                "data",
                cfg.data.name,
                "the two-moons problem trains with model=moons: add experiment=moons",
            )
        moons = read_once({} if loaded is None else loaded, str(cfg.data.path), load_labelled_set)
        cfg = with_epoch_updates(cfg, len(moons.labels))  # counted in epochs
        self.cfg = cfg
        return Prepared(cfg, moons, moons.meta, meta_digest(moons.meta))

    def tags(self) -> dict[str, str]:
        return {**super().tags(), "epochs": str(self.cfg.data.epochs)}

    def build(self, prepared: Prepared) -> Run:
        cfg, data = self.cfg, prepared.data
        dtype = getattr(torch, cfg.trainer.precision)
        points = torch.from_numpy(data.points).to(dtype)
        labels = torch.from_numpy(data.labels)
        model = instantiate(cfg.model, seed=cfg.seed, dtype=dtype)
        held = {"points": points, "labels": labels}

        def objective(batch: tuple[Tensor, Tensor]) -> Tensor:
            return cross_entropy(model(batch[0]), batch[1])

        @torch.no_grad()
        def curve() -> dict[str, float]:
            """train_cost and train_accuracy on the whole training set, at theta_t."""
            x, y = held["points"], held["labels"]
            cost = float(cross_entropy(model(x), y))
            return {"train_cost": cost, "train_accuracy": accuracy(model, x, y)}

        def to_device(device: torch.device) -> None:
            held["points"], held["labels"] = points.to(device), labels.to(device)

        def final() -> dict[str, float]:
            model.cpu()
            with torch.no_grad():
                cost = float(cross_entropy(model(points), labels))
            return {"final_cost": cost, "final_train_accuracy": accuracy(model, points, labels)}

        def artifacts(folder: Path) -> list[Path]:
            boundary = decision_boundary(model, data.points, data.labels)
            return [boundary.save(folder / ARTIFACT)]

        return Run(
            model=model,
            stream=ReshuffledBatches(
                points, labels, int(cfg.trainer.batch_size), int(cfg.data.shuffle_seed)
            ),
            objective=objective,
            curve=curve,
            final=final,
            parameters=lambda: list(model.parameters()),
            to_device=to_device,
            artifacts=artifacts,
        )
