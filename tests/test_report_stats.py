"""The comparisons' statistics (report/stats.py) on synthetic cells with a known truth."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from momentum_repro.report.stats import (
    FAILS,
    HOLDS,
    INCONCLUSIVE,
    log_ratio_interval,
    paired_interval,
    verdict,
    welch_interval,
)


def lognormal_cells(
    rng: np.random.Generator, seeds: int, shift_sd: float
) -> tuple[np.ndarray, np.ndarray]:
    """Cell A's log errors N(log 10 - shift, 1), cell B's N(log 10, 1), ``seeds`` each."""
    a = np.exp(rng.normal(math.log(10.0) - shift_sd, 1.0, seeds))
    b = np.exp(rng.normal(math.log(10.0), 1.0, seeds))
    return a, b


def test_welch_interval_matches_scipys_welch_test() -> None:
    """The interval excludes 0 exactly when scipy's two-sided Welch test has p < 0.05."""
    rng = np.random.default_rng(0)
    for _ in range(200):
        a, b = rng.normal(0, 1, 4), rng.normal(0.8, 2, 5)
        interval = welch_interval(list(a), list(b))
        p = scipy_stats.ttest_ind(a, b, equal_var=False).pvalue
        assert (interval.high < 0 or interval.low > 0) == (p < 0.05)
        assert interval.effect == pytest.approx(a.mean() - b.mean())


def test_paired_interval_matches_scipys_paired_test() -> None:
    rng = np.random.default_rng(1)
    for _ in range(200):
        a = rng.normal(0, 1, 5)
        b = a + rng.normal(0.3, 0.2, 5)
        interval = paired_interval(list(a), list(b))
        p = scipy_stats.ttest_rel(a, b).pvalue
        assert (interval.high < 0 or interval.low > 0) == (p < 0.05)


def test_cells_from_one_distribution_are_inconclusive_at_least_90_percent() -> None:
    rng = np.random.default_rng(2013)
    outcomes = [verdict(log_ratio_interval(*lognormal_cells(rng, 5, 0.0))) for _ in range(1000)]
    assert outcomes.count(INCONCLUSIVE) >= 900
    with_three = [verdict(log_ratio_interval(*lognormal_cells(rng, 3, 0.0))) for _ in range(1000)]
    assert with_three.count(INCONCLUSIVE) >= 900


def test_cells_three_standard_deviations_apart_hold_at_least_90_percent() -> None:
    rng = np.random.default_rng(2014)
    outcomes = [verdict(log_ratio_interval(*lognormal_cells(rng, 5, 3.0))) for _ in range(1000)]
    assert outcomes.count(HOLDS) >= 900
    assert outcomes.count(FAILS) == 0
    # the other way round, the same cells fail the claim
    flipped = [verdict(log_ratio_interval(*lognormal_cells(rng, 5, -3.0))) for _ in range(1000)]
    assert flipped.count(FAILS) >= 900


def test_a_factor_moves_the_threshold() -> None:
    """A at 4 vs B at 10 with little spread: below B, but not 3 times below."""
    a, b = [4.0, 4.1, 3.9], [10.0, 10.2, 9.8]
    interval = log_ratio_interval(a, b)
    assert verdict(interval) == HOLDS
    assert verdict(interval, factor=2.0) == HOLDS
    assert verdict(interval, factor=3.0) == FAILS
    assert math.exp(interval.effect) == pytest.approx(
        math.exp(np.mean(np.log(a)) - np.mean(np.log(b)))
    )


def test_one_run_per_cell_gives_no_interval_and_points_compare_as_points() -> None:
    assert verdict(log_ratio_interval([1.0], [2.0, 2.1])) == INCONCLUSIVE
    assert verdict(log_ratio_interval([1.0], [2.0])) == INCONCLUSIVE
    point = log_ratio_interval([1.0], [2.0], points=True)
    assert point.method == "point" and verdict(point) == HOLDS
    assert verdict(log_ratio_interval([2.0], [2.0], points=True)) == INCONCLUSIVE


def test_a_zero_error_is_raised_to_the_floor() -> None:
    interval = log_ratio_interval([0.0, 0.0, 0.0005], [0.3, 0.31, 0.29], floor=0.00025)
    assert verdict(interval) == HOLDS
    with pytest.raises(ValueError, match="floor"):
        log_ratio_interval([0.0, 0.1], [0.3, 0.2])
