"""LOT attention's glued plan, against an independent construction with POT's Sinkhorn.

That the rows of LOT attention sum to one holds by construction (the last
Sinkhorn half-sweep of each problem fits the query rows of the first plan
and the pivot rows of the second), and that the columns reach ``n / m``
once the sweeps converge is Sinkhorn's convergence: both are tested here on
trained layers, not judged as claims of the ``lotformer`` paper (whose
experiment judges the columns with the sweeps the layer was trained with).
"""

import copy
import functools

import numpy as np
import ot
import pytest
import torch

from mintlab.nn import LOTAttention


def _trained_layer(n_iter, seed=0):
    """A LOT layer after a few Adam steps, so pivots and masses are no longer at their start."""
    return copy.deepcopy(_train(n_iter, seed))


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
def _train(n_iter, seed):
    att = _seeded(LOTAttention(8, 2, n_pivots=4, n_iter=n_iter, seed=seed).double(), seed)
    opt = torch.optim.Adam(att.parameters(), lr=0.05)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(4, 15, 8, generator=g, dtype=torch.float64)
    target = torch.randn(4, 15, 8, generator=g, dtype=torch.float64)
    for _ in range(20):
        loss = (att(x)[0] - target).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return att


def _oracle(att, x, pad=None):
    """Per-head attention ``n * Gamma_1 diag(1 / beta) Gamma_2`` built with ``ot.sinkhorn``."""
    B, n, _ = x.shape
    h, dh = att.num_heads, att.head_dim
    with torch.no_grad():
        q = att.q_proj(x).view(B, n, h, dh).transpose(1, 2).numpy()
        k = att.k_proj(x).view(B, n, h, dh).transpose(1, 2).numpy()
        z = att.pivots.numpy()
        beta = torch.softmax(att.pivot_logits, -1).numpy()
    out = np.zeros((B, h, n, n))
    for b in range(B):
        real = np.ones(n, bool) if pad is None else ~pad[b].numpy()
        m = int(real.sum())
        for j in range(h):
            C1 = ot.dist(q[b, j], z[j])
            C2 = ot.dist(z[j], k[b, j][real])
            kw = dict(method="sinkhorn_log", numItermax=att.n_iter, stopThr=0.0, warn=False)
            G1 = ot.sinkhorn(np.full(n, 1 / n), beta[j], C1, att.epsilon * C1.mean(), **kw)
            G2 = ot.sinkhorn(beta[j], np.full(m, 1 / m), C2, att.epsilon * C2.mean(), **kw)
            out[b, j][:, real] = n * (G1 / beta[j]) @ G2
    return out


@pytest.mark.parametrize("padded", [False, True])
def test_trained_lot_attention_equals_the_glued_plan_and_its_rows_sum_to_one(padded):
    att = _trained_layer(n_iter=10)
    x = torch.randn(3, 15, 8, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    pad = None
    if padded:
        pad = torch.zeros(3, 15, dtype=torch.bool)
        pad[1, 11:] = True
        pad[2, 4:] = True
    with torch.no_grad():
        w = att.attention_matrix(x, key_padding_mask=pad).numpy()
    np.testing.assert_allclose(w, _oracle(att, x, pad), atol=1e-10)
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-12)  # rows: exact after any sweeps
    if padded:
        assert np.all(w[1, :, :, 11:] == 0) and np.all(w[2, :, :, 4:] == 0)
    # the columns are not balanced after 10 sweeps on a trained layer
    assert np.abs(w[0].sum(-2) - 1.0).max() > 1e-4


def test_trained_lot_attention_is_doubly_stochastic_and_low_rank_once_converged():
    att = _trained_layer(n_iter=10)
    x = torch.randn(2, 15, 8, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    errors = []
    for n_iter in (10, 50, 300):
        att.n_iter = n_iter
        with torch.no_grad():
            w = att.attention_matrix(x)
        np.testing.assert_allclose(w.sum(-1).numpy(), 1.0, atol=1e-12)
        errors.append(float((w.sum(-2) - 1.0).abs().max()))  # n = m: columns sum to one
        for b in range(2):
            for j in range(2):
                assert int(torch.linalg.matrix_rank(w[b, j])) <= att.n_pivots
    assert errors[0] > errors[1] > errors[2] and errors[2] < 1e-6, errors


def test_glued_plan_output_equals_the_plan_applied_to_the_values():
    # the O(n r) path (plans applied right to left) equals the explicit matrix times V
    att = _trained_layer(n_iter=10)
    x = torch.randn(2, 15, 8, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    with torch.no_grad():
        fast = att(x)[0]
        w = torch.as_tensor(_oracle(att, x))
        v = att.v_proj(x).view(2, 15, 2, 4).transpose(1, 2)
        explicit = att.out_proj((w @ v).transpose(1, 2).reshape(2, 15, 8))
    torch.testing.assert_close(fast, explicit, atol=1e-10, rtol=0)
