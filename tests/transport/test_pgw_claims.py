"""PGW's two Frank-Wolfe solvers: two implementations of the paper's equivalent variants.

``fw1`` iterates on the partial plan with a partial-transport linear step (inequality
marginals: the Hungarian algorithm for equal point masses, HiGHS's dual simplex
otherwise); ``fw2`` iterates on the balanced plan of the augmented spaces with a balanced
transport step (network simplex) and the separable augmented loss. The paper shows them
equivalent; here they must agree, and POT's mass-constrained partial GW is the oracle.
"""

import numpy as np
import ot
import pytest
from scipy.optimize import linprog

from mintlab.experiments._gromov_common import SHAPES5, penalty_rule, shape_instance
from mintlab.transport import gromov_cost_matrix, partial_gromov_wasserstein
from mintlab.transport.gromov import (
    _comonotone,
    _direction,
    _lift_plan,
    _partial_ot_direction,
    _tensor_sparse,
)


def _problem(rng, n=15, outliers=4, uniform=True):
    s1, s2 = rng.choice(len(SHAPES5), 2)
    A = gromov_cost_matrix(shape_instance(SHAPES5[s1], n, rng))
    B = gromov_cost_matrix(shape_instance(SHAPES5[s2], n, rng, outliers=outliers))
    a, b = np.full(n, 1.0 / n), np.full(n + outliers, 1.0 / n)
    if not uniform:
        a = rng.uniform(0.5, 1.5, n) / n
        b = rng.uniform(0.5, 1.5, n + outliers) / n
    return A, B, a, b, penalty_rule(A)


def _gw_term(A, B, G):
    r, c = G.sum(1), G.sum(0)
    return float(((A * A @ r)[:, None] + (B * B @ c)[None, :] - 2 * A @ G @ B.T).ravel()
                 @ G.ravel())


@pytest.mark.parametrize("uniform", [True, False])
@pytest.mark.parametrize("seed", range(3))
def test_fw1_and_fw2_reach_the_same_objective(seed, uniform):
    A, B, a, b, lam = _problem(np.random.default_rng(seed), uniform=uniform)
    r1 = partial_gromov_wasserstein(A, B, a, b, penalty=lam, solver="fw1")
    r2 = partial_gromov_wasserstein(A, B, a, b, penalty=lam, solver="fw2")
    assert r1.converged and r2.converged
    assert abs(float(r1.cost) - float(r2.cost)) <= 1e-9 * max(1.0, float(r1.cost))
    for r in (r1, r2):  # a feasible partial plan whose cost is GW term + mass penalty
        assert np.all(r.plan >= 0)
        assert np.all(r.plan.sum(1) <= a + 1e-9) and np.all(r.plan.sum(0) <= b + 1e-9)
        mass = float(r.plan.sum())
        expect = _gw_term(A, B, r.plan) + lam * (a.sum() ** 2 + b.sum() ** 2 - 2 * mass**2)
        assert abs(float(r.cost) - expect) < 1e-9


def test_fw1_and_fw2_iterates_agree_from_the_papers_start():
    # the paper's proposition: the fw2 plan restricted to the n x m block is the fw1 plan
    rng = np.random.default_rng(7)
    for uniform in (True, False):
        A, B, a, b, lam = _problem(rng, uniform=uniform)
        G0 = np.outer(a, b) / (a.sum() + b.sum())
        for k in (1, 2, 5, 500):
            r1 = partial_gromov_wasserstein(A, B, a, b, penalty=lam, solver="fw1", G0=G0,
                                            max_iter=k)
            r2 = partial_gromov_wasserstein(A, B, a, b, penalty=lam, solver="fw2", G0=G0,
                                            max_iter=k)
            assert r1.n_iter == r2.n_iter
            np.testing.assert_allclose(r1.plan, r2.plan, atol=1e-10)


