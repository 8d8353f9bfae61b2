"""``fit_population``: train the runs of one population group together, each member exactly
as its solo run (``fit_autoencoder`` / ``fit_rnn``) trains, and return what each produced.

Per update, as a solo run under the Lightning loop (``training/loop.py``, ``callbacks.py``):
the update (the loss taken at NAG's look-ahead point); a member whose loss is not finite is
diverged at this update count and frozen; the error snapshot before the final phase; every
``log_every`` updates a curve point at theta_t (a non-finite error also diverges the member).
Curves, snapshots and final errors are measured with the member's solo model (its stacked
slice copied into it), by the solo run's own functions.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import Tensor

from momentum_repro.durations import duration
from momentum_repro.models.autoencoder import final_errors, squared_error
from momentum_repro.models.rnn import evaluate_rnn
from momentum_repro.training.batches import InMemoryBatches
from momentum_repro.training.fit_autoencoder import autoencoder_tensors, build_autoencoder_run
from momentum_repro.training.fit_rnn import build_rnn_run, final_rnn_errors
from momentum_repro.training.loop import FitResult, set_numerics
from momentum_repro.training.population.graphed import population_update
from momentum_repro.training.population.members import member_optimizer
from momentum_repro.training.population.momentum import PopulationMomentum
from momentum_repro.training.population.outcome import TrainedMember
from momentum_repro.training.population.stacked_autoencoder import StackedAutoencoder
from momentum_repro.training.population.stacked_rnn import (
    StackedTanhRNN,
    member_losses,
    stack_batches,
)
from momentum_repro.training.progress import CURVE_KEYS, run_name

log = logging.getLogger(__name__)


def _epochs(batches: InMemoryBatches) -> Iterator[Tensor]:
    """A solo run's minibatches: epoch after epoch, a fresh permutation each (as Lightning
    iterates the same object with ``max_epochs=-1``)."""
    while True:
        yield from batches


def _move(stacked: list[Tensor], solo_models: list[torch.nn.Module], device: torch.device) -> None:
    """The stacked parameters (trained) and the members' solo models (where curves and
    snapshots are measured) onto the population's device."""
    for t in stacked:
        t.data = t.data.to(device)
    for model in solo_models:
        model.to(device)


def _by_seed(seeds: Sequence[int]) -> tuple[list[int], list[int]]:
    """The distinct seeds (first-seen order) and each member's index into them."""
    distinct = list(dict.fromkeys(seeds))
    return distinct, [distinct.index(s) for s in seeds]


class AutoencoderPopulation:
    """Deep autoencoder members: one minibatch per distinct seed, shared by its members."""

    def __init__(self, plans: Sequence[Any], device: torch.device) -> None:
        shared = autoencoder_tensors(plans[0].cfg, plans[0].data)  # the members share the data
        self.runs = [build_autoencoder_run(p.cfg, p.data, shared) for p in plans]
        self.stacked = StackedAutoencoder([r.model for r in self.runs])
        self.device = device
        _move(self.stacked.parameters(), [r.model for r in self.runs], device)
        # the data too: curves and snapshots are measured on the device, not the CPU
        self.train, self.test, self.curve_data = (t.to(device) for t in shared)
        seeds, member_seed = _by_seed([int(p.cfg.seed) for p in plans])
        self.member_index = torch.tensor(member_seed, device=device)
        batch_size = int(plans[0].cfg.trainer.batch_size)
        self.streams = [_epochs(InMemoryBatches(self.train, batch_size, s)) for s in seeds]
        self.trainable = None
        self.snapshot_at = [r.snapshot_at for r in self.runs]

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
        return self.stacked.copy_member_into(k, self.runs[k].model)

    def curve(self, k: int) -> dict[str, float] | None:
        error = squared_error(self.solo_model(k), self.curve_data)
        return {"train_error": error} if math.isfinite(error) else None

    def snapshot(self, k: int) -> dict[str, float]:
        return {"train_error_before_final_phase": squared_error(self.solo_model(k), self.train)}

    def final(self, k: int) -> dict[str, float]:
        return final_errors(self.solo_model(k), self.train, self.test)


