"""Mid-run checkpoints: a killed run started again continues the same MLflow run from its
last checkpoint and ends exactly where an uninterrupted run ends; a killed sweep skips its
finished jobs and resumes the interrupted one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from mlflow.tracking import MlflowClient

from conftest import ROOT, compose_config, empty_store, train

pytestmark = pytest.mark.slow

UPDATES, EVERY = 240, 40


SOLO_SWEEP = ("optimizer=nag", "optimizer.lr=0.01,0.005")  # 2 jobs, one after the other
TRAINING = (  # what every run of these sweeps computes
    "profile=tiny",
    f"trainer.total_updates={UPDATES}",
    "trainer.threads=1",  # fixed threads: bit-identical float32 trajectories
    "trainer.log_every=20",
    "schedule.final_phase_updates=30",
)


def command(
    tmp_path: Path, store: str, data: Path, *overrides: str, sweep: tuple = SOLO_SWEEP
) -> list[str]:
    return [
        sys.executable,
        str(ROOT / "pipelines" / "train.py"),
        "-m",
        *TRAINING,
        f"trainer.checkpoint_every={EVERY}",
        f"data.path={data}",
        f"tracking.uri={empty_store(tmp_path / store / 'mlflow.db')}",
        f"tracking.artifact_root={tmp_path / store / 'mlartifacts'}",
        f"hydra.sweep.dir={tmp_path / store / 'multirun'}",
        "sweep_name=ckpt",
        *sweep,
        *overrides,
    ]


def env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}


def run_sweep(tmp_path: Path, store: str, data: Path, sweep: tuple = SOLO_SWEEP) -> str:
    """The sweep to its end in ``tmp_path/store``; its output."""
    (tmp_path / store).mkdir(exist_ok=True)
    done = subprocess.run(
        command(tmp_path, store, data, sweep=sweep),
        cwd=tmp_path / store,
        env=env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout + done.stderr


def kill_after_two_checkpoints(
    tmp_path: Path, data: Path, pattern: str, sweep: tuple = SOLO_SWEEP, ready: str = ""
) -> None:
    """Start the sweep in ``tmp_path/work`` and kill it once two checkpoints matching
    ``pattern`` were written (after the folder ``ready`` exists, when given). The loop only
    looks at files, and reads each version of a checkpoint once: it must be quick enough to
    see two checkpoints on a busy machine without taking a core from the training it
    watches (it runs beside other tests in make test's parallel workers)."""
    work = tmp_path / "work"
    work.mkdir()
    proc = subprocess.Popen(
        command(tmp_path, "work", data, sweep=sweep),
        cwd=work,
        env=env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    seen: set[int] = set()
    read: set[tuple] = set()  # (path, mtime, size) of each checkpoint file read already
    while time.monotonic() < deadline and len(seen) < 2 and proc.poll() is None:
        if not ready or (work / ready).exists():
            for ckpt in (work / "checkpoints").glob(pattern):
                try:
                    stat = ckpt.stat()
                    version = (ckpt, stat.st_mtime_ns, stat.st_size)
                    if version in read:
                        continue
                    step = torch.load(ckpt, map_location="cpu", weights_only=False)["global_step"]
                except Exception:  # being written, or replaced since the glob
                    continue
                read.add(version)
                seen.add(int(step))
        time.sleep(0.02)
    assert len(seen) >= 2, f"no second checkpoint seen ({seen}); process ended: {proc.poll()}"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def job_runs(tmp_path: Path, store: str) -> list:
    client = MlflowClient(f"sqlite:///{tmp_path / store / 'mlflow.db'}")
    exp = client.get_experiment_by_name("momentum-repro")
    runs = client.search_runs([exp.experiment_id], filter_string="tags.run_kind = 'job'")
    return sorted(runs, key=lambda r: float(r.data.tags["lr"]))


def test_a_killed_sweep_resumes_its_interrupted_run_and_ends_as_an_uninterrupted_one(
    tmp_path: Path, tiny_curves: Path
) -> None:
    # job 0 (lr 0.01) finishes; kill job 1 (lr 0.005) once its second checkpoint is written.
    # Job 1 has started once Hydra made its folder (multirun/1); job 0 deleted its checkpoints
    # when it finished, before that, so every checkpoint seen then is job 1's.
    kill_after_two_checkpoints(tmp_path, tiny_curves, "*/last.ckpt", ready="multirun/1")
    killed = job_runs(tmp_path, "work")
    assert [r.info.status for r in killed] == ["RUNNING", "FINISHED"]  # by lr: 0.005, 0.01

    out = run_sweep(tmp_path, "work", tiny_curves)
    assert "already done, skipping" in out and "resuming from update" in out
    # the stream skips what the run trained on: Lightning's warning would be false here
    assert "dataloader is not resumable" not in out and "is not empty" not in out, out[-2000:]

    runs = job_runs(tmp_path, "work")
    assert len(runs) == 2  # no duplicate child run
    assert runs[0].info.run_id == killed[0].info.run_id  # the same MLflow run continued
    assert [r.info.status for r in runs] == ["FINISHED", "FINISHED"]
    # the killed run ends bit for bit where the same config ends uninterrupted: trained here,
    # in this process, from the config the sweep's job composed (one thread, as the job)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        job = [*TRAINING, f"data.path={tiny_curves}", "optimizer=nag", "optimizer.lr=0.005"]
        uninterrupted = train(compose_config(job)).final
    finally:
        torch.set_num_threads(threads)
    for key in ("final_train_error", "final_test_error", "train_error_before_final_phase"):
        assert runs[0].data.metrics[key] == uninterrupted[key], key
    client = MlflowClient(f"sqlite:///{tmp_path / 'work' / 'mlflow.db'}")
    steps = [m.step for m in client.get_metric_history(runs[0].info.run_id, "train_error")]
    assert steps == list(range(0, UPDATES + 1, 20))  # the curve continues, no duplicates
    assert not list(
        (tmp_path / "work" / "checkpoints").glob("*/last.ckpt")
    )  # removed once finished
    artifacts = {a.path for a in client.list_artifacts(runs[0].info.run_id)}
    assert {"config.yaml", "final_state_dict.pt"} <= artifacts


def test_a_killed_population_sweep_continues_from_its_checkpoint(
    tmp_path: Path, tiny_curves: Path
) -> None:
    """A population of 4 (hydra/launcher=population) killed after its second checkpoint,
    then run again, continues from the checkpoint and ends with the final errors and curves
    of an uninterrupted population, bit for bit."""
    population = (
        "hydra/launcher=population",
        "optimizer=cm,nag",
        "optimizer.mu_max=0.9,0.99",
        "optimizer.lr=0.01",
        "model.encoder_sizes=[784,40,20,10,6]",  # CURVES' depth and code, narrower layers
    )
    run_sweep(tmp_path, "ref", tiny_curves, population)
    kill_after_two_checkpoints(tmp_path, tiny_curves, "population-*/last.ckpt", population)
    assert job_runs(tmp_path, "work") == []  # killed in training: no member logged yet
    assert "resuming from update" in run_sweep(tmp_path, "work", tiny_curves, population)

    def by_config(store: str) -> dict:
        runs = job_runs(tmp_path, store)
        return {(r.data.tags["method"], r.data.tags["mu_max"]): r for r in runs}

    runs, ref_runs = by_config("work"), by_config("ref")
    assert len(runs) == len(ref_runs) == 4
    client = MlflowClient(f"sqlite:///{tmp_path / 'work' / 'mlflow.db'}")
    ref_client = MlflowClient(f"sqlite:///{tmp_path / 'ref' / 'mlflow.db'}")
    for config, ref in ref_runs.items():
        run = runs[config]
        assert run.info.status == "FINISHED" and run.data.tags["population_members"] == "4"
        for key in ("final_train_error", "final_test_error", "train_error_before_final_phase"):
            assert run.data.metrics[key] == ref.data.metrics[key], (config, key)  # bit for bit
        curve = [
            (m.step, m.value) for m in client.get_metric_history(run.info.run_id, "train_error")
        ]
        ref_curve = [
            (m.step, m.value) for m in ref_client.get_metric_history(ref.info.run_id, "train_error")
        ]
        assert sorted(curve) == sorted(ref_curve)  # the curve continues, no duplicates
    assert not list((tmp_path / "work" / "checkpoints").glob("population-*"))  # removed once logged
    assert not list((tmp_path / "work" / "checkpoints").glob("members/*.pt"))
