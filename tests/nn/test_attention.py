"""Attention layers: oracles (torch MHA, Sinkhorn, hard sliced plans), double
stochasticity, linear memory, streaming, gradients, errors."""

import subprocess
import sys

import pytest
import torch

from mintlab.nn import (
    ATTENTIONS,
    ESPAttention,
    LOTAttention,
    LUNAAttention,
    SinkhornAttention,
    SoftmaxAttention,
    make_attention,
)
from mintlab.transport import expected_sliced_plan


def _x(n=12, B=2, E=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, n, E, generator=g, dtype=torch.float64)


def test_softmax_equals_torch_multihead_attention():
    torch.manual_seed(0)
    ours = SoftmaxAttention(8, 2).double()
    ref = torch.nn.MultiheadAttention(8, 2, batch_first=True).double()
    with torch.no_grad():
        W = torch.cat([ours.q_proj.weight, ours.k_proj.weight, ours.v_proj.weight])
        b = torch.cat([ours.q_proj.bias, ours.k_proj.bias, ours.v_proj.bias])
        ref.in_proj_weight.copy_(W)
        ref.in_proj_bias.copy_(b)
        ref.out_proj.weight.copy_(ours.out_proj.weight)
        ref.out_proj.bias.copy_(ours.out_proj.bias)
    q, kv = _x(5), _x(7, seed=1)
    pad = torch.zeros(2, 7, dtype=torch.bool)
    pad[0, 5:] = True
    o1, w1 = ours(q, kv, kv, key_padding_mask=pad, need_weights=True)
    o2, w2 = ref(q, kv, kv, key_padding_mask=pad, need_weights=True)
    torch.testing.assert_close(o1, o2)
    torch.testing.assert_close(w1, w2)


@pytest.mark.parametrize("name", sorted(ATTENTIONS))
def test_padded_keys_are_ignored_and_rows_sum_to_one(name):
    torch.manual_seed(0)
    att = make_attention(name, 8, 2).double()
    q, kv = _x(10), _x(9, seed=1)
    pad = torch.zeros(2, 9, dtype=torch.bool)
    pad[1, 6:] = True
    out, w = att(q, kv, kv, key_padding_mask=pad, need_weights=True,
                 average_attn_weights=False)
    assert out.shape == (2, 10, 8) and w.shape == (2, 2, 10, 9)
    assert torch.all(w[1, :, :, 6:] == 0)
    assert torch.all(w >= 0)
    tol = 0.1 if name == "esp" else 1e-8  # ESP: SoftSort error, see the next tests
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 2, 10, dtype=torch.float64), atol=tol,
                               rtol=0)
    kv2 = kv.clone()
    kv2[1, 6:] = 40.0
    torch.testing.assert_close(att(q, kv2, kv2, key_padding_mask=pad)[0], out)
    # the fast path (no weights) gives the same output
    torch.testing.assert_close(att(q, kv, kv, key_padding_mask=pad)[0], out)
    # and finite gradients, padding included
    kv3 = kv.clone().requires_grad_(True)
    att(q, kv3, kv3, key_padding_mask=pad)[0].sum().backward()
    assert torch.isfinite(kv3.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in att.parameters() if p.grad is not None)


def test_sinkhorn_attention_is_doubly_stochastic():
    att = SinkhornAttention(8, 2, n_iter=200).double()
    w = att.attention_matrix(_x(10))
    torch.testing.assert_close(w.sum(-1), torch.ones_like(w.sum(-1)))
    torch.testing.assert_close(w.sum(-2), torch.ones_like(w.sum(-2)), atol=1e-6, rtol=0)


