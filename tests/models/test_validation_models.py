"""Bad arguments to the pretrained-model helpers: the message names the argument and the rule."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mintlab.datasets import asset_installed
from mintlab.models import (
    ImageEncoder,
    image_features,
    image_tokens,
    load_image_encoder,
    sentence_embeddings,
)

pytestmark = pytest.mark.skipif(not asset_installed("efficientnet-lite0"),
                                reason="the vision extra is not installed")


@pytest.fixture(scope="module")
def encoder():
    return load_image_encoder()


def test_image_encoder_constructor_checks_its_network_and_numbers(encoder):
    with pytest.raises(TypeError, match="net must be a torch.nn.Module"):
        ImageEncoder("net")
    with pytest.raises(TypeError, match="net must be an efficientnet_lite_pytorch EfficientNet"):
        ImageEncoder(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="image_size must be a multiple of 32"):
        ImageEncoder(encoder.net, image_size=100)
    with pytest.raises(ValueError, match="std must be positive"):
        ImageEncoder(encoder.net, std=0.0)
    with pytest.raises(ValueError, match="mean must be finite"):
        ImageEncoder(encoder.net, mean=math.nan)


def test_encoder_methods_check_preprocessed_batches(encoder):
    x = encoder.preprocess(np.zeros((2, 8, 8), np.uint8), size=32)
    with pytest.raises(ValueError, match=r"x must have shape \(n, 3, size, size\)"):
        encoder.features(x[:, :2])
    with pytest.raises(TypeError, match="x must be a torch tensor"):
        encoder.logits(x.numpy())
    bad = x.clone()
    bad[0, 0, 0, 0] = math.inf
    with pytest.raises(ValueError, match="x must be finite"):
        encoder.feature_map(bad, 3)
    with pytest.raises(ValueError, match=r"block must be None or an integer in \[0, 15\]"):
        encoder.feature_map(x, 16)


def test_image_helpers_check_arguments_before_running_the_network(encoder):
    imgs = np.zeros((2, 8, 8), np.uint8)
    with pytest.raises(TypeError, match="images must be a numpy array or torch tensor"):
        image_features("images", encoder, size=32)
    with pytest.raises(ValueError, match=r"images must have shape \(n, H, W\)"):
        image_features(imgs.reshape(-1), encoder, size=32)
    with pytest.raises(ValueError, match="images must be finite"):
        image_features(np.full((2, 8, 8), np.nan), encoder, size=32)
    with pytest.raises(TypeError, match="encoder must be an ImageEncoder"):
        image_features(imgs, "lite0", size=32)
    with pytest.raises(ValueError, match="size must be a multiple of 32"):
        image_tokens(imgs, encoder, size=48)
    with pytest.raises(TypeError, match="cache must be True or False"):
        image_tokens(imgs, encoder, size=32, cache="no")


@pytest.mark.skipif(not asset_installed("all-minilm-l6-v2"), reason="llm extra not installed")
def test_sentence_embeddings_check_sentences_and_encoder():
    with pytest.raises(TypeError, match="sentences must be a sequence of strings"):
        sentence_embeddings("one sentence")
    with pytest.raises(TypeError, match="sentences must be a sequence of strings, got an item"):
        sentence_embeddings(["fine", 3])
    with pytest.raises(ValueError, match="sentences must not be empty"):
        sentence_embeddings([])
    with pytest.raises(TypeError, match=r"encoder must be a \(model, tokenizer\) pair"):
        sentence_embeddings(["a"], encoder="minilm")
