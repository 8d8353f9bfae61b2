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
# tables (updates, seeds, ...) are left out too: what a run uses of them is in trainer,
# schedule, data and its own seed.
RUNTIME_KEYS = (
    "tracking",
    "trainer.progress_bar",
    "trainer.heartbeat_seconds",
    "trainer.checkpoint_every",
    "trainer.keep_checkpoints",
    "trainer.checkpoint_dir",
    "trainer.run_checkpoints",
    "trainer.threads",
    "updates.",
    "rnn_warmup_updates",
    "final_phase_updates",
    "seeds",
    "rnn_seq_len",
    "schedule_period",
    "trainer.population_result",
)
PACKAGE_DIR = Path(__file__).resolve().parents[1]


DVC_TEMP_EXPS = os.path.join(".dvc", "tmp", "exps")


def store_root(cwd: str | Path | None = None) -> Path:
    """The folder relative store paths (``mlflow.db``, ``mlartifacts``) are taken from: the
    working directory, except in a ``dvc exp run --temp`` copy (``<repo>/.dvc/tmp/exps/...``),
    whose runs go to the repository it came from rather than a store that is thrown away."""
    here = Path(cwd or Path.cwd()).resolve()
    marker = os.sep + DVC_TEMP_EXPS + os.sep
    text = str(here) + os.sep
    if marker in text:
        return Path(text.split(marker)[0])
    return here


def tracking_uri(uri: str) -> str:
    """``MLFLOW_TRACKING_URI`` if set, else ``uri`` with a relative SQLite path made absolute
    (from ``store_root()``)."""
    uri = os.environ.get("MLFLOW_TRACKING_URI", uri)
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri[len(prefix) :].startswith("/"):
        uri = prefix + str(store_root() / uri[len(prefix) :])
    if not uri.startswith(("sqlite:", "http:", "https:", "postgresql", "mysql")):
        raise ValueError(
            f"tracking.uri={uri!r}: use a database URI such as sqlite:///mlflow.db "
            "(MLflow 3.17 refuses the ./mlruns file store)"
        )
    return uri


def configured_store(conf_dir: str | Path = "conf") -> tuple[str, str, Path]:
    """(tracking URI, experiment name, summary folder) of ``conf/tracking/mlflow.yaml``:
    where the report finds the runs and sweep summaries ``pipelines/train.py`` writes."""
    tracking = OmegaConf.load(Path(conf_dir) / "tracking" / "mlflow.yaml")
    summaries = store_root() / str(tracking.summary_dir)
    return tracking_uri(str(tracking.uri)), str(tracking.experiment), summaries


def runs_view_url(uri: str, experiment: str, port: int, host: str = "127.0.0.1") -> str:
    """The MLflow UI's page of an experiment's runs (MLflow 3 opens an experiment on another
    tab): ``http://127.0.0.1:5000/#/experiments/1/runs``; the experiments list before any run."""
    found = MlflowClient(tracking_uri(uri)).get_experiment_by_name(experiment)
    page = f"#/experiments/{found.experiment_id}/runs" if found is not None else "#/experiments"
    return f"http://{host}:{port}/{page}"


def is_server_uri(uri: str) -> bool:
    """True for an MLflow tracking server (``http(s)://``), False for a database URI."""
    return uri.startswith(("http:", "https:"))


