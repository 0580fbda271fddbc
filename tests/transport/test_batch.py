"""Ragged batches and pairwise matrices against per-pair calls (ours and POT's)."""

import numpy as np
import ot
import pytest
import torch

from mintlab.transport import (
    circle_wasserstein,
    energy_based_sliced_wasserstein_distance,
    generalized_sliced_wasserstein_distance,
    linear_sliced_wasserstein_sphere,
    partial_wasserstein_1d,
    s3w_distance,
    sliced_partial_wasserstein,
    sliced_wasserstein_distance,
    wasserstein_1d,
)
from mintlab.transport.batch import (
    circle_wasserstein_matrix,
    linear_sliced_wasserstein_sphere_matrix,
    s3w_matrix,
    sliced_partial_wasserstein_matrix,
    sliced_wasserstein_matrix,
)

TOL = dict(rtol=0, atol=1e-10)


def _problems(seed, K=12, lo=1, hi=40, d=None):
    rng = np.random.default_rng(seed)
    ns = rng.integers(lo, hi, K)
    ms = rng.integers(lo, hi, K)
    ns[0], ms[1] = 1, 1  # problems of size one on both sides
    shape = (lambda n: (n,)) if d is None else (lambda n: (n, d))
    us = [rng.normal(size=shape(n)) for n in ns]
    vs = [rng.normal(0.5, 1.5, size=shape(m)) for m in ms]
    uw = [rng.random(n) + 0.01 for n in ns]
    vw = [rng.random(m) + 0.01 for m in ms]
    return us, vs, uw, vw


def _directions(d, L, seed=0):
    th = np.random.default_rng(seed).normal(size=(d, L))
    return th / np.linalg.norm(th, axis=0)


def _pot_w1d(u, v, uw=None, vw=None, p=1):
    return float(ot.wasserstein_1d(u, v, uw, vw, p=p))


# ------------------------------------------------------------ ragged 1D W_p
@pytest.mark.parametrize("p", [1, 2, 1.5])
@pytest.mark.parametrize("weighted", [False, True])
def test_ragged_w1d_equals_per_pair_loops(p, weighted):
    us, vs, uw, vw = _problems(1)
    a, b = (uw, vw) if weighted else (None, None)
    got = wasserstein_1d(us, vs, a, b, p=p)
    assert isinstance(got, np.ndarray) and got.shape == (len(us),)
    ours = [float(wasserstein_1d(u, v, None if a is None else a[k], None if b is None else b[k],
                                 p=p)) for k, (u, v) in enumerate(zip(us, vs, strict=True))]
    pot = [_pot_w1d(u, v, None if a is None else a[k] / a[k].sum(),
                    None if b is None else b[k] / b[k].sum(), p)
           for k, (u, v) in enumerate(zip(us, vs, strict=True))]
    np.testing.assert_allclose(got, ours, **TOL)
    np.testing.assert_allclose(got, pot, **TOL)


def test_ragged_forms_agree_lengths_batch_and_list():
    us, vs, uw, vw = _problems(2)
    nu, nv = [len(u) for u in us], [len(v) for v in vs]
    U, V, A, B = map(np.concatenate, (us, vs, uw, vw))
    ref = wasserstein_1d(us, vs, uw, vw, p=2)
    by_len = wasserstein_1d(U, V, A, B, p=2, u_lengths=nu, v_lengths=nv)
    by_batch = wasserstein_1d(U, V, A, B, p=2, u_batch=np.repeat(np.arange(len(nu)), nu),
                              v_batch=torch.repeat_interleave(torch.arange(len(nv)),
                                                              torch.tensor(nv)))
    mixed = wasserstein_1d(us, V, uw, B, p=2, v_lengths=nv)
    for x in (by_len, by_batch, mixed):
        np.testing.assert_array_equal(x, ref)


def test_ragged_w1d_leading_axes_are_rows():
    rng = np.random.default_rng(3)
    nu, nv = [3, 1, 7], [2, 5, 4]
    U, V = rng.normal(size=(4, sum(nu))), rng.normal(size=(4, sum(nv)))
    got = wasserstein_1d(U, V, p=1.5, u_lengths=nu, v_lengths=nv)
    assert got.shape == (4, 3)
    ou, ov = np.cumsum([0, *nu]), np.cumsum([0, *nv])
    ref = [[_pot_w1d(U[r, ou[k]:ou[k + 1]], V[r, ov[k]:ov[k + 1]], p=1.5) for k in range(3)]
           for r in range(4)]
    np.testing.assert_allclose(got, ref, **TOL)


