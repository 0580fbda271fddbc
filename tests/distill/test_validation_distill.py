"""Bad input to the distillation functions is rejected before any training, with messages
naming the argument, the rule and what was received."""

import numpy as np
import pytest
import torch

from mintlab._random import seeded_global_rng
from mintlab.distill import (
    ConvNet,
    DistilledSet,
    HintLoss,
    QuantizedLabels,
    RawLabels,
    augment,
    bilinear_coreset,
    evaluate,
    gradient_distance,
    kd_loss,
    load_distill_data,
    predict_proba,
    random_subset,
    relational_kd_loss,
    train_student_kd,
)


def _images(n_classes=3, per_class=2, size=8):
    X = torch.rand(n_classes * per_class, size, size, generator=torch.Generator().manual_seed(0))
    return X, torch.arange(n_classes).repeat_interleave(per_class)


def _net(k=3):
    with seeded_global_rng(0):
        return ConvNet(k, 8, width=4)


def _data(X, y, k=3):
    return {"X_train": X, "y_train": y, "X_test": X, "y_test": y, "n_classes": k,
            "image_size": 8}


def test_kd_loss_rejects_what_made_nan():
    s, t = torch.randn(4, 3), torch.randn(4, 3)
    assert torch.isfinite(kd_loss(s, t, 2.0))
    with pytest.raises(ValueError, match="temperature must be positive, got 0.0"):
        kd_loss(s, t, 0.0)
    with pytest.raises(ValueError, match="temperature must be finite"):
        kd_loss(s, t, float("inf"))
    with pytest.raises(ValueError, match="student_logits must be finite, got 1 NaN"):
        kd_loss(s.index_put((torch.tensor([0]), torch.tensor([0])), torch.tensor(np.nan)), t)
    with pytest.raises(ValueError, match="teacher must be finite"):
        kd_loss(s, torch.full((4, 3), float("inf")))
    with pytest.raises(ValueError, match="teacher must sum to 1"):
        kd_loss(s, torch.rand(4, 3) + 1, teacher_is_prob=True)
    with pytest.raises(TypeError, match="student_logits must be a torch tensor, got numpy"):
        kd_loss(s.numpy(), t)
    with pytest.raises(ValueError, match="must have the same shape"):
        kd_loss(s, t[:2])


def test_predict_proba_rejects_a_zero_temperature():
    X, _ = _images()
    P = predict_proba(_net(), X, temperature=0.5)
    assert torch.allclose(P.sum(-1), torch.ones(len(X)))
    with pytest.raises(ValueError, match="temperature must be positive, got 0.0"):
        predict_proba(_net(), X, temperature=0)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        predict_proba(lambda x: x, X)


def test_layers_and_losses_check_shapes():
    with pytest.raises(ValueError, match="image_size must be >= 2\\*\\*depth = 4"):
        ConvNet(3, 2, depth=2)
    with pytest.raises(ValueError, match="x must hold 8x8 images \\(image_size\\)"):
        _net()(torch.rand(2, 6, 6))
    with pytest.raises(TypeError, match="x must have the network's dtype torch.float32"):
        _net()(torch.rand(2, 8, 8, dtype=torch.float64))
    hint = HintLoss(3, 5)
    with pytest.raises(ValueError, match="teacher_features must have shape \\(4, 5\\)"):
        hint(torch.randn(4, 3), torch.randn(4, 6))
    with pytest.raises(ValueError, match="student_emb must have n >= 2 rows"):
        relational_kd_loss(torch.randn(1, 3), torch.randn(1, 3))
    with pytest.raises(ValueError, match="g_real\\[1\\] and g_syn\\[1\\] must have the same"):
        gradient_distance([torch.ones(2), torch.ones(3)], [torch.ones(2), torch.ones(4)])
    with pytest.raises(ValueError, match="seed must be >= 0"):
        augment(torch.rand(2, 8, 8), -1)


def test_data_labels_and_codecs_are_checked():
    X, y = _images()
    with pytest.raises(ValueError, match="ipc=2 exceeds the smallest class of y \\(1 images\\)"):
        random_subset(X, torch.tensor([0, 0, 1, 1, 2, 5]), 2)
    with pytest.raises(TypeError, match="y must hold integer class labels"):
        random_subset(X, y.float(), 1)
    with pytest.raises(ValueError, match="X must be finite"):
        random_subset(X.clone().fill_(np.nan), y, 1)
    with pytest.raises(ValueError, match="labels must lie in \\[0, 2\\)"):
        DistilledSet("x", X, y, 2)
    with pytest.raises(ValueError, match="P must have a positive sum"):
        RawLabels(torch.zeros(1, 2, 3))
    with pytest.raises(ValueError, match="bits must be <= 32"):
        QuantizedLabels(torch.full((1, 2, 3), 1 / 3), 40)
    with pytest.raises(ValueError, match="labels must be non-negative class indices"):
        bilinear_coreset(torch.rand(3, 4, 4), torch.tensor([0, -2, 2]), 8)
    with pytest.raises(ValueError, match="name must be one of"):
        load_distill_data("mnist")


def test_training_loops_check_their_data_before_the_first_step():
    X, y = _images()
    data = _data(X, y)
    with pytest.raises(ValueError, match="data\\['X_train'\\] must be finite"):
        bad = X.clone()
        bad[0, 0, 0] = np.nan
        train_student_kd(_data(bad, y), X, y, _net(), epochs=1, width=4)
    with pytest.raises(ValueError, match="data\\['y_train'\\] must lie in \\[0, 3\\)"):
        train_student_kd(_data(X, y + 1), X, y, _net(), epochs=1, width=4)
    with pytest.raises(ValueError, match="data lacks the entries \\['n_classes'"):
        train_student_kd({k: v for k, v in data.items() if k != "n_classes"}, X, y, _net())
    with pytest.raises(ValueError, match="mode must be one of"):
        train_student_kd(data, X, y, _net(), mode="distill")
    ds = random_subset(X, y, 1)
    with pytest.raises(ValueError, match="distilled images must be 16x16"):
        evaluate(ds, {**_data(torch.rand(6, 16, 16), y), "image_size": 16}, epochs=1, width=4)
    with pytest.raises(TypeError, match="distilled must be a DistilledSet"):
        evaluate(X, data, epochs=1)
