"""``mintlab.pot`` as a drop-in for POT: the calls POT's tests make, compared with POT.

Every value is compared with POT 0.9.7 on the same input (with the same
projections where the method is random), or, where POT 0.9.7 is wrong, with
an independent oracle (an exact LP, a hand computation), and the POT
behaviour is named in the test.
"""

from __future__ import annotations

import numpy as np
import ot
import pytest
import torch

import mintlab.pot as mp
from mintlab.transport import emd as core_emd
from mintlab.transport import emd2 as core_emd2
from mintlab.transport import sliced_wasserstein_distance as core_swd
from mintlab.transport.line import wasserstein_1d as core_w1d


def _rng(seed=0):
    return np.random.RandomState(seed)


def _sphere(rng, n, d):
    x = rng.randn(n, d)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


# ---------------------------------------------------------------- namespace
def test_missing_names_are_not_forwarded():
    with pytest.raises(AttributeError, match="sinkhorn.*mintlab implements only.*emd"):
        mp.sinkhorn  # noqa: B018
    with pytest.raises(AttributeError, match="partial_wasserstein2.*ot.partial_wasserstein2"):
        mp.partial.partial_wasserstein2  # noqa: B018
    with pytest.raises(AttributeError, match="sliced_wasserstein_sphere"):
        mp.sliced.sliced_wasserstein_sphere  # noqa: B018


@pytest.mark.parametrize("module, pot_module", [(mp, ot), (mp.lp, ot.lp), (mp.sliced, ot.sliced),
                                                (mp.partial, ot.partial)])
def test_signatures_match_pot(module, pot_module):
    import inspect

    names = [n for n in module.__all__ if n not in ("lp", "sliced", "partial", "POTInputError")]
    for name in names:
        pot_fn = getattr(pot_module, name, None) or getattr(ot.lp.solver_circle, name)
        ours = inspect.signature(getattr(module, name))
        theirs = inspect.signature(pot_fn)
        assert list(ours.parameters) == list(theirs.parameters), name
        for p in theirs.parameters.values():
            q = ours.parameters[p.name]
            if p.name == "seed":
                continue
            assert q.default == p.default or (q.default is None and p.default is None), \
                (name, p.name, q.default, p.default)
            assert q.kind == p.kind, (name, p.name)


# ---------------------------------------------------------------------- seeds
@pytest.mark.parametrize("make_seed", [lambda: 3, lambda: np.random.RandomState(3),
                                       lambda: np.random.default_rng(3),
                                       lambda: torch.Generator().manual_seed(3)])
def test_every_seed_kind_is_accepted_and_reproducible(make_seed):
    x, y = _rng().randn(30, 3), _rng(1).randn(40, 3)
    v1, log1 = mp.sliced_wasserstein_distance(x, y, seed=make_seed(), log=True)
    v2 = mp.sliced_wasserstein_distance(x, y, seed=make_seed())
    assert v1 == v2
    # the directions used are get_random_projections' for the same seed
    np.testing.assert_allclose(log1["projections"],
                               mp.sliced.get_random_projections(3, 50, make_seed()))
    # the value is POT's on those directions
    np.testing.assert_allclose(v1, ot.sliced_wasserstein_distance(
        x, y, projections=log1["projections"]), rtol=1e-12)
    # and mintlab.transport takes the same seeds
    assert float(core_swd(x, y, seed=make_seed())) > 0


@pytest.mark.parametrize("name", ["sliced_wasserstein_distance", "max_sliced_wasserstein_distance",
                                  "energy_based_sliced_wasserstein_distance",
                                  "generalized_sliced_wasserstein_distance"])
@pytest.mark.parametrize("state", [np.random.RandomState, np.random.default_rng])
def test_transport_functions_take_numpy_states(name, state):
    import mintlab.transport as mt

    x, y = _rng().randn(20, 3), _rng(1).randn(20, 3)
    fn = getattr(mt, name)
    kw = {"n_iter": 2} if name.startswith("max") else {}
    first = fn(x, y, seed=state(5), **kw)
    assert first == fn(x, y, seed=state(5), **kw) and first > 0


def test_random_state_advances_between_calls_as_in_pot():
    x, y = _rng().randn(30, 3), _rng(1).randn(30, 3)
    rng = np.random.RandomState(0)
    a = mp.sliced_wasserstein_distance(x, y, n_projections=5, seed=rng)
    b = mp.sliced_wasserstein_distance(x, y, n_projections=5, seed=rng)
    assert a != b