class RNNPopulation:
    """Tanh RNN members: one stream of fresh minibatches per distinct seed."""

    def __init__(self, plans: Sequence[Any], device: torch.device) -> None:
        self.runs = [build_rnn_run(p.cfg) for p in plans]
        self.eval_set = plans[0].data
        self.task = self.runs[0].task
        self.stacked = StackedTanhRNN([r.model for r in self.runs])
        self.device = device
        _move(self.stacked.parameters(), [r.model for r in self.runs], device)
        seeds, member_seed = _by_seed([int(p.cfg.seed) for p in plans])
        self.member_index = torch.tensor(member_seed, device=device)
        first_of_seed = [member_seed.index(i) for i in range(len(seeds))]
        self.streams = [iter(self.runs[k].stream) for k in first_of_seed]
        self.trainable = self.stacked.trainable
        self.snapshot_at = [None] * len(self.runs)

    def next_batch(self) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
        """(inputs, targets, mask, valid), each (K, ...): each member's minibatch (its
        seed's). The distinct minibatches go to the device once, then are indexed there."""
        distinct = stack_batches([next(s) for s in self.streams])
        index = self.member_index
        return tuple(None if t is None else t.to(self.device)[index] for t in distinct)  # type: ignore[return-value]

    def losses(self, batch: Sequence[Tensor | None]) -> Tensor:
        inputs, targets, mask, valid = batch
        assert inputs is not None and targets is not None and mask is not None
        # the solo objective per member: summed over its minibatch (models/rnn.py task_loss)
        z = self.stacked.forward(inputs, valid, scored=mask)
        return member_losses(self.task, z, targets, mask)

    def solo_model(self, k: int) -> torch.nn.Module:
        return self.stacked.copy_member_into(k, self.runs[k].model)

    def curve(self, k: int) -> dict[str, float] | None:
        model = self.solo_model(k)
        train_loss, _ = evaluate_rnn(model, self.task, self.runs[k].curve_batch)
        eval_loss, eval_zero_one = evaluate_rnn(model, self.task, self.eval_set)
        if not math.isfinite(train_loss + eval_loss):
            return None
        return {"train_loss": train_loss, "eval_loss": eval_loss, "eval_zero_one": eval_zero_one}

    def snapshot(self, k: int) -> dict[str, float]:
        return {}

    def final(self, k: int) -> dict[str, float]:
        return final_rnn_errors(self.solo_model(k), self.task, self.eval_set)


def population_device(accelerator: str) -> torch.device:
    """Where the stacked members train: a GPU when the config asks for one (or ``auto``
    finds one), the CPU otherwise."""
    wants_gpu = accelerator in ("gpu", "cuda") or (
        accelerator == "auto" and torch.cuda.is_available()
    )
    if wants_gpu and not torch.cuda.is_available():
        raise RuntimeError(f"trainer.accelerator={accelerator} but no CUDA device is available")
    return torch.device("cuda" if wants_gpu else "cpu")


