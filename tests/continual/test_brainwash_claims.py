"""BrainWash's perturbation stays within its bound (``brainwash``).

The experiment's former ``perturbation_within_bound`` check: it holds by
construction (every update of the noise is projected back into the norm ball
and clipped to the valid pixel range), so it is a property test here.
"""

import pytest
import torch

from mintlab.continual import ContinualMLP, Naive, permuted_digits
from mintlab.continual.attacks import brainwash, random_perturbation
from mintlab.continual.benchmarks import Task
from mintlab.continual.inversion import invert_model


@pytest.fixture(scope="module")
def setting():
    s = permuted_digits(2, seed=3)
    small = Task(1, "new", s[1].X_train[:96], s[1].y_train[:96], s[1].X_test[:32],
                 s[1].y_test[:32], 10, s[1].classes)
    net = ContinualMLP(64, [16], [10], seed=0)
    Naive(net, epochs=2, lr=0.05).train(s[0])
    inv = [invert_model(net, range(10), 2, 64, steps=20, seed=0)]
    return net, small, inv


@pytest.mark.parametrize(("norm", "eps"), [("inf", 0.3), ("inf", 0.05), ("l2", 1.0)])
def test_perturbation_within_bound(setting, norm, eps):
    net, task, inv = setting
    att = brainwash(net, task, inv, epsilon=eps, norm=norm, rounds=3, batch_size=32,
                    attack_lr=0.5, seed=1)
    d = att.delta
    assert d.shape == task.X_train.shape
    if norm == "inf":
        assert float(d.abs().max()) <= eps + 1e-6
    else:
        assert float(d.flatten(1).norm(dim=1).max()) <= eps + 1e-5
    X = att.apply(task).X_train
    assert float(X.min()) >= 0.0 and float(X.max()) <= 1.0
    # the noise is not trivially zero: the attack moved the inputs
    assert float((X - task.X_train).abs().max()) > 0


def test_random_control_has_the_attack_norm():
    d = random_perturbation((50, 64), 0.3, "inf", seed=0)
    assert torch.allclose(d.abs(), torch.full_like(d, 0.3))
    d2 = random_perturbation((50, 64), 1.5, "l2", seed=0)
    assert torch.allclose(d2.norm(dim=1), torch.full((50,), 1.5), atol=1e-5)
