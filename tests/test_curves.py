"""The CURVES re-creation: shapes, range, determinism, and images that are thin connected curves."""

import numpy as np
from scipy import ndimage

from momentum_repro.data.curves import generate_curves


def test_shape_range_dtype() -> None:
    x = generate_curves(50, seed=0)
    assert x.shape == (50, 784)
    assert x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() <= 1.0
    assert (x.max(axis=1) > 0.9).all()  # the pen's centre is fully inked


def test_deterministic_per_seed() -> None:
    np.testing.assert_array_equal(generate_curves(20, seed=3), generate_curves(20, seed=3))
    assert not np.array_equal(generate_curves(20, seed=3), generate_curves(20, seed=4))
    # a prefix of a larger draw is the same images
    np.testing.assert_array_equal(generate_curves(5, seed=3), generate_curves(20, seed=3)[:5])


def test_images_are_one_connected_thin_stroke_not_noise() -> None:
    images = generate_curves(200, seed=1).reshape(-1, 28, 28)
    eight = np.ones((3, 3))
    for image in images:
        ink = image > 0.3  # pixel centres within 0.78 px of the curve: 8-connected along it
        _, components = ndimage.label(ink, structure=eight)
        assert components == 1
        # thin: a stroke, not a blob: its area is small for its length
        assert ink.sum() < 0.25 * ink.size
    # noise of the same mean would be scattered into many components
    rng = np.random.default_rng(0)
    noise = rng.random((28, 28)) < (images > 0.3).mean()
    assert ndimage.label(noise, structure=eight)[1] > 5


def test_strokes_pass_through_three_points_smoothly() -> None:
    # the ink forms a curve: few pixels have more than two inked 4-neighbours on average
    images = generate_curves(100, seed=2).reshape(-1, 28, 28) > 0.5
    neighbours = sum(np.roll(images, s, axis=a) for s in (1, -1) for a in (1, 2))
    mean_degree = (neighbours * images).sum() / images.sum()
    assert 1.0 < mean_degree < 3.0


def test_ink_is_the_gaussian_pen_of_the_distance_to_the_curve_through_the_three_points() -> None:
    """Each pixel against the module's definition, computed the slow way in float64: the
    quadratic curve through the 3 drawn points (hit at s = 0, 1/2, 1), 256 samples, ink
    exp(-d^2 / (2 * 0.5^2)) with d the distance from the pixel centre to the nearest sample."""
    n, seed = 6, 11
    points = np.random.Generator(np.random.PCG64(seed)).uniform(2.0, 25.0, size=(n, 3, 2))
    s = np.linspace(0.0, 1.0, 256)[:, None]
    ys, xs = np.mgrid[0:28, 0:28]
    centres = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float64)
    expected = np.empty((n, 784))
    for i, (p0, p1, p2) in enumerate(points):
        control = 2.0 * p1 - 0.5 * (p0 + p2)
        curve = (1 - s) ** 2 * p0 + 2 * (1 - s) * s * control + s**2 * p2
        np.testing.assert_allclose(curve[[0, -1]], [p0, p2])
        np.testing.assert_allclose(0.25 * p0 + 0.5 * control + 0.25 * p2, p1)  # B(1/2)
        d2 = ((centres[:, None, :] - curve[None, :, :]) ** 2).sum(-1).min(axis=1)
        expected[i] = np.exp(-d2 / (2 * 0.5**2))
    np.testing.assert_allclose(
        generate_curves(n, seed=seed), expected, rtol=0, atol=1e-5
    )  # float32 coordinates
