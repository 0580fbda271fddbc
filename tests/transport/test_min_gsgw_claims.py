"""The amortised min-GSGW slicer network (``min-gsgw``): what holds by construction.

The experiment judges how good the amortised plans are on unseen mesh pairs;
here: the network's values are unchanged by rigid motions (its input is each
cloud's principal frame), its plan's cost is the GW objective of the plan
(POT's ``gwloss`` as the oracle), applying it runs no optimisation, and a
network trained across pairs beats a fresh random start on unseen pairs.
"""

import numpy as np
import ot
import pytest
import torch

from mintlab.datasets import sample_mesh_surface
from mintlab.experiments.min_gsgw import _rotation
from mintlab.transport import gromov_cost_matrix, min_generalized_sliced_gromov_wasserstein
from mintlab.transport.sliced_gromov import (
    AmortizedGSGWSlicer,
    amortized_gsgw_plan,
    fit_amortized_gsgw,
)


def _pair(rng, shape, n=200):
    X = sample_mesh_surface(shape, n, rng) * rng.uniform(0.85, 1.15, 3)
    Y = sample_mesh_surface(shape, n, rng) * rng.uniform(0.85, 1.15, 3)
    return X, Y @ _rotation(rng).T + rng.normal(size=3)


def _pot_gwloss(X, Y, G):
    C1, C2 = gromov_cost_matrix(X), gromov_cost_matrix(Y)
    constC, hC1, hC2 = ot.gromov.init_matrix(C1, C2, G.sum(1), G.sum(0), "square_loss")
    return float(ot.gromov.gwloss(constC, hC1, hC2, G))


@pytest.fixture(scope="module")
def trained():
    rng = np.random.default_rng(0)
    pairs = [_pair(rng, s) for s in ("capsule", "cylinder", "cone") for _ in range(2)]
    net = AmortizedGSGWSlicer(3, hidden=16, embed=4, seed=0)
    losses = fit_amortized_gsgw(net, pairs, n_steps=150, batch_size=64, seed=0)
    return net, losses


def test_amortized_values_are_rigid_motion_invariant():
    rng = np.random.default_rng(1)
    net = AmortizedGSGWSlicer(3, hidden=8, embed=4, seed=1)
    X = rng.normal(size=(50, 3)) * np.array([2.0, 1.0, 0.5]) + rng.exponential(size=(50, 3))
    Y = rng.normal(size=(40, 3)) * np.array([1.5, 1.0, 0.3]) + rng.exponential(size=(40, 3))
    s, t = net(torch.tensor(X), torch.tensor(Y))
    s2, t2 = net(torch.tensor(X @ _rotation(rng).T + 3.0), torch.tensor(Y @ _rotation(rng).T))
    assert torch.allclose(s, s2, atol=1e-10) and torch.allclose(t, t2, atol=1e-10)


def test_amortized_plan_cost_is_the_gw_objective_and_runs_no_optimisation(trained,
                                                                           monkeypatch):
    net, _ = trained
    before = {k: v.clone() for k, v in net.state_dict().items()}

    def no_optimiser(*args, **kwargs):
        raise AssertionError("applying the amortised network must not build an optimiser")

    monkeypatch.setattr(torch.optim, "Adam", no_optimiser)
    X, Y = _pair(np.random.default_rng(2), "capsule", 150)
    res = amortized_gsgw_plan(net, X, Y)
    assert float(res.cost) == pytest.approx(_pot_gwloss(X, Y, res.plan), rel=1e-10)
    assert np.allclose(res.plan.sum(1), 1 / 150) and np.allclose(res.plan.sum(0), 1 / 150)
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())
    again = res.transfer(X, Y)
    assert float(again.cost) == pytest.approx(float(res.cost), rel=1e-12)


def test_amortized_network_beats_a_fresh_random_start_on_unseen_pairs(trained):
    net, losses = trained
    assert np.mean(losses[-20:]) < np.mean(losses[:20])
    rng = np.random.default_rng(3)
    wins = 0
    for shape in ("capsule", "cylinder", "cone"):
        X, Y = _pair(rng, shape)
        amort = float(amortized_gsgw_plan(net, X, Y).cost)
        fresh = float(min_generalized_sliced_gromov_wasserstein(X, Y, n_iter=0, n_init=8,
                                                                seed=0).cost)
        wins += amort < fresh
    assert wins == 3


def test_amortized_validation():
    net = AmortizedGSGWSlicer(3, hidden=4, embed=2, seed=0)
    with pytest.raises(ValueError, match="must have 3 columns"):
        net(torch.zeros(5, 2, dtype=torch.float64), torch.zeros(5, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="at least one"):
        fit_amortized_gsgw(net, [])
    with pytest.raises(TypeError, match="AmortizedGSGWSlicer"):
        amortized_gsgw_plan(object(), np.zeros((3, 3)), np.zeros((3, 3)))
