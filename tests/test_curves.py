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
