"""The distillation loops read their data once, up front: the number of finiteness checks does
not grow with the number of steps, and layers and losses used inside the loops do not read the
values of their inputs. Inputs the earlier code accepted (labels with a class that has no
images, ``init`` as a list) are still accepted."""

import numpy as np
import pytest
import torch

import mintlab._validation as validation
from mintlab._random import seeded_global_rng
from mintlab.distill import (
    ConvNet,
    HintLoss,
    PromptVAE,
    SoftLabelVQAE,
    SuperResVAE,
    bilinear_coreset,
    coreset_expansion,
    d3m,
    distribution_matching,
    evaluate,
    gradient_matching,
    herding,
    kd_loss,
    patch_coreset,
    random_subset,
    relabel,
    relational_kd_loss,
    train_student_kd,
    train_teacher,
)
from mintlab.distill.models import train_classifier


@pytest.fixture
def finite_checks(monkeypatch):
    """The names passed to ``check_finite``, in call order."""
    names = []
    real = validation.check_finite

    def counting(t, name):
        names.append(name)
        return real(t, name)

    monkeypatch.setattr(validation, "check_finite", counting)
    return names


def _images(n_classes=3, per_class=4, size=8):
    X = torch.rand(n_classes * per_class, size, size, generator=torch.Generator().manual_seed(0))
    return X, torch.arange(n_classes).repeat_interleave(per_class)


def _net(k=3, width=4):
    with seeded_global_rng(0):
        return ConvNet(k, 8, width=width)


def _data(X, y, k=3):
    return {"X_train": X, "y_train": y, "X_test": X, "y_test": y, "n_classes": k,
            "image_size": 8, "name": "toy"}


def _count(finite_checks, fn):
    finite_checks.clear()
    fn()
    return len(finite_checks)


def test_the_convnet_forward_reads_no_values():
    net = _net()
    x = torch.full((2, 8, 8), float("nan"))
    assert torch.isnan(net(x)).all()  # a diverging run is a result, not an exception
    assert net(torch.rand(0, 8, 8)).shape == (0, 3)  # an empty batch, as any torch layer
    with pytest.raises(ValueError, match="x must hold 8x8 images"):
        net(torch.rand(2, 6, 6))


def test_training_loops_check_a_constant_number_of_times(finite_checks):
    X, y = _images()
    data = _data(X, y)

    def classifier(epochs):
        return _count(finite_checks, lambda: train_classifier(_net(), X, y, epochs=epochs,
                                                              batch_size=4))

    assert classifier(1) == classifier(3) > 0

    for mode in ("kd", "kd+hint", "kd+rkd"):
        def kd(epochs, mode=mode):
            return _count(finite_checks, lambda: train_student_kd(
                data, X, y, _net(width=8), mode=mode, epochs=epochs, batch_size=4, width=4))

        assert kd(1) == kd(3) > 0, mode

    def matching(method, iterations):
        return _count(finite_checks, lambda: method(X, y, 1, image_size=8,
                                                    iterations=iterations, real_batch=4,
                                                    width=4))

    for method in (gradient_matching, distribution_matching):
        assert matching(method, 1) == matching(method, 3) > 0, method.__name__

    ds = random_subset(X, y, 2)

    def student(epochs):
        return _count(finite_checks, lambda: evaluate(ds, data, epochs=epochs, width=4))

    assert student(1) == student(4)
    finite_checks.clear()
    evaluate(ds, data, epochs=1, width=4)
    assert finite_checks.count("data['X_train']") == 1  # evaluate checks the data once

    low, labels = patch_coreset(X, y, 2, _net())
    with seeded_global_rng(0):
        up = SuperResVAE(size=8, latent=2)
    generated = coreset_expansion(low, labels, up)
    with seeded_global_rng(0):
        gen = PromptVAE(size=8, latent=2, cond_dim=3, n_pretrain_classes=2)
    prompted = d3m(X, y, gen, steps=1, per_epoch=2)
    for ds in (generated, prompted):
        def sampled(epochs, ds=ds):
            return _count(finite_checks, lambda: evaluate(ds, data, epochs=epochs, width=4,
                                                          augment_generated=True))

        assert sampled(1) == sampled(4), ds.method

    def soft(n_views):
        return _count(finite_checks, lambda: relabel(X, y, 1, _net(), n_views=n_views))

    assert soft(1) == soft(4)


