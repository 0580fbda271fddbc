"""Attention layers shaped like ``nn.MultiheadAttention(batch_first=True)``.

Papers: ``espformer`` (doubly-stochastic attention from expected sliced
transport plans), ``lotformer`` (linear-time doubly-stochastic attention
through a learned low-rank pivot measure), ``luna`` (linear attention with a
learned positive-definite feature map). Baselines: softmax attention and
Sinkhorn attention (Sinkformer).

Every layer is called as ``layer(query, key=None, value=None,
key_padding_mask=None, need_weights=False)`` with ``query`` of shape
``(batch, n, embed_dim)``, ``key``/``value`` of shape ``(batch, m, kdim/vdim)``
(``None``: self-attention) and ``key_padding_mask`` boolean ``(batch, m)``,
``True`` at keys to ignore (PyTorch's convention). It returns
``(output, weights)``: ``output`` ``(batch, n, embed_dim)``; ``weights`` the
attention matrix ``(batch, n, m)`` averaged over heads (or ``(batch, heads,
n, m)`` with ``average_attn_weights=False``) when ``need_weights`` is true,
else ``None``. LOT and LUNA never form the ``n x m`` matrix unless
``need_weights`` asks for it.

Doubly stochastic here means: rows sum to one and every real key receives
total weight ``n / m`` (the transport plan between uniform measures on the
queries and the keys, times ``n``).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .._random import make_generator
from .._validation import check_int, check_nonnegative, check_positive
from ..transport.plans import _uniform_monotone, soft_sort_matrix
from ._attention_base import _key_counts, _MultiheadBase, _neg_fill
from .linear_attention import LOTAttention, LUNAAttention

__all__ = [
    "SoftmaxAttention",
    "SinkhornAttention",
    "ESPAttention",
    "LOTAttention",
    "LUNAAttention",
    "ATTENTIONS",
    "make_attention",
]


class SoftmaxAttention(_MultiheadBase):
    """Scaled dot-product attention, ``softmax(q k^T / sqrt(d_h))`` row by row (the baseline)."""

    def _attend(self, q, k, v, pad, need_weights, causal):
        self._no_causal(causal)
        s = _neg_fill(q @ k.transpose(-1, -2) / math.sqrt(self.head_dim), pad)
        a = torch.softmax(s, -1)
        return a @ v, (a if need_weights else None)


class SinkhornAttention(_MultiheadBase):
    """Sinkformer-style attention: the softmax kernel balanced by ``n_iter`` Sinkhorn
    sweeps (log domain), ending on the rows, so rows sum to one exactly and real
    keys receive ``n / m`` up to the remaining Sinkhorn error.
    """

    def __init__(self, embed_dim, num_heads=1, n_iter: int = 5, **kwargs) -> None:
        super().__init__(embed_dim, num_heads, **kwargs)
        self.n_iter = check_int(n_iter, "n_iter", minimum=1)

    def _attend(self, q, k, v, pad, need_weights, causal):
        self._no_causal(causal)
        B, h, n, _ = q.shape
        m = k.shape[2]
        logk = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim)
        log_col = torch.log(n / _key_counts(pad, B, m, q))  # column target n / m_b
        # padded keys keep finite scores through the column steps (an all -inf column
        # would give NaN gradients) and are removed before every row step
        for _ in range(self.n_iter):
            logk = logk - torch.logsumexp(logk, -2, keepdim=True) + log_col
            logk = _neg_fill(logk, pad)
            logk = logk - torch.logsumexp(logk, -1, keepdim=True)
            if pad is not None:
                logk = logk.masked_fill(pad[:, None, None, :], 0.0)
        logk = _neg_fill(logk, pad)
        a = torch.exp(logk)
        return a @ v, (a if need_weights else None)


class ESPAttention(_MultiheadBase):
    r"""Attention from expected sliced transport plans (``espformer``).

    Per head, queries and keys are projected on ``n_slices`` learnable unit
    directions; on each slice the SoftSort matrices :math:`S_q, S_k`
    (temperature ``temperature``) give the soft monotone plan
    :math:`\Gamma_l = S_q^\top Q S_k` (``Q`` the monotone coupling of uniform
    ranks), its cost :math:`c_l = \langle \Gamma_l, \|q_i - k_j\|^2\rangle`,
    and the attention is :math:`A = n \sum_l w_l \Gamma_l` with
    :math:`w = \mathrm{softmax}(-\beta c)`. No Sinkhorn iterations: the plan
    is doubly stochastic up to the SoftSort error, exactly so as
    ``temperature -> 0``. The plans are applied to the values right to left
    (``S_q^T (Q (S_k V))``) and their costs computed from the marginals and
    ``(S_q q)^T Q (S_k k)``, so a slice costs ``O((n + m)^2 d)`` like softmax
    attention, with memory ``O(n^2 + m^2)``; the ``n x m`` matrix is formed
    only for ``need_weights``.

    ``temperature`` is in units of the projected values after a per-head
    standardisation (centred and divided by their standard deviation over the
    queries and real keys).
    """

    def __init__(self, embed_dim, num_heads=1, n_slices: int = 8, temperature: float = 0.05,
                 beta: float = 0.0, learn_slices: bool = True, seed=None, **kwargs) -> None:
        super().__init__(embed_dim, num_heads, **kwargs)
        self.n_slices = check_int(n_slices, "n_slices", minimum=1)
        self.temperature = check_positive(temperature, "temperature")
        self.beta = check_nonnegative(beta, "beta")
        g = make_generator(seed)
        theta = torch.randn(self.num_heads, self.head_dim, self.n_slices, generator=g)
        self.directions = nn.Parameter(theta / theta.norm(dim=1, keepdim=True),
                                       requires_grad=learn_slices)

    def _attend(self, q, k, v, pad, need_weights, causal):
        self._no_causal(causal)
        B, h, n, _ = q.shape
        m = k.shape[2]
        theta = self.directions / self.directions.norm(dim=1, keepdim=True).clamp_min(1e-12)
        theta = theta.to(q.dtype).unsqueeze(0)  # (1, h, dh, L)
        pq = q @ theta  # (B, h, n, L)
        pk = k @ theta
        counts = _key_counts(pad, B, m, q)
        # per-head standardisation of the projections over queries and real keys
        wk = None if pad is None else (~pad)[:, None, :, None].to(q.dtype)
        sk = pk if wk is None else pk * wk
        mean = (pq.sum(2, keepdim=True) + sk.sum(2, keepdim=True)) / (n + counts)
        dq, dk = pq - mean, pk - mean
        dk2 = dk * dk if wk is None else dk * dk * wk
        var = ((dq * dq).sum(2, keepdim=True) + dk2.sum(2, keepdim=True)) / (n + counts)
        scale = var.clamp_min(1e-12).sqrt()
        pq, pk = pq / scale, pk / scale
        Q = _uniform_monotone(n, m, q.dtype, q.device, counts)  # (B, 1, n, m)
        kpad = None if pad is None else pad[:, None, :]
        if self.beta > 0:
            q2 = (q * q).sum(-1, keepdim=True)  # (B, h, n, 1)
            k2 = (k * k).sum(-1, keepdim=True)  # (B, h, m, 1)
            q_row = Q.sum(-1, keepdim=True)  # (B, 1, n, 1): Q 1
            k_col = Q.sum(-2, keepdim=True)  # (B, 1, 1, m): 1^T Q
        # Gamma_l = S_q^T Q S_k is applied right to left, O(n m d) per slice; the n x m
        # matrix is formed only for need_weights
        out = None
        plan = None
        log_norm = None
        for s in range(self.n_slices):
            Sq = soft_sort_matrix(pq[..., s], self.temperature)  # (B, h, n, n): rank x query
            Sk = soft_sort_matrix(pk[..., s], self.temperature, kpad)  # (B, h, m, m)
            o = Sq.transpose(-1, -2) @ (Q @ (Sk @ v))
            G = Sq.transpose(-1, -2) @ (Q @ Sk) if need_weights else None
            if self.beta == 0:
                out = o if out is None else out + o
                if G is not None:
                    plan = G if plan is None else plan + G
                continue
            # <Gamma, C> with C_ij = |q_i|^2 + |k_j|^2 - 2 q_i.k_j, without forming Gamma:
            # Gamma 1 = S_q^T Q 1, 1^T Gamma = 1^T Q S_k (rows of S_q sum to one)
            rows = Sq.transpose(-1, -2) @ q_row
            cols = k_col @ Sk
            cross = ((Sq @ q) * (Q @ (Sk @ k))).sum((-1, -2), keepdim=True)
            cost = ((rows * q2).sum((-1, -2), keepdim=True)
                    + (cols.transpose(-1, -2) * k2).sum((-1, -2), keepdim=True) - 2 * cross)
            logit = -self.beta * cost  # (B, h, 1, 1)
            if out is None:
                out, plan, log_norm = o, G, logit
            else:  # running softmax-weighted sum over slices
                new = torch.logaddexp(log_norm, logit)
                keep, add = torch.exp(log_norm - new), torch.exp(logit - new)
                out = out * keep + o * add
                if G is not None:
                    plan = plan * keep + G * add
                log_norm = new
        scale = n / self.n_slices if self.beta == 0 else n
        return out * scale, (plan * scale if need_weights else None)


ATTENTIONS = {"softmax": SoftmaxAttention, "sinkhorn": SinkhornAttention, "esp": ESPAttention,
              "lot": LOTAttention, "luna": LUNAAttention}


def make_attention(name: str, embed_dim: int, num_heads: int = 1, **kwargs) -> nn.Module:
    """An attention layer by name: one of :data:`ATTENTIONS`."""
    from .._validation import check_choice

    name = check_choice(name, "attention", tuple(ATTENTIONS))
    return ATTENTIONS[name](embed_dim, num_heads, **kwargs)