# ------------------------------------------------------------------- sliced
def test_sliced_positional_order_log_and_weights_match_pot():
    rng = _rng()
    x, y = rng.randn(50, 4), rng.randn(70, 4)
    a = rng.uniform(0.1, 1, 50)
    a /= a.sum()
    b = rng.uniform(0.1, 1, 70)
    b /= b.sum()
    P = mp.sliced.get_random_projections(4, 12, seed=0)
    for p in (1, 2, 3):
        ours, log = mp.sliced_wasserstein_distance(x, y, a, b, 12, p, P, None, True)
        theirs, tlog = ot.sliced_wasserstein_distance(x, y, a, b, 12, p, P, None, True)
        assert set(log) == set(tlog) == {"projections", "projected_emds"}
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
        np.testing.assert_allclose(log["projected_emds"], tlog["projected_emds"], rtol=1e-12)
        ours, log = mp.max_sliced_wasserstein_distance(x, y, a, b, 12, p, P, None, True)
        theirs, tlog = ot.max_sliced_wasserstein_distance(x, y, a, b, 12, p, P, None, True)
        assert set(log) == set(tlog)
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    # given directions are used as they are, unit or not (POT's meaning)
    Q = _rng(4).randn(4, 7)
    for fn, pot_fn in ((mp.sliced_wasserstein_distance, ot.sliced_wasserstein_distance),
                       (mp.max_sliced_wasserstein_distance, ot.max_sliced_wasserstein_distance)):
        np.testing.assert_allclose(fn(x, y, projections=Q), pot_fn(x, y, projections=Q),
                                   rtol=1e-12)


def test_sliced_array_kinds_dtypes_and_scaler():
    rng = _rng()
    x, y = rng.randn(20, 3), rng.randn(25, 3)
    P = mp.sliced.get_random_projections(3, 10, seed=1)
    want = ot.sliced_wasserstein_distance(x, y, projections=P)
    got32 = mp.sliced_wasserstein_distance(x.astype(np.float32), y.astype(np.float32),
                                           projections=P.astype(np.float32))
    assert got32.dtype == np.float32 and np.isclose(got32, want, rtol=1e-5)
    for dtype in (torch.float32, torch.float64):
        xt, yt, Pt = (torch.tensor(v, dtype=dtype) for v in (x, y, P))
        got = mp.sliced_wasserstein_distance(xt, yt, projections=Pt)
        assert isinstance(got, torch.Tensor) and got.dtype == dtype
        np.testing.assert_allclose(got.item(), want, rtol=1e-5)
    # seeded torch draws follow the input's dtype
    assert mp.sliced_wasserstein_distance(torch.tensor(x, dtype=torch.float32),
                                          torch.tensor(y, dtype=torch.float32),
                                          seed=0).dtype == torch.float32
    scaler = ot.utils.DataScaler(norm="standard").fit([x, y])
    np.testing.assert_allclose(
        mp.sliced_wasserstein_distance(x, y, projections=P, scaler=scaler),
        ot.sliced_wasserstein_distance(x, y, projections=P, scaler=scaler), rtol=1e-12)
    with pytest.raises(ValueError, match="scaler must be"):
        mp.sliced_wasserstein_distance(x, y, scaler=3)
    with pytest.raises(ValueError, match="same number of dimensions"):
        mp.sliced_wasserstein_distance(x, rng.randn(5, 2))


@pytest.mark.parametrize("name", ["sliced_wasserstein_distance",
                                  "max_sliced_wasserstein_distance"])
def test_sliced_gradient_matches_pot(name):
    rng = _rng()
    x, y = rng.randn(15, 2), rng.randn(12, 2)
    P = mp.sliced.get_random_projections(2, 8, seed=0)
    grads = []
    for fn in (getattr(mp, name), getattr(ot, name)):
        xt = torch.tensor(x, requires_grad=True)
        fn(xt, torch.tensor(y), projections=torch.tensor(P)).backward()
        grads.append(xt.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-10, atol=1e-12)


