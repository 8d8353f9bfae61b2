"""Member-updates per second of population training against the solo loop (not a test).

For each autoencoder whose set is built (``data/sets/{curves,mnist,faces}``) and for the RNN
(addition, T = 80, batch 100, 100 tanh units), one solo model is first trained ``--warmup``
real updates (NAG, mu 0.99; RNN: 0.9) on real minibatches, so that both sides are timed on a
real training state rather than at initialization. Then, from that state:

- solo: the plain training step of one model (``optim.Nesterov``, the solo model's forward
  and objective); K runs one after another take K times as long, so the solo loop's
  member-updates/s is its updates/s;
- population: K members (copies of that state; NAG and CM, lrs spread over the sweep's)
  trained by ``PopulationMomentum`` on the stacked model, one minibatch for all members,
  each update as ``fit_population`` makes it (``population_update``, then the members'
  losses read on the host for the divergence check). On a GPU it is timed twice: eager, and
  as one CUDA graph replay per update (what ``hydra/launcher=population`` runs there).

It prints member-updates/s and the ratio population/solo for each K; for each autoencoder, the
rate of the solo step's matrix products against one large matmul's on this machine (the
headroom that batching the products has: on a CPU the solo step may already be near it); and
the wall-clock the paper's protocol would take on this machine at the best K: Table 1 (54 runs
of 750,000 updates per autoencoder) and Table 5 (512 RNN runs of 50,000 updates, at T = 80).
Denormals are flushed (as every run does). Run it on a quiet machine.

``--phases K``: for each autoencoder, where one update of K members goes, in ms: the members'
objectives (forward), their backward, and the rest of the update (look-ahead and momentum
step), each timed alone on the same state, beside the time the update's matrix products
would take at the large matmul's rate.

    python benchmarks/population_throughput.py [--sets curves mnist faces rnn] \\
        [--sizes 1 4 8 16 32 54] [--threads N] [--seconds 3] [--device cpu|cuda] \\
        [--matmul-precision highest|high] [--phases K]
"""

from __future__ import annotations

import argparse
import copy
import itertools
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import yaml
from torch import Tensor

from momentum_repro.data.rnn_tasks import get_task, training_stream
from momentum_repro.data.sets import load_set
from momentum_repro.models.autoencoder import DeepAutoencoder
from momentum_repro.models.rnn import TanhRNN, batch_tensors, task_loss
from momentum_repro.models.stacked_autoencoder import StackedAutoencoder
from momentum_repro.models.stacked_rnn import (
    StackedTanhRNN,
    member_losses,
    stack_batches,
)
from momentum_repro.optim import Nesterov
from momentum_repro.runtime import flush_denormals, keep_freed_memory
from momentum_repro.training.population.graphed import population_update, update_closure
from momentum_repro.training.population.momentum import PopulationMomentum
from momentum_repro.workloads.batches import InMemoryBatches

ROOT = Path(__file__).resolve().parents[1]
LR = {"curves": 0.01, "mnist": 0.01, "faces": 0.001, "rnn": 1e-4}
PAPER_RUNS = {"curves": 54, "mnist": 54, "faces": 54, "rnn": 512}  # Table 1 per set; Table 5
PAPER_UPDATES = {"curves": 750_000, "mnist": 750_000, "faces": 750_000, "rnn": 50_000}
T, RNN_BATCH, AE_BATCH = 80, 100, 200
Batch = Sequence[Tensor | None]


def timed(step: Callable[[], object], seconds: float, device: torch.device) -> float:
    """Updates per second of ``step``, over at least ``seconds`` and 3 updates."""
    step()  # one untimed (allocations)
    _sync(device)
    n, start = 0, time.perf_counter()
    while n < 3 or time.perf_counter() - start < seconds:
        step()
        n += 1
    _sync(device)
    return n / (time.perf_counter() - start)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


