"""Images as weighted 2D point clouds (point-cloud MNIST)."""

import numpy as np
import pytest
import torch

from mintlab.datasets import image_point_clouds, load_mnist


def test_mnist_digits_become_weighted_clouds():
    X, _ = load_mnist("test", n=20)
    pc = image_point_clouds(X, threshold=0.5, n_points=120)
    assert pc.X.shape == (20, 120, 2) and pc.a.shape == (20, 120) and pc.mask.dtype == bool
    np.testing.assert_allclose(pc.a.sum(1), 1.0)
    assert np.all(pc.a[~pc.mask] == 0) and np.all(pc.X[~pc.mask] == 0)
    assert np.all((pc.X >= 0) & (pc.X <= 1))
    # Every real point is a pixel above the threshold, weighted by its intensity.
    for i in range(20):
        pts, w = pc.measures()[i]
        cols = np.rint(pts[:, 0] * 27).astype(int)
        rows = np.rint((1 - pts[:, 1]) * 27).astype(int)
        v = X[i, rows, cols] / 255.0
        assert np.all(v > 0.5)
        np.testing.assert_allclose(w, v / v.sum())
        assert pc.sizes[i] == min(120, int((X[i] / 255.0 > 0.5).sum()))


def test_all_pixels_when_n_points_is_none_and_brightest_kept_otherwise():
    img = np.zeros((4, 4))
    img[0, :] = [0.9, 0.6, 0.7, 0.8]
    pc = image_point_clouds(img, threshold=0.5)
    assert pc.X.shape == (1, 4, 2) and pc.mask.all()
    top2 = image_point_clouds(img, threshold=0.5, n_points=2)
    np.testing.assert_allclose(top2.X[0], [[0.0, 1.0], [1.0, 1.0]])  # 0.9 and 0.8, raster order
    np.testing.assert_allclose(top2.a[0], [0.9 / 1.7, 0.8 / 1.7])


def test_torch_in_torch_out():
    X, _ = load_mnist("train", n=10)
    t = torch.as_tensor(X)
    pc = image_point_clouds(t, 0.3, 64)
    assert isinstance(pc.X, torch.Tensor) and pc.X.dtype == torch.get_default_dtype()
    assert isinstance(pc.mask, torch.Tensor) and pc.mask.dtype == torch.bool
    ref = image_point_clouds(X, 0.3, 64)
    np.testing.assert_allclose(pc.X.double().numpy(), ref.X, atol=1e-6)


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError, match="images must each have a pixel above threshold"):
        image_point_clouds(np.zeros((2, 5, 5)))
    with pytest.raises(ValueError, match=r"images must hold intensities in \[0, 1\]"):
        image_point_clouds(np.full((5, 5), 3.0))
    with pytest.raises(ValueError, match="threshold must be < 1"):
        image_point_clouds(np.ones((5, 5)), threshold=1.0)
    with pytest.raises(ValueError, match="n_points must be at most H \\* W = 25"):
        image_point_clouds(np.ones((5, 5)), n_points=26)
    with pytest.raises(ValueError, match="images must have shape"):
        image_point_clouds(np.ones((2, 2, 5, 5)))
    with pytest.raises(TypeError, match="images must be a numpy array"):
        image_point_clouds("digits")


def test_sample_image_points_draws_pixels_by_intensity():
    from mintlab.datasets import sample_image_points

    img = np.zeros((2, 4), dtype=np.uint8)
    img[0, 1], img[1, 3] = 255, 85  # intensities 1 and 1/3: drawn 3 : 1
    (P,) = sample_image_points(img, 40_000, seed=0, threshold=0.1)
    assert P.shape == (40_000, 2) and P.min() >= 0 and P.max() <= 1
    in_a = (P[:, 0] >= 0.25) & (P[:, 0] < 0.5) & (P[:, 1] > 0.5)  # column 1, top row
    in_b = (P[:, 0] >= 0.75) & (P[:, 1] <= 0.5)  # column 3, bottom row
    assert (in_a | in_b).all()
    assert abs(in_a.mean() - 0.75) < 0.01  # binomial sd 0.002
    # a generator is advanced, an int seed repeats, torch input gives the same points
    g = np.random.default_rng(1)
    first, second = sample_image_points(img, 5, g)[0], sample_image_points(img, 5, g)[0]
    assert not np.array_equal(first, second)
    assert np.array_equal(sample_image_points(img, 5, 1)[0], first)
    from_torch = sample_image_points(torch.from_numpy(img), 5, 1)[0]
    assert isinstance(from_torch, torch.Tensor)  # torch in, torch out
    np.testing.assert_allclose(from_torch.double().numpy(), first, rtol=1e-6)
    with pytest.raises(ValueError, match=r"images\[0\] has no pixel above threshold=0.5"):
        sample_image_points(np.zeros((3, 3)), 4)
    with pytest.raises(ValueError, match="n_points must be"):
        sample_image_points(img, 0)
    with pytest.raises(ValueError, match="images must have shape"):
        sample_image_points(np.zeros(5), 2)