def test_a_cached_teacher_does_not_scan_the_data(finite_checks, monkeypatch, tmp_path):
    monkeypatch.setenv("MINTLAB_CACHE_DIR", str(tmp_path))
    X, y = _images()
    data = _data(X, y)
    first = train_teacher(data, width=4, epochs=1)
    assert "data['X_train']" in finite_checks
    finite_checks.clear()
    again = train_teacher(data, width=4, epochs=1)
    assert "data['X_train']" not in finite_checks
    for a, b in zip(first.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    bad = X.clone()
    bad[0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="data\\['X_train'\\] must be finite"):
        train_teacher(_data(bad, y), width=4, epochs=1, cache=False)


def test_the_public_losses_check_and_the_loop_losses_do_not():
    s, t = torch.randn(4, 3), torch.randn(4, 3)
    from mintlab.distill.kd import _kd_loss, _rkd

    assert torch.equal(kd_loss(s, t, 2.0), _kd_loss(s, t, 2.0))
    assert torch.equal(relational_kd_loss(s, t), _rkd(s, t))
    hint = HintLoss(3, 3)
    assert torch.equal(hint(s, t), hint._hint(s, t))
    with pytest.raises(ValueError, match="student_logits must be finite"):
        kd_loss(torch.full((4, 3), float("nan")), t)
    with pytest.raises(ValueError, match="student_features must be finite"):
        hint(torch.full((4, 3), float("nan")), t)


def test_labels_with_a_class_without_images_are_accepted_where_they_were():
    X, _ = _images(3, 4)
    y = torch.tensor([0] * 4 + [2] * 8)  # class 1 has no image
    sub = random_subset(X, y, 2)
    assert sub.n_classes == 3 and sub.labels.tolist() == [0, 0, 2, 2]
    out = relabel(X, y, 2, _net(), n_views=2)
    assert out.info["hard_labels"].tolist() == [0, 0, 2, 2]
    low, labels = patch_coreset(X, y, 2, _net())
    assert len(low) == len(labels) == 4 and labels.tolist() == [0, 0, 2, 2]
    assert bilinear_coreset(low, labels, 8).n_classes == 3
    with pytest.raises(ValueError, match="ipc=5 exceeds the smallest class of y \\(4 images\\)"):
        random_subset(X, y, 5)
    # these need images of every class to learn from
    with pytest.raises(ValueError, match="y must have images of every class 0 .. max\\(y\\) = 2, "
                                         "got none of class\\(es\\) \\[1\\]"):
        herding(X, y, 1, _net().features)
    with pytest.raises(ValueError, match="y must have images of every class"):
        gradient_matching(X, y, 1, image_size=8, iterations=1, width=4)


def test_d3m_accepts_init_as_any_array_like():
    X, y = _images(2, 3)
    gen = PromptVAE(size=8, latent=2, cond_dim=3, n_pretrain_classes=2)
    init = np.arange(6, dtype=np.float64).reshape(2, 3) / 10
    a = d3m(X, y, gen, steps=2, init=init)
    b = d3m(X, y, gen, steps=2, init=init.tolist())
    c = d3m(X, y, gen, steps=2, init=torch.as_tensor(init))
    assert np.array_equal(a.extra["vectors"], b.extra["vectors"])
    assert np.array_equal(a.extra["vectors"], c.extra["vectors"])
    with pytest.raises(TypeError, match="init must be an array-like"):
        d3m(X, y, gen, steps=2, init="vectors")
    with pytest.raises(TypeError, match="init must hold real numbers"):
        d3m(X, y, gen, steps=2, init=[["a", "b", "c"], ["d", "e", "f"]])
    with pytest.raises(ValueError, match="init must be a rectangular \\(2, 3\\) array"):
        d3m(X, y, gen, steps=2, init=[[0.0, 1.0, 2.0], [0.0]])
    with pytest.raises(ValueError, match="init must be \\(2, 3\\) vectors"):
        d3m(X, y, gen, steps=2, init=[[0.0, 1.0]])


def test_decode_codes_names_the_kind_and_the_values_received():
    vq = SoftLabelVQAE(3, n_codebooks=2, codebook_size=4, code_dim=2, hidden=4)
    assert vq.decode_codes(torch.tensor([[0, 3]])).shape == (1, 3)
    with pytest.raises(TypeError, match="codes must hold integer codeword indices, got dtype "
                                        "torch.float32"):
        vq.decode_codes(torch.tensor([[0.0, 1.0]]))
    with pytest.raises(ValueError, match="codes must lie in \\[0, 4\\) \\(codebook_size\\), got "
                                         "values in \\[-1, 7\\]"):
        vq.decode_codes(torch.tensor([[-1, 7]]))
    with pytest.raises(ValueError, match="codes must have shape \\(n, 2\\)"):
        vq.decode_codes(torch.tensor([[0, 1, 2]]))
