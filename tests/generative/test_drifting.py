"""Drifting and Sinkhorn drifting: couplings against POT, fixed points, flows, determinism."""

import numpy as np
import ot
import pytest
import torch

from mintlab.generative import DriftingGenerator, drift, particle_flow, sinkhorn_coupling


def test_sinkhorn_coupling_matches_pot_and_has_the_marginals():
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(30, 2)), rng.normal(size=(40, 2)) + 1
    for cost, M in (("euclidean", ot.dist(X, Y, metric="euclidean")),
                    ("sqeuclidean", ot.dist(X, Y))):
        P = sinkhorn_coupling(torch.tensor(X), torch.tensor(Y), 0.5, cost, n_iter=2000).numpy()
        ref = ot.sinkhorn(np.full(30, 1 / 30), np.full(40, 1 / 40), M, 0.5, numItermax=5000,
                          stopThr=1e-13)
        np.testing.assert_allclose(P, ref, atol=1e-10)
        np.testing.assert_allclose(P.sum(1), 1 / 30, atol=1e-10)
        np.testing.assert_allclose(P.sum(0), 1 / 40, atol=1e-12)


def test_sinkhorn_drift_vanishes_only_when_measures_match():
    rng = np.random.default_rng(1)
    Y = rng.normal(size=(64, 2))
    assert np.abs(drift(Y, Y, 0.3)).max() < 1e-10
    X = Y + np.array([1.0, 0.0])
    V = drift(X, Y, 0.3)
    assert V[:, 0].mean() < -0.5 and abs(V[:, 1].mean()) < 0.2  # pushes back towards the data
    # the one-sided kernel drift is not zero at the data itself (no identifiability)
    assert np.abs(drift(Y, Y, 0.3, method="kernel")).max() > 1e-3


def test_particle_flow_moves_towards_the_data():
    rng = np.random.default_rng(2)
    Y = rng.normal(size=(200, 2)) * 0.3 + np.array([2.0, -1.0])
    X0 = rng.normal(size=(100, 2))
    w0 = ot.emd2([], [], ot.dist(X0, Y))
    for method in ("sinkhorn", "kernel"):
        X = particle_flow(X0, Y, 0.2, method=method, steps=60, step_size=0.5)
        assert ot.emd2([], [], ot.dist(X, Y)) < 0.2 * w0, method


def test_generator_is_deterministic_and_learns():
    rng = np.random.default_rng(3)
    Y = rng.normal(size=(500, 2)) * 0.2 + 1.5
    a = DriftingGenerator(2, hidden=32, depth=2, temperature=0.2, seed=5)
    losses = a.fit(Y, steps=150, batch_size=64, lr=3e-3)
    b = DriftingGenerator(2, hidden=32, depth=2, temperature=0.2, seed=5)
    b.fit(Y, steps=150, batch_size=64, lr=3e-3)
    Sa, Sb = a.sample(300, seed=0), b.sample(300, seed=0)
    assert torch.equal(Sa, Sb) and Sa.shape == (300, 2)
    assert np.mean(losses[-20:]) < np.mean(losses[:20])
    assert np.abs(Sa.numpy().mean(0) - 1.5).max() < 0.3


def test_torch_dtype_kept_and_bad_inputs():
    X = torch.randn(10, 3, dtype=torch.float32)
    assert drift(X, X + 1, 0.5).dtype == torch.float32
    with pytest.raises(ValueError, match="temperature"):
        drift(X, X, 0.0)
    with pytest.raises(ValueError, match="method"):
        drift(X, X, 0.1, method="mmd")
    with pytest.raises(ValueError, match="Y must have shape"):
        drift(X, torch.randn(5, 2), 0.1)
    with pytest.raises(ValueError, match="at least 2"):
        drift(X[:1], X, 0.1)
    with pytest.raises(ValueError, match="data must have shape"):
        DriftingGenerator(3).fit(np.zeros((10, 2)))
    with pytest.raises(ValueError, match="steps"):
        particle_flow(X, X, 0.1, steps=0)
    with pytest.raises(ValueError, match="reg"):
        sinkhorn_coupling(X, X, 0.0)
    with pytest.raises(ValueError, match="Y must have shape"):
        sinkhorn_coupling(X, torch.randn(4, 2), 0.1)
    assert isinstance(sinkhorn_coupling(X.numpy(), X.numpy(), 0.5), np.ndarray)


def test_sinkhorn_drift_is_minus_n_times_the_sinkhorn_divergence_gradient():
    # external oracle: GeomLoss's debiased Sinkhorn divergence (cost |x - y|^2 / 2, blur^2 =
    # epsilon); with the squared Euclidean cost and regularisation tau, drift = -n grad S
    geomloss = pytest.importorskip("geomloss")
    rng = np.random.default_rng(4)
    X, Y = rng.normal(size=(40, 3)), rng.normal(size=(50, 3)) + 1.0
    tau = 2.0
    Xt = torch.tensor(X, requires_grad=True)
    loss = geomloss.SamplesLoss("sinkhorn", p=2, blur=np.sqrt(tau / 2), scaling=0.999,
                                debias=True, backend="tensorized")
    (grad,) = torch.autograd.grad(loss(Xt, torch.tensor(Y)), Xt)
    V = drift(X, Y, tau, cost="sqeuclidean", n_iter=3000)
    assert np.linalg.norm(V + len(X) * grad.numpy()) / np.linalg.norm(V) < 2e-3


def test_generator_weights_come_from_its_seed_and_never_reseed_torch():
    before = torch.initial_seed()
    a = DriftingGenerator(3, hidden=16, depth=2, seed=before + 7)
    torch.rand(5)  # move the global stream: the weights must not depend on it
    b = DriftingGenerator(3, hidden=16, depth=2, seed=before + 7)
    c = DriftingGenerator(3, hidden=16, depth=2, seed=before + 8)
    assert torch.initial_seed() == before  # torch.manual_seed was never called
    for pa, pb, pc in zip(a.parameters(), b.parameters(), c.parameters(), strict=True):
        assert torch.equal(pa, pb) and not torch.equal(pa, pc)
    bound = 1 / np.sqrt(3)  # PyTorch's default scheme: uniform within 1/sqrt(fan_in)
    w = a.net[0].weight
    assert float(w.abs().max()) <= bound and float(w.abs().max()) > 0.5 * bound
    with pytest.raises(ValueError, match="seed"):
        DriftingGenerator(2, seed=-1)
