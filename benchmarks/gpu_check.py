"""GPU check (not a test; the project never needs a GPU): the optimizers and Lightning modules
on CUDA give the CPU's results and run. Usage: python benchmarks/gpu_check.py"""

from __future__ import annotations

import logging
import time

import numpy as np
import pytorch_lightning as pl
import torch

from momentum_repro.data.curves import generate_curves
from momentum_repro.data.rnn_tasks import get_task, make_eval_set
from momentum_repro.models.autoencoder import DeepAutoencoder, squared_error
from momentum_repro.models.rnn import TanhRNN, evaluate_rnn, task_loss
from momentum_repro.optim import ClassicalMomentum, Nesterov, momentum_schedule
from momentum_repro.training.modules.workload import WorkloadModule
from momentum_repro.workloads import Run
from momentum_repro.workloads.batches import InMemoryBatches
from momentum_repro.workloads.rnn import TaskStream


def trajectory(cls: type, device: str) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    q = torch.randn(8, 8, generator=g, dtype=torch.float64)
    A, b = (
        (q @ q.T / 8 + 0.1 * torch.eye(8, dtype=torch.float64)).to(device),
        torch.ones(8, dtype=torch.float64, device=device),
    )
    x = torch.nn.Parameter(torch.zeros(8, dtype=torch.float64, device=device))
    opt = cls([x], lr=0.05, momentum=lambda t: momentum_schedule(t, 0.95, period=2))

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = 0.5 * x @ A @ x - b @ x
        loss.backward()
        return loss

    for _ in range(50):
        opt.step(closure)
    return x.detach().cpu()


def trainer(steps: int) -> pl.Trainer:
    return pl.Trainer(
        max_steps=steps,
        accelerator="gpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
    )


def main() -> None:
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    print(torch.__version__, pl.__version__, torch.cuda.get_device_name(0))
    for cls in (ClassicalMomentum, Nesterov):
        gap = (trajectory(cls, "cpu") - trajectory(cls, "cuda")).abs().max().item()
        print(
            f"{cls.__name__}: max |cpu - cuda| over 50 float64 updates = {gap:.2e}  ({'OK' if gap < 1e-10 else 'FAIL'})"
        )

    data = torch.from_numpy(generate_curves(20000, seed=0))
    model = DeepAutoencoder([784, 400, 200, 100, 50, 25, 6], seed=0)
    before = squared_error(model, data[:2000])
    run = Run(
        model=model,
        stream=InMemoryBatches(data, 200, seed=0),
        objective=lambda x: model.objective(model(x), x),
        curve=dict,
        final=dict,
        parameters=lambda: list(model.parameters()),
    )
    module = WorkloadModule(
        run,
        lambda p: Nesterov(p, lr=0.005, momentum=lambda t: momentum_schedule(t, 0.99, period=25)),
        log_every=10**9,
    )
    start = time.perf_counter()
    trainer(3000).fit(module, train_dataloaders=run.stream)
    seconds = time.perf_counter() - start
    after = squared_error(model.cpu(), data[:2000])
    print(
        f"CURVES NAG 0.99 on GPU, quick profile (3000 updates): error {before:.1f} -> {after:.2f}, "
        f"{3000 / seconds:.0f} updates/s ({'OK' if after < 0.5 * before else 'FAIL'})"
    )

    task = get_task("addition")
    rnn = TanhRNN.for_task(task, seed=0)
    eval_set = make_eval_set(task, 30, 1000, seed=1)
    rnn.init_output_bias_(eval_set)

    def rnn_objective(batch: tuple) -> torch.Tensor:
        inputs, targets, mask, *rest = batch
        return task_loss(
            task, rnn(inputs, rest[0] if rest else None), targets, mask, reduction="sum"
        )

    rnn_run = Run(
        model=rnn,
        stream=TaskStream(task, 30, 100, 0, torch.float32),
        objective=rnn_objective,
        curve=dict,
        final=dict,
        parameters=rnn.trainable_parameters,
    )
    module = WorkloadModule(
        rnn_run, lambda p: Nesterov(p, lr=1e-4, momentum=0.995), log_every=10**9
    )  # lr 3e-3 diverges (CPU too)
    start = time.perf_counter()
    trainer(2000).fit(module, train_dataloaders=rnn_run.stream)
    seconds = time.perf_counter() - start
    loss, zero_one = evaluate_rnn(rnn.cpu(), task, eval_set)
    print(
        f"addition T=30 NAG on GPU, 2000 updates: zero-one {zero_one:.3f}, {2000 / seconds:.0f} updates/s "
        f"({'OK' if np.isfinite(loss) and zero_one < 0.5 else 'FAIL'})"
    )


if __name__ == "__main__":
    main()
    import population_graph_check  # beside this file: population training, graphed and eager

    raise SystemExit(0 if population_graph_check.main() else 1)
