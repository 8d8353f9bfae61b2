"""A Hydra callback that groups a multirun's jobs under one MLflow parent run."""

from __future__ import annotations

import atexit
import logging
import os
from typing import Any

from hydra.experimental.callback import Callback
from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_RUN_NAME
from omegaconf import DictConfig

from momentum_repro.tracking.mlflow_tracking import PARENT_RUN_ENV, experiment_id, tracking_uri

log = logging.getLogger(__name__)


class MlflowSweepCallback(Callback):
    """Creates the sweep's parent run (and the SQLite schema) before any job starts.

    Jobs find the parent through an environment variable, which the basic launcher's
    in-process jobs and the joblib launcher's worker processes both inherit.
    """

    def __init__(self) -> None:
        self.client: MlflowClient | None = None
        self.parent_run_id: str | None = None

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
        # Hydra raises after the sweep when a job crashed, skipping on_multirun_end: close the
        # parent run at exit then, as FAILED, rather than leave it RUNNING
        atexit.register(self._close, "FAILED")
        log.info("MLflow parent run %s for sweep %s", self.parent_run_id, config.sweep_name)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        os.environ.pop(PARENT_RUN_ENV, None)
        self._close("FINISHED")

    def _close(self, status: str) -> None:
        if self.client is not None and self.parent_run_id is not None:
            self.client.set_terminated(self.parent_run_id, status=status)
            self.parent_run_id = None
