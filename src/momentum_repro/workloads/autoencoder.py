"""The deep autoencoders of section 3 (Table 6): CURVES, MNIST and FACES as workloads.

A run's model is the paper's autoencoder of its set (``conf/model/<set>.yaml``), drawn from
its seed with the sparse initialization; an update minimises the model's objective on a
minibatch of ``trainer.batch_size`` cases (a seeded shuffle per epoch); every N updates the
paper's squared error is measured on a fixed subset of the training set (``train_error``),
once just before Table 2's final phase on the whole training set, and at the end on both
sets (``final_train_error``, ``final_test_error``). Its population form trains K runs of one
set and architecture as one stacked model, each member exactly as its solo run.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch import Tensor

from momentum_repro.data.sets import DataSet, load_set
from momentum_repro.errors import ConfigError
from momentum_repro.models.autoencoder import DeepAutoencoder, final_errors, squared_error
from momentum_repro.models.stacked_autoencoder import StackedAutoencoder
from momentum_repro.workloads.base import Loaded, Prepared, Run, Workload, meta_digest, read_once
from momentum_repro.workloads.batches import InMemoryBatches, evenly_spaced


def autoencoder_tensors(cfg: DictConfig, data: DataSet) -> tuple[Tensor, Tensor, Tensor]:
    """The train and test sets in ``trainer.precision``, and the train_error curve's subset."""
    dtype = getattr(torch, cfg.trainer.precision)
    train = torch.from_numpy(np.array(data.train)).to(dtype)
    test = torch.from_numpy(np.array(data.test)).to(dtype)
    return train, test, evenly_spaced(train, int(cfg.trainer.curve_cases))


def autoencoder_model(cfg: DictConfig, dtype: torch.dtype) -> DeepAutoencoder:
    """The configured autoencoder with the paper's initialization, drawn from ``seed``."""
    torch.manual_seed(cfg.seed)
    return instantiate(cfg.model, seed=cfg.seed).to(dtype)


def snapshot_update(cfg: DictConfig) -> int | None:
    """The update after which the error before Table 2's final phase is taken (None: the
    run has no final phase, or no momentum to reduce)."""
    total = int(cfg.trainer.total_updates)
    final_phase = int(cfg.schedule.get("final_phase_updates") or 0)
    uses_final_phase = final_phase > 0 and float(cfg.optimizer.get("mu_max") or 0.0) > 0
    return total - final_phase if uses_final_phase else None


class AutoencoderWorkload(Workload):
    """A deep autoencoder on one of the paper's sets (``data=curves|mnist|faces``)."""

    task_kind = "autoencoder"
    final_metric = "final_train_error"

    def prepare(self, loaded: Loaded | None = None) -> Prepared:
        cfg = self.cfg
        data = read_once({} if loaded is None else loaded, str(cfg.data.path), load_set)
        sizes = list(cfg.model.get("encoder_sizes") or [])
        if len(sizes) < 2 or any(not isinstance(s, int) or s < 1 for s in sizes):
            raise ConfigError(
                "model.encoder_sizes", sizes, "it must list at least 2 positive integer layer sizes"
            )
        if sizes[0] != data.dim:
            raise ConfigError(
                "model.encoder_sizes",
                sizes,
                f"its first size must equal the data's {data.dim} inputs per case ({cfg.data.name})",
            )
        return Prepared(cfg, data, data.meta, meta_digest(data.meta))

    def build(
        self, prepared: Prepared, tensors: tuple[Tensor, Tensor, Tensor] | None = None
    ) -> Run:
        """``tensors``: ``autoencoder_tensors`` when the caller has them (a population's
        members share one copy)."""
        cfg = self.cfg
        train, test, curve_data = tensors or autoencoder_tensors(cfg, prepared.data)
        model = autoencoder_model(cfg, train.dtype)
        held = {"train": train, "curve": curve_data}

        def objective(x: Tensor) -> Tensor:
            return model.objective(model(x), x)

        def to_device(device: torch.device) -> None:
            # evaluation data lives where the model does (a GPU run moves it once, here)
            held["curve"] = held["curve"].to(device)
            held["train"] = held["train"].to(device)

        return Run(
            model=model,
            stream=InMemoryBatches(train, int(cfg.trainer.batch_size), int(cfg.seed)),
            objective=objective,
            curve=lambda: {"train_error": squared_error(model, held["curve"])},
            final=lambda: final_errors(model, train, test),
            parameters=lambda: list(model.parameters()),
            to_device=to_device,
            snapshot_at=snapshot_update(cfg),
            snapshot=lambda: {
                "train_error_before_final_phase": squared_error(model, held["train"])
            },
            hessian_free_data=train,
        )

    def population_refusal(self) -> str | None:
        return None

    def population(self, plans: list[Any], device: torch.device) -> AutoencoderPopulation:
        return AutoencoderPopulation(plans, device)


