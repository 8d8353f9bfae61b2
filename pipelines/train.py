"""Train one run, or a sweep with -m: ``python pipelines/train.py -m experiment=claims_rnn``."""

from __future__ import annotations

import os
import sys

try:  # a python without the project (a dvc or python outside .venv) is told what to do
    import hydra
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from omegaconf import DictConfig

    from momentum_repro.errors import UserInputError
    from momentum_repro.training import config  # noqa: F401  registers the config schemas
except ModuleNotFoundError as missing:
    from project_missing import exit_without_project

    exit_without_project(missing)


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> dict | float:
    """One run; its outcome, or for a search sweeper (Optuna) the objective it minimises."""
    from momentum_repro.training.checks import check_config
    from momentum_repro.training.tuning import apply_momentum_gap, objective

    hydra_cfg = HydraConfig.get()
    cfg = apply_momentum_gap(cfg)
    try:
        check_config(cfg)  # a config error is one line, before torch, Lightning and MLflow load
        # imported here: a multirun's launching process then skips them (seconds per sweep);
        # the jobs import them where they run
        from momentum_repro.runtime import parallel_jobs
        from momentum_repro.tracking.hydra_callback import sweep_jobs
        from momentum_repro.training.run import run_job

        outcome = run_job(cfg, parallel_jobs=parallel_jobs(hydra_cfg.get("launcher"), sweep_jobs()))
    except UserInputError as error:  # one line, nothing logged; traceback: HYDRA_FULL_ERROR=1
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        print(f"error: {error}", file=sys.stderr, flush=True)
        if hydra_cfg.mode == RunMode.MULTIRUN:
            raise  # this job failed: the multirun records it, runs the others, then fails
        raise SystemExit(2) from None
    from momentum_repro.tracking.mlflow_tracking import store_root
    from momentum_repro.tracking.summary import add_single_run, record_job

    if hydra_cfg.mode == RunMode.MULTIRUN:
        record_job(hydra_cfg.sweep.dir, {**outcome, "job": hydra_cfg.job.num})
    else:
        add_single_run(store_root() / str(cfg.tracking.summary_dir), outcome)
        name = outcome["sweep_name"]
        print(
            f"run {outcome['run_id']} ({outcome['status'].lower()}) is in sweep {name}; "
            f"report it beside the default sweeps: python pipelines/report.py --add {name}",
            flush=True,
        )
    if "optuna" in str(hydra_cfg.sweeper.get("_target_", "")):
        return objective(cfg, outcome)
    return outcome


if __name__ == "__main__":
    main()