def test_ragged_w1d_equal_sizes_matches_dense_batch():
    rng = np.random.default_rng(4)
    u, v = rng.normal(size=(5, 9)), rng.normal(size=(5, 9))
    np.testing.assert_allclose(wasserstein_1d(list(u), list(v), p=2), wasserstein_1d(u, v, p=2),
                               **TOL)


@pytest.mark.parametrize("p", [1, 2, 1.5])
def test_ragged_w1d_torch_matches_loop_and_keeps_kind(p):
    us, vs, uw, vw = _problems(5)
    ref = wasserstein_1d(us, vs, uw, vw, p=p)
    ut = [torch.tensor(u, requires_grad=True) for u in us]
    got = wasserstein_1d(ut, [torch.tensor(v) for v in vs], [torch.tensor(w) for w in uw],
                         [torch.tensor(w) for w in vw], p=p)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float64 and got.requires_grad
    np.testing.assert_allclose(got.detach().numpy(), ref, **TOL)
    # without gradients the compiled route runs; same values
    nograd = wasserstein_1d([torch.tensor(u) for u in us], [torch.tensor(v) for v in vs],
                            [torch.tensor(w) for w in uw], [torch.tensor(w) for w in vw], p=p)
    np.testing.assert_allclose(nograd.numpy(), ref, **TOL)


def test_ragged_w1d_float32():
    us, vs, _, _ = _problems(6)
    got = wasserstein_1d([torch.tensor(u, dtype=torch.float32) for u in us],
                         [torch.tensor(v, dtype=torch.float32) for v in vs], p=2)
    assert got.dtype == torch.float32
    ref = wasserstein_1d(us, vs, p=2)
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-5, atol=1e-5)


def test_ragged_w1d_gradcheck_values_and_weights():
    rng = np.random.default_rng(7)
    nu, nv = [3, 1, 4], [2, 3, 1]
    U = torch.tensor(rng.normal(size=sum(nu)), requires_grad=True)
    V = torch.tensor(rng.normal(size=sum(nv)), requires_grad=True)
    A = torch.tensor(rng.random(sum(nu)) + 0.5, requires_grad=True)

    def f(U, V, A):
        return wasserstein_1d(U, V, A, None, p=2, u_lengths=nu, v_lengths=nv)

    assert torch.autograd.gradcheck(f, (U, V, A))
    # the gradient equals the one of the per-pair loop
    g = torch.autograd.grad(f(U, V, A).sum(), (U, V, A))
    ou, ov = np.cumsum([0, *nu]), np.cumsum([0, *nv])
    loop = sum(wasserstein_1d(U[ou[k]:ou[k + 1]], V[ov[k]:ov[k + 1]], A[ou[k]:ou[k + 1]], p=2)
               for k in range(3))
    g_loop = torch.autograd.grad(loop, (U, V, A))
    for x, y in zip(g, g_loop, strict=True):
        torch.testing.assert_close(x, y, rtol=1e-9, atol=1e-10)


# ------------------------------------------------------------ ragged circle
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_ragged_circle_equals_per_pair_loops(p, weighted):
    us, vs, uw, vw = _problems(8)
    us = [np.mod(u, 1.0) for u in us]
    vs = [np.mod(v, 1.0) for v in vs]
    a, b = (uw, vw) if weighted else (None, None)
    got = circle_wasserstein(us, vs, a, b, p=p)
    ours, pot = [], []
    for k, (u, v) in enumerate(zip(us, vs, strict=True)):
        wa = None if a is None else a[k] / a[k].sum()
        wb = None if b is None else b[k] / b[k].sum()
        ours.append(float(circle_wasserstein(u, v, wa, wb, p=p)))
        pot.append(float(np.squeeze(ot.wasserstein_circle(u, v, wa, wb, p=p))))
    np.testing.assert_allclose(got, ours, **TOL)
    np.testing.assert_allclose(got, pot, atol=1e-6)  # POT's p > 1 solver is iterative (eps=1e-6)


