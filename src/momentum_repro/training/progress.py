"""What a run prints of its progress, solo run or population: a heartbeat line every
``every_seconds`` to the run's log, terminal or not (run, update t/T, updates/s, ETA, the
latest curve value), and on a terminal one tqdm bar over t/T (Lightning's own bar restarts
every epoch: no overall ETA). A run's name is its workload's (``Workload.run_name``)."""

from __future__ import annotations

import logging
import time
import warnings
from typing import Any

import pytorch_lightning as pl
from tqdm import tqdm

from momentum_repro.tracking.progress import duration

log = logging.getLogger(__name__)

# the first of these a module has logged is the value a progress line shows
CURVE_KEYS = ("train_error", "eval_zero_one", "train_loss", "train_cost")


def quiet_lightning() -> None:
    """What Lightning would print that says nothing true about these runs: its banner lines
    (GPU available, ...) on a CPU run; its pytree deprecation notice (a Lightning-internal
    call), repeated in every job's log; its advice to save the state before the update under
    manual optimization (a checkpoint at update t is the state after it, the state a resumed
    run continues from); and, on a resumed run, that the checkpoint folder is not empty and
    that the dataloader is not resumable: the workload's stream skips the batches the run
    trained on (``stream.skip``), so a resumed run ends as an uninterrupted one
    (``tests/test_checkpoints.py``)."""
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for message in (
        r".*isinstance\(treespec, LeafSpec\).*",
        r".*ModelCheckpoint with manual optimization.*",
        r".*Checkpoint directory .* exists and is not empty.*",
        r".*your dataloader is not resumable.*",
    ):
        warnings.filterwarnings("ignore", message=message)


def heartbeat_line(
    name: str,
    done: int,
    total: int,
    rate: float,
    metrics: dict[str, float],
    members: int | None = None,
) -> str:
    """``curves nag mu_max=0.99 ...: update 1200/3000 (40%), 51.3 updates/s, ETA 35s,
    train_error 11.2``; a population (``members`` active) adds its member-updates/s and
    shows its members' best latest value."""
    eta = duration((total - done) / rate) if rate > 0 else "?"
    per_member = f" ({rate * members:.1f} member-updates/s)" if members else ""
    line = (
        f"{name}: update {done}/{total} ({100 * done / max(total, 1):.0f}%), "
        f"{rate:.1f} updates/s{per_member}, ETA {eta}"
    )
    for key in CURVE_KEYS:
        if key in metrics:
            return f"{line}, {key} {metrics[key]:.4g}"
    return line


class RunProgress(pl.Callback):
    """Heartbeat lines every ``every_seconds`` (0: none) and, with ``bar``, a bar over t/T."""

    def __init__(self, name: str, total: int, every_seconds: float = 30.0, bar: bool = False):
        self.name, self.total, self.every_seconds = name, total, every_seconds
        self.use_bar = bar
        self.bar: tqdm | None = None
        self.start = self.last_time = 0.0
        self.last_step = self.first_step = 0

    def on_train_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.start = self.last_time = time.perf_counter()
        self.last_step = self.first_step = trainer.global_step
        if self.use_bar:
            self.bar = tqdm(total=self.total, desc=self.name, unit="upd", dynamic_ncols=True)
            self.bar.update(trainer.global_step)

    def on_train_batch_end(
        self, trainer: pl.Trainer, module: pl.LightningModule, *args: Any
    ) -> None:
        step = trainer.global_step
        metrics = getattr(module, "latest_metrics", {})
        if self.bar is not None:
            self.bar.update(step - self.bar.n)
            key = next((k for k in CURVE_KEYS if k in metrics), None)
            if key is not None and step % 50 == 0:
                self.bar.set_postfix({key: f"{metrics[key]:.4g}"}, refresh=False)
        now = time.perf_counter()
        if self.every_seconds > 0 and now - self.last_time >= self.every_seconds:
            rate = (step - self.last_step) / (now - self.last_time)
            self.last_time, self.last_step = now, step
            members = getattr(module, "active_members", None)  # a population's
            log.info(heartbeat_line(self.name, step, self.total, rate, metrics, members))

    def on_train_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        seconds = time.perf_counter() - self.start
        step = trainer.global_step
        rate = (step - self.first_step) / seconds if seconds > 0 else 0.0
        members = getattr(module, "active_members", None)
        per_member = f", {rate * members:.1f} member-updates/s" if members else ""
        log.info(
            "%s: trained %d/%d updates in %s (%.1f updates/s%s)",
            self.name,
            step,
            self.total,
            duration(seconds),
            rate,
            per_member,
        )
