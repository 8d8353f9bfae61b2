"""Preconditioned linear conjugate gradient with Martens' (2010) stopping and backtracking rules.

CG minimizes the quadratic model phi(x) = 1/2 x^T A x - b^T x (phi(0) = 0) for a symmetric
positive definite A given only as a product ``matvec(v) = A v``. As in Martens' HFDemo
(``conjgrad_1``), phi is tracked at no extra cost as 1/2 (r - b)^T x with r = A x - b.

- Stopping rule (Martens 2010, section 4.4): stop at iteration i when i > k, phi_i < 0 and
  (phi_i - phi_{i-k}) / phi_i < k * tolerance, with k = max(10, ceil(i / 10)) and
  tolerance 5e-4: the relative progress over the last k steps has become too small.
- Backtracking (section 4.6): the iterates at i = ceil(5 * 1.3^j) and the last one are kept;
  the caller picks among them with :func:`cg_backtrack`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

TOLERANCE = 5e-4
MIN_GAP = 10
KEEP_FIRST = 5
KEEP_RATIO = 1.3


def stopping_gap(i: int) -> int:
    """k = max(10, ceil(0.1 i)): how many iterations back the stopping rule looks."""
    return max(MIN_GAP, -(-i // 10))  # integer ceil(i / 10), immune to 0.1 * i rounding


def martens_should_stop(phis: Sequence[float], i: int, tolerance: float = TOLERANCE) -> bool:
    """The stopping rule at iteration i; ``phis[j]`` is phi after j iterations (phis[0] = phi(x_0)).

    Stop when i > k, phi_i < 0 and (phi_i - phi_{i-k}) / phi_i < k * tolerance.
    """
    k = stopping_gap(i)
    if i <= k or i >= len(phis):
        return False
    phi_i = phis[i]
    return phi_i < 0 and (phi_i - phis[i - k]) / phi_i < k * tolerance


def backtrack_iterations(max_iters: int) -> list[int]:
    """The iterations whose iterates CG keeps for backtracking: ceil(5 * 1.3^j) <= max_iters.

    (The last iterate is kept as well, whatever its iteration.)
    """
    kept: list[int] = []
    j = 0
    while (i := math.ceil(KEEP_FIRST * KEEP_RATIO**j)) <= max_iters:
        kept.append(i)
        j += 1
    return kept


def cg_backtrack(objective: Callable[[int], float], n_iterates: int) -> tuple[int, float]:
    """Choose among the kept iterates: start at the last, step back while the objective improves.

    ``objective(j)`` is the objective at kept iterate j (0 = earliest); it is evaluated lazily,
    from the last iterate backwards, and never for iterates earlier than the one chosen's
    predecessor. As in HFDemo, a tie steps back (the earlier, shorter iterate is preferred).
    Returns (index chosen, its objective value).
    """
    if n_iterates < 1:
        raise ValueError(f"cg_backtrack: need at least one iterate, got {n_iterates}")
    j = n_iterates - 1
    value = objective(j)
    while j > 0:
        earlier = objective(j - 1)
        if not earlier <= value:  # the later iterate is strictly better (or earlier is NaN)
            break
        j, value = j - 1, earlier
    return j, value


@dataclass
class CGResult:
    """What one CG run produced.

    ``iterates[j]`` is x after ``iterations[j]`` CG steps (the kept ones, the last one last);
    ``phis[i]`` is phi(x_i) for i = 0 .. n_iters; ``stop_reason`` is one of
    ``"rule"`` (Martens' stopping rule), ``"max_iters"``, ``"nonpositive_curvature"``
    (p^T A p <= 0, HFDemo's "bailing") or ``"converged"`` (the residual vanished exactly).
    """

    iterates: list[Tensor] = field(default_factory=list)
    iterations: list[int] = field(default_factory=list)
    phis: list[float] = field(default_factory=list)
    n_iters: int = 0
    stop_reason: str = "max_iters"

    @property
    def solution(self) -> Tensor:
        """The last iterate."""
        return self.iterates[-1]


@torch.no_grad()
def conjugate_gradient(
    matvec: Callable[[Tensor], Tensor],
    b: Tensor,
    x0: Tensor | None = None,
    *,
    max_iters: int = 250,
    min_iters: int = 1,
    preconditioner: Tensor | None = None,
    tolerance: float = TOLERANCE,
) -> CGResult:
    """Approximately solve A x = b by preconditioned CG from ``x0`` (zero if None).

    ``preconditioner`` is the diagonal of M (CG works with M^{-1} r). Martens' stopping rule
    is checked once at least ``min_iters`` iterations are done; ``tolerance=0`` disables it.
    """
    if max_iters < 1:
        raise ValueError(f"conjugate_gradient: max_iters must be >= 1, got {max_iters}")
    if not 0 <= min_iters <= max_iters:
        raise ValueError(
            f"conjugate_gradient: min_iters must be in [0, max_iters={max_iters}], got {min_iters}"
        )
    if preconditioner is not None and not bool((preconditioner > 0).all()):
        raise ValueError("conjugate_gradient: the diagonal preconditioner must be positive")
    keep = set(backtrack_iterations(max_iters))
    x = torch.zeros_like(b) if x0 is None else x0.clone()
    r = matvec(x) - b
    y = r / preconditioner if preconditioner is not None else r
    p = -y
    ry = float(r @ y)
    result = CGResult(phis=[0.5 * float((r - b) @ x)])
    for i in range(1, max_iters + 1):
        if ry == 0.0:
            result.stop_reason = "converged"
            break
        Ap = matvec(p)
        pAp = float(p @ Ap)
        if not pAp > 0.0:  # G is PSD and damped: this only happens through round-off or NaN
            result.stop_reason = "nonpositive_curvature"
            break
        alpha = ry / pAp
        x.add_(p, alpha=alpha)
        r.add_(Ap, alpha=alpha)
        y = r / preconditioner if preconditioner is not None else r
        ry_new = float(r @ y)
        p.mul_(ry_new / ry).sub_(y)
        ry = ry_new
        result.phis.append(0.5 * float((r - b) @ x))
        result.n_iters = i
        if i in keep:
            result.iterates.append(x.clone())
            result.iterations.append(i)
        if i >= min_iters and martens_should_stop(result.phis, i, tolerance):
            result.stop_reason = "rule"
            break
    if not result.iterations or result.iterations[-1] != result.n_iters:
        result.iterates.append(x.clone())
        result.iterations.append(result.n_iters)
    return result
