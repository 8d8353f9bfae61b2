"""``run_job``: one Hydra job = one tracked training run, skipped if already done."""

from __future__ import annotations

import copy
import json
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from mlflow.tracking import MlflowClient
from omegaconf import DictConfig, OmegaConf, open_dict

from momentum_repro.runtime import torch_threads
from momentum_repro.tracking.mlflow_tracking import (
    config_key,
    experiment_id,
    find_completed_run,
    find_resumable_run,
    git_commit,
    job_run,
    run_key,
    store_root,
    tracking_uri,
)
from momentum_repro.training.checks import check_config, check_run
from momentum_repro.training.fit import fit
from momentum_repro.training.loop import CHECKPOINT
from momentum_repro.training.population import outcome as member_outcome
from momentum_repro.workloads import Prepared, Workload, workload_for

log = logging.getLogger(__name__)
FINAL_WEIGHTS = "final_state_dict.pt"  # artifact: the model's state_dict after the last update


@dataclass
class RunPlan:
    """A checked run, ready to train: its workload, its data, its resume key."""

    workload: Workload
    prepared: Prepared
    key: str

    @property
    def cfg(self) -> DictConfig:
        return self.prepared.cfg

    @property
    def data(self) -> Any:
        return self.prepared.data


def plan_run(cfg: DictConfig, loaded: dict[str, Any] | None = None) -> RunPlan:
    """Check ``cfg`` once, read its data (``loaded``: sets already read, by path) and compute
    its resume key (``run_key``)."""
    check_config(cfg)  # before any data is read
    workload = workload_for(cfg)
    prepared = workload.prepare(loaded)
    check_run(prepared.cfg)
    return RunPlan(workload, prepared, run_key(prepared.cfg, prepared.digest))


def run_tags(
    cfg: DictConfig, workload: Workload, key: str, data_meta: dict[str, Any]
) -> dict[str, str]:
    """The tags the report groups and selects runs by (docs/CONVENTIONS.md)."""
    opt = cfg.optimizer
    mu_max = opt.get("mu_max")
    return {
        "sweep_name": str(cfg.sweep_name),
        **workload.tags(),
        "method": str(opt.name),
        "mu_max": "none" if mu_max is None else f"{float(mu_max):g}",
        "lr": f"{float(opt.lr):g}",
        "seed": str(cfg.seed),
        "init_scale": f"{float(cfg.model.get('init_scale', 1.0)):g}",
        "profile": str(cfg.profile_name),
        "total_updates": str(cfg.trainer.total_updates),
        "schedule_period": str(cfg.schedule.get("period")),
        "final_phase_updates": str(cfg.schedule.get("final_phase_updates") or 0),
        "run_key": key,
        "config_key": config_key(cfg),
        "git_commit": git_commit(),
        "data_source": str(data_meta.get("source", "unknown")),
        # sha256 of the raw files the set was built from (meta.json), shortened for the UI
        "data_inputs": json.dumps({k: v[:16] for k, v in data_meta.get("inputs", {}).items()}),
        "flush_denormal": str(bool(cfg.trainer.flush_denormal)).lower(),
        "matmul_precision": str(cfg.trainer.matmul_precision),
        "diverged": "false",
    }


