"""Structured configs: the typed schemas of the trainer, the paper's optimizers and Hessian-free.

Registered in Hydra's ConfigStore and named first in the defaults list of their YAML files
(``conf/trainer/default.yaml``: ``defaults: [/trainer_schema@_here_, _self_]``), so Hydra itself
rejects an unknown key or a wrong type, on the command line or in a file, naming the key.
What a type cannot say (lr > 0, mu_max in [0, 1), a final phase shorter than the run) is
checked by hand, once, in ``training/checks.py``. A user's own optimizer has no schema: any
keys, with its constructor's arguments under ``factory``.

Importing this module registers the schemas: ``pipelines/train.py`` does it before Hydra
composes anything (in every worker too: they import the task function's module).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from hydra.core.config_store import ConfigStore


class Precision(StrEnum):
    """Float type of a run's parameters and data; a str, so ``getattr(torch, p)`` works."""

    float32 = "float32"
    float64 = "float64"


class MatmulPrecision(StrEnum):
    """``torch.set_float32_matmul_precision``: highest (exact float32), or high (TF32 on a
    GPU that has it: faster, and different numbers, so an explicit opt-in, tagged)."""

    highest = "highest"
    high = "high"


@dataclass
class TrainerConfig:
    # the profile's update count for this kind of run; null: derived (moons: from epochs)
    total_updates: int | None = None
    batch_size: int = 200  # section 3: minibatches of 200 (RNNs: 100 sequences)
    log_every: int = 1000  # a curve point every N updates
    curve_cases: int = 2000  # train_error curve on this fixed subset
    threads: Any = "auto"  # torch threads: an integer, or auto = cores / parallel jobs
    progress_bar: Any = "auto"  # true / false / auto (a terminal and not CI)
    heartbeat_seconds: float = 30.0  # a progress line this often (0: none)
    accelerator: str = "cpu"  # cpu / gpu / auto (Lightning)
    precision: Precision = Precision.float32
    flush_denormal: bool = True  # float32 denormals to zero on the CPU (runtime.py)
    matmul_precision: MatmulPrecision = MatmulPrecision.highest  # high: TF32 on a GPU
    clip_grad_norm: float | None = None  # RNNs: clip the gradient norm (the paper: none)
    checkpoint_every: int = 0  # save last.ckpt every N updates (0: off); a rerun resumes
    keep_checkpoints: bool = False  # keep the run's checkpoint folder once it finished
    checkpoint_dir: str = "checkpoints"  # <store root>/checkpoints/<run_key>/last.ckpt
    run_checkpoints: str | None = None  # set by run_job: this run's folder
    population_result: str | None = None  # set by the population launcher: a member's outcome


@dataclass
class MomentumOptimizerConfig:
    """SGD, CM, NAG and the RNN biases baseline (``conf/optimizer/{sgd,cm,nag,biases}.yaml``)."""

    name: str = "nag"
    lr: float = 0.005
    mu_max: float | None = 0.99  # the momentum cap (tag mu_max); SGD: 0
    momentum_schedule: bool = True  # mu_t from schedule/ (eq. 5); false: fixed mu in factory
    biases_only: bool = False  # RNNs: only the output biases learn (Table 5's "biases")
    factory: dict[str, Any] = field(default_factory=dict)  # _target_, _partial_, fixed kwargs


@dataclass
class HessianFreePhaseConfig:
    """One stage of a Hessian-free run (``optimizer.phases``): when it starts (an update or a
    fraction of the run) and the settings it changes; None keeps the value in force
    (``training/hessian_free_config.py`` turns it into the optimizer's ``Phase``)."""

    start_update: int | None = None
    start_fraction: float | None = None
    lr: float | None = None
    lr_inverse_time: float | None = None  # lr = s / (t - t_start + s): 1 at the stage's start
    decay: float | None = None  # the CG warm-start decay (the hybrid's mu)
    cg_max_iters: int | None = None
    batch_fraction: float | None = None
    curvature_fraction: float | None = None
    weight_cost: float | None = None
    weight_cost_to: float | None = None  # L2 from its value at the start to this at the end
    line_search: bool | None = None


@dataclass
class HessianFreeConfig:
    """Martens (2010) HF and the momentum-HF hybrid of appendix A.6 (``hf``, ``hf_momentum``)."""

    name: str = "hf"
    updates: int | None = None  # HF's own update count (an interpolation of updates.hessian_free)
    lr: float = 1.0
    mu_max: float | None = None
    momentum_schedule: bool = False
    damping: float = 45.0
    cg_decay: float = 0.95
    decay_follows_schedule: bool = False
    cg_max_iters: int = 250
    line_search: bool = True
    weight_cost: float = 0.0
    batch_fraction: float = 1.0
    curvature_fraction: float = 0.25  # an interpolation of data.hf_curvature_fraction
    phases: list[HessianFreePhaseConfig] = field(default_factory=list)
    factory: dict[str, Any] = field(default_factory=dict)


def register_schemas() -> None:
    """At the root of the config tree, in no group, so that neither ``--help`` nor the
    ``trainer`` and ``optimizer`` groups offer them as options; a config file names its
    schema in its defaults list."""
    store = ConfigStore.instance()
    store.store(name="trainer_schema", node=TrainerConfig)
    store.store(name="momentum_optimizer_schema", node=MomentumOptimizerConfig)
    store.store(name="hessian_free_optimizer_schema", node=HessianFreeConfig)


register_schemas()
