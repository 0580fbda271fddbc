import numpy as np
import ot
import pytest
import scipy.sparse
import torch

from mintlab.transport import (
    MLPSlicer,
    expected_sliced_plan,
    min_sliced_plan,
    random_directions,
    soft_sort_matrix,
)

RNG = np.random.default_rng(11)


def _pair(n=40, m=30, d=3, weighted=True):
    X, Y = RNG.normal(size=(n, d)), RNG.normal(size=(m, d)) * 0.7 + 1
    if not weighted:
        return X, Y, None, None
    a, b = RNG.random(n) + 0.1, RNG.random(m) + 0.1
    return X, Y, a / a.sum(), b / b.sum()


@pytest.mark.parametrize("weighted", [True, False])
def test_est_plan_matches_pot_and_is_a_coupling(weighted):
    X, Y, a, b = _pair(weighted=weighted)
    theta = random_directions(3, 25, seed=0).numpy()
    res = expected_sliced_plan(X, Y, a, b, projections=theta)
    P, _ = ot.expected_sliced_plan(X, Y, a, b, projections=theta)
    assert np.abs(res.plan - P).max() < 1e-14
    a = np.full(40, 1 / 40) if a is None else a
    b = np.full(30, 1 / 30) if b is None else b
    assert np.abs(res.plan.sum(1) - a).max() < 1e-14
    assert np.abs(res.plan.sum(0) - b).max() < 1e-14
    M = ot.dist(X, Y)
    # the cost is the plan's cost, and no coupling beats exact OT
    assert abs(res.cost - (res.plan * M).sum()) < 1e-12
    assert res.cost >= ot.emd2(a, b, M) - 1e-12


def test_est_slice_costs_are_lifted_plan_costs_and_beta_weights():
    X, Y, a, b = _pair()
    theta = random_directions(3, 6, seed=1).numpy()
    M = ot.dist(X, Y)
    for k in range(6):
        one = expected_sliced_plan(X, Y, a, b, projections=theta[:, k:k + 1])
        full = expected_sliced_plan(X, Y, a, b, projections=theta)
        assert abs(full.slice_costs[k] - (one.plan * M).sum()) < 1e-12
    hot = expected_sliced_plan(X, Y, a, b, projections=theta, beta=3.0)
    w = np.exp(-3.0 * full.slice_costs)
    assert np.allclose(hot.slice_weights, w / w.sum(), atol=1e-14)
    assert abs(hot.cost - (hot.plan * M).sum()) < 1e-12
    cold = expected_sliced_plan(X, Y, a, b, projections=theta, beta=1e4)
    assert abs(cold.cost - full.slice_costs.min()) < 1e-9


def test_est_triangle_inequality_on_random_triples():
    theta = random_directions(2, 30, seed=3).numpy()
    for s in range(30):
        r = np.random.default_rng(s)
        X, Y, Z = (r.normal(size=(15, 2)) * r.uniform(0.3, 2) + r.normal(size=2) for _ in range(3))

        def dist(U, V):
            return float(expected_sliced_plan(U, V, projections=theta).cost) ** 0.5

        assert dist(X, Z) <= dist(X, Y) + dist(Y, Z) + 1e-12
        assert abs(dist(X, Y) - dist(Y, X)) < 1e-12


def test_est_sparse_equals_dense_and_torch_keeps_kind():
    X, Y, a, b = _pair()
    theta = random_directions(3, 10, seed=2).numpy()
    dense = expected_sliced_plan(X, Y, a, b, projections=theta).plan
    sp = expected_sliced_plan(X, Y, a, b, projections=theta, dense=False).plan
    assert isinstance(sp, scipy.sparse.coo_array)
    assert np.abs(sp.toarray() - dense).max() < 1e-15
    Xt = torch.tensor(X, dtype=torch.float32)
    res = expected_sliced_plan(Xt, torch.tensor(Y, dtype=torch.float32), seed=0)
    assert isinstance(res.plan, torch.Tensor) and res.plan.dtype == torch.float32


