"""Whitening succeeds on every linear layer of SmolLM2-135M at 128 and 4,096 calibration tokens."""

import math

import pytest
import torch
import torch.nn.functional as F

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("smollm2")]


def _hf_objective():
    from mintlab.compress.svd import Objective

    def logits(model, batch):
        out = model(batch[:, :-1]).logits
        return out.reshape(-1, out.shape[-1])

    def loss(model, batch):
        return F.cross_entropy(logits(model, batch), batch[:, 1:].reshape(-1))

    return Objective(loss, logits, "hf-causal-lm")


def whitening_census(model, tokenizer, n_tokens, window=512):
    """Per linear layer of the decoder: the whitening path and condition number at n_tokens."""
    from mintlab.compress.svd import collect_statistics, find_linear_layers, whitening_factor
    from mintlab.datasets import load_text_corpus

    ids = tokenizer(load_text_corpus("calibration", "kjv"), return_tensors="pt").input_ids[0]
    window = min(window, n_tokens)
    batches = [ids[i * window: i * window + window + 1][None] for i in range(n_tokens // window)]
    layers = find_linear_layers(model, exclude="lm_head")
    stats, _ = collect_statistics(model, layers, batches, _hf_objective())
    out = {}
    for name, st in stats.items():
        assert st.n_tokens == n_tokens
        w = whitening_factor(st.covariance)
        C = st.covariance
        LLt = w.factor @ w.factor.T
        out[name] = {"path": w.path, "condition": w.condition,
                     "factor_condition": w.factor_condition,
                     "finite": bool(torch.isfinite(w.factor).all()),
                     "residual": float((LLt - C).norm() / C.norm())}
    return out


@pytest.fixture(scope="module")
def lm():
    from mintlab.models import load_causal_lm

    try:
        return load_causal_lm("smollm2-135m")
    except Exception as err:  # the model wheel is optional
        pytest.skip(f"SmolLM2-135M unavailable: {err}")


@pytest.mark.parametrize("n_tokens", [128, 4096])
def test_whitening_succeeds_on_all_210_layers(lm, n_tokens):
    model, tok = lm
    census = whitening_census(model, tok, n_tokens)
    assert len(census) == 210
    for name, info in census.items():
        assert info["finite"], name
        assert info["factor_condition"] < 1e13, name
        # the factor reproduces the Gram matrix up to the damping (relative to its spectrum)
        assert info["residual"] < 1e-3, (name, info)
    if n_tokens < 576:  # fewer tokens than the narrowest width: every Gram matrix is singular
        assert all(math.isinf(i["condition"]) or i["condition"] > 1e8 for i in census.values())