class AutoencoderBench:
    def __init__(self, name: str, device: torch.device) -> None:
        cfg = model_config(name)
        self.model = DeepAutoencoder(
            list(cfg["encoder_sizes"]),
            output=cfg["output"],
            init_fan_in=int(cfg["init_fan_in"]),
            seed=1,
        ).to(device)
        train = torch.from_numpy(np.array(load_set(ROOT / "data" / "sets" / name).train))
        self.batches = InMemoryBatches(train.to(device), AE_BATCH, seed=1)
        self.stream = iter(self.batches)
        self.name, self.device = name, device
        self.optimizer = Nesterov(self.model.parameters(), lr=LR[name], momentum=0.99)

    def batch(self) -> Tensor:
        try:
            return next(self.stream)
        except StopIteration:
            self.stream = iter(self.batches)
            return next(self.stream)

    def solo_step(self) -> None:
        x = self.batch()

        def closure() -> Tensor:
            self.optimizer.zero_grad()
            loss = self.model.objective(self.model(x), x)
            loss.backward()
            return loss

        self.optimizer.step(closure)

    def _stacked(self, size: int) -> tuple[PopulationMomentum, Callable[[Batch], Tensor]]:
        """K members from the solo model's state: their optimizer, and their objectives (K,)
        on a minibatch of K (shared) inputs."""
        stacked = StackedAutoencoder([copy.deepcopy(self.model) for _ in range(size)])

        def losses(batch: Batch) -> Tensor:
            x = batch[0]
            assert x is not None
            return stacked.objectives(stacked.forward(x), x)

        return _optimizer(stacked.parameters(), size, LR[self.name]), losses

    def _members_batch(self, size: int) -> Batch:
        return (self.batch().unsqueeze(0).expand(size, -1, -1),)

    def population(self, size: int, cuda_graph: bool) -> Callable[[], object]:
        optimizer, losses = self._stacked(size)
        update = population_update(optimizer, losses, cuda_graph)
        return lambda: update(self._members_batch(size)).cpu()

    def phases(self, size: int, seconds: float) -> tuple[float, float, float]:
        """ms per update of K members: the objectives, their backward, and the rest of the
        update (look-ahead and momentum step: the whole update less the other two)."""
        optimizer, losses = self._stacked(size)

        def forward_backward() -> None:
            update_closure(optimizer, losses, self._members_batch(size))()

        update = population_update(optimizer, losses, cuda_graph=False)
        forward = 1e3 / timed(lambda: losses(self._members_batch(size)), seconds, self.device)
        both = 1e3 / timed(forward_backward, seconds, self.device)
        whole = 1e3 / timed(lambda: update(self._members_batch(size)).cpu(), seconds, self.device)
        return forward, both - forward, whole - both


class RNNBench:
    def __init__(self, device: torch.device) -> None:
        self.task = get_task("addition")
        self.model = TanhRNN.for_task(self.task, seed=1).to(device)
        self.stream = training_stream(self.task, T, RNN_BATCH, seed=1)
        self.device = device
        self.optimizer = Nesterov(self.model.parameters(), lr=LR["rnn"], momentum=0.9)

    def batch(self) -> tuple[Tensor, ...]:
        inputs, targets, mask, valid = batch_tensors(next(self.stream), torch.float32, self.device)
        return (inputs, targets, mask) if valid is None else (inputs, targets, mask, valid)

    def solo_step(self) -> None:
        inputs, targets, mask, *rest = self.batch()

        def closure() -> Tensor:
            self.optimizer.zero_grad()
            z = self.model(inputs, rest[0] if rest else None)
            loss = task_loss(self.task, z, targets, mask, reduction="sum")
            loss.backward()
            return loss

        self.optimizer.step(closure)

    def population(self, size: int, cuda_graph: bool) -> Callable[[], object]:
        stacked = StackedTanhRNN([copy.deepcopy(self.model) for _ in range(size)])
        optimizer = _optimizer(stacked.parameters(), size, LR["rnn"])

        def losses(batch: Sequence[Tensor | None]) -> Tensor:
            inputs, targets, mask, valid = batch
            assert inputs is not None and targets is not None and mask is not None
            z = stacked.forward(inputs, valid, scored=mask)
            return member_losses(self.task, z, targets, mask)

        update = population_update(optimizer, losses, cuda_graph)
        index = torch.zeros(size, dtype=torch.long, device=self.device)

        def step() -> Tensor:
            # one minibatch for all members, indexed on the device (as fit_population does)
            one = stack_batches([self.batch()])
            return update(tuple(None if t is None else t[index] for t in one)).cpu()

        return step


def model_config(name: str) -> dict:
    """``conf/model/<name>.yaml`` as a dict (its keys are plain values)."""
    return yaml.safe_load((ROOT / "conf" / "model" / f"{name}.yaml").read_text())


def matmul_gflop(name: str) -> float:
    """GFLOP of the matrix products of one autoencoder update: per case, forward 2 and
    backward 4 FLOP per weight (encoder and its mirrored decoder), times the minibatch."""
    sizes = model_config(name)["encoder_sizes"]
    weights = 2 * sum(a * b for a, b in itertools.pairwise(sizes))
    return 6 * weights * AE_BATCH / 1e9


def large_matmul_gflops(device: torch.device, seconds: float) -> float:
    """GFLOP/s of one large float32 matrix product on ``device`` (n = 2048; 8192 on a GPU):
    about the best rate this machine gives matrix products, the ceiling of what stacking
    members' small products into batched ones can approach."""
    n = 8192 if device.type == "cuda" else 2048
    a, b = (torch.randn(n, n, device=device) for _ in range(2))
    return 2 * n**3 * timed(lambda: a @ b, seconds, device) / 1e9