@pytest.mark.parametrize("seed", range(3))
def test_pot_mpgw_cannot_improve_the_pgw_plan_at_its_mass(seed):
    # a PGW minimiser minimises the GW term among plans of its own mass: POT's
    # mass-constrained partial GW started from it stays put, and from its own start it
    # finds no lower GW term on these easy problems by more than a few percent
    A, B, a, b, lam = _problem(np.random.default_rng(seed + 10))
    res = partial_gromov_wasserstein(A, B, a, b, penalty=lam)
    G = np.asarray(res.plan)
    m = min(float(G.sum()), float(min(a.sum(), b.sum())))
    assert m > 0.5
    g = _gw_term(A, B, G)
    assert abs(g - float(res.gw_cost)) < 1e-12
    from_ours = ot.gromov.partial_gromov_wasserstein(A, B, a, b, m=m, G0=G)
    assert _gw_term(A, B, from_ours) >= g - 1e-9 * max(g, 1e-12)


def _lp_value(p, q, grad, mass=None):
    """``min <grad, g>`` over ``g >= 0, g 1 <= p, g^T 1 <= q`` (and ``|g| = mass``), by
    HiGHS on the LP written out in full: an oracle independent of the network simplex."""
    n, m = grad.shape
    A_rows = np.zeros((n + m, n * m))
    for i in range(n):
        A_rows[i, i * m:(i + 1) * m] = 1.0
    for j in range(m):
        A_rows[n + j, j::m] = 1.0
    eq = {} if mass is None else {"A_eq": np.ones((1, n * m)), "b_eq": [mass]}
    sol = linprog(grad.ravel(), A_ub=A_rows, b_ub=np.r_[p, q], bounds=(0, None), method="highs",
                  **eq)
    assert sol.status == 0
    return sol.fun


@pytest.mark.parametrize("uniform", [True, False])
def test_linear_step_is_optimal_against_an_independent_lp(uniform):
    # the sparse linear step (network simplex with one dummy point per side) against
    # HiGHS on the inequality-marginal LP, penalised and at fixed mass
    rng = np.random.default_rng(0)
    for n, m in [(5, 7), (12, 9), (20, 20)]:
        p = np.full(n, 0.1) if uniform else rng.uniform(0.05, 0.2, n)
        q = np.full(m, 0.1) if uniform else rng.uniform(0.05, 0.2, m)
        grad = rng.normal(size=(n, m))
        for mass in (None, 0.5 * min(p.sum(), q.sum()), min(p.sum(), q.sum())):
            rows, cols, vals = _direction(p, q, grad, mass)
            g = np.zeros((n, m))
            g[rows, cols] = vals
            assert np.all(vals > 0)
            assert np.all(g.sum(1) <= p + 1e-12) and np.all(g.sum(0) <= q + 1e-12)
            if mass is not None:
                assert g.sum() == pytest.approx(mass, abs=1e-12)
            assert float((grad * g).sum()) == pytest.approx(_lp_value(p, q, grad, mass),
                                                            abs=1e-9)
        dense = _partial_ot_direction(p, q, grad)
        assert float((grad * dense).sum()) == pytest.approx(_lp_value(p, q, grad), abs=1e-9)
    assert not _partial_ot_direction(np.ones(3), np.ones(2), np.ones((3, 2))).any()


@pytest.mark.parametrize("uniform", [True, False])
def test_first_step_from_the_product_plan_is_the_comonotone_coupling(uniform):
    # with all mass transported, the linear step at the product plan is solved by sorting;
    # it must reach the LP optimum (HiGHS) of that gradient
    rng = np.random.default_rng(3)
    A, B, a, b, lam = _problem(rng, n=9, outliers=3, uniform=uniform)
    b = b * (a.sum() / b.sum())
    G = np.outer(a, b) / b.sum()
    grad = 2 * np.einsum("ijkl,kl->ij", (A[:, None, :, None] - B[None, :, None, :]) ** 2, G)
    rows, cols, vals = _comonotone(A @ a, B @ b, a, b)
    g = np.zeros(G.shape)
    np.add.at(g, (rows, cols), vals)
    np.testing.assert_allclose(g.sum(1), a, atol=1e-12)
    np.testing.assert_allclose(g.sum(0), b, atol=1e-12)
    assert float((grad * g).sum()) == pytest.approx(_lp_value(a, b, grad, a.sum()), abs=1e-9)