def test_linear_sliced_sphere_log_and_projections():
    rng = _rng()
    x, y = _sphere(rng, 30, 3), _sphere(rng, 40, 3)
    U = mp.sliced.get_projections_sphere(3, 20, seed=0)
    np.testing.assert_allclose(np.einsum("lij,lik->ljk", U, U), np.broadcast_to(np.eye(2),
                                                                                (20, 2, 2)),
                               atol=1e-12)
    value, log = mp.linear_sliced_wasserstein_sphere(x, y, None, None, 20, U, None, True)
    assert set(log) == {"projections", "projected_emds"} and log["projected_emds"].shape == (20,)
    np.testing.assert_allclose(value, np.sqrt(log["projected_emds"].mean()), rtol=1e-12)
    # each slice is the exact LCOT between the circle coordinates POT computes for that frame
    cs, _ = ot.sliced.projection_sphere_to_circle(x, n_projections=20, projections=U)
    ct, _ = ot.sliced.projection_sphere_to_circle(y, n_projections=20, projections=U)
    np.testing.assert_allclose(log["projected_emds"], mp.linear_circular_ot(cs.T, ct.T),
                               rtol=1e-10)
    # X_t=None (uniform reference) works here; POT 0.9.7 fails on it
    assert float(mp.linear_sliced_wasserstein_sphere(x, None, projections=U)) > 0


# ----------------------------------------------------------------------- 1D
def test_wasserstein_1d_trailing_batches_weights_and_plans_match_pot():
    rng = _rng()
    u, v = rng.randn(12, 3), rng.randn(9, 3)
    uw = rng.uniform(0.1, 1, 12)
    uw /= uw.sum()
    vw = rng.uniform(0.1, 1, (9, 3))
    vw /= vw.sum(0)
    for p in (1, 1.5, 2):
        np.testing.assert_allclose(mp.wasserstein_1d(u, v, uw, vw, p),
                                   ot.wasserstein_1d(u, v, uw, vw, p), rtol=1e-12)
    cost, plans = mp.wasserstein_1d(u, v, uw, vw, 2, True, True)
    tcost, tplans = ot.wasserstein_1d(u, v, uw, vw, 2, True, True)
    assert len(plans) == len(tplans) == 3
    for ours, theirs in zip(plans, tplans, strict=True):
        np.testing.assert_allclose(ours.toarray(), theirs.toarray(), atol=1e-15)
    _, tuples = mp.wasserstein_1d(u, v, uw, vw, p=2, return_plans="coo_tuple")
    assert tuples[0]._fields == ("data", "rows", "cols")
    # require_sort=False couples the atoms in the order given, as POT does
    us, vs = rng.rand(7), rng.rand(7)
    np.testing.assert_allclose(mp.wasserstein_1d(us, vs, p=2, require_sort=False),
                               ot.wasserstein_1d(us, vs, p=2, require_sort=False), rtol=1e-12)
    np.testing.assert_allclose(core_w1d(us, vs, p=2, require_sort=False),
                               np.mean((us - vs) ** 2), rtol=1e-12)
    # single columns, float32 and torch keep their kind
    assert mp.wasserstein_1d(u[:, 0].astype(np.float32), v[:, 0].astype(np.float32)).dtype \
        == np.float32
    t = mp.wasserstein_1d(torch.tensor(u), torch.tensor(v), torch.tensor(uw))
    assert isinstance(t, torch.Tensor) and t.shape == (3,)
    with pytest.raises(AssertionError):
        mp.wasserstein_1d(u, v, p=0.5)


def test_core_wasserstein_1d_plans_are_the_lp_plan():
    rng = _rng(3)
    u, v = rng.randn(2, 8), rng.randn(2, 5)  # leading batch, as mintlab.transport
    cost, plans = core_w1d(u, v, p=2, return_plans=True)
    for k in range(2):
        M = (u[k][:, None] - v[k][None]) ** 2
        G = ot.emd(np.full(8, 1 / 8), np.full(5, 1 / 5), M)
        np.testing.assert_allclose(plans[k].toarray(), G, atol=1e-12)
        np.testing.assert_allclose(cost[k], (G * M).sum(), rtol=1e-12)
    _, tplans = core_w1d(torch.tensor(u), torch.tensor(v), p=2, return_plans=True)
    assert tplans[0].is_sparse
    np.testing.assert_allclose(tplans[1].to_dense().numpy(), plans[1].toarray(), atol=1e-15)
    with pytest.raises(ValueError, match="return_plans must be"):
        core_w1d(u, v, return_plans="dense")


