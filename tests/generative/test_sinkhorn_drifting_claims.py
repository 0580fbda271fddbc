"""The instruments of the ``sinkhorn-drifting`` reproduction: the PCA image space, its
classifier, the Fréchet and W2 scores, and the GeomLoss cross-check."""

import numpy as np
import ot
import pytest

from mintlab.experiments import sinkhorn_drifting as sd
from mintlab.experiments._generative_common import (
    MIN_SHARE,
    batch_frechet,
    batch_w2,
    frechet,
    image_space,
)


def test_frechet_matches_the_gaussian_closed_form():
    rng = np.random.default_rng(0)
    # W2^2 between N(m1, diag(a)) and N(m2, diag(b)) is |m1 - m2|^2 + sum (sqrt a - sqrt b)^2
    a, b = np.array([1.0, 4.0, 0.25]), np.array([2.0, 1.0, 1.0])
    A = rng.normal(size=(200_000, 3)) * np.sqrt(a)
    B = rng.normal(size=(200_000, 3)) * np.sqrt(b) + np.array([1.0, 0.0, -1.0])
    exact = 2.0 + float(((np.sqrt(a) - np.sqrt(b)) ** 2).sum())
    assert frechet(A, B) == pytest.approx(exact, rel=0.02)
    assert frechet(A[:5000], A[5000:10000]) < 0.01


def test_batch_w2_is_exact_ot_per_batch():
    rng = np.random.default_rng(1)
    S, H = rng.normal(size=(60, 4)), rng.normal(size=(60, 4)) + 0.5
    got = batch_w2(S, H, 3)
    ref = [np.sqrt(ot.emd2([], [], ot.dist(S[i:i + 20], H[i:i + 20]))) for i in (0, 20, 40)]
    np.testing.assert_allclose(got, ref, rtol=1e-10)
    assert batch_frechet(S, H, 3).shape == (3,)


def test_mnist_space_holds_out_the_test_digits_and_classifies_them():
    sp = image_space("mnist", 32)
    assert sp.train.shape == (4000, 32) and sp.held.shape == (1000, 32)
    assert np.isclose(sp.train.var(0).mean() * 4000 / 3999, 1.0)  # one scale: mean variance 1
    assert 0.6 < sp.explained < 0.9
    assert sp.classifier_cv_accuracy > 0.8  # a usable coverage instrument
    shares = sp.class_shares(sp.held)
    assert shares.sum() == pytest.approx(1.0) and shares.min() > MIN_SHARE
    imgs = sp.decode(sp.held[:3])
    assert imgs.shape == (3, 28, 28) and imgs.min() >= 0 and imgs.max() <= 1
    with pytest.raises(ValueError, match="dataset"):
        image_space("cifar", 8)


def test_sinkhorn_drift_agrees_with_geomloss_on_digits():
    pytest.importorskip("geomloss")
    assert sd._geomloss_rel_error(0.3) < 0.01


def test_settings_sweep_and_seeds():
    for s in (sd.QUICK, sd.FULL):
        assert s.seeds >= 3 and len(s.factors) >= 3
        assert s.eval_batches * s.eval_size <= 1000
    assert min(sd.FULL.factors) == min(sd.QUICK.factors)
    assert len(sd.FULL.factors) > len(sd.QUICK.factors)
