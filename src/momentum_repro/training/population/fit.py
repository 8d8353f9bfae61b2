"""``fit_population``: train the runs of one population group together, each member exactly
as its solo run trains, and return what each produced.

The members are built by their workload (``Workload.population``: the stacked model, each
member's minibatches, curves and final errors by the solo run's own functions) and trained
under the one Lightning loop (``loop.train_for_updates``) as a ``PopulationModule``: the same
divergence guard, curves, progress and checkpoints as a solo run. A population killed and run
again continues from its last checkpoint (``trainer.checkpoint_every``).
"""

from __future__ import annotations

import copy
import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, open_dict

from momentum_repro.training.loop import set_numerics, train_for_updates
from momentum_repro.training.population.graphed import population_update
from momentum_repro.training.population.members import member_optimizer
from momentum_repro.training.population.module import PopulationModule, PopulationStream
from momentum_repro.training.population.momentum import PopulationMomentum
from momentum_repro.training.population.outcome import TrainedMember

log = logging.getLogger(__name__)


def population_device(accelerator: str) -> torch.device:
    """Where the stacked members train: a GPU when the config asks for one (or ``auto``
    finds one), the CPU otherwise."""
    wants_gpu = accelerator in ("gpu", "cuda") or (
        accelerator == "auto" and torch.cuda.is_available()
    )
    if wants_gpu and not torch.cuda.is_available():
        raise RuntimeError(f"trainer.accelerator={accelerator} but no CUDA device is available")
    return torch.device("cuda" if wants_gpu else "cpu")


def population_folder(root: Path, keys: Sequence[str]) -> Path:
    """A population's checkpoint folder: one per list of members (their resume keys, in the
    order of the stacked model: a checkpoint's tensors are by position)."""
    digest = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]
    return root / f"population-{digest}"


def fit_population(
    plans: Sequence[Any], checkpoints: Path | None = None, cuda_graph: bool = True
) -> dict[str, TrainedMember]:
    """Train the members (``RunPlan`` s of one population group) together; run_key ->
    outcome. ``checkpoints``: the population's folder (``population_folder``), where
    ``last.ckpt`` is kept every ``trainer.checkpoint_every`` updates and found again by a
    rerun. ``cuda_graph``: on a GPU, each update is one CUDA graph replay (``graphed.py``)."""
    first = plans[0]
    cfg: DictConfig = copy.deepcopy(first.cfg)
    set_numerics(cfg)
    device = population_device(str(cfg.trainer.accelerator))
    population = first.workload.population(list(plans), device)
    optimizers = [member_optimizer(p.cfg) for p in plans]
    momentum = PopulationMomentum(
        population.stacked.parameters(),
        [o.lr for o in optimizers],
        [o.schedule for o in optimizers],
        [o.nesterov for o in optimizers],
        population.trainable,
    )
    names = [p.workload.run_name() for p in plans]
    module = PopulationModule(
        population,
        momentum,
        population_update(momentum, population.losses, cuda_graph),
        names,
        [o.lr for o in optimizers],
        int(cfg.trainer.log_every),
    )
    label = f"population of {len(plans)} ({cfg.data.name}, {cfg.profile_name})"
    log.info("%s: %s", label, "; ".join(names))
    with open_dict(cfg):
        cfg.trainer.run_checkpoints = str(checkpoints) if checkpoints is not None else None
        cfg.trainer.accelerator = "cpu"  # the members are where population_device put them
    updates, seconds = train_for_updates(cfg, module, PopulationStream(population), label)
    results = module.results(updates, seconds)
    return {
        plan.key: TrainedMember(len(plans), result, module.curves[k])
        for k, (plan, result) in enumerate(zip(plans, results, strict=True))
    }
