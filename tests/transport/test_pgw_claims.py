"""PGW's two Frank-Wolfe solvers, as implemented today.

The ``pgw`` paper proposes two Frank-Wolfe variants and shows them
equivalent. In the library, ``fw2``'s linear step is the same dummy-augmented
transport LP as ``fw1``'s, so the two differ only in their default start: that
they reach the same objective holds by construction and is tested here, not
judged as a claim of the paper.
"""

import numpy as np
import pytest

from mintlab.experiments._gromov_common import SHAPES5, penalty_rule, shape_instance
from mintlab.transport import gromov_cost_matrix, partial_gromov_wasserstein


def _problem(rng, n=15, outliers=4):
    s1, s2 = rng.choice(len(SHAPES5), 2)
    A = gromov_cost_matrix(shape_instance(SHAPES5[s1], n, rng))
    B = gromov_cost_matrix(shape_instance(SHAPES5[s2], n, rng, outliers=outliers))
    return A, B, np.full(n, 1.0 / n), np.full(n + outliers, 1.0 / n), penalty_rule(A)


@pytest.mark.parametrize("seed", range(4))
def test_fw1_and_fw2_reach_the_same_objective_from_their_default_starts(seed):
    A, B, a, b, lam = _problem(np.random.default_rng(seed))
    r1 = partial_gromov_wasserstein(A, B, a, b, penalty=lam, solver="fw1")
    r2 = partial_gromov_wasserstein(A, B, a, b, penalty=lam, solver="fw2")
    assert r1.converged and r2.converged
    assert abs(float(r1.cost) - float(r2.cost)) <= 1e-9 * max(1.0, float(r1.cost))
    for r in (r1, r2):  # a feasible partial plan whose cost is GW term + mass penalty
        assert np.all(r.plan >= 0)
        assert np.all(r.plan.sum(1) <= a + 1e-9) and np.all(r.plan.sum(0) <= b + 1e-9)
        mass = float(r.plan.sum())
        expect = float(r.gw_cost) + lam * (a.sum() ** 2 + b.sum() ** 2 - 2 * mass**2)
        assert abs(float(r.cost) - expect) < 1e-9


def test_fw1_and_fw2_take_the_same_steps_from_a_common_start():
    # the two linear steps are the same LP: from one start the iterates coincide
    rng = np.random.default_rng(7)
    for _ in range(3):
        A, B, a, b, lam = _problem(rng)
        G0 = 0.5 * np.outer(a, b) / b.sum()
        r1 = partial_gromov_wasserstein(A, B, a, b, penalty=lam, solver="fw1", G0=G0)
        r2 = partial_gromov_wasserstein(A, B, a, b, penalty=lam, solver="fw2", G0=G0)
        assert r1.n_iter == r2.n_iter
        np.testing.assert_allclose(r1.plan, r2.plan, atol=1e-12)
        assert float(r1.cost) == pytest.approx(float(r2.cost), abs=1e-12)
