"""The ``grids`` sweeper: Hydra's basic sweeper over a union of grids.

    python pipelines/train.py -m hydra/sweeper=grids optimizer.lr=0.01,0.005 \\
        "hydra.sweeper.grids=[['optimizer=sgd'],['optimizer=cm,nag','optimizer.mu_max=0.9,0.99']]"

runs 2 SGD jobs and 8 momentum jobs in one multirun. Hydra finds it by its namespace-package
rule (``hydra_plugins.*``); its config is registered below as ``hydra/sweeper/grids``.
"""

# No ``from __future__ import annotations`` here: Hydra loads plugin modules in a way that
# leaves the dataclass's string annotations unresolvable, and OmegaConf reads the real types.
from dataclasses import dataclass, field
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

from momentum_repro.tracking.sweep_grids import BasicSweeper, expand_grids, grids_as_written


@dataclass
class GridsSweeperConf:
    _target_: str = "hydra_plugins.momentum_repro_sweeper.grids_sweeper.GridsSweeper"
    max_batch_size: Optional[int] = None  # noqa: UP045
    params: Optional[dict[str, str]] = None  # noqa: UP045
    # each grid: overrides as on a command line, crossed with the command line's overrides
    grids: list[list[str]] = field(default_factory=list)


ConfigStore.instance().store(
    group="hydra/sweeper", name="grids", node=GridsSweeperConf, provider="momentum_repro"
)


class GridsSweeper(BasicSweeper):
    """The basic sweeper, whose job list is the union of ``grids`` x the command line."""

    def __init__(
        self,
        max_batch_size: int | None,
        params: dict[str, str] | None = None,
        grids: list[list[str]] | None = None,
    ) -> None:
        super().__init__(max_batch_size=max_batch_size, params=params)
        self.grids = [list(grid) for grid in grids or []]

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        super().setup(hydra_context=hydra_context, task_function=task_function, config=config)
        # Hydra resolved the grids' interpolations in the multirun's config while building
        # this sweeper; each job resolves them in its own config instead
        self.grids = grids_as_written(config.hydra.sweeper)

    def split_arguments(  # type: ignore[override]  # BasicSweeper.sweep calls it on self
        self, overrides: list[Override], max_batch_size: int | None
    ) -> list[list[list[str]]]:
        assert self.hydra_context is not None
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        common = [o.input_line for o in overrides if o.input_line is not None]
        jobs = expand_grids(common, self.grids, parser)
        return list(self.split_overrides_to_chunks(jobs, max_batch_size))

    def __repr__(self) -> Any:
        return f"GridsSweeper(grids={self.grids})"
