"""Mean flows: the OT pairing is optimal, the target identity holds, sampling is seeded."""

import itertools

import numpy as np
import pytest
import torch

from mintlab.generative import MeanFlow, pair_noise


def test_ot_pairing_is_the_optimal_assignment():
    g = torch.Generator().manual_seed(0)
    x, e = torch.randn(6, 2, generator=g), torch.randn(6, 2, generator=g)
    paired = pair_noise(x, e, "ot")
    cost = float((x - paired).square().sum())
    brute = min(float((x - e[list(p)]).square().sum()) for p in itertools.permutations(range(6)))
    assert cost == pytest.approx(brute)
    assert sorted(map(tuple, paired.tolist())) == sorted(map(tuple, e.tolist()))  # a permutation
    assert torch.equal(pair_noise(x, e, "independent"), e)
    s = pair_noise(x, e, "sliced", torch.Generator().manual_seed(1))
    assert sorted(map(tuple, s.tolist())) == sorted(map(tuple, e.tolist()))


def test_mean_flow_target_is_exact_for_a_straight_flow():
    # if u(z, r, t) = v everywhere (constant velocity field), the identity's target equals v
    m = MeanFlow(2, hidden=8, depth=1, seed=0)
    with torch.no_grad():
        for p in m.parameters():
            p.zero_()
        m.u.net[-1].bias.copy_(torch.tensor([1.0, -2.0]))
    x = torch.zeros(16, 2)
    e = x + torch.tensor([1.0, -2.0])  # v = e - x = the field's value
    assert float(m.loss(x, e, torch.Generator().manual_seed(0)).detach()) < 1e-12


def test_one_step_sampling_and_determinism():
    rng = np.random.default_rng(0)
    Y = rng.normal(size=(400, 2)) * 0.2 + np.array([1.0, -1.0])
    a = MeanFlow(2, hidden=32, depth=2, seed=3)
    losses = a.fit(Y, steps=200, batch_size=64, lr=3e-3)
    b = MeanFlow(2, hidden=32, depth=2, seed=3)
    b.fit(Y, steps=200, batch_size=64, lr=3e-3)
    Sa, Sb = a.sample(200, seed=1), b.sample(200, seed=1)
    assert torch.equal(Sa, Sb) and Sa.shape == (200, 2)
    assert np.mean(losses[-20:]) < np.mean(losses[:20])
    assert np.abs(Sa.numpy().mean(0) - [1.0, -1.0]).max() < 0.3
    fm = MeanFlow(2, hidden=32, depth=2, multistep_only=True, seed=3)
    fm.fit(Y, steps=200, batch_size=64, lr=3e-3)
    assert fm.sample(100, steps=20, seed=0).shape == (100, 2)


def test_bad_inputs():
    with pytest.raises(ValueError, match="coupling"):
        MeanFlow(2, coupling="sinkhorn")
    with pytest.raises(ValueError, match="flow_fraction"):
        MeanFlow(2, flow_fraction=1.5)
    with pytest.raises(ValueError, match="data must have shape"):
        MeanFlow(2).fit(np.zeros((10, 3)))
    with pytest.raises(ValueError, match="steps"):
        MeanFlow(2).sample(5, steps=0)
    with pytest.raises(ValueError, match="share one shape"):
        pair_noise(torch.zeros(4, 2), torch.zeros(5, 2))
    with pytest.raises(TypeError, match="torch tensors"):
        pair_noise(np.zeros((4, 2)), np.zeros((4, 2)))


def test_flow_matching_loss_is_plain_velocity_regression_and_seeding_is_private():
    before = torch.initial_seed()
    fm = MeanFlow(2, hidden=16, depth=2, multistep_only=True, seed=before + 1)
    assert torch.initial_seed() == before
    g = torch.Generator().manual_seed(0)
    x, e = torch.randn(32, 2, generator=g), torch.randn(32, 2, generator=g)
    loss = fm.loss(x, e, torch.Generator().manual_seed(1))
    # the same times, drawn again from the same generator state
    r, t = fm._times(32, torch.Generator().manual_seed(1), x)
    assert torch.equal(r, t)
    z = (1 - t[:, None]) * x + t[:, None] * e
    ref = (fm(z, r, t) - (e - x)).square().sum(1).mean()
    assert float(loss) == pytest.approx(float(ref), rel=1e-6)
    m1, m2 = MeanFlow(2, hidden=16, seed=3), MeanFlow(2, hidden=16, seed=3)
    assert all(torch.equal(p, q) for p, q in zip(m1.parameters(), m2.parameters(), strict=True))


def test_ot_pairing_agrees_with_torchcfm():
    pytest.importorskip("torchcfm")
    from torchcfm.optimal_transport import OTPlanSampler

    g = torch.Generator().manual_seed(2)
    x, e = torch.randn(64, 5, generator=g), torch.randn(64, 5, generator=g)
    ours = pair_noise(x, e, "ot")  # ours[i] is the noise paired with x[i]
    plan = OTPlanSampler(method="exact").get_map(e, x)  # (noise, data), a permutation
    theirs = torch.empty_like(e)
    theirs[torch.as_tensor(plan.argmax(1))] = e
    assert torch.equal(ours, theirs)
