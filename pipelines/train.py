"""Train one run, or a sweep with -m: ``python pipelines/train.py -m optimizer=cm,nag ...``."""

from __future__ import annotations

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> dict:
    # imported here: a multirun's launching process then skips torch, Lightning and MLflow
    # (seconds per sweep); the jobs import them where they run
    from momentum_repro.training.run import parallel_jobs, run_job

    return run_job(cfg, parallel_jobs=parallel_jobs(HydraConfig.get()))


if __name__ == "__main__":
    main()
