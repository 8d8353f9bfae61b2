"""conf/hydra/launcher/: each file composes and instantiates its launcher, and slurm.yaml's
resources reach the sbatch script that submitit writes (checked with a stand-in sbatch)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hydra.plugins.launcher import Launcher
from hydra.utils import instantiate
from mlflow.tracking import MlflowClient
from sweeps import tiny_sweep, train_multirun

from conftest import CONF, compose_config, empty_store

LAUNCHERS = {
    "joblib": "JoblibLauncher",  # the plugin's own: a job per core
    "parallel": "JoblibLauncher",  # ours: 2 jobs at once
    "local": "LocalLauncher",  # hydra-submitit-launcher's submitit_local
    "slurm": "SlurmLauncher",  # hydra-submitit-launcher's submitit_slurm
}


def test_every_launcher_file_is_known() -> None:
    assert {p.stem for p in (CONF / "hydra" / "launcher").glob("*.yaml")} == set(LAUNCHERS) - {
        "joblib"
    }


@pytest.mark.parametrize("pythonpath", [None, "src"])
def test_shipped_configs_compose_the_same_whatever_the_order_of_sys_path(
    pythonpath: str | None,
) -> None:
    """Our launcher and sweeper configs extend the plugins' (a defaults list), never replace
    them under their name: so they compose alike whether our hydra_plugins come before
    site-packages on sys.path (PYTHONPATH=src, a shared checkout) or after."""
    import subprocess
    import sys

    from conftest import ROOT

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath:
        env["PYTHONPATH"] = str(ROOT / pythonpath)
    code = (
        "import sys; sys.path.insert(0, 'tests');"
        "from compose import compose_config;"
        "cfg = compose_config(['hydra/launcher=parallel', 'hydra/sweeper=tpe'], with_hydra=True);"
        "print(cfg.hydra.launcher.n_jobs, cfg.hydra.sweeper.sampler.seed,"
        " cfg.hydra.sweeper.n_trials)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["2", "1", "20"]


@pytest.mark.parametrize("name", sorted(LAUNCHERS))
def test_launcher_config_composes_and_instantiates(name: str) -> None:
    cfg = compose_config([f"hydra/launcher={name}"], with_hydra=True)
    launcher = instantiate(cfg.hydra.launcher)
    assert isinstance(launcher, Launcher)
    assert type(launcher).__name__ == LAUNCHERS[name]


def test_slurm_resources_come_from_the_config() -> None:
    cfg = compose_config(
        ["hydra/launcher=slurm", "hydra.launcher.partition=gpu", "hydra.launcher.gpus_per_node=2"],
        with_hydra=True,
    )
    launcher = cfg.hydra.launcher
    assert (launcher.partition, launcher.gpus_per_node) == ("gpu", 2)
    assert launcher.cpus_per_task > 0 and launcher.timeout_min > 0
    assert launcher.array_parallelism > 0
    assert launcher.max_num_timeout == 0  # no silent resubmission


def stand_in(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.mark.slow
def test_slurm_sweep_is_one_job_array_with_the_configured_resources(
    tmp_path: Path, tiny_curves: Path
) -> None:
    """No cluster here: a stand-in ``sbatch`` keeps the script it is given and refuses it,
    so the sweep ends there, with its MLflow parent run closed rather than left RUNNING."""
    bin_dir, scripts = tmp_path / "bin", tmp_path / "scripts"
    bin_dir.mkdir()
    scripts.mkdir()
    stand_in(bin_dir, "srun", "exit 0")  # submitit looks for srun to tell it is on SLURM
    stand_in(bin_dir, "sbatch", f'cp "$1" {scripts}/; echo "sbatch: no cluster here" >&2; exit 1')
    db = tmp_path / "mlflow.db"
    done = train_multirun(
        tmp_path,
        *tiny_sweep(tmp_path, tiny_curves, "slurm_test"),
        f"tracking.uri={empty_store(db)}",
        "hydra/launcher=slurm",
        "hydra.launcher.partition=gpu",
        "hydra.launcher.gpus_per_node=2",
        "hydra.launcher.cpus_per_task=3",
        "hydra.launcher.timeout_min=90",
        "hydra.launcher.array_parallelism=2",
        "optimizer=cm,nag",
        "optimizer.lr=0.01,0.005",
        env={"PATH": bin_dir.as_posix() + os.pathsep + os.environ["PATH"]},
    )
    assert done.returncode != 0
    [script] = list(scripts.iterdir())
    lines = set(script.read_text().splitlines())
    expected = {
        "#SBATCH --partition=gpu",
        "#SBATCH --gpus-per-node=2",
        "#SBATCH --cpus-per-task=3",
        "#SBATCH --time=90",
        "#SBATCH --array=0-3%2",  # 4 jobs, at most 2 at once
    }
    assert expected <= lines, script.read_text()
    client = MlflowClient(f"sqlite:///{db}")
    runs = client.search_runs([client.get_experiment_by_name("momentum-repro").experiment_id])
    assert [(r.data.tags["run_kind"], r.info.status) for r in runs] == [("sweep", "FAILED")]
