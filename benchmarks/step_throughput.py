"""Updates per second of the three deep autoencoders, on the states real runs reach.

For each built set (CURVES, MNIST, FACES: ``data/sets/<name>``), the paper's autoencoder with
its sparse initialization is trained with NAG (mu 0.99) on the real data for ``--warmup``
updates first: within those, saturated logistic units start producing float32 denormals,
which a freshly initialized model on synthetic data never shows. From that state the
benchmark times ``--updates`` more updates with denormals kept and with them flushed to zero
(``trainer.flush_denormal``), alternating in rounds as the run goes on, and prints the
updates/s of each and their ratio. It then times the same training under our Lightning
module against the plain loop (target: at most 1.15x the time per update).

Not a test: run it on a quiet machine.

    python benchmarks/step_throughput.py [--sets curves mnist faces] [--threads 1]
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from omegaconf import OmegaConf

from momentum_repro.data.sets import load_set
from momentum_repro.models.autoencoder import DeepAutoencoder
from momentum_repro.optim import Nesterov
from momentum_repro.runtime import flush_denormals
from momentum_repro.training.modules.workload import WorkloadModule
from momentum_repro.workloads import Run as WorkloadRun
from momentum_repro.workloads.batches import InMemoryBatches

BATCH = 200  # section 3
CONF = Path(__file__).resolve().parents[1] / "conf"
LR = {"curves": 0.01, "mnist": 0.01, "faces": 0.001}  # lrs the default sweeps use


def make_model(name: str) -> DeepAutoencoder:
    cfg = OmegaConf.load(CONF / "model" / f"{name}.yaml")
    return DeepAutoencoder(
        list(cfg.encoder_sizes), output=cfg.output, init_fan_in=int(cfg.init_fan_in), seed=1
    )


class Run:
    """A model, its NAG optimizer and its minibatch stream: one run, to be advanced."""

    def __init__(self, name: str, data: torch.Tensor) -> None:
        self.model = make_model(name)
        self.optimizer = Nesterov(self.model.parameters(), lr=LR[name], momentum=0.99)
        self.loader = InMemoryBatches(data, BATCH, seed=1)
        self.batches = iter(self.loader)

    def next_batch(self) -> torch.Tensor:
        try:
            return next(self.batches)
        except StopIteration:
            self.batches = iter(self.loader)
            return next(self.batches)

    def advance(self, updates: int) -> float:
        """Do ``updates`` updates; the seconds they took."""
        start = time.perf_counter()
        for _ in range(updates):
            x = self.next_batch()

            def closure(x: torch.Tensor = x) -> torch.Tensor:
                self.optimizer.zero_grad()
                loss = self.model.objective(self.model(x), x)
                loss.backward()
                return loss

            self.optimizer.step(closure)
        return time.perf_counter() - start


class _Timer(pl.Callback):
    def __init__(self) -> None:
        self.start = 0.0

    def on_train_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.start = time.perf_counter()


def lightning_rate(run: Run, updates: int) -> float:
    """Updates/s of our AutoencoderModule under a Trainer, continuing ``run``'s state."""
    model, optimizer = run.model, None

    def factory(params):
        nonlocal optimizer
        optimizer = Nesterov(params, lr=run.optimizer.param_groups[0]["lr"], momentum=0.99)
        return optimizer

    batches = InMemoryBatches(run.loader.data, BATCH, seed=2)
    workload_run = WorkloadRun(
        model=model,
        stream=batches,
        objective=lambda x: model.objective(model(x), x),
        curve=dict,
        final=dict,
        parameters=lambda: list(model.parameters()),
    )
    module = WorkloadModule(workload_run, factory, log_every=10**9)
    timer = _Timer()
    trainer = pl.Trainer(
        max_steps=updates,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        callbacks=[timer],
    )
    trainer.fit(module, train_dataloaders=batches)
    return updates / (time.perf_counter() - timer.start)


def bench_set(name: str, warmup: int, updates: int, rounds: int) -> dict[str, float]:
    data = torch.from_numpy(np.array(load_set(f"data/sets/{name}").train))
    run = Run(name, data)
    flush_denormals(True)  # the warm-up itself at full speed; the state is what matters
    run.advance(warmup)
    seconds = {False: 0.0, True: 0.0}
    for _ in range(rounds):  # alternating, so that both see the same states
        for flush in (False, True):
            flush_denormals(flush)
            seconds[flush] += run.advance(updates)
    flush_denormals(True)
    n = updates * rounds
    plain = n / run.advance(n)  # side by side with the Lightning module, same state
    return {
        "kept": n / seconds[False],
        "flushed": n / seconds[True],
        "plain": plain,
        "lightning": lightning_rate(run, n),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["curves", "mnist", "faces"])
    parser.add_argument("--warmup", type=int, default=300, help="real updates before timing")
    parser.add_argument("--updates", type=int, default=40, help="updates timed per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="1: a job of the 2-job sweep")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for logger in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(logger).setLevel(logging.ERROR)
    print(
        f"deep autoencoders, NAG mu 0.99, batch {BATCH}, float32, {args.threads} thread(s); "
        f"timed after {args.warmup} real updates, {args.rounds} x {args.updates} updates"
    )
    print(
        "| set | denormals kept | flushed | flushed / kept | Lightning module | plain / Lightning |"
    )
    print("|---|---|---|---|---|---|")
    for name in args.sets:
        if not Path(f"data/sets/{name}/train.npy").exists():
            print(f"| {name} | not built: `dvc repro` (curves) or `make repro-full` | | | | |")
            continue
        r = bench_set(name, args.warmup, args.updates, args.rounds)
        print(
            f"| {name} | {r['kept']:.1f}/s | {r['flushed']:.1f}/s | "
            f"{r['flushed'] / r['kept']:.2f}x | {r['lightning']:.1f}/s | "
            f"{r['plain'] / r['lightning']:.2f}x |",
            flush=True,
        )


if __name__ == "__main__":
    main()
