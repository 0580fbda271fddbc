"""Properties behind the ``sopt`` experiment that hold by construction.

The experiment judges the paper's claims (exactness against the LP and POT,
speed, robustness to clutter on MNIST digit clouds); these tests pin down its
helpers and the mechanism of the robustness: a clutter point farther than
``sqrt(2 lambda)`` from every point on a slice is left untransported at price
``lambda``.
"""

import numpy as np

from mintlab.experiments.sopt import _clouds, _nn_correct
from mintlab.transport import partial_wasserstein_1d, sliced_partial_wasserstein


def test_digit_clouds_lie_in_the_unit_square_on_bright_pixels():
    rng = np.random.default_rng(0)
    img = np.zeros((28, 28), np.uint8)
    img[5:8, 10:12] = 255
    (pts,) = _clouds([img], 50, rng)
    assert pts.shape == (50, 2)
    assert ((pts >= 0) & (pts <= 1)).all()
    cols, rows = pts[:, 0] * 28, (1 - pts[:, 1]) * 28
    assert ((cols >= 10) & (cols < 12)).all() and ((rows >= 5) & (rows < 8)).all()


def test_far_clutter_costs_exactly_the_penalty_per_point():
    rng = np.random.default_rng(1)
    X = rng.random((30, 2))
    lam = 0.005
    theta = np.array([[1.0, 0.0], [0.0, 1.0]])  # axis slices: the clutter is far on both
    clutter = np.array([[5.0, 5.0], [6.0, -4.0], [-5.0, 7.0]])
    clean = sliced_partial_wasserstein(X, X, lam, projections=theta)
    noisy = sliced_partial_wasserstein(np.vstack([X, clutter]), X, lam, projections=theta)
    assert abs(float(clean)) < 1e-12
    assert abs(float(noisy) - lam * len(clutter)) < 1e-12
    one = partial_wasserstein_1d(np.r_[X[:, 0], 9.0], X[:, 0], lam)
    assert int(one.transported) == len(X) and int(one.assignment[-1]) == -1


def test_nn_correct_reads_the_nearest_training_label():
    D = np.array([[0.3, 0.1, 0.2], [0.0, 0.5, 0.6]])
    assert _nn_correct(D, np.array([0, 1, 2]), np.array([1, 2])).tolist() == [1.0, 0.0]
