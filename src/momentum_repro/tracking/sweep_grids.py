"""A sweep as the union of Hydra grids: the job list of ``hydra/sweeper=grids``.

The one module that reaches into Hydra's internals: the basic sweeper's expansion of a
command line (``BasicSweeper``), which the grids sweeper extends and the sweep callback uses
to count a multirun's jobs.

The paper's grids are not one cartesian product: SGD is swept over learning rates only,
CM and NAG over mu_max x lr. Each grid is a list of overrides as on a command line
(``["optimizer=cm,nag", "optimizer.mu_max=0.9,0.99"]``), crossed with the command line's own
overrides (the values they share: data, lr, seeds, ...). One multirun then covers them all,
with one parent run, one pool of workers and one ETA, instead of one multirun per grid.
"""

from __future__ import annotations

from collections.abc import Sequence

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, ListConfig, OmegaConf


def _product(overrides: Sequence[str], parser: OverridesParser) -> list[list[str]]:
    """Hydra's basic-sweeper expansion of one command line (later keys win)."""
    return BasicSweeper.split_arguments(parser.parse_overrides(list(overrides)), None)[0]


def expand_grids(
    common: Sequence[str],
    grids: Sequence[Sequence[str]],
    parser: OverridesParser | None = None,
) -> list[list[str]]:
    """Every job of every grid crossed with ``common``, each once, in order.

    No grids: the plain cartesian product of ``common``, as ``hydra/sweeper=basic`` runs it.
    """
    parser = parser or OverridesParser.create()
    if not grids:
        return _product(common, parser)
    jobs: list[list[str]] = []
    seen: set[tuple[str, ...]] = set()
    for grid in grids:
        for job in _product([*common, *grid], parser):
            if tuple(job) not in seen:
                seen.add(tuple(job))
                jobs.append(job)
    return jobs


def grids_as_written(sweeper: DictConfig) -> list[list[str]]:
    """``hydra.sweeper.grids`` as overrides, unresolved: an interpolation in a grid (written
    ``\\${...}`` inside the grids override, so that Hydra does not resolve it while building
    the sweeper) is resolved by each job in its own config, as on a command line."""
    grids = sweeper.get("grids") or ListConfig([])
    raw = OmegaConf.to_container(grids, resolve=False)
    assert isinstance(raw, list)
    return [[str(o).replace("\\${", "${") for o in grid] for grid in raw]


__all__ = ["BasicSweeper", "expand_grids", "grids_as_written"]
