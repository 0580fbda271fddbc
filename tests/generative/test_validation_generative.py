"""Bad input to the generative models, and no global random state touched by seeded ones."""

import random

import numpy as np
import pytest
import torch

from mintlab.generative import DriftingGenerator, MeanFlow, drift, pair_noise, particle_flow


@pytest.mark.parametrize("make", [lambda: DriftingGenerator(2, hidden=8, depth=2, seed=3),
                                  lambda: MeanFlow(2, hidden=8, depth=2, seed=3)])
def test_constructors_and_fit_leave_the_global_generators_alone(make):
    torch.manual_seed(7)
    np.random.seed(7)  # noqa: NPY002 - the global state is under test
    random.seed(7)
    before = (torch.get_rng_state().clone(), np.random.get_state()[1].copy(), random.getstate())  # noqa: NPY002
    a = make()
    a.fit(np.random.default_rng(0).normal(size=(16, 2)), steps=2, batch_size=4)
    a.sample(3, seed=0)
    assert torch.equal(before[0], torch.get_rng_state())
    assert np.array_equal(before[1], np.random.get_state()[1]) and before[2] == random.getstate()  # noqa: NPY002
    torch.manual_seed(99)  # the weights come from the seed alone
    b = make()
    b.fit(np.random.default_rng(0).normal(size=(16, 2)), steps=2, batch_size=4)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)


@pytest.mark.parametrize("cls", [DriftingGenerator, MeanFlow])
def test_fit_rejects_bad_data_before_training(cls):
    model = cls(2, hidden=4, depth=1, seed=0)
    data = np.random.default_rng(0).normal(size=(16, 2))
    data[3, 1] = np.nan
    start = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(ValueError, match="data must be finite"):
        model.fit(data, steps=1)
    with pytest.raises(ValueError, match=r"data must have shape \(m, 2\)"):
        model.fit(np.zeros((16, 3)), steps=1)
    with pytest.raises(TypeError, match="data must hold numbers|data must be"):
        model.fit("data", steps=1)
    assert all(torch.equal(p, q) for p, q in zip(start, model.parameters(), strict=True))
    with pytest.raises(ValueError, match="n must be >= 1"):
        model.sample(0)
    with pytest.raises(TypeError, match="seed"):
        model.sample(2, seed=0.5)


def test_generator_options_are_checked():
    with pytest.raises(ValueError, match="noise_dim must be >= 1"):
        DriftingGenerator(2, noise_dim=0)
    with pytest.raises(ValueError, match="hidden must be >= 1"):
        DriftingGenerator(2, hidden=0)
    with pytest.raises(TypeError, match="multistep_only must be True or False"):
        MeanFlow(2, multistep_only="yes")
    X = np.random.default_rng(0).normal(size=(5, 2))
    with pytest.raises(ValueError, match="cost must be one of"):
        particle_flow(X, X, 0.5, cost="manhattan", steps=1)
    with pytest.raises(ValueError, match="n_iter must be >= 1"):
        particle_flow(X, X, 0.5, n_iter=0, steps=1)
    with pytest.raises(ValueError, match="temperature must be positive"):
        drift(X, X, 0.0)
    x = torch.as_tensor(X)
    with pytest.raises(ValueError, match="x must be finite"):
        pair_noise(x.masked_fill(x > 0, float("nan")), x)
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        pair_noise(x, x, "sliced", generator=0)
