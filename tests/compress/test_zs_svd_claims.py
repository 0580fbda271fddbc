"""ZS-SVD: properties that hold by construction, and the experiment's fair uniform baseline.

* a global selection gives heterogeneous ranks: more distinct ranks than the
  model has layer shapes, where uniform allocation gives one rank per shape;
* the experiment's uniform baseline (``matched_uniform``) keeps exactly the
  method's number of weight entries, with near-uniform ranks, and its cut
  factors are exactly the method's own lower-rank truncation;
* the per-window scores the experiment compares are the testbed's perplexity.
"""

import math

import numpy as np
import pytest
import torch

from mintlab.compress.svd import LowRankLinear, compress_model, uniform_rank
from mintlab.compress.testbed import ByteGPT, LMConfig, lm_batches, perplexity
from mintlab.experiments._llm_common import (
    matched_uniform,
    perplexity_of,
    uniform_ranks_for,
    window_nll,
)


def _lm(seed=0):
    torch.manual_seed(seed)
    return ByteGPT(LMConfig(d_model=32, n_layers=2, n_heads=2, context=16)).eval()


def _calib():
    return lm_batches("calibration", n_batches=4, batch_size=4, seq_len=16, seed=0)


def _shapes(model):
    return {n: tuple(m.weight.shape) for n, m in model.named_modules()
            if isinstance(m, torch.nn.Linear) and n != "head"}


def test_zs_svd_ranks_are_heterogeneous_and_uniform_ranks_are_not():
    model, calib = _lm(), _calib()
    n_shapes = len(set(_shapes(model).values()))
    assert n_shapes == 3  # d x d attention projections, the 4d x d and d x 4d MLP layers
    _, zs = compress_model(model, "zs-svd", 0.4, calib, exclude="head")
    _, llm = compress_model(model, "svd-llm", 0.4, calib, exclude="head")
    assert len(set(llm.ranks.values())) <= n_shapes  # one rank per shape (fc1, fc2 share one)
    assert len(set(zs.ranks.values())) > n_shapes
    # the selection is global: its budget is met over the model, not layer by layer
    assert zs.achieved_ratio >= 0.4
    per_layer = [1 - info["params"] / (info["shape"][0] * info["shape"][1])
                 for info in zs.layers.values()]
    assert max(per_layer) - min(per_layer) > 0.2


def test_uniform_ranks_hit_the_count_exactly_and_stay_near_uniform():
    shapes = {"a": (32, 32), "b": (32, 32), "c": (128, 32), "d": (32, 128)}
    total = sum(m * n for m, n in shapes.values())
    for kept in (64 * 10 + 160 * 20 + 160 * 21, 64 * 7 + 160 * 9 + 160 * 9 + 64 * 6):
        ranks = uniform_ranks_for(shapes, kept)
        assert sum(k * (m + n) for (m, n), k in zip(shapes.values(), ranks.values(),
                                                     strict=True)) == kept
        for name, (m, n) in shapes.items():
            ideal = kept / total * m * n / (m + n)
            assert abs(ranks[name] - ideal) < 4
    with pytest.raises(ValueError, match="exactly"):
        uniform_ranks_for({"a": (32, 32)}, 65)  # not a multiple of 64


def test_matched_baseline_keeps_the_methods_count_exactly():
    model, calib = _lm(), _calib()
    _, rep = compress_model(model, "zs-svd", 0.5, calib, exclude="head")
    for method in ("asvd", "svd-llm"):
        cm, ranks = matched_uniform(model, method, rep.params_after, calib, exclude="head")
        lows = {n: m for n, m in cm.named_modules() if isinstance(m, LowRankLinear)}
        assert set(lows) == set(rep.layers)
        stored = sum(m.rank * (m.in_features + m.out_features) for m in lows.values())
        assert stored == rep.params_after
        assert {n: m.rank for n, m in lows.items()} == ranks


def test_cut_factors_equal_the_methods_own_truncation():
    # a count that uniform ranks reach exactly: the matched baseline must be SVD-LLM itself
    model, calib = _lm(), _calib()
    ref, rep = compress_model(model, "svd-llm", 0.4, calib, exclude="head")
    for n, (m, k) in _shapes(model).items():
        assert rep.layers[n]["rank"] == uniform_rank(m, k, 0.4)
    cm, ranks = matched_uniform(model, "svd-llm", rep.params_after, calib, exclude="head")
    assert ranks == rep.ranks
    x = calib[0][:, :-1]
    with torch.no_grad():
        torch.testing.assert_close(cm(x), ref(x), rtol=1e-5, atol=1e-5)


def test_window_scores_are_the_testbed_perplexity():
    model = _lm()
    nll = window_nll(model, max_bytes=4096)
    assert nll.shape == ((4096 - 1) // 16,)
    assert np.all(np.isfinite(nll)) and np.all(nll > 0)
    assert perplexity_of(nll) == pytest.approx(perplexity(model, "test", max_bytes=4096),
                                               rel=1e-6)
    assert math.isclose(perplexity_of(np.full(3, math.log(2.0))), 2.0)