def test_ragged_circle_torch_gradient_matches_loop():
    us, vs, _, _ = _problems(9, K=5)
    ut = [torch.tensor(np.mod(u, 1.0), requires_grad=True) for u in us]
    vt = [torch.tensor(np.mod(v, 1.0)) for v in vs]
    got = circle_wasserstein(ut, vt, p=1)
    g = torch.autograd.grad(got.sum(), ut)
    loop = sum(circle_wasserstein(u, v, p=1) for u, v in zip(ut, vt, strict=True))
    g_loop = torch.autograd.grad(loop, ut)
    for x, y in zip(g, g_loop, strict=True):
        torch.testing.assert_close(x, y)


# ----------------------------------------------------------- ragged partial
@pytest.mark.parametrize("p", [1, 2, 1.5])
def test_ragged_partial_penalised_equals_loop(p):
    us, vs, _, _ = _problems(10)
    res = partial_wasserstein_1d(us, vs, 0.4, p=p)
    off = np.cumsum([0, *map(len, us)])
    for k, (u, v) in enumerate(zip(us, vs, strict=True)):
        one = partial_wasserstein_1d(u, v, 0.4, p=p)
        np.testing.assert_allclose(res.cost[k], one.cost, **TOL)
        np.testing.assert_allclose(res.transport_cost[k], one.transport_cost, **TOL)
        assert res.transported[k] == one.transported
        np.testing.assert_array_equal(res.assignment[off[k]:off[k + 1]], one.assignment)


def test_ragged_partial_mass_constrained_against_pot():
    us, vs, _, _ = _problems(11)
    ks = [min(len(u), len(v)) // 2 + (k % 2) * (min(len(u), len(v)) > 2)
          for k, (u, v) in enumerate(zip(us, vs, strict=True))]
    res = partial_wasserstein_1d(us, vs, p=1, n_transported=ks)
    np.testing.assert_array_equal(res.transported, ks)
    pot = [float(np.sum(ot.partial.partial_wasserstein_1d(u, v, k, p=1)[2])) if k else 0.0
           for u, v, k in zip(us, vs, ks, strict=True)]
    np.testing.assert_allclose(res.transport_cost, pot, **TOL)
    # one k for all problems
    k1 = partial_wasserstein_1d(us, vs, p=2, n_transported=1)
    loop = [float(partial_wasserstein_1d(u, v, p=2, n_transported=1).cost)
            for u, v in zip(us, vs, strict=True)]
    np.testing.assert_allclose(k1.cost, loop, **TOL)


def test_ragged_partial_torch_differentiable():
    us, vs, _, _ = _problems(12, K=4, hi=8)
    ut = [torch.tensor(u, requires_grad=True) for u in us]
    res = partial_wasserstein_1d(ut, [torch.tensor(v) for v in vs], 0.5, p=2)
    g = torch.autograd.grad(res.cost.sum(), ut)
    loop = sum(partial_wasserstein_1d(u, torch.tensor(v), 0.5, p=2).cost
               for u, v in zip(ut, vs, strict=True))
    for x, y in zip(g, torch.autograd.grad(loop, ut), strict=True):
        torch.testing.assert_close(x, y)


# ------------------------------------------------------------ ragged sliced
@pytest.mark.parametrize("p", [1, 2])
def test_ragged_sliced_w_equals_pot_and_ours(p):
    Xs, Xt, a, b = _problems(13, d=3)
    th = _directions(3, 20)
    got = sliced_wasserstein_distance(Xs, Xt, a, b, p=p, projections=th)
    ours = [float(sliced_wasserstein_distance(x, y, wa, wb, p=p, projections=th))
            for x, y, wa, wb in zip(Xs, Xt, a, b, strict=True)]
    pot = [float(ot.sliced_wasserstein_distance(x, y, wa / wa.sum(), wb / wb.sum(), p=p,
                                                projections=th))
           for x, y, wa, wb in zip(Xs, Xt, a, b, strict=True)]
    np.testing.assert_allclose(got, ours, **TOL)
    np.testing.assert_allclose(got, pot, **TOL)
    # the same seed draws the same directions as the per-pair calls; flat form with batch
    by_seed = sliced_wasserstein_distance(
        np.concatenate(Xs), np.concatenate(Xt), p=p, seed=4,
        batch_s=np.repeat(np.arange(len(Xs)), [len(x) for x in Xs]),
        lengths_t=[len(y) for y in Xt])
    np.testing.assert_allclose(by_seed, [float(sliced_wasserstein_distance(x, y, p=p, seed=4))
                                         for x, y in zip(Xs, Xt, strict=True)], **TOL)


