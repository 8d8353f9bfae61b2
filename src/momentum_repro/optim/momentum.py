"""Classical momentum and Nesterov's accelerated gradient in the paper's exact form.

Sutskever et al. (2013), section 2:
    CM:  v_{t+1} = mu_t v_t - lr grad f(theta_t)
    NAG: v_{t+1} = mu_t v_t - lr grad f(theta_t + mu_t v_t)
    both: theta_{t+1} = theta_t + v_{t+1}

Unlike ``torch.optim.SGD(nesterov=True)``, which keeps the look-ahead point and is exact
only for a constant mu, the parameters here always hold theta_t between steps, so every
error measured between updates is measured at theta_t, never at the look-ahead point.

An update is a few ``torch._foreach_*`` calls over all tensors at once. ``zero_grad`` sets
the gradients to None, so backward hands its gradient tensors over instead of adding them
into old ones: that and the zeroing it saves were a third of a CURVES step on a CPU. The
velocity is ordinary per-parameter optimizer state and the update count is kept in the
parameter group, so ``state_dict()`` / ``load_state_dict()`` carry both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor

MomentumArg = float | Callable[[int], float]


class _Momentum(torch.optim.Optimizer):
    """Shared machinery: the velocity of every parameter, the update count and mu_t."""

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: MomentumArg) -> None:
        if not lr > 0.0:
            raise ValueError(f"{type(self).__name__}: lr must be > 0, got {lr}")
        if not callable(momentum) and not 0.0 <= float(momentum) < 1.0:
            raise ValueError(f"{type(self).__name__}: momentum must be in [0, 1), got {momentum}")
        super().__init__(params, {"lr": lr, "updates_done": 0})
        if len(self.param_groups) != 1:
            raise ValueError(f"{type(self).__name__} takes one parameter group")
        params = self.param_groups[0]["params"]
        dtypes = {p.dtype for p in params}
        devices = {p.device for p in params}
        if len(dtypes) != 1 or len(devices) != 1:
            raise ValueError(
                f"{type(self).__name__} needs parameters of one dtype and device, "
                f"got dtypes {sorted(map(str, dtypes))} on {sorted(map(str, devices))}"
            )
        self.momentum = momentum
        for p in params:
            self.state[p]["velocity"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        self.last_mu = self.mu(0)

    @property
    def updates_done(self) -> int:
        """Updates done so far: t of the next update's mu_t."""
        return int(self.param_groups[0]["updates_done"])

    def mu(self, t: int) -> float:
        """mu_t: the momentum for update t (t = number of updates done so far)."""
        return float(self.momentum(t) if callable(self.momentum) else self.momentum)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self.last_mu = self.mu(max(self.updates_done - 1, 0))

    def _tensors(self) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
        """(parameters, their gradients, their velocities); a missing gradient counts as 0."""
        params = self.param_groups[0]["params"]
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        velocities = [self.state[p]["velocity"] for p in params]
        return params, grads, velocities

    def _loss_at_theta(self, closure: Callable[[], Tensor] | None) -> Tensor | None:
        """The closure's loss (zero grads, loss, backward) at the current parameters."""
        if closure is None:
            return None
        with torch.enable_grad():
            return closure()

    def _advance(self, mu: float) -> None:
        self.last_mu = mu
        self.param_groups[0]["updates_done"] += 1


class ClassicalMomentum(_Momentum):
    """Classical momentum: v <- mu_t v - lr grad f(theta); theta <- theta + v.

    ``momentum`` is a float or a callable ``t -> mu_t`` (t = updates done so far).
    ``step(closure)`` calls the closure (zero grads, loss, backward) at theta_t.
    """

    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor | None:
        mu = self.mu(self.updates_done)
        lr = self.param_groups[0]["lr"]
        loss = self._loss_at_theta(closure)
        params, grads, velocities = self._tensors()
        torch._foreach_mul_(velocities, mu)
        torch._foreach_add_(velocities, grads, alpha=-lr)
        torch._foreach_add_(params, velocities)
        self._advance(mu)
        return loss


class Nesterov(_Momentum):
    """Nesterov's accelerated gradient in the form of Sutskever et al. (2013), eq. (3)-(4).

    The closure is evaluated at the look-ahead point theta_t + mu_t v_t; when ``step``
    returns, the parameters hold theta_{t+1} = lookahead - lr grad f(lookahead).
    """

    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor | None:
        if closure is None:
            raise ValueError("Nesterov.step needs a closure: the gradient is taken at theta + mu v")
        mu = self.mu(self.updates_done)
        lr = self.param_groups[0]["lr"]
        params = self.param_groups[0]["params"]
        velocities = [self.state[p]["velocity"] for p in params]
        lookahead = params  # shifted in place: theta_t + mu_t v_t
        torch._foreach_add_(lookahead, velocities, alpha=mu)
        with torch.enable_grad():
            loss = closure()
        params, grads, velocities = self._tensors()
        torch._foreach_mul_(velocities, mu)
        torch._foreach_add_(velocities, grads, alpha=-lr)
        torch._foreach_add_(lookahead, grads, alpha=-lr)  # theta_{t+1} = lookahead - lr g
        self._advance(mu)
        return loss
