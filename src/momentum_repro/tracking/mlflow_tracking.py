"""MLflow on SQLite: the store, job runs under a sweep's parent run, and lookup for resume."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME
from omegaconf import DictConfig, OmegaConf

PARENT_RUN_ENV = "MOMENTUM_REPRO_PARENT_RUN_ID"
# Keys that do not change what a run computes: left out of the resume key. The profile's
# tables (updates, ...) are left out too: what a run uses of them is in trainer/schedule.
RUNTIME_KEYS = (
    "tracking",
    "trainer.progress_bar",
    "trainer.heartbeat_seconds",
    "trainer.threads",
    "updates.",
    "rnn_warmup_updates",
    "final_phase_updates",
)
PACKAGE_DIR = Path(__file__).resolve().parents[1]


def tracking_uri(uri: str) -> str:
    """``MLFLOW_TRACKING_URI`` if set, else ``uri`` with a relative SQLite path made absolute."""
    uri = os.environ.get("MLFLOW_TRACKING_URI", uri)
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri[len(prefix) :].startswith("/"):
        uri = prefix + str(Path(uri[len(prefix) :]).resolve())
    if not uri.startswith(("sqlite:", "http:", "https:", "postgresql", "mysql")):
        raise ValueError(
            f"tracking.uri={uri!r}: use a database URI such as sqlite:///mlflow.db "
            "(MLflow 3.17 refuses the ./mlruns file store)"
        )
    return uri


def experiment_id(client: MlflowClient, name: str, artifact_root: str | Path) -> str:
    """The experiment's id, creating it (and the SQLite schema) on first use."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = Path(artifact_root).resolve().as_uri()
    try:
        return client.create_experiment(name, artifact_location=location)
    except Exception:  # another job created it first
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """``{"optimizer.lr": "0.01", ...}``: nested config as MLflow params."""
    flat: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = json.dumps(value) if isinstance(value, list) else str(value)
    return flat


@functools.cache
def library_digest() -> str:
    """A digest of the library's own files: a run made by other code is another run."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*")):
        if path.suffix in {".py", ".yaml", ".json"} and "__pycache__" not in path.parts:
            digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def run_key(cfg: DictConfig, data_digest: str = "") -> str:
    """A digest of what the run computes: the config (less runtime-only keys), the data it
    reads (``data_digest``) and the library's code. A sweep resumed with the same three
    skips the run; a change to any of them runs it again."""
    resolved = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(resolved, dict)
    flat = flatten(resolved)
    kept = {k: v for k, v in flat.items() if not k.startswith(RUNTIME_KEYS)}
    kept["@data"] = data_digest
    kept["@code"] = library_digest()
    return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()[:16]


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def find_completed_run(client: MlflowClient, exp_id: str, key: str) -> Any | None:
    """The newest run with this ``run_key`` that finished or diverged (a diverged run is a result)."""
    runs = client.search_runs(
        [exp_id],
        filter_string=f"tags.run_key = '{key}' and tags.run_kind = 'job'",
        order_by=["attributes.start_time DESC"],
    )
    for run in runs:
        if run.info.status == "FINISHED" or run.data.tags.get("diverged") == "true":
            return run
    return None


class JobRun:
    """One training job's MLflow run: metrics are buffered per call into one batch write."""

    def __init__(self, client: MlflowClient, run_id: str) -> None:
        self.client = client
        self.run_id = run_id
        self.status = "FINISHED"  # set to "FAILED" for a diverged run

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        stamp = _now_ms()
        batch = [Metric(k, float(v), stamp, step) for k, v in metrics.items()]
        self.client.log_batch(self.run_id, metrics=batch)

    def set_tags(self, tags: Mapping[str, str]) -> None:
        self.client.log_batch(self.run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])


def _now_ms() -> int:
    return int(time.time() * 1000)


@contextmanager
def job_run(
    client: MlflowClient,
    exp_id: str,
    cfg: DictConfig,
    tags: Mapping[str, str],
    run_name: str,
) -> Iterator[JobRun]:
    """Start a job run (child of the sweep's parent run when there is one), log its params,
    tags and resolved config; on an exception the run ends FAILED with the reason as a tag."""
    all_tags = {"run_kind": "job", MLFLOW_RUN_NAME: run_name, **tags}
    parent = os.environ.get(PARENT_RUN_ENV)
    if parent:
        all_tags[MLFLOW_PARENT_RUN_ID] = parent
        all_tags["sweep_id"] = parent  # the Hydra multirun this job belongs to
    run = client.create_run(exp_id, tags=all_tags, run_name=run_name)
    job = JobRun(client, run.info.run_id)
    try:
        resolved = OmegaConf.to_container(cfg, resolve=True)
        assert isinstance(resolved, dict)
        params = [Param(k, v[:6000]) for k, v in flatten(resolved).items()]
        for i in range(0, len(params), 100):
            client.log_batch(job.run_id, params=params[i : i + 100])
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "config.yaml"
            path.write_text(OmegaConf.to_yaml(cfg, resolve=True))
            client.log_artifact(job.run_id, str(path))
        yield job
        client.set_terminated(job.run_id, status=job.status)
    except BaseException as error:
        reason = f"{type(error).__name__}: {error}"[:5000]
        job.set_tags({"failure_reason": reason, "diverged": "false"})
        client.set_terminated(job.run_id, status="FAILED")
        raise