def test_ragged_other_sliced_distances_equal_loops():
    Xs, Xt, _, _ = _problems(14, K=6, d=2)
    th = _directions(2, 15)
    for f, kw in [(energy_based_sliced_wasserstein_distance, dict(projections=th)),
                  (generalized_sliced_wasserstein_distance, dict(slicer="circular", seed=2)),
                  (sliced_partial_wasserstein, dict(penalty=0.3, projections=th))]:
        got = f(Xs, Xt, **kw)
        loop = [float(f(x, y, **kw)) for x, y in zip(Xs, Xt, strict=True)]
        np.testing.assert_allclose(got, loop, **TOL)


def test_ragged_sliced_torch_gradcheck():
    rng = np.random.default_rng(15)
    Xs = [torch.tensor(rng.normal(size=(n, 2)), requires_grad=True) for n in (3, 1, 4)]
    Xt = [torch.tensor(rng.normal(size=(n, 2))) for n in (2, 3, 2)]
    th = torch.tensor(_directions(2, 5))

    def f(*xs):
        return sliced_wasserstein_distance(list(xs), Xt, projections=th)

    assert torch.autograd.gradcheck(f, tuple(Xs))


# ----------------------------------------------------------------- matrices
def _pairwise(f, A, B):
    return np.array([[float(np.squeeze(f(x, y))) for y in B] for x in A])


@pytest.mark.parametrize("p", [1, 2, 1.5])
def test_sliced_matrix_equals_pairwise_calls_and_pot(p):
    A, B, wa, _ = _problems(16, K=7, d=3)
    th = _directions(3, 12)
    D = sliced_wasserstein_matrix(A, p=p, projections=th)
    ref = _pairwise(lambda x, y: sliced_wasserstein_distance(x, y, p=p, projections=th), A, A)
    np.testing.assert_allclose(D, ref, **TOL)
    np.testing.assert_array_equal(D, D.T)
    np.testing.assert_array_equal(np.diag(D), 0.0)
    pot = _pairwise(lambda x, y: ot.sliced_wasserstein_distance(x, y, p=p, projections=th),
                    A, B)
    np.testing.assert_allclose(sliced_wasserstein_matrix(A, B, p=p, projections=th), pot, **TOL)
    # weighted sets
    Dw = sliced_wasserstein_matrix(A, B[:3], wa, None, p=p, projections=th)
    refw = np.array([[float(sliced_wasserstein_distance(x, y, w, None, p=p, projections=th))
                      for y in B[:3]] for x, w in zip(A, wa, strict=True)])
    np.testing.assert_allclose(Dw, refw, **TOL)


def test_sliced_matrix_equal_sizes_inner_product_route_is_exact():
    rng = np.random.default_rng(17)
    base = rng.normal(size=(30, 3)) + 50.0  # far from the origin: large norms
    A = [base + 1e-9 * rng.normal(size=base.shape) for _ in range(3)]
    A += [rng.normal(size=(30, 3)) for _ in range(4)]
    th = _directions(3, 10)
    D = sliced_wasserstein_matrix(A, p=2, projections=th)
    ref = _pairwise(lambda x, y: sliced_wasserstein_distance(x, y, p=2, projections=th), A, A)
    np.testing.assert_allclose(D, ref, **TOL)
    stacked = sliced_wasserstein_matrix(np.stack(A), np.stack(A[:2]), p=2, projections=th)
    np.testing.assert_allclose(stacked, ref[:, :2], **TOL)


def test_sliced_matrix_block_size_one_vs_many_and_seed():
    A, B, _, _ = _problems(18, K=6, d=2)
    th = _directions(2, 8)
    full = sliced_wasserstein_matrix(A, B, p=1.5, projections=th)
    for bs in (1, 4, 7):
        np.testing.assert_array_equal(
            sliced_wasserstein_matrix(A, B, p=1.5, projections=th, block_size=bs), full)
    row = sliced_wasserstein_matrix(A[:1], B, p=1.5, projections=th)
    assert row.shape == (1, len(B))
    np.testing.assert_allclose(row[0], full[0], **TOL)
    by_seed = sliced_wasserstein_matrix(A, B[:2], seed=5)
    np.testing.assert_allclose(
        by_seed, _pairwise(lambda x, y: sliced_wasserstein_distance(x, y, seed=5), A, B[:2]),
        **TOL)


