"""A Hydra callback that groups a multirun's jobs under one MLflow parent run, and reports
the sweep's progress (job k/N done, ETA) as its jobs end."""

from __future__ import annotations

import atexit
import logging
import os
import time
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn
from hydra.experimental.callback import Callback
from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_RUN_NAME
from omegaconf import DictConfig

from momentum_repro.durations import duration
from momentum_repro.grids import expand_grids, grids_as_written
from momentum_repro.tracking.mlflow_tracking import PARENT_RUN_ENV, experiment_id, tracking_uri

log = logging.getLogger(__name__)
SWEEP_JOBS_ENV = "MOMENTUM_REPRO_SWEEP_JOBS"  # N, for "job k/N" lines in the jobs' processes
SWEEP_START_ENV = "MOMENTUM_REPRO_SWEEP_START"  # the sweep's start (epoch seconds), for its ETA
SWEEP_LABEL_ENV = "MOMENTUM_REPRO_SWEEP_LABEL"  # the multirun's name, for its progress lines
DONE_FILE = ".jobs_done"  # in the sweep's folder: one line per ended job, from any process


def sweep_size(overrides: list[str], grids: list[list[str]] | None = None) -> int:
    """How many jobs a multirun of these command-line overrides has (``grids``: the union
    of grids of ``hydra/sweeper=grids``; none: the basic sweeper's one grid)."""
    return len(expand_grids(overrides, grids or []))


def sweep_progress_line(name: str, done: int, total: int, elapsed: float) -> str:
    """``sweep curves_quick: job 3/10 done, 1m40s elapsed, ETA 3m53s``."""
    line = f"sweep {name}: job {done}/{total} done, {duration(elapsed)} elapsed"
    if 0 < done < total:
        line += f", ETA {duration(elapsed / done * (total - done))}"
    return line


def sweep_names_of(jobs: list[list[str]], default: str) -> list[str]:
    """The ``sweep_name`` of each job's overrides (the last one wins, as in Hydra), in order
    of first appearance; ``default`` (the multirun's own) for a job that sets none."""
    names: list[str] = []
    for job in jobs:
        name = default
        for override in job:
            if override.startswith("sweep_name="):
                name = override.split("=", 1)[1]
        if name not in names:
            names.append(name)
    return names


class MlflowSweepCallback(Callback):
    """Creates the sweep's parent run (and the SQLite schema) before any job starts.

    A multirun of several sweeps (``sweep_plan.union_overrides``: jobs that set their own
    ``sweep_name``) gets one parent run per sweep, each job under its own sweep's parent, as
    if each sweep had run in its own multirun.

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

    @property
    def parent_run_id(self) -> str | None:
        """The parent run of a one-sweep multirun (the first sweep's otherwise)."""
        return next(iter(self.parent_run_ids.values()), None)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
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
                jobs = expand_grids(list(config.hydra.overrides.task), grids_as_written(sweeper))
                size = len(jobs)
                names = sweep_names_of(jobs, str(config.sweep_name))
            os.environ[SWEEP_JOBS_ENV] = str(size)
        except Exception:
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
        """In the job's own process (a joblib worker too): count it done, log k/N and ETA."""
        total, start = os.environ.get(SWEEP_JOBS_ENV), os.environ.get(SWEEP_START_ENV)
        hydra = HydraConfig.get() if HydraConfig.initialized() else None
        if total is None or start is None or hydra is None or hydra.mode is None:
            return
        if str(hydra.mode) != "RunMode.MULTIRUN":
            return
        done_file = Path(hydra.sweep.dir) / DONE_FILE
        with open(done_file, "a") as out:  # O_APPEND: whole lines from concurrent jobs
            out.write(f"{hydra.job.num}\n")
        done = len(done_file.read_text().splitlines())
        label = os.environ.get(SWEEP_LABEL_ENV, str(config.sweep_name))
        line = sweep_progress_line(label, done, int(total), time.time() - float(start))
        log.info(line)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        os.environ.pop(PARENT_RUN_ENV, None)
        os.environ.pop(SWEEP_JOBS_ENV, None)
        self.job_env = {}
        self._close("FINISHED")

    def _close(self, status: str) -> None:
        if self.client is not None:
            for run_id in self.parent_run_ids.values():
                self.client.set_terminated(run_id, status=status)
        self.parent_run_ids = {}
