"""``vq-soft-labels``: the storage accounting behind the experiment, and its helpers.

The experiment's compression factor (float32 labels over VQ codes + decoder +
codebooks) follows from the configured sizes, so it is tested here against
the formula rather than judged as a claim; so is the equal-storage rule by
which the baseline codecs are picked, the log-space PCA baseline, and the
per-item student protocol (it must match :func:`mintlab.distill.evaluate`).
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mintlab.datasets import make_glyph_classes
from mintlab.distill import (
    DistilledSet,
    PCALabels,
    QuantizedLabels,
    RawLabels,
    TopKLabels,
    VQLabels,
    evaluate,
    random_subset,
)
from mintlab.experiments._distill_common import (
    LogPCALabels,
    evaluate_items,
    smallest_at_least,
)


def _probs(V, n, C, seed=0, sharpness=3.0):
    g = torch.Generator().manual_seed(seed)
    return F.softmax(sharpness * torch.randn(V, n, C, generator=g), -1)


def test_vq_labels_at_the_experiments_scale_are_over_ten_times_smaller():
    # quick mode: 100 classes x 1 image x 30 views; full: 2 images per class
    for ipc in (1, 2):
        P = _probs(30, 100 * ipc, 100)
        vq = VQLabels(P, steps=1)
        n_labels = 30 * 100 * ipc
        shared = 2 * 256 * 16 + (32 * 128 + 128) + (128 * 100 + 100)  # codebooks + decoder
        assert len(vq.payload()) == math.ceil(n_labels * 2 * 8 / 8) + 2 * shared
        assert len(RawLabels(P).payload()) == n_labels * 100 * 4
        assert len(RawLabels(P).payload()) / len(vq.payload()) >= 10


def test_baseline_codecs_get_at_least_the_vq_bytes():
    P = _probs(30, 100, 100)
    budget = len(VQLabels(P, steps=1).payload())
    k, top = smallest_at_least(lambda k: TopKLabels(P, k), budget, range(1, 100))
    assert len(top.payload()) >= budget > len(TopKLabels(P, k - 1).payload())
    b, quant = smallest_at_least(lambda b: QuantizedLabels(P, b), budget, range(1, 17))
    assert len(quant.payload()) >= budget
    assert b == 1 or len(QuantizedLabels(P, b - 1).payload()) < budget
    k, pca = smallest_at_least(lambda k: LogPCALabels(P, k), budget, range(1, 101))
    assert len(pca.payload()) >= budget > len(LogPCALabels(P, k - 1).payload())
    # nothing large enough: the last option
    assert smallest_at_least(lambda k: TopKLabels(P, k), 10**9, range(1, 4))[0] == 3


def test_log_pca_stores_what_pca_stores_and_decodes_to_distributions():
    P = _probs(3, 20, 12)
    for k in (1, 3, 12):
        codec = LogPCALabels(P, k)
        assert len(codec.payload()) == len(PCALabels(P, k).payload())
        Q = codec.decode()
        assert Q.shape == P.shape and (Q > 0).all()
        assert torch.allclose(Q.sum(-1), torch.ones(3, 20), atol=1e-5)
    # all components: exact up to float16 rounding
    assert (LogPCALabels(P, 12).decode() - P).abs().max() < 0.01
    with pytest.raises(ValueError, match="k must lie"):
        LogPCALabels(P, 13)
    with pytest.raises(ValueError, match="labels must be"):
        LogPCALabels(P[0], 2)


def test_log_pca_keeps_soft_labels_that_probability_pca_destroys():
    # soft labels over many classes (a temperature-4 teacher): few components in probability
    # space decode to clamped, renormalised vectors far from the labels
    P = _probs(4, 50, 100, sharpness=1.5)

    def kl(Q):
        return float((P * (P.log() - Q.clamp_min(1e-12).log())).sum(-1).mean())

    assert kl(LogPCALabels(P, 5).decode()) < kl(PCALabels(P, 5).decode())


def _tiny_data(k=4, seed=0):
    Xtr, ytr = make_glyph_classes(k, 6, seed=seed)
    Xte, yte = make_glyph_classes(k, 5, seed=seed + 1)
    t = torch.as_tensor
    return {"X_train": t(Xtr), "y_train": t(ytr), "X_test": t(Xte), "y_test": t(yte),
            "n_classes": k, "image_size": 16, "name": "glyphs"}


def test_per_item_protocol_matches_the_librarys_evaluate():
    torch.set_num_threads(1)
    data = _tiny_data()
    hard = random_subset(data["X_train"], data["y_train"], 2, seed=3)
    soft = DistilledSet("soft", hard.images, None, 4, view_base_seed=5,
                        soft_labels=RawLabels(_probs(3, 8, 4)))
    gen_images = hard.images.clone()
    gen = DistilledSet("gen", None, None, 4,
                       sampler=lambda e: (gen_images.flip(-1) if e % 2 else gen_images,
                                          hard.labels))
    for ds, t in ((hard, 1.0), (soft, 4.0), (gen, 1.0)):
        items = evaluate_items(ds, data, epochs=3, seed=7, temperature=t)
        assert items.shape == (len(data["y_test"]),)
        assert set(np.unique(items)) <= {0.0, 1.0}
        assert items.mean() == pytest.approx(
            evaluate(ds, data, epochs=3, seed=7, temperature=t)["accuracy"], abs=1e-6)
