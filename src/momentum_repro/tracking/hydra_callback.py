"""A Hydra callback that groups a multirun's jobs under one MLflow parent run, reports the
sweep's progress (job k/N done, ETA) as its jobs end, and writes each sweep's summary
(``tracking/summary.py``) when the multirun ends."""

from __future__ import annotations

import atexit
import logging
import os
import time
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_RUN_NAME
from omegaconf import DictConfig, OmegaConf

from momentum_repro.tracking.mlflow_tracking import (
    PARENT_RUN_ENV,
    experiment_id,
    store_root,
    tracking_uri,
)
from momentum_repro.tracking.progress import sweep_progress_line
from momentum_repro.tracking.summary import record_crash, write_summaries
from momentum_repro.tracking.sweep_grids import expand_grids, grids_as_written

log = logging.getLogger(__name__)
SWEEP_JOBS_ENV = "MOMENTUM_REPRO_SWEEP_JOBS"  # N, for "job k/N" lines in the jobs' processes
SWEEP_START_ENV = "MOMENTUM_REPRO_SWEEP_START"  # the sweep's start (epoch seconds), for its ETA
SWEEP_LABEL_ENV = "MOMENTUM_REPRO_SWEEP_LABEL"  # the multirun's name, for its progress lines
DONE_FILE = ".jobs_done"  # in the sweep's folder: one line per ended job, from any process


def sweep_jobs() -> int | None:
    """The number of jobs of the multirun this process runs a job of (None: unknown)."""
    jobs = os.environ.get(SWEEP_JOBS_ENV)
    return int(jobs) if jobs else None


def multirun_jobs(
    overrides: list[str], grids: list[list[str]] | None = None, params: dict | None = None
) -> list[list[str]]:
    """The job list of a multirun of these command-line overrides, as its sweeper expands
    it: ``params`` (``hydra.sweeper.params``, e.g. an experiment's grid) come first, the
    command line after them; ``grids``: the union of grids of ``hydra/sweeper=grids``."""
    swept = [f"{key}={value}" for key, value in (params or {}).items()]
    return expand_grids([*swept, *overrides], grids or [])


def sweep_names_of(jobs: list[list[str]], default: str, own: str | None = None) -> list[str]:
    """The ``sweep_name`` each job sets (the last one wins, as in Hydra), as its config
    will read it, in order of first appearance. ``default``: the multirun's own, resolved,
    for a job that sets none or sets the multirun's own override ``own`` (the command
    line's ``sweep_name=...``, which may hold an interpolation)."""
    parser = OverridesParser.create()
    names: list[str] = []
    for job in jobs:
        name = default
        for text in job:
            if not text.startswith("sweep_name="):
                continue
            value = parser.parse_override(text).value()
            name = default if text == own or not isinstance(value, str) else value
        if name not in names:
            names.append(name)
    return names