def test_soft_est_tends_to_hard_and_is_differentiable():
    X, Y, _, _ = _pair(20, 25, weighted=False)
    theta = random_directions(3, 8, seed=4).numpy()
    hard = expected_sliced_plan(X, Y, projections=theta)
    errs = []
    for tau in (1.0, 0.1, 1e-6):
        soft = expected_sliced_plan(X, Y, projections=theta, temperature=tau)
        errs.append(max(np.abs(soft.plan.sum(1) - 1 / 20).max(),
                        np.abs(soft.plan.sum(0) - 1 / 25).max()))
    assert errs[0] > errs[1] > errs[2] and errs[2] < 1e-8
    assert np.abs(soft.plan - hard.plan).max() < 1e-8
    Xt = torch.tensor(X[:6], requires_grad=True)
    Yt = torch.tensor(Y[:5])
    th = torch.tensor(theta)
    assert torch.autograd.gradcheck(
        lambda x: expected_sliced_plan(x, Yt, projections=th, temperature=0.5).cost, (Xt,))
    with pytest.raises(ValueError, match="needs uniform weights"):
        expected_sliced_plan(X, Y, np.full(20, 0.05), None, temperature=0.1)


def test_soft_sort_matrix_rows_and_limit():
    v = torch.tensor([0.3, -1.0, 2.0, 0.0], dtype=torch.float64)
    P = soft_sort_matrix(v, 0.5)
    assert torch.allclose(P.sum(-1), torch.ones(4, dtype=torch.float64))
    assert torch.allclose(soft_sort_matrix(v, 1e-6) @ v, torch.sort(v).values)


def test_min_sliced_plan_never_worse_than_random_search():
    X, Y, _, _ = _pair(200, 200, weighted=False)
    M = ot.dist(X, Y)
    res = min_sliced_plan(X, Y, n_projections=32, n_iter=60, seed=5)
    # the starting point: best of the same 32 directions
    theta = random_directions(3, 32, seed=5).numpy()
    start = expected_sliced_plan(X, Y, projections=theta).slice_costs.min()
    assert res.cost <= start + 1e-12
    assert res.history[0] == pytest.approx(start, abs=1e-12)
    assert abs(res.cost - (res.plan * M).sum()) < 1e-10
    assert res.cost >= ot.emd2([], [], M) - 1e-12
    assert np.abs(res.plan.sum(0) - 1 / 200).max() < 1e-14
    # transfer to the same pair reproduces the plan without training
    again = res.transfer(X, Y)
    assert abs(again.cost - res.cost) < 1e-12


def test_min_sliced_plan_module_weights_and_errors():
    X, Y, a, b = _pair(60, 50)
    mlp = MLPSlicer(3, n_projections=1, hidden=8, seed=0)
    before = [q.detach().clone() for q in mlp.parameters()]
    res = min_sliced_plan(X, Y, a, b, slicer=mlp, n_iter=20, batch_size=32, seed=0)
    assert all(torch.equal(q, r) for q, r in zip(mlp.parameters(), before, strict=True))
    assert np.abs(res.plan.sum(1) - a).max() < 1e-14
    assert np.abs(res.plan.sum(0) - b).max() < 1e-14
    assert res.cost <= res.history[0] + 1e-12
    with pytest.raises(ValueError, match="one value per point"):
        min_sliced_plan(X, Y, slicer=MLPSlicer(3, n_projections=2, seed=0), n_iter=1)
    with pytest.raises(TypeError, match="slicer must be a torch.nn.Module"):
        min_sliced_plan(X, Y, slicer="linear")
    with pytest.raises(ValueError, match="temperature must be positive"):
        min_sliced_plan(X, Y, temperature=0.0)


