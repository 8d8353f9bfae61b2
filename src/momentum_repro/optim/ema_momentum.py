"""Momentum as an exponential moving average of the gradients, as the study notes' worked
example writes it (and as many course notes do):

    v <- beta v + (1 - beta) g;   theta <- theta - lr v

With a constant beta this is the paper's classical momentum (section 2, eq. 1-2) with
mu = beta and learning rate lr (1 - beta): the CM velocity is -lr times this v, so the two
trajectories are the same. Only the scale of the learning rate differs, which is why the same
lr gives EMA momentum roughly plain gradient descent's speed and CM about 1/(1 - mu) times it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import Tensor

from momentum_repro.optim.momentum import _Momentum


class EMAMomentum(_Momentum):
    """v <- beta v + (1 - beta) grad f(theta);  theta <- theta - lr v  (v starts at 0).

    ``beta`` is a constant in [0, 1); ``step(closure)`` calls the closure at theta_t.
    The velocity and the update count are optimizer state, as for ``ClassicalMomentum``,
    and ``last_mu`` reports beta (the curves' ``mu`` metric).
    """

    def __init__(self, params: Iterable[Tensor], lr: float, beta: float = 0.9) -> None:
        # a number: a schedule would break the equivalence with CM documented above
        if callable(beta) or not 0.0 <= float(beta) < 1.0:
            raise ValueError(f"EMAMomentum: beta must be a number in [0, 1), got {beta!r}")
        super().__init__(params, lr, float(beta))

    @property
    def beta(self) -> float:
        return float(self.momentum)  # type: ignore[arg-type]

    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor | None:
        beta = self.beta
        lr = self.param_groups[0]["lr"]
        loss = self._loss_at_theta(closure)
        params, grads, velocities = self._tensors()
        torch._foreach_mul_(velocities, beta)
        torch._foreach_add_(velocities, grads, alpha=1.0 - beta)
        torch._foreach_add_(params, velocities, alpha=-lr)
        self._advance(beta)
        return loss
