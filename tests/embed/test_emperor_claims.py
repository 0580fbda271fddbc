"""What EMPEROR sees that moment poolings cannot, by construction (``emperor``).

Sets that share their mean and covariance exactly (whitened samples of
different families) get one vector from mean and covariance pooling,
whatever their family; EMPEROR's sliced Gaussian mixtures still tell the
families apart.
"""

import numpy as np

from mintlab.embed import EMPEROR, PoolingEmbedding


def _whiten(X):
    X = X - X.mean(0)
    w, V = np.linalg.eigh(np.cov(X.T, bias=True))
    return X @ V @ np.diag(w ** -0.5) @ V.T


def _families(per_class, n_points, seed):
    """Gaussian, uniform, two-component and Laplace sets in R^3, whitened and rotated."""
    rng = np.random.default_rng(seed)
    sets, y = [], []
    for c in range(4):
        for _ in range(per_class):
            if c == 0:
                X = rng.normal(size=(n_points, 3))
            elif c == 1:
                X = rng.uniform(-1, 1, size=(n_points, 3))
            elif c == 2:
                X = rng.normal(size=(n_points, 3)) * 0.5
                X[:, 0] += rng.choice([-2.0, 2.0], n_points)
            else:
                X = rng.laplace(size=(n_points, 3))
            q, r = np.linalg.qr(rng.normal(size=(3, 3)))
            sets.append(_whiten(X) @ (q * np.sign(np.diag(r))).T)
            y.append(c)
    return np.stack(sets), np.asarray(y)


def test_covariance_pooling_is_blind_to_whitened_families():
    sets, _ = _families(per_class=5, n_points=200, seed=0)
    # the oracle: numpy's mean and covariance of every set are 0 and the identity
    for S in sets:
        assert np.allclose(S.mean(0), 0, atol=1e-12)
        assert np.allclose(np.cov(S.T, bias=True), np.eye(S.shape[1]), atol=1e-10)
    for kind in ("mean", "covariance"):
        F = PoolingEmbedding(kind).fit_transform(sets)
        assert np.ptp(F, axis=0).max() < 1e-9, kind  # one vector for all sets


def test_emperor_separates_the_whitened_families():
    sets, y = _families(per_class=8, n_points=300, seed=0)
    F = EMPEROR(n_projections=16, n_components=3, seed=0).fit_transform(sets)
    F = (F - F.mean(0)) / F.std(0).clip(1e-12)
    # leave-one-out nearest class centroid: the families are far apart in descriptor space
    hits = 0
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        centroids = np.stack([F[keep & (y == c)].mean(0) for c in np.unique(y)])
        hits += int(np.argmin(np.linalg.norm(centroids - F[i], axis=1)) == y[i])
    # chance is 0.25, where mean and covariance pooling sit (all their vectors are equal)
    assert hits / len(y) >= 0.5


def test_emperor_and_swe_share_slices_in_the_experiment():
    from mintlab.experiments.emperor import _descriptors

    sets = np.random.default_rng(1).normal(size=(6, 20, 2))
    d = _descriptors(3)
    a = d["emperor"].fit(sets).projections_
    b = d["swe"].fit(sets).projections_
    np.testing.assert_array_equal(a, b)
    assert d["emperor"].transform(sets).shape == d["swe"].transform(sets).shape  # same length
