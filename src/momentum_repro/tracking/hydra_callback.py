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
from omegaconf import DictConfig, OmegaConf

from momentum_repro.durations import duration
from momentum_repro.grids import expand_grids
from momentum_repro.tracking.mlflow_tracking import PARENT_RUN_ENV, experiment_id, tracking_uri

log = logging.getLogger(__name__)
SWEEP_JOBS_ENV = "MOMENTUM_REPRO_SWEEP_JOBS"  # N, for "job k/N" lines in the jobs' processes
SWEEP_START_ENV = "MOMENTUM_REPRO_SWEEP_START"  # the sweep's start (epoch seconds), for its ETA
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


class MlflowSweepCallback(Callback):
    """Creates the sweep's parent run (and the SQLite schema) before any job starts.

    Jobs find the parent through an environment variable, which the basic launcher's
    in-process jobs and the joblib launcher's worker processes both inherit. A job that runs
    elsewhere (submitit: a SLURM node, where the scheduler may not export the submitting
    shell's environment) gets it from this callback, which Hydra pickles with each job.
    """

    def __init__(self) -> None:
        self.client: MlflowClient | None = None
        self.parent_run_id: str | None = None
        self.job_env: dict[str, str] = {}  # what on_job_start sets in a job's own process

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self.client = MlflowClient(tracking_uri(config.tracking.uri))
        exp_id = experiment_id(
            self.client, config.tracking.experiment, config.tracking.artifact_root
        )
        name = f"sweep {config.sweep_name}"
        run = self.client.create_run(
            exp_id,
            tags={"run_kind": "sweep", "sweep_name": config.sweep_name, MLFLOW_RUN_NAME: name},
            run_name=name,
        )
        self.parent_run_id = run.info.run_id
        os.environ[PARENT_RUN_ENV] = self.parent_run_id
        os.environ[SWEEP_START_ENV] = str(time.time())
        try:  # the grid's size; a search sweeper (Optuna) says its number of trials
            sweeper = config.hydra.sweeper
            if "n_trials" in sweeper:
                size = int(sweeper.n_trials)
            else:
                grids = OmegaConf.to_container(sweeper.get("grids") or [])
                size = sweep_size(list(config.hydra.overrides.task), grids)  # type: ignore[arg-type]
            os.environ[SWEEP_JOBS_ENV] = str(size)
        except Exception:
            os.environ.pop(SWEEP_JOBS_ENV, None)
        self.job_env = {
            k: os.environ[k]
            for k in (PARENT_RUN_ENV, SWEEP_START_ENV, SWEEP_JOBS_ENV)
            if k in os.environ
        }
        # Hydra raises after the sweep when a job crashed, skipping on_multirun_end: close the
        # parent run at exit then, as FAILED, rather than leave it RUNNING
        atexit.register(self._close, "FAILED")
        log.info("MLflow parent run %s for sweep %s", self.parent_run_id, config.sweep_name)

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        """In the job's own process, before the run starts: this sweep's parent run id (and
        progress counters), set even where the environment was not inherited, and overriding
        a value left by an earlier sweep in a reused worker process."""
        os.environ.update(self.job_env)

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
        line = sweep_progress_line(config.sweep_name, done, int(total), time.time() - float(start))
        log.info(line)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        os.environ.pop(PARENT_RUN_ENV, None)
        os.environ.pop(SWEEP_JOBS_ENV, None)
        self.job_env = {}
        self._close("FINISHED")

    def _close(self, status: str) -> None:
        if self.client is not None and self.parent_run_id is not None:
            self.client.set_terminated(self.parent_run_id, status=status)
            self.parent_run_id = None
