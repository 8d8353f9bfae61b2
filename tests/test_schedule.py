"""The momentum schedule, eq. (5), and the final phase of Table 2."""

import math

import pytest

from momentum_repro.optim import momentum_schedule


@pytest.mark.parametrize(
    ("t", "expected"),
    [
        (0, 0.5),
        (249, 0.5),
        (250, 0.75),
        (499, 0.75),
        (750, 1 - 1 / 8),
        (999, 1 - 1 / 8),
        (1000, 0.9),  # 1 - 1/10
        (12249, 1 - 1 / 98),
        (12250, 0.99),
        (24749, 1 - 1 / 198),
        (24750, 0.995),
        (124749, 1 - 1 / 998),
        (124750, 0.999),
    ],
)
def test_boundaries_of_the_paper_schedule(t: int, expected: float) -> None:
    assert momentum_schedule(t, 0.9999) == pytest.approx(expected, abs=1e-15)


def test_matches_eq5_written_with_log2() -> None:
    for t in range(0, 200_000, 137):
        eq5 = min(1 - 2 ** (-1 - math.log2(math.floor(t / 250) + 1)), 0.995)
        assert momentum_schedule(t, 0.995) == pytest.approx(eq5, abs=1e-15)


def test_capped_at_mu_max_and_sgd_stays_zero() -> None:
    assert momentum_schedule(10**6, 0.9) == 0.9
    assert momentum_schedule(0, 0.0) == 0.0
    assert momentum_schedule(999, 0.0, total_updates=1000, final_phase_updates=10) == 0.0


def test_final_phase_reduces_mu_to_0_9_for_the_last_updates() -> None:
    kw = {"period": 250, "total_updates": 30_000, "final_phase_updates": 1000}
    assert momentum_schedule(28_999, 0.995, **kw) == 0.995
    assert momentum_schedule(29_000, 0.995, **kw) == 0.9
    assert momentum_schedule(29_999, 0.995, **kw) == 0.9


def test_compressed_period() -> None:
    assert momentum_schedule(24, 0.99, period=25) == 0.5
    assert momentum_schedule(1225, 0.99, period=25) == 0.99


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"t": -1, "mu_max": 0.9}, "t must be"),
        ({"t": 0, "mu_max": 1.0}, "mu_max must be in"),
        ({"t": 0, "mu_max": 0.9, "period": 0}, "period"),
        ({"t": 0, "mu_max": 0.9, "final_phase_updates": 5}, "total_updates"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        momentum_schedule(**kwargs)
