"""Properties behind the ``lopt`` experiment that hold by construction.

The linearised unbalanced baseline has LOPT's layout, so the same distance
formula compares both; the PCA check's helpers are plain linear algebra. The
experiment judges the paper's claims on cluttered MNIST digit clouds.
"""

import numpy as np

from mintlab.embed import LinearOptimalPartialTransport
from mintlab.experiments.lopt import _clouds, _linear_uot, _loo_1nn, _pca


def test_clouds_have_the_digit_points_plus_at_most_forty_percent_clutter():
    rng = np.random.default_rng(0)
    img = np.zeros((28, 28), np.uint8)
    img[10:20, 12:15] = 200
    sets = _clouds([img] * 20, 30, rng)
    sizes = np.array([len(s) for s in sets])
    assert sizes.min() >= 30 and sizes.max() <= 42
    assert all(((s >= 0) & (s <= 1)).all() for s in sets)


def test_linear_uot_rows_have_lopt_layout():
    rng = np.random.default_rng(1)
    sets = [rng.random((20, 2)) for _ in range(4)]
    lopt = LinearOptimalPartialTransport(n_references=8, penalty=0.05, point_mass=0.05,
                                         seed=0).fit(sets)
    E = _linear_uot(lopt, sets, 0.05)
    assert E.shape == (4, 8 * 2 + 8 + 1)
    D = lopt.pairwise_distances(E)
    assert np.allclose(np.diag(D), 2 * 0.05 * E[:, -1])  # a measure's own destroyed mass
    assert (D >= -1e-12).all()


def test_pca_and_leave_one_out():
    Z = _pca(np.array([[0.0, 0.0], [1.0, 0.0], [10.0, 0.0], [11.0, 0.0]]), 1)
    assert np.allclose(np.abs(Z[:, 0]), [5.5, 4.5, 4.5, 5.5])
    assert _loo_1nn(Z, np.array([0, 0, 1, 1])).tolist() == [1.0] * 4