def test_sliced_matrix_torch_gradcheck():
    rng = np.random.default_rng(19)
    A = [torch.tensor(rng.normal(size=(n, 2)), requires_grad=True) for n in (3, 2, 4)]
    th = torch.tensor(_directions(2, 4))
    assert torch.autograd.gradcheck(
        lambda *xs: sliced_wasserstein_matrix(list(xs), A[:1], p=2, projections=th), tuple(A))
    D = sliced_wasserstein_matrix(A, p=1, projections=th)
    assert isinstance(D, torch.Tensor) and D.requires_grad


@pytest.mark.parametrize("p", [1, 2])
def test_circle_matrix_equals_pairwise(p):
    A, B, wa, _ = _problems(20, K=6)
    A = [np.mod(x, 1.0) for x in A]
    D = circle_wasserstein_matrix(A, p=p)
    np.testing.assert_allclose(D, _pairwise(lambda x, y: circle_wasserstein(x, y, p=p), A, A),
                               **TOL)
    np.testing.assert_array_equal(np.diag(D), 0.0)
    Dw = circle_wasserstein_matrix(A, B, wa, None, p=p, block_size=5)
    refw = np.array([[float(circle_wasserstein(x, y, w, None, p=p)) for y in B]
                     for x, w in zip(A, wa, strict=True)])
    np.testing.assert_allclose(Dw, refw, **TOL)
    pot = _pairwise(lambda x, y: ot.wasserstein_circle(x, np.mod(y, 1.0), p=p), A, B)
    np.testing.assert_allclose(circle_wasserstein_matrix(A, B, p=p), pot, atol=1e-6)


def test_partial_matrix_equals_pairwise():
    A, B, _, _ = _problems(21, K=5, d=2)
    th = _directions(2, 6)
    D = sliced_partial_wasserstein_matrix(A, B, 0.3, p=2, projections=th, block_size=3)
    ref = _pairwise(lambda x, y: sliced_partial_wasserstein(x, y, 0.3, p=2, projections=th),
                    A, B)
    np.testing.assert_allclose(D, ref, **TOL)
    S = sliced_partial_wasserstein_matrix(A, None, 0.3, p=1, projections=th)
    np.testing.assert_allclose(
        S, _pairwise(lambda x, y: sliced_partial_wasserstein(x, y, 0.3, p=1, projections=th),
                     A, A), **TOL)


def _sphere(sets):
    return [x / np.linalg.norm(x, axis=1, keepdims=True) for x in sets]


@pytest.mark.parametrize("variant", ["s3w", "ri", "ari"])
def test_s3w_matrix_equals_pairwise(variant):
    A, B, _, _ = _problems(22, K=4, d=3)
    A, B = _sphere(A), _sphere(B)
    D = s3w_matrix(A, B, variant=variant, seed=3, n_projections=20, n_rotations=3)
    ref = _pairwise(lambda x, y: s3w_distance(x, y, variant=variant, seed=3, n_projections=20,
                                              n_rotations=3), A, B)
    np.testing.assert_allclose(D, ref, **TOL)


@pytest.mark.parametrize("n_references", [None, 40])
def test_lssot_matrix_equals_pairwise(n_references):
    A, _, wa, _ = _problems(23, K=4, d=3)
    A = _sphere(A)
    D = linear_sliced_wasserstein_sphere_matrix(A, None, wa, n_references=n_references, seed=1,
                                                n_projections=10)
    ref = np.array([[float(linear_sliced_wasserstein_sphere(x, y, u, w, seed=1,
                                                             n_projections=10,
                                                             n_references=n_references))
                     for y, w in zip(A, wa, strict=True)] for x, u in zip(A, wa, strict=True)])
    np.testing.assert_allclose(D, ref, **TOL)