# ------------------------------------------------------------------- circle
@pytest.mark.parametrize("p", [1, 1.5, 2])
def test_circle_matches_pot_and_the_lp(p):
    rng = _rng()
    u, v = rng.rand(15), rng.rand(20)
    uw = rng.uniform(0.1, 1, 15)
    uw /= uw.sum()
    vw = rng.uniform(0.1, 1, 20)
    vw /= vw.sum()
    d = np.abs(u[:, None] - v[None])
    lp = ot.emd2(uw, vw, np.minimum(d, 1 - d) ** p)
    ours = mp.wasserstein_circle(u, v, uw, vw, p=p)
    assert ours.shape == (1,)  # POT's convention: a 1D sample is one column
    np.testing.assert_allclose(ours, lp, rtol=1e-9)
    np.testing.assert_allclose(ours, ot.wasserstein_circle(u, v, uw, vw, p=p, eps=1e-12),
                               rtol=1e-5)
    value, log = mp.binary_search_circle(u, v, uw, vw, p, log=True)
    assert set(log) == {"optimal_theta"} and log["optimal_theta"].shape == (1,)
    if p > 1:  # the optimal shift is unique
        _, tlog = ot.binary_search_circle(u, v, uw, vw, p, eps=1e-12, log=True)
        np.testing.assert_allclose(log["optimal_theta"], tlog["optimal_theta"], atol=1e-5)


def test_circle_batches_and_errors():
    rng = _rng()
    u, v = rng.rand(10, 3), rng.rand(8, 3)
    np.testing.assert_allclose(mp.wasserstein_circle(u, v, p=2),
                               [float(mp.wasserstein_circle(u[:, k], v[:, k], p=2)[0])
                                for k in range(3)], rtol=1e-12)
    with pytest.raises(ValueError, match="same number of batches"):
        mp.wasserstein_circle(u, v[:, :2])
    t = mp.semidiscrete_wasserstein2_unif_circle(torch.tensor(u, dtype=torch.float32))
    assert t.dtype == torch.float32 and t.shape == (3,)
    np.testing.assert_allclose(mp.semidiscrete_wasserstein2_unif_circle(u),
                               ot.semidiscrete_wasserstein2_unif_circle(u), rtol=1e-12)


def test_semidiscrete_circle_keeps_weights_with_their_atoms():
    # POT 0.9.7 sorts the values but not the weights, so with unsorted weighted
    # samples it pairs each atom with another atom's weight; with sorted input
    # it agrees with ours. The oracle: the exact circle distance (POT's and
    # ours) to a fine uniform grid.
    rng = _rng()
    u = rng.rand(10)
    w = rng.uniform(0.1, 1, 10)
    w /= w.sum()
    grid = (np.arange(4000) + 0.5) / 4000
    ours = mp.semidiscrete_wasserstein2_unif_circle(u, w)
    np.testing.assert_allclose(ours, ot.wasserstein_circle(u, grid, w, None, p=2, eps=1e-12),
                               atol=1e-6)
    order = np.argsort(u)
    np.testing.assert_allclose(ours, ot.semidiscrete_wasserstein2_unif_circle(u[order],
                                                                              w[order]),
                               rtol=1e-12)
    assert not np.isclose(ot.semidiscrete_wasserstein2_unif_circle(u, w), ours, rtol=1e-3)


def test_lcot_embedding_takes_the_quantile_pot_misses():
    # u = {0.25, 0.75} with mass 1/2 each, mean 1/2. At x = 0.3 the level is
    # q = x - 1/2 + 1/2 = 0.3 <= 1/2, so F^{-1}(q) = 0.25 and the embedding is
    # (0.25 - 0.3) mod 1 = 0.95. POT 0.9.7 zero-pads the CDF before its
    # search and returns the next atom, 0.75 (embedding 0.45).
    x, u = np.array([0.3, 0.7]), np.array([0.25, 0.75])
    np.testing.assert_allclose(mp.lp.linear_circular_embedding(x, u).ravel(), [0.95, 0.05])
    assert np.isclose(ot.lp.solver_circle.linear_circular_embedding(x, u).ravel()[0], 0.45)
    # LCOT_2^2 then integrates the exact embeddings (POT: a 100-point grid of the shifted ones)
    uu, vv = np.array([0.1, 0.2]), np.array([0.3, 0.4])
    np.testing.assert_allclose(mp.linear_circular_ot(uu, vv), [0.044], rtol=1e-12)
    grid = (np.arange(20000) + 0.5) / 20000
    eu = mp.lp.linear_circular_embedding(grid, uu).ravel()
    ev = mp.lp.linear_circular_embedding(grid, vv).ravel()
    gap = np.abs(eu - ev)
    np.testing.assert_allclose(mp.linear_circular_ot(uu, vv),
                               np.mean(np.minimum(gap, 1 - gap) ** 2), atol=1e-6)


