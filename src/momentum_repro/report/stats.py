"""Is cell A below cell B, given the seeds of each? A 95% interval on the log of their ratio.

A comparison a claim makes reads two cells, each a set of runs that differ only in their seed
(its initialization and minibatch order). The effect is the log of the ratio of the cells'
errors, estimated as the difference of their mean log errors (the log of the ratio of their
geometric means), with a 95% confidence interval:

- **Welch's t interval** on the log errors (Welch 1947, "The generalization of Student's
  problem when several different population variances are involved", Biometrika 34):
  mean(log a) - mean(log b) +- t_{0.975, nu} sqrt(s_a^2 / n_a + s_b^2 / n_b), with the
  Welch-Satterthwaite degrees of freedom nu. It does not assume equal spreads, and with the
  3 to 5 seeds a cell has here it keeps its 95% coverage, where a percentile bootstrap (as in
  rliable, Agarwal et al. 2021, built for tens of runs) covers far less: with 3 seeds there
  are only 10 distinct resamples.
- **Student's paired t interval** where the two cells are the same runs but for one setting
  (a control: the same seeds, lr and updates, without Table 2's final phase): the per-seed
  differences log a_s - log b_s, mean +- t_{0.975, n-1} s_d / sqrt(n). Pairing removes the
  seed-to-seed spread the two cells share.

Errors are taken on a log scale because the claims are about ratios ("a large factor") and
errors are positive and skewed; an error of 0 (a zero-one loss on a finite evaluation set) is
raised to ``floor`` first, half the resolution of the metric.

A rule "A below B" holds when the whole interval lies below 0, "A at least k times below B"
when it lies below -log k; it fails when the whole interval lies above that threshold, and is
inconclusive otherwise. One run per cell gives no interval: inconclusive. The paper's own
numbers (one published value per cell, no spread) are compared as points.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import fmean, stdev
from typing import Literal

from scipy.stats import t as student_t

HOLDS, FAILS, INCONCLUSIVE = "holds", "fails", "inconclusive"
LEVEL = 0.95
Method = Literal["welch", "paired", "point", "none"]


@dataclass(frozen=True)
class Interval:
    """The effect log(A / B) and its interval; ``method`` says how it was computed."""

    effect: float
    low: float
    high: float
    method: Method
    n_a: int
    n_b: int

    @property
    def ratio(self) -> float:
        """exp(effect): A / B as a ratio of geometric means."""
        return math.exp(self.effect)

    def text(self) -> str:
        """``A/B = 0.72 [0.61, 0.85]``: the ratio and its interval, or the point ratio."""
        if self.method == "none":
            return f"A/B = {self.ratio:.3g} (no interval: one run per cell)"
        if self.method == "point":
            return f"A/B = {self.ratio:.3g}"
        return f"A/B = {self.ratio:.3g} [{math.exp(self.low):.3g}, {math.exp(self.high):.3g}]"


def logs(values: Sequence[float], floor: float = 0.0) -> list[float]:
    """Natural logs of positive errors, each raised to ``floor`` first (0 stays -inf with no
    floor, and is refused: an interval needs finite values)."""
    out = []
    for v in values:
        v = max(float(v), floor)
        if not v > 0 or not math.isfinite(v):
            raise ValueError(f"an error of {v} has no log: give a floor > 0 for this metric")
        out.append(math.log(v))
    return out


def welch_interval(a: Sequence[float], b: Sequence[float], level: float = LEVEL) -> Interval:
    """Welch's t interval for mean(a) - mean(b) (``a``, ``b``: log errors per seed); no
    interval (``method`` "none") when a side has a single run."""
    n_a, n_b = len(a), len(b)
    effect = fmean(a) - fmean(b)
    if n_a < 2 or n_b < 2:
        return Interval(effect, -math.inf, math.inf, "none", n_a, n_b)
    va, vb = stdev(a) ** 2 / n_a, stdev(b) ** 2 / n_b
    se = math.sqrt(va + vb)
    if se == 0.0:  # every seed alike on both sides: the interval is the point
        return Interval(effect, effect, effect, "welch", n_a, n_b)
    nu = (va + vb) ** 2 / (va**2 / (n_a - 1) + vb**2 / (n_b - 1))
    half = float(student_t.ppf(0.5 + level / 2, nu)) * se
    return Interval(effect, effect - half, effect + half, "welch", n_a, n_b)


def paired_interval(a: Sequence[float], b: Sequence[float], level: float = LEVEL) -> Interval:
    """Student's paired t interval for mean(a - b) (log errors of the same seeds, in order)."""
    if len(a) != len(b):
        raise ValueError(f"a paired interval needs as many values on each side: {len(a)}, {len(b)}")
    d = [x - y for x, y in zip(a, b, strict=True)]
    n = len(d)
    effect = fmean(d)
    if n < 2:
        return Interval(effect, -math.inf, math.inf, "none", n, n)
    half = float(student_t.ppf(0.5 + level / 2, n - 1)) * stdev(d) / math.sqrt(n)
    return Interval(effect, effect - half, effect + half, "paired", n, n)


def log_ratio_interval(
    a: Sequence[float],
    b: Sequence[float],
    *,
    floor: float = 0.0,
    paired: bool = False,
    points: bool = False,
    level: float = LEVEL,
) -> Interval:
    """The interval of log(A / B) from the errors of each cell's seeds (Welch's, or paired);
    ``points``: one published value per cell, compared as points."""
    la, lb = logs(a, floor), logs(b, floor)
    if points:
        effect = fmean(la) - fmean(lb)
        return Interval(effect, effect, effect, "point", len(la), len(lb))
    return paired_interval(la, lb, level) if paired else welch_interval(la, lb, level)


def verdict(interval: Interval, factor: float = 1.0) -> str:
    """The rule "A at least ``factor`` times below B" (factor 1: "A below B") on an interval:
    holds when the whole interval is below -log(factor), fails when it is all above,
    inconclusive otherwise (and always without an interval)."""
    threshold = -math.log(factor)
    if interval.method == "none":
        return INCONCLUSIVE
    if interval.high < threshold:
        return HOLDS
    if interval.low > threshold:
        return FAILS
    return INCONCLUSIVE
