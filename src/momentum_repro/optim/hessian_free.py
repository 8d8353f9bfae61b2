"""Hessian-free optimization (Martens 2010) and the momentum-HF hybrid (Sutskever et al. 2013).

One update (Martens 2010, as in his released HFDemo code):

1. gradient g of f(theta) = mean-over-cases loss + weight_cost / 2 |theta|^2 on the gradient
   batch, with the sum of squared per-case gradients for the preconditioner;
2. CG on (G + (lambda + weight_cost) I) p = -g, G the Gauss-Newton matrix J^T H_L J averaged
   over the curvature batch, warm-started from ``cg_decay`` times the previous CG solution,
   preconditioned by (sum_n g_n^2 / N + lambda + weight_cost)^0.75;
3. CG backtracking over the kept iterates, on the gradient batch's objective;
4. Levenberg-Marquardt damping: rho = actual / predicted reduction on the curvature batch
   (the prediction without damping); rho < 1/4: lambda *= 3/2; rho > 3/4: lambda *= 2/3;
5. an Armijo line search (c = 1e-2, shrink 0.8, at most 60 tries) on the gradient batch, or,
   in the hybrid of Sutskever et al. (2013), appendix A.6, a fixed learning rate.

The hybrid differs only in its settings, so both are one optimizer: every setting may be a
callable of the update count t, and a list of :class:`Phase` objects switches settings at
given updates (small batches, a rising ``cg_decay`` in the role of mu, then large batches,
more CG steps and a lower L2 penalty).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, grad, vmap

from momentum_repro.optim.conjugate_gradient import (
    CGResult,
    cg_backtrack,
    conjugate_gradient,
)

LossName = Literal["cross_entropy", "squared_error"]
LOSSES = ("cross_entropy", "squared_error")
Batch = Tensor | tuple[Tensor, Tensor]
Schedulable = float | Callable[[int], float]

ARMIJO_C = 1e-2
ARMIJO_SHRINK = 0.8
ARMIJO_MAX_TRIES = 60
RHO_LOW, RHO_HIGH = 0.25, 0.75
DAMPING_BOOST, DAMPING_DROP = 3.0 / 2.0, 2.0 / 3.0
PRECONDITIONER_EXPONENT = 0.75


# ---------------------------------------------------------------------------------------------
# The matching loss and its Hessian with respect to the output pre-activations
# ---------------------------------------------------------------------------------------------


def _check_loss(loss: str) -> None:
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")


def per_case_loss(z: Tensor, targets: Tensor, loss: LossName) -> Tensor:
    """Loss of each case, summed over output units: what ``DeepAutoencoder.objective`` averages.

    cross_entropy: logistic outputs sigmoid(z) with cross-entropy; squared_error: linear
    outputs with sum (z - targets)^2.
    """
    _check_loss(loss)
    if loss == "cross_entropy":
        per_unit = F.binary_cross_entropy_with_logits(z, targets, reduction="none")
    else:
        per_unit = (z - targets).pow(2)
    return per_unit.reshape(per_unit.shape[0], -1).sum(dim=1)


def output_hessian(z: Tensor, loss: LossName) -> Tensor:
    """Diagonal of the per-case loss Hessian H_L with respect to z, broadcastable against z.

    Logistic + cross-entropy: y (1 - y) with y = sigmoid(z); linear + squared error: 2.
    """
    _check_loss(loss)
    if loss == "cross_entropy":
        y = torch.sigmoid(z)
        return y * (1.0 - y)
    return torch.full((), 2.0, dtype=z.dtype, device=z.device)


# ---------------------------------------------------------------------------------------------
# Gauss-Newton products
# ---------------------------------------------------------------------------------------------


def _as_pair(batch: Batch, what: str) -> tuple[Tensor, Tensor]:
    if isinstance(batch, Tensor):
        return batch, batch  # an autoencoder reconstructs its input
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch[0], batch[1]
    raise TypeError(f"{what} must be a tensor (targets = inputs) or an (inputs, targets) pair")


class GaussNewtonOperator:
    """v -> G v = (1/N) sum_n J_n^T H_n J_n v at fixed parameters on one batch (no damping).

    The forward pass and the backward graph J^T u are built once; every product then costs a
    pass through that graph (J v, by differentiating J^T u with respect to u) and a backward
    pass (J^T H J v), so CG pays for the forward pass only once. ``vector`` and the result are
    flat, in ``parameters_to_vector(model.parameters())`` order. The graph is built on copies
    of the parameters, so changing the model afterwards does not disturb it.
    """

    def __init__(
        self,
        model: nn.Module,
        inputs: Tensor,
        targets: Tensor,
        loss: LossName,
        theta: Tensor | None = None,
    ) -> None:
        _check_loss(loss)
        names, shapes = zip(*((n, p.shape) for n, p in model.named_parameters()), strict=True)
        self.names, self.shapes = list(names), list(shapes)
        self.numels = [math.prod(s) for s in self.shapes]
        if theta is None:
            theta = nn.utils.parameters_to_vector(model.parameters())
        theta = theta.detach()
        self.params = [
            t.view(s).clone().requires_grad_(True)
            for t, s in zip(theta.split(self.numels), self.shapes, strict=True)
        ]
        self.n_cases = inputs.shape[0]
        with torch.enable_grad():
            self.outputs = functional_call(
                model, dict(zip(self.names, self.params, strict=True)), (inputs,)
            )
            self._u = torch.zeros_like(self.outputs, requires_grad=True)
            self._Jt_u = torch.autograd.grad(
                self.outputs, self.params, self._u, create_graph=True, materialize_grads=True
            )
        z = self.outputs.detach()
        self.per_case_loss = per_case_loss(z, targets, loss)
        self._weights = output_hessian(z, loss) / self.n_cases

    def jacobian_product(self, vector: Tensor) -> Tensor:
        """J v: the change of the outputs along ``vector`` (shape of the outputs)."""
        tangents = [t.view(s) for t, s in zip(vector.split(self.numels), self.shapes, strict=True)]
        with torch.enable_grad():
            (Jv,) = torch.autograd.grad(self._Jt_u, self._u, tangents, retain_graph=True)
        return Jv

    def __call__(self, vector: Tensor) -> Tensor:
        HJv = self._weights * self.jacobian_product(vector)
        with torch.enable_grad():
            JtHJv = torch.autograd.grad(
                self.outputs, self.params, HJv, retain_graph=True, materialize_grads=True
            )
        return torch.cat([t.reshape(-1) for t in JtHJv])


def gauss_newton_product(
    model: nn.Module,
    inputs: Tensor,
    targets: Tensor,
    vector: Tensor,
    loss: LossName = "cross_entropy",
) -> Tensor:
    """The average over the batch of J^T H_L J v (flat, ``parameters_to_vector`` order).

    ``model(inputs)`` must return the pre-activations z the matching loss acts on
    (``DeepAutoencoder.forward`` does); H_L is :func:`output_hessian`.
    """
    return GaussNewtonOperator(model, inputs, targets, loss)(vector)


# ---------------------------------------------------------------------------------------------
# Gradient and sum of squared per-case gradients
# ---------------------------------------------------------------------------------------------


def _linear_layout(model: nn.Module) -> list[tuple[nn.Linear, int, int | None]] | None:
    """(layer, index of weight, index of bias) for every nn.Linear, if they hold every parameter."""
    index = {id(p): i for i, p in enumerate(model.parameters())}
    layout = []
    covered: set[int] = set()
    for module in model.modules():
        if isinstance(module, nn.Linear):
            w = index[id(module.weight)]
            b = index[id(module.bias)] if module.bias is not None else None
            layout.append((module, w, b))
            covered.update(i for i in (w, b) if i is not None)
    if covered != set(range(len(index))):
        return None
    return layout


class _GradientPass:
    """Sum over cases of the loss, its gradient and (optionally) the squared per-case gradients.

    Fast path (every parameter in an nn.Linear called once per forward, HFDemo's trick): the
    per-case weight gradient is the outer product dz_n a_n^T, so the sum of its squares is
    (dz^2)^T (a^2), one extra matrix product per layer. Otherwise per-case gradients come from
    ``torch.func.vmap(grad)`` in small chunks.
    """

    def __init__(self, model: nn.Module, loss: LossName, chunk_size: int) -> None:
        self.model, self.loss, self.chunk_size = model, loss, chunk_size
        self.names = [n for n, _ in model.named_parameters()]
        self.shapes = [p.shape for p in model.parameters()]
        self.numels = [math.prod(s) for s in self.shapes]
        self.layout = _linear_layout(model)

    def params(self, theta: Tensor) -> dict[str, Tensor]:
        views = theta.split(self.numels)
        return {n: v.view(s) for n, v, s in zip(self.names, views, self.shapes, strict=True)}

    @torch.no_grad()
    def loss_sum(self, theta: Tensor, inputs: Tensor, targets: Tensor) -> float:
        params = self.params(theta)
        total = 0.0
        for start in range(0, inputs.shape[0], self.chunk_size):
            x = inputs[start : start + self.chunk_size]
            t = targets[start : start + self.chunk_size]
            z = functional_call(self.model, params, (x,))
            total += float(per_case_loss(z, t, self.loss).sum(dtype=torch.float64))
        return total

    def __call__(
        self, theta: Tensor, inputs: Tensor, targets: Tensor, squares: bool
    ) -> tuple[float, Tensor, Tensor | None]:
        total = 0.0
        g = torch.zeros_like(theta)
        g2 = torch.zeros_like(theta) if squares else None
        for start in range(0, inputs.shape[0], self.chunk_size):
            x = inputs[start : start + self.chunk_size]
            t = targets[start : start + self.chunk_size]
            done = self._linear_chunk(theta, x, t, g, g2) if self.layout is not None else None
            if done is None:
                done = self._generic_chunk(theta, x, t, g, g2)
            total += done
        return total, g, g2

    def _slots(self, flat: Tensor) -> list[Tensor]:
        return [v.view(s) for v, s in zip(flat.split(self.numels), self.shapes, strict=True)]

    def _linear_chunk(
        self, theta: Tensor, x: Tensor, t: Tensor, g: Tensor, g2: Tensor | None
    ) -> float | None:
        assert self.layout is not None
        seen: dict[int, list[tuple[Tensor, Tensor]]] = {}

        def hook(module: nn.Module, args: tuple[Tensor, ...], out: Tensor) -> None:
            seen.setdefault(id(module), []).append((args[0], out))

        handles = [m.register_forward_hook(hook) for m, _, _ in self.layout]
        params = {n: p.detach().requires_grad_(True) for n, p in self.params(theta).items()}
        try:
            with torch.enable_grad():
                z = functional_call(self.model, params, (x,))
                losses = per_case_loss(z, t, self.loss)
                records = [seen.get(id(m), []) for m, _, _ in self.layout]
                if any(len(r) != 1 or r[0][0].dim() != 2 for r in records):
                    return None  # a layer used twice or on non-matrix inputs: generic path
                dz = torch.autograd.grad(losses.sum(), [r[0][1] for r in records])
        finally:
            for h in handles:
                h.remove()
        g_slots = self._slots(g)
        g2_slots = self._slots(g2) if g2 is not None else None
        for (_, w, b), r, d in zip(self.layout, records, dz, strict=True):
            a = r[0][0].detach()
            g_slots[w].add_(d.T @ a)
            if b is not None:
                g_slots[b].add_(d.sum(dim=0))
            if g2_slots is not None:
                d2 = d * d
                g2_slots[w].add_(d2.T @ (a * a))
                if b is not None:
                    g2_slots[b].add_(d2.sum(dim=0))
        return float(losses.detach().sum(dtype=torch.float64))

    def _generic_chunk(
        self, theta: Tensor, x: Tensor, t: Tensor, g: Tensor, g2: Tensor | None
    ) -> float:
        params = {n: p.detach().requires_grad_(True) for n, p in self.params(theta).items()}
        with torch.enable_grad():
            losses = per_case_loss(functional_call(self.model, params, (x,)), t, self.loss)
            grads = torch.autograd.grad(losses.sum(), list(params.values()), materialize_grads=True)
        g.add_(torch.cat([q.reshape(-1) for q in grads]))
        if g2 is not None:
            detached = {n: p.detach() for n, p in params.items()}

            def case_loss(p: dict[str, Tensor], xi: Tensor, ti: Tensor) -> Tensor:
                zi = functional_call(self.model, p, (xi.unsqueeze(0),))
                return per_case_loss(zi, ti.unsqueeze(0), self.loss).sum()

            per_case = vmap(grad(case_loss), in_dims=(None, 0, 0))
            for s in range(0, x.shape[0], 32):
                gs = per_case(detached, x[s : s + 32], t[s : s + 32])
                g2.add_(torch.cat([gs[n].pow(2).sum(dim=0).reshape(-1) for n in self.names]))
        return float(losses.detach().sum(dtype=torch.float64))


# ---------------------------------------------------------------------------------------------
# Settings that change with the update count: phases
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InverseTime:
    """lr(t) = scale / (t - offset): the hybrid's decayed learning rates (500/(t-4000), 250/t).

    Equal to 1 at t = offset + scale, so a phase starting there continues from lr 1.
    """

    scale: float
    offset: float = 0.0

    def __call__(self, t: int) -> float:
        if not t > self.offset:
            raise ValueError(
                f"InverseTime: t must exceed offset={self.offset} (lr = {self.scale} / "
                f"(t - {self.offset})), got t={t}"
            )
        return self.scale / (t - self.offset)


@dataclass(frozen=True)
class LinearRamp:
    """value(t): ``start_value`` until ``start_update``, then linear to ``end_value`` at
    ``end_update``, constant after (e.g. the hybrid's L2 penalty from 2e-5 to 0)."""

    start_value: float
    end_value: float
    start_update: int
    end_update: int

    def __call__(self, t: int) -> float:
        if self.end_update <= self.start_update:
            raise ValueError(
                f"LinearRamp: end_update ({self.end_update}) must exceed start_update "
                f"({self.start_update})"
            )
        w = min(max((t - self.start_update) / (self.end_update - self.start_update), 0.0), 1.0)
        return self.start_value + w * (self.end_value - self.start_value)


@dataclass(frozen=True)
class Phase:
    """Settings from update ``start_update`` on; None keeps the value in force before.

    Each value is a constant or a callable of the update count t (e.g. :class:`InverseTime`).
    ``decay`` is the CG warm-start decay (the hybrid's mu); ``batch_fraction`` and
    ``curvature_fraction`` are the gradient and curvature batches as fractions of the training
    set (used by ``HessianFree.step(data=...)``).
    """

    start_update: int = 0
    lr: Schedulable | None = None
    decay: Schedulable | None = None
    cg_max_iters: int | Callable[[int], int] | None = None
    batch_fraction: Schedulable | None = None
    curvature_fraction: Schedulable | None = None
    weight_cost: Schedulable | None = None
    line_search: bool | None = None

    def __post_init__(self) -> None:
        if self.start_update < 0:
            raise ValueError(f"Phase: start_update must be >= 0, got {self.start_update}")


def _as_phases(phases: Iterable[Phase | Mapping[str, Any]]) -> tuple[Phase, ...]:
    out = tuple(p if isinstance(p, Phase) else Phase(**dict(p)) for p in phases)
    starts = [p.start_update for p in out]
    if starts != sorted(starts):
        raise ValueError(f"phases must be in order of start_update, got starts {starts}")
    return out


def phase_at(phases: Sequence[Phase | Mapping[str, Any]], t: int) -> Phase:
    """The settings in force at update t: the phases begun by t, later ones overriding."""
    merged = Phase(start_update=0)
    for phase in _as_phases(phases):
        if phase.start_update > t:
            break
        changes = {f.name: getattr(phase, f.name) for f in fields(Phase)}
        merged = replace(merged, **{k: v for k, v in changes.items() if v is not None})
    return merged


@dataclass(frozen=True)
class HFSettings:
    """The concrete settings of one update."""

    lr: float
    cg_decay: float
    cg_max_iters: int
    weight_cost: float
    line_search: bool
    batch_fraction: float
    curvature_fraction: float


def cycled_chunk(n_cases: int, fraction: float, index: int) -> slice:
    """Chunk ``index mod K`` of the cases, in chunks of round(fraction * n) (K whole chunks).

    HFDemo cycles the curvature chunk this way, one chunk per update.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"cycled_chunk: fraction must be in (0, 1], got {fraction}")
    size = max(1, round(fraction * n_cases))
    if size >= n_cases:
        return slice(0, n_cases)
    c = index % (n_cases // size)
    return slice(c * size, (c + 1) * size)


# ---------------------------------------------------------------------------------------------
# The optimizer
# ---------------------------------------------------------------------------------------------


def reduction_ratio(before: float, after: float, predicted: float) -> float:
    """rho = (after - before) / predicted change; -inf when the objective rose (as HFDemo)."""
    if after > before:
        return -math.inf
    return (after - before) / predicted if predicted != 0.0 else math.nan


def _at(value: Any, t: int) -> Any:
    return value(t) if callable(value) else value


class HessianFree(torch.optim.Optimizer):
    """Hessian-free optimization (Martens 2010) and its momentum hybrid (Sutskever et al. 2013).

    ``params`` must be ``model.parameters()`` (all of them, in order). ``loss`` defaults to
    ``model.loss_name``. ``lr``, ``cg_decay``, ``cg_max_iters``, ``weight_cost``,
    ``batch_fraction`` and ``curvature_fraction`` are constants or callables of the update
    count t; ``phases`` (a list of :class:`Phase` or of dicts) overrides them from given updates.

    Martens 2010: ``lr=1, line_search=True, cg_decay=0.95, cg_max_iters=250, batch_fraction=1``,
    ``curvature_fraction`` 1/4 (CURVES), 1/8 (MNIST), 1/20 (FACES).
    Hybrid (appendix A.6): ``line_search=False`` and phases with small batch fractions, a
    rising ``decay`` and, later, a decayed ``lr``.

    Each ``step`` is one parameter update and returns a dict of statistics (see ``step``).
    """

    def __init__(
        self,
        params: Iterable[Tensor],
        *,
        model: nn.Module,
        loss: LossName | None = None,
        lr: Schedulable = 1.0,
        damping: float = 45.0,
        cg_decay: Schedulable = 0.95,
        cg_max_iters: int | Callable[[int], int] = 250,
        cg_min_iters: int = 1,
        cg_tolerance: float = 5e-4,
        weight_cost: Schedulable = 0.0,
        line_search: bool = True,
        backtracking: bool = True,
        adapt_damping: bool = True,
        preconditioner: bool = True,
        batch_fraction: Schedulable = 1.0,
        curvature_fraction: Schedulable = 0.25,
        phases: Iterable[Phase | Mapping[str, Any]] = (),
        shuffle_seed: int | None = 0,
        chunk_size: int = 10_000,
    ) -> None:
        params = list(params)
        model_params = list(model.parameters())
        if len(params) != len(model_params) or any(
            p is not q for p, q in zip(params, model_params, strict=False)
        ):
            raise ValueError(
                "HessianFree: params must be model.parameters() (all of them, in order); got "
                f"{len(params)} tensors for a model with {len(model_params)} parameters"
            )
        loss = loss if loss is not None else getattr(model, "loss_name", None)
        if loss not in LOSSES:
            raise ValueError(f"HessianFree: loss must be one of {LOSSES}, got {loss!r}")
        if not damping >= 0.0:
            raise ValueError(f"HessianFree: damping must be >= 0, got {damping}")
        if cg_min_iters < 0:
            raise ValueError(f"HessianFree: cg_min_iters must be >= 0, got {cg_min_iters}")
        if chunk_size < 1:
            raise ValueError(f"HessianFree: chunk_size must be >= 1, got {chunk_size}")
        defaults = dict(
            lr=lr,
            damping=float(damping),
            cg_decay=cg_decay,
            cg_max_iters=cg_max_iters,
            weight_cost=weight_cost,
            line_search=line_search,
            batch_fraction=batch_fraction,
            curvature_fraction=curvature_fraction,
        )
        super().__init__(params, defaults)
        self.model = model
        self.loss = loss
        self.cg_min_iters = cg_min_iters
        self.cg_tolerance = cg_tolerance
        self.backtracking = backtracking
        self.adapt_damping = adapt_damping
        self.use_preconditioner = preconditioner
        self.phases = _as_phases(phases)
        self.shuffle_seed = shuffle_seed
        self._gradient_pass = _GradientPass(model, loss, chunk_size)
        self._permutations: dict[int, Tensor] = {}
        self.state["hessian_free"] = {"updates_done": 0, "total_cg_iterations": 0}

    # -- bookkeeping ----------------------------------------------------------------------

    @property
    def params(self) -> list[Tensor]:
        return self.param_groups[0]["params"]

    @property
    def damping(self) -> float:
        """lambda, the Levenberg-Marquardt damping for the next update."""
        return float(self.param_groups[0]["damping"])

    @property
    def updates_done(self) -> int:
        return int(self.state["hessian_free"]["updates_done"])

    @property
    def total_cg_iterations(self) -> int:
        return int(self.state["hessian_free"]["total_cg_iterations"])

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["state"] = dict(state["state"])  # copy the counters, not a live reference
        state["state"]["hessian_free"] = dict(self.state["hessian_free"])
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self.state["hessian_free"] = dict(self.state["hessian_free"])

    def settings(self, t: int | None = None) -> HFSettings:
        """The settings of update t (default: the next update)."""
        t = self.updates_done if t is None else t
        group = self.param_groups[0]
        merged = phase_at(self.phases, t)
        pick = {
            "lr": merged.lr,
            "cg_decay": merged.decay,
            "cg_max_iters": merged.cg_max_iters,
            "weight_cost": merged.weight_cost,
            "line_search": merged.line_search,
            "batch_fraction": merged.batch_fraction,
            "curvature_fraction": merged.curvature_fraction,
        }
        values = {k: _at(group[k] if v is None else v, t) for k, v in pick.items()}
        s = HFSettings(
            lr=float(values["lr"]),
            cg_decay=float(values["cg_decay"]),
            cg_max_iters=int(values["cg_max_iters"]),
            weight_cost=float(values["weight_cost"]),
            line_search=bool(values["line_search"]),
            batch_fraction=float(values["batch_fraction"]),
            curvature_fraction=float(values["curvature_fraction"]),
        )
        if s.cg_max_iters < 1 or not 0.0 <= s.cg_decay <= 1.0 or not s.lr >= 0.0:
            raise ValueError(f"HessianFree: invalid settings at update {t}: {s}")
        return s

    def select_batches(self, data: Batch, t: int | None = None) -> tuple[Batch, Batch]:
        """(gradient batch, curvature batch) for update t from the whole training ``data``.

        Cases are shuffled once (``shuffle_seed``; None keeps the given order), then both
        batches are chunks cycled with t: ``batch_fraction`` and ``curvature_fraction`` of
        the data. A fraction of 1 is the whole set; equal fractions give the same batch.
        """
        t = self.updates_done if t is None else t
        s = self.settings(t)
        inputs, targets = _as_pair(data, "data")
        n = inputs.shape[0]
        order = self._permutation(n)

        def take(fraction: float) -> Batch:
            chunk = cycled_chunk(n, fraction, t)
            if chunk == slice(0, n):
                return (inputs, targets)
            idx = order[chunk] if order is not None else None
            if idx is None:
                return (inputs[chunk], targets[chunk])
            x = inputs[idx.to(inputs.device)]
            return (x, x) if targets is inputs else (x, targets[idx.to(targets.device)])

        return take(s.batch_fraction), take(s.curvature_fraction)

    def _permutation(self, n: int) -> Tensor | None:
        if self.shuffle_seed is None:
            return None
        if n not in self._permutations:
            gen = torch.Generator().manual_seed(self.shuffle_seed)
            self._permutations[n] = torch.randperm(n, generator=gen)
        return self._permutations[n]

    def _theta(self) -> Tensor:
        return nn.utils.parameters_to_vector(self.params).detach().clone()

    def _cg_direction(self, like: Tensor) -> Tensor:
        parts = [self.state[p].get("cg_direction") for p in self.params]
        if any(x is None for x in parts):
            return torch.zeros_like(like)
        return torch.cat([x.reshape(-1) for x in parts])

    def _store(self, theta: Tensor, direction: Tensor) -> None:
        offset = 0
        with torch.no_grad():
            for p in self.params:
                n = p.numel()
                p.copy_(theta[offset : offset + n].view_as(p))
                self.state[p]["cg_direction"] = direction[offset : offset + n].view_as(p).clone()
                offset += n

    # -- one update -----------------------------------------------------------------------

    @torch.no_grad()
    def step(
        self,
        closure: Callable[[], Any] | None = None,
        *,
        gradient_batch: Batch | None = None,
        curvature_batch: Batch | None = None,
        data: Batch | None = None,
    ) -> dict[str, Any]:
        """One HF update. Give either ``data`` (the whole training set; the batches are chosen
        by :meth:`select_batches`) or both ``gradient_batch`` and ``curvature_batch``.

        A batch is a tensor (autoencoder: targets = inputs) or an (inputs, targets) pair.
        ``closure`` is accepted for ``torch.optim`` / Lightning compatibility, called once and
        ignored. Returns statistics of the update:

        - ``update``: t, the index of this update (0-based); ``loss`` / ``loss_after``: the
          objective (mean loss + weight cost) on the gradient batch at theta_t / theta_{t+1};
        - ``cg_iterations``: CG steps run (Gv products, besides one for x_0 and one for rho);
          ``cg_iterations_used``: the backtracked iterate's; ``total_cg_iterations``;
          ``cg_stop``: why CG stopped;
        - ``rho``, ``damping`` (lambda used), ``next_damping``;
        - ``step_size``: the multiple of the CG solution added (lr times the line search's
          factor; 0 when rejected); ``line_search_tries``;
        - the settings used: ``lr``, ``cg_decay`` (the hybrid's mu), ``cg_max_iters``,
          ``weight_cost``, ``line_search``, ``gradient_cases``, ``curvature_cases``.

        If the objective or gradient at theta_t is not finite, the parameters stay as they are
        (the update is still counted) and the stats carry that ``loss`` and ``cg_iterations=0``:
        a training loop should treat a non-finite ``loss`` as divergence.
        """
        if closure is not None:
            with torch.enable_grad():
                closure()
        t = self.updates_done
        s = self.settings(t)
        if data is not None:
            if gradient_batch is not None or curvature_batch is not None:
                raise ValueError("HessianFree.step: give data, or the two batches, not both")
            gradient_batch, curvature_batch = self.select_batches(data, t)
        if gradient_batch is None or curvature_batch is None:
            raise ValueError(
                "HessianFree.step needs data=..., or gradient_batch and curvature_batch"
            )
        theta = self._theta()
        xg, yg = (b.to(theta) for b in _as_pair(gradient_batch, "gradient_batch"))
        xc, yc = (b.to(theta) for b in _as_pair(curvature_batch, "curvature_batch"))
        lam = self.damping
        wc = s.weight_cost
        stats: dict[str, Any] = {
            "update": t,
            "lr": s.lr,
            "cg_decay": s.cg_decay,
            "cg_max_iters": s.cg_max_iters,
            "weight_cost": wc,
            "line_search": s.line_search,
            "damping": lam,
            "gradient_cases": int(xg.shape[0]),
            "curvature_cases": int(xc.shape[0]),
        }

        def l2(x: Tensor) -> float:
            return 0.5 * wc * float(x.double() @ x.double()) if wc else 0.0

        def objective(delta: Tensor) -> float:  # on the gradient batch
            point = theta + delta
            return self._gradient_pass.loss_sum(point, xg, yg) / xg.shape[0] + l2(point)

        # 1. gradient and squared per-case gradients on the gradient batch
        loss_sum, g, g2 = self._gradient_pass(theta, xg, yg, squares=self.use_preconditioner)
        f0 = loss_sum / xg.shape[0] + l2(theta)
        g.div_(xg.shape[0]).add_(theta, alpha=wc)
        if not (math.isfinite(f0) and bool(torch.isfinite(g).all())):
            return self._unchanged(stats, f0)

        # 2. CG on (G + (lambda + wc) I) p = -g from the decayed previous solution
        G = GaussNewtonOperator(self.model, xc, yc, self.loss, theta)
        shift = lam + wc

        def damped(v: Tensor) -> Tensor:
            return G(v).add_(v, alpha=shift)

        precon = None
        if g2 is not None:
            precon = (g2 / xg.shape[0] + shift).pow_(PRECONDITIONER_EXPONENT)
            # undamped, a weight that no case moves (e.g. from an always-blank pixel) has 0 here
            precon.clamp_min_(torch.finfo(precon.dtype).tiny)
        x0 = self._cg_direction(theta).mul_(s.cg_decay)
        cg: CGResult = conjugate_gradient(
            damped,
            -g,
            x0,
            max_iters=s.cg_max_iters,
            min_iters=min(self.cg_min_iters, s.cg_max_iters),
            preconditioner=precon,
            tolerance=self.cg_tolerance,
        )

        # 3. backtracking over the kept iterates, on the gradient batch
        if self.backtracking:
            chosen, f_chosen = cg_backtrack(lambda j: objective(cg.iterates[j]), len(cg.iterates))
        else:
            chosen, f_chosen = len(cg.iterates) - 1, math.nan
        p = cg.iterates[chosen]

        # 4. Levenberg-Marquardt: rho on the curvature batch, the prediction without damping
        fc0 = float(G.per_case_loss.sum(dtype=torch.float64)) / xc.shape[0] + l2(theta)
        fc1 = self._gradient_pass.loss_sum(theta + p, xc, yc) / xc.shape[0] + l2(theta + p)
        predicted = float(g @ p) + 0.5 * float(p @ G(p)) + 0.5 * wc * float(p @ p)
        rho = reduction_ratio(fc0, fc1, predicted)
        next_lam = lam
        if self.adapt_damping:
            if math.isnan(rho) or rho < RHO_LOW:
                next_lam = lam * DAMPING_BOOST
            elif rho > RHO_HIGH:
                next_lam = lam * DAMPING_DROP

        # 5. the step: Armijo line search from lr, or the fixed learning rate
        rate, tries = s.lr, 0
        f_new = f_chosen if (self.backtracking and s.lr == 1.0) else math.nan
        if s.line_search:
            slope = float(g @ p)
            while True:
                if math.isnan(f_new):
                    f_new = objective(rate * p)
                tries += 1
                if f_new <= f0 + ARMIJO_C * rate * slope:
                    break
                if tries == ARMIJO_MAX_TRIES:
                    rate, f_new = 0.0, f0  # reject the step
                    break
                rate *= ARMIJO_SHRINK
                f_new = math.nan
        elif math.isnan(f_new):
            f_new = objective(rate * p)

        self._store(theta + rate * p, cg.solution)
        self.param_groups[0]["damping"] = next_lam
        hf = self.state["hessian_free"]
        hf["updates_done"] = t + 1
        hf["total_cg_iterations"] += cg.n_iters
        stats.update(
            loss=f0,
            loss_after=f_new,
            cg_iterations=cg.n_iters,
            cg_iterations_used=cg.iterations[chosen],
            total_cg_iterations=hf["total_cg_iterations"],
            cg_stop=cg.stop_reason,
            rho=rho,
            next_damping=next_lam,
            step_size=rate,
            line_search_tries=tries,
        )
        return stats

    def _unchanged(self, stats: dict[str, Any], f0: float) -> dict[str, Any]:
        hf = self.state["hessian_free"]
        hf["updates_done"] += 1
        stats.update(
            loss=f0,
            loss_after=f0,
            cg_iterations=0,
            cg_iterations_used=0,
            total_cg_iterations=hf["total_cg_iterations"],
            cg_stop="not_finite",
            rho=math.nan,
            next_damping=self.damping,
            step_size=0.0,
            line_search_tries=0,
        )
        return stats


__all__ = [
    "GaussNewtonOperator",
    "HFSettings",
    "HessianFree",
    "InverseTime",
    "LinearRamp",
    "Phase",
    "cycled_chunk",
    "gauss_newton_product",
    "output_hessian",
    "per_case_loss",
    "phase_at",
    "reduction_ratio",
]
