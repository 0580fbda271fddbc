"""Minibatch couplings: optimality against POT and brute force, marginals, sampling, kinds."""

import itertools
import warnings

import numpy as np
import ot
import pytest
import torch

from mintlab.transport.couplings import Coupling, couple
from mintlab.transport.plans import expected_sliced_plan


def _clouds(n, m, d=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.normal(size=(m, d)) + 0.5


def _weights(n, seed):
    w = np.random.default_rng(seed).random(n) + 0.1
    return w / w.sum()


# ------------------------------------------------------------------ exact
def test_exact_equal_batches_is_the_brute_force_permutation():
    X, Y = _clouds(6, 6, seed=1)
    c = couple(X, Y, "exact")
    perm = c.permutation()
    assert sorted(perm.tolist()) == list(range(6))
    M = ot.dist(X, Y)
    brute = min(M[np.arange(6), list(q)].mean() for q in itertools.permutations(range(6)))
    assert float(c.cost) == pytest.approx(brute, abs=1e-12)
    assert float(c.cost) == pytest.approx(M[np.arange(6), perm].mean(), abs=1e-12)
    assert float(c.transported_mass) == pytest.approx(1.0)


@pytest.mark.parametrize("p,metric", [(2, "sqeuclidean"), (1, "euclidean")])
def test_exact_unequal_weighted_matches_pot_emd(p, metric):
    X, Y = _clouds(9, 13, d=3, seed=2)
    a, b = _weights(9, 3), _weights(13, 4)
    c = couple(X, Y, "exact", a=a, b=b, p=p, dense=True)
    M = ot.dist(X, Y, metric=metric)
    assert float(c.cost) == pytest.approx(ot.emd2(a, b, M), abs=1e-10)
    np.testing.assert_allclose(c.plan.sum(1), a, atol=1e-12)
    np.testing.assert_allclose(c.plan.sum(0), b, atol=1e-12)
    np.testing.assert_allclose(c.to_dense(), c.plan)
    with pytest.raises(ValueError, match="not a permutation"):
        c.permutation()


# --------------------------------------------------------------- sinkhorn
def test_sinkhorn_matches_pot_and_has_the_marginals():
    X, Y = _clouds(20, 30, seed=5)
    a, b = _weights(20, 6), _weights(30, 7)
    M = ot.dist(X, Y)
    for kw, (aa, bb) in (({}, (np.full(20, 1 / 20), np.full(30, 1 / 30))),
                         ({"a": a, "b": b}, (a, b))):
        c = couple(X, Y, "sinkhorn", reg=0.3, max_iter=5000, tol=1e-13, **kw)
        ref = ot.sinkhorn(aa, bb, M, 0.3, numItermax=20000, stopThr=1e-14)
        np.testing.assert_allclose(c.plan, ref, atol=1e-10)
        np.testing.assert_allclose(c.plan.sum(1), aa, atol=1e-12)
        np.testing.assert_allclose(c.plan.sum(0), bb, atol=1e-12)
        assert float(c.cost) == pytest.approx((ref * M).sum(), abs=1e-9)
        assert c.src is None and c.mass is None


def test_sinkhorn_warns_when_it_stops_early_and_is_differentiable():
    X, Y = _clouds(8, 8, seed=8)
    with pytest.warns(RuntimeWarning, match="row-marginal L1 error"):
        couple(X, Y, "sinkhorn", reg=0.01, max_iter=2, tol=1e-12)
    Xt = torch.tensor(X, requires_grad=True)
    Yt = torch.tensor(Y)
    torch.autograd.gradcheck(
        lambda x: couple(x, Yt, "sinkhorn", reg=0.5, max_iter=30, tol=None).cost, (Xt,))


# ---------------------------------------------------------------- partial
def _augmented_partial_cost(a, b, M, mass):
    """Partial OT as balanced OT with one dummy point per side (an independent LP)."""
    n, m = M.shape
    big = np.zeros((n + 1, m + 1))
    big[:n, :m] = M
    big[n, m] = 1e3 * M.max() + 1.0
    return ot.emd2(np.append(a, 1 - mass), np.append(b, 1 - mass), big)


def test_partial_exact_assignment_matches_the_lp_and_moves_the_mass():
    X, Y = _clouds(10, 10, seed=9)
    X[:2] += 6.0  # two outliers stay untransported
    M = ot.dist(X, Y)
    u = np.full(10, 0.1)
    c = couple(X, Y, "partial", mass=0.8, dense=True)
    assert len(c.src) == 8 and 0 not in c.src.tolist() and 1 not in c.src.tolist()
    assert float(c.transported_mass) == pytest.approx(0.8)
    assert float(c.cost) == pytest.approx(_augmented_partial_cost(u, u, M, 0.8), abs=1e-10)
    assert float(c.cost) == pytest.approx(ot.partial.partial_wasserstein2(u, u, M, m=0.8),
                                          abs=1e-10)
    assert (c.plan.sum(1) <= u + 1e-12).all() and (c.plan.sum(0) <= u + 1e-12).all()


def test_partial_exact_weighted_matches_an_augmented_lp():
    X, Y = _clouds(7, 11, seed=10)
    a, b = _weights(7, 11), _weights(11, 12)
    M = ot.dist(X, Y)
    c = couple(X, Y, "partial", a=a, b=b, mass=0.55, dense=True)
    assert float(c.cost) == pytest.approx(_augmented_partial_cost(a, b, M, 0.55), abs=1e-9)
    assert float(c.transported_mass) == pytest.approx(0.55)
    assert (c.plan.sum(1) <= a + 1e-12).all() and (c.plan.sum(0) <= b + 1e-12).all()


def test_partial_entropic_moves_the_mass_and_tends_to_the_exact_cost():
    X, Y = _clouds(12, 15, seed=13)
    a, b = np.full(12, 1 / 12), np.full(15, 1 / 15)
    exact = _augmented_partial_cost(a, b, ot.dist(X, Y), 0.6)
    gaps = []
    for reg in (0.1, 0.01):
        c = couple(X, Y, "partial", mass=0.6, reg=reg, max_iter=20000, tol=1e-10)
        assert float(c.transported_mass) == pytest.approx(0.6, abs=1e-8)
        assert (c.plan.sum(1) <= a + 1e-8).all() and (c.plan.sum(0) <= b + 1e-8).all()
        gaps.append(float(c.cost) - exact)
    assert gaps[0] > gaps[1] >= -1e-8 and gaps[1] < 0.05 * exact


# ----------------------------------------------------------------- sliced
def test_sliced_plan_is_the_expected_sliced_plan_with_its_marginals():
    X, Y = _clouds(40, 25, d=3, seed=14)
    a, b = _weights(40, 15), _weights(25, 16)
    th = np.random.default_rng(0).normal(size=(3, 16))
    th /= np.linalg.norm(th, axis=0)
    c = couple(X, Y, "sliced", a=a, b=b, projections=th, dense=True)
    ref = expected_sliced_plan(X, Y, a, b, projections=th)
    np.testing.assert_allclose(c.plan, ref.plan, atol=1e-14)
    np.testing.assert_allclose(c.plan.sum(1), a, atol=1e-12)
    np.testing.assert_allclose(c.plan.sum(0), b, atol=1e-12)
    M = ot.dist(X, Y)
    assert float(c.cost) == pytest.approx((c.plan * M).sum(), abs=1e-10)
    assert float(c.cost) >= ot.emd2(a, b, M) - 1e-12  # a coupling: never below the optimum


def test_sliced_one_direction_is_rank_matching():
    X, Y = _clouds(50, 50, d=4, seed=17)
    th = np.random.default_rng(1).normal(size=(4, 1))
    perm = couple(X, Y, "sliced", projections=th).permutation()
    ox, oy = np.argsort(X @ th[:, 0]), np.argsort(Y @ th[:, 0])
    expected = np.empty(50, dtype=np.int64)
    expected[ox] = oy
    np.testing.assert_array_equal(perm, expected)


# --------------------------------------------------------------- sampling
def test_sample_pairs_follows_the_plan_and_is_seeded():
    X, Y = _clouds(5, 4, seed=18)
    for c in (couple(X, Y, "sinkhorn", reg=0.5), couple(X, Y, "exact", dense=True),
              couple(X, Y, "sliced", n_projections=8, seed=0, dense=True)):
        i, j = c.sample_pairs(200_000, seed=3)
        freq = np.zeros((5, 4))
        np.add.at(freq, (i, j), 1.0)
        np.testing.assert_allclose(freq / 200_000, c.plan / c.plan.sum(), atol=4e-3)
        i2, j2 = c.sample_pairs(200_000, seed=3)
        assert np.array_equal(i, i2) and np.array_equal(j, j2)


def test_sample_pairs_without_replacement_are_distinct_support_entries():
    X, Y = _clouds(16, 16, seed=19)
    c = couple(X, Y, "exact")
    i, j = c.sample_pairs(16, replace=False, seed=0)
    assert sorted(i.tolist()) == list(range(16))
    np.testing.assert_array_equal(j, c.permutation()[i])
    with pytest.raises(ValueError, match="n_pairs must be at most the 16"):
        c.sample_pairs(17, replace=False)


# ------------------------------------------------------------ array kinds
@pytest.mark.parametrize("method,kw", [("exact", {}), ("sinkhorn", {"reg": 5.0}),
                                       ("partial", {"mass": 0.5}),
                                       ("partial", {"mass": 0.5, "reg": 5.0}),
                                       ("sliced", {"projections": np.eye(9)[:, :4]})])
def test_kinds_dtypes_and_image_batches(method, kw):
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(8, 1, 3, 3, generator=g)  # images: trailing axes are flattened
    x1 = torch.randn(8, 1, 3, 3, generator=g)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # float32 converges to its own default tolerance
        c = couple(x0, x1, method, dense=True, **kw)
    assert isinstance(c, Coupling) and c.shape == (8, 8)
    assert c.plan.dtype == torch.float32 and c.cost.dtype == torch.float32
    if c.src is not None:
        assert c.src.dtype == torch.long and c.mass.dtype == torch.float32
    i, j = c.sample_pairs(seed=0)
    assert isinstance(i, torch.Tensor) and i.dtype == torch.long and i.shape == (8,)
    cn = couple(x0.double().numpy(), x1.double().numpy(), method, dense=True, **kw)
    assert isinstance(cn.plan, np.ndarray) and cn.plan.dtype == np.float64
    assert isinstance(cn.sample_pairs(seed=0)[0], np.ndarray)
    np.testing.assert_allclose(c.plan.double().numpy(), cn.plan, atol=1e-5)


# ------------------------------------------------------------- validation
def test_bad_input_is_rejected_with_clear_messages():
    X, Y = _clouds(4, 4)
    with pytest.raises(ValueError, match="method must be one of"):
        couple(X, Y, "hungarian")
    with pytest.raises(ValueError, match=r"x1 must have shape \(m, 2\)"):
        couple(X, np.zeros((4, 3)))
    with pytest.raises(ValueError, match="needs mass"):
        couple(X, Y, "partial")
    with pytest.raises(ValueError, match=r"mass must lie in \(0, 1\]"):
        couple(X, Y, "partial", mass=1.5)
    with pytest.raises(ValueError, match="mass is used only"):
        couple(X, Y, "exact", mass=0.5)
    with pytest.raises(ValueError, match="reg is used only"):
        couple(X, Y, "exact", reg=0.1)
    with pytest.raises(ValueError, match="reg must be positive"):
        couple(X, Y, "sinkhorn", reg=0.0)
    with pytest.raises(ValueError, match="x0 must be finite"):
        couple(np.full((4, 2), np.nan), Y)
    with pytest.raises(ValueError, match="a must be non-negative"):
        couple(X, Y, a=np.array([1.0, -1.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match=r"a must have shape \(4\)"):
        couple(X, Y, a=np.ones(3))
    with pytest.raises(ValueError, match="p must be a real number >= 1"):
        couple(X, Y, p=0.5)
    with pytest.raises(ValueError, match="at least 2 dimension"):
        couple(np.zeros(4), Y)
    with pytest.raises(TypeError, match="x0 must be a numpy array or torch tensor"):
        couple("points", Y)


# --------------------------------------------------------------- torchcfm
def test_exact_cost_agrees_with_torchcfm():
    otm = pytest.importorskip("torchcfm.optimal_transport")
    g = torch.Generator().manual_seed(2)
    x0, x1 = torch.randn(64, 5, generator=g), torch.randn(64, 5, generator=g) + 1.0
    pi = otm.OTPlanSampler(method="exact").get_map(x0, x1)
    M = (torch.cdist(x0.double(), x1.double()) ** 2).numpy()
    ours = couple(x0.double(), x1.double(), "exact")
    assert float(ours.cost) == pytest.approx(float((pi * M).sum()), rel=1e-9)
