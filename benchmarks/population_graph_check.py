"""GPU check of population training (not a test; the project never needs a GPU): one update
replayed as a CUDA graph gives the eager update's trajectory, and the GPU's the CPU's.

For a deep autoencoder (784-100-50-25-6 with linear outputs, FACES' kind, on CURVES data;
one minibatch shared by all members, expanded) and the tanh RNN (addition, T = 30; each seed
its own minibatches), a population of CM, NAG and SGD members of different lr and mu_max
and two init seeds, plus one NAG member at lr 1e3 that diverges and is frozen, is trained 200
float64 updates that cross schedule changes and a final phase, three ways: eager on the
CPU, eager on the GPU and graphed on the GPU, each from the same initial state and the same
minibatches. It prints the largest relative parameter gap and the diverged members.

    python benchmarks/population_graph_check.py
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from momentum_repro.data.curves import generate_curves
from momentum_repro.data.rnn_tasks import get_task, training_stream
from momentum_repro.models.autoencoder import DeepAutoencoder
from momentum_repro.models.rnn import TanhRNN, batch_tensors
from momentum_repro.models.stacked_autoencoder import StackedAutoencoder
from momentum_repro.models.stacked_rnn import (
    StackedTanhRNN,
    member_losses,
    stack_batches,
)
from momentum_repro.optim import momentum_schedule
from momentum_repro.training.population.graphed import population_update
from momentum_repro.training.population.momentum import PopulationMomentum
from momentum_repro.workloads.batches import InMemoryBatches

UPDATES, FINAL_PHASE_FROM = 200, 170
# (method, lr, mu_max, seed); the last member diverges (lr 1e3)
MEMBERS = [
    ("nag", 0.01, 0.99, 0),
    ("cm", 0.005, 0.9, 0),
    ("sgd", 0.01, 0.0, 0),
    ("nag", 0.003, 0.9, 1),
    ("cm", 0.01, 0.99, 1),
    ("nag", 1e3, 0.99, 0),
]


def schedule(mu_max: float) -> Callable[[int], float]:
    """Eq. (5) with period 5, capped at mu_max, then a final phase at mu 0.9."""
    return lambda t: (
        0.0
        if mu_max == 0
        else (0.9 if t >= FINAL_PHASE_FROM else momentum_schedule(t, mu_max, period=5))
    )


def optimizer_for(params: list[Tensor], lr_scale: float) -> PopulationMomentum:
    return PopulationMomentum(
        params,
        [lr * lr_scale if lr < 1e3 else lr for _, lr, _, _ in MEMBERS],
        [schedule(mu) for _, _, mu, _ in MEMBERS],
        [m == "nag" for m, _, _, _ in MEMBERS],
    )


def train(
    params: list[Tensor],
    optimizer: PopulationMomentum,
    losses_fn: Callable[[Sequence[Tensor | None]], Tensor],
    batches: list[tuple[Tensor | None, ...]],
    device: torch.device,
    graphed: bool,
) -> tuple[list[Tensor], dict[int, int]]:
    """Train as ``fit_population`` does: update, read the losses, freeze a diverged member."""
    update = population_update(optimizer, losses_fn, cuda_graph=graphed)
    diverged: dict[int, int] = {}
    for t, batch in enumerate(batches, start=1):
        losses = update(tuple(None if b is None else _to(b, device) for b in batch)).cpu()
        for k in torch.nonzero(~torch.isfinite(losses)).flatten().tolist():
            if k not in diverged:
                diverged[k] = t
                optimizer.freeze(k)
    return [p.detach().cpu() for p in params], diverged


def _to(t: Tensor, device: torch.device) -> Tensor:
    """``t`` on ``device``; an expanded minibatch stays expanded (one copy moved)."""
    if t.shape[0] > 1 and t.stride(0) == 0:
        return t[:1].to(device).expand_as(t)
    return t.to(device)


def autoencoder(device: torch.device, graphed: bool) -> tuple[list[Tensor], dict[int, int]]:
    data = torch.from_numpy(generate_curves(1000, seed=0)).double()
    models = [
        DeepAutoencoder([784, 100, 50, 25, 6], output="linear", seed=seed).double()
        for _, _, _, seed in MEMBERS
    ]
    stacked = StackedAutoencoder(models)
    for t in stacked.parameters():
        t.data = t.data.to(device)
    # one minibatch for all members, expanded (the RNN check gives each seed its own)
    batches: list[tuple[Tensor | None, ...]] = []
    while len(batches) < UPDATES:
        for x in InMemoryBatches(data, 200, seed=len(batches)):
            batches.append((x.unsqueeze(0).expand(len(MEMBERS), -1, -1),))
    batches = batches[:UPDATES]

    def losses(batch: Sequence[Tensor | None]) -> Tensor:
        x = batch[0]
        assert x is not None
        return stacked.objectives(stacked.forward(x), x)

    optimizer = optimizer_for(stacked.parameters(), 1.0)
    return train(stacked.parameters(), optimizer, losses, batches, device, graphed)


def rnn(device: torch.device, graphed: bool) -> tuple[list[Tensor], dict[int, int]]:
    task = get_task("addition")
    models = [TanhRNN.for_task(task, seed=seed, dtype=torch.float64) for *_, seed in MEMBERS]
    stacked = StackedTanhRNN(models)
    for t in stacked.parameters():
        t.data = t.data.to(device)
    streams = [training_stream(task, 30, 20, seed=s) for s in (0, 1)]
    index = torch.tensor([seed for *_, seed in MEMBERS])
    batches: list[tuple[Tensor | None, ...]] = []
    for _ in range(UPDATES):
        distinct = stack_batches([batch_tensors(next(s), torch.float64) for s in streams])
        batches.append(tuple(None if t is None else t[index] for t in distinct))

    def losses(batch: Sequence[Tensor | None]) -> Tensor:
        inputs, targets, mask, valid = batch
        assert inputs is not None and targets is not None and mask is not None
        return member_losses(task, stacked.forward(inputs, valid), targets, mask)

    optimizer = optimizer_for(stacked.parameters(), 0.01)  # the RNN's lrs: 1e-4 to 1e-5
    return train(stacked.parameters(), optimizer, losses, batches, device, graphed)


def gap(a: list[Tensor], b: list[Tensor], members: list[int]) -> float:
    """Largest |a - b| / max|b| over the parameters of these members."""
    worst = 0.0
    for x, y in zip(a, b, strict=True):
        for k in members:
            scale = float(y[k].abs().max()) or 1.0
            worst = max(worst, float((x[k] - y[k]).abs().max()) / scale)
    return worst


def main() -> bool:
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    ok = True
    for name, run in (("autoencoder", autoencoder), ("rnn", rnn)):
        reference, diverged = run(cpu, False)
        eager, eager_div = run(cuda, False)
        graphed, graphed_div = run(cuda, True)
        alive = [k for k in range(len(MEMBERS)) if k not in diverged]
        same_graph = gap(graphed, eager, alive)
        same_cpu = gap(graphed, reference, alive)
        good = (
            diverged == eager_div == graphed_div
            and len(MEMBERS) - 1 in diverged
            and same_graph <= 1e-12
            and same_cpu <= 1e-9
        )
        ok &= good
        print(
            f"population {name}, float64, {UPDATES} updates, {len(MEMBERS)} members: "
            f"graphed vs eager GPU {same_graph:.1e}, graphed GPU vs CPU {same_cpu:.1e}; "
            f"diverged (member: update) CPU {diverged}, GPU eager {eager_div}, "
            f"graphed {graphed_div}  ({'OK' if good else 'FAIL'})",
            flush=True,
        )
    return ok


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
