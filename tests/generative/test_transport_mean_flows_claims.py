"""The instruments of the ``transport-mean-flows`` reproduction: the Fashion-MNIST PCA space
and the torchcfm OT-CFM baseline's conventions."""

import numpy as np
import pytest
import torch

from mintlab.experiments import transport_mean_flows as tmf
from mintlab.experiments._generative_common import image_space
from mintlab.generative import pair_noise


def test_fashion_space_uses_the_shipped_subset():
    sp = image_space("fashion-mnist", 16)
    assert sp.train.shape == (12000, 16) and sp.held.shape == (2000, 16)
    assert sp.classifier_cv_accuracy > 0.7
    assert np.bincount(sp.held_labels).tolist() == [200] * 10


def test_torchcfm_pairing_is_our_exact_assignment():
    pytest.importorskip("torchcfm")
    from torchcfm.optimal_transport import OTPlanSampler

    g = torch.Generator().manual_seed(0)
    x, e = torch.randn(48, 6, generator=g), torch.randn(48, 6, generator=g)
    j = tmf._torchcfm_pairs(OTPlanSampler(method="exact"), e, x)  # data index of each noise
    assert sorted(j.tolist()) == list(range(48))
    ours = pair_noise(x, e, "ot")
    assert torch.equal(ours[j], e)


def test_otcfm_baseline_trains_on_the_flow_conventions():
    pytest.importorskip("torchcfm")
    rng = np.random.default_rng(0)
    data = rng.normal(size=(400, 2)) * 0.1 + np.array([2.0, -1.0])
    m = tmf._fit_otcfm(data, hidden=32, steps=150, batch=64, seed=0)
    S = m.sample(300, steps=20, seed=1).numpy()
    # time and sign conventions right: the samples land on the data, not on the noise
    assert np.abs(S.mean(0) - [2.0, -1.0]).max() < 0.3


def test_settings():
    for s in (tmf.QUICK, tmf.FULL):
        assert s.seeds >= 3
    assert tmf.FULL.datasets_2d and tmf.FULL.external_baseline
    assert tmf.FULL.steps_image > tmf.QUICK.steps_image
