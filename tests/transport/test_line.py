"""1D kernels against exact oracles (POT's 1D solvers and LPs) and their properties."""

import numpy as np
import ot
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mintlab.transport import (
    circle_wasserstein,
    emd2,
    partial_wasserstein_1d,
    partial_wasserstein_lp,
    quantile_function,
    wasserstein_1d,
    wasserstein_1d_plan,
)

RNG = np.random.default_rng(12345)


def _pot_w1d(u, v, uw=None, vw=None, p=1):
    # POT batches over trailing axes; ours over leading axes
    return ot.wasserstein_1d(u.T, v.T, None if uw is None else uw.T,
                             None if vw is None else vw.T, p=p)


# ----------------------------------------------------------- wasserstein_1d
@pytest.mark.parametrize("p", [1, 2, 1.5, 3])
@pytest.mark.parametrize("n, m", [(7, 7), (5, 9), (30, 11)])
def test_w1d_matches_pot_weighted_batched(p, n, m):
    u, v = RNG.normal(size=(6, n)), RNG.normal(1.0, 2.0, size=(6, m))
    uw, vw = RNG.random((6, n)), RNG.random((6, m))
    uw /= uw.sum(1, keepdims=True)
    vw /= vw.sum(1, keepdims=True)
    ours = wasserstein_1d(u, v, uw, vw, p=p)
    assert ours.shape == (6,)
    np.testing.assert_allclose(ours, _pot_w1d(u, v, uw, vw, p), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(wasserstein_1d(u, v, p=p), _pot_w1d(u, v, p=p), rtol=1e-10)
    # unbatched row equals the batched row
    np.testing.assert_allclose(wasserstein_1d(u[2], v[2], uw[2], vw[2], p=p), ours[2], rtol=1e-12)


def test_w1d_matches_emd2_and_normalises_weights():
    u, v = RNG.normal(size=8), RNG.normal(size=5)
    uw, vw = RNG.random(8) * 3, RNG.random(5)
    M = np.abs(u[:, None] - v[None, :]) ** 2
    exact = ot.emd2(uw / uw.sum(), vw / vw.sum(), M)
    assert abs(wasserstein_1d(u, v, uw, vw, p=2) - exact) < 1e-10


def test_w1d_broadcasts_and_nd_batches():
    u = RNG.normal(size=(3, 4, 10))
    v = RNG.normal(size=(4, 12))
    out = wasserstein_1d(u, v, p=2)
    assert out.shape == (3, 4)
    assert abs(out[1, 2] - wasserstein_1d(u[1, 2], v[2], p=2)) < 1e-12


def test_w1d_torch_keeps_kind_dtype_and_is_differentiable():
    u = torch.randn(4, 9, dtype=torch.float32)
    v = torch.randn(4, 9, dtype=torch.float32)
    out = wasserstein_1d(u, v, p=2)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    ref = _pot_w1d(u.double().numpy(), v.double().numpy(), p=2)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-5)


@pytest.mark.parametrize("equal", [True, False])
def test_w1d_gradcheck_values_and_weights(equal):
    g = torch.Generator().manual_seed(0)
    n, m = (6, 6) if equal else (5, 7)
    u = torch.randn(2, n, dtype=torch.float64, generator=g, requires_grad=True)
    v = torch.randn(2, m, dtype=torch.float64, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: wasserstein_1d(a, b, p=2), (u, v))
    uw = (torch.rand(2, n, dtype=torch.float64, generator=g) + 0.5).requires_grad_()
    vw = (torch.rand(2, m, dtype=torch.float64, generator=g) + 0.5).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda a, b, wa, wb: wasserstein_1d(a, b, wa, wb, p=1.5), (u, v, uw, vw)
    )


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.float64, st.integers(1, 12), elements=st.floats(-1e3, 1e3)),
    arrays(np.float64, st.integers(1, 12), elements=st.floats(-1e3, 1e3)),
    st.sampled_from([1.0, 2.0]),
)
def test_w1d_fuzz_against_pot(u, v, p):
    ours = wasserstein_1d(u, v, p=p)
    ref = ot.wasserstein_1d(u, v, p=p)
    assert ours >= 0
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-9)


