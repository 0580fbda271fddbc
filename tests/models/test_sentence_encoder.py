"""all-MiniLM-L6-v2 through mintlab.models (the same weights as compress.testbed's loader)."""

import pytest
import torch

from mintlab.models import load_sentence_encoder, sentence_embeddings


def test_embeddings_are_unit_norm_and_semantic():
    e = sentence_embeddings(["The cat sat on the mat.", "A kitten rested on the rug.",
                             "Interest rates rose sharply this quarter."])
    assert e.shape == (3, 384)
    torch.testing.assert_close(e.norm(dim=1), torch.ones(3))
    assert float(e[0] @ e[1]) > float(e[0] @ e[2]) + 0.2


def test_same_model_as_the_testbed_loader():
    from mintlab.compress.testbed import load_minilm
    from mintlab.compress.testbed import sentence_embeddings as testbed_embeddings

    sents = ["In the beginning God created the heaven and the earth.", "It is a truth."]
    ours = sentence_embeddings(sents, load_sentence_encoder())
    theirs = testbed_embeddings(*load_minilm(), sents)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


def test_arguments_are_checked():
    with pytest.raises(TypeError, match="sentences must be a sequence of strings"):
        sentence_embeddings("one string")
    with pytest.raises(ValueError, match="sentences must not be empty"):
        sentence_embeddings([])
    with pytest.raises(ValueError, match="name must be one of"):
        load_sentence_encoder("bert-base")