# ------------------------------------------------------------------ exact LP
def test_emd_log_keys_values_and_duals_match_pot():
    rng = _rng()
    a = rng.uniform(0.1, 1, 9)
    a /= a.sum()
    b = rng.uniform(0.1, 1, 7)
    b /= b.sum()
    M = rng.rand(9, 7)
    G, log = mp.emd(a, b, M, 100000, True)
    tG, tlog = ot.emd(a, b, M, 100000, True)
    assert set(log) == set(tlog) == {"cost", "u", "v", "warning", "result_code"}
    np.testing.assert_allclose(G, tG, atol=1e-15)
    for key in ("cost", "u", "v"):
        np.testing.assert_allclose(log[key], tlog[key], rtol=1e-12, atol=1e-15)
    cost, log2 = mp.emd2(a, b, M, 1, 100000, True, True)
    assert set(log2) == {"cost", "u", "v", "warning", "result_code", "G"}
    np.testing.assert_allclose(cost, ot.emd2(a, b, M), rtol=1e-12)
    np.testing.assert_allclose(mp.emd2(a, np.stack([b, b[::-1]], 1), M),
                               ot.emd2(a, np.stack([b, b[::-1]], 1), M), rtol=1e-12)
    Mt = torch.tensor(M, dtype=torch.float32)
    assert mp.emd(torch.tensor(a, dtype=torch.float32), [], Mt).dtype == torch.float32
    assert mp.emd2([], [], M.astype(np.float32)).dtype == np.float32


def test_emd_errors_are_assertion_and_value_errors():
    M = np.ones((3, 3))
    for fn in (mp.emd, mp.emd2):
        with pytest.raises(AssertionError):
            fn(np.ones(4) / 4, np.ones(3) / 3, M)
        with pytest.raises(ValueError, match="same total mass"):
            fn(np.array([0.5, 0.5, 2.0]), np.ones(3) / 3, M)
    import scipy.sparse

    with pytest.raises(TypeError, match="dense array.*ot.emd"):
        mp.emd2([], [], scipy.sparse.coo_array(M))
    # within POT's tolerance (6 decimals) the masses are accepted and b is rescaled
    b = np.ones(3) / 3 + 1e-7
    np.testing.assert_allclose(core_emd(np.ones(3) / 3, b, M).sum(), 1.0)


def test_emd2_gradients_match_pot():
    rng = _rng()
    a = np.full(6, 1 / 6)
    M = rng.rand(6, 6)
    grads = []
    for fn in (mp.emd2, ot.emd2):
        at, bt, Mt = (torch.tensor(v, requires_grad=True) for v in (a, a, M))
        (3.0 * fn(at, bt, Mt)).backward()
        grads.append([g.grad.numpy() for g in (at, bt, Mt)])
    for ours, theirs in zip(*grads, strict=True):
        np.testing.assert_allclose(ours, theirs, atol=1e-12)


def test_emd2_gradient_in_M_by_finite_differences():
    rng = _rng(5)
    M = torch.tensor(rng.rand(5, 4), requires_grad=True)
    a, b = torch.full((5,), 0.2, dtype=torch.float64), torch.full((4,), 0.25, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda m: core_emd2(a, b, m), (M,), eps=1e-7, atol=1e-6)


def test_num_itermax_keyword_is_deprecated():
    M = np.array([[0.0, 1.0], [1.0, 0.0]])
    with pytest.warns(DeprecationWarning, match="numItermax"):
        G = core_emd(None, None, M, num_itermax=1000)
    np.testing.assert_allclose(G, np.eye(2) / 2)
    with pytest.warns(UserWarning, match="numItermax reached"):
        mp.emd(np.full(30, 1 / 30), np.full(30, 1 / 30), _rng().rand(30, 30), numItermax=2)


