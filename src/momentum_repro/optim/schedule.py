"""The momentum schedules: Sutskever et al. (2013), eq. (5), with the final phase of Table 2;
the RNN experiments' (section 4); Nesterov's 1 - 3/(t + 5), cited beside eq. (5).

Each is a pure function of the update count t; the classes below hold one schedule's
settings, so that a config chooses it by ``_target_`` (``conf/schedule/``) and an optimizer
gets it as ``momentum=`` (a callable t -> mu_t).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def momentum_schedule(
    t: int,
    mu_max: float,
    *,
    period: int = 250,
    total_updates: int | None = None,
    final_phase_updates: int = 0,
    final_mu: float = 0.9,
) -> float:
    """Momentum coefficient mu_t for update t (t counted from 0).

    Eq. (5): mu_t = min(1 - 2^(-1 - log2(floor(t / period) + 1)), mu_max)
                  = min(1 - 1 / (2 (floor(t / period) + 1)), mu_max),
    so mu is 0.5 for t < 250, 0.75 from 250, 0.9 from 1000, 0.99 from 12250,
    0.995 from 24750 and 0.999 from 124750 (period 250).

    Final phase (Table 2): during the last ``final_phase_updates`` of ``total_updates``
    updates mu is *reduced* to ``final_mu`` (0.9): mu = min(mu_t, final_mu), so a run whose
    mu_t is already below 0.9 (mu_max 0 or 0.5, or a short run still low on eq. 5) keeps it.
    """
    if t < 0:
        raise ValueError(f"momentum_schedule: t must be >= 0, got {t}")
    if not 0.0 <= mu_max < 1.0:
        raise ValueError(f"momentum_schedule: mu_max must be in [0, 1), got {mu_max}")
    if period <= 0:
        raise ValueError(f"momentum_schedule: period must be > 0, got {period}")
    if final_phase_updates > 0 and total_updates is None:
        raise ValueError("momentum_schedule: final_phase_updates needs total_updates")
    rising = 1.0 - 2.0 ** (-1.0 - math.log2(t // period + 1))
    mu = min(rising, mu_max)
    if final_phase_updates > 0 and t >= total_updates - final_phase_updates:
        return min(mu, final_mu)  # "reduced to 0.9": never raised to it
    return mu


def rnn_momentum_schedule(
    t: int, mu_0: float, *, warmup_updates: int = 1000, warmup_mu: float = 0.9
) -> float:
    """The RNN experiments' momentum (section 4): 0.9 for the first 1,000 updates, then mu_0."""
    if t < 0:
        raise ValueError(f"rnn_momentum_schedule: t must be >= 0, got {t}")
    if not 0.0 <= mu_0 < 1.0:
        raise ValueError(f"rnn_momentum_schedule: mu_0 must be in [0, 1), got {mu_0}")
    return warmup_mu if t < warmup_updates else mu_0


def nesterov_schedule(t: int, mu_max: float) -> float:
    """Nesterov's (1983) momentum for non-strongly convex functions, which the paper cites
    as the motivation of eq. (5): mu_t = min(1 - 3 / (t + 5), mu_max), t counted from 0.

    So mu is 0.4 at t = 0, 0.5 at t = 1, 0.97 at t = 95, and reaches a cap of 0.99 at
    t = 295, far sooner than eq. (5)'s 12,250 updates.
    """
    if t < 0:
        raise ValueError(f"nesterov_schedule: t must be >= 0, got {t}")
    if not 0.0 <= mu_max < 1.0:
        raise ValueError(f"nesterov_schedule: mu_max must be in [0, 1), got {mu_max}")
    return min(1.0 - 3.0 / (t + 5), mu_max)


@dataclass(frozen=True)
class PaperSchedule:
    """Eq. (5) capped at ``mu_max``, with Table 2's final phase: ``mu_t = schedule(t)``
    (:func:`momentum_schedule`). ``conf/schedule/paper.yaml`` builds it by ``_target_``."""

    mu_max: float
    period: int = 250
    total_updates: int | None = None
    final_phase_updates: int = 0
    final_mu: float = 0.9

    def __post_init__(self) -> None:
        _coerce(self, mu_max=float, period=int, final_phase_updates=int, final_mu=float)
        if self.total_updates is not None:
            _coerce(self, total_updates=int)
        self(0)  # the settings' checks, once, here: they are momentum_schedule's

    def __call__(self, t: int) -> float:
        return momentum_schedule(
            t,
            self.mu_max,
            period=self.period,
            total_updates=self.total_updates,
            final_phase_updates=self.final_phase_updates,
            final_mu=self.final_mu,
        )


@dataclass(frozen=True)
class RNNSchedule:
    """Section 4: ``warmup_mu`` for the first ``warmup_updates``, then ``mu_0``
    (:func:`rnn_momentum_schedule`). ``conf/schedule/rnn.yaml`` builds it by ``_target_``."""

    mu_0: float
    warmup_updates: int = 1000
    warmup_mu: float = 0.9

    def __post_init__(self) -> None:
        _coerce(self, mu_0=float, warmup_updates=int, warmup_mu=float)
        self(0)

    def __call__(self, t: int) -> float:
        return rnn_momentum_schedule(
            t, self.mu_0, warmup_updates=self.warmup_updates, warmup_mu=self.warmup_mu
        )


@dataclass(frozen=True)
class NesterovSchedule:
    """Nesterov's 1 - 3 / (t + 5) capped at ``mu_max`` (:func:`nesterov_schedule`)."""

    mu_max: float

    def __post_init__(self) -> None:
        _coerce(self, mu_max=float)
        self(0)

    def __call__(self, t: int) -> float:
        return nesterov_schedule(t, self.mu_max)


def _coerce(schedule: object, **types: type) -> None:
    """A frozen schedule's settings as numbers of their type (a config may give 0 for 0.0)."""
    for name, kind in types.items():
        object.__setattr__(schedule, name, kind(getattr(schedule, name)))