def test_comonotone_coupling_against_the_network_simplex():
    # distinct pairs (the solver adds pieces in place), exact marginals, and optimal for
    # -x y by POT's LP, with ties in the values and totals equal only up to round-off
    rng = np.random.default_rng(5)
    for t in range(60):
        n, k = rng.integers(2, 25, 2)
        p = rng.random(n) + 0.5 if t % 2 else np.ones(n)
        q = rng.random(k) + 0.1
        p, q = p / p.sum(), q / q.sum()
        x, y = rng.normal(size=n), rng.normal(size=k)
        if t % 3 == 0:
            x, y = np.round(x), np.round(y)
        rows, cols, vals = _comonotone(x, y, p, q)
        assert len(set(zip(rows.tolist(), cols.tolist(), strict=True))) == len(rows)
        g = np.zeros((n, k))
        g[rows, cols] = vals
        np.testing.assert_allclose(g.sum(1), p, atol=1e-12)
        np.testing.assert_allclose(g.sum(0), q, atol=1e-12)
        cost = -np.outer(x, y)
        assert float((cost * g).sum()) == pytest.approx(float((cost * ot.emd(p, q, cost)).sum()),
                                                         abs=1e-10)


@pytest.mark.parametrize("seed", range(3))
def test_fixed_mass_with_all_the_mass_keeps_it(seed):
    # with m = |p| = |q| the first step is the comonotone coupling; the plan must still
    # carry all of the mass (non-uniform masses, totals equal up to round-off)
    rng = np.random.RandomState(seed)
    X, Y = rng.randn(12, 2), rng.randn(10, 3)
    C1, C2 = ot.dist(X, X), ot.dist(Y, Y)
    p = rng.rand(12) + 0.5
    p /= p.sum()
    q = np.full(10, 0.1)
    res = partial_gromov_wasserstein(C1, C2, p, q, mass=1.0)
    G = np.asarray(res.plan)
    assert float(G.sum()) == pytest.approx(1.0, abs=1e-9)
    np.testing.assert_allclose(G.sum(1), p, atol=1e-9)
    np.testing.assert_allclose(G.sum(0), q, atol=1e-9)
    ref = ot.gromov.gromov_wasserstein(C1, C2, p, q)
    assert _gw_term(C1, C2, G) <= _gw_term(C1, C2, ref) * (1 + 1e-6) + 1e-12


def test_sparse_tensor_product_is_the_four_index_sum():
    rng = np.random.default_rng(2)
    A, B = rng.random((6, 6)), rng.random((5, 5))
    A, B = A + A.T, B + B.T
    rows, cols, vals = np.array([0, 2, 2, 5]), np.array([1, 0, 4, 4]), rng.random(4)
    G = np.zeros((6, 5))
    G[rows, cols] = vals
    L = (A[:, None, :, None] - B[None, :, None, :]) ** 2
    np.testing.assert_allclose(_tensor_sparse(A * A, B * B, A, B, rows, cols, vals),
                               np.einsum("ijkl,kl->ij", L, G), atol=1e-12)


@pytest.mark.parametrize("uniform", [True, False])
@pytest.mark.parametrize("seed", range(3))
def test_penalised_plan_is_stationary_by_an_independent_lp(seed, uniform):
    # the returned plan is a Frank-Wolfe stationary point of the penalised objective: no
    # feasible direction improves its linearisation, checked with HiGHS (not the solver's
    # own step) on a gradient built from the four-index loss
    A, B, a, b, lam = _problem(np.random.default_rng(seed + 20), n=10, outliers=3,
                               uniform=uniform)
    res = partial_gromov_wasserstein(A, B, a, b, penalty=lam)
    G = np.asarray(res.plan)
    L = (A[:, None, :, None] - B[None, :, None, :]) ** 2
    grad = 2 * np.einsum("ijkl,kl->ij", L, G) - 4 * lam * G.sum()
    scale = (np.abs(A).max() ** 2 + np.abs(B).max() ** 2) * max(a.sum(), b.sum()) ** 2
    gap = float((grad * G).sum()) - _lp_value(a, b, grad)
    assert res.converged and gap <= 1e-8 * scale
    expect = np.einsum("ijkl,ij,kl->", L, G, G) + lam * (a.sum() ** 2 + b.sum() ** 2
                                                       - 2 * G.sum() ** 2)
    assert float(res.cost) == pytest.approx(expect, abs=1e-10)