class MlflowSweepCallback(Callback):
    """Creates the sweep's parent run (and the SQLite schema) before any job starts.

    A multirun of several sweeps (jobs that set their own ``sweep_name``) gets one parent run
    per sweep, each job under its own sweep's parent, as if each sweep had run in its own
    multirun; when it ends, each sweep gets its summary (``tracking/summary.py``).

    Jobs find their parent through an environment variable set by ``on_job_start``, which
    Hydra calls in the job's own process: the basic launcher's in-process jobs, the joblib
    launcher's worker processes, and a job that runs elsewhere (submitit: a SLURM node, where
    the scheduler may not export the submitting shell's environment), which gets this
    callback pickled with it.
    """

    def __init__(self) -> None:
        self.client: MlflowClient | None = None
        self.parent_run_ids: dict[str, str] = {}  # sweep_name -> its parent run, while open
        self.job_env: dict[str, str] = {}  # what on_job_start sets in a job's own process
        self.sweep_dir: Path | None = None  # where the jobs record their outcomes
        self.summary_dir: Path | None = None  # where each sweep's summary goes

    @property
    def parent_run_id(self) -> str | None:
        """The parent run of a one-sweep multirun (the first sweep's otherwise)."""
        return next(iter(self.parent_run_ids.values()), None)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self.sweep_dir = Path(str(config.hydra.sweep.dir))
        self.summary_dir = store_root() / str(config.tracking.summary_dir)
        self.client = MlflowClient(tracking_uri(config.tracking.uri))
        exp_id = experiment_id(
            self.client, config.tracking.experiment, config.tracking.artifact_root
        )
        names = [str(config.sweep_name)]
        try:  # the grid's size; a search sweeper (Optuna) says its number of trials
            sweeper = config.hydra.sweeper
            if "n_trials" in sweeper:
                size = int(sweeper.n_trials)
            else:
                task = list(config.hydra.overrides.task)
                node = sweeper.get("params")
                params = OmegaConf.to_container(node, resolve=True) if node else {}
                assert isinstance(params, dict)
                jobs = multirun_jobs(task, grids_as_written(sweeper), params)
                size = len(jobs)
                own = next((o for o in reversed(task) if o.startswith("sweep_name=")), None)
                names = sweep_names_of(jobs, str(config.sweep_name), own)
            os.environ[SWEEP_JOBS_ENV] = str(size)
        except Exception as error:  # progress lines and per-sweep parents need the job list
            log.warning("could not list the multirun's jobs (%s): one parent run, no ETA", error)
            os.environ.pop(SWEEP_JOBS_ENV, None)
        for name in names:
            run_name = f"sweep {name}"
            run = self.client.create_run(
                exp_id,
                tags={"run_kind": "sweep", "sweep_name": name, MLFLOW_RUN_NAME: run_name},
                run_name=run_name,
            )
            self.parent_run_ids[name] = run.info.run_id
            log.info("MLflow parent run %s for sweep %s", run.info.run_id, name)
        os.environ[PARENT_RUN_ENV] = self.parent_run_ids[names[0]]
        os.environ[SWEEP_START_ENV] = str(time.time())
        self.job_env = {
            k: os.environ[k] for k in (SWEEP_START_ENV, SWEEP_JOBS_ENV) if k in os.environ
        }
        self.job_env[SWEEP_LABEL_ENV] = str(config.sweep_name)
        # Hydra raises after the sweep when a job crashed, skipping on_multirun_end: close the
        # parent runs at exit then, as FAILED, rather than leave them RUNNING
        atexit.register(self._close, "FAILED")

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        """In the job's own process, before the run starts: its sweep's parent run id (and
        progress counters), set even where the environment was not inherited, and overriding
        a value left by an earlier sweep in a reused worker process."""
        os.environ.update(self.job_env)
        parent = self.parent_run_ids.get(str(config.get("sweep_name")), self.parent_run_id)
        if parent is not None:
            os.environ[PARENT_RUN_ENV] = parent

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        """In the job's own process (a joblib worker too): record a job that crashed before
        it recorded its outcome; count it done, log k/N and ETA."""
        hydra = HydraConfig.get() if HydraConfig.initialized() else None
        multirun = hydra is not None and str(hydra.mode) == "RunMode.MULTIRUN"
        if job_return.status == JobStatus.FAILED and multirun:
            assert hydra is not None
            error = job_return._return_value  # the exception the task raised
            record_crash(
                hydra.sweep.dir,
                str(config.get("sweep_name")),
                int(hydra.job.num),
                list(job_return.overrides or []),
                f"{type(error).__name__}: {error}",
            )
        total, start = os.environ.get(SWEEP_JOBS_ENV), os.environ.get(SWEEP_START_ENV)
        if total is None or start is None or hydra is None or hydra.mode is None:
            return
        if str(hydra.mode) != "RunMode.MULTIRUN":
            return
        done_file = Path(hydra.sweep.dir) / DONE_FILE
        with open(done_file, "a") as out:  # O_APPEND: whole lines from concurrent jobs
            out.write(f"{hydra.job.num}\n")
        done = len(done_file.read_text().splitlines())
        label = os.environ.get(SWEEP_LABEL_ENV, str(config.sweep_name))
        elapsed = time.time() - float(start)
        line = sweep_progress_line(label, done, int(total), elapsed)
        log.info(line)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        os.environ.pop(PARENT_RUN_ENV, None)
        os.environ.pop(SWEEP_JOBS_ENV, None)
        self.job_env = {}
        self._close("FINISHED")

    def _close(self, status: str) -> None:
        """Write each sweep's summary (a failed multirun's marked incomplete) and end each
        sweep's parent run with the multirun's status. After a multirun that
        ended well, a parent none of whose jobs ran (all were already done) is deleted
        (MLflow keeps it, restorable), so that a sweep's newest parent, where the report
        logs its files, is one with runs. A failed multirun keeps every parent, FAILED: a
        job that died before logging names no sweep."""
        if self.sweep_dir is not None and self.summary_dir is not None:
            for path in write_summaries(self.sweep_dir, self.summary_dir, status == "FINISHED"):
                log.info("sweep summary: %s", path)
            self.sweep_dir = None
        if self.client is not None:
            for name, run_id in self.parent_run_ids.items():
                if status == "FINISHED" and not self._has_jobs(run_id):
                    self.client.delete_run(run_id)
                    log.info("sweep %s: every job was already done; no parent run kept", name)
                else:
                    self.client.set_terminated(run_id, status=status)
        self.parent_run_ids = {}

    def _has_jobs(self, run_id: str) -> bool:
        assert self.client is not None
        experiment = self.client.get_run(run_id).info.experiment_id
        found = self.client.search_runs(
            [experiment], f"tags.mlflow.parentRunId = '{run_id}'", max_results=1
        )
        return bool(found)
