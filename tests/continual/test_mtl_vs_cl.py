"""Continual SSL pieces behind ``mtl-vs-cl``: task orders, augmentations on real images,
the ConvNet SimSiam and its variance term."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mintlab.continual.ssl import (
    SimSiam,
    augment,
    augmentation_stream,
    simsiam_loss,
    ssl_objective,
)
from mintlab.experiments.mtl_vs_cl import ADVERSARIAL, CLEAN_FAMILIES, task_order


def test_task_order_never_puts_the_adversarial_task_last():
    positions = set()
    for seed in range(60):
        order = task_order(seed)
        assert sorted(order) == sorted(CLEAN_FAMILIES + [ADVERSARIAL])
        assert order[-1] != ADVERSARIAL
        positions.add(order.index(ADVERSARIAL))
        assert task_order(seed) == order  # deterministic per seed
    assert positions == set(range(len(CLEAN_FAMILIES)))  # every position but the last


def test_augment_infers_the_square_image_side():
    X = torch.rand(5, 196)
    g = torch.Generator().manual_seed(0)
    a = augment(X, "blur", g)
    b = augment(X, "blur", torch.Generator().manual_seed(0), image_shape=(14, 14))
    assert torch.equal(a, augment(X, "blur", torch.Generator().manual_seed(0)))
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="X must have shape"):
        augment(torch.rand(3, 50), "noise")


def test_shift_on_28x28_moves_a_pixel_by_at_most_four():
    X = torch.zeros(200, 28, 28)
    X[:, 14, 14] = 1.0
    out = augment(X.reshape(200, -1), "shift", torch.Generator().manual_seed(0))
    out = out.reshape(200, 28, 28)
    rows, cols = torch.where(out.sum(0) > 1e-6)
    assert (rows - 14).abs().max() <= 5 and (cols - 14).abs().max() <= 5  # 4 + bilinear spread
    assert (rows - 14).abs().max() >= 3  # the range is wider than the 2 pixels of 8x8 images


def test_conv_simsiam_shapes_and_errors():
    m = SimSiam(196, backbone="conv", seed=0)
    assert m(torch.rand(4, 196)).shape == (4, 64)
    assert any(isinstance(x, torch.nn.Conv2d) for x in m.encoder)
    a, b = SimSiam(196, backbone="conv", seed=3), SimSiam(196, backbone="conv", seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    with pytest.raises(ValueError, match="in_features"):
        SimSiam(50, backbone="conv")
    with pytest.raises(ValueError, match="backbone"):
        SimSiam(64, backbone="resnet")
    with pytest.raises(ValueError, match="channels"):
        SimSiam(196, backbone="conv", channels=(8,))


def test_variance_term_matches_its_formula():
    torch.manual_seed(0)
    m = SimSiam(64, seed=0)
    x1, x2 = torch.rand(16, 64), torch.rand(16, 64)
    with torch.no_grad():
        base = float(simsiam_loss(m, x1, x2))
        with_var = float(simsiam_loss(m, x1, x2, variance_weight=2.0))
    with torch.no_grad():
        terms = []
        for x in (x1, x2):
            z = m.encoder(x).numpy().astype(np.float64)
            std = np.sqrt(z.var(0, ddof=1) + 1e-4)
            terms.append(np.maximum(0.0, 1.0 - std).mean())
    assert with_var - base == pytest.approx(2.0 * np.mean(terms), rel=1e-4, abs=1e-6)


def test_variance_term_pushes_collapsed_features_apart():
    m = SimSiam(64, seed=0)
    with torch.no_grad():
        m.encoder[2].weight.mul_(1e-4)  # nearly every input maps to the bias: collapsed
    x = torch.rand(32, 64)
    term = simsiam_loss(m, x, x, variance_weight=1.0) - simsiam_loss(m, x, x)
    assert float(term.detach()) == pytest.approx(0.99, abs=2e-3)  # std ~ sqrt(1e-4) = 0.01
    term.backward()
    with torch.no_grad():
        before = m.encoder(x).std(0).mean()
        m.encoder[2].weight.sub_(10.0 * m.encoder[2].weight.grad)
        assert m.encoder(x).std(0).mean() > 2 * before
    with pytest.raises(ValueError, match="variance_weight"):
        ssl_objective(["noise"], 0, variance_weight=-1.0)


def test_augmentation_stream_on_mnist_shares_the_images():
    s = augmentation_stream(["rotation", "shuffle", "noise"], seed=1, dataset="mnist",
                            n_train=40, n_test=20, side=14)
    assert [t.name for t in s] == ["rotation", "shuffle", "noise"]
    assert s[0].X_train.shape == (40, 196) and s[0].X_test.shape == (20, 196)
    assert all(torch.equal(t.X_train, s[0].X_train) for t in s)
    full = augmentation_stream(["rotation"], seed=1, dataset="mnist", n_train=40, n_test=20)
    pooled = F.avg_pool2d(full[0].X_train.reshape(-1, 1, 28, 28), 2).reshape(40, -1)
    assert torch.allclose(pooled, s[0].X_train)
    with pytest.raises(ValueError, match="side"):
        augmentation_stream(["noise"], dataset="mnist", n_train=10, side=7)
    with pytest.raises(ValueError, match="dataset"):
        augmentation_stream(["noise"], dataset="cifar")
