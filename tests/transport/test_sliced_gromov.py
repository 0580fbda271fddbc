import numpy as np
import pytest

from mintlab.transport import gromov_cost_matrix

RNG = np.random.default_rng(12)


def _gw_dense(C1, C2, G):
    return float((((C1[:, None, :, None] - C2[None, :, None, :]) ** 2) * G[:, :, None, None]
                  * G[None, None]).sum())


def test_min_gsgw_cost_is_the_gw_objective_of_its_plan_and_bounds_gw():
    from mintlab.transport import min_generalized_sliced_gromov_wasserstein

    X = RNG.normal(size=(25, 3))
    Y = RNG.normal(size=(30, 2)) * np.array([2.0, 0.5])
    a = RNG.random(25) + 0.1
    res = min_generalized_sliced_gromov_wasserstein(X, Y, a, None, n_iter=30, seed=1)
    C1, C2 = gromov_cost_matrix(X), gromov_cost_matrix(Y)
    assert abs(float(res.cost) - _gw_dense(C1, C2, res.plan)) < 1e-9
    assert np.allclose(res.plan.sum(1), a / a.sum()) and np.allclose(res.plan.sum(0), 1 / 30)
    # the search never ends worse than its random-search start
    assert 0 <= res.cost <= res.history[0] + 1e-12


def test_min_gsgw_finds_isometries_and_transfers():
    from mintlab.transport import MLPSlicer, min_generalized_sliced_gromov_wasserstein

    X = RNG.normal(size=(40, 2)) * np.array([3.0, 1.0])
    Q = np.array([[0.0, -1.0], [1.0, 0.0]])
    res = min_generalized_sliced_gromov_wasserstein(X, X @ Q.T + 2.0, n_iter=100, seed=0)
    assert float(res.cost) < 1e-9
    # the learned slicers carry over to a fresh sample of the same pair of shapes: better
    # than a fresh random search (exact matching would need exactly related directions)
    X2 = RNG.normal(size=(40, 2)) * np.array([3.0, 1.0])
    moved = res.transfer(X2, X2 @ Q.T + 2.0)
    fresh = min_generalized_sliced_gromov_wasserstein(X2, X2 @ Q.T + 2.0, n_iter=0, seed=0)
    assert float(moved.cost) < float(fresh.cost)
    pair = (MLPSlicer(2, 1, hidden=8, seed=0), MLPSlicer(2, 1, hidden=8, seed=1))
    r2 = min_generalized_sliced_gromov_wasserstein(X, X @ Q.T, slicers=pair, n_iter=5, seed=0)
    assert r2.cost <= r2.history[0] + 1e-12
    with pytest.raises(TypeError, match="pair of torch.nn.Module"):
        min_generalized_sliced_gromov_wasserstein(X, X, slicers=pair[0])
