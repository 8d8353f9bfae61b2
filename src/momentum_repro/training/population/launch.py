"""``train_populations``: what ``hydra/launcher=population`` does before it runs the jobs.

Each job's config is planned as ``run_job`` plans it (validated, data read, resume key); the
jobs that can be members are grouped (``population_group``), each group is trained as
populations of at most ``max_members``, and every member's outcome is left in
``trained_members`` for its job to log. Jobs that are invalid, already finished, or have no
population form are left alone: their jobs run (or report their error) as usual.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import torch
from mlflow.tracking import MlflowClient
from omegaconf import DictConfig

from momentum_repro.tracking.mlflow_tracking import (
    experiment_id,
    find_completed_run,
    tracking_uri,
)
from momentum_repro.training.population.fit import fit_population
from momentum_repro.training.population.members import (
    is_nesterov,
    population_group,
    solo_only_reason,
)
from momentum_repro.training.population.outcome import (
    TrainedMember,
    loaded_sets,
    trained_members,
)
from momentum_repro.training.progress import run_name
from momentum_repro.training.run import RunPlan, plan_run, torch_threads
from momentum_repro.training.tuning import apply_momentum_gap

log = logging.getLogger(__name__)


def split_evenly(items: Sequence[Any], max_size: int) -> list[list[Any]]:
    """``items`` in order, in the fewest chunks of at most ``max_size``, sizes within one."""
    if max_size < 1:
        raise ValueError(f"max_size must be >= 1, got {max_size}")
    if not items:
        return []
    chunks = math.ceil(len(items) / max_size)
    base, extra = divmod(len(items), chunks)
    out, start = [], 0
    for i in range(chunks):
        size = base + (1 if i < extra else 0)
        out.append(list(items[start : start + size]))
        start += size
    return out


def _already_done(plan: RunPlan, clients: dict[str, tuple[MlflowClient, str]]) -> bool:
    cfg = plan.cfg
    if not cfg.tracking.resume:
        return False
    uri = tracking_uri(cfg.tracking.uri)
    if uri not in clients:
        client = MlflowClient(uri)
        clients[uri] = (
            client,
            experiment_id(client, cfg.tracking.experiment, cfg.tracking.artifact_root),
        )
    client, exp_id = clients[uri]
    return find_completed_run(client, exp_id, plan.key) is not None


def population_plans(cfgs: Sequence[DictConfig]) -> list[list[RunPlan]]:
    """The groups of jobs to train together (unsplit), in job order."""
    clients: dict[str, tuple[MlflowClient, str]] = {}
    groups: dict[str, list[RunPlan]] = {}
    keys: set[str] = set()
    for cfg in cfgs:
        try:
            plan = plan_run(apply_momentum_gap(cfg), loaded_sets)
        except Exception:  # the job reports it itself, as a job of any launcher does
            continue
        reason = solo_only_reason(plan.cfg)
        if reason is not None:
            log.info("%s: trained alone (%s)", run_name(plan.cfg), reason)
            continue
        if plan.key in keys or _already_done(plan, clients):
            continue  # its job finds the finished run and skips it
        keys.add(plan.key)
        groups.setdefault(population_group(plan.cfg), []).append(plan)
    # NAG members first, then CM and SGD (each in job order): a population's momentum update
    # is then one pass of each method's rule over contiguous members (``method_runs``)
    return [sorted(g, key=lambda plan: not is_nesterov(plan.cfg)) for g in groups.values()]


def train_populations(
    cfgs: Sequence[DictConfig], max_members: int, cuda_graph: bool = True
) -> None:
    """Train every population of these jobs; outcomes go to ``trained_members``.
    ``cuda_graph``: on a GPU, replay each update as a CUDA graph (``graphed.py``)."""
    for group in population_plans(cfgs):
        for plans in split_evenly(group, max_members):
            if len(plans) == 1:
                log.info("%s: a population of one, trained alone", run_name(plans[0].cfg))
                continue
            cfg = plans[0].cfg
            torch.set_num_threads(torch_threads(cfg.trainer.threads, 1))
            try:
                trained_members.update(fit_population(plans, cuda_graph))
            except Exception as error:  # each member's job then records the run as FAILED
                log.exception("a population of %d failed", len(plans))
                reason = f"{type(error).__name__}: {error}"
                for plan in plans:
                    trained_members[plan.key] = TrainedMember(len(plans), error=reason)