def test_esp_hard_limit_is_the_expected_sliced_plan():
    # one slice, tiny temperature: n times the monotone plan along that direction
    att = ESPAttention(4, 1, n_slices=1, temperature=1e-6, seed=0).double()
    x = _x(6, B=1, E=4)
    w = att.attention_matrix(x)[0, 0]
    q = att.q_proj(x)[0].detach()
    k = att.k_proj(x)[0].detach()
    theta = (att.directions[0] / att.directions[0].norm(dim=0)).detach()
    ref = expected_sliced_plan(q, k, projections=theta).plan
    torch.testing.assert_close(w.detach(), 6 * ref, atol=1e-8, rtol=0)


def test_esp_double_stochasticity_improves_as_temperature_falls():
    x = _x(30)
    errs = []
    for tau in [0.3, 0.03, 1e-6]:
        torch.manual_seed(0)  # the projections' initialisation
        att = ESPAttention(8, 2, n_slices=4, temperature=tau, seed=0).double()
        w = att.attention_matrix(x).detach()
        errs.append(max(float((w.sum(-1) - 1).abs().max()),
                        float((w.sum(-2) - 1).abs().max())))
    assert errs[0] > errs[1] > errs[2] and errs[2] < 1e-3, errs


def test_esp_slice_weights_favour_cheap_slices():
    x = _x(8, B=1)
    flat = ESPAttention(8, 1, n_slices=6, beta=0.0, seed=1).double()
    sharp = ESPAttention(8, 1, n_slices=6, beta=1e3, seed=1).double()
    sharp.load_state_dict(flat.state_dict())
    q, k = flat.q_proj(x).detach(), flat.k_proj(x).detach()
    C = torch.cdist(q, k)[0] ** 2
    c_flat = float((flat.attention_matrix(x)[0, 0] * C).sum())
    c_sharp = float((sharp.attention_matrix(x)[0, 0] * C).sum())
    assert c_sharp < c_flat


def test_lot_rows_exact_columns_converge_and_rank_bounded():
    x = _x(40)
    errs = []
    for n_iter in [2, 20, 500]:
        att = LOTAttention(8, 2, n_pivots=5, n_iter=n_iter, seed=0).double()
        w = att.attention_matrix(x).detach()
        torch.testing.assert_close(w.sum(-1), torch.ones_like(w.sum(-1)))
        errs.append(float((w.sum(-2) - 1).abs().max()))
        assert int(torch.linalg.matrix_rank(w[0, 0])) <= 5
    assert errs[0] > errs[1] > errs[2] and errs[2] < 1e-6, errs


@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/clear_refs"),
                    reason="needs Linux's peak-memory reset")
def test_lot_and_luna_never_form_the_n_by_n_matrix():
    # n = 40,000: one float32 n x n matrix is 6.4 GB. The peak resident set is reset after
    # the imports and a small warm-up, so only the three large passes are measured.
    code = (
        "import torch\n"
        "from mintlab.nn import LOTAttention, LUNAAttention\n"
        "torch.set_num_threads(1)\n"
        "def status(key):\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith(key):\n"
        "            return int(line.split()[1])\n"
        "layers = [LOTAttention(16, 2, n_pivots=8, n_iter=3), LUNAAttention(16, 2, n_features=16),"
        " LUNAAttention(16, 2, n_features=16, causal=True, chunk_size=256)]\n"
        "with torch.no_grad():\n"
        "    for layer in layers:\n"
        "        layer(torch.randn(1, 300, 16))\n"
        "    x = torch.randn(1, 40000, 16)\n"
        "    base = status('VmRSS:')\n"
        "    open('/proc/self/clear_refs', 'w').write('5')\n"
        "    for layer in layers:\n"
        "        layer(x)\n"
        "print(status('VmHWM:') - base)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    growth_kb = int(out.stdout.strip().splitlines()[-1])
    assert growth_kb < 500_000, growth_kb


def test_luna_fast_paths_equal_explicit_weights_and_streaming():
    torch.manual_seed(0)
    x = _x(20)
    for causal in (False, True):
        att = LUNAAttention(8, 2, n_features=12, causal=causal, chunk_size=6).double()
        fast = att(x)[0]
        explicit, w = att(x, need_weights=True, average_attn_weights=False)
        torch.testing.assert_close(fast, explicit)
        if causal:
            assert torch.all(w.triu(1) == 0)
    # chunk by chunk with a carried state = one causal call
    state, outs = None, []
    for s in range(0, 20, 7):
        o, state = att.stream(x[:, s:s + 7], state)
        outs.append(o)
    torch.testing.assert_close(torch.cat(outs, 1), att(x)[0])


def test_luna_kernel_is_positive_definite():
    att = LUNAAttention(8, 1, n_features=64).double()
    h = att._heads(att.q_proj(_x(30, B=1)))
    f = att.features(h, False)[0, 0]
    K = f @ f.T
    assert float(torch.linalg.eigvalsh(K).min()) > -1e-10


@pytest.mark.parametrize("name", sorted(ATTENTIONS))
def test_gradcheck(name):
    torch.manual_seed(0)
    kw = {"temperature": 0.5} if name == "esp" else {}
    att = make_attention(name, 4, 2, **kw).double()
    x = _x(5, B=1, E=4).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: att(t)[0], (x,), atol=1e-6)


