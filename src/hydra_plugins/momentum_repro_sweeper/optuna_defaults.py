"""``hydra/sweeper=optuna`` with this project's search: a TPE search (Optuna) over log(lr)
and, for methods that follow the momentum schedule, log(1 - mu_max), minimising the run's
final training error (RNNs: the final zero-one loss). Each trial is one job: one MLflow
child run of the sweep.

    python pipelines/train.py -m hydra/sweeper=optuna hydra.sweeper.n_trials=6 profile=tiny

The best config is printed at the end and written to ``<sweep dir>/optimization_results.yaml``.

These are the plugin's own config (``hydra_optuna_sweeper``) with our defaults, stored under
its name. A YAML file ``conf/hydra/sweeper/optuna.yaml`` cannot do it: Hydra 1.3 refuses a
config file named like a plugin schema that has a defaults list ("automatic schema matching").
"""

# No ``from __future__ import annotations``: Hydra imports plugin modules in a way that leaves
# string annotations unresolvable, and OmegaConf reads the real types.
from dataclasses import dataclass, field
from typing import Optional

from hydra.core.config_store import ConfigStore
from hydra_plugins.hydra_optuna_sweeper.config import (  # registers the plugin's configs first
    OptunaSweeperConf,
    TPESamplerConfig,
)


@dataclass
class SeededTPESamplerConfig(TPESamplerConfig):
    seed: Optional[int] = 1  # noqa: UP045  a search is reproducible like everything else


@dataclass
class MomentumOptunaSweeperConf(OptunaSweeperConf):
    n_trials: int = 20
    n_jobs: int = 1  # trials in flight at once; with hydra/launcher=joblib set 2
    study_name: Optional[str] = "${sweep_name}"  # noqa: UP045
    params: Optional[dict[str, str]] = field(  # noqa: UP045
        default_factory=lambda: {"optimizer.lr": "tag(log, interval(0.0001, 0.1))"}
    )
    # tune.momentum_gap = 1 - mu_max on a log scale, only for momentum_schedule: true methods
    custom_search_space: Optional[str] = (  # noqa: UP045
        "momentum_repro.training.tuning.momentum_search_space"
    )


_store = ConfigStore.instance()
_store.store(
    group="hydra/sweeper", name="optuna", node=MomentumOptunaSweeperConf, provider="momentum_repro"
)
_store.store(
    group="hydra/sweeper/sampler",
    name="tpe",
    node=SeededTPESamplerConfig,
    provider="momentum_repro",
)
