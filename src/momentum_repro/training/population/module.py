"""A population as a LightningModule: K runs trained as one stacked model, under the same
loop, callbacks and checkpoints as a solo run (``training/loop.py``).

One Lightning step is one population update (``graphed.population_update``: eager, or a
CUDA graph replay): every member's update rule, its loss taken at its own look-ahead point.
The shared callbacks drive it as they drive a solo module:

- ``DivergenceGuard`` hands the members' losses to :meth:`stop_if_not_finite`: a member whose
  loss is NaN or infinite is frozen and recorded as diverged at that update; the others go
  on untouched, and the run stops once every member has diverged;
- ``CurveLogger`` calls :meth:`after_update` (each member's error snapshot before its final
  phase) and :meth:`log_curve` (each active member's curve, measured with its solo model by
  its workload's own functions; a non-finite curve diverges the member);
- ``RunProgress`` prints the heartbeat, with member-updates/s;
- ``ModelCheckpoint`` saves the population every ``trainer.checkpoint_every`` updates: the
  stacked parameters, velocities, the members' curves so far (``on_save_checkpoint``), so
  that a killed sweep continues from there.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch import Tensor

from momentum_repro.training.loop import FitResult, finished_result
from momentum_repro.training.modules.base import GuardedModule
from momentum_repro.training.population.momentum import PopulationMomentum
from momentum_repro.training.progress import CURVE_KEYS

log = logging.getLogger(__name__)
CurvePoints = list[tuple[dict[str, float], int]]


class UpdateSteps(torch.optim.Optimizer):
    """What Lightning counts as an optimizer step: ``step(closure)`` runs the closure, one
    population update (``PopulationMomentum`` makes the update itself)."""

    def __init__(self) -> None:
        super().__init__([torch.zeros(0, requires_grad=True)], {})

    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor | None:  # type: ignore[override]
        return closure() if closure is not None else None


class PopulationStream:
    """The population's minibatches, one per update; ``skip(n)`` continues after n."""

    def __init__(self, population: Any) -> None:
        self.population = population

    def skip(self, updates: int) -> None:
        self.population.skip(updates)

    def __iter__(self) -> Iterator[Any]:
        while True:
            yield self.population.next_batch()


class PopulationModule(GuardedModule):
    """Trains a workload's population (``workload.population``) with ``optimizer``."""

    def __init__(
        self,
        population: Any,
        optimizer: PopulationMomentum,
        update: Callable[[Any], Tensor],
        names: Sequence[str],
        lrs: Sequence[float],
        log_every: int,
    ) -> None:
        super().__init__(torch.nn.Module(), lambda params: UpdateSteps(), log_every)
        self.population = population
        self.momentum = optimizer
        self.update = update
        self.names = list(names)
        self.lrs = list(lrs)
        size = len(self.names)
        self.curves: list[CurvePoints] = [[] for _ in range(size)]
        self.member_snapshots: list[dict[str, float]] = [{} for _ in range(size)]
        self.member_diverged_at: list[int | None] = [None] * size

    @property
    def active_members(self) -> int:
        return int(self.momentum.active.sum())

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return UpdateSteps()

    def transfer_batch_to_device(
        self, batch: Any, device: torch.device, dataloader_idx: int
    ) -> Any:
        return batch  # the population put each minibatch where its members are

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        return self.optimizers().step(closure=lambda: self.update(batch).cpu())

    def diverge(self, k: int, updates: int) -> None:
        self.member_diverged_at[k] = updates
        self.momentum.freeze(k)
        log.warning("%s: diverged at update %d (population member %d)", self.names[k], updates, k)

    def stop_if_not_finite(self, value: float | Tensor | None, updates: int) -> bool:
        """Freeze each member whose loss is not finite; stop once none is left."""
        losses = torch.as_tensor(value)
        for k in torch.nonzero(~torch.isfinite(losses)).flatten().tolist():
            if self.member_diverged_at[k] is None:
                self.diverge(k, updates)
        if not bool(self.momentum.active.any()):
            self.diverged_at = updates
            self.trainer.should_stop = True
            return True
        return False

    def after_update(self, updates: int) -> None:
        for k, at in enumerate(self.population.snapshot_at):
            if at == updates and self.member_diverged_at[k] is None:
                self.member_snapshots[k].update(self.population.snapshot(k))

    def log_curve(self, updates: int) -> None:
        """Each active member's curve at theta_t, as its solo run measures it, lr and mu."""
        for k in range(len(self.names)):
            if self.member_diverged_at[k] is not None:
                continue
            if self.curves[k] and self.curves[k][-1][1] == updates:
                continue  # a resumed population: this point is in its checkpoint already
            metrics = self.population.curve(k)
            if metrics is None:
                self.diverge(k, updates)
                continue
            metrics["lr"] = self.lrs[k]
            metrics["mu"] = float(self.momentum.last_mu[k])
            self.curves[k].append((metrics, updates))
        self.latest_metrics = best_latest(self.curves)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        momentum = self.momentum
        checkpoint["population"] = {
            "state": [t.detach().cpu() for t in momentum.state()],
            "active": momentum.active.cpu(),
            "last_mu": momentum.last_mu.cpu(),
            "updates_done": momentum.updates_done,
            "curves": self.curves,
            "snapshots": self.member_snapshots,
            "diverged_at": self.member_diverged_at,
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        saved = checkpoint["population"]
        momentum = self.momentum
        with torch.no_grad():
            for t, s in zip(momentum.state(), saved["state"], strict=True):
                t.copy_(s)
            momentum.active.copy_(saved["active"])
        momentum.last_mu = saved["last_mu"].to(momentum.lrs.device)
        momentum.updates_done = int(saved["updates_done"])
        self.curves = saved["curves"]
        self.member_snapshots = saved["snapshots"]
        self.member_diverged_at = saved["diverged_at"]

    def results(self, updates: int, seconds: float) -> list[FitResult]:
        """Each member's result, as its solo run's: where it diverged, or its final metrics
        (measured with its solo model) and final weights. Its time: its share of the
        population's."""
        seconds = seconds / len(self.names)
        out = []
        for k, at in enumerate(self.member_diverged_at):
            if at is not None:
                out.append(finished_result(at, seconds, None, diverged_at=at))
                continue
            model = self.population.solo_model(k)
            metrics = {**self.population.final(k), **self.member_snapshots[k]}
            weights = {n: v.detach().cpu().clone() for n, v in model.state_dict().items()}
            out.append(finished_result(updates, seconds, metrics, weights=weights))
        return out


def best_latest(curves: Sequence[CurvePoints]) -> dict[str, float]:
    """The best (lowest) latest value of each curve key over the members: what a progress
    line shows of a population."""
    values: dict[str, float] = {}
    for curve in curves:
        if curve:
            metrics = curve[-1][0]
            key = next((c for c in CURVE_KEYS if c in metrics), None)
            if key is not None:
                values[key] = min(values.get(key, math.inf), metrics[key])
    return values
