"""``hydra/launcher=population``: a multirun's jobs trained as populations, each logged as
its own job as soon as its population ends.

    python pipelines/train.py -m hydra/launcher=population optimizer=cm,nag \\
        optimizer.mu_max=0.9,0.99 optimizer.lr=0.01,0.005 profile=tiny

The launcher composes every job's config, groups the jobs that can share a population (same
data, architecture, trainer, update count and profile; CM, NAG and SGD members mixed, any lr,
mu_max and seed) and trains each group as one stacked model, up to ``max_members`` members a
population (a larger group is split evenly). When a population ends, the jobs of its members
run as Hydra's basic launcher runs a job, each given its member's outcome in its own config
(``trainer.population_result``): it logs the run its population trained (the same MLflow run,
tags, curves, config and ``run_key`` as the solo run of that config). Then the jobs with no
population form (Hessian-free, a ``torch.optim`` optimizer, a lone member) train alone, in
this process, on all cores. A job already finished in MLflow is skipped, as always.

Hydra finds the launcher by its namespace-package rule (``hydra_plugins.*``).
"""

# No ``from __future__ import annotations``: see momentum_repro_sweeper/grids_sweeper.py.
import copy
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence  # noqa: UP035

from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, configure_log, filter_overrides, run_job, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

log = logging.getLogger(__name__)


@dataclass
class PopulationLauncherConf:
    _target_: str = "hydra_plugins.population_launcher.population_launcher.PopulationLauncher"
    max_members: int = 32  # members per population; a larger group is split evenly
    cuda_graph: bool = True  # on a GPU, an update is one CUDA graph replay (same numbers)


ConfigStore.instance().store(
    group="hydra/launcher",
    name="population",
    node=PopulationLauncherConf,
    provider="momentum_repro",
)


class PopulationLauncher(Launcher):
    def __init__(self, max_members: int = 32, cuda_graph: bool = True) -> None:
        super().__init__()
        if max_members < 1:
            raise ValueError(f"hydra.launcher.max_members must be >= 1, got {max_members}")
        self.max_members = max_members
        self.cuda_graph = cuda_graph
        self.config: Optional[DictConfig] = None  # noqa: UP045
        self.task_function: Optional[TaskFunction] = None  # noqa: UP045
        self.hydra_context: Optional[HydraContext] = None  # noqa: UP045

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.config = config
        self.hydra_context = hydra_context
        self.task_function = task_function

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        # imported here: torch and the training code load only when a sweep launches
        from momentum_repro.training.population.launch import plan_populations, train_population
        from momentum_repro.training.population.outcome import RESULT_KEY

        setup_globals()
        assert self.hydra_context is not None
        assert self.config is not None
        assert self.task_function is not None
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        log.info(f"Launching {len(job_overrides)} jobs as populations")
        sweep_configs = []
        for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
            log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
            sweep_config = self.hydra_context.config_loader.load_sweep_config(
                self.config, list(overrides)
            )
            with open_dict(sweep_config):
                sweep_config.hydra.job.id = idx
                sweep_config.hydra.job.num = idx
            sweep_configs.append(sweep_config)
        plan = plan_populations([_task_config(c) for c in sweep_configs], self.max_members)
        runs: dict[int, JobReturn] = {}
        for job, path in plan.trained.items():  # trained before, not logged yet
            runs[job] = self._run(_with_result(sweep_configs[job], RESULT_KEY, path))
        for members in plan.populations:
            for job, path in train_population(members, self.cuda_graph).items():
                runs[job] = self._run(_with_result(sweep_configs[job], RESULT_KEY, path))
        for job, sweep_config in enumerate(sweep_configs):  # the jobs it left alone
            if job not in runs:
                runs[job] = self._run(sweep_config)
        return [runs[job] for job in range(len(sweep_configs))]

    def _run(self, sweep_config: DictConfig) -> JobReturn:
        """One job, as Hydra's basic launcher runs it, in this process."""
        assert self.hydra_context is not None and self.task_function is not None
        assert self.config is not None
        ran = run_job(
            hydra_context=self.hydra_context,
            task_function=self.task_function,
            config=sweep_config,
            job_dir_key="hydra.sweep.dir",
            job_subdir_key="hydra.sweep.subdir",
        )
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        return ran


def _with_result(sweep_config: DictConfig, key: str, path: Path) -> DictConfig:
    """A member job's config: its own, with its outcome's file at ``key``."""
    config = copy.deepcopy(sweep_config)
    with open_dict(config):
        OmegaConf.update(config, key, str(path), force_add=True)
    return config


def _task_config(sweep_config: DictConfig) -> DictConfig:
    """The config the task function gets for this job (Hydra's ``run_job``: less ``hydra``)."""
    HydraConfig.instance().set_config(sweep_config)
    task_config = copy.deepcopy(sweep_config)
    with read_write(task_config), open_dict(task_config):
        del task_config["hydra"]
    return task_config
