"""LOT and LUNA attention against brute-force constructions: padding, causality, streaming.

The oracles are written out here (numpy, or the layer applied to the truncated
sequence), independent of the layers' fast paths.
"""

import numpy as np
import pytest
import torch

from mintlab.nn import LOTAttention, LUNAAttention

E, H = 8, 2


def _x(n, B=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, n, E, generator=g, dtype=torch.float64)


def _init(att, seed):
    """Projections drawn from a seeded generator (the layer's own extra parameters are
    seeded by its ``seed`` argument)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for lin in (att.q_proj, att.k_proj, att.v_proj, att.out_proj):
            for p in (lin.weight, lin.bias):
                p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) / np.sqrt(E))
    return att


def _lot(**kw):
    return _init(LOTAttention(E, H, n_pivots=4, n_iter=15, seed=3, **kw).double(), 5)


def _luna(**kw):
    return _init(LUNAAttention(E, H, n_features=10, seed=3, **kw).double(), 5)


def _phi(att, u, j):
    """LUNA's feature map written out in numpy for head ``j`` on inputs ``(n, d_h)``."""
    W = att.feature_weight.detach().numpy()[j]
    b = att.feature_bias.detach().numpy()[j]
    dh = att.head_dim
    u = u / dh**0.25
    return np.exp(u @ W.T + b - 0.5 * (u * u).sum(-1, keepdims=True))


def _luna_oracle(att, x, pad=None, causal=False):
    """The explicit n x m kernel attention, row-normalised, through the output projection."""
    B, n, _ = x.shape
    dh = att.head_dim
    with torch.no_grad():
        q, k, v = (p(x).view(B, n, H, dh).transpose(1, 2).numpy()
                   for p in (att.q_proj, att.k_proj, att.v_proj))
        Wo, bo = att.out_proj.weight.numpy(), att.out_proj.bias.numpy()
    out = np.zeros((B, n, E))
    for b in range(B):
        keep = np.ones((n, n))
        if pad is not None:
            keep[:, pad[b].numpy()] = 0
        if causal:
            keep = keep * np.tril(np.ones((n, n)))
        for j in range(H):
            A = (_phi(att, q[b, j], j) @ _phi(att, k[b, j], j).T) * keep
            out[b, :, j * dh:(j + 1) * dh] = (A / A.sum(-1, keepdims=True)) @ v[b, j]
    return out @ Wo.T + bo


# ------------------------------------------------------------------------- LOT
def test_lot_padded_keys_equal_the_truncated_key_set():
    att = _lot()
    x = _x(12)
    pad = torch.zeros(2, 12, dtype=torch.bool)
    pad[1, 7:] = True
    with torch.no_grad():
        out = att(x, key_padding_mask=pad)[0]
        # entry 1: queries over all 12 tokens, keys and values only the 7 real ones
        trunc = att(x[1:], x[1:, :7], x[1:, :7])[0]
        full0 = att(x[:1])[0]
    torch.testing.assert_close(out[1:], trunc, atol=1e-12, rtol=0)
    torch.testing.assert_close(out[:1], full0, atol=1e-12, rtol=0)


def test_lot_weights_are_rank_bounded_rows_exact_and_match_the_fast_path():
    att = _lot()
    x = _x(16)
    with torch.no_grad():
        out, w = att(x, need_weights=True, average_attn_weights=False)
        fast = att(x)[0]
    torch.testing.assert_close(out, fast, atol=1e-12, rtol=0)
    np.testing.assert_allclose(w.sum(-1).numpy(), 1.0, atol=1e-12)
    assert bool((w >= 0).all())
    for b in range(2):
        for j in range(H):
            assert int(torch.linalg.matrix_rank(w[b, j])) <= att.n_pivots


def test_lot_refuses_causal_with_the_reason():
    with pytest.raises(ValueError, match="balanced over all keys"):
        _lot()(_x(5), is_causal=True)


def test_lot_keeps_dtype_and_trains_its_pivot_measure():
    att = LOTAttention(E, H, n_pivots=4, seed=0)
    x = torch.randn(2, 9, E, generator=torch.Generator().manual_seed(1))
    out = att(x)[0]
    assert out.dtype == torch.float32 and out.shape == (2, 9, E)
    out.square().sum().backward()
    assert float(att.pivots.grad.abs().sum()) > 0
    assert float(att.pivot_logits.grad.abs().sum()) > 0


@pytest.mark.parametrize("kw, match", [({"n_pivots": 0}, "n_pivots"),
                                       ({"n_iter": 0}, "n_iter"),
                                       ({"epsilon": -1.0}, "epsilon")])
def test_lot_argument_errors(kw, match):
    with pytest.raises(ValueError, match=match):
        LOTAttention(E, H, **kw)


# ------------------------------------------------------------------------ LUNA
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("padded", [False, True])
def test_luna_equals_the_explicit_kernel_attention(causal, padded):
    att = _luna(chunk_size=5)
    x = _x(13)
    pad = None
    if padded:
        pad = torch.zeros(2, 13, dtype=torch.bool)
        pad[1, 9:] = True
        pad[0, 3] = True
    with torch.no_grad():
        out = att(x, key_padding_mask=pad, is_causal=causal)[0].numpy()
    np.testing.assert_allclose(out, _luna_oracle(att, x, pad, causal), atol=1e-10, rtol=0)


def test_luna_causal_flag_and_is_causal_are_the_same_switch():
    a = _luna(causal=True, chunk_size=4)
    b = _luna(chunk_size=4)
    x = _x(11)
    with torch.no_grad():
        torch.testing.assert_close(a(x)[0], b(x, is_causal=True)[0], atol=1e-12, rtol=0)


@pytest.mark.parametrize("chunk", [1, 3, 11, 64])
def test_luna_causal_output_does_not_depend_on_chunk_size(chunk):
    ref = _luna(causal=True, chunk_size=11)
    att = _luna(causal=True, chunk_size=chunk)
    x = _x(11)
    with torch.no_grad():
        torch.testing.assert_close(att(x)[0], ref(x)[0], atol=1e-12, rtol=0)


def test_luna_streaming_equals_the_causal_oracle():
    att = _luna(causal=True, chunk_size=4)
    x = _x(17)
    state, parts = None, []
    with torch.no_grad():
        for s, e in ((0, 1), (1, 9), (9, 17)):
            o, state = att.stream(x[:, s:e], state)
            parts.append(o)
    np.testing.assert_allclose(torch.cat(parts, 1).numpy(), _luna_oracle(att, x, causal=True),
                               atol=1e-10, rtol=0)


def test_luna_fixed_features_stay_fixed_and_learned_ones_move():
    x = torch.randn(2, 9, E, generator=torch.Generator().manual_seed(2))
    for learn in (False, True):
        att = LUNAAttention(E, H, n_features=6, learn_features=learn, seed=0)
        w0 = att.feature_weight.detach().clone()
        opt = torch.optim.SGD([p for p in att.parameters() if p.requires_grad], lr=0.5)
        att(x)[0].square().sum().backward()
        opt.step()
        moved = float((att.feature_weight.detach() - w0).abs().max())
        assert (moved > 0) == learn


def test_luna_argument_errors():
    with pytest.raises(ValueError, match="n_features"):
        LUNAAttention(E, H, n_features=0)
    with pytest.raises(ValueError, match="chunk_size"):
        LUNAAttention(E, H, chunk_size=0)
    with pytest.raises(ValueError, match=r"x must have shape \(batch, c, 8\)"):
        LUNAAttention(E, H).stream(torch.randn(3, E))