def test_w1d_metric_properties():
    x, y, z = RNG.normal(size=(3, 20))
    assert wasserstein_1d(x, x) == 0
    assert abs(wasserstein_1d(x, y) - wasserstein_1d(y, x)) < 1e-12
    # W_1 satisfies the triangle inequality
    assert wasserstein_1d(x, z) <= wasserstein_1d(x, y) + wasserstein_1d(y, z) + 1e-12
    # translation moves W_p by exactly the shift when the shape is equal
    assert abs(wasserstein_1d(x, x + 3.0, p=2) - 9.0) < 1e-10


# -------------------------------------------------------- quantile and plan
def test_quantile_function_matches_pot():
    xs = np.sort(RNG.normal(size=(3, 10)), axis=1)
    w = RNG.random((3, 10))
    cws = np.cumsum(w / w.sum(1, keepdims=True), axis=1)
    qs = RNG.random((3, 25))
    ref = ot.lp.solver_1d.quantile_function(qs.T, cws.T, xs.T).T
    np.testing.assert_array_equal(quantile_function(qs, cws, xs), ref)


@pytest.mark.parametrize("p", [1, 2])
def test_plan_is_a_coupling_and_optimal(p):
    u, v = RNG.normal(size=(3, 6)), RNG.normal(size=(3, 9))
    uw, vw = RNG.random((3, 6)), RNG.random((3, 9))
    plan = wasserstein_1d_plan(u, v, uw, vw, p=p)
    dense = plan.to_dense()
    assert dense.shape == (3, 6, 9)
    for b in range(3):
        np.testing.assert_allclose(dense[b].sum(1), uw[b] / uw[b].sum(), atol=1e-12)
        np.testing.assert_allclose(dense[b].sum(0), vw[b] / vw[b].sum(), atol=1e-12)
        M = np.abs(u[b][:, None] - v[b][None, :]) ** p
        exact = ot.emd2(uw[b] / uw[b].sum(), vw[b] / vw[b].sum(), M)
        assert abs((dense[b] * M).sum() - exact) < 1e-10
        assert abs(plan.cost[b] - exact) < 1e-10


def test_plan_torch_roundtrip():
    plan = wasserstein_1d_plan(torch.randn(5), torch.randn(3))
    assert isinstance(plan.to_dense(), torch.Tensor)
    assert plan.source_index.dtype == torch.int64


# ------------------------------------------------------------ partial OT
def _penalised_lp(x, y, lam, p):
    M = np.abs(x[:, None] - y[None, :]) ** p
    r = partial_wasserstein_lp(np.ones(len(x)), np.ones(len(y)), M, lam)
    return float(r.cost), float(r.transported)


def test_partial_matches_lp_on_many_random_cases():
    rng = np.random.default_rng(7)
    checked = 0
    for trial in range(240):
        n, m = rng.integers(1, 13, size=2)
        p = [1.0, 2.0, 1.5][trial % 3]
        lam = float(rng.exponential(1.0))
        x, y = rng.normal(size=n), rng.normal(size=m) + rng.normal()
        if trial % 4 == 0:  # ties
            x, y = np.round(x * 2) / 2, np.round(y * 2) / 2
        if trial % 5 == 0:  # far outliers
            x[0] += 50.0
            y[-1] -= 40.0
        res = partial_wasserstein_1d(x, y, penalty=lam, p=p)
        cost, mass = _penalised_lp(x, y, lam, p)
        assert abs(res.cost - cost) < 1e-9 * max(1.0, cost), (trial, res.cost, cost)
        # the transported mass is unique away from degenerate ties
        if trial % 4:
            assert res.transported == mass
        a = res.assignment
        matched = a[a >= 0]
        assert len(set(matched.tolist())) == len(matched)  # a matching
        recomputed = (np.abs(x[a >= 0] - y[matched]) ** p).sum() + lam * (n + m - 2 * len(matched))
        assert abs(recomputed - res.cost) < 1e-9 * max(1.0, cost)
        checked += 1
    assert checked >= 200