@pytest.mark.parametrize(
    "args, kwargs, exc, match",
    [
        ((torch.randn(2, 5),), {}, ValueError, "batch_first"),
        ((torch.randn(2, 5, 6),), {}, ValueError, "last dimension 8"),
        ((torch.randn(2, 5, 8), torch.randn(3, 4, 8)), {}, ValueError, "batch size"),
        ((torch.randn(2, 5, 8),), {"key_padding_mask": torch.ones(2, 5, dtype=torch.bool)},
         ValueError, "hides every key"),
        ((torch.randn(2, 5, 8),), {"key_padding_mask": torch.ones(2, 5)}, TypeError, "boolean"),
        ((torch.randn(2, 5, 8),), {"key_padding_mask": torch.zeros(2, 4, dtype=torch.bool)},
         ValueError, "shape"),
        ((torch.full((2, 5, 8), float("inf")),), {}, ValueError, "finite"),
        (([[1.0]],), {}, TypeError, "floating torch tensor"),
    ],
)
@pytest.mark.parametrize("name", ["softmax", "esp", "lot", "luna"])
def test_bad_inputs(name, args, kwargs, exc, match):
    att = make_attention(name, 8, 2)
    with pytest.raises(exc, match=match):
        att(*args, **kwargs)


def test_constructor_errors():
    with pytest.raises(ValueError, match="divisible"):
        SoftmaxAttention(6, 4)
    with pytest.raises(ValueError, match="attention"):
        make_attention("flash", 8)
    with pytest.raises(ValueError, match="causal attention needs as many keys"):
        LUNAAttention(8, 1, causal=True)(torch.randn(1, 5, 8), torch.randn(1, 6, 8))


def test_esp_slice_weighting_matches_explicit_plans():
    # L slices with beta > 0 = the softmax(-beta cost)-weighted mixture of one-slice plans
    torch.manual_seed(0)
    x = _x(7, B=1, E=4)
    full = ESPAttention(4, 1, n_slices=3, beta=0.7, temperature=0.2, seed=3).double()
    q = full.q_proj(x).detach()
    k = full.k_proj(x).detach()
    C = torch.cdist(q, k)[0] ** 2
    plans, costs = [], []
    for s in range(3):
        one = ESPAttention(4, 1, n_slices=1, temperature=0.2).double()
        one.load_state_dict({**full.state_dict(),
                             "directions": full.directions[:, :, s:s + 1].detach()})
        G = one.attention_matrix(x)[0, 0].detach() / 7
        plans.append(G)
        costs.append((G * C).sum())
    w = torch.softmax(-0.7 * torch.stack(costs), 0)
    expected = 7 * sum(wi * G for wi, G in zip(w, plans, strict=True))
    torch.testing.assert_close(full.attention_matrix(x)[0, 0].detach(), expected)


