"""``run_job``: one Hydra job = one tracked training run, skipped if already done."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import torch
from mlflow.tracking import MlflowClient
from omegaconf import DictConfig

from momentum_repro.data.sets import load_set
from momentum_repro.tracking.mlflow_tracking import (
    experiment_id,
    find_completed_run,
    git_commit,
    job_run,
    run_key,
    tracking_uri,
)
from momentum_repro.training.fit import fit_autoencoder
from momentum_repro.training.fit_rnn import fit_rnn
from momentum_repro.training.progress import run_name
from momentum_repro.training.rnn_module import load_eval_set
from momentum_repro.training.trainer import FitResult
from momentum_repro.training.validate import (
    validate_autoencoder,
    validate_optimizer,
    validate_problem,
    validate_training,
)

log = logging.getLogger(__name__)


def torch_threads(setting: int | str, parallel_jobs: int = 1) -> int:
    """``auto``: the cores shared out between the jobs that run at once."""
    if setting == "auto":
        return max(1, (os.cpu_count() or 1) // max(1, parallel_jobs))
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
        "total_updates": str(cfg.trainer.total_updates),
        "schedule_period": str(cfg.schedule.period),
        "final_phase_updates": str(cfg.schedule.final_phase_updates),
        "run_key": key,
        "git_commit": git_commit(),
        "data_source": str(data_meta.get("source", "unknown")),
        # sha256 of the raw files the set was built from (meta.json), shortened for the UI
        "data_inputs": json.dumps({k: v[:16] for k, v in data_meta.get("inputs", {}).items()}),
        "flush_denormal": str(bool(cfg.trainer.flush_denormal)).lower(),
        "diverged": "false",
    }


def run_job(cfg: DictConfig, parallel_jobs: int = 1) -> dict[str, Any]:
    """Validate, train and log one run; return a small summary (run id, status, errors)."""
    validate_problem(cfg)
    validate_optimizer(cfg)
    validate_training(cfg)
    if cfg.data.kind == "rnn":
        eval_set = load_eval_set(cfg.data.eval_path)
        data_meta = {"source": "generated"}
        data_digest = hashlib.sha256(Path(cfg.data.eval_path).read_bytes()).hexdigest()
    else:
        data = load_set(cfg.data.path)
        validate_autoencoder(cfg, data.dim)
        data_meta = data.meta
        data_digest = hashlib.sha256(json.dumps(data.meta, sort_keys=True).encode()).hexdigest()
    torch.set_num_threads(torch_threads(cfg.trainer.threads, parallel_jobs))
    client = MlflowClient(tracking_uri(cfg.tracking.uri))
    exp_id = experiment_id(client, cfg.tracking.experiment, cfg.tracking.artifact_root)
    key = run_key(cfg, data_digest)
    if cfg.tracking.resume:
        done = find_completed_run(client, exp_id, key)
        if done is not None:
            log.info("already done, skipping: %s (MLflow run %s)", run_name(cfg), done.info.run_id)
            return {"run_id": done.info.run_id, "status": done.info.status, "reused": True}
    tags = run_tags(cfg, key, data_meta)
    with job_run(client, exp_id, cfg, tags, run_name(cfg)) as job:
        if cfg.data.kind == "rnn":
            result: FitResult = fit_rnn(cfg, eval_set, metric_sink=job.log_metrics)
        else:
            result = fit_autoencoder(cfg, data, metric_sink=job.log_metrics)
        if result.final:
            job.log_metrics(result.final, result.updates_done)
        job.set_tags({"updates_done": str(result.updates_done), "seconds": f"{result.seconds:.1f}"})
        if result.diverged:
            job.status = "FAILED"
            job.set_tags({"diverged": "true", "failure_reason": str(result.failure_reason)})
            log.warning("%s: %s", run_name(cfg), result.failure_reason)
        else:
            log.info("%s: %s", run_name(cfg), result.final)
    return {
        "run_id": job.run_id,
        "status": job.status,
        "diverged": result.diverged,
        "reused": False,
        **result.final,
    }


def parallel_jobs(hydra_cfg: Any) -> int:
    """How many jobs the launcher runs at once (joblib's n_jobs; 1 for the basic launcher)."""
    launcher = hydra_cfg.get("launcher") or {}
    if "joblib" not in str(launcher.get("_target_", "")):
        return 1
    n_jobs = int(launcher.get("n_jobs") or 1)
    return os.cpu_count() or 1 if n_jobs < 0 else n_jobs
