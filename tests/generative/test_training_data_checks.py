"""Training data is checked once, where it lives, before the first step."""

import numpy as np
import pandas as pd
import pytest
import torch

from mintlab.generative import DriftingGenerator, MeanFlow


@pytest.mark.parametrize("make", [lambda: DriftingGenerator(2, hidden=8, depth=1, seed=0),
                                  # (the "ot" and "sliced" pairings call the public
                                  # transport.couple, which checks its batch each step)
                                  lambda: MeanFlow(2, hidden=8, depth=1, seed=0,
                                                   coupling="independent")])
def test_data_finiteness_is_checked_a_constant_number_of_times(make, monkeypatch):
    from mintlab import _validation

    calls = []
    real = _validation.check_finite
    monkeypatch.setattr(_validation, "check_finite",
                        lambda t, name: calls.append(name) or real(t, name))
    data = np.random.default_rng(0).normal(size=(16, 2))
    make().fit(data, steps=2, batch_size=4)
    short = list(calls)
    calls.clear()
    make().fit(data, steps=6, batch_size=4)
    assert short == calls and "data" in calls


def test_pandas_and_float16_data_are_accepted_and_train_alike():
    data = np.random.default_rng(0).normal(size=(16, 2))
    a, b = (DriftingGenerator(2, hidden=8, depth=1, seed=0) for _ in range(2))
    assert a.fit(data, steps=2, batch_size=4) == b.fit(pd.DataFrame(data), steps=2,
                                                       batch_size=4)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    DriftingGenerator(2, hidden=8, depth=1, seed=0).fit(data.astype(np.float16), steps=1,
                                                       batch_size=4)


def test_tensor_data_is_not_moved_to_the_cpu_to_be_checked(monkeypatch):
    moved = []
    real_cpu = torch.Tensor.cpu

    def spy(self, *args, **kwargs):
        moved.append(tuple(self.shape))
        return real_cpu(self, *args, **kwargs)

    data = torch.randn(16, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    monkeypatch.setattr(torch.Tensor, "cpu", spy)
    DriftingGenerator(2, hidden=8, depth=1, seed=0).fit(data, steps=1, batch_size=4)
    assert (16, 2) not in moved
    bad = data.clone()
    bad[0, 0] = float("inf")
    with pytest.raises(ValueError, match="data must be finite"):
        DriftingGenerator(2, hidden=8, depth=1, seed=0).fit(bad, steps=1, batch_size=4)
