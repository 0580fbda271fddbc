"""Transferring a min-sliced slicer is one forward pass and one sort (``min-stp``).

The experiment judges how good transferred plans are; that a transfer is far
cheaper than optimising a slicer holds by construction (it runs no
optimisation step at all), which is what is tested here, with the plan checked
against an independent oracle: sort both clouds along the slicer's output and
match them in order.
"""

import numpy as np
import ot
import pytest
import torch

from mintlab.transport import MLPSlicer, min_sliced_plan


def _clouds(rng, n):
    X = rng.normal(size=(n, 3)) * np.array([1.0, 0.3, 0.3])
    Y = rng.normal(size=(n, 3)) * np.array([0.3, 1.0, 0.3]) + np.array([4.0, 1.0, 0.5])
    return X, Y


@pytest.fixture(scope="module")
def trained():
    rng = np.random.default_rng(0)
    X, Y = _clouds(rng, 80)
    res = min_sliced_plan(X, Y, slicer=MLPSlicer(3, n_projections=1, hidden=16, seed=0),
                          n_iter=20, lr=0.01, temperature=0.05, batch_size=None, seed=0)
    return X, Y, res


def test_transfer_runs_no_optimisation_and_leaves_the_slicer_unchanged(trained, monkeypatch):
    X, Y, res = trained
    before = {k: v.clone() for k, v in res.slicer.state_dict().items()}
    history = list(res.history)

    def no_optimiser(*args, **kwargs):
        raise AssertionError("transfer must not build an optimiser")

    monkeypatch.setattr(torch.optim, "Adam", no_optimiser)
    monkeypatch.setattr(torch.optim, "SGD", no_optimiser)
    rng = np.random.default_rng(1)
    X2, Y2 = _clouds(rng, 80)
    out = res.transfer(X2, Y2)
    assert all(torch.equal(v, before[k]) for k, v in res.slicer.state_dict().items())
    assert out.history == history and res.history == history
    # on the pair it was trained on, the transfer reproduces the trained plan
    again = res.transfer(X, Y)
    assert float(again.cost) == pytest.approx(float(res.cost), rel=1e-12)
    assert np.abs(again.plan - res.plan).max() < 1e-15


def test_transfer_plan_is_the_sorted_matching_along_the_slicer(trained):
    _, _, res = trained
    rng = np.random.default_rng(2)
    X2, Y2 = _clouds(rng, 60)
    out = res.transfer(X2, Y2)
    with torch.no_grad():
        s = res.slicer(torch.tensor(X2)).numpy().ravel()
        t = res.slicer(torch.tensor(Y2)).numpy().ravel()
    n = len(X2)
    oracle = np.zeros((n, n))
    oracle[np.argsort(s, kind="stable"), np.argsort(t, kind="stable")] = 1.0 / n
    assert np.abs(out.plan - oracle).max() < 1e-15
    M = ot.dist(X2, Y2)
    assert float(out.cost) == pytest.approx(float((oracle * M).sum()), rel=1e-12)
    assert float(out.cost) >= ot.emd2([], [], M) - 1e-12