def _epochs(batches: InMemoryBatches) -> Iterator[Tensor]:
    """A solo run's minibatches: epoch after epoch, a fresh permutation each (as Lightning
    iterates the same object with ``max_epochs=-1``)."""
    while True:
        yield from batches


def by_seed(seeds: Sequence[int]) -> tuple[list[int], list[int]]:
    """The distinct seeds (first-seen order) and each member's index into them."""
    distinct = list(dict.fromkeys(seeds))
    return distinct, [distinct.index(s) for s in seeds]


class AutoencoderPopulation:
    """Deep autoencoder members: one minibatch per distinct seed, shared by its members.
    Curves, snapshots and final errors are measured with the member's solo model (its
    stacked slice copied into it), by the solo run's own functions."""

    def __init__(self, plans: Sequence[Any], device: torch.device) -> None:
        first = plans[0]
        shared = autoencoder_tensors(first.cfg, first.data)  # the members share the data
        self.runs = [p.workload.build(p.prepared, shared) for p in plans]
        self.models = [r.model for r in self.runs]
        self.stacked = StackedAutoencoder(self.models)
        self.device = device
        move(self.stacked.parameters(), self.models, device)
        # the data too: curves and snapshots are measured on the device, not the CPU
        self.train, self.test, self.curve_data = (t.to(device) for t in shared)
        seeds, member_seed = by_seed([int(p.cfg.seed) for p in plans])
        self.member_index = torch.tensor(member_seed, device=device)
        batch_size = int(first.cfg.trainer.batch_size)
        self.batches = [InMemoryBatches(self.train, batch_size, s) for s in seeds]
        self.streams = [_epochs(b) for b in self.batches]
        self.trainable = None
        self.snapshot_at = [r.snapshot_at for r in self.runs]

    def skip(self, updates: int) -> None:
        """Continue after ``updates`` updates (a population resumed from its checkpoint)."""
        for batches in self.batches:
            batches.skip(updates)
        self.streams = [_epochs(b) for b in self.batches]

    def next_batch(self) -> tuple[Tensor]:
        """(x,): x (K, batch, units), each member's minibatch (its seed's)."""
        batches = [next(s) for s in self.streams]
        if len(batches) == 1:
            x = batches[0].to(self.device).unsqueeze(0)
            return (x.expand(self.stacked.size, *x.shape[1:]),)
        distinct = torch.stack(batches).to(self.device)
        return (distinct[self.member_index],)

    def losses(self, batch: Sequence[Tensor | None]) -> Tensor:
        x = batch[0]
        assert x is not None
        return self.stacked.objectives(self.stacked.forward(x), x)

    def solo_model(self, k: int) -> torch.nn.Module:
        return self.stacked.copy_member_into(k, self.models[k])

    def curve(self, k: int) -> dict[str, float] | None:
        error = squared_error(self.solo_model(k), self.curve_data)
        return {"train_error": error} if math.isfinite(error) else None

    def snapshot(self, k: int) -> dict[str, float]:
        return {"train_error_before_final_phase": squared_error(self.solo_model(k), self.train)}

    def final(self, k: int) -> dict[str, float]:
        return final_errors(self.solo_model(k), self.train, self.test)


def move(stacked: list[Tensor], solo_models: list[torch.nn.Module], device: torch.device) -> None:
    """The stacked parameters (trained) and the members' solo models (where curves and
    snapshots are measured) onto the population's device."""
    for t in stacked:
        t.data = t.data.to(device)
    for model in solo_models:
        model.to(device)
