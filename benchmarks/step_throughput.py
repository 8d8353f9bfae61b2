"""Updates per second of the CURVES autoencoder: plain PyTorch loops vs our Lightning module.

Prints updates/s for (a) plain loops with torch's SGD (default, fused) and with our Nesterov,
and (b) our AutoencoderModule under a Lightning Trainer with the same optimizer and batch, and
the ratios of time per update. Target: (b) within 1.15x of the plain loop with our optimizer,
and our Nesterov update at least as cheap as fused SGD. Not a test: run it on a quiet machine.

    python benchmarks/step_throughput.py [--updates 300] [--threads 2]
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable

import pytorch_lightning as pl
import torch

from momentum_repro.data.curves import generate_curves
from momentum_repro.models.autoencoder import DeepAutoencoder
from momentum_repro.optim import Nesterov
from momentum_repro.training.autoencoder_module import AutoencoderModule
from momentum_repro.training.batches import InMemoryBatches

CURVES = [784, 400, 200, 100, 50, 25, 6]
BATCH = 200


def plain_loop(make_opt: Callable, data: torch.Tensor, updates: int) -> float:
    model = DeepAutoencoder(CURVES, seed=0)
    opt = make_opt(model.parameters())
    batches = iter(())
    loader = InMemoryBatches(data, BATCH, seed=0)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = model.objective(model(x), x)
        loss.backward()
        return loss

    start = None
    for t in range(updates + 20):  # 20 warm-up updates
        if t == 20:
            start = time.perf_counter()
        try:
            x = next(batches)
        except StopIteration:
            batches = iter(loader)
            x = next(batches)
        opt.step(closure)
    return updates / (time.perf_counter() - start)


class _Timer(pl.Callback):
    def __init__(self, warmup: int) -> None:
        self.warmup = warmup
        self.start = 0.0

    def on_train_batch_end(self, trainer, *args) -> None:
        if trainer.global_step == self.warmup:
            self.start = time.perf_counter()


def lightning_loop(make_opt: Callable, data: torch.Tensor, updates: int) -> float:
    model = DeepAutoencoder(CURVES, seed=0)
    module = AutoencoderModule(model, make_opt, curve_data=data[:1000], log_every=10**9)
    timer = _Timer(warmup=20)
    trainer = pl.Trainer(
        max_steps=updates + 20,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        callbacks=[timer],
    )
    trainer.fit(module, train_dataloaders=InMemoryBatches(data, BATCH, seed=0))
    return updates / (time.perf_counter() - timer.start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for name in ("pytorch_lightning", "lightning.pytorch"):
        logging.getLogger(name).setLevel(logging.ERROR)
    data = torch.from_numpy(generate_curves(4000, seed=0))

    def nag(p):
        return Nesterov(p, lr=0.005, momentum=0.99)

    def sgd(p):
        return torch.optim.SGD(p, lr=0.005, momentum=0.99, nesterov=True)

    def sgd_fused(p):
        return torch.optim.SGD(p, lr=0.005, momentum=0.99, nesterov=True, fused=True)

    print(
        f"CURVES autoencoder, batch {BATCH}, float32, {args.threads} threads, {args.updates} updates"
    )
    rates = {
        "plain loop, torch SGD(nesterov)": plain_loop(sgd, data, args.updates),
        "plain loop, torch SGD(nesterov, fused)": plain_loop(sgd_fused, data, args.updates),
        "plain loop, our Nesterov": plain_loop(nag, data, args.updates),
        "Lightning module, our Nesterov": lightning_loop(nag, data, args.updates),
    }
    for name, rate in rates.items():
        print(f"  {name:42s} {rate:7.1f} updates/s")
    plain, ours = rates["plain loop, our Nesterov"], rates["Lightning module, our Nesterov"]
    fused = rates["plain loop, torch SGD(nesterov, fused)"]
    print(f"time per update, Lightning module / plain loop (target <= 1.15): {plain / ours:.3f}")
    print(f"time per update, our Nesterov / fused torch SGD (target <= 1.00): {fused / plain:.3f}")


if __name__ == "__main__":
    main()
