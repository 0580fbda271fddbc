"""LPGW embedding: against PGW (equality for maps, Jensen bound), input forms, errors."""

import numpy as np
import pytest

from mintlab.embed import LinearPartialGromovWasserstein, lpgw_distance
from mintlab.transport import gromov_cost_matrix, partial_gromov_wasserstein


def _ref(seed=0, n=12):
    rng = np.random.default_rng(seed)
    return rng, rng.normal(size=(n, 2))


def test_distance_to_reference_equals_pgw_for_a_map_and_bounds_it_otherwise():
    rng, ref = _ref()
    C0, p0 = gromov_cost_matrix(ref), np.full(12, 1 / 12)
    est = LinearPartialGromovWasserstein(penalty=0.5, reference=(C0, p0)).fit([ref])
    sub = ref[rng.permutation(12)[:9]]  # a permuted subset: the PGW plan is a map
    others = [rng.normal(size=(int(rng.integers(6, 14)), 2)) for _ in range(5)]
    E = est.transform([ref, (sub, np.full(9, 1 / 12))] + others)
    D = est.pairwise_distances(E)
    assert D[0, 0] == 0.0
    pgw_sub = partial_gromov_wasserstein(C0, gromov_cost_matrix(sub), p0, np.full(9, 1 / 12),
                                         penalty=0.5)
    assert abs(D[0, 1] - float(pgw_sub.cost)) < 1e-10
    for k, X in enumerate(others):
        pgw = partial_gromov_wasserstein(C0, gromov_cost_matrix(X), p0, penalty=0.5)
        assert D[0, k + 2] <= float(pgw.cost) + 1e-10
    np.testing.assert_allclose(D, D.T)
    assert np.all(D >= 0)


def test_precomputed_and_point_inputs_agree_and_reference_choices():
    rng, ref = _ref(1)
    sets = [rng.normal(size=(10, 2)) for _ in range(4)]
    a = LinearPartialGromovWasserstein(penalty=1.0, reference="first").fit(sets)
    b = LinearPartialGromovWasserstein(penalty=1.0, reference="first",
                                       metric="precomputed").fit([gromov_cost_matrix(s)
                                                                  for s in sets])
    Ea = a.transform(sets)
    Eb = b.transform([gromov_cost_matrix(s) for s in sets])
    np.testing.assert_allclose(Ea, Eb, atol=1e-12)
    np.testing.assert_allclose(a.pairwise_distances(Ea), lpgw_distance(Ea, penalty=1.0))
    bary = LinearPartialGromovWasserstein(penalty=1.0, n_reference=8, seed=0).fit(sets)
    assert bary.reference_C_.shape == (8, 8)
    E = bary.transform(sets)
    assert E.shape == (4, 8 * 8 + 8 + 1)


def test_errors():
    est = LinearPartialGromovWasserstein()
    with pytest.raises(ValueError, match="non-empty list"):
        est.fit([])
    with pytest.raises(ValueError, match="square cost matrix"):
        LinearPartialGromovWasserstein(metric="precomputed").fit([np.zeros((3, 4))])
    with pytest.raises(ValueError, match="masses"):
        est.fit([(np.zeros((3, 2)), np.array([1.0, -1.0, 1.0]))])
    with pytest.raises(ValueError, match="metric"):
        LinearPartialGromovWasserstein(metric="cosine").fit([np.zeros((3, 2))])
    with pytest.raises(ValueError, match="reference must be"):
        LinearPartialGromovWasserstein(reference="mean").fit([np.zeros((3, 2))])
    with pytest.raises(ValueError, match="finite"):
        est.fit([np.full((3, 2), np.nan)])
    with pytest.raises(ValueError, match="n_masses"):
        LinearPartialGromovWasserstein(n_masses=0).fit([np.zeros((3, 2))])
    with pytest.raises(ValueError, match="not packed"):
        lpgw_distance(np.zeros((2, 8)))
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        LinearPartialGromovWasserstein().transform([np.zeros((3, 2))])
