"""The offline corpus, the byte-level testbed LM and MiniLM."""

import pytest
import torch

from mintlab.compress.testbed import (
    ByteGPT,
    LMConfig,
    lm_batches,
    lm_loss,
    minilm_available,
    perplexity,
    train_testbed_lm,
)
from mintlab.datasets import CORPUS_SPLITS, load_corpus_verses, load_text_corpus
from mintlab.datasets.corpus import _split_of, corpus_chapters


def test_corpus_loads_offline_with_disjoint_splits():
    chapters = corpus_chapters()
    assert len(chapters) == 1189
    assert sum(len(c) for c in chapters) == 31102
    by_split = {s: [i for i in range(len(chapters)) if _split_of(i) == s] for s in CORPUS_SPLITS}
    assert sum(len(v) for v in by_split.values()) == len(chapters)
    assert not set(by_split["test"]) & set(by_split["train"])
    assert not set(by_split["test"]) & set(by_split["calibration"])
    assert not set(by_split["calibration"]) & set(by_split["train"])
    sizes = {s: len(load_text_corpus(s)) for s in CORPUS_SPLITS}
    assert sizes["train"] > 15 * sizes["test"]
    assert load_corpus_verses("train")[0].startswith("In the beginning God created")
    assert all(":" not in v[:8] or not v[:3].isalnum() for v in load_corpus_verses("test")[:50])
    with pytest.raises(ValueError, match="split"):
        load_text_corpus("dev")


def test_byte_gpt_shapes_and_errors():
    model = ByteGPT(LMConfig(d_model=32, n_layers=1, n_heads=2, context=16))
    b = lm_batches("calibration", n_batches=1, batch_size=3, seq_len=16)[0]
    assert b.shape == (3, 17) and b.dtype == torch.int64
    assert model(b[:, :-1]).shape == (3, 16, 256)
    assert float(lm_loss(model, b).detach()) == pytest.approx(5.545, abs=0.1)  # ~log 256 at init
    with pytest.raises(ValueError, match="context"):
        model(torch.zeros(1, 17, dtype=torch.long))
    with pytest.raises(ValueError, match="integer"):
        model(torch.zeros(1, 4))
    with pytest.raises(ValueError, match="divisible"):
        ByteGPT(LMConfig(d_model=30, n_heads=4))
    with pytest.raises(ValueError, match="size"):
        train_testbed_lm("huge")


def test_seeded_batches_are_reproducible():
    a = lm_batches("train", n_batches=2, batch_size=2, seq_len=8, seed=4)
    b = lm_batches("train", n_batches=2, batch_size=2, seq_len=8, seed=4)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_training_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("MINTLAB_CACHE_DIR", str(tmp_path))
    m1 = train_testbed_lm("tiny", steps=3)
    assert list(tmp_path.glob("bytegpt-tiny-*.pt"))
    m2 = train_testbed_lm("tiny", steps=3)
    for (k, v), (_, w) in zip(m1.state_dict().items(), m2.state_dict().items(), strict=True):
        assert torch.equal(v, w), k
    p = perplexity(m2, "test", max_bytes=4096)
    assert 50 < p < 300  # barely trained: close to uniform over bytes


@pytest.mark.skipif(not minilm_available(), reason="needs the llm extra")
def test_minilm_loads_offline_and_embeds():
    from mintlab.compress.testbed import load_minilm, sentence_embeddings

    model, tok = load_minilm()
    e = sentence_embeddings(model, tok, ["In the beginning God created the heaven.",
                                         "And the earth was without form."])
    assert e.shape == (2, 384)
    assert torch.allclose(e.norm(dim=1), torch.ones(2), atol=1e-5)
    with pytest.raises(ValueError, match="empty"):
        sentence_embeddings(model, tok, [])
