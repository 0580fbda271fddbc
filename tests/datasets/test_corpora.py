"""The KJV and Jane Austen corpora: shipped files, chapter splits, checksums."""

import hashlib

import pytest

from mintlab.datasets import (
    AUSTEN_NOVELS,
    CORPORA,
    CORPUS_SPLITS,
    corpus_chapters,
    load_corpus_verses,
    load_text_corpus,
)
from mintlab.datasets.corpus import _split_of

DIGESTS = {  # sha256 (first 16 hex digits) of each split's text
    ("kjv", "train"): "99312963c8ea955f", ("kjv", "calibration"): "d47e3a6d3703b89b",
    ("kjv", "test"): "4359958934e223c7", ("austen", "train"): "0ed69d35d66eae54",
    ("austen", "calibration"): "9c61cbdf9d78a00a", ("austen", "test"): "b9e12a4f926fdcc0",
}


@pytest.mark.parametrize("corpus", CORPORA)
@pytest.mark.parametrize("split", CORPUS_SPLITS)
def test_split_texts_match_their_checksums(corpus, split):
    text = load_text_corpus(split, corpus=corpus)
    assert hashlib.sha256(text.encode()).hexdigest()[:16] == DIGESTS[corpus, split]


def test_default_corpus_is_still_the_kjv():
    assert load_text_corpus("test") == load_text_corpus("test", corpus="kjv")
    assert load_corpus_verses("calibration") == load_corpus_verses("calibration", "kjv")
    assert len(corpus_chapters()) == 1189


def test_austen_chapters_novels_and_splits():
    chapters = corpus_chapters("austen")
    assert len(chapters) == sum(n for _, _, n in AUSTEN_NOVELS) == 269
    assert sum(len(c) for c in chapters) == 10_001  # paragraphs
    assert chapters[0][0].startswith("The family of Dashwood had long been settled in Sussex")
    assert chapters[50][0].startswith("It is a truth universally acknowledged")  # P&P ch. 1
    assert chapters[-1][-1].endswith("more distinguished in its domestic virtues than in its "
                                     "national importance.")
    by_split = {s: {i for i in range(len(chapters)) if _split_of(i) == s} for s in CORPUS_SPLITS}
    assert sum(map(len, by_split.values())) == 269
    assert not by_split["train"] & by_split["test"]
    assert not by_split["train"] & by_split["calibration"]
    assert not by_split["test"] & by_split["calibration"]
    sizes = {s: len(load_text_corpus(s, corpus="austen")) for s in CORPUS_SPLITS}
    assert sizes["train"] > 12 * sizes["test"] and sizes["test"] > 100_000
    text = load_text_corpus("train", corpus="austen")
    assert "CHAPTER" not in text and "Chapter 1" not in text and "_" not in text
    assert "A NOTE ON THE TEXT" not in text


def test_austen_paragraphs_of_a_split_are_its_lines():
    paras = load_corpus_verses("test", corpus="austen")
    assert paras[0].startswith("Mrs. Jennings was a widow with an ample jointure.")
    assert "\n".join(paras).replace("\n", "") == \
        load_text_corpus("test", corpus="austen").replace("\n", "")


def test_corpus_arguments_are_checked():
    with pytest.raises(ValueError, match="corpus must be one of"):
        load_text_corpus("train", corpus="shakespeare")
    with pytest.raises(TypeError, match="corpus must be a string"):
        load_corpus_verses("train", corpus=None)
    with pytest.raises(ValueError, match="split must be one of"):
        load_text_corpus("dev", corpus="austen")
