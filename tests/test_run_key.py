"""The resume key: same config, data and code -> same run; any of them changed -> a new run."""

import shutil
from pathlib import Path

import pytest

from conftest import compose_config, with_values
from momentum_repro.tracking import mlflow_tracking
from momentum_repro.tracking.mlflow_tracking import run_key


def test_key_depends_on_what_the_run_computes_only(monkeypatch) -> None:
    cfg = compose_config(["profile=quick"])
    key = run_key(cfg, "data-a")
    assert run_key(cfg, "data-a") == key
    assert run_key(cfg, "data-b") != key  # rebuilt data: the run is redone
    assert run_key(with_values(cfg, optimizer__lr=0.123), "data-a") != key
    # runtime-only settings and profile entries this run does not use change nothing
    assert (
        run_key(with_values(cfg, trainer__threads=1, trainer__progress_bar=False), "data-a") == key
    )
    assert run_key(with_values(cfg, updates__hessian_free=7, rnn_warmup_updates=3), "data-a") == key
    assert run_key(with_values(cfg, updates__autoencoder=5), "data-a") != key  # total_updates
    monkeypatch.setattr(mlflow_tracking, "library_digest", lambda: "other code")
    assert run_key(cfg, "data-a") != key  # changed library code: the run is redone


def test_only_the_code_a_run_executes_is_in_its_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fix in the report or the downloader reruns no training; one in optim/ does."""
    package = tmp_path / "momentum_repro"
    shutil.copytree(
        mlflow_tracking.PACKAGE_DIR, package, ignore=shutil.ignore_patterns("__pycache__")
    )
    monkeypatch.setattr(mlflow_tracking, "PACKAGE_DIR", package)

    def digest() -> str:
        mlflow_tracking.library_digest.cache_clear()
        return mlflow_tracking.library_digest()

    before = digest()
    for untouched in ("report/tables.py", "data/download.py", "tracking/hydra_callback.py"):
        with open(package / untouched, "a") as f:
            f.write("\n# a typo fixed\n")
        assert digest() == before, untouched
    for executed in (
        "optim/momentum.py",
        "models/autoencoder.py",
        "training/fit.py",
        "data/sets.py",
    ):
        with open(package / executed, "a") as f:
            f.write("\n# changed\n")
        assert digest() != before, executed
        before = digest()
    mlflow_tracking.library_digest.cache_clear()


def test_a_dvc_temp_experiment_logs_to_the_repositorys_store(tmp_path: Path) -> None:
    from momentum_repro.tracking.mlflow_tracking import store_root

    repo = tmp_path / "repo"
    assert store_root(repo) == repo.resolve()
    assert store_root(repo / ".dvc" / "tmp" / "exps" / "tmpab12cd") == repo.resolve()
    assert store_root(repo / ".dvc" / "tmp" / "exps" / "tmpab12cd" / "sub") == repo.resolve()
    assert store_root(repo / ".dvc" / "tmp") == (repo / ".dvc" / "tmp").resolve()
