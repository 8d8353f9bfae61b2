"""``run_job``: one Hydra job = one tracked training run, skipped if already done."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from mlflow.tracking import MlflowClient
from omegaconf import DictConfig, open_dict

from momentum_repro.data.sets import load_labelled_set, load_set
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
from momentum_repro.training.fit_autoencoder import fit_autoencoder
from momentum_repro.training.fit_moons import fit_moons, with_epoch_updates
from momentum_repro.training.fit_rnn import fit_rnn
from momentum_repro.training.loop import CHECKPOINT, FitResult
from momentum_repro.training.modules.rnn import load_eval_set
from momentum_repro.training.population.outcome import loaded_sets, trained_members
from momentum_repro.training.progress import run_name
from momentum_repro.training.validate import (
    validate_autoencoder,
    validate_optimizer,
    validate_problem,
    validate_training,
)

log = logging.getLogger(__name__)
FINAL_WEIGHTS = "final_state_dict.pt"  # artifact: the model's state_dict after the last update


def usable_cores() -> int:
    """The cores this process may run on: a SLURM job's allocation, not the whole node."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def torch_threads(setting: int | str, parallel_jobs: int = 1) -> int:
    """``auto``: the cores shared out between the jobs that run at once."""
    if setting == "auto":
        return max(1, usable_cores() // max(1, parallel_jobs))
    threads = int(setting)
    if threads < 1:
        raise ValueError(f"trainer.threads must be >= 1 or 'auto', got {setting}")
    return threads


def run_tags(cfg: DictConfig, key: str, data_meta: dict[str, Any]) -> dict[str, str]:
    """The tags the report groups and selects runs by (docs/CONVENTIONS.md)."""
    opt = cfg.optimizer
    mu_max = opt.get("mu_max")
    return {
        "sweep_name": str(cfg.sweep_name),
        "task_kind": str(cfg.data.kind),
        "dataset": str(cfg.data.name),
        "method": str(opt.name),
        "mu_max": "none" if mu_max is None else f"{float(mu_max):g}",
        "lr": f"{float(opt.lr):g}",
        "seed": str(cfg.seed),
        "init_scale": f"{float(cfg.model.get('init_scale', 1.0)):g}",
        "profile": str(cfg.profile_name),
        **({"seq_len": str(cfg.data.seq_len)} if cfg.data.kind == "rnn" else {}),
        **({"epochs": str(cfg.data.epochs)} if cfg.data.kind == "moons" else {}),
        "total_updates": str(cfg.trainer.total_updates),
        "schedule_period": str(cfg.schedule.period),
        "final_phase_updates": str(cfg.schedule.final_phase_updates),
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


@dataclass
class RunPlan:
    """A validated run, ready to train: its config, data, resume key and tags' inputs."""

    cfg: DictConfig
    data: Any  # DataSet (autoencoders), Batch (the RNN evaluation set) or LabelledSet (moons)
    data_meta: dict[str, Any]
    key: str


def plan_run(cfg: DictConfig, loaded: dict[str, Any] | None = None) -> RunPlan:
    """Validate ``cfg`` once, load its data and compute its resume key (``run_key``).

    ``loaded``: data already read, by path (a population of runs reads a set once)."""
    loaded = {} if loaded is None else loaded

    def load(path: str, reader: Any) -> Any:
        if path not in loaded:
            loaded[path] = reader(path)
        return loaded[path]

    validate_problem(cfg)
    if cfg.data.kind == "moons":  # counted in epochs: the update count follows from the set
        moons = load(cfg.data.path, load_labelled_set)
        cfg = with_epoch_updates(cfg, len(moons.labels))
    validate_optimizer(cfg)
    validate_training(cfg)
    if cfg.data.kind == "moons":
        data, data_meta = moons, moons.meta
        data_digest = hashlib.sha256(json.dumps(moons.meta, sort_keys=True).encode()).hexdigest()
    elif cfg.data.kind == "rnn":
        data = load(cfg.data.eval_path, load_eval_set)
        data_meta = {"source": "generated"}
        data_digest = hashlib.sha256(Path(cfg.data.eval_path).read_bytes()).hexdigest()
    else:
        data = load(cfg.data.path, load_set)
        validate_autoencoder(cfg, data.dim)
        data_meta = data.meta
        data_digest = hashlib.sha256(json.dumps(data.meta, sort_keys=True).encode()).hexdigest()
    return RunPlan(cfg, data, data_meta, run_key(cfg, data_digest))


def run_job(cfg: DictConfig, parallel_jobs: int = 1) -> dict[str, Any]:
    """Validate, train and log one run; return a small summary (run id, status, errors).

    A run a population has trained (``hydra/launcher=population``) is logged from its
    result here, through the same MLflow path as one trained alone."""
    plan = plan_run(cfg, loaded_sets or None)  # the sets a population launcher read
    cfg, key = plan.cfg, plan.key
    torch.set_num_threads(torch_threads(cfg.trainer.threads, parallel_jobs))
    client = MlflowClient(tracking_uri(cfg.tracking.uri))
    exp_id = experiment_id(client, cfg.tracking.experiment, cfg.tracking.artifact_root)
    tags = run_tags(cfg, key, plan.data_meta)
    if cfg.tracking.resume:
        done = find_completed_run(client, exp_id, key)
        if done is not None:
            log.info("already done, skipping: %s (MLflow run %s)", run_name(cfg), done.info.run_id)
            diverged = done.data.tags.get("diverged") == "true"
            finals = {k: v for k, v in done.data.metrics.items() if k in FINAL_METRICS}
            return outcome(tags, done.info.run_id, done.info.status, diverged, True, finals)
    checkpoints = store_root() / str(cfg.trainer.checkpoint_dir) / key
    with open_dict(cfg):
        cfg.trainer.run_checkpoints = str(checkpoints)
    resume_id = None
    if cfg.tracking.resume and (checkpoints / CHECKPOINT).exists():
        interrupted = find_resumable_run(client, exp_id, key)
        resume_id = interrupted.info.run_id if interrupted is not None else None
    trained = trained_members.pop(key, None)
    if trained is not None:
        tags["population_members"] = str(trained.members)
    with job_run(client, exp_id, cfg, tags, run_name(cfg), resume_run_id=resume_id) as job:
        if trained is not None:  # trained as a member of a population: log what it did
            result = trained.replay(job.log_metrics)
        elif cfg.data.kind == "rnn":
            result: FitResult = fit_rnn(cfg, plan.data, metric_sink=job.log_metrics)
        elif cfg.data.kind == "moons":
            result = fit_moons(
                cfg,
                plan.data,
                metric_sink=job.log_metrics,
                artifact_sink=lambda path: job.client.log_artifact(job.run_id, str(path)),
            )
        else:
            result = fit_autoencoder(cfg, plan.data, metric_sink=job.log_metrics)
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
            log.warning("%s: %s", run_name(cfg), result.failure_reason)
        else:
            log.info("%s: %s", run_name(cfg), result.final)
    return outcome(tags, job.run_id, job.status, result.diverged, False, result.final)


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


def parallel_jobs(hydra_cfg: Any) -> int:
    """How many jobs the launcher runs at once on this machine: joblib's n_jobs; submitit's
    local launcher, the whole sweep (up to its array_parallelism); 1 for the basic launcher
    and for SLURM (each job has its own allocation, counted by ``usable_cores``)."""
    launcher = hydra_cfg.get("launcher") or {}
    target = str(launcher.get("_target_", ""))
    if target.endswith("LocalLauncher"):  # submitit_local: every job of the sweep at once
        jobs = int(os.environ.get("MOMENTUM_REPRO_SWEEP_JOBS", "1"))
        return max(1, min(jobs, int(launcher.get("array_parallelism") or jobs)))
    if "joblib" not in target:
        return 1
    n_jobs = int(launcher.get("n_jobs") or 1)
    if n_jobs < 0:  # joblib: -1 is one job per core, -2 all cores but one, ...
        return max(1, usable_cores() + 1 + n_jobs)
    return n_jobs
