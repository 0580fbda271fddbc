import numpy as np
import ot
import pytest

from mintlab.transport import gromov_cost_matrix, partial_gromov_wasserstein

RNG = np.random.default_rng(12)


@pytest.mark.parametrize("solver", ["fw1", "fw2"])
def test_large_penalty_equal_masses_is_pots_gw(solver):
    for _ in range(4):
        X, Y = RNG.normal(size=(10, 2)), RNG.normal(size=(9, 3))
        C1, C2 = gromov_cost_matrix(X), gromov_cost_matrix(Y)
        res = partial_gromov_wasserstein(C1, C2, penalty=1e3, solver=solver)
        ref = ot.gromov.gromov_wasserstein2(C1, C2, np.full(10, 0.1), np.full(9, 1 / 9))
        assert abs(float(res.transported) - 1.0) < 1e-9
        # Frank-Wolfe finds stationary points: no worse than POT's from its own start
        assert float(res.gw_cost) <= ref + 1e-8
        assert res.converged


def test_isometric_copies_cost_zero_and_plan_is_the_isometry():
    X = RNG.normal(size=(8, 3))
    Q, _ = np.linalg.qr(RNG.normal(size=(3, 3)))
    perm = RNG.permutation(8)
    Y = (X @ Q.T + 5.0)[perm]
    for solver in ("fw1", "fw2"):
        res = partial_gromov_wasserstein(gromov_cost_matrix(X), gromov_cost_matrix(Y),
                                         penalty=1.0, solver=solver)
        assert float(res.cost) < 1e-10
        assert np.allclose(res.plan[perm, np.arange(8)], 1 / 8)


def test_outliers_are_left_untransported_and_marginals_hold():
    X = RNG.normal(size=(10, 2))
    Y = np.vstack([X + 0.01 * RNG.normal(size=X.shape), RNG.normal(size=(4, 2)) * 0.5 + 30])
    p, q = np.ones(10), np.ones(14)
    C1, C2 = gromov_cost_matrix(X), gromov_cost_matrix(Y)
    for solver in ("fw1", "fw2"):
        res = partial_gromov_wasserstein(C1, C2, p, q, penalty=1.0, solver=solver)
        assert np.all(res.plan.sum(1) <= p + 1e-9) and np.all(res.plan.sum(0) <= q + 1e-9)
        assert np.allclose(res.plan[:, 10:], 0, atol=1e-9)
        assert abs(float(res.transported) - 10) < 1e-6
        # cost = GW term + lambda (|p|^2 + |q|^2 - 2 |plan|^2)
        expect = float(res.gw_cost) + 1.0 * (100 + 196 - 2 * float(res.transported) ** 2)
        assert abs(float(res.cost) - expect) < 1e-8


def test_small_penalty_transports_nothing_and_symmetry_on_copies():
    C1 = gromov_cost_matrix(RNG.normal(size=(6, 2)))
    C2 = gromov_cost_matrix(RNG.normal(size=(7, 2)) * 3)
    res = partial_gromov_wasserstein(C1, C2, penalty=1e-6)
    assert float(res.transported) < 1e-12
    assert abs(float(res.cost) - 1e-6 * (1 + 1)) < 1e-15
    a = partial_gromov_wasserstein(C1, C1[::-1, ::-1], penalty=0.5)
    b = partial_gromov_wasserstein(C1[::-1, ::-1], C1, penalty=0.5)
    assert abs(float(a.cost) - float(b.cost)) < 1e-10


def test_pgw_bad_inputs():
    C = np.zeros((3, 3))
    with pytest.raises(ValueError, match="C1 must be a square cost matrix"):
        partial_gromov_wasserstein(np.zeros((3, 2)), C)
    with pytest.raises(ValueError, match="p must have shape"):
        partial_gromov_wasserstein(C, C, p=np.ones(4))
    with pytest.raises(ValueError, match="solver must be one of"):
        partial_gromov_wasserstein(C, C, solver="sinkhorn")
    with pytest.raises(ValueError, match="G0 must be non-negative"):
        partial_gromov_wasserstein(C, C, G0=np.ones((3, 3)))
    with pytest.raises(ValueError, match="penalty must be non-negative"):
        partial_gromov_wasserstein(C, C, penalty=-1.0)