def test_partial_p1_linear_kernel_matches_lp_with_ties_and_outliers():
    # p = 1 has its own kernel (slope trick); check it on larger cases than above
    rng = np.random.default_rng(11)
    for trial in range(120):
        n, m = rng.integers(1, 60, size=2)
        x, y = rng.normal(size=n), rng.normal(size=m) * rng.uniform(0.5, 2) + rng.normal()
        if trial % 3 == 0:  # integer points: ties everywhere, also at +-penalty
            x, y = np.round(x * 2), np.round(y * 2)
            lam = float(rng.integers(0, 8)) / 2
        else:
            lam = float(rng.exponential(1.5))
        if trial % 4 == 1:
            x[: max(1, n // 5)] += 30.0
        res = partial_wasserstein_1d(x, y, penalty=lam, p=1)
        cost, _ = _penalised_lp(x, y, lam, 1.0)
        assert abs(res.cost - cost) < 1e-9 * max(1.0, cost), (trial, res.cost, cost)
        a = res.assignment
        matched = a[a >= 0]
        assert len(set(matched.tolist())) == len(matched)
        assert res.transported == len(matched)


def test_partial_p1_kernel_agrees_with_segment_dp_at_large_n():
    # the regime where the general dynamic programme keeps many states alive
    # (large penalty, heavily overlapping clouds): two independent exact solvers
    from mintlab.transport._partial1d import solve_sorted, solve_sorted_p1

    rng = np.random.default_rng(5)
    for lam in [0.05, 1.0, 50.0]:
        x = np.sort(rng.normal(size=3000))
        y = np.sort(np.concatenate([rng.normal(0.3, 1.2, size=2500), rng.uniform(5, 9, 300)]))
        a, b = np.empty(3000, np.int64), np.empty(3000, np.int64)
        ka, kb = solve_sorted_p1(x, y, lam, a), solve_sorted(x, y, lam, 1.0, b)

        def total(mt, x=x, y=y, lam=lam):
            mm = mt >= 0
            return np.abs(x[mm] - y[mt[mm]]).sum() + lam * (len(x) + len(y) - 2 * mm.sum())

        assert abs(total(a) - total(b)) < 1e-9 * total(b)
        assert ka == kb  # continuous data: the optimal mass is unique


def test_partial_p1_mass_constrained_matches_pot_at_scale():
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=4000), rng.normal(size=3500) + 0.5
    x[:200] += 8.0
    for k in [1, 500, 3000, 3500]:
        res = partial_wasserstein_1d(x, y, p=1, n_transported=k)
        _, _, marginal = ot.partial.partial_wasserstein_1d(x, y, n_transported_samples=k, p=1)
        assert res.transported == k
        assert abs(res.cost - np.sum(marginal)) < 1e-9 * max(1.0, np.sum(marginal))
        # the returned penalty makes the matching optimal for the penalised problem too
        pen = partial_wasserstein_1d(x, y, penalty=float(res.penalty), p=1)
        assert abs(pen.cost - (res.cost + res.penalty * (len(x) + len(y) - 2 * k))) < 1e-7


def test_partial_batched_equals_rows():
    x, y = RNG.normal(size=(5, 40)), RNG.normal(size=(5, 31))
    res = partial_wasserstein_1d(x, y, penalty=0.3, p=2)
    assert res.cost.shape == (5,) and res.assignment.shape == (5, 40)
    for b in range(5):
        row = partial_wasserstein_1d(x[b], y[b], penalty=0.3, p=2)
        assert abs(row.cost - res.cost[b]) < 1e-12
        np.testing.assert_array_equal(row.assignment, res.assignment[b])


def test_partial_limits():
    x, y = RNG.normal(size=15), RNG.normal(size=15) + 0.3
    full = partial_wasserstein_1d(x, y, penalty=1e6, p=2)
    assert full.transported == 15
    assert abs(full.transport_cost - 15 * wasserstein_1d(x, y, p=2)) < 1e-9
    none = partial_wasserstein_1d(x, y, penalty=0.0, p=2)
    assert none.transported == 0 and none.cost == 0
    # the objective is non-decreasing in the penalty
    costs = [partial_wasserstein_1d(x, y, penalty=lam).cost for lam in [0.01, 0.1, 1, 10]]
    assert all(a <= b + 1e-12 for a, b in zip(costs, costs[1:], strict=False))


def test_partial_mass_constrained_matches_pot_p1():
    rng = np.random.default_rng(3)
    for _ in range(30):
        n, m = rng.integers(2, 30, size=2)
        x, y = rng.normal(size=n), rng.normal(size=m) * 1.5
        k = int(rng.integers(0, min(n, m) + 1))
        res = partial_wasserstein_1d(x, y, p=1, n_transported=k)
        _, _, marginal = ot.partial.partial_wasserstein_1d(x, y, n_transported_samples=k, p=1)
        assert res.transported == k
        assert abs(res.cost - np.sum(marginal)) < 1e-9


def test_partial_penalised_matches_pot_1d_p2_at_its_mass():
    # POT's 1D solver (Chapel and Tavenard) is an independent oracle for p = 2 as well: the
    # penalised optimum with k pairs is the cheapest matching with k pairs
    rng = np.random.default_rng(5)
    for _ in range(40):
        n, m = rng.integers(2, 40, size=2)
        x, y = rng.normal(size=n), rng.normal(size=m) + rng.normal()
        res = partial_wasserstein_1d(x, y, float(rng.exponential(0.5)), p=2)
        k = int(res.transported)
        _, _, marginal = ot.partial.partial_wasserstein_1d(x, y, n_transported_samples=k, p=2)
        assert abs(float(res.transport_cost) - float(np.sum(marginal))) <= 1e-9 * max(
            1.0, float(np.sum(marginal)))
        mass_k = partial_wasserstein_1d(x, y, p=2, n_transported=k)
        assert abs(float(mass_k.cost) - float(np.sum(marginal))) <= 1e-9 * max(
            1.0, float(np.sum(marginal)))


def test_partial_mass_constrained_matches_lp_p2_and_ties():
    rng = np.random.default_rng(4)
    for trial in range(30):
        n, m = rng.integers(2, 12, size=2)
        x, y = rng.normal(size=n), rng.normal(size=m)
        if trial % 2:  # integer points: many equal marginal costs
            x, y = np.round(x * 2), np.round(y * 2)
        k = int(rng.integers(1, min(n, m) + 1))
        M = np.abs(x[:, None] - y[None, :]) ** 2
        ref = ot.partial.partial_wasserstein2(np.ones(n), np.ones(m), M, m=k)
        res = partial_wasserstein_1d(x, y, p=2, n_transported=k)
        assert res.transported == k
        assert abs(res.cost - ref) < 1e-8, (trial, res.cost, ref)
        a = res.assignment
        assert abs((np.abs(x[a >= 0] - y[a[a >= 0]]) ** 2).sum() - ref) < 1e-8


def test_partial_torch_gradient():
    x = torch.randn(12, dtype=torch.float64, requires_grad=True)
    y = torch.randn(9, dtype=torch.float64)
    res = partial_wasserstein_1d(x, y, penalty=0.5, p=2)
    res.cost.backward()
    a = res.assignment
    expected = torch.zeros(12, dtype=torch.float64)
    m = a >= 0
    expected[m] = 2 * (x.detach()[m] - y[a[m]])
    torch.testing.assert_close(x.grad, expected)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({}, ValueError, "exactly one of penalty and n_transported"),
        ({"penalty": 1.0, "n_transported": 1}, ValueError, "exactly one"),
        ({"penalty": -1.0}, ValueError, "penalty must be non-negative"),
        ({"penalty": 1.0, "p": 0.5}, ValueError, "p must be >= 1"),
        ({"n_transported": 9}, ValueError, r"n_transported must be <= min\(n, m\) = 3"),
        ({"n_transported": 1.5}, TypeError, "n_transported must be an integer"),
    ],
)
def test_partial_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        partial_wasserstein_1d(np.zeros(4), np.ones(3), **kwargs)


