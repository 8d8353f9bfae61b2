"""What ``hydra/launcher=population`` does with a multirun's jobs: plan them, group them into
populations, train each population and hand each member's job its outcome.

Each job's config is planned as ``run_job`` plans it (checked, data read once for all, resume
key); the jobs that can be members are grouped (``population_group``) and split into
populations of at most ``max_members``. A population's members are trained together
(``fit_population``, checkpointed) and each member's outcome is saved to a file that its job
gets in its own config (``trainer.population_result``). Jobs that are invalid, already
finished, or have no population form are left alone: their jobs run (or report their error)
as usual. A member trained but not yet logged when a sweep was killed is not trained again.
"""

from __future__ import annotations

import logging
import math
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from mlflow.tracking import MlflowClient
from omegaconf import DictConfig

from momentum_repro.runtime import torch_threads
from momentum_repro.tracking.mlflow_tracking import (
    experiment_id,
    find_completed_run,
    store_root,
    tracking_uri,
)
from momentum_repro.training.population import outcome as member_outcome
from momentum_repro.training.population.fit import fit_population, population_folder
from momentum_repro.training.population.members import (
    is_nesterov,
    population_group,
    solo_only_reason,
)
from momentum_repro.training.run import RunPlan, plan_run
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


@dataclass
class Member:
    """A job that trains as a population member: its index in the multirun and its plan."""

    job: int
    plan: RunPlan


@dataclass
class Plan:
    """A multirun's jobs as the launcher runs them: populations, and jobs it leaves alone."""

    populations: list[list[Member]] = field(default_factory=list)
    trained: dict[int, Path] = field(default_factory=dict)  # job -> its outcome, not logged yet

    def member_jobs(self) -> set[int]:
        return {m.job for p in self.populations for m in p} | set(self.trained)


def member_folder(cfg: DictConfig) -> Path:
    """Where populations keep their checkpoints and their members' outcomes."""
    return store_root() / str(cfg.trainer.checkpoint_dir)


class _Finished:
    """Which runs MLflow already holds, one client per tracking URI."""

    def __init__(self) -> None:
        self.clients: dict[str, tuple[MlflowClient, str]] = {}

    def __call__(self, plan: RunPlan) -> bool:
        cfg = plan.cfg
        if not cfg.tracking.resume:
            return False
        uri = tracking_uri(cfg.tracking.uri)
        if uri not in self.clients:
            client = MlflowClient(uri)
            exp = experiment_id(client, cfg.tracking.experiment, cfg.tracking.artifact_root)
            self.clients[uri] = (client, exp)
        client, exp = self.clients[uri]
        return find_completed_run(client, exp, plan.key) is not None


def plan_populations(cfgs: Sequence[DictConfig], max_members: int) -> Plan:
    """The populations to train (each at most ``max_members``, NAG members first, then CM and
    SGD in job order: a population's momentum update is then one pass of each method's rule
    over contiguous members), and the jobs already trained."""
    finished = _Finished()
    loaded: dict[str, Any] = {}  # every set read once, for all the jobs
    groups: dict[str, list[Member]] = {}
    plan, keys = Plan(), set()
    for job, cfg in enumerate(cfgs):
        try:
            run = plan_run(apply_momentum_gap(cfg), loaded)
        except Exception:  # the job reports it itself, as a job of any launcher does
            continue
        reason = solo_only_reason(run.cfg)
        if reason is not None:
            log.info("%s: trained alone (%s)", run.workload.run_name(), reason)
            continue
        if run.key in keys or finished(run):
            continue  # its job finds the finished run and skips it
        keys.add(run.key)
        waiting = member_outcome.member_file(member_folder(run.cfg), run.key)
        if waiting.exists():  # trained by an earlier sweep that was killed before logging it
            if member_outcome.load(waiting).error is None:
                plan.trained[job] = waiting
                continue
            waiting.unlink()  # its population failed: train it again
        groups.setdefault(population_group(run.cfg), []).append(Member(job, run))
    for group in groups.values():
        ordered = sorted(group, key=lambda m: not is_nesterov(m.plan.cfg))
        for members in split_evenly(ordered, max_members):
            if len(members) == 1:
                log.info(
                    "%s: a population of one, trained alone", members[0].plan.workload.run_name()
                )
                continue
            plan.populations.append(members)
    return plan


def train_population(members: Sequence[Member], cuda_graph: bool = True) -> dict[int, Path]:
    """Train one population (from its checkpoint, if an earlier sweep left one) and save each
    member's outcome; job -> the outcome's file. A population that fails gives each member
    the error, and each member's job records its run as FAILED."""
    plans = [m.plan for m in members]
    cfg = plans[0].cfg
    folder = member_folder(cfg)
    checkpoints = population_folder(folder, [p.key for p in plans])
    torch.set_num_threads(torch_threads(cfg.trainer.threads, 1))
    failed = False
    try:
        trained = fit_population(plans, checkpoints, cuda_graph)
    except Exception as error:  # each member's job then records the run as FAILED
        log.exception("a population of %d failed", len(plans))
        reason = f"{type(error).__name__}: {error}"
        trained = {p.key: member_outcome.TrainedMember(len(plans), error=reason) for p in plans}
        failed = True  # its checkpoint stays: a sweep run again continues from it
    paths = {}
    for member in members:
        outcome = trained[member.plan.key]
        outcome.meta = member.plan.prepared.meta
        paths[member.job] = member_outcome.save(
            outcome, member_outcome.member_file(folder, member.plan.key)
        )
    if not cfg.trainer.keep_checkpoints and not failed:
        shutil.rmtree(checkpoints, ignore_errors=True)
    return paths