# ----------------------------------------------------------- fused partial GW
def _graph_pair(seed, n=10, extra=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    R = np.array([[0.0, -1.0], [1.0, 0.0]])
    Y = X @ R.T + 0.01 * rng.normal(size=(n, 2))
    fx = rng.normal(size=(n, 3))
    fy = fx + 0.05 * rng.normal(size=(n, 3))
    if extra:
        Y = np.r_[Y, 40 + rng.normal(size=(extra, 2))]
        fy = np.r_[fy, 6 + rng.normal(size=(extra, 3))]
    return X, Y, fx, fy


def test_fpgw_with_alpha_one_is_pgw():
    from mintlab.transport import fused_partial_gromov_wasserstein

    X, Y, fx, fy = _graph_pair(0, extra=2)
    C1, C2 = gromov_cost_matrix(X), gromov_cost_matrix(Y)
    M = ot.dist(fx, fy)
    a = fused_partial_gromov_wasserstein(M, C1, C2, alpha=1.0, penalty=0.3)
    b = partial_gromov_wasserstein(C1, C2, penalty=0.3)
    np.testing.assert_allclose(a.plan, b.plan, atol=1e-12)
    assert abs(float(a.cost) - float(b.cost)) < 1e-12


@pytest.mark.parametrize("solver", ["fw1", "fw2"])
def test_fpgw_large_penalty_equal_mass_matches_pot_fgw(solver):
    from mintlab.transport import fused_partial_gromov_wasserstein

    for seed in range(4):
        X, Y, fx, fy = _graph_pair(seed)
        C1, C2 = gromov_cost_matrix(X), gromov_cost_matrix(Y)
        M = ot.dist(fx, fy)
        p = np.full(10, 0.1)
        ours = fused_partial_gromov_wasserstein(M, C1, C2, alpha=0.4, penalty=1e3, solver=solver)
        ref = ot.gromov.fused_gromov_wasserstein2(M, C1, C2, p, p, alpha=0.4)
        assert abs(float(ours.transported) - 1.0) < 1e-9
        np.testing.assert_allclose(ours.plan.sum(1), p, atol=1e-9)
        # the same objective, computed independently from the plan
        G = ours.plan
        L = ((C1[:, None, :, None] - C2[None, :, None, :]) ** 2)
        fused = 0.6 * (M * G).sum() + 0.4 * np.einsum("ijkl,ij,kl->", L, G, G)
        assert abs(float(ours.cost) - fused) < 1e-9
        assert float(ours.cost) <= float(ref) + 1e-9, (seed, float(ours.cost), float(ref))


@pytest.mark.parametrize("solver", ["fw1", "fw2", "sinkhorn"])
def test_fpgw_leaves_extra_nodes(solver):
    from mintlab.transport import fused_partial_gromov_wasserstein

    X, Y, fx, fy = _graph_pair(1, extra=4)
    M = ot.dist(fx, fy)
    res = fused_partial_gromov_wasserstein(M, gromov_cost_matrix(X), gromov_cost_matrix(Y),
                                           p=np.full(10, 0.1), q=np.full(14, 0.1), alpha=0.5,
                                           penalty=0.5, solver=solver)
    assert float(res.plan[:, 10:].sum()) < 1e-6
    assert float(res.transported) > 0.99
    assert np.all(res.plan.sum(1) <= 0.1 + 1e-6) and np.all(res.plan.sum(0) <= 0.1 + 1e-6)
    assert abs(float(res.feature_cost) - float((M * res.plan).sum())) < 1e-9


def test_fpgw_sinkhorn_approaches_frank_wolfe_as_epsilon_falls():
    from mintlab.transport import fused_partial_gromov_wasserstein

    X, Y, fx, fy = _graph_pair(2)
    args = (ot.dist(fx, fy), gromov_cost_matrix(X), gromov_cost_matrix(Y))
    fw = float(fused_partial_gromov_wasserstein(*args, penalty=1.0).cost)
    gaps = [float(fused_partial_gromov_wasserstein(*args, penalty=1.0, solver="sinkhorn",
                                                   epsilon=e).cost) - fw for e in (0.3, 0.03)]
    assert gaps[0] > gaps[1] >= -1e-9 and gaps[1] < 0.05 * max(fw, 1e-3) + 0.01, gaps


def test_fpgw_bad_inputs():
    from mintlab.transport import fused_partial_gromov_wasserstein

    C = np.eye(3)
    with pytest.raises(ValueError, match="M must have shape"):
        fused_partial_gromov_wasserstein(np.zeros((3, 4)), C, C)
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\]"):
        fused_partial_gromov_wasserstein(np.zeros((3, 3)), C, C, alpha=1.5)
    with pytest.raises(ValueError, match="solver"):
        fused_partial_gromov_wasserstein(np.zeros((3, 3)), C, C, solver="lp")
    with pytest.raises(ValueError, match="epsilon must be positive"):
        fused_partial_gromov_wasserstein(np.zeros((3, 3)), C, C, solver="sinkhorn", epsilon=0)


