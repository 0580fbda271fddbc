"""The corruption suite for 28x28 images: determinism, closed forms, severity order, errors."""

import numpy as np
import pytest
from scipy import ndimage

from mintlab.datasets import load_fashion_mnist
from mintlab.datasets.corruptions import (
    CORRUPTION_PARAMETERS,
    CORRUPTIONS,
    SEVERITIES,
    corrupt,
    corruption_suite,
)

STOCHASTIC = ("gaussian_noise", "shot_noise", "impulse_noise", "rotation", "elastic",
              "occlusion")


@pytest.fixture(scope="module")
def images():
    X, _ = load_fashion_mnist("test", n=40, seed=0, source="subset")
    return X


def test_shape_dtype_range_and_determinism(images):
    for name in CORRUPTIONS:
        for s in (1, 5):
            a = corrupt(images, name, s, seed=3)
            assert a.shape == images.shape and a.dtype == np.uint8, name
            assert np.array_equal(a, corrupt(images, name, s, seed=3)), name
            f = corrupt(images / 255.0, name, s, seed=3)
            assert f.dtype == np.float64 and f.min() >= 0 and f.max() <= 1, name
            assert np.abs(np.round(f * 255) - a).max() <= 1, name  # same map on both scales
        if name in STOCHASTIC:
            assert not np.array_equal(corrupt(images, name, 3, seed=1),
                                      corrupt(images, name, 3, seed=2)), name


def test_severity_orders_the_change(images):
    """Every corruption moves the images further at severity 5 than at 1, and the mean change
    grows with severity (allowing a little noise between neighbours)."""
    x = images / 255.0
    for name in CORRUPTIONS:
        change = [np.abs(corrupt(x, name, s, seed=0) - x).mean() for s in SEVERITIES]
        assert change[0] > 0, name
        assert change[-1] > 1.5 * change[0], (name, change)
        steps = zip(change[:-1], change[1:], strict=True)
        assert all(b > 0.9 * a for a, b in steps), (name, change)


def test_closed_forms():
    rng = np.random.default_rng(0)
    x = rng.uniform(0.2, 0.8, size=(5, 28, 28))
    c = CORRUPTION_PARAMETERS["contrast"][2]
    m = x.mean(axis=(1, 2), keepdims=True)
    assert np.allclose(corrupt(x, "contrast", 3), (x - m) * c + m)
    b = CORRUPTION_PARAMETERS["brightness"][0]
    assert np.allclose(corrupt(x, "brightness", 1), np.clip(x + b, 0, 1))
    sig = CORRUPTION_PARAMETERS["gaussian_blur"][3]
    blurred = np.stack([ndimage.gaussian_filter(im, sig, mode="constant") for im in x])
    assert np.allclose(corrupt(x, "gaussian_blur", 4), np.clip(blurred, 0, 1))


def test_pixelate_averages_cells():
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(2, 28, 28))
    side = CORRUPTION_PARAMETERS["pixelate"][4]
    out = corrupt(x, "pixelate", 5)
    cell = (np.arange(28) * side) // 28
    for n in range(2):
        for a in range(side):
            for b in range(side):
                block = np.ix_(cell == a, cell == b)
                assert np.allclose(out[n][block], x[n][block].mean())


def test_rotation_matches_scipy_with_a_sign_per_image():
    rng = np.random.default_rng(2)
    x = rng.uniform(size=(6, 28, 28))
    angle = CORRUPTION_PARAMETERS["rotation"][1]
    out = corrupt(x, "rotation", 2, seed=0)
    for n in range(6):
        cands = [np.clip(ndimage.rotate(x[n], a, reshape=False, order=1, mode="constant"), 0, 1)
                 for a in (angle, -angle)]
        assert any(np.allclose(out[n], c) for c in cands)


def test_noise_statistics_and_occlusion_square():
    x = np.full((200, 28, 28), 0.5)
    sigma = CORRUPTION_PARAMETERS["gaussian_noise"][0]
    assert abs((corrupt(x, "gaussian_noise", 1, seed=0) - x).std() - sigma) < 0.005
    p = CORRUPTION_PARAMETERS["impulse_noise"][2]
    hit = np.isin(corrupt(x, "impulse_noise", 3, seed=0), (0.0, 1.0)).mean()
    assert abs(hit - p) < 0.005
    side = CORRUPTION_PARAMETERS["occlusion"][4]
    out = corrupt(np.ones((10, 28, 28)), "occlusion", 5, seed=0)
    for im in out:
        rows, cols = np.nonzero(im == 0)
        assert len(rows) == side * side
        assert rows.max() - rows.min() + 1 == side and cols.max() - cols.min() + 1 == side


def test_suite_order_and_independent_streams(images):
    got = list(corruption_suite(images, ["rotation", "elastic"], (2, 4), seed=5))
    assert [(n, s) for n, s, _ in got] == [("rotation", 2), ("rotation", 4), ("elastic", 2),
                                          ("elastic", 4)]
    alone = list(corruption_suite(images, ["elastic"], (4,), seed=5))
    assert np.array_equal(alone[0][2], got[3][2])
    assert len(list(corruption_suite(images[:2], seed=0))) == len(CORRUPTIONS) * len(SEVERITIES)


def test_bad_inputs(images):
    with pytest.raises(ValueError, match="corruption must be one of"):
        corrupt(images, "fog", 1)
    for bad in (0, 6):
        with pytest.raises(ValueError, match="severity must be an integer in 1..5"):
            corrupt(images, "contrast", bad)
    for bad in (2.0, True):
        with pytest.raises(TypeError, match="severity must be an integer in 1..5"):
            corrupt(images, "contrast", bad)
    with pytest.raises(ValueError, match=r"shape \(n, height, width\)"):
        corrupt(images[0], "contrast", 1)
    with pytest.raises(ValueError, match=r"values in \[0, 1\]"):
        corrupt(images.astype(np.float64), "contrast", 1)
    with pytest.raises(TypeError, match="uint8"):
        corrupt(images.astype(np.int32), "contrast", 1)
    with pytest.raises(TypeError, match="numpy array"):
        corrupt(images.tolist(), "contrast", 1)
    with pytest.raises(ValueError, match="corruptions must name at least one"):
        list(corruption_suite(images, []))
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        list(corruption_suite(images, seed=-1))