def test_plans_reject_bad_inputs():
    with pytest.raises(ValueError, match=r"X_t must have shape \(m, 2\)"):
        expected_sliced_plan(np.ones((3, 2)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="beta must be non-negative"):
        expected_sliced_plan(np.ones((3, 2)), np.ones((3, 2)), beta=-1)
    with pytest.raises(ValueError, match="X_s must be finite"):
        expected_sliced_plan(np.full((3, 2), np.nan), np.ones((3, 2)))
    with pytest.raises(ValueError, match="a must have shape"):
        expected_sliced_plan(np.ones((3, 2)), np.ones((3, 2)), a=np.ones(4))


def test_plans_seeds_reproduce():
    X, Y, _, _ = _pair(50, 50, weighted=False)
    assert np.array_equal(expected_sliced_plan(X, Y, seed=3).plan,
                          expected_sliced_plan(X, Y, seed=3).plan)
    r1 = min_sliced_plan(X, Y, n_iter=15, seed=4)
    r2 = min_sliced_plan(X, Y, n_iter=15, seed=4)
    assert np.array_equal(r1.plan, r2.plan) and r1.history == r2.history


def test_soft_sort_matrix_rejects_non_tensors():
    with pytest.raises(TypeError, match="values must be a floating torch tensor"):
        soft_sort_matrix(np.ones(3), 0.1)
    with pytest.raises(ValueError, match=r"values must have shape \(\.\.\., n\)"):
        soft_sort_matrix(torch.zeros(0, dtype=torch.float64), 0.1)


def test_soft_sort_matrix_with_padding_matches_the_real_entries_alone():
    import torch

    from mintlab.transport.plans import soft_sort_matrix

    g = torch.Generator().manual_seed(0)
    v = torch.randn(2, 6, generator=g, dtype=torch.float64)
    pad = torch.tensor([[False] * 6, [False] * 4 + [True] * 2])
    P = soft_sort_matrix(v, 0.3, pad)
    torch.testing.assert_close(P[0], soft_sort_matrix(v[0], 0.3))
    torch.testing.assert_close(P[1, :4, :4], soft_sort_matrix(v[1, :4], 0.3))
    assert torch.all(P[1, :, 4:] == 0)
    with pytest.raises(TypeError, match="pad must be a boolean"):
        soft_sort_matrix(v, 0.3, pad.float())
    with pytest.raises(ValueError, match="does not broadcast"):
        soft_sort_matrix(v, 0.3, pad[:, :5])


# ------------------------------------------------- POT's argument order and metric
@pytest.mark.parametrize("metric, p", [("sqeuclidean", 1), ("euclidean", 2), ("minkowski", 2)])
def test_est_plan_takes_pots_positional_order_and_metric(metric, p):
    # POT's order: X_s, X_t, a, b, projections, metric, p, n_projections, beta, seed, dense;
    # the metric fixes the ground cost whatever p (POT's meaning). Uniform equal sizes, where
    # POT's slice costs are right (with weights they are not; see test_pot_compat.py).
    X, Y, _, _ = _pair(n=30, m=30)
    theta = random_directions(3, 12, seed=1).numpy()
    for beta in (0.0, 1.5):
        res = expected_sliced_plan(X, Y, None, None, theta, metric, p, None, beta)
        plan, cost = ot.expected_sliced_plan(X, Y, None, None, theta, metric, p, None, beta)
        np.testing.assert_allclose(res.plan, plan, atol=1e-15)
        np.testing.assert_allclose(res.cost, cost, rtol=1e-12)
    M = ot.dist(X, Y, metric=metric, p=p)
    np.testing.assert_allclose(res.slice_costs, [
        (expected_sliced_plan(X, Y, projections=theta[:, k:k + 1]).plan * M).sum()
        for k in range(12)], rtol=1e-12)


def test_est_plan_refuses_non_euclidean_metrics():
    X, Y, _, _ = _pair(n=5, m=5)
    with pytest.raises(ValueError, match="metric must be None.*got 'cityblock'"):
        expected_sliced_plan(X, Y, metric="cityblock")
    with pytest.raises(ValueError, match="got 'minkowski' with p=3"):
        expected_sliced_plan(X, Y, metric="minkowski", p=3)