# --------------------------------------------------------------- barycenters
def test_pgw_barycenter_of_copies_recovers_the_space():
    from mintlab.transport import partial_gromov_barycenter

    rng = np.random.default_rng(0)
    X = rng.normal(size=(9, 2))
    Cs = [gromov_cost_matrix(X[rng.permutation(9)]) for _ in range(3)]
    res = partial_gromov_barycenter(Cs, penalty=1.0, seed=0)
    assert res.converged and np.all(np.asarray(res.costs) < 1e-9)
    np.testing.assert_allclose(np.sort(res.C.ravel()), np.sort(Cs[0].ravel()), atol=1e-8)


def test_pgw_barycenter_ignores_extra_points_and_validates():
    from mintlab.transport import partial_gromov_barycenter

    rng = np.random.default_rng(1)
    X = rng.normal(size=(8, 2))
    spaces = [X[rng.permutation(8)] for _ in range(2)]
    spaces.append(np.r_[X, [[30.0, 30.0], [-30.0, 25.0]]])  # two outliers in one space
    Cs = [gromov_cost_matrix(s) for s in spaces]
    ps = [np.full(len(s), 1 / 8) for s in spaces]
    res = partial_gromov_barycenter(Cs, ps, n_points=8, p=np.full(8, 1 / 8), penalty=0.5, seed=0)
    assert float(res.C.max()) < 2 * float(gromov_cost_matrix(X).max())  # outliers not averaged in
    assert res.plans[2][:, 8:].sum() < 1e-9
    with pytest.raises(ValueError, match="non-empty list"):
        partial_gromov_barycenter([])
    with pytest.raises(ValueError, match="one mass vector per space"):
        partial_gromov_barycenter(Cs, ps[:1])
    with pytest.raises(ValueError, match="weights"):
        partial_gromov_barycenter(Cs, weights=[1.0, -1.0, 1.0])


def test_point_clouds_in_with_metric():
    from mintlab.transport import fused_partial_gromov_wasserstein

    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(7, 2)), rng.normal(size=(9, 3))
    a = partial_gromov_wasserstein(X, Y, penalty=0.4, metric="euclidean")
    b = partial_gromov_wasserstein(gromov_cost_matrix(X), gromov_cost_matrix(Y), penalty=0.4)
    np.testing.assert_allclose(a.plan, b.plan)
    M = rng.random((7, 9))
    c = fused_partial_gromov_wasserstein(M, X, Y, penalty=0.4, metric="sqeuclidean")
    d = fused_partial_gromov_wasserstein(M, gromov_cost_matrix(X, "sqeuclidean"),
                                         gromov_cost_matrix(Y, "sqeuclidean"), penalty=0.4)
    np.testing.assert_allclose(c.plan, d.plan)
    with pytest.raises(ValueError, match="metric"):
        partial_gromov_wasserstein(X, Y, metric="cosine")


@pytest.mark.parametrize("n, m", [(12, 63), (14, 78)])
def test_mass_search_start_never_asks_pot_for_a_negative_dummy_weight(n, m):
    # with these sizes and 10 masses the grid's last point exceeds min(|p|, |q|) by round-off;
    # it must not
    # exceed the smaller total, or POT sees a negative dummy weight and warns "infeasible"
    import warnings

    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(n, 2)), rng.normal(size=(m, 2))
    C1 = np.linalg.norm(X[:, None] - X[None], axis=-1)
    C2 = np.linalg.norm(Y[:, None] - Y[None], axis=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        res = partial_gromov_wasserstein(C1, C2, np.full(n, 1 / n), np.full(m, 1 / m),
                                         penalty=0.5, n_masses=10)
    assert np.isfinite(res.cost)


def test_n_masses_is_validated_even_with_a_start():
    C = gromov_cost_matrix(RNG.normal(size=(5, 2)))
    G0 = np.full((5, 5), 1 / 50)
    with pytest.raises(ValueError, match="n_masses"):
        partial_gromov_wasserstein(C, C, G0=G0, n_masses=0)
    from mintlab.transport import fused_partial_gromov_wasserstein, partial_gromov_barycenter

    with pytest.raises(ValueError, match="n_masses"):
        fused_partial_gromov_wasserstein(np.zeros((5, 5)), C, C, G0=G0, n_masses=0)
    with pytest.raises(ValueError, match="n_masses"):
        partial_gromov_barycenter([C, C], n_masses=0)