# ---------------------------------------------------------------- causal and padding masks
def _projected(att, x):
    return (att._heads(att.q_proj(x)), att._heads(att.k_proj(x)), att._heads(att.v_proj(x)))


def _merge(att, o):
    B, _, n, _ = o.shape
    return att.out_proj(o.transpose(1, 2).reshape(B, n, att.embed_dim))


def test_softmax_causal_equals_torch_sdpa():
    torch.manual_seed(0)
    att = SoftmaxAttention(8, 2).double()
    x = _x(9)
    q, k, v = _projected(att, x)
    ref = _merge(att, torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True))
    out, w = att(x, is_causal=True, need_weights=True, average_attn_weights=False)
    torch.testing.assert_close(out, ref)
    assert torch.all(w.triu(1) == 0)
    # causal and right padding together: the boolean mask of SDPA (True = take part)
    pad = torch.zeros(2, 9, dtype=torch.bool)
    pad[0, 6:] = True
    allowed = torch.ones(9, 9, dtype=torch.bool).tril() & ~pad[:, None, None, :]
    ref = _merge(att, torch.nn.functional.scaled_dot_product_attention(q, k, v,
                                                                       attn_mask=allowed))
    torch.testing.assert_close(att(x, key_padding_mask=pad, is_causal=True)[0], ref)


def test_softmax_query_without_visible_key_gets_zero_row():
    att = SoftmaxAttention(8, 2).double()
    pad = torch.zeros(2, 6, dtype=torch.bool)
    pad[0, :2] = True  # the first two queries of entry 0 see no key when causal
    x = _x(6).requires_grad_(True)
    out, w = att(x, key_padding_mask=pad, is_causal=True, need_weights=True)
    assert torch.all(w[0, :2] == 0) and torch.isfinite(out).all()
    out.sum().backward()
    assert torch.isfinite(x.grad).all()


def _sinkhorn_oracle(scores, allowed):
    """POT's Sinkhorn (reg 1, kernel exp(scores) on the allowed entries) with the
    column targets of uniform attention over the allowed entries."""
    import numpy as np
    import ot

    A = allowed.numpy().astype(float)
    target = (A / A.sum(1, keepdims=True)).sum(0)
    M = np.where(A > 0, -scores.numpy(), 1e4)
    return torch.as_tensor(ot.sinkhorn(np.ones(A.shape[0]), target, M, reg=1.0,
                                       numItermax=20000, stopThr=1e-13))


@pytest.mark.parametrize("causal", [False, True])
def test_sinkhorn_masks_match_pot(causal):
    att = SinkhornAttention(4, 1, n_iter=400).double()
    x = _x(7, B=2, E=4)
    pad = torch.zeros(2, 7, dtype=torch.bool)
    pad[1, 5:] = True
    w = att.attention_matrix(x, key_padding_mask=pad, is_causal=causal)[:, 0].detach()
    q, k, _ = _projected(att, x)
    scores = (q @ k.transpose(-1, -2))[:, 0].detach() / 2.0  # sqrt(head_dim = 4)
    for b, n_b in ((0, 7), (1, 5)):
        allowed = torch.ones(n_b, n_b, dtype=torch.bool)
        if causal:
            allowed = allowed.tril()
        ref = _sinkhorn_oracle(scores[b, :n_b, :n_b], allowed)
        torch.testing.assert_close(w[b, :n_b, :n_b], ref, atol=1e-7, rtol=0)
        assert torch.all(w[b, n_b:] == 0) and torch.all(w[b, :, n_b:] == 0)
    if causal:
        assert torch.all(w.triu(1) == 0)