# ------------------------------------------------------------- the circle
def _circle_lp(x, y, a, b, p):
    d = np.abs(x[:, None] - y[None, :])
    M = np.minimum(d, 1 - d) ** p
    return ot.emd2(a / a.sum(), b / b.sum(), M)


@pytest.mark.parametrize("p", [1, 2, 1.5])
def test_circle_matches_brute_force_lp(p):
    rng = np.random.default_rng(int(p * 10))
    for _ in range(15):
        n, m = rng.integers(1, 15, size=2)
        x, y = rng.random(n), (rng.random(m) * 0.3 + rng.random()) % 1.0
        a, b = rng.random(n) + 0.1, rng.random(m) + 0.1
        ours = circle_wasserstein(x, y, a, b, p=p)
        assert abs(ours - _circle_lp(x, y, a, b, p)) < 1e-9


@pytest.mark.parametrize("p", [1, 2])
def test_circle_matches_pot_batched(p):
    x, y = RNG.random((4, 30)), RNG.random((4, 20))
    ours = circle_wasserstein(x, y, p=p)
    assert ours.shape == (4,)
    ref = ot.wasserstein_circle(x.T, y.T, p=p)
    np.testing.assert_allclose(ours, ref, atol=1e-6 if p > 1 else 1e-10)
    for b in range(4):
        lp = _circle_lp(x[b], y[b], np.ones(30), np.ones(20), p)
        assert abs(ours[b] - lp) < 1e-9


