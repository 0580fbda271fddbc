"""LUNA's streaming form, against an explicit causal kernel attention written out in numpy.

That feeding a sequence chunk by chunk with a carried state gives the same
output as one causal pass holds by construction (both run the same running
sums), so it is tested here, not judged as a claim of the ``luna`` paper. The
oracle builds the positive feature map and the causal n x n attention from
the layer's parameters directly.
"""

import copy
import functools

import numpy as np
import pytest
import torch

from mintlab.nn import LUNAAttention

E, H, D = 16, 2, 12  # embed dim, heads, features per head


def _trained_layer(seed=0):
    """A causal LUNA layer after a few Adam steps, so the features are no longer random."""
    return copy.deepcopy(_train(seed))


def _seeded(att, seed):
    """The q/k/v/out projections drawn from a seeded generator (not the global one)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for lin in (att.q_proj, att.k_proj, att.v_proj, att.out_proj):
            bound = lin.in_features ** -0.5
            for p in (lin.weight, lin.bias):
                p.copy_((2 * torch.rand(p.shape, generator=g, dtype=p.dtype) - 1) * bound)
    return att


@functools.cache
def _train(seed):
    att = _seeded(LUNAAttention(E, H, n_features=D, causal=True, chunk_size=64,
                                seed=seed).double(), seed)
    opt = torch.optim.Adam(att.parameters(), lr=0.05)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 40, E, generator=g, dtype=torch.float64)
    target = torch.randn(2, 40, E, generator=g, dtype=torch.float64)
    for _ in range(10):
        loss = (att(x)[0] - target).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return att


def _oracle(att, x):
    """Causal attention with weights ``phi(q_i) . phi(k_j)`` for ``j <= i``, row-normalised."""
    B, n, _ = x.shape
    dh = E // H
    with torch.no_grad():
        q, k, v = (p(x).view(B, n, H, dh).transpose(1, 2).numpy()
                   for p in (att.q_proj, att.k_proj, att.v_proj))
        W, b = att.feature_weight.numpy(), att.feature_bias.numpy()
        Wo, bo = att.out_proj.weight.numpy(), att.out_proj.bias.numpy()

    def phi(u, j):  # u: (n, dh), head j
        u = u / dh**0.25
        return np.exp(u @ W[j].T + b[j] - 0.5 * (u * u).sum(-1, keepdims=True)) / np.sqrt(D)

    out = np.zeros((B, n, E))
    causal = np.tril(np.ones((n, n)))
    for i in range(B):
        for j in range(H):
            A = (phi(q[i, j], j) @ phi(k[i, j], j).T) * causal
            out[i, :, j * dh:(j + 1) * dh] = (A / A.sum(-1, keepdims=True)) @ v[i, j]
    return out @ Wo.T + bo


@pytest.mark.parametrize("chunks", [[50] * 6, [1, 7, 63, 64, 65, 100]])
def test_streaming_equals_one_causal_pass_and_the_explicit_oracle(chunks):
    att = _trained_layer()
    n = sum(chunks)
    x = torch.randn(2, n, E, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    with torch.no_grad():
        full = att(x)[0]
        state, parts, s = None, [], 0
        for c in chunks:
            o, state = att.stream(x[:, s:s + c], state)
            parts.append(o)
            s += c
            # the carried state has a fixed size: linear memory in the sequence length
            assert state[0].shape == (2, H, D, E // H) and state[1].shape == (2, H, D)
        streamed = torch.cat(parts, 1)
    torch.testing.assert_close(streamed, full, atol=1e-10, rtol=0)
    np.testing.assert_allclose(full.numpy(), _oracle(att, x), atol=1e-10, rtol=0)


def test_streaming_output_does_not_depend_on_later_tokens():
    att = _trained_layer()
    g = torch.Generator().manual_seed(2)
    x = torch.randn(1, 120, E, generator=g, dtype=torch.float64)
    y = x.clone()
    y[:, 80:] = torch.randn(1, 40, E, generator=g, dtype=torch.float64)
    with torch.no_grad():
        a, state = att.stream(x[:, :80])
        b, _ = att.stream(y[:, :80])
        torch.testing.assert_close(a, b, atol=0, rtol=0)
        later_x = att.stream(x[:, 80:], state)[0]
        later_y = att.stream(y[:, 80:], state)[0]
    assert float((later_x - later_y).abs().max()) > 1e-3
