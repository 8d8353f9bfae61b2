"""CM and NAG on a quadratic, one eigenvalue at a time (Sutskever et al. 2013, section 2).

On q(x) = x^T A x / 2 + b^T x, with A symmetric positive definite, fixed mu and lr eps, both
methods decouple along A's eigenvectors. Along an eigenvalue lambda, with y the distance to
the minimizer x* = -A^{-1} b along that eigenvector and v the velocity there, one update is

    CM:  v' = mu v - eps lambda y                       y' = y + v'
    NAG: v' = mu v - eps lambda (y + mu v)              y' = y + v'

that is (y', v') = M (y, v) with, writing a = eps lambda and m the momentum,

    M = [[1 - a, m], [-a, m]],   m = mu for CM,  m = mu (1 - a) for NAG:

NAG along lambda is CM with momentum mu (1 - eps lambda). M's eigenvalues are the roots of
z^2 - (1 + m - a) z + m, so its spectral radius (the factor by which the error shrinks per
update, asymptotically) is sqrt(m) when they are complex and the larger |root| otherwise.

Stability (spectral radius < 1; Jury's conditions on that polynomial): 0 < a < 2 (1 + m)
and |m| < 1, i.e.

    CM:  0 < eps lambda < 2 (1 + mu)
    NAG: 0 < eps lambda < 2 (1 + mu) / (1 + 2 mu)

So CM's stable range of eps lambda contains NAG's: there is no eps lambda at which CM
diverges and NAG converges. What NAG buys is speed where eps lambda is of order 1: there CM's
error oscillates and shrinks by only sqrt(mu) per update (0.9995 at mu = 0.999), while NAG's
effective momentum mu (1 - eps lambda) is small and damps it (spectral radius 0 at
eps lambda = 1). NumPy only; every function takes scalars or broadcasting arrays.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

Method = Literal["cm", "nag"]
METHODS: tuple[Method, ...] = ("cm", "nag")


def _check(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def effective_momentum(method: Method, lam: ArrayLike, eps: ArrayLike, mu: ArrayLike) -> NDArray:
    """The momentum along eigenvalue lambda: mu for CM, mu (1 - eps lambda) for NAG."""
    _check(method)
    mu = np.asarray(mu, dtype=float)
    if method == "cm":
        return np.broadcast_to(mu, np.broadcast_shapes(np.shape(lam), np.shape(eps), mu.shape))
    return mu * (1.0 - np.asarray(eps, dtype=float) * np.asarray(lam, dtype=float))


def iteration_matrix(method: Method, lam: float, eps: float, mu: float) -> NDArray:
    """The 2x2 matrix M with (y_{t+1}, v_{t+1}) = M (y_t, v_t) along eigenvalue ``lam``."""
    a = eps * lam
    m = float(effective_momentum(method, lam, eps, mu))
    return np.array([[1.0 - a, m], [-a, m]])


def spectral_radius(method: Method, lam: ArrayLike, eps: ArrayLike, mu: ArrayLike) -> NDArray:
    """max |root| of z^2 - (1 + m - a) z + m (the eigenvalues of :func:`iteration_matrix`):
    the asymptotic contraction factor per update of the error along eigenvalue lambda."""
    a = np.asarray(eps, dtype=float) * np.asarray(lam, dtype=float)
    m = effective_momentum(method, lam, eps, mu)
    trace = 1.0 + m - a
    root = np.sqrt((trace * trace - 4.0 * m).astype(complex))
    return np.maximum(np.abs(trace + root), np.abs(trace - root)) / 2.0


def stability_limit(method: Method, mu: ArrayLike) -> NDArray:
    """The largest eps lambda with spectral radius < 1 (for 0 <= mu < 1; the range starts
    above 0): 2 (1 + mu) for CM, 2 (1 + mu) / (1 + 2 mu) for NAG."""
    _check(method)
    mu = np.asarray(mu, dtype=float)
    return 2.0 * (1.0 + mu) if method == "cm" else 2.0 * (1.0 + mu) / (1.0 + 2.0 * mu)


def rates(method: Method, A: ArrayLike, eps: float, mu: float) -> NDArray:
    """Spectral radius along each eigenvalue of the symmetric matrix A, in ascending order
    of eigenvalue: the per-direction contraction factors on q(x) = x^T A x / 2 + b^T x."""
    return spectral_radius(method, np.linalg.eigvalsh(np.asarray(A, dtype=float)), eps, mu)


def minimizer(A: ArrayLike, b: ArrayLike) -> NDArray:
    """x* = -A^{-1} b, where the gradient A x + b vanishes: the point both methods reach."""
    return -np.linalg.solve(np.asarray(A, dtype=float), np.asarray(b, dtype=float))
