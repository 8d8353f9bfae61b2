"""Section 2's analysis (analysis.quadratic) against its closed forms and against runs of our
ClassicalMomentum and Nesterov on diagonal quadratics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from momentum_repro.analysis import quadratic
from momentum_repro.optim import ClassicalMomentum, Nesterov

OPTIMIZERS = {"cm": ClassicalMomentum, "nag": Nesterov}


def run(method: str, lam: np.ndarray, b: np.ndarray, x0: np.ndarray, eps: float, mu: float,
        steps: int) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Our optimizer on q(x) = sum(lam x^2) / 2 + b'x in float64: (x_t, v_t) for t = 0..steps."""
    lam_t, b_t = torch.from_numpy(lam), torch.from_numpy(b)
    x = torch.nn.Parameter(torch.from_numpy(x0.copy()))
    opt = OPTIMIZERS[method]([x], lr=eps, momentum=mu)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = 0.5 * (lam_t * x * x).sum() + (b_t * x).sum()
        loss.backward()
        return loss

    xs, vs = [x0.copy()], [np.zeros_like(x0)]
    for _ in range(steps):
        opt.step(closure)
        xs.append(x.detach().numpy().copy())
        vs.append(opt.state[x]["velocity"].numpy().copy())
    return np.array(xs), np.array(vs)


@pytest.mark.parametrize("method", ["cm", "nag"])
def test_each_coordinate_follows_its_2x2_iteration_matrix(method: str) -> None:
    """(x_t - x*, v_t) = M^t (x_0 - x*, 0) along every eigenvalue, b != 0, 60 updates."""
    eps, mu = 0.1, 0.9
    lam = np.array([0.05, 1.0, 5.0, 10.0, 13.0])  # eps lambda from 0.005 to 1.3
    b = np.array([0.3, -1.0, 2.0, 0.5, -0.7])
    x_star = quadratic.minimizer(np.diag(lam), b)
    np.testing.assert_allclose(lam * x_star + b, 0.0, atol=1e-15)
    x0 = np.array([1.0, -2.0, 0.5, 1.5, -1.0])
    xs, vs = run(method, lam, b, x0, eps, mu, 60)
    for i, li in enumerate(lam):
        M = quadratic.iteration_matrix(method, li, eps, mu)
        state = np.array([x0[i] - x_star[i], 0.0])
        for t in range(61):
            np.testing.assert_allclose([xs[t, i] - x_star[i], vs[t, i]], state, atol=1e-12)
            state = M @ state


def measured_contraction(y: np.ndarray, window: int = 30) -> tuple[float, bool]:
    """The per-update contraction of the error sequence y over its last ``window`` updates,
    from the iterates alone; and whether it oscillates.

    One real root dominating: the ratio y_{t+1} / y_t has settled, and its size is the
    factor. Complex roots of modulus r: y_t = A r^t cos(w t + phi) and the Casoratian
    y_t y_{t+2} - y_{t+1}^2 shrinks by exactly r^2 per update."""
    tail = y[-window - 2 :]
    ratios = tail[1:] / tail[:-1]
    if np.ptp(ratios[-window:]) < 1e-9:
        return abs(float(ratios[-1])), False
    casoratian = tail[:-2] * tail[2:] - tail[1:-1] ** 2
    return float(abs(casoratian[-1] / casoratian[0]) ** (0.5 / (len(casoratian) - 1))), True


@pytest.mark.parametrize(
    ("method", "mu", "eps_lambda"),
    [
        ("cm", 0.9, [0.001, 0.5, 1.2, 3.5]),  # one real root, then complex ones
        ("cm", 0.99, [0.5, 1.2]),
        ("nag", 0.9, [0.001, 0.5, 1.2]),  # 1.2: effective momentum < 0, real roots
        ("nag", 0.99, [0.5, 1.2]),
    ],
)
def test_measured_contraction_matches_the_spectral_radius(
    method: str, mu: float, eps_lambda: list[float]
) -> None:
    eps = 0.1
    lam = np.array(eps_lambda) / eps
    x0 = np.linspace(1.0, 2.0, len(lam))
    xs, _ = run(method, lam, np.zeros_like(lam), x0, eps, mu, 400)  # b = 0: x* = 0 exactly
    predicted = quadratic.spectral_radius(method, lam, eps, mu)
    for i in range(len(lam)):
        factor, oscillates = measured_contraction(xs[:, i])
        assert abs(factor - predicted[i]) < 1e-6, (eps_lambda[i], factor, predicted[i])
        a, m = eps * lam[i], float(quadratic.effective_momentum(method, lam[i], eps, mu))
        assert oscillates == ((1 + m - a) ** 2 < 4 * m)  # complex roots exactly when predicted