def test_circle_rotation_invariance_and_torch():
    x, y = RNG.random(25), RNG.random(17)
    base = circle_wasserstein(x, y, p=2)
    assert abs(circle_wasserstein((x + 0.37) % 1, (y + 0.37) % 1, p=2) - base) < 1e-10
    out = circle_wasserstein(torch.tensor(x), torch.tensor(y), p=2)
    assert isinstance(out, torch.Tensor) and abs(float(out) - base) < 1e-12


# ------------------------------------------------------------ bad inputs
@pytest.mark.parametrize("fn", [wasserstein_1d, circle_wasserstein, wasserstein_1d_plan])
def test_bad_inputs_rejected(fn):
    with pytest.raises(ValueError, match="u_values must be finite"):
        fn(np.array([np.nan, 1.0]), np.ones(3))
    with pytest.raises(ValueError, match="v_values must not be empty"):
        fn(np.ones(3), np.ones(0))
    with pytest.raises(ValueError, match="u_weights must be non-negative"):
        fn(np.ones(2), np.ones(3), np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match="v_weights must have a positive sum"):
        fn(np.ones(2), np.ones(3), None, np.zeros(3))
    with pytest.raises(ValueError, match="u_weights must have last dimension 2"):
        fn(np.ones(2), np.ones(3), np.ones(5))
    with pytest.raises(ValueError, match="broadcastable leading"):
        fn(np.ones((2, 3)), np.ones((4, 3)))
    with pytest.raises(TypeError, match="u_values must be a numpy array or torch tensor"):
        fn("abc", np.ones(3))
    with pytest.raises(ValueError, match="p must be >= 1"):
        fn(np.ones(2), np.ones(2), p=0.5)


def test_exact_wrappers_validate():
    with pytest.raises(ValueError, match="a must have shape \\(3,\\)"):
        emd2(np.ones(2) / 2, np.ones(2) / 2, np.zeros((3, 2)))
    with pytest.raises(ValueError, match="same total mass"):
        emd2(np.ones(2), np.ones(2) / 2, np.zeros((2, 2)))
    assert abs(emd2(None, None, np.array([[0.0, 1.0], [1.0, 0.0]]))) < 1e-15
    # default uniform weights of sizes whose float32 sums miss 1: still accepted, = POT's
    M = np.random.default_rng(0).random((100, 140))
    assert emd2(None, None, M) == pytest.approx(ot.emd2([], [], M), rel=1e-12)


@pytest.mark.parametrize("p", [1, 2])
def test_circle_gradcheck_values(p):
    g = torch.Generator().manual_seed(1)
    x = (torch.rand(2, 7, dtype=torch.float64, generator=g) * 0.9 + 0.05).requires_grad_()
    y = (torch.rand(2, 5, dtype=torch.float64, generator=g) * 0.9 + 0.05).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: circle_wasserstein(a, b, p=p), (x, y),
                                    atol=1e-6)


def test_large_cpu_inputs_sorted_on_two_threads_give_the_same_answers():
    # above 2**16 values, CPU sorts run on two threads when torch may use two
    rng = np.random.default_rng(21)
    u, v = rng.normal(size=(3, 30_000)), rng.normal(size=(3, 30_000)) + 0.2
    old = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        w_two = wasserstein_1d(u, v, p=2)
        pw_two = partial_wasserstein_1d(u, v, penalty=0.3, p=1)
        torch.set_num_threads(1)
        w_one = wasserstein_1d(u, v, p=2)
        pw_one = partial_wasserstein_1d(u, v, penalty=0.3, p=1)
    finally:
        torch.set_num_threads(old)
    np.testing.assert_allclose(w_two, _pot_w1d(u, v, p=2), rtol=1e-10)
    np.testing.assert_array_equal(w_two, w_one)
    np.testing.assert_array_equal(pw_two.assignment, pw_one.assignment)
    np.testing.assert_array_equal(pw_two.cost, pw_one.cost)
