import numpy as np
import ot
import pytest
import torch

from mintlab.transport import (
    partial_wasserstein_1d,
    partial_wasserstein_lp,
    random_directions,
    sliced_partial_wasserstein,
    sliced_wasserstein_distance,
)

RNG = np.random.default_rng(5)


@pytest.mark.parametrize("p", [1, 2])
def test_sw_matches_pot_with_same_projections(p):
    X, Y = RNG.normal(size=(40, 3)), RNG.normal(size=(30, 3)) + 1
    a, b = RNG.random(40), RNG.random(30)
    theta = random_directions(3, 20, seed=1).numpy()
    ours = sliced_wasserstein_distance(X, Y, a / a.sum(), b / b.sum(), p=p, projections=theta)
    ref = ot.sliced_wasserstein_distance(X, Y, a / a.sum(), b / b.sum(), p=p, projections=theta)
    assert abs(ours - ref) < 1e-10


def test_seed_reproduces_and_torch_grad():
    X = torch.randn(20, 4, dtype=torch.float64, requires_grad=True)
    Y = torch.randn(25, 4, dtype=torch.float64)
    d1 = sliced_wasserstein_distance(X, Y, seed=3)
    d2 = sliced_wasserstein_distance(X, Y, seed=3)
    assert d1.item() == d2.item()
    d1.backward()
    assert X.grad is not None and torch.isfinite(X.grad).all()


def test_sopt_is_mean_of_exact_slices():
    X, Y = RNG.normal(size=(12, 2)), RNG.normal(size=(9, 2))
    theta = random_directions(2, 6, seed=0).numpy()
    cost, per = sliced_partial_wasserstein(X, Y, 0.4, projections=theta, return_slices=True)
    costs = []
    for l in range(6):
        x, y = X @ theta[:, l], Y @ theta[:, l]
        M = np.abs(x[:, None] - y[None, :]) ** 2
        costs.append(float(partial_wasserstein_lp(np.ones(12), np.ones(9), M, 0.4).cost))
        assert abs(partial_wasserstein_1d(x, y, 0.4).cost - costs[-1]) < 1e-9
    assert abs(cost - np.mean(costs)) < 1e-9
    assert per.assignment.shape == (6, 12)


def test_sliced_bad_inputs():
    with pytest.raises(ValueError, match=r"X_t must have shape \(m, 3\) to match X_s"):
        sliced_wasserstein_distance(np.ones((4, 3)), np.ones((4, 2)))
    with pytest.raises(ValueError, match="X_s must be 2-dimensional"):
        sliced_partial_wasserstein(np.ones(4), np.ones((4, 2)), 1.0)
    with pytest.raises(ValueError, match=r"projections must have shape \(3, L\)"):
        sliced_wasserstein_distance(np.ones((4, 3)), np.ones((4, 3)), projections=np.ones((2, 5)))
    with pytest.raises(ValueError, match="n_projections must be >= 1"):
        sliced_wasserstein_distance(np.ones((4, 3)), np.ones((4, 3)), n_projections=0)