@pytest.mark.parametrize("method", ["cm", "nag"])
def test_spectral_radius_is_that_of_the_iteration_matrix(method: str) -> None:
    for mu in (0.0, 0.5, 0.9, 0.99, 0.999):
        for a in np.linspace(0.0, 4.5, 91):
            M = quadratic.iteration_matrix(method, a / 0.3, 0.3, mu)
            expected = max(abs(np.linalg.eigvals(M)))
            assert quadratic.spectral_radius(method, a / 0.3, 0.3, mu) == pytest.approx(
                expected, rel=1e-9, abs=1e-12
            )


def test_nag_is_cm_with_momentum_mu_one_minus_eps_lambda() -> None:
    for lam, eps, mu in [(2.0, 0.1, 0.9), (30.0, 0.05, 0.99), (0.5, 1.0, 0.999)]:
        np.testing.assert_array_equal(
            quadratic.iteration_matrix("nag", lam, eps, mu),
            quadratic.iteration_matrix("cm", lam, eps, mu * (1 - eps * lam)),
        )
    # the update equations, written out: CM v' = mu v - a y; NAG v' = mu v - a (y + mu v)
    y, v, a, mu = 0.7, -0.2, 0.4, 0.9
    for method, v_next in (("cm", mu * v - a * y), ("nag", mu * v - a * (y + mu * v))):
        got = quadratic.iteration_matrix(method, a, 1.0, mu) @ [y, v]
        np.testing.assert_allclose(got, [y + v_next, v_next], rtol=1e-15)


@pytest.mark.parametrize("mu", [0.0, 0.5, 0.9, 0.99, 0.999])
def test_stability_boundary(mu: float) -> None:
    cm, nag = (float(quadratic.stability_limit(m, mu)) for m in ("cm", "nag"))
    assert cm == pytest.approx(2 * (1 + mu)) and nag == pytest.approx(2 * (1 + mu) / (1 + 2 * mu))
    for method, limit in (("cm", cm), ("nag", nag)):
        below, above = limit * (1 - 1e-6), limit * (1 + 1e-6)
        assert quadratic.spectral_radius(method, below, 1.0, mu) < 1
        assert quadratic.spectral_radius(method, above, 1.0, mu) > 1
        a = np.linspace(1e-6, 6.0, 6001)
        stable = quadratic.spectral_radius(method, a, 1.0, mu) < 1
        np.testing.assert_array_equal(stable, a < limit)  # one interval (0, limit)
    # CM's stable range contains NAG's: nowhere does CM diverge while NAG converges
    a = np.linspace(1e-6, 6.0, 6001)
    cm_rho, nag_rho = (quadratic.spectral_radius(m, a, 1.0, mu) for m in ("cm", "nag"))
    assert not ((cm_rho >= 1) & (nag_rho < 1)).any()


def test_nag_damps_the_high_curvature_oscillation_cm_keeps() -> None:
    """At eps lambda = 1 CM shrinks the error by sqrt(mu) per update, NAG kills it."""
    for mu in (0.9, 0.99, 0.999):
        assert quadratic.spectral_radius("cm", 1.0, 1.0, mu) == pytest.approx(np.sqrt(mu))
        assert quadratic.spectral_radius("nag", 1.0, 1.0, mu) == pytest.approx(0.0, abs=1e-12)


def test_rates_of_a_full_matrix_are_those_of_its_eigenvalues() -> None:
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    lam = np.array([0.1, 0.5, 2.0, 8.0, 12.0])
    A = q @ np.diag(lam) @ q.T
    for method in ("cm", "nag"):
        np.testing.assert_allclose(
            quadratic.rates(method, A, 0.1, 0.95),
            quadratic.spectral_radius(method, lam, 0.1, 0.95),
            rtol=1e-10,
        )
    with pytest.raises(ValueError, match="method"):
        quadratic.spectral_radius("adam", 1.0, 0.1, 0.9)  # type: ignore[arg-type]