@pytest.mark.parametrize("seed", range(4))
def test_fixed_mass_is_pots_problem_and_no_worse_than_pot(seed):
    # mass= is POT's mass-constrained partial GW: |plan| = mass, marginals below p, q, and
    # a GW term no worse than POT's from the same start (the scaled product plan)
    rng = np.random.default_rng(seed + 30)
    A, B, a, b, _ = _problem(rng, n=12, outliers=3, uniform=bool(seed % 2))
    m = float(rng.uniform(0.3, 0.95)) * min(a.sum(), b.sum())
    res = partial_gromov_wasserstein(A, B, a, b, mass=m)
    G = np.asarray(res.plan)
    assert float(res.transported) == pytest.approx(m, abs=1e-12)
    assert np.all(G.sum(1) <= a + 1e-12) and np.all(G.sum(0) <= b + 1e-12)
    ref = ot.gromov.partial_gromov_wasserstein(A, B, a, b, m=m)
    assert _gw_term(A, B, G) <= _gw_term(A, B, ref) + 1e-9 * max(_gw_term(A, B, ref), 1.0)
    assert float(res.gw_cost) == pytest.approx(_gw_term(A, B, G), abs=1e-12)


def test_fixed_mass_from_pots_plan_stays_put():
    # started at POT's converged plan, our mass-constrained Frank-Wolfe finds no better
    # vertex: both stop at the same stationary point
    A, B, a, b, _ = _problem(np.random.default_rng(40), n=12, outliers=3)
    ref = ot.gromov.partial_gromov_wasserstein(A, B, a, b, m=0.7, tol=1e-12)
    res = partial_gromov_wasserstein(A, B, a, b, mass=0.7, G0=ref)
    assert _gw_term(A, B, np.asarray(res.plan)) <= _gw_term(A, B, ref) + 1e-10


def test_fixed_mass_bad_inputs():
    C = gromov_cost_matrix(np.random.default_rng(0).normal(size=(4, 2)))
    with pytest.raises(ValueError, match=r"mass must be at most min\(\|p\|, \|q\|\)"):
        partial_gromov_wasserstein(C, C, mass=1.5)
    with pytest.raises(ValueError, match="mass must be positive"):
        partial_gromov_wasserstein(C, C, mass=0.0)
    with pytest.raises(ValueError, match="solver='fw1'"):
        partial_gromov_wasserstein(C, C, mass=0.5, solver="fw2")
    with pytest.raises(ValueError, match="G0 must carry mass 0.5"):
        partial_gromov_wasserstein(C, C, mass=0.5, G0=np.full((4, 4), 1 / 16))
    from mintlab.transport.gromov import fused_partial_gromov_wasserstein

    with pytest.raises(ValueError, match="mass must be at most"):
        fused_partial_gromov_wasserstein(np.zeros((4, 4)), C, C, mass=2.0)


def test_lift_plan_is_a_coupling_of_the_augmented_masses():
    rng = np.random.default_rng(1)
    p, q = rng.uniform(0.1, 1, 4), rng.uniform(0.1, 1, 6)
    G = np.outer(p, q) / (p.sum() + q.sum())
    H = _lift_plan(G, p, q)
    np.testing.assert_allclose(H.sum(1), np.r_[p, q.sum()])
    np.testing.assert_allclose(H.sum(0), np.r_[q, p.sum()])
    np.testing.assert_allclose(H, np.outer(np.r_[p, q.sum()], np.r_[q, p.sum()])
                               / (p.sum() + q.sum()))