# ---------------------------------------------------------------- partial 1D
@pytest.mark.parametrize("p", [1, 2])
def test_partial_wasserstein_1d_path_matches_pot_and_the_lp(p):
    rng = _rng(p)
    x, y = rng.randn(12), rng.randn(10)
    ix, iy, mc = mp.partial.partial_wasserstein_1d(x, y, None, p)
    tix, tiy, tmc = ot.partial.partial_wasserstein_1d(x, y, None, p)
    assert ix.shape == iy.shape == mc.shape == (10,)
    np.testing.assert_allclose(mc, tmc, rtol=1e-9, atol=1e-12)
    M = np.abs(x[:, None] - y[None]) ** p
    for k in (1, 4, 10):
        assert set(ix[:k]) == set(tix[:k]) and set(iy[:k]) == set(tiy[:k])
        lp = ot.partial.partial_wasserstein2(np.ones(12), np.ones(10), M, m=k)
        np.testing.assert_allclose(mc[:k].sum(), lp, rtol=1e-9)
    # the fallback (one mass-constrained solve per k) gives the same path
    fx, fy, fmc = mp.partial._by_mass(x, y, 10, p)
    np.testing.assert_allclose(fmc, mc, rtol=1e-9, atol=1e-12)
    for k in (1, 4, 10):
        assert set(fx[:k]) == set(ix[:k]) and set(fy[:k]) == set(iy[:k])
    short = mp.partial.partial_wasserstein_1d(x[:, None], y[:, None], n_transported_samples=3)
    assert short[0].shape == (3,)
    with pytest.raises(AssertionError, match="monodimensional"):
        mp.partial.partial_wasserstein_1d(rng.randn(4, 2), y)


# ------------------------------------------------------------- sliced plans
METRICS = [("sqeuclidean", 2), ("euclidean", 2), ("cityblock", 1), ("minkowski", 3)]


@pytest.mark.parametrize("metric, p", METRICS)
def test_sliced_plans_match_pot_for_uniform_equal_sizes(metric, p):
    rng = _rng()
    x, y = rng.randn(9, 3), rng.randn(9, 3)
    P = mp.sliced.get_random_projections(3, 6, seed=2)
    _, costs = mp.sliced.sliced_plans(x, y, None, None, metric, p, P)
    _, tcosts = ot.sliced.sliced_plans(x, y, None, None, metric, p, P)
    np.testing.assert_allclose(costs, tcosts, rtol=1e-12)
    for beta in (0.0, 2.0):
        plan, cost, log = mp.expected_sliced_plan(x, y, None, None, P, metric, p, beta=beta,
                                                  log=True)
        tplan, tcost, tlog = ot.expected_sliced_plan(x, y, None, None, P, metric, p, beta=beta,
                                                     log=True)
        assert set(log) == set(tlog)
        np.testing.assert_allclose(plan, tplan, atol=1e-15)
        np.testing.assert_allclose(cost, tcost, rtol=1e-12)
        np.testing.assert_allclose(log["weights"], tlog["weights"], rtol=1e-12)
    plan, cost, log = mp.min_sliced_transport_plan(x, y, None, None, P, metric, p, log=True)
    tplan, tcost, tlog = ot.min_sliced_transport_plan(x, y, None, None, P, metric, p, log=True)
    assert set(log) == set(tlog)
    np.testing.assert_allclose(plan, tplan, atol=1e-15)
    np.testing.assert_allclose(cost, tcost, rtol=1e-12)


