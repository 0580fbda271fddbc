"""Whitened-SVD compression: exactness, budgets, loss estimates, selection rules, errors."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mintlab.compress.svd import (
    LowRankLinear,
    compress_model,
    find_linear_layers,
    finetune,
    prehab,
    stable_rank,
    uniform_rank,
    whitened_decomposition,
)
from mintlab.compress.svd._calib import classification_objective, collect_statistics
from mintlab.compress.svd.methods import _cholesky, _select_global
from mintlab.compress.testbed import ByteGPT, LMConfig, lm_batches


def _mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(12, 24), nn.Tanh(), nn.Linear(24, 16), nn.Tanh(),
                         nn.Linear(16, 5))


def _cls_batches(n=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        x = torch.randn(32, 12, generator=g) @ torch.randn(12, 12, generator=g)
        out.append((x, torch.randint(0, 5, (32,), generator=g)))
    return out


def _tiny_lm(seed=0):
    torch.manual_seed(seed)
    return ByteGPT(LMConfig(d_model=32, n_layers=1, n_heads=2, context=16))


@pytest.mark.parametrize("kind", ["none", "diag", "chol", "io"])
def test_full_rank_whitened_truncation_reproduces_the_layer(kind):
    g = torch.Generator().manual_seed(1)
    W = torch.randn(7, 5, generator=g, dtype=torch.float64)
    X = torch.randn(50, 5, generator=g, dtype=torch.float64)
    S = {"none": None, "diag": X.abs().mean(0) ** 0.5,
         "chol": _cholesky(X.T @ X / 50), "io": _cholesky(X.T @ X / 50)}[kind]
    R = None
    if kind == "io":
        Gm = torch.randn(40, 7, generator=g, dtype=torch.float64)
        R = _cholesky(Gm.T @ Gm / 40).T
    dec = whitened_decomposition(W, S, R)
    up, down = dec.factors(5)
    assert torch.allclose(up @ down, W, atol=1e-10)


def test_svd_llm_truncation_error_is_the_dropped_singular_energy():
    g = torch.Generator().manual_seed(2)
    W = torch.randn(6, 8, generator=g, dtype=torch.float64)
    X = torch.randn(200, 8, generator=g, dtype=torch.float64) * torch.linspace(0.1, 3, 8)
    C = X.T @ X / 200
    dec = whitened_decomposition(W, torch.linalg.cholesky(C))
    for k in range(7):
        up, down = dec.factors(k)
        err = (((W - up @ down) @ X.T) ** 2).sum(0).mean()
        assert float(err) == pytest.approx(float((dec.s[k:] ** 2).sum()), rel=1e-9)


def test_component_gradients_match_finite_differences():
    model = _mlp().double()
    batches = [(x.double(), y) for x, y in _cls_batches(3)]
    obj = classification_objective()
    layers = find_linear_layers(model)
    stats, _ = collect_statistics(model, layers, batches, obj, gradients=True)
    name, lin = "2", layers["2"]
    S = _cholesky(stats[name].covariance)
    dec = whitened_decomposition(lin.weight, S)
    g = dec.component_gradients(stats[name].grad)
    W0 = lin.weight.detach().clone()

    def loss_at(W):
        with torch.no_grad():
            lin.weight.copy_(W)
            return float(sum(obj.loss(model, b) for b in batches) / len(batches))

    eps = 1e-5
    for i in (0, 3, 10):
        direction = torch.linalg.solve_triangular(
            S, torch.outer(dec.U[:, i], dec.Vh[i]), upper=False, left=False)
        fd = (loss_at(W0 + eps * direction) - loss_at(W0 - eps * direction)) / (2 * eps)
        assert fd == pytest.approx(float(g[i]), rel=1e-5, abs=1e-9)
    loss_at(W0)


def test_output_metric_is_the_softmax_fisher_for_the_last_layer():
    # logits = W x: the metric of the logit layer is E[diag(p) - p p^T] (all tokens in the top-K)
    torch.manual_seed(0)
    lin = nn.Linear(4, 3, bias=False).double()
    model = nn.Sequential(lin)
    x = torch.randn(4000, 4, dtype=torch.float64)
    batches = [(x[i:i + 500], torch.zeros(500, dtype=torch.long)) for i in range(0, 4000, 500)]
    stats, _ = collect_statistics(model, {"0": lin}, batches, classification_objective(),
                                  output_metric=True, top_k=3, seed=0)
    p = F.softmax(lin(x), -1).detach()
    fisher = (torch.diag_embed(p) - p[:, :, None] * p[:, None, :]).mean(0)
    assert torch.allclose(stats["0"].out_metric, fisher, atol=0.02)


def test_uniform_budget_matches_the_report():
    model = _tiny_lm()
    calib = lm_batches("calibration", n_batches=2, batch_size=2, seq_len=16)
    for method in ("svd", "asvd", "svd-llm"):
        cm, rep = compress_model(model, method, 0.4, calib, exclude="head")
        lows = {n: m for n, m in cm.named_modules() if isinstance(m, LowRankLinear)}
        assert set(lows) == set(rep.layers)
        for n, m in lows.items():
            o, i = rep.layers[n]["shape"]
            assert m.rank == uniform_rank(o, i, 0.4) == rep.layers[n]["rank"]
            assert m.rank * (o + i) == rep.layers[n]["params"]
        assert rep.params_after == sum(m.rank * (m.in_features + m.out_features)
                                       for m in lows.values())
        assert 0.4 <= rep.achieved_ratio < 0.45
        # the original model is untouched
        assert all(type(m) is not LowRankLinear for m in model.modules())


@pytest.mark.parametrize("method,kw", [("zs-svd", {}), ("zs-svd", {"correction": True}),
                                       ("io-svd", {})])
def test_global_methods_meet_the_budget(method, kw):
    model = _tiny_lm()
    calib = lm_batches("calibration", n_batches=3, batch_size=2, seq_len=16)
    cm, rep = compress_model(model, method, 0.5, calib, exclude="head", **kw)
    assert rep.achieved_ratio >= 0.5
    assert rep.achieved_ratio < 0.5 + 0.05
    x = calib[0][:, :-1]
    assert cm(x).shape == model(x).shape
    for n, info in rep.layers.items():
        m = cm.get_submodule(n)
        assert isinstance(m, LowRankLinear) != info["dense"]


def test_hybrid_path_meets_the_byte_budget_and_stores_int8_values():
    model = _tiny_lm()
    calib = lm_batches("calibration", n_batches=3, batch_size=2, seq_len=16)
    cm, rep = compress_model(model, "io-svd", 0.7, calib, exclude="head", quantize="loss-aware")
    assert rep.bytes_after <= 0.3 * rep.bytes_before
    for n, m in cm.named_modules():
        if isinstance(m, LowRankLinear) and m.int8_components.any():
            assert m.storage_bytes == rep.layers[n]["bytes"]
            i = int(m.int8_components.nonzero()[0])
            col = m.up[:, i].detach()
            levels = col / (col.abs().max() / 127)
            assert torch.allclose(levels, levels.round(), atol=1e-3)
            break
    else:
        pytest.fail("no component was stored in 8 bits")


def test_zero_sum_rule_keeps_the_running_sum_small():
    rng = np.random.default_rng(0)
    infos = {f"l{i}": {"shape": (20, 20), "delta": rng.normal(size=20)} for i in range(6)}
    ranks, running = _select_global(infos, 0.5 * 6 * 400, "zero-sum", 1)
    biggest = max(abs(d).max() for d in (v["delta"] for v in infos.values()))
    assert abs(running) <= biggest
    removed = sum(400 - min(400, k * 40) for k in ranks.values())
    assert removed >= 0.5 * 6 * 400


def test_low_rank_linear_forward_and_counts():
    up, down, b = torch.randn(6, 2), torch.randn(2, 4), torch.randn(6)
    layer = LowRankLinear.from_factors(up, down, b)
    x = torch.randn(3, 4)
    assert torch.allclose(layer(x), x @ (up @ down).T + b, atol=1e-6)
    assert layer.n_parameters == 2 * 10 + 6
    assert layer.storage_bytes == (2 * 10 + 6) * 4
    with pytest.raises(ValueError, match="rank"):
        LowRankLinear(4, 6, 5)


@pytest.mark.parametrize("ratio", [0, 1, -0.2, 1.5, 0.0, 1.0])
def test_bad_ratios_are_rejected(ratio):
    with pytest.raises(ValueError, match="ratio"):
        compress_model(_mlp(), "svd", ratio)


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="ratio"):
        compress_model(_mlp(), "svd", float("nan"))
    with pytest.raises(TypeError, match="ratio"):
        compress_model(_mlp(), "svd", "0.5")
    with pytest.raises(ValueError, match="no nn.Linear"):
        compress_model(nn.Sequential(nn.ReLU()), "svd", 0.5)
    with pytest.raises(ValueError, match="calibration is required"):
        compress_model(_mlp(), "svd-llm", 0.5)
    with pytest.raises(ValueError, match="at least one batch"):
        compress_model(_mlp(), "svd-llm", 0.5, [])
    with pytest.raises(ValueError, match="method"):
        compress_model(_mlp(), "magic", 0.5)
    with pytest.raises(ValueError, match="quantize"):
        compress_model(_mlp(), "svd-llm", 0.5, _cls_batches(1), quantize="all")
    with pytest.raises(TypeError, match="objective"):
        compress_model(_mlp(), "svd-llm", 0.5, [torch.randn(3, 12)])


def test_classification_models_are_supported():
    model = _mlp()
    batches = _cls_batches()
    cm, rep = compress_model(model, "zs-svd", 0.3, batches)
    x, _ = batches[0]
    assert cm(x).shape == (32, 5)
    assert rep.achieved_ratio >= 0.3


def test_stable_rank_and_prehab_lower_the_surrogate():
    assert float(stable_rank(torch.diag(torch.tensor([3.0, 1.0])))) == pytest.approx(10 / 9)
    model = _mlp()
    batches = _cls_batches()
    log = prehab(model, batches, steps=30, lr=1e-2, lam=1.0, surrogate="nuclear")
    assert log["surrogate_after"] < log["surrogate_before"]
    log = prehab(_mlp(), batches, steps=30, lr=1e-2, lam=1.0)
    assert log["surrogate_after"] < log["surrogate_before"]
    losses = finetune(model, batches, steps=40, lr=1e-2)
    assert np.mean(losses[-5:]) < np.mean(losses[:5])
    with pytest.raises(ValueError, match="surrogate"):
        prehab(model, batches, surrogate="trace")
    with pytest.raises(ValueError, match="steps"):
        finetune(model, batches, steps=0)


def test_device_and_dtype_follow_the_model():
    model = _mlp().double()
    batches = [(x.double(), y) for x, y in _cls_batches(2)]
    cm, _ = compress_model(model, "svd-llm", 0.5, batches)
    lows = [m for m in cm.modules() if isinstance(m, LowRankLinear)]
    assert lows and all(m.up.dtype == torch.float64 for m in lows)
    assert math.isfinite(float(cm(batches[0][0]).detach().sum()))
