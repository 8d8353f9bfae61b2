"""One population update as a callable: eager, or replayed as a CUDA graph on a GPU.

A population update of the paper's small networks on a GPU is launch-bound: hundreds of
small kernels (a CURVES update: the look-ahead, 12 layers forward and back, the momentum
step per tensor; an RNN update: a few kernels per time step) each too small to fill the
device. ``GraphedUpdate`` captures the whole update once per input shape in a
``torch.cuda.CUDAGraph``; an update is then one replay. Before each replay the minibatch is
copied into the graph's static inputs and every member's mu_t into its static mu; the lrs,
the NAG/CM flags and the ``active`` mask are read from the optimizer's own tensors, which
``freeze`` writes in place, so a diverged member is frozen in the graph too.

The graph runs the same kernels on the same tensors as the eager update, so a member's
trajectory does not change (``benchmarks/gpu_check.py`` compares the two on a GPU).

Capture needs a few warm-up updates first (cuBLAS handles, autograd's buffers), run on a
side stream. They would train the members, so the parameters and velocities are saved
before and written back after: the first replay starts from the state the caller left.

Each graph keeps its own memory pool (one update's activations and gradients): RNN
minibatches padded to a few different lengths hold a few such pools on the device.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from momentum_repro.training.population.momentum import PopulationMomentum

Batch = Sequence[Tensor | None]
LossesFn = Callable[[Batch], Tensor]  # a minibatch (tensors) -> each member's objective (K,)
WARMUP_UPDATES = 3  # before a capture: the pattern of PyTorch's CUDA graph notes


def backward_of_active(losses: Tensor, active: Tensor) -> None:
    """Backward of the active members' summed objectives. Each member's gradient is that of
    its own objective (no member's term depends on another's parameters); a frozen member's
    term is left out, as a value, by ``where`` (no boolean indexing: that reads the mask on
    the host, which a CUDA graph cannot)."""
    torch.where(
        active, losses, torch.zeros((), dtype=losses.dtype, device=losses.device)
    ).sum().backward()


def update_closure(
    optimizer: PopulationMomentum, losses_fn: LossesFn, batch: Batch
) -> Callable[[], Tensor]:
    """What an update runs at the look-ahead point: the gradients set to None, every
    member's objective on ``batch`` and the backward of the active members'; returns the
    objectives (K,)."""

    def closure() -> Tensor:
        for p in optimizer.params:
            p.grad = None
        losses = losses_fn(batch)
        backward_of_active(losses, optimizer.active)
        return losses.detach()

    return closure


class EagerUpdate:
    """The update as PyTorch runs it op by op (the CPU path, and the GPU's reference)."""

    def __init__(self, optimizer: PopulationMomentum, losses_fn: LossesFn) -> None:
        self.optimizer, self.losses_fn = optimizer, losses_fn

    def __call__(self, batch: Batch) -> Tensor:
        """One update of every member on ``batch``; each member's objective (K,), on the device."""
        return self.optimizer.step(update_closure(self.optimizer, self.losses_fn, batch))


@dataclass
class _Captured:
    graph: torch.cuda.CUDAGraph
    inputs: tuple[Tensor | None, ...]  # the static storage of the minibatch the graph reads
    losses: Tensor  # the static (K,) objectives the graph writes


def _shared(t: Tensor) -> bool:
    """Whether ``t`` is one member's minibatch expanded over the members (stride 0)."""
    return t.dim() > 0 and t.shape[0] > 1 and t.stride(0) == 0


def _shape_key(batch: Batch) -> tuple[object, ...]:
    return tuple(None if t is None else (tuple(t.shape), t.dtype, _shared(t)) for t in batch)


def _static(t: Tensor | None) -> tuple[Tensor | None, Tensor | None]:
    """(storage, what the graph reads): a shared minibatch keeps its layout (one copy,
    expanded), so that the graph runs the kernels the eager update runs on it."""
    if t is None:
        return None, None
    if _shared(t):
        one = t[:1].clone()
        return one, one.expand_as(t)
    copy = t.clone()
    return copy, copy


class GraphedUpdate:
    """The update as one CUDA graph replay (one graph per minibatch shape: RNN batches of
    another padded length get their own)."""

    def __init__(self, optimizer: PopulationMomentum, losses_fn: LossesFn) -> None:
        if optimizer.lrs.device.type != "cuda":
            raise ValueError(f"GraphedUpdate needs CUDA tensors, got {optimizer.lrs.device}")
        self.optimizer, self.losses_fn = optimizer, losses_fn
        self.mu = torch.zeros_like(optimizer.lrs)  # the static mu_t every graph reads
        self.graphs: dict[tuple[object, ...], _Captured] = {}

    def __call__(self, batch: Batch) -> Tensor:
        """One update of every member on ``batch``; each member's objective (K,), on the
        device (the graph's own output: read it before the next update)."""
        optimizer = self.optimizer
        mu = optimizer.mus(optimizer.updates_done)
        self.mu.copy_(mu)
        key = _shape_key(batch)
        captured = self.graphs.get(key)
        if captured is None:
            captured = self.graphs[key] = self._capture(batch)
        for static, t in zip(captured.inputs, batch, strict=True):
            if static is not None and t is not None:
                static.copy_(t[:1] if _shared(t) else t)
        captured.graph.replay()
        optimizer.advance(mu)
        return captured.losses

    def _capture(self, batch: Batch) -> _Captured:
        optimizer = self.optimizer
        storage, inputs = zip(*(_static(t) for t in batch), strict=True)
        closure = update_closure(optimizer, self.losses_fn, inputs)
        saved = [t.detach().clone() for t in optimizer.state()]
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(WARMUP_UPDATES):
                optimizer.apply(self.mu, closure)
        torch.cuda.current_stream().wait_stream(side)
        with torch.no_grad():
            for t, s in zip(optimizer.state(), saved, strict=True):
                t.copy_(s)
        del saved
        for p in optimizer.params:
            p.grad = None  # the graph's backward allocates them in its own pool
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            losses = optimizer.apply(self.mu, closure)
        return _Captured(graph, tuple(storage), losses)


def population_update(
    optimizer: PopulationMomentum, losses_fn: LossesFn, cuda_graph: bool = True
) -> EagerUpdate | GraphedUpdate:
    """The update to call once per minibatch: a CUDA graph replay when the members are on a
    GPU and ``cuda_graph`` (``hydra.launcher.cuda_graph``), else eager."""
    if cuda_graph and optimizer.lrs.device.type == "cuda":
        return GraphedUpdate(optimizer, losses_fn)
    return EagerUpdate(optimizer, losses_fn)
