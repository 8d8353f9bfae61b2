"""The momentum schedules: eq. (5) with the final phase of Table 2, and Nesterov's 1 - 3/(t + 5)."""

import itertools
import math

import pytest
import torch
from hydra.errors import ConfigCompositionException

from conftest import compose_config
from momentum_repro.errors import ConfigError
from momentum_repro.optim import momentum_schedule, nesterov_schedule
from momentum_repro.training.checks import check_run
from momentum_repro.training.optimizers import momentum_schedule_of, optimizer_factory


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


def test_final_phase_reduces_mu_never_raises_it() -> None:
    """Table 2: mu is "reduced to 0.9": min(mu_t, 0.9), so a lower mu_t is kept."""
    kw = {"period": 250, "total_updates": 2000, "final_phase_updates": 1000}
    assert momentum_schedule(1500, 0.5, **kw) == 0.5  # capped below 0.9: stays 0.5
    assert momentum_schedule(1500, 0.995, **kw) == 0.9
    # still rising (0.75 from t = 250 to 999 at period 250): kept, not raised to 0.9
    short = {"period": 250, "total_updates": 800, "final_phase_updates": 500}
    assert momentum_schedule(300, 0.99, **short) == 0.75
    assert momentum_schedule(299, 0.99, **short) == 0.75
    for t in range(0, 2000, 37):
        expected = min(1 - 1 / (2 * (t // 250 + 1)), 0.99)
        expected = min(expected, 0.9) if t >= 1000 else expected
        assert momentum_schedule(t, 0.99, **kw) == pytest.approx(expected, abs=1e-15)


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


@pytest.mark.parametrize(
    ("t", "expected"),
    [(0, 1 - 3 / 5), (1, 0.5), (95, 0.97), (295, 0.99), (10**9, 0.999)],
)
def test_nesterov_schedule_one_minus_three_over_t_plus_five(t: int, expected: float) -> None:
    # 0.4, 0.5, 0.97; it reaches the cap 0.99 at t = 295; a large t is capped at mu_max
    mu_max = 0.99 if t == 295 else 0.999
    assert nesterov_schedule(t, mu_max) == pytest.approx(expected, abs=1e-15)


def test_nesterov_schedule_is_capped_and_increasing() -> None:
    assert nesterov_schedule(1, 0.45) == 0.45
    assert nesterov_schedule(0, 0.0) == 0.0  # mu_max 0: plain gradient descent
    mus = [nesterov_schedule(t, 0.995) for t in range(2000)]
    assert all(a <= b for a, b in itertools.pairwise(mus)) and mus[-1] == 0.995
    for t in range(0, 600, 7):
        assert nesterov_schedule(t, 0.99) == pytest.approx(min(1 - 3 / (t + 5), 0.99), abs=0)
    with pytest.raises(ValueError, match="t must be"):
        nesterov_schedule(-1, 0.9)
    with pytest.raises(ValueError, match="mu_max must be in"):
        nesterov_schedule(0, 1.0)


def test_schedule_nesterov_config_gives_that_schedule_to_cm_and_nag() -> None:
    for method in ("cm", "nag"):
        cfg = compose_config(["schedule=nesterov", f"optimizer={method}", "optimizer.mu_max=0.99"])
        mu = momentum_schedule_of(cfg)
        assert [mu(t) for t in (0, 1, 95, 295, 10**6)] == pytest.approx(
            [0.4, 0.5, 0.97, 0.99, 0.99], abs=1e-15
        )
        opt = optimizer_factory(cfg)([torch.nn.Parameter(torch.zeros(2))])
        assert opt.mu(0) == pytest.approx(0.4) and opt.mu(95) == pytest.approx(0.97)
    check_run(cfg)  # the config is valid
    # a schedule without a final phase refuses one: on the command line, Hydra itself ...
    with pytest.raises(ConfigCompositionException, match="final_phase_updates"):
        compose_config(["schedule=nesterov", "schedule.final_phase_updates=5"])
    # ... and from an experiment that sets one, the run's checks, before anything trains
    cfg = compose_config(["experiment=claims_autoencoder", "schedule=nesterov", "optimizer=nag"])
    with pytest.raises(ConfigError, match="schedule="):
        check_run(cfg)
