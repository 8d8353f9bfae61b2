"""CM, NAG and SGD for every member of a population at once, each with its own lr and mu_t.

Member k follows its solo optimizer (``optim/momentum.py``) exactly:
    NAG: theta <- theta + mu v  (the look-ahead, where the gradient g is taken);
         v <- mu v - lr g;  theta <- theta - lr g
    CM:  (gradient at theta)  v <- mu v - lr g;  theta <- theta + v
    SGD: CM with mu = 0.
A member's mu_t comes from its own solo optimizer (``mu(t)``: eq. (5) capped at its mu_max,
its final phase, or the RNN warm-up). A frozen member (diverged) is updated no more: its lr
and mu are 0 (its parameters and velocity were set to 0, so its gradient is finite and its
step is 0).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

MomentumSchedule = Callable[[int], float]


def _per_member(values: Tensor, like: Tensor) -> Tensor:
    """(K,) values shaped to broadcast over a stacked parameter (K, ...)."""
    return values.view(-1, *([1] * (like.dim() - 1)))


def method_runs(nesterov: Sequence[bool]) -> list[tuple[slice, bool]]:
    """The members as contiguous runs of one method: (their rows, NAG or not)."""
    runs: list[tuple[slice, bool]] = []
    start = 0
    for k in range(1, len(nesterov) + 1):
        if k == len(nesterov) or nesterov[k] != nesterov[start]:
            runs.append((slice(start, k), bool(nesterov[start])))
            start = k
    return runs


class PopulationMomentum:
    """The update of a population's stacked parameters.

    ``trainable[i]``: (K,) bool, whether member k trains parameter i (the RNN's "biases"
    baseline trains only the output biases); None: every member trains every parameter.
    """

    def __init__(
        self,
        params: Sequence[Tensor],
        lrs: Sequence[float],
        schedules: Sequence[MomentumSchedule],
        nesterov: Sequence[bool],
        trainable: Sequence[Tensor] | None = None,
    ) -> None:
        self.params = list(params)
        size = self.params[0].shape[0]
        if not len(lrs) == len(schedules) == len(nesterov) == size:
            raise ValueError(
                f"PopulationMomentum: {size} members, but {len(lrs)} lrs, "
                f"{len(schedules)} schedules and {len(nesterov)} nesterov flags"
            )
        like = self.params[0]
        self.lrs = torch.tensor(list(lrs), dtype=like.dtype, device=like.device)
        self.schedules = list(schedules)
        self.nesterov = [bool(n) for n in nesterov]
        self.method_runs = method_runs(self.nesterov)
        self.active = torch.ones(size, dtype=torch.bool, device=like.device)
        self.trainable = (
            [torch.ones(size, dtype=torch.bool, device=like.device) for _ in self.params]
            if trainable is None
            else [t.to(like.device) for t in trainable]
        )
        # parameters that some member does not train (read once, here: the update reads no
        # mask on the host, so that a CUDA graph can capture it)
        self.partly_trained = [not bool(t.all()) for t in self.trainable]
        self.velocities = [torch.zeros_like(p) for p in self.params]
        self.updates_done = 0
        self.last_mu = self.mus(0)

    def mus(self, t: int) -> Tensor:
        """Every member's mu_t (K,); 0 for a frozen member."""
        mu = torch.tensor([s(t) for s in self.schedules], dtype=self.lrs.dtype)
        return mu.to(self.lrs.device) * self.active

    @torch.no_grad()
    def freeze(self, k: int) -> None:
        """Member k diverged: no more updates. Its parameters and velocity are set to 0 so
        that no NaN is carried into later steps (its slices never mix with the others')."""
        self.active[k] = False
        for p, v in zip(self.params, self.velocities, strict=True):
            p[k].zero_()
            v[k].zero_()

    def step(self, closure: Callable[[], Tensor]) -> Tensor:
        """One update of every member; the closure (grads to None, the members' objectives,
        backward of their sum) runs at the look-ahead point; returns its (K,) losses."""
        mu = self.mus(self.updates_done)
        losses = self.apply(mu, closure)
        self.advance(mu)
        return losses

    def advance(self, mu: Tensor) -> None:
        """Count an update made with ``mu`` (``apply`` alone does not: a CUDA graph replays it)."""
        self.last_mu = mu
        self.updates_done += 1

    @torch.no_grad()
    def apply(self, mu: Tensor, closure: Callable[[], Tensor]) -> Tensor:
        """The update with every member's mu_t given (K,), on the device: only device work,
        no host reads, so that a CUDA graph can capture it (``graphed.py``).

        An update is bound by memory traffic (the stacked tensors are K times a solo run's),
        so each run of NAG members and each run of CM/SGD members (``method_runs``) is
        updated by its solo optimizer's own passes, on slices: 11 passes over a NAG
        member's tensors and 8 over a CM member's, where one formula for both (0/1
        coefficients) took 14 for every member. The launcher puts a population's NAG
        members first, so that a population has at most two runs.
        """
        runs = self.method_runs
        for p, v in zip(self.params, self.velocities, strict=True):
            for rows, nag in runs:
                if nag:  # the look-ahead: theta + mu v, where NAG takes its gradient
                    p[rows].addcmul_(v[rows], _per_member(mu[rows], v))
        with torch.enable_grad():
            losses = closure()
        minus_lr = -(self.lrs * self.active)  # 0 for a frozen member
        tensors = zip(
            self.params, self.velocities, self.trainable, self.partly_trained, strict=True
        )
        for p, v, train, partly in tensors:
            # a frozen member's parameters are 0, so its gradient is finite and its step 0
            g = p.grad if p.grad is not None else torch.zeros_like(p)
            if partly:  # g = 0 where the member does not train it, even if g is inf or NaN,
                g.masked_fill_(~_per_member(train, g), 0.0)  # so its v and theta stay put
            for rows, nag in runs:
                scale = _per_member(minus_lr[rows], g)
                v[rows].mul_(_per_member(mu[rows], v)).addcmul_(g[rows], scale)  # mu v - lr g
                if nag:  # theta_{t+1} = the look-ahead - lr g
                    p[rows].addcmul_(g[rows], scale)
                else:  # CM and SGD: theta_{t+1} = theta + v
                    p[rows].add_(v[rows])
        return losses

    def state(self) -> list[Tensor]:
        """The tensors an update changes: the stacked parameters and their velocities."""
        return self.params + self.velocities