def experiment_id(client: MlflowClient, name: str, artifact_root: str | Path) -> str:
    """The experiment's id, creating it (and the SQLite schema) on first use. A tracking server
    (http URI) chooses the artifact location itself (``mlflow-artifacts:/`` with
    ``--serve-artifacts``): a local folder of this machine would not exist on the server or on
    another client, so ``artifact_root`` is used for database URIs only."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = None
    if not is_server_uri(client.tracking_uri):
        location = (store_root() / Path(artifact_root)).resolve().as_uri()
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


# What a run computes with: a change here reruns it. Not here, so a change reruns nothing:
# how a run is checked, named, logged, resumed, tuned, launched or reported (training/run.py,
# checks.py, progress.py, tuning.py, population/launch.py and outcome.py, tracking/, report/,
# the downloader). The data a run reads is hashed on its own (``data_digest``).
EXECUTED_CODE = (
    "optim",
    "models",
    "workloads",
    "data/sets.py",
    "data/rnn_tasks.py",
    "runtime.py",
    "report/boundary.py",  # the decision boundary a moons run computes and logs
    "training/fit.py",
    "training/loop.py",
    "training/callbacks.py",
    "training/modules",
    "training/optimizers.py",
    "training/hessian_free_config.py",
    "training/population/fit.py",
    "training/population/graphed.py",
    "training/population/members.py",
    "training/population/module.py",
    "training/population/momentum.py",
)


def code_digest(package: Path = PACKAGE_DIR) -> str:
    """A digest of the code a run computes with (``EXECUTED_CODE`` under ``package``)."""
    digest = hashlib.sha256()
    for name in EXECUTED_CODE:
        root = package / name
        paths = sorted(root.rglob("*")) if root.is_dir() else [root]
        for path in paths:
            if path.suffix in {".py", ".yaml", ".json"} and "__pycache__" not in path.parts:
                digest.update(path.relative_to(package).as_posix().encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


@functools.cache
def library_digest() -> str:
    """The digest of the installed code (``code_digest``): a run made by other code is
    another run."""
    return code_digest()


def _computed_config(cfg: DictConfig) -> dict[str, str]:
    resolved = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(resolved, dict)
    return {k: v for k, v in flatten(resolved).items() if not k.startswith(RUNTIME_KEYS)}


def _digest(values: Mapping[str, str]) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]


def config_key(cfg: DictConfig) -> str:
    """A digest of the config alone (less runtime-only keys): the same cell of a sweep, made
    by any version of the code or data."""
    return _digest(_computed_config(cfg))


def run_key(cfg: DictConfig, data_digest: str = "") -> str:
    """A digest of what the run computes: the config (less runtime-only keys), the data it
    reads (``data_digest``) and the library code it executes (``library_digest``). A sweep
    resumed with the same three skips the run; a change to any of them runs it again."""
    kept = _computed_config(cfg)
    kept["@data"] = data_digest
    kept["@code"] = library_digest()
    return _digest(kept)


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


def find_resumable_run(client: MlflowClient, exp_id: str, key: str) -> Any | None:
    """The newest run with this ``run_key`` that was interrupted (still RUNNING after a kill,
    KILLED, or FAILED without diverging): a run a checkpoint may continue."""
    runs = client.search_runs(
        [exp_id],
        filter_string=f"tags.run_key = '{key}' and tags.run_kind = 'job'",
        order_by=["attributes.start_time DESC"],
    )
    for run in runs:
        if (
            run.info.status in ("RUNNING", "KILLED", "FAILED")
            and run.data.tags.get("diverged") != "true"
        ):
            return run
    return None


def last_logged_step(client: MlflowClient, run_id: str) -> int:
    """The largest step any metric of the run was logged at (-1: none)."""
    run = client.get_run(run_id)
    steps = [m.step for key in run.data.metrics for m in client.get_metric_history(run_id, key)]
    return max(steps, default=-1)


class JobRun:
    """One training job's MLflow run: metrics are buffered per call into one batch write.

    A resumed run drops the curve points it logged before it was killed (``after_step``): the
    resumed trajectory is the same, so they would only be duplicates."""

    def __init__(self, client: MlflowClient, run_id: str, after_step: int = -1) -> None:
        self.client = client
        self.run_id = run_id
        self.after_step = after_step
        self.status = "FINISHED"  # set to "FAILED" for a diverged run

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        if step <= self.after_step:
            return
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
    resume_run_id: str | None = None,
) -> Iterator[JobRun]:
    """Start a job run (child of the sweep's parent run when there is one), log its params,
    tags and resolved config; on an exception the run ends FAILED with the reason as a tag.

    ``resume_run_id``: continue that run instead (same run id; its params and config are
    already logged; curve points up to its last logged step are not logged again)."""
    if resume_run_id is not None:
        client.update_run(resume_run_id, status="RUNNING")
        job = JobRun(client, resume_run_id, after_step=last_logged_step(client, resume_run_id))
        job.set_tags({"resumed": "true"})
        try:
            yield job
            client.set_terminated(job.run_id, status=job.status)
        except BaseException as error:
            job.set_tags({"failure_reason": f"{type(error).__name__}: {error}"[:5000]})
            client.set_terminated(job.run_id, status="FAILED")
            raise
        return
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
