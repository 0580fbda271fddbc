import numpy as np
import pytest

from mintlab.transport import gromov_cost_matrix

RNG = np.random.default_rng(12)


def _gw_dense(C1, C2, G):
    return float((((C1[:, None, :, None] - C2[None, :, None, :]) ** 2) * G[:, :, None, None]
                  * G[None, None]).sum())


def test_min_gsgw_cost_is_the_gw_objective_of_its_plan_and_bounds_gw():
    from mintlab.transport import min_generalized_sliced_gromov_wasserstein

    X = RNG.normal(size=(25, 3))
    Y = RNG.normal(size=(30, 2)) * np.array([2.0, 0.5])
    a = RNG.random(25) + 0.1
    res = min_generalized_sliced_gromov_wasserstein(X, Y, a, None, n_iter=30, seed=1)
    C1, C2 = gromov_cost_matrix(X), gromov_cost_matrix(Y)
    assert abs(float(res.cost) - _gw_dense(C1, C2, res.plan)) < 1e-9
    assert np.allclose(res.plan.sum(1), a / a.sum()) and np.allclose(res.plan.sum(0), 1 / 30)
    # the search never ends worse than its random-search start
    assert 0 <= res.cost <= res.history[0] + 1e-12


def test_min_gsgw_finds_isometries_and_transfers():
    from mintlab.transport import MLPSlicer, min_generalized_sliced_gromov_wasserstein

    X = RNG.normal(size=(40, 2)) * np.array([3.0, 1.0])
    Q = np.array([[0.0, -1.0], [1.0, 0.0]])
    res = min_generalized_sliced_gromov_wasserstein(X, X @ Q.T + 2.0, n_iter=100, seed=0)
    assert float(res.cost) < 1e-9
    # the learned slicers carry over to a fresh sample of the same pair of shapes: better
    # than a fresh random search (exact matching would need exactly related directions)
    X2 = RNG.normal(size=(40, 2)) * np.array([3.0, 1.0])
    moved = res.transfer(X2, X2 @ Q.T + 2.0)
    fresh = min_generalized_sliced_gromov_wasserstein(X2, X2 @ Q.T + 2.0, n_iter=0, seed=0)
    assert float(moved.cost) < float(fresh.cost)
    pair = (MLPSlicer(2, 1, hidden=8, seed=0), MLPSlicer(2, 1, hidden=8, seed=1))
    r2 = min_generalized_sliced_gromov_wasserstein(X, X @ Q.T, slicers=pair, n_iter=5, seed=0)
    assert r2.cost <= r2.history[0] + 1e-12
    with pytest.raises(TypeError, match="pair of torch.nn.Module"):
        min_generalized_sliced_gromov_wasserstein(X, X, slicers=pair[0])


def _pot_gwloss(X, Y, G):
    import ot

    C1, C2 = gromov_cost_matrix(X), gromov_cost_matrix(Y)
    constC, hC1, hC2 = ot.gromov.init_matrix(C1, C2, G.sum(1), G.sum(0), "square_loss")
    return float(ot.gromov.gwloss(constC, hC1, hC2, G))


def test_residual_mlp_slicer_starts_linear_and_has_exact_gradients():
    import torch

    from mintlab.transport.slicers import LinearSlicer, ResidualMLPSlicer

    theta = torch.tensor([[0.6], [0.8], [0.0]], dtype=torch.float64)
    s = ResidualMLPSlicer(3, hidden=5, seed=0, directions=theta)
    lin = LinearSlicer(3, directions=theta)
    X = torch.tensor(RNG.normal(size=(7, 3)))
    assert torch.allclose(s(X), lin(X), atol=1e-15)
    with torch.no_grad():
        s.w2.normal_(generator=torch.Generator().manual_seed(0))
    Xg = X.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: s(x), (Xg,))
    with pytest.raises(ValueError, match="hidden must be >= 1"):
        ResidualMLPSlicer(3, hidden=0)


def test_soft_gw_loss_gradcheck_and_hard_limit():
    import torch

    from mintlab.transport.sliced_gromov import _soft_gw_loss

    xb = torch.tensor(RNG.normal(size=(9, 3)))
    yb = torch.tensor(RNG.normal(size=(9, 2)))
    s = torch.tensor(RNG.normal(size=9), requires_grad=True)
    t = torch.tensor(RNG.normal(size=9), requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda s, t: _soft_gw_loss(xb, yb, s, t, 0.3, scales=(1.0, 1.0)), (s, t))
    # at a tiny temperature the soft plan is the sorted matching: its GW objective
    G = np.zeros((9, 9))
    G[np.argsort(s.detach().numpy()), np.argsort(t.detach().numpy())] = 1 / 9
    hard = _gw_dense(gromov_cost_matrix(xb.numpy()), gromov_cost_matrix(yb.numpy()), G)
    assert float(_soft_gw_loss(xb, yb, s, t, 1e-6)) == pytest.approx(hard, rel=1e-8)


@pytest.mark.parametrize("n", [60, 700])
def test_min_gsgw_mlp_cost_is_pot_gw_objective_and_never_worse_than_start(n):
    from mintlab.transport import min_generalized_sliced_gromov_wasserstein

    rng = np.random.default_rng(n)
    X = rng.normal(size=(n, 3)) * np.array([2.0, 1.0, 0.5])
    Y = rng.normal(size=(n, 3)) * np.array([0.5, 2.2, 1.0])
    res = min_generalized_sliced_gromov_wasserstein(X, Y, slicers="mlp", n_iter=20, seed=0,
                                                    hidden=8)
    # n = 700 ranks the random start on an estimate; the cost is still exact
    assert float(res.cost) == pytest.approx(_pot_gwloss(X, Y, res.plan), rel=1e-10)
    assert float(res.cost) <= res.history[0] + 1e-12
    assert np.allclose(res.plan.sum(1), 1 / n) and np.allclose(res.plan.sum(0), 1 / n)
    with pytest.raises(ValueError, match="slicers must be None, 'linear', 'mlp'"):
        min_generalized_sliced_gromov_wasserstein(X, Y, slicers="poly")


def test_amortized_training_validates_its_arguments():
    import torch

    from mintlab.transport import AmortizedGSGWSlicer, fit_amortized_gsgw

    net = AmortizedGSGWSlicer(3, hidden=4, embed=2, seed=0)
    X = RNG.normal(size=(12, 3))
    with pytest.raises(ValueError, match="lr must be positive"):
        fit_amortized_gsgw(net, [(X, X)], n_steps=1, lr=0.0)
    with pytest.raises(ValueError, match="temperature must be positive"):
        fit_amortized_gsgw(net, [(X, X)], n_steps=1, temperature=-1.0)
    with pytest.raises(ValueError, match=r"pairs\[0\] must hold clouds with 3 columns"):
        fit_amortized_gsgw(net, [(X[:, :2], X[:, :2])], n_steps=1)
    with pytest.raises(ValueError, match=r"pairs\[1\] must be an \(X, Y\) pair"):
        fit_amortized_gsgw(net, [(X, X), X], n_steps=1)
    losses = fit_amortized_gsgw(net, ((X, X) for _ in range(2)), n_steps=2, seed=0)
    assert len(losses) == 2 and all(np.isfinite(losses))
    with pytest.raises(ValueError, match="network's device"):
        net(torch.zeros(4, 3, dtype=torch.float64, device="meta"),
            torch.zeros(4, 3, dtype=torch.float64))
