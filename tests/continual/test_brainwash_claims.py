"""BrainWash's perturbation stays within its bound and follows its update rule (``brainwash``).

The experiment's former ``perturbation_within_bound`` check: it holds by
construction (every update of the noise is projected back into the norm ball
and clipped to the valid pixel range), so it is a property test here. One
round of the attack is checked against the one-step look-ahead written out by
hand for a linear classifier.
"""

import pytest
import torch
import torch.nn.functional as F

from mintlab._random import make_generator
from mintlab.continual import ContinualMLP, Naive, permuted_digits
from mintlab.continual.attacks import brainwash, random_perturbation
from mintlab.continual.benchmarks import Task
from mintlab.continual.inversion import InvertedSet, invert_model


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


def _linear_setting():
    """A 4-3 linear classifier, a one-batch task with pixels well inside [0, 1] (no clipping)."""
    g = torch.Generator().manual_seed(11)
    net = torch.nn.Linear(4, 3)
    with torch.no_grad():
        net.weight.copy_(torch.randn(3, 4, generator=g))
        net.bias.copy_(torch.randn(3, generator=g))
    X = 0.4 + 0.2 * torch.rand(12, 4, generator=g)
    y = torch.randint(0, 3, (12,), generator=g)
    task = Task(1, "new", X, y, X[:3], y[:3], 3, (0, 1, 2))
    inv_X = torch.rand(9, 4, generator=g)
    inv = InvertedSet(inv_X, torch.arange(3).repeat_interleave(3), 0, 0.0)
    return net, task, inv


@pytest.mark.parametrize(("mode", "weight"), [("reckless", 0.0), ("cautious", 0.7)])
def test_one_round_is_a_signed_step_on_the_look_ahead_objective(mode, weight):
    # oracle written out by hand: theta' = theta - lr * grad CE(theta; x + delta, y), then
    # delta <- clamp(delta - a * sign(grad_delta [-CE(theta'; x_inv, y_inv)
    #                                             + w CE(theta'; x + delta, y)]), -eps, eps)
    net, task, inv = _linear_setting()
    eps, lr, a, seed = 0.1, 0.5, 0.03, 4
    att = brainwash(net, task, [inv], epsilon=eps, mode=mode, cautious_weight=weight, rounds=1,
                    victim_lr=lr, attack_lr=a, batch_size=64, seed=seed)
    g = make_generator(seed)
    d0 = ((torch.rand(task.X_train.shape, generator=g) * 2 - 1) * eps).requires_grad_(True)
    W, b = net.weight.detach(), net.bias.detach()
    Wr, br = W.clone().requires_grad_(True), b.clone().requires_grad_(True)
    inner = F.cross_entropy((task.X_train + d0) @ Wr.T + br, task.y_train)
    gW, gb = torch.autograd.grad(inner, [Wr, br], create_graph=True)
    W1, b1 = Wr - lr * gW, br - lr * gb
    outer = -F.cross_entropy(inv.X @ W1.T + b1, inv.y)
    if mode == "cautious":
        outer = outer + weight * F.cross_entropy((task.X_train + d0) @ W1.T + b1, task.y_train)
    (gd,) = torch.autograd.grad(outer, [d0])
    expected = (d0.detach() - a * gd.sign()).clamp(-eps, eps)
    assert torch.allclose(att.delta, expected, atol=1e-6)
    assert len(att.history) == 1


def test_attack_on_a_multi_head_learner_leaves_it_untouched():
    # the experiment's setting: one head per task, a proxy per earlier head
    net = ContinualMLP(64, [16], [10, 10, 10], seed=0)
    s = permuted_digits(3, seed=1)
    small = Task(2, "new", s[2].X_train[:64], s[2].y_train[:64], s[2].X_test[:8],
                 s[2].y_test[:8], 10, s[2].classes)
    inv = [invert_model(net, range(10), 1, 64, task_id=t, steps=5, seed=t) for t in (0, 1)]
    assert [i.task_id for i in inv] == [0, 1]
    before = {k: v.clone() for k, v in net.state_dict().items()}
    att = brainwash(net, small, inv, epsilon=0.2, rounds=2, batch_size=32, seed=0)
    assert att.delta.shape == small.X_train.shape and float(att.delta.abs().max()) <= 0.2 + 1e-6
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())


def test_experiment_runs_with_the_convnet_backbone():
    import dataclasses

    from mintlab.experiments import brainwash as exp

    tiny = dataclasses.replace(exp.QUICK, seeds=1, backbone="convnet", n_train=10, n_test=4,
                               epochs=1, rounds=1, inverted_per_class=1, inversion_steps=1)
    res = exp.run(tiny, seed=0)
    assert len(res.checks) == len(exp.LEARNERS)
    assert {c.claim for c in res.checks.values()} == set(exp.CLAIMS)
    assert 0.0 <= res.metrics["GPM_poisoned_earlier_tasks_accuracy"] <= 1.0