# --------------------------------------------------------------- validation
@pytest.mark.parametrize("kwargs, match", [
    (dict(u_lengths=[2, 2], v_lengths=[3, 1]), "u_lengths must sum"),
    (dict(u_lengths=[3, 0, 2], v_lengths=[2, 1, 1]), "u_lengths must be >= 1"),
    (dict(u_lengths=[3, 2], v_lengths=[1, 1, 2]), "same number of problems"),
    (dict(u_batch=[0, 0, 1, 0, 1], v_lengths=[2, 2]), "u_batch must be sorted"),
    (dict(u_batch=[0, 0, 2, 2, 2], v_lengths=[2, 2]), "problem 1 has none"),
    (dict(u_batch=[0, 0, 1], v_lengths=[2, 2]), "one entry per element"),
    (dict(u_lengths=[2.5, 2.5], v_lengths=[2, 2]), "must hold integers"),
    (dict(u_lengths=[3, 2], u_batch=[0, 0, 0, 1, 1], v_lengths=[2, 2]), "at most one"),
    (dict(u_lengths=[3, 2]), "v_values must be a list of arrays"),
])
def test_ragged_validation(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        wasserstein_1d(np.arange(5.0), np.arange(4.0), **kwargs)


def test_ragged_validation_weights_and_elements():
    us = [np.arange(3.0), np.arange(2.0)]
    vs = [np.arange(2.0), np.arange(4.0)]
    with pytest.raises(ValueError, match=r"u_weights\[1\] must have shape \(2,\)"):
        wasserstein_1d(us, vs, [np.ones(3), np.ones(3)])
    with pytest.raises(ValueError, match="positive sum in every problem.*problem 1"):
        wasserstein_1d(us, vs, [np.ones(3), np.zeros(2)])
    with pytest.raises(ValueError, match="non-negative"):
        wasserstein_1d(us, vs, [np.ones(3), -np.ones(2)])
    with pytest.raises(ValueError, match=r"u_weights must hold 2 arrays"):
        wasserstein_1d(us, vs, [np.ones(3)])
    with pytest.raises(ValueError, match=r"u_values\[1\] must be 1-dimensional"):
        wasserstein_1d([np.arange(3.0), np.ones((2, 2))], vs)
    with pytest.raises(ValueError, match=r"finite.*u_values\[1\]"):
        wasserstein_1d([np.arange(3.0), np.array([0.0, np.nan])], vs)
    with pytest.raises(ValueError, match="do not also give u_lengths"):
        wasserstein_1d(us, vs, u_lengths=[3, 2])
    with pytest.raises(ValueError, match="return_plans"):
        wasserstein_1d(us, vs, return_plans=True)
    with pytest.raises(ValueError, match="n_transported must lie in"):
        partial_wasserstein_1d(us, vs, n_transported=[1, 3])
    with pytest.raises(ValueError, match="exactly one of penalty"):
        partial_wasserstein_1d(us, vs)


def test_sliced_ragged_and_matrix_validation():
    rng = np.random.default_rng(24)
    X = [rng.normal(size=(4, 2)), rng.normal(size=(3, 2))]
    with pytest.raises(ValueError, match=r"X_s\[1\] must have shape \(n, 2\)"):
        sliced_wasserstein_distance([X[0], np.ones((3, 3))], X)
    with pytest.raises(ValueError, match="X_t must have shape"):
        sliced_wasserstein_distance(X, [np.ones((4, 3)), np.ones((3, 3))])
    with pytest.raises(ValueError, match="auto"):
        sliced_wasserstein_distance(X, X, n_projections="auto", tol=0.1)
    with pytest.raises(ValueError, match="log=True"):
        sliced_wasserstein_distance(X, X, log=True)
    with pytest.raises(ValueError, match="block_size must be >= 1"):
        sliced_wasserstein_matrix(X, block_size=0)
    with pytest.raises(ValueError, match="b given without sets_b"):
        sliced_wasserstein_matrix(X, None, None, [np.ones(4)])
    with pytest.raises(ValueError, match="sets_b must hold points of dimension 2"):
        sliced_wasserstein_matrix(X, [np.ones((2, 3))])
    with pytest.raises(TypeError, match="block_size must be an integer"):
        circle_wasserstein_matrix([np.ones(2)], block_size=2.0)
    with pytest.raises(TypeError, match="penalty is required"):
        sliced_partial_wasserstein_matrix(X)
    with pytest.raises(ValueError, match="penalty must be non-negative"):
        sliced_partial_wasserstein_matrix(X, None, -1.0)


@pytest.mark.parametrize("variant", ["s3w", "ri"])
def test_ragged_s3w_equals_loop(variant):
    Xs, Xt, a, _ = _problems(25, K=5, d=3)
    Xs, Xt = _sphere(Xs), _sphere(Xt)
    got = s3w_distance(Xs, Xt, a, variant=variant, seed=6, n_projections=15, n_rotations=2)
    loop = [float(s3w_distance(x, y, w, variant=variant, seed=6, n_projections=15,
                               n_rotations=2)) for x, y, w in zip(Xs, Xt, a, strict=True)]
    np.testing.assert_allclose(got, loop, **TOL)


def test_matrices_keep_float32():
    A, _, _, _ = _problems(26, K=4, d=2)
    At = [torch.tensor(x, dtype=torch.float32) for x in A]
    for D in (sliced_wasserstein_matrix(At, seed=0),
              sliced_partial_wasserstein_matrix(At, None, 0.5, seed=0),
              circle_wasserstein_matrix([x[:, 0] for x in At])):
        assert isinstance(D, torch.Tensor) and D.dtype == torch.float32 and D.shape == (4, 4)
    th = _directions(2, 6)
    ref = sliced_wasserstein_matrix(A, projections=th)
    np.testing.assert_allclose(sliced_wasserstein_matrix(At, projections=th).numpy(), ref,
                               atol=1e-5)


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.mark.cuda
@cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_ragged_and_matrices_on_cuda(dtype):
    us, vs, uw, vw = _problems(27)
    tol = 1e-4 if dtype == torch.float32 else 1e-10

    def dev(xs):
        return [torch.tensor(x, dtype=dtype, device="cuda") for x in xs]

    for f in (wasserstein_1d, circle_wasserstein):
        got = f(dev(us), dev(vs), dev(uw), dev(vw), p=2)
        assert got.device.type == "cuda" and got.dtype == dtype
        np.testing.assert_allclose(got.cpu().double().numpy(), f(us, vs, uw, vw, p=2), atol=tol)
    res = partial_wasserstein_1d(dev(us), dev(vs), 0.4, p=1)
    assert res.cost.device.type == "cuda" and res.assignment.device.type == "cuda"
    A, B, _, _ = _problems(28, K=5, d=3)
    th = _directions(3, 8)
    for f, kw in [(sliced_wasserstein_matrix, dict(projections=th)),
                  (sliced_partial_wasserstein_matrix, dict(penalty=0.3, projections=th))]:
        got = f(dev(A), dev(B), **kw)
        assert got.device.type == "cuda" and got.dtype == dtype
        np.testing.assert_allclose(got.cpu().double().numpy(), f(A, B, **kw), atol=tol)


def test_matrix_one_set_row_and_bad_shape():
    A, _, _, _ = _problems(29, K=4, d=2)
    th = _directions(2, 5)
    row = sliced_wasserstein_matrix(A[2], A, projections=th)
    np.testing.assert_allclose(row, sliced_wasserstein_matrix(A, projections=th)[2:3], **TOL)
    with pytest.raises(ValueError, match=r"sets_a must be a list of arrays, one set \(n, d\)"):
        sliced_wasserstein_matrix(np.ones((2, 3, 4, 2)))


def test_ragged_w1d_float32_differentiable_route():
    us, vs, uw, vw = _problems(30, K=40)
    ut = [torch.tensor(u, dtype=torch.float32, requires_grad=True) for u in us]
    got = wasserstein_1d(ut, [torch.tensor(v, dtype=torch.float32) for v in vs],
                         [torch.tensor(w, dtype=torch.float32) for w in uw], vw, p=2)
    assert got.dtype == torch.float32 and got.requires_grad
    np.testing.assert_allclose(got.detach().numpy(), wasserstein_1d(us, vs, uw, vw, p=2),
                               rtol=1e-5, atol=1e-5)


def test_list_of_points_stays_one_cloud():
    rng = np.random.default_rng(31)
    X, Y = rng.normal(size=(5, 2)), rng.normal(size=(4, 2))
    th = _directions(2, 6)
    got = sliced_wasserstein_distance(list(X), list(Y), projections=th)
    assert np.ndim(got) == 0
    np.testing.assert_allclose(got, sliced_wasserstein_distance(X, Y, projections=th), **TOL)
