"""Properties of expected sliced transport plans that hold by construction (``est-plans``).

The experiment judges the metric claim (the triangle inequality); what
follows from the construction of the plan is tested here, on the
experiment's kind of data (weighted Gaussian point sets of different sizes)
and against independent oracles: POT's ``ot.expected_sliced_plan`` and
exact OT (``ot.emd2``).
"""

import numpy as np
import ot
import pytest

from mintlab.transport import expected_sliced_plan, random_directions


def _measure(rng, n, d):
    X = rng.normal(size=(n, d)) * rng.uniform(0.3, 2.0) + rng.normal(scale=2.0, size=d)
    w = rng.random(n) + 0.05
    return X, w / w.sum()


@pytest.mark.parametrize("d", [3, 10])
def test_est_plan_is_a_coupling_and_costs_at_least_exact_ot(d):
    rng = np.random.default_rng(d)
    theta = random_directions(d, 64, seed=0).numpy()
    for _ in range(10):
        n, m = rng.integers(10, 80, size=2)
        (X, a), (Y, b) = _measure(rng, n, d), _measure(rng, m, d)
        est = expected_sliced_plan(X, Y, a, b, projections=theta)
        assert np.abs(est.plan.sum(1) - a).max() < 1e-12
        assert np.abs(est.plan.sum(0) - b).max() < 1e-12
        assert est.plan.min() >= 0.0
        # same plan and cost as POT's independent implementation
        P, cost = ot.expected_sliced_plan(X, Y, a, b, projections=theta)
        assert np.abs(est.plan - P).max() < 1e-13
        assert float(est.cost) == pytest.approx(float(cost), rel=1e-12)
        # no coupling is cheaper than the optimal one
        M = ot.dist(X, Y)
        assert float(est.cost) >= ot.emd2(a, b, M) - 1e-12
        assert float(est.cost) == pytest.approx(float((est.plan * M).sum()), rel=1e-12)


def test_est_distance_is_symmetric_and_zero_on_identical_measures():
    rng = np.random.default_rng(1)
    theta = random_directions(3, 64, seed=1).numpy()
    for _ in range(10):
        (X, a), (Y, b) = _measure(rng, int(rng.integers(5, 40)), 3), _measure(rng, 30, 3)
        xy = expected_sliced_plan(X, Y, a, b, projections=theta)
        yx = expected_sliced_plan(Y, X, b, a, projections=theta)
        assert float(xy.cost) == pytest.approx(float(yx.cost), rel=1e-13)
        assert np.abs(xy.plan - yx.plan.T).max() < 1e-14
        assert float(expected_sliced_plan(X, X, a, a, projections=theta).cost) < 1e-20


def test_large_beta_reaches_the_cheapest_slice_and_cost_decreases_with_beta():
    rng = np.random.default_rng(2)
    theta = random_directions(3, 64, seed=2).numpy()
    (X, a), (Y, b) = _measure(rng, 60, 3), _measure(rng, 50, 3)
    betas = [0.0, 0.1, 0.3, 1.0, 3.0, 10.0, 100.0, 1e4]
    res = [expected_sliced_plan(X, Y, a, b, projections=theta, beta=bt) for bt in betas]
    costs = np.array([float(r.cost) for r in res])
    slice_costs = res[0].slice_costs
    # beta = 0 is the plain average of the slices' lifted costs
    assert costs[0] == pytest.approx(float(np.mean(slice_costs)), rel=1e-12)
    # a softmax weighting by -cost can only lower the average, and lowers it more as beta grows
    assert np.all(np.diff(costs) <= 1e-12)
    # min-SWGG in the limit: the cheapest single slice
    assert costs[-1] == pytest.approx(float(slice_costs.min()), rel=1e-6)
    # and its plan is that slice's lifted plan
    best = int(np.argmin(slice_costs))
    one = expected_sliced_plan(X, Y, a, b, projections=theta[:, best:best + 1])
    assert np.abs(res[-1].plan - one.plan).max() < 1e-6
