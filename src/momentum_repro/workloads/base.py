"""A benchmark problem as a value: AlgoPerf's *workload*.

A run's ``data`` config chooses its workload by ``_target_`` (``conf/data/curves.yaml``:
``_target_: momentum_repro.workloads.AutoencoderWorkload``); :func:`workload_for` builds it
from the run's whole config. The workload reads its data, checks what only it can check
(the model fits the data, the schedule fits the problem), builds one run (:class:`Run`: the
model, the stream of minibatches, the objective an update minimises, the curves measured
every N updates and the final metrics), names the run and its tags, and gives its population
form when it has one. The training loop and the tracking layer know nothing else of the
problem.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from hydra.utils import get_class
from omegaconf import DictConfig
from torch import Tensor

from momentum_repro.errors import ConfigError

Loaded = dict[str, Any]  # path -> a data set already read (a population reads a set once)


@dataclass
class Prepared:
    """A run's data, read: the config (a two-moons run's update count filled in from its
    epochs), what the run trains and is measured on, the data's provenance and its digest
    (part of the resume key)."""

    cfg: DictConfig
    data: Any
    meta: dict[str, Any]
    digest: str


def meta_digest(meta: dict[str, Any]) -> str:
    """A built set's digest: its ``meta.json`` (which holds the raw files' sha256)."""
    return hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()


def file_digest(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_once(loaded: Loaded, path: str, reader: Callable[[str], Any]) -> Any:
    if path not in loaded:
        loaded[path] = reader(path)
    return loaded[path]


@dataclass
class Run:
    """One run, built: what the training loop drives. An update minimises
    ``objective(batch)`` over ``parameters()``; ``curve()`` is measured at theta_t every N
    updates, ``snapshot()`` once after update ``snapshot_at``, ``final()`` at the end."""

    model: torch.nn.Module
    stream: Iterable[Any]  # minibatches; ``skip(n)`` continues after n (a resumed run)
    objective: Callable[[Any], Tensor]
    curve: Callable[[], dict[str, float]]
    final: Callable[[], dict[str, float]]
    parameters: Callable[[], list[Tensor]]
    to_device: Callable[[torch.device], None] = lambda device: None
    snapshot_at: int | None = None
    snapshot: Callable[[], dict[str, float]] = dict
    artifacts: Callable[[Path], list[Path]] = lambda folder: []
    # Hessian-free's data (the whole training set: it picks its own batches), where it runs
    hessian_free_data: Tensor | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Workload(ABC):
    """A kind of benchmark problem; an instance is one run's problem (``cfg``)."""

    task_kind: ClassVar[str]  # the runs' task_kind tag
    final_metric: ClassVar[str]  # what the tables read and a search minimises

    def __init__(self, cfg: DictConfig) -> None:
        self.cfg = cfg

    @abstractmethod
    def prepare(self, loaded: Loaded | None = None) -> Prepared:
        """Read the data (or take it from ``loaded``) and check the config against it."""

    @abstractmethod
    def build(self, prepared: Prepared) -> Run:
        """The run, from its seed: the model with the paper's initialization, the data."""

    def tags(self) -> dict[str, str]:
        """The tags the report groups runs by (docs/CONVENTIONS.md)."""
        return {"task_kind": self.task_kind, "dataset": str(self.cfg.data.name)}

    def run_name(self) -> str:
        """A run's name in MLflow and in progress lines: data, method, mu_max, lr, seed."""
        opt = self.cfg.optimizer
        mu = opt.get("mu_max")
        mu_part = "" if mu is None else f" mu_max={float(mu):g}"
        return f"{self.label()} {opt.name}{mu_part} lr={float(opt.lr):g} seed={self.cfg.seed}"

    def label(self) -> str:
        """The problem in a run's name."""
        return str(self.cfg.data.name)

    def population(self, plans: list[Any], device: torch.device) -> Any:
        """The population form of these runs (K members as one stacked model); a workload
        without one raises (``population_refusal`` says why first)."""
        raise NotImplementedError(self.population_refusal())

    def population_refusal(self) -> str | None:
        """Why this run cannot be a population member (None: it can)."""
        return f"{self.task_kind} runs have no population form"


def workload_for(cfg: DictConfig) -> Workload:
    """The workload a run's ``data._target_`` names, for this run."""
    target = cfg.data.get("_target_")
    try:
        cls = get_class(str(target))
    except Exception:
        raise ConfigError(
            "data._target_", target, "it must name a workload class (momentum_repro.workloads)"
        ) from None
    if not (isinstance(cls, type) and issubclass(cls, Workload)):
        raise ConfigError("data._target_", target, "it must name a Workload subclass")
    return cls(cfg)
