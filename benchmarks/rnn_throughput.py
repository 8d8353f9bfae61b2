"""Updates per second of the RNN variants on the CPU (a benchmark, not a test).

One update = forward, loss, backward through time and a Nesterov step, on the addition problem
(T = 200 by default, batch 100, 100 tanh units, float32), at the Table 4 initialization,
where the backward gradients are smallest (the denormal problem is worst there).

Variants: ``loop`` (the recurrence written for autograd, ``unbind`` over time), ``nn.RNN``
(``torch.nn.RNN``; it cannot hold the state at 0 over left padding, so it is exact only for
equal-length batches: timing only), ``bptt`` (``TanhRNN``'s hand-written backward through
time), each with denormals kept and flushed to zero; and ``bptt+data``, the full training
step of ``train_rnn_steps`` including drawing a fresh batch.

    .venv/bin/python benchmarks/rnn_throughput.py [--T 200] [--batch 100] [--threads 2]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor, nn

from momentum_repro.data.rnn_tasks import get_task
from momentum_repro.models.rnn import (
    TanhRNN,
    batch_tensors,
    task_loss,
)
from momentum_repro.optim import Nesterov
from momentum_repro.runtime import flush_denormals
from momentum_repro.workloads.rnn import train_rnn_steps

LR, MU = 1e-4, 0.9


def _time(update: Callable[[], object], n_updates: int) -> float:
    start = time.perf_counter()
    for _ in range(n_updates):
        update()
    return n_updates / (time.perf_counter() - start)


def _model_update(model: nn.Module, forward: Callable[[], Tensor], target, mask) -> Callable:
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = Nesterov(params, lr=LR, momentum=MU)

    def closure() -> Tensor:
        optimizer.zero_grad()
        loss = task_loss("addition", forward(), target, mask)
        loss.backward()
        return loss

    return lambda: optimizer.step(closure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--T", type=int, default=200)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--updates", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    task = get_task("addition")
    batch = task(args.T, args.batch, np.random.default_rng(0))
    x, y, mask, valid = batch_tensors(batch)
    print(
        f"addition T={args.T} (padded length {x.shape[1]}), batch {args.batch}, "
        f"{torch.get_num_threads()} threads, torch {torch.__version__}, float32"
    )

    def build(implementation: str) -> tuple[nn.Module, Callable[[], Tensor]]:
        model = TanhRNN.for_task(task, seed=0, implementation=implementation)
        model.init_output_bias_(batch)
        return model, lambda: model(x, valid)

    def build_torch_rnn() -> tuple[nn.Module, Callable[[], Tensor]]:
        reference = TanhRNN.for_task(task, seed=0)
        rnn = nn.RNN(task.n_inputs, reference.n_hidden, nonlinearity="tanh", batch_first=True)
        readout = nn.Linear(reference.n_hidden, task.n_outputs)
        with torch.no_grad():
            rnn.weight_ih_l0.copy_(reference.weight_ih)
            rnn.weight_hh_l0.copy_(reference.weight_hh)
            rnn.bias_ih_l0.zero_()
            rnn.bias_hh_l0.zero_()
            readout.weight.copy_(reference.weight_ho)
            readout.bias.copy_(reference.bias_o)
        rnn.bias_hh_l0.requires_grad_(False)  # one hidden bias, as in TanhRNN
        model = nn.ModuleDict({"rnn": rnn, "readout": readout})
        return model, lambda: readout(rnn(x)[0])

    builders = {
        "loop": lambda: build("loop"),
        "nn.RNN": build_torch_rnn,
        "bptt": lambda: build("bptt"),
    }
    # (label, flush denormals?, update); the rounds interleave the variants so that a
    # shared machine's load hits them alike, and each variant keeps its best round.
    variants: list[tuple[str, bool, Callable[[], object]]] = []
    for name, builder in builders.items():
        for flush in (False, True):
            model, forward = builder()
            variants.append(
                (f"{name}{' +ftz' if flush else ''}", flush, _model_update(model, forward, y, mask))
            )
    model = TanhRNN.for_task(task, seed=0)
    model.init_output_bias_(batch)
    optimizer = Nesterov(model.parameters(), lr=LR, momentum=MU)
    generator = np.random.default_rng(1)
    variants.append(
        (
            "bptt+data +ftz",
            True,
            lambda: train_rnn_steps(model, task, args.T, optimizer, 1, args.batch, generator),
        )
    )
    rates = {label: 0.0 for label, _, _ in variants}
    for round_ in range(args.repeats + 1):
        for label, flush, update in variants:
            flush_denormals(flush)
            rate = _time(update, args.updates if round_ else 3)  # round 0: warm-up
            if round_:
                rates[label] = max(rates[label], rate)
    for label, rate in rates.items():
        print(f"{label:14s} {rate:7.1f} updates/s")

    start = time.perf_counter()
    for _ in range(args.updates):
        task(args.T, args.batch, generator)
    print(f"data generation alone: {args.updates / (time.perf_counter() - start):.0f} batches/s")

    base = rates["loop"]
    print("ratios to loop (no ftz): " + ", ".join(f"{k} {v / base:.2f}" for k, v in rates.items()))
    print(f"bptt +ftz / nn.RNN +ftz: {rates['bptt +ftz'] / rates['nn.RNN +ftz']:.2f}")


if __name__ == "__main__":
    main()
