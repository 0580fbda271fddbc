"""Distillation: exact bit accounting, VQ codes, KD and matching losses, determinism, errors."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mintlab.datasets import make_glyph_classes
from mintlab.distill import (
    ConvNet,
    DistilledSet,
    PCALabels,
    QuantizedLabels,
    RawLabels,
    TopKLabels,
    VQLabels,
    augment,
    distribution_matching_loss,
    gradient_distance,
    herding,
    kd_loss,
    random_subset,
    relational_kd_loss,
)
from mintlab.distill.generative import PromptVAE, SuperResVAE, d3m, pretrain_generator
from mintlab.distill.labels import pack_bits, unpack_bits


def _probs(V=3, n=20, C=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    return F.softmax(3 * torch.randn(V, n, C, generator=g), -1)


def test_bit_accounting_is_exact():
    P = _probs()
    V, n, C = P.shape
    expected = {
        "raw": (RawLabels(P), V * n * C * 4),
        "top2": (TopKLabels(P, 2), V * n * 2 * (1 + 2)),
        "4bit": (QuantizedLabels(P, 4), math.ceil(V * n * C * 4 / 8) + V * n * 2),
        "pca3": (PCALabels(P, 3), V * n * 3 * 2 + 3 * C * 2 + C * 2),
    }
    for name, (codec, nbytes) in expected.items():
        assert len(codec.payload()) == nbytes, name
    X = torch.rand(6, 8, 8)
    ds = DistilledSet("x", X, torch.arange(6) % 3, 3, soft_labels=RawLabels(_probs(2, 6, 3)))
    assert ds.storage_bytes == 6 * 64 + 6 + 2 * 6 * 3 * 4 + 8
    raw = np.frombuffer(ds.serialize()["images"], dtype=np.uint8).reshape(6, 8, 8)
    assert torch.equal(torch.as_tensor(raw / 255.0, dtype=torch.float32), ds.images)


def test_codecs_decode_to_distributions_and_bits_round_trip():
    P = _probs()
    for codec in (RawLabels(P), TopKLabels(P, 3), QuantizedLabels(P, 8), PCALabels(P, 11)):
        Q = codec.decode()
        assert Q.shape == P.shape
        assert torch.allclose(Q.sum(-1), torch.ones(P.shape[:2]), atol=1e-3)
    assert (QuantizedLabels(P, 8).decode() - P).abs().max() < 0.01
    v = np.array([0, 5, 7, 3, 1, 6])
    assert np.array_equal(unpack_bits(pack_bits(v, 3), 3, 6), v)
    with pytest.raises(ValueError, match="P must be"):
        RawLabels(torch.ones(3, 4))


def test_vq_codes_decode_to_the_nearest_codebook_entries():
    P = _probs(2, 40, 10)
    vq = VQLabels(P, n_codebooks=2, codebook_size=16, code_dim=4, hidden=32, steps=50)
    flat = P.reshape(-1, 10)
    m = vq.model
    with torch.no_grad():
        z = m.encoder(m._inputs(flat)).view(-1, 2, 4)
        d = torch.cdist(z.transpose(0, 1), m.codebooks)  # (M, n, K)
        assert torch.equal(vq.codes, d.argmin(-1).T)
        q = m.codebooks[torch.arange(2)[None], vq.codes]
        direct = F.softmax(m.decoder(q.reshape(len(flat), -1)), -1)
    assert torch.allclose(vq.decode().reshape(-1, 10), direct)
    shared = 2 * 16 * 4 + sum(p.numel() for p in m.decoder.parameters())
    assert len(vq.payload()) == math.ceil(80 * 2 * 4 / 8) + 2 * shared


def test_kd_loss_is_cross_entropy_at_temperature_one_with_one_hot_targets():
    logits = torch.randn(7, 5)
    y = torch.randint(0, 5, (7,))
    onehot = F.one_hot(y, 5).float()
    assert torch.allclose(kd_loss(logits, onehot, 1.0, teacher_is_prob=True),
                          F.cross_entropy(logits, y), atol=1e-6)
    assert float(kd_loss(logits, logits, 4.0)) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="shape"):
        kd_loss(logits, logits[:, :3])


def test_relational_loss_is_scale_invariant():
    e = torch.randn(6, 4)
    assert float(relational_kd_loss(3 * e, e)) == pytest.approx(0.0, abs=1e-7)
    assert float(relational_kd_loss(torch.randn(6, 4), e)) > 0


def test_matching_losses_against_hand_computed_cases():
    real = torch.tensor([[1.0, 0.0], [3.0, 2.0]])  # mean (2, 1)
    syn = torch.tensor([[0.0, 1.0]])
    assert float(distribution_matching_loss(real, syn)) == pytest.approx(4.0)
    a = [torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([1.0, 2.0])]
    b = [torch.tensor([[2.0, 0.0], [1.0, 0.0]]), torch.tensor([-1.0, -2.0])]
    # rows: cos 1 and 0 -> 0 + 1; the bias as one unit: cos -1 -> 2
    assert float(gradient_distance(a, b)) == pytest.approx(3.0)


def test_generators_and_augmentation_are_deterministic():
    X1, y1 = make_glyph_classes(5, 3, seed=4)
    X2, _ = make_glyph_classes(5, 3, seed=4)
    assert np.array_equal(X1, X2)
    assert not np.array_equal(X1, make_glyph_classes(5, 3, seed=5)[0])
    x = torch.rand(4, 16, 16)
    assert torch.equal(augment(x, 3), augment(x, 3))
    torch.manual_seed(0)
    vae = PromptVAE(n_pretrain_classes=4)
    c = torch.randn(2, 16)
    a = vae.sample(c, 3, torch.Generator().manual_seed(1))
    assert a.shape == (6, 16, 16)
    assert torch.equal(a, vae.sample(c, 3, torch.Generator().manual_seed(1)))
    assert not torch.equal(a, vae.sample(c, 3, torch.Generator().manual_seed(2)))
    up = SuperResVAE()
    low = torch.rand(3, 8, 8)
    assert torch.equal(up.expand(low, 1.0, torch.Generator().manual_seed(2)),
                       up.expand(low, 1.0, torch.Generator().manual_seed(2)))
    X, y = torch.as_tensor(X1), torch.as_tensor(y1)
    ds = d3m(X, y, vae, vectors_per_class=2, steps=3, seed=0)
    assert ds.storage_bytes == 5 * 2 * 16 * 4 + 8
    s1, l1 = ds.sampler(0)
    s2, _ = ds.sampler(0)
    assert torch.equal(s1, s2) and len(s1) == len(l1)


def test_d3m_vectors_fit_their_class_and_bad_input():
    torch.manual_seed(0)
    vae = PromptVAE(n_pretrain_classes=4)
    X, y = (torch.as_tensor(a) for a in make_glyph_classes(3, 8, seed=0))
    one = torch.as_tensor(d3m(X, y, vae, vectors_per_class=1, steps=60, seed=0)
                          .extra["vectors"])
    # the learned vector of a class explains that class's images better than another's
    mu, _ = vae.encoder(X[:, None])
    rec = torch.stack([F.binary_cross_entropy_with_logits(
        vae.decoder(torch.cat([mu, one[c].expand(len(X), -1)], -1)), X,
        reduction="none").flatten(1).sum(1) for c in range(3)], 1)
    per_class = torch.stack([rec[y == c].mean(0) for c in range(3)])
    assert torch.equal(per_class.argmin(1), torch.arange(3))
    again = d3m(X, y, vae, vectors_per_class=4, steps=30, seed=0, init=one)
    assert again.extra["vectors"].shape == (12, 16)
    with pytest.raises(ValueError, match="init"):
        d3m(X, y, vae, vectors_per_class=4, steps=3, init=one[:2])
    with pytest.raises(ValueError, match="X must hold 16x16"):
        d3m(X[:, :8, :8], y, vae)
    with pytest.raises(ValueError, match="every class"):
        d3m(X[y != 1], y[y != 1], vae)
    with pytest.raises(TypeError, match="PromptVAE"):
        d3m(X, y, SuperResVAE())


def test_d3m_hard_em_splits_a_two_mode_class_between_its_vectors():
    # one label made of two glyph classes: the two vectors should take one glyph each
    vae = pretrain_generator("prompt", n_classes=10, per_class=10, steps=200, cache=False)
    for s in range(4):
        X, mode = (torch.as_tensor(a) for a in make_glyph_classes(2, 10, seed=s,
                                                                  first_class=2 * s))
        v = torch.as_tensor(d3m(X, torch.zeros_like(mode), vae, vectors_per_class=2,
                                steps=120, seed=s).extra["vectors"])
        with torch.no_grad():
            mu, _ = vae.encoder(X[:, None])
            rec = torch.stack([F.binary_cross_entropy_with_logits(
                vae.decoder(torch.cat([mu, v[j].expand(len(X), -1)], -1)), X,
                reduction="none").flatten(1).sum(1) for j in range(2)], 1)
        agree = float((rec.argmin(1) == mode).float().mean())
        assert max(agree, 1 - agree) >= 0.75, (s, agree)


def test_subset_methods_and_bad_budgets():
    X, y = make_glyph_classes(4, 6, seed=0)
    X, y = torch.as_tensor(X), torch.as_tensor(y)
    r = random_subset(X, y, 2, seed=1)
    assert r.images.shape == (8, 16, 16)
    assert torch.equal(torch.bincount(r.labels), torch.full((4,), 2))
    h = herding(X, y, 3, lambda z: z.flatten(1))
    assert torch.equal(torch.bincount(h.labels), torch.full((4,), 3))
    with pytest.raises(ValueError, match="ipc"):
        random_subset(X, y, 7)
    with pytest.raises(ValueError, match="ipc"):
        random_subset(X, y, 0)
    with pytest.raises(TypeError, match="ipc"):
        random_subset(X, y, 1.5)
    with pytest.raises(ValueError, match="X must have 3 dimension"):
        random_subset(X.flatten(1), y, 1)
    net = ConvNet(4, 16)
    assert net(X).shape == (24, 4)