@pytest.mark.parametrize("metric, p", METRICS)
def test_weighted_slice_costs_are_the_cost_of_the_slice_plan(metric, p):
    # With weights (or n != m) POT 0.9.7's slice costs weigh pair k by the mass
    # of the pair whose index is the source index of pair k
    # (``ot.utils.sparse_ot_dist`` takes ``w[i]``, not ``w``), so they are not
    # <plan_k, M>; its expected plan with beta > 0 and its min-sliced choice
    # inherit that. The slice plans themselves agree with POT's; the oracle
    # for the costs is <plan_k, ot.dist(x, y, metric, p)>.
    rng = _rng()
    x, y = rng.randn(9, 3), rng.randn(7, 3)
    a = rng.uniform(0.1, 1, 9)
    a /= a.sum()
    P = mp.sliced.get_random_projections(3, 6, seed=2)
    M = ot.dist(x, y, metric=metric, p=p)
    plans, costs = mp.sliced.sliced_plans(x, y, a, None, metric, p, P)
    tplans, _ = ot.sliced.sliced_plans(x, y, a, None, metric, p, P)
    from scipy.sparse import coo_array

    dense = [coo_array((pl.data, (pl.rows, pl.cols)), shape=(9, 7)).toarray() for pl in plans]
    for ours, theirs in zip(dense, tplans, strict=True):
        np.testing.assert_allclose(ours, coo_array((theirs.data, (theirs.rows, theirs.cols)),
                                                   shape=(9, 7)).toarray(), atol=1e-15)
    oracle = np.array([(G * M).sum() for G in dense])
    np.testing.assert_allclose(costs, oracle, rtol=1e-12)
    beta = 2.0
    plan, cost, log = mp.expected_sliced_plan(x, y, a, None, P, metric, p, beta=beta, log=True)
    w = np.exp(-beta * (oracle - oracle.min()))
    w /= w.sum()
    np.testing.assert_allclose(log["weights"], w, rtol=1e-10)
    np.testing.assert_allclose(plan, sum(wk * G for wk, G in zip(w, dense, strict=True)),
                               atol=1e-15)
    np.testing.assert_allclose(cost, (w * oracle).sum(), rtol=1e-12)
    plan0, cost0 = mp.expected_sliced_plan(x, y, a, None, P, metric, p)
    tplan0, tcost0 = ot.expected_sliced_plan(x, y, a, None, P, metric, p)
    np.testing.assert_allclose(plan0, tplan0, atol=1e-15)
    np.testing.assert_allclose(cost0, tcost0, rtol=1e-12)
    best, bcost = mp.min_sliced_transport_plan(x, y, a, None, P, metric, p)
    np.testing.assert_allclose(best, dense[int(np.argmin(oracle))], atol=1e-15)
    np.testing.assert_allclose(bcost, oracle.min(), rtol=1e-12)
    sparse, _ = mp.expected_sliced_plan(x, y, a, None, P, metric, p, dense=False)
    np.testing.assert_allclose(sparse.toarray(), plan0, atol=1e-15)


def test_sliced_plans_torch_and_errors():
    rng = _rng()
    x, y = torch.tensor(rng.randn(6, 2)), torch.tensor(rng.randn(6, 2))
    plan, cost = mp.expected_sliced_plan(x, y, n_projections=5, seed=0)
    assert isinstance(plan, torch.Tensor) and plan.shape == (6, 6)
    np.testing.assert_allclose(plan.sum(1).numpy(), np.full(6, 1 / 6))
    with pytest.raises(AssertionError, match="n_projections must be specified"):
        mp.expected_sliced_plan(x, y)
    with pytest.raises(AssertionError, match="metrics"):
        mp.min_sliced_transport_plan(x, y, n_projections=3, metric="cosine")


# ------------------------------------------------------- random problems
@pytest.mark.parametrize("seed", range(12))
def test_random_problems_match_pot(seed):
    rng = np.random.RandomState(100 + seed)
    n, m, k = rng.randint(1, 15), rng.randint(1, 15), rng.randint(1, 4)
    p = [1, 1.5, 2, 3][seed % 4]
    u, v = rng.randn(n, k), rng.randn(m, k)
    uw, vw = rng.rand(n, k) + 0.05, rng.rand(m) + 0.05
    uw, vw = uw / uw.sum(0), vw / vw.sum()
    w0 = np.ascontiguousarray(uw[:, 0])
    np.testing.assert_allclose(mp.wasserstein_1d(u, v, uw, vw, p),
                               ot.wasserstein_1d(u, v, uw, vw, p), rtol=1e-10, atol=1e-14)
    uc, vc = rng.rand(n), rng.rand(m)
    d = np.abs(uc[:, None] - vc[None])
    np.testing.assert_allclose(mp.wasserstein_circle(uc, vc, uw[:, 0], vw, p=p),
                               ot.emd2(w0, vw, np.minimum(d, 1 - d) ** p), rtol=1e-9,
                               atol=1e-13)
    M = rng.rand(n, m)
    # a strided column is fine here; POT 0.9.7's simplex refuses it ("not C-contiguous")
    np.testing.assert_allclose(mp.emd2(uw[:, 0], vw, M),
                               ot.emd2(w0, vw, M), rtol=1e-12)


