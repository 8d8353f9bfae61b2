"""The two-moons generator against scikit-learn's make_moons definition, and its data stage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from momentum_repro.data.build import build_set
from momentum_repro.data.moons import make_moons
from momentum_repro.data.sets import load_labelled_set


def definition(n: int, noise: float | None, seed: int, shuffle: bool) -> tuple:
    """make_moons as scikit-learn documents and implements it, written out here: n // 2 points
    on the outer half circle, the rest on the inner; shuffle, then noise, from one
    RandomState(seed) (``sklearn.utils.shuffle`` permutes arange(n) with that state)."""
    n_out, n_in = n // 2, n - n // 2
    outer = [(np.cos(s), np.sin(s)) for s in np.linspace(0, np.pi, n_out)]
    inner = [(1 - np.cos(s), 1 - np.sin(s) - 0.5) for s in np.linspace(0, np.pi, n_in)]
    X = np.array(outer + inner, dtype=float)
    y = np.array([0] * n_out + [1] * n_in)
    rng = np.random.RandomState(seed)
    if shuffle:
        idx = np.arange(n)
        rng.shuffle(idx)
        X, y = X[idx], y[idx]
    if noise is not None:
        X = X + rng.normal(scale=noise, size=X.shape)
    return X, y


@pytest.mark.parametrize(
    ("n", "noise", "seed", "shuffle"),
    [(300, 0.2, 3, True), (301, 0.2, 0, True), (10, None, 5, False), (7, 0.5, 1, False)],
)
def test_equals_the_definition(n: int, noise: float | None, seed: int, shuffle: bool) -> None:
    X, y = make_moons(n, noise, seed, shuffle=shuffle)
    X_ref, y_ref = definition(n, noise, seed, shuffle)
    assert X.shape == (n, 2) and X.dtype == np.float64 and y.dtype == np.int64
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_allclose(X, X_ref, rtol=0, atol=1e-15)


def test_noise_free_points_lie_on_the_two_half_circles() -> None:
    X, y = make_moons(301, None, 0, shuffle=False)
    assert (y == 0).sum() == 150 and (y == 1).sum() == 151  # n // 2 outer, the rest inner
    outer, inner = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.hypot(*outer.T), 1.0, atol=1e-15)  # centre (0, 0), upper half
    assert (outer[:, 1] >= -1e-15).all()
    np.testing.assert_allclose(np.hypot(inner[:, 0] - 1, inner[:, 1] - 0.5), 1.0, atol=1e-15)
    assert (inner[:, 1] <= 0.5 + 1e-15).all()  # centre (1, 0.5), lower half
    np.testing.assert_allclose(outer[[0, -1]], [[1, 0], [-1, 0]], atol=1e-15)
    np.testing.assert_allclose(inner[[0, -1]], [[0, 0.5], [2, 0.5]], atol=1e-15)


def test_noise_is_gaussian_with_the_given_scale() -> None:
    clean, _ = make_moons(20_000, None, 4)
    noisy, _ = make_moons(20_000, 0.2, 4)
    residual = noisy - clean  # the same shuffle: the noise is drawn after it
    assert abs(residual.mean()) < 0.01 and residual.std() == pytest.approx(0.2, rel=0.02)


def test_bit_for_bit_the_scikit_learn_set_when_it_is_installed() -> None:
    datasets = pytest.importorskip("sklearn.datasets")  # not a dependency: a reference only
    for n, noise, seed in [(300, 0.2, 3), (51, 0.1, 7)]:
        X_ref, y_ref = datasets.make_moons(n_samples=n, noise=noise, random_state=seed)
        X, y = make_moons(n, noise, seed)
        np.testing.assert_array_equal(X, X_ref)
        np.testing.assert_array_equal(y, y_ref)


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="n_samples"):
        make_moons(1, 0.2, 0)
    with pytest.raises(ValueError, match="noise"):
        make_moons(10, -0.1, 0)


def test_data_stage_builds_the_exercise_set_with_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = build_set("moons", {"source": "rebuilt"})  # no data.moons section
    assert path == Path("data/sets/moons")
    built = load_labelled_set(tmp_path / "data" / "sets" / "moons")
    X, y = make_moons(300, 0.2, 3)
    np.testing.assert_array_equal(built.points, X)  # kept in float64: exactly the generator's
    np.testing.assert_array_equal(built.labels, y)
    assert built.meta["n_train"] == 300 and built.meta["noise"] == 0.2
    assert built.meta["generator_seed"] == 3 and built.meta["source"] == "generated"


def test_data_stage_takes_params_over_defaults(tmp_path: Path) -> None:
    out = tmp_path / "m"
    built = load_labelled_set(build_set("moons", {"moons": {"n_samples": 40, "out": str(out)}}))
    assert built.points.shape == (40, 2) and built.meta["noise"] == 0.2


def test_missing_set_names_the_build_command(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"build_data\.py moons"):
        load_labelled_set(tmp_path / "moons")