def run_job(cfg: DictConfig, parallel_jobs: int = 1) -> dict[str, Any]:
    """Check, train and log one run; return its outcome (run id, status, final errors).

    A run a population trained (``hydra/launcher=population``) comes with its outcome's file
    in ``trainer.population_result``: it is logged from it, through the same MLflow path as
    a run trained alone."""
    trained, cfg = _population_outcome(cfg)
    if trained is not None:  # the launcher planned it already: key and data's provenance
        workload, key, meta = workload_for(cfg), trained.key, trained.meta
    else:
        plan = plan_run(cfg)
        cfg, workload, key, meta = plan.cfg, plan.workload, plan.key, plan.prepared.meta
    torch.set_num_threads(torch_threads(cfg.trainer.threads, parallel_jobs))
    client = MlflowClient(tracking_uri(cfg.tracking.uri))
    exp_id = experiment_id(client, cfg.tracking.experiment, cfg.tracking.artifact_root)
    tags = run_tags(cfg, workload, key, meta)
    name = workload.run_name()
    if cfg.tracking.resume:
        done = find_completed_run(client, exp_id, key)
        if done is not None:
            log.info("already done, skipping: %s (MLflow run %s)", name, done.info.run_id)
            diverged = done.data.tags.get("diverged") == "true"
            finals = {k: v for k, v in done.data.metrics.items() if k in FINAL_METRICS}
            _forget(trained, cfg)
            return outcome(tags, done.info.run_id, done.info.status, diverged, True, finals)
    checkpoints = store_root() / str(cfg.trainer.checkpoint_dir) / key
    with open_dict(cfg):
        cfg.trainer.run_checkpoints = str(checkpoints)
    resume_id = None
    if cfg.tracking.resume and (checkpoints / CHECKPOINT).exists():
        interrupted = find_resumable_run(client, exp_id, key)
        resume_id = interrupted.info.run_id if interrupted is not None else None
    if trained is not None:
        tags["population_members"] = str(trained.member.members)
    with job_run(client, exp_id, cfg, tags, name, resume_run_id=resume_id) as job:
        if trained is not None:  # trained as a member of a population: log what it did
            result = trained.member.replay(job.log_metrics)
        else:
            result = fit(
                workload,
                plan.prepared,
                metric_sink=job.log_metrics,
                artifact_sink=lambda path: job.client.log_artifact(job.run_id, str(path)),
            )
        if result.final:
            job.log_metrics(result.final, result.updates_done)
        if result.weights is not None:  # the trained model, loadable with load_state_dict
            with tempfile.TemporaryDirectory() as tmp:
                torch.save(result.weights, Path(tmp) / FINAL_WEIGHTS)
                job.client.log_artifact(job.run_id, str(Path(tmp) / FINAL_WEIGHTS))
        if not cfg.trainer.keep_checkpoints:
            shutil.rmtree(checkpoints, ignore_errors=True)
        job.set_tags({"updates_done": str(result.updates_done), "seconds": f"{result.seconds:.1f}"})
        if result.diverged:
            job.status = "FAILED"
            job.set_tags({"diverged": "true", "failure_reason": str(result.failure_reason)})
            log.warning("%s: %s", name, result.failure_reason)
        else:
            log.info("%s: %s", name, result.final)
    _forget(trained, cfg)
    return outcome(tags, job.run_id, job.status, result.diverged, False, result.final)


@dataclass
class _Trained:
    member: member_outcome.TrainedMember
    key: str
    meta: dict[str, Any]
    path: Path


def _population_outcome(cfg: DictConfig) -> tuple[_Trained | None, DictConfig]:
    """The outcome a population launcher left for this job (and the config without its
    path: the run is logged as its solo run would be)."""
    path = OmegaConf.select(cfg, member_outcome.RESULT_KEY)
    if path is None:
        return None, cfg
    cfg = copy.deepcopy(cfg)
    with open_dict(cfg):
        cfg.trainer.population_result = None
    member = member_outcome.load(path)
    key = Path(path).stem
    return _Trained(member, key, member.meta, Path(path)), cfg


def _forget(trained: _Trained | None, cfg: DictConfig) -> None:
    """A logged member's outcome file is no longer needed."""
    if trained is not None and not cfg.trainer.keep_checkpoints:
        trained.path.unlink(missing_ok=True)


# a run's outcome carries these of its tags: what a sweep summary lists per run
OUTCOME_TAGS = ("sweep_name", "run_key", "config_key", "dataset", "method", "mu_max", "lr", "seed")
FINAL_METRICS = (
    "final_train_error",
    "final_test_error",
    "train_error_before_final_phase",
    "final_zero_one",
    "final_eval_loss",
    "final_cost",
    "final_train_accuracy",
)


def outcome(
    tags: dict[str, str],
    run_id: str,
    status: str,
    diverged: bool,
    reused: bool,
    final: dict[str, float],
) -> dict[str, Any]:
    """What ``run_job`` returns, and a sweep summary lists: the run, its cell, its result."""
    return {
        "run_id": run_id,
        "status": status,
        "diverged": diverged,
        "reused": reused,
        **{k: tags[k] for k in OUTCOME_TAGS if k in tags},
        **final,
    }
