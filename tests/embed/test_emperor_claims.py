"""What EMPEROR sees that moment poolings cannot, by construction (``emperor``).

Whitened sets share their mean and covariance exactly, so mean and
covariance pooling give every set the same vector, whatever its family;
EMPEROR's sliced Gaussian mixtures still tell the families apart.
"""

import numpy as np

from mintlab.embed import EMPEROR, PoolingEmbedding
from mintlab.experiments.emperor import make_sets


def test_covariance_pooling_is_blind_to_whitened_families():
    sets, y = make_sets(per_class=5, n_points=200, seed=0)
    # the oracle: numpy's mean and covariance of every set are 0 and the identity
    for S in sets:
        assert np.allclose(S.mean(0), 0, atol=1e-12)
        assert np.allclose(np.cov(S.T, bias=True), np.eye(S.shape[1]), atol=1e-10)
    for kind in ("mean", "covariance"):
        F = PoolingEmbedding(kind).fit_transform(sets)
        assert np.ptp(F, axis=0).max() < 1e-9, kind  # one vector for all sets


def test_emperor_separates_the_whitened_families():
    sets, y = make_sets(per_class=8, n_points=300, seed=0)
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