def test_sinkhorn_causal_with_equal_scores_is_uniform_causal_attention():
    # the limit of the sweeps (the first sweep balances columns, so a few are not enough)
    att = SinkhornAttention(4, 1, n_iter=2000).double()
    with torch.no_grad():
        att.q_proj.weight.zero_()
        att.q_proj.bias.zero_()
    w = att.attention_matrix(_x(6, B=1, E=4), is_causal=True)[0, 0].detach()
    uniform = torch.ones(6, 6, dtype=torch.float64).tril()
    torch.testing.assert_close(w, uniform / uniform.sum(1, keepdim=True), atol=1e-6, rtol=0)


@pytest.mark.parametrize("name, causal", [("softmax", False), ("softmax", True),
                                          ("sinkhorn", False), ("sinkhorn", True),
                                          ("esp", False)])
def test_padded_batch_equals_unpadded_sequences(name, causal):
    torch.manual_seed(0)
    att = make_attention(name, 8, 2).double()
    x = _x(11, B=2)
    pad = torch.zeros(2, 11, dtype=torch.bool)
    pad[0, 7:] = True
    x[0, 7:] = 50.0  # padding content must not matter
    out = att(x, key_padding_mask=pad, is_causal=causal)[0]
    torch.testing.assert_close(out[0, :7], att(x[:1, :7], is_causal=causal)[0][0])
    torch.testing.assert_close(out[1], att(x[1:], is_causal=causal)[0][0])


def test_esp_refuses_causal_with_the_reason():
    with pytest.raises(ValueError, match="is_causal=True.*by rank"):
        ESPAttention(8, 2)(torch.randn(1, 5, 8), is_causal=True)


@pytest.mark.parametrize("name", ["softmax", "sinkhorn", "esp"])
def test_float32_in_float32_out(name):
    att = make_attention(name, 8, 2)
    out, w = att(torch.randn(2, 6, 8), need_weights=True)
    assert out.dtype == torch.float32 and w.dtype == torch.float32


@pytest.mark.parametrize("name, causal", [("softmax", True), ("sinkhorn", True),
                                          ("esp", False)])
def test_torch_compile_fullgraph_matches_eager(name, causal):
    torch.manual_seed(0)
    att = make_attention(name, 8, 2)
    x = torch.randn(2, 10, 8)
    pad = torch.zeros(2, 10, dtype=torch.bool)
    pad[1, 8:] = True
    compiled = torch.compile(att, backend="eager", fullgraph=True)
    torch.testing.assert_close(compiled(x, key_padding_mask=pad, is_causal=causal)[0],
                               att(x, key_padding_mask=pad, is_causal=causal)[0])


def test_esp_soft_sort_equals_the_library_soft_sort():
    from mintlab.nn.attention import _soft_sort
    from mintlab.transport import soft_sort_matrix

    v = _x(9, B=3, E=4)[..., 0]
    pad = torch.zeros(3, 9, dtype=torch.bool)
    pad[2, 5:] = True
    torch.testing.assert_close(_soft_sort(v, 0.1, pad), soft_sort_matrix(v, 0.1, pad))
    torch.testing.assert_close(_soft_sort(v, 0.1), soft_sort_matrix(v, 0.1))


@pytest.mark.parametrize("beta", [0.0, 0.5])
def test_esp_slice_chunks_give_the_same_layer(beta, monkeypatch):
    import mintlab.nn.attention as A

    att = ESPAttention(8, 2, n_slices=5, beta=beta, temperature=0.2, seed=0).double()
    q, kv = _x(7), _x(9, seed=1)
    pad = torch.zeros(2, 9, dtype=torch.bool)
    pad[0, 6:] = True
    whole = att(q, kv, kv, key_padding_mask=pad, need_weights=True)
    monkeypatch.setattr(A, "_SLICE_CHUNK", 2 * 2 * (7 * 7 + 9 * 9) * 2)  # two slices a chunk
    chunked = att(q, kv, kv, key_padding_mask=pad, need_weights=True)
    torch.testing.assert_close(chunked[0], whole[0])
    torch.testing.assert_close(chunked[1], whole[1])
