"""Prehab: the experiment's control arm is prehab without the surrogate, step for step.

The experiment fine-tunes its control with :func:`finetune` (cheaper: the
rank surrogate is not evaluated) and claims it is the same as
:func:`prehab` with ``lam = 0``: the same Adam steps on the same batches.
That equivalence is checked here, as is the helper that reads a model's
surrogate without changing the model.
"""

import copy

import torch
from torch import nn

from mintlab.compress.svd import finetune, prehab
from mintlab.experiments.prehab import _surrogate


def _mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(12, 24), nn.Tanh(), nn.Linear(24, 16), nn.Tanh(),
                         nn.Linear(16, 5))


def _batches(n=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(16, 12, generator=g), torch.randint(0, 5, (16,), generator=g))
            for _ in range(n)]


def test_control_arm_equals_prehab_with_lambda_zero():
    batches = _batches()
    a, b = _mlp(), _mlp()
    prehab(a, batches, steps=12, lr=1e-2, lam=0.0, surrogate="nuclear")
    finetune(b, batches, steps=12, lr=1e-2)
    for (n, p), (_, q) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-7, msg=n)
    # and lambda > 0 does move the weights elsewhere
    c = _mlp()
    prehab(c, batches, steps=12, lr=1e-2, lam=1.0, surrogate="nuclear")
    assert not torch.allclose(c[0].weight, b[0].weight, atol=1e-4)


def test_surrogate_reading_leaves_the_model_unchanged():
    batches = _batches()
    model = _mlp()
    before = copy.deepcopy(model.state_dict())
    value = _surrogate(model, batches, exclude=None)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])
    log = prehab(copy.deepcopy(model), batches, steps=1, lr=1e-2, lam=0.0, surrogate="nuclear")
    assert value == log["surrogate_before"]

