"""The momentum schedule of Sutskever et al. (2013), eq. (5), with the final phase of Table 2."""

from __future__ import annotations

import math


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
    updates mu is reduced to ``final_mu`` (0.9), unless mu_max is 0 (plain SGD stays SGD).
    """
    if t < 0:
        raise ValueError(f"momentum_schedule: t must be >= 0, got {t}")
    if not 0.0 <= mu_max < 1.0:
        raise ValueError(f"momentum_schedule: mu_max must be in [0, 1), got {mu_max}")
    if period <= 0:
        raise ValueError(f"momentum_schedule: period must be > 0, got {period}")
    if final_phase_updates > 0 and mu_max > 0.0:
        if total_updates is None:
            raise ValueError("momentum_schedule: final_phase_updates needs total_updates")
        if t >= total_updates - final_phase_updates:
            return final_mu
    rising = 1.0 - 2.0 ** (-1.0 - math.log2(t // period + 1))
    return min(rising, mu_max)


def rnn_momentum_schedule(
    t: int, mu_0: float, *, warmup_updates: int = 1000, warmup_mu: float = 0.9
) -> float:
    """The RNN experiments' momentum (section 4): 0.9 for the first 1,000 updates, then mu_0."""
    if t < 0:
        raise ValueError(f"rnn_momentum_schedule: t must be >= 0, got {t}")
    if not 0.0 <= mu_0 < 1.0:
        raise ValueError(f"rnn_momentum_schedule: mu_0 must be in [0, 1), got {mu_0}")
    return warmup_mu if t < warmup_updates else mu_0