def fit_population(plans: Sequence[Any], cuda_graph: bool = True) -> dict[str, TrainedMember]:
    """Train the members (``RunPlan`` s of one population group) together; run_key -> outcome.

    ``cuda_graph``: on a GPU, each update is one CUDA graph replay (``graphed.py``)."""
    cfg = plans[0].cfg
    set_numerics(cfg)
    device = population_device(str(cfg.trainer.accelerator))
    kind = AutoencoderPopulation if cfg.data.kind == "autoencoder" else RNNPopulation
    population = kind(plans, device)
    optimizers = [member_optimizer(p.cfg) for p in plans]
    optimizer = PopulationMomentum(
        population.stacked.parameters(),
        [o.lr for o in optimizers],
        [o.schedule for o in optimizers],
        [o.nesterov for o in optimizers],
        population.trainable,
    )
    size, total = len(plans), int(cfg.trainer.total_updates)
    log_every = int(cfg.trainer.log_every)
    names = [run_name(p.cfg) for p in plans]
    curves: list[list[tuple[dict[str, float], int]]] = [[] for _ in plans]
    snapshots: list[dict[str, float]] = [{} for _ in plans]
    diverged_at: list[int | None] = [None] * size
    stopped_at = [total] * size

    def diverge(k: int, updates: int) -> None:
        diverged_at[k] = stopped_at[k] = updates
        optimizer.freeze(k)
        log.warning("%s: diverged at update %d (population member %d)", names[k], updates, k)

    def log_curve(k: int, updates: int) -> None:
        metrics = population.curve(k)
        if metrics is None:
            diverge(k, updates)
            return
        metrics["lr"] = optimizers[k].lr
        metrics["mu"] = float(optimizer.last_mu[k])
        curves[k].append((metrics, updates))

    label = f"population of {size} ({cfg.data.name}, {cfg.profile_name})"
    log.info("%s: %s", label, "; ".join(names))
    for k in range(size):
        log_curve(k, 0)
    start = last_beat = time.perf_counter()
    beat_every = float(cfg.trainer.heartbeat_seconds)
    updates = last_updates = 0
    update = population_update(optimizer, population.losses, cuda_graph)
    while updates < total and bool(optimizer.active.any()):
        losses = update(population.next_batch()).cpu()
        updates += 1
        for k in torch.nonzero(~torch.isfinite(losses)).flatten().tolist():
            if diverged_at[k] is None:
                diverge(k, updates)
        for k in range(size):
            if diverged_at[k] is None and population.snapshot_at[k] == updates:
                snapshots[k].update(population.snapshot(k))
        if updates % log_every == 0:
            for k in range(size):
                if diverged_at[k] is None:
                    log_curve(k, updates)
        now = time.perf_counter()
        if beat_every > 0 and now - last_beat >= beat_every:
            rate = (updates - last_updates) / (now - last_beat)
            members = int(optimizer.active.sum())
            eta = duration((total - updates) / rate) if rate > 0 else "?"
            log.info(
                "%s: update %d/%d (%.0f%%), %.1f updates/s (%.1f member-updates/s), ETA %s%s",
                label, updates, total, 100 * updates / total, rate, rate * members, eta,
                _latest(curves),
            )  # fmt: skip
            last_beat, last_updates = now, updates
    seconds = time.perf_counter() - start
    log.info(
        "%s: trained %d updates in %s (%.1f member-updates/s)",
        label, updates, duration(seconds), updates * size / seconds if seconds > 0 else 0.0,
    )  # fmt: skip
    outcomes = {}
    for k, plan in enumerate(plans):
        outcome = TrainedMember(members=size, curve=curves[k])
        if diverged_at[k] is not None:
            reason = f"diverged: the loss became NaN or infinite at update {diverged_at[k]}"
            outcome.result = FitResult(stopped_at[k], seconds, diverged=True, failure_reason=reason)
        else:
            metrics = {**population.final(k), **snapshots[k]}
            if not all(math.isfinite(v) for v in metrics.values()):
                reason = "diverged: a final metric is not finite"
                outcome.result = FitResult(updates, seconds, True, reason, metrics)
            else:
                model = population.solo_model(k)
                weights = {n: v.detach().cpu().clone() for n, v in model.state_dict().items()}
                outcome.result = FitResult(updates, seconds, final=metrics, weights=weights)
        outcomes[plan.key] = outcome
    return outcomes


def _latest(curves: list[list[tuple[dict[str, float], int]]]) -> str:
    """``, best train_error 11.2``: the best latest curve value over the members."""
    values: dict[str, float] = {}
    for curve in curves:
        if curve:
            metrics = curve[-1][0]
            key = next((c for c in CURVE_KEYS if c in metrics), None)
            if key is not None:
                values[key] = min(values.get(key, math.inf), metrics[key])
    return "".join(f", best {k} {v:.4g}" for k, v in values.items())
