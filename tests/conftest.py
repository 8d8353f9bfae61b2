"""Shared fixtures: the repo root, Hydra config composition, a tiny CURVES set, a temp MLflow."""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from compose import CONF, compose_config  # noqa: F401  tests import them from here
from omegaconf import DictConfig, open_dict

from momentum_repro.data.curves import generate_curves
from momentum_repro.data.sets import save_set
from momentum_repro.training.fit import fit
from momentum_repro.training.loop import FitResult
from momentum_repro.training.run import plan_run

ROOT = Path(__file__).resolve().parents[1]

if os.environ.get("PYTEST_XDIST_WORKER"):
    # ``make test`` runs the suite in one worker per core (pytest-xdist): one torch thread
    # each, rather than every worker's threads competing for every core
    import torch

    torch.set_num_threads(1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under ``make test`` (pytest-xdist, ``--dist worksteal``), each worker's first share of
    the suite starts with its part of the end-to-end (``slow``) tests, dealt in turn. A worker
    that runs out of work takes tests from the end of another's queue, so the suite then ends
    on short tests, not on a minutes-long one that one worker runs while the other waits."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    slow = [item for item in items if item.get_closest_marker("slow")]
    fast = [item for item in items if not item.get_closest_marker("slow")]
    if workers < 2 or not slow:
        return
    # worksteal's first split: consecutive shares of len(pending) // workers left
    sizes, left = [], len(items)
    for remaining in range(workers, 0, -1):
        sizes.append(left // remaining)
        left -= sizes[-1]
    shares = [slow[j::workers] for j in range(workers)]
    if any(len(share) > size for share, size in zip(shares, sizes, strict=True)):
        return
    ordered: list[pytest.Item] = []
    for share, size in zip(shares, sizes, strict=True):
        taken = size - len(share)
        ordered += share + fast[:taken]
        fast = fast[taken:]
    items[:] = ordered


@pytest.fixture(scope="session")
def tiny_curves(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 600/200-case CURVES set built by the real generator."""
    images = generate_curves(800, seed=7)
    path = tmp_path_factory.mktemp("sets") / "curves"
    save_set(path, images[:600], images[600:], {"name": "curves", "source": "rebuilt"})
    return path


@pytest.fixture(autouse=True)
def _isolated_mlflow(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``mlflow.set_tracking_uri`` also sets MLFLOW_TRACKING_URI, which our runs honour:
    clear it around each test so one test's store never receives another's runs."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    yield
    os.environ.pop("MLFLOW_TRACKING_URI", None)


_TEMPLATES: list[tempfile.TemporaryDirectory] = []  # removed when the process ends


@functools.cache
def _empty_store_template() -> Path:
    """An empty MLflow SQLite store, made by MLflow once per test process."""
    from mlflow.tracking import MlflowClient

    folder = tempfile.TemporaryDirectory(prefix="mlflow-template-")
    _TEMPLATES.append(folder)
    path = Path(folder.name) / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()  # creates and migrates the tables
    return path


def empty_store(path: Path) -> str:
    """The URI of an SQLite MLflow store at ``path``: a copy of an empty store made by MLflow,
    unless ``path`` exists already. MLflow's schema migrations take seconds for every new
    store, and most tests that train make one; the DVC end-to-end test and the tracking
    server's test still have MLflow make theirs."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_empty_store_template(), path)
    return f"sqlite:///{path}"


@pytest.fixture
def mlflow_uri(tmp_path: Path) -> str:
    return empty_store(tmp_path / "mlflow.db")


def with_values(cfg: DictConfig, **values: object) -> DictConfig:
    """A copy of ``cfg`` with ``optimizer__lr=0.1`` setting ``cfg.optimizer.lr``, and so on."""
    cfg = cfg.copy()
    with open_dict(cfg):
        for key, value in values.items():
            *parents, leaf = key.split("__")
            node = cfg
            for parent in parents:
                node = node[parent]
            node[leaf] = value
    return cfg


def train(cfg: DictConfig, metric_sink: object = None, artifact_sink: object = None) -> FitResult:
    """One run of ``cfg`` trained as ``run_job`` trains it (checked, its data read from the
    config's paths), logged nowhere: its ``FitResult``."""
    plan = plan_run(cfg)
    return fit(plan.workload, plan.prepared, metric_sink, artifact_sink)  # type: ignore[arg-type]


@pytest.fixture
def tiny_cfg(tiny_curves: Path, mlflow_uri: str, tmp_path: Path) -> Iterator[DictConfig]:
    yield compose_config(
        [
            "profile=tiny",
            f"data.path={tiny_curves}",
            f"tracking.uri={mlflow_uri}",
            f"tracking.artifact_root={tmp_path / 'mlartifacts'}",
            "trainer.threads=1",
            "trainer.progress_bar=false",
        ]
    )
