"""The resume key: same config, data and code -> same run; any of them changed -> a new run."""

import shutil
from pathlib import Path

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


def test_only_the_code_a_run_computes_with_is_in_its_key(tmp_path: Path) -> None:
    """Editing how a run is named, checked, tuned, launched, logged or reported reruns no
    training; editing its optimizer, model, workload or loop does."""
    package = tmp_path / "momentum_repro"
    shutil.copytree(
        mlflow_tracking.PACKAGE_DIR, package, ignore=shutil.ignore_patterns("__pycache__")
    )
    before = mlflow_tracking.code_digest(package)
    for untouched in (
        "training/progress.py",
        "training/tuning.py",
        "training/run.py",
        "training/checks.py",
        "training/population/launch.py",
        "report/tables.py",
        "data/download.py",
        "tracking/hydra_callback.py",
    ):
        text = (package / untouched).read_text()
        (package / untouched).write_text(text.replace('"""', '"""A note. ', 1))  # its docstring
        assert mlflow_tracking.code_digest(package) == before, untouched
    for executed in (
        "optim/momentum.py",
        "optim/schedule.py",
        "models/autoencoder.py",
        "workloads/rnn.py",
        "training/fit.py",
        "training/population/momentum.py",
        "data/sets.py",
    ):
        with open(package / executed, "a") as f:
            f.write("\n# changed\n")
        assert mlflow_tracking.code_digest(package) != before, executed
        before = mlflow_tracking.code_digest(package)


def test_a_dvc_temp_experiment_logs_to_the_repositorys_store(tmp_path: Path) -> None:
    from momentum_repro.tracking.mlflow_tracking import store_root

    repo = tmp_path / "repo"
    assert store_root(repo) == repo.resolve()
    assert store_root(repo / ".dvc" / "tmp" / "exps" / "tmpab12cd") == repo.resolve()
    assert store_root(repo / ".dvc" / "tmp" / "exps" / "tmpab12cd" / "sub") == repo.resolve()
    assert store_root(repo / ".dvc" / "tmp") == (repo / ".dvc" / "tmp").resolve()