def _optimizer(params: list[Tensor], size: int, lr: float) -> PopulationMomentum:
    """Half NAG and half CM members, NAG first as the launcher orders them, lrs spread over
    a factor of 4 (a sweep's grid)."""
    lrs = [lr * 2.0 ** -(k % 3) for k in range(size)]
    return PopulationMomentum(
        params, lrs, [lambda t: 0.99] * size, [k < (size + 1) // 2 for k in range(size)]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", nargs="+", default=["curves", "mnist", "faces", "rnn"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[1, 4, 8, 16, 32, 54])
    parser.add_argument("--threads", type=int, default=len(__import__("os").sched_getaffinity(0)))
    parser.add_argument("--seconds", type=float, default=3.0, help="timing per measurement")
    parser.add_argument("--warmup", type=int, default=300, help="real updates before timing")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--matmul-precision", default="highest", choices=["highest", "high"])
    parser.add_argument(
        "--phases", type=int, metavar="K", help="autoencoders: where an update of K members goes"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_float32_matmul_precision(args.matmul_precision)
    flush_denormals(True)
    keep_freed_memory()  # as every run does (training/loop.py set_numerics)
    device = torch.device(args.device)
    graphs = device.type == "cuda"
    name = torch.cuda.get_device_name(device) if graphs else f"{args.threads} threads"
    print(
        f"device {device} ({name}), torch {torch.__version__}, float32, "
        f"matmul precision {args.matmul_precision}"
    )
    ceiling = large_matmul_gflops(device, args.seconds)
    print(f"one {'8192' if graphs else '2048'}^2 float32 matmul: {ceiling:,.0f} GFLOP/s")
    print(
        "set     K   member-updates/s  solo updates/s  population/solo"
        + ("   (eager population: member-updates/s, /solo)" if graphs else "")
    )
    projections = []
    for name in args.sets:
        if name != "rnn" and not (ROOT / "data" / "sets" / name).exists():
            print(f"{name:6}  not built (data/sets/{name}): skipped")
            continue
        bench = RNNBench(device) if name == "rnn" else AutoencoderBench(name, device)
        for _ in range(args.warmup):
            bench.solo_step()
        solos = []
        best = (0.0, 1)
        for size in args.sizes:
            # the solo loop timed beside each population: this machine's speed drifts
            solo = timed(bench.solo_step, args.seconds, device)
            solos.append(solo)
            try:
                rate = size * timed(bench.population(size, graphs), args.seconds, device)
            except RuntimeError as error:  # a capture that fails: say so, time the rest
                print(f"{name:6} {size:3d}  failed: {type(error).__name__}: {error}", flush=True)
                continue
            best = max(best, (rate, size))
            line = f"{name:6} {size:3d}  {rate:16.1f}  {solo:14.1f}  {rate / solo:14.2f}x"
            if graphs:  # the same update without the graph: what capturing it gives
                eager = size * timed(bench.population(size, False), args.seconds, device)
                line += f"   ({eager:10.1f}, {eager / solo:6.2f}x)"
            print(line, flush=True)
        if best[0] > 0:  # some size was timed
            projections.append((name, float(np.median(solos)), *best))
        if name != "rnn" and solos:  # how far the solo step's products are from the ceiling
            rate = matmul_gflop(name) * float(np.median(solos))
            print(
                f"{name:6} solo: matrix products at {rate:,.0f} GFLOP/s, "
                f"{rate / ceiling:.0%} of the large matmul's rate",
                flush=True,
            )
        if name != "rnn" and args.phases:
            assert isinstance(bench, AutoencoderBench)
            forward, backward, rest = bench.phases(args.phases, args.seconds)
            at_ceiling = 1e3 * args.phases * matmul_gflop(name) / ceiling
            solo_ms = 1e3 * args.phases / float(np.median(solos)) if solos else float("nan")
            print(
                f"{name:6} one update of K = {args.phases} in ms: objectives {forward:.1f}, "
                f"backward {backward:.1f}, look-ahead and momentum step {rest:.1f} "
                f"(total {forward + backward + rest:.1f}; K solo updates {solo_ms:.1f}; "
                f"the matrix products at the large matmul's rate {at_ceiling:.1f})",
                flush=True,
            )
    print("\nThe paper's protocol on this machine (runs x updates / member-updates/s):")
    for name, solo, best, size in projections:
        work = PAPER_RUNS[name] * PAPER_UPDATES[name]
        table = "Table 5" if name == "rnn" else "Table 1"
        print(
            f"  {table} {name:6}: {PAPER_RUNS[name]} runs x {PAPER_UPDATES[name]:,} updates: "
            f"solo loop {work / solo / 3600:8.1f} h, population (K = {size}) "
            f"{work / best / 3600:8.1f} h"
            + (
                ""
                if name == "rnn"
                else f" ({matmul_gflop(name) * best / 1e3:.1f} TFLOP/s of matrix products)"
            )
        )
    autoencoders = [(n, s, b) for n, s, b, _ in projections if n != "rnn"]
    if len(autoencoders) > 1:
        solo_h = sum(PAPER_RUNS[n] * PAPER_UPDATES[n] / s for n, s, _ in autoencoders) / 3600
        best_h = sum(PAPER_RUNS[n] * PAPER_UPDATES[n] / b for n, _, b in autoencoders) / 3600
        pflop = sum(PAPER_RUNS[n] * PAPER_UPDATES[n] * matmul_gflop(n) for n, _, _ in autoencoders)
        names = " + ".join(n for n, _, _ in autoencoders)
        print(
            f"  Table 1 ({names}): solo loop {solo_h:8.1f} h, population {best_h:8.1f} h; "
            f"its matrix products alone are {pflop / 1e6:.0f} PFLOP"
        )


if __name__ == "__main__":
    main()