@pytest.mark.filterwarnings("ignore:The use of `x.T`:UserWarning")  # inside POT
@pytest.mark.parametrize("p", [1.5, 2])
def test_torch_gradients_in_the_values_match_pot(p):
    # in the weights the gradients agree only up to a constant (mintlab normalises
    # the weights, so its gradient is the tangent one) and, on the circle, up to
    # the choice of subgradient where the optimal shift sits at a kink
    rng = _rng()
    u0, v0 = rng.rand(10), rng.rand(12)
    w = rng.rand(10)
    w /= w.sum()
    for name, kw in (("wasserstein_circle", {"eps": 1e-13}), ("wasserstein_1d", {})):
        grads = []
        for fn, extra in ((getattr(mp, name), {}), (getattr(ot, name), kw)):
            u = torch.tensor(u0, requires_grad=True)
            wt = torch.tensor(w, requires_grad=True)
            fn(u, torch.tensor(v0), wt, None, p=p, **extra).sum().backward()
            grads.append((u.grad.numpy(), wt.grad.numpy()))
        np.testing.assert_allclose(grads[0][0], grads[1][0], atol=1e-10)
        if name == "wasserstein_1d":
            diff = grads[0][1] - grads[1][1]
            np.testing.assert_allclose(diff, diff.mean(), atol=1e-10)


# ------------------------------------------------------------- partial GW
def _gw_loss(C1, C2, G):
    """POT's partial GW loss, 1/2 sum (C1[i, k] - C2[j, l])^2 G_ij G_kl, by brute force."""
    L = (C1[:, None, :, None] - C2[None, :, None, :]) ** 2  # L[i, j, k, l]
    return 0.5 * np.einsum("ijkl,ij,kl->", L, G, G)


@pytest.mark.filterwarnings("ignore::UserWarning")  # POT's deprecation notices
@pytest.mark.parametrize("seed", range(4))
def test_partial_gw_fixed_mass_is_no_worse_than_pot(seed):
    rng = np.random.RandomState(seed)
    n, k = 12, 10
    xs, xt = rng.randn(n, 2), rng.randn(k, 3)
    C1, C2 = ot.dist(xs, xs), ot.dist(xt, xt)
    p = rng.rand(n) + 0.5
    p /= p.sum()
    q = np.full(k, 1 / k)
    for m in (0.3, 0.7, 1.0):
        G, log = mp.partial.partial_gromov_wasserstein(C1, C2, p, q, m, log=True)
        assert set(log) == {"err", "partial_gw_dist"}
        assert np.isclose(G.sum(), m, atol=1e-9)
        assert (G.sum(1) <= p + 1e-12).all() and (G.sum(0) <= q + 1e-12).all() and G.min() >= 0
        np.testing.assert_allclose(log["partial_gw_dist"], _gw_loss(C1, C2, G), rtol=1e-9,
                                   atol=1e-14)
        _, tlog = ot.partial.partial_gromov_wasserstein(C1, C2, p, q, m, log=True)
        assert log["partial_gw_dist"] <= tlog["partial_gw_dist"] * (1 + 1e-6) + 1e-12
        loss, log2 = mp.partial.partial_gromov_wasserstein2(C1, C2, p, q, m, log=True)
        np.testing.assert_allclose(loss, log["partial_gw_dist"], rtol=1e-12)
        np.testing.assert_allclose(log2["T"], G, atol=1e-15)


def test_partial_gw_mass_errors_and_edges():
    C = np.array([[0.0, 1.0], [1.0, 0.0]])
    w = np.full(2, 0.5)
    with pytest.raises(ValueError, match="greater than 0"):
        mp.partial.partial_gromov_wasserstein(C, C, w, w, m=-0.1)
    with pytest.raises(ValueError, match=r"lower or equal than min\(\|a\|_1, \|b\|_1\)"):
        mp.partial.partial_gromov_wasserstein(C, C, w, w, m=1.5)
    np.testing.assert_array_equal(mp.partial.partial_gromov_wasserstein(C, C, w, w, m=0), 0)
    G = mp.partial.partial_gromov_wasserstein(C, C, w, w)  # m defaults to min(|p|, |q|)
    np.testing.assert_allclose(G.sum(), 1.0)
    Gt = mp.partial.partial_gromov_wasserstein(torch.tensor(C), torch.tensor(C),
                                               torch.tensor(w), torch.tensor(w), m=0.5)
    assert isinstance(Gt, torch.Tensor) and np.isclose(float(Gt.sum()), 0.5)
