"""Classical momentum and Nesterov's accelerated gradient in the paper's exact form.

Sutskever et al. (2013), section 2:
    CM:  v_{t+1} = mu_t v_t - lr grad f(theta_t)
    NAG: v_{t+1} = mu_t v_t - lr grad f(theta_t + mu_t v_t)
    both: theta_{t+1} = theta_t + v_{t+1}

Unlike ``torch.optim.SGD(nesterov=True)``, which keeps the look-ahead point and is exact
only for a constant mu, the parameters here always hold theta_t between steps, so every
error measured between updates is measured at theta_t, never at the look-ahead point.

The parameters, their gradients and the velocity are views into three flat buffers, so an
update is a handful of vector operations whatever the number of layers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import Tensor

MomentumArg = float | Callable[[int], float]


class _FlatMomentum(torch.optim.Optimizer):
    """Shared machinery: flat parameter/gradient/velocity buffers and the mu_t lookup."""

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: MomentumArg) -> None:
        if not lr > 0.0:
            raise ValueError(f"{type(self).__name__}: lr must be > 0, got {lr}")
        if not callable(momentum) and not 0.0 <= float(momentum) < 1.0:
            raise ValueError(f"{type(self).__name__}: momentum must be in [0, 1), got {momentum}")
        super().__init__(params, {"lr": lr})
        if len(self.param_groups) != 1:
            raise ValueError(f"{type(self).__name__} takes one parameter group")
        self.momentum = momentum
        self.updates_done = 0
        self.last_mu = self.mu(0)
        self._flatten(self.param_groups[0]["params"])

    def _flatten(self, params: list[Tensor]) -> None:
        dtypes = {p.dtype for p in params}
        devices = {p.device for p in params}
        if len(dtypes) != 1 or len(devices) != 1:
            raise ValueError(
                f"{type(self).__name__} needs parameters of one dtype and device, "
                f"got dtypes {sorted(map(str, dtypes))} on {sorted(map(str, devices))}"
            )
        numel = sum(p.numel() for p in params)
        dtype, device = params[0].dtype, params[0].device
        self.flat_params = torch.empty(numel, dtype=dtype, device=device)
        self.flat_grads = torch.zeros(numel, dtype=dtype, device=device)
        self.velocity = torch.zeros(numel, dtype=dtype, device=device)
        self._grad_ptrs: list[int] = []
        self._grad_views: list[Tensor] = []
        offset = 0
        for p in params:
            n = p.numel()
            self.flat_params[offset : offset + n].copy_(p.detach().reshape(-1))
            p.data = self.flat_params[offset : offset + n].view_as(p)
            p.grad = self.flat_grads[offset : offset + n].view_as(p)
            self.state[p]["velocity"] = self.velocity[offset : offset + n].view_as(p)
            self._grad_views.append(p.grad)
            self._grad_ptrs.append(p.grad.data_ptr())
            offset += n

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Zero the flat gradient buffer (gradients stay views into it, never None)."""
        self.flat_grads.zero_()
        self._attach_grads()

    def mu(self, t: int) -> float:
        """mu_t: the momentum for update t (t = number of updates done so far)."""
        return float(self.momentum(t) if callable(self.momentum) else self.momentum)

    def _attach_grads(self) -> None:
        """Make every ``p.grad`` a view into the flat gradient buffer again.

        ``nn.Module.zero_grad()`` (Lightning calls it before training) sets grads to None,
        and a closure may assign ``.grad``; both are folded back into the flat buffer.
        """
        params = self.param_groups[0]["params"]
        for p, view, ptr in zip(params, self._grad_views, self._grad_ptrs, strict=True):
            if p.grad is None:
                view.zero_()
                p.grad = view
            elif p.grad.data_ptr() != ptr:
                view.copy_(p.grad)
                p.grad = view


class ClassicalMomentum(_FlatMomentum):
    """Classical momentum: v <- mu_t v - lr grad f(theta); theta <- theta + v.

    ``momentum`` is a float or a callable ``t -> mu_t`` (t = updates done so far).
    ``step(closure)`` calls the closure (zero grads, loss, backward) at theta_t.
    """

    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor | None:
        mu = self.mu(self.updates_done)
        lr = self.param_groups[0]["lr"]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        self._attach_grads()
        self.velocity.mul_(mu).add_(self.flat_grads, alpha=-lr)
        self.flat_params.add_(self.velocity)
        self.last_mu = mu
        self.updates_done += 1
        return loss


class Nesterov(_FlatMomentum):
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
        lookahead = self.flat_params  # shifted in place: theta_t + mu_t v_t
        lookahead.add_(self.velocity, alpha=mu)
        with torch.enable_grad():
            loss = closure()
        self._attach_grads()
        self.velocity.mul_(mu).add_(self.flat_grads, alpha=-lr)
        lookahead.add_(self.flat_grads, alpha=-lr)  # theta_{t+1} = lookahead - lr g
        self.last_mu = mu
        self.updates_done += 1
        return loss
