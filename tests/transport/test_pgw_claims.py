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

from mintlab.experiments._gromov_common import SHAPES5, penalty_rule, shape_instance
from mintlab.transport import gromov_cost_matrix, partial_gromov_wasserstein
from mintlab.transport.gromov import _lift_plan, _partial_lp, _partial_ot_direction


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


@pytest.mark.parametrize("uniform", [True, False])
def test_partial_transport_step_matches_the_dummy_point_lp(uniform):
    # the inequality-marginal step (Hungarian / HiGHS) against POT's network simplex on
    # the problem with one dummy point per side: same optimal value, feasible
    rng = np.random.default_rng(0)
    for n, m in [(5, 7), (12, 9), (20, 20)]:
        p = np.full(n, 0.1) if uniform else rng.uniform(0.05, 0.2, n)
        q = np.full(m, 0.1) if uniform else rng.uniform(0.05, 0.2, m)
        grad = rng.normal(size=(n, m))
        g = _partial_ot_direction(p, q, grad)
        ref = _partial_lp(p, q, grad)[:n, :m]
        assert np.all(g >= 0)
        assert np.all(g.sum(1) <= p + 1e-12) and np.all(g.sum(0) <= q + 1e-12)
        assert float((grad * g).sum()) == pytest.approx(float((grad * ref).sum()), abs=1e-10)
    assert not _partial_ot_direction(np.ones(3), np.ones(2), np.ones((3, 2))).any()


def test_lift_plan_is_a_coupling_of_the_augmented_masses():
    rng = np.random.default_rng(1)
    p, q = rng.uniform(0.1, 1, 4), rng.uniform(0.1, 1, 6)
    G = np.outer(p, q) / (p.sum() + q.sum())
    H = _lift_plan(G, p, q)
    np.testing.assert_allclose(H.sum(1), np.r_[p, q.sum()])
    np.testing.assert_allclose(H.sum(0), np.r_[q, p.sum()])
    np.testing.assert_allclose(H, np.outer(np.r_[p, q.sum()], np.r_[q, p.sum()])
                               / (p.sum() + q.sum()))
