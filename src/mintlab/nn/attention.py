"""Attention layers shaped like ``nn.MultiheadAttention(batch_first=True)``.

Papers: ``espformer`` (doubly-stochastic attention from expected sliced
transport plans), ``lotformer`` (linear-time doubly-stochastic attention
through a learned low-rank pivot measure), ``luna`` (linear attention with a
learned positive-definite feature map). Baselines: softmax attention and
Sinkhorn attention (Sinkformer).

Every layer is called as ``layer(query, key=None, value=None,
key_padding_mask=None, need_weights=False, average_attn_weights=True,
is_causal=False)`` with ``query`` of shape
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

Masks. ``key_padding_mask`` removes keys; in self-attention (``key``
omitted) the padded positions are absent from the set, and the layers whose
rows interact through a column constraint (Sinkhorn, ESP) leave them out of
the query measure too, so a padded batch gives exactly the real rows of the
unpadded sequences (their padded rows are zero). ``is_causal=True`` lets query
``i`` reach keys ``j <= i`` only: softmax as ``scaled_dot_product_attention(...,
is_causal=True)``; Sinkhorn balances the lower-triangular kernel towards the
column sums of uniform causal attention (see :class:`SinkhornAttention`); ESP
refuses it (see :class:`ESPAttention`); LUNA supports it (also through its
``causal`` option) and LOT refuses it. Softmax, Sinkhorn and ESP trace as one
graph under ``torch.compile(..., fullgraph=True)`` (input value checks run in
eager mode only).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from .._random import make_generator
from .._validation import check_int, check_nonnegative, check_positive
from ..embed._checks import check_bool, check_seed, seeded_modules
from ..transport.plans import _uniform_monotone
from ..typing import SeedLike
from ._attention_base import _allowed, _masked_logsumexp, _MultiheadBase
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
    """Scaled dot-product attention, ``softmax(q k^T / sqrt(d_h))`` row by row (the baseline).

    ``is_causal=True`` gives ``torch.nn.functional.scaled_dot_product_attention(...,
    is_causal=True)``. A query that sees no key (causal, with the first keys padded)
    gets an all-zero row and a zero output.
    """

    def _attend(self, q, k, v, pad, need_weights, causal):
        n, m = q.shape[2], k.shape[2]
        s = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim)  # (B, h, n, m)
        allowed = _allowed(pad, None, causal, n, m, q.device)
        if allowed is None:
            a = torch.softmax(s, -1)
        else:
            seen = allowed.any(-1, keepdim=True)  # rows with at least one visible key
            s = s.masked_fill(~allowed, float("-inf")).masked_fill(~seen, 0.0)
            a = torch.softmax(s, -1) * seen
        return a @ v, (a if need_weights else None)


class SinkhornAttention(_MultiheadBase):
    r"""Sinkformer-style attention: the softmax kernel balanced by ``n_iter`` Sinkhorn
    sweeps (log domain), ending on the rows, so rows sum to one exactly and real
    keys receive ``n / m`` up to the remaining Sinkhorn error.

    Masks define the transport problem. With ``key_padding_mask`` the padded keys
    get no mass; in self-attention the padded positions are absent as queries too
    (their output rows are zero), so a padded batch gives the real rows of the
    unpadded sequences. With ``is_causal=True`` the kernel is lower triangular and
    the column targets are those of the causal problem: key ``j`` receives
    :math:`\sum_{i \ge j} 1 / |\{j' \le i\}|`, the column sums of uniform causal
    attention (every visible key weighted alike), the only targets that every
    lower-triangular kernel can reach with rows summing to one (uniform columns
    would force the identity). Without masks the targets are ``n / m``; in general
    they are the column sums of uniform attention over the allowed entries.
    """

    def __init__(self, embed_dim: int, num_heads: int = 1, n_iter: int = 5,
                 **kwargs: Any) -> None:
        super().__init__(embed_dim, num_heads, **kwargs)
        self.n_iter = check_int(n_iter, "n_iter", minimum=1)

    def _attend(self, q, k, v, pad, need_weights, causal):
        return self._attend_sets(q, k, v, pad, None, need_weights, causal)

    def _attend_sets(self, q, k, v, pad, query_pad, need_weights, causal):
        n, m = q.shape[2], k.shape[2]
        f = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim)  # (B, h, n, m) log kernel
        allowed = _allowed(pad, query_pad, causal, n, m, q.device)
        if allowed is None:
            log_col = math.log(n / m)
            for _ in range(self.n_iter):
                f = f - torch.logsumexp(f, -2, keepdim=True) + log_col
                f = f - torch.logsumexp(f, -1, keepdim=True)
            a = torch.exp(f)
            return a @ v, (a if need_weights else None)
        # column targets: column sums of uniform attention over the allowed entries
        af = allowed.to(q.dtype)  # (B|1, 1, n, m)
        rows = af.sum(-1, keepdim=True)
        target = (af / rows.clamp_min(1.0)).sum(-2, keepdim=True)  # (B|1, 1, 1, m)
        row_has, col_has = rows > 0, target > 0
        log_col = torch.log(target.clamp_min(torch.finfo(q.dtype).tiny))
        # disallowed entries stay finite in f and are left out of every logsumexp
        for _ in range(self.n_iter):
            f = f - _masked_logsumexp(f, allowed, col_has, -2) + log_col
            f = f - _masked_logsumexp(f, allowed, row_has, -1)
        a = torch.exp(f.masked_fill(~allowed, float("-inf")))
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
    real queries and keys).

    ``key_padding_mask`` removes keys from the key measure (uniform on the real
    keys); in self-attention the padded positions leave the query measure too
    (their output rows are zero), so a padded batch gives the real rows of the
    unpadded sequences. ``is_causal=True`` raises ``ValueError``: the plan couples
    queries and keys by their rank along each slice, whatever their positions, and
    the causal problem of query ``i`` alone (one point against the keys ``j <= i``)
    has only the uniform plan, so no masking of the sliced plans keeps them both
    causal and transport plans. Use :class:`SinkhornAttention` for causal
    doubly-stochastic attention.

    ``seed`` draws the initial slicing directions and, from a stream derived from it, the
    projections, without touching torch's global generator (the same seed builds the
    same layer); ``seed=None`` draws from the global generator, as ``torch.nn`` does.
    """

    def __init__(self, embed_dim: int, num_heads: int = 1, n_slices: int = 8,
                 temperature: float = 0.05, beta: float = 0.0, learn_slices: bool = True,
                 seed: SeedLike = None, **kwargs: Any) -> None:
        with seeded_modules(check_seed(seed), "ESPAttention"):
            super().__init__(embed_dim, num_heads, **kwargs)
        self.n_slices = check_int(n_slices, "n_slices", minimum=1)
        self.temperature = check_positive(temperature, "temperature")
        self.beta = check_nonnegative(beta, "beta")
        g = make_generator(seed)
        theta = torch.randn(self.num_heads, self.head_dim, self.n_slices, generator=g)
        self.directions = nn.Parameter(theta / theta.norm(dim=1, keepdim=True),
                                       requires_grad=check_bool(learn_slices, "learn_slices"))

    def _attend(self, q, k, v, pad, need_weights, causal):
        return self._attend_sets(q, k, v, pad, None, need_weights, causal)

    def _attend_sets(self, q, k, v, pad, query_pad, need_weights, causal):
        if causal:
            raise ValueError("ESPAttention does not support is_causal=True: its sliced plans "
                             "match queries to keys by rank, not by position, and the causal "
                             "problem of a single query has only the uniform plan; use "
                             "SinkhornAttention (causal doubly-stochastic) or SoftmaxAttention")
        B, h, n, _ = q.shape
        m = k.shape[2]
        theta = self.directions / self.directions.norm(dim=1, keepdim=True).clamp_min(1e-12)
        theta = theta.to(q.dtype).unsqueeze(0)  # (1, h, dh, L)
        pq = q @ theta  # (B, h, n, L)
        pk = k @ theta  # (B, h, m, L)
        wq = None if query_pad is None else (~query_pad)[:, None, :, None].to(q.dtype)
        wk = None if pad is None else (~pad)[:, None, :, None].to(q.dtype)
        n_q = float(n) if wq is None else wq.sum(2, keepdim=True)  # (B, 1, 1, 1) real queries
        n_k = float(m) if wk is None else wk.sum(2, keepdim=True)  # real keys
        # per-head standardisation of the projections over real queries and keys
        sq = pq if wq is None else pq * wq
        sk = pk if wk is None else pk * wk
        mean = (sq.sum(2, keepdim=True) + sk.sum(2, keepdim=True)) / (n_q + n_k)
        dq, dk = pq - mean, pk - mean
        dq2 = dq * dq if wq is None else dq * dq * wq
        dk2 = dk * dk if wk is None else dk * dk * wk
        var = (dq2.sum(2, keepdim=True) + dk2.sum(2, keepdim=True)) / (n_q + n_k)
        scale = var.clamp_min(1e-12).sqrt()
        pq, pk = pq / scale, pk / scale
        if wq is None and wk is None:
            Q = _uniform_monotone(n, m, q.dtype, q.device)  # (n, m)
        else:
            Q = _monotone_counts(n, m, n_q, n_k, q.dtype, q.device)  # (B, 1, n, m)
        diagonal = wq is None and wk is None and n == m  # Q = I / n: a division, no product
        qpad = None if query_pad is None else query_pad[:, None, None, :]  # (B, 1, 1, n)
        kpad = None if pad is None else pad[:, None, None, :]  # (B, 1, 1, m)
        Qc = Q if Q.ndim == 2 else Q.unsqueeze(2)  # (n, m) or (B, 1, 1, n, m)

        def couple(x):  # Q @ x, slices on axis 2
            return x / n if diagonal else Qc @ x

        if self.beta > 0:
            q2 = (q * q).sum(-1, keepdim=True).unsqueeze(2)  # (B, h, 1, n, 1)
            k2 = (k * k).sum(-1, keepdim=True).unsqueeze(2)  # (B, h, 1, m, 1)
            q_row = Qc.sum(-1, keepdim=True)  # Q 1
            k_col = Qc.sum(-2, keepdim=True)  # 1^T Q
        # Gamma_l = S_q^T Q S_k is applied right to left, O(n m d) per slice; the n x m
        # matrix is formed only for need_weights. Slices go in chunks of `chunk` at once
        # (one batched product instead of one per slice; memory O(chunk (n^2 + m^2))).
        chunk = max(1, min(self.n_slices, _SLICE_CHUNK // max(1, B * h * (n * n + m * m))))
        v5, q5, k5 = v.unsqueeze(2), q.unsqueeze(2), k.unsqueeze(2)  # (B, h, 1, ., dh)
        out = None
        plan = None
        log_norm = None
        for s0 in range(0, self.n_slices, chunk):
            Sq = _soft_sort(pq[..., s0:s0 + chunk].transpose(-1, -2), self.temperature,
                            qpad)  # (B, h, c, n, n): rank x query
            Sk = _soft_sort(pk[..., s0:s0 + chunk].transpose(-1, -2), self.temperature,
                            kpad)  # (B, h, c, m, m)
            SqT = Sq.transpose(-1, -2)
            o = SqT @ couple(Sk @ v5)  # (B, h, c, n, dh)
            G = SqT @ couple(Sk) if need_weights else None  # (B, h, c, n, m)
            if self.beta == 0:
                o = o.sum(2)
                out = o if out is None else out + o
                if G is not None:
                    G = G.sum(2)
                    plan = G if plan is None else plan + G
                continue
            # <Gamma, C> with C_ij = |q_i|^2 + |k_j|^2 - 2 q_i.k_j, without forming Gamma:
            # Gamma 1 = S_q^T Q 1, 1^T Gamma = 1^T Q S_k (rows of S_q sum to one)
            rows = SqT @ q_row  # (B, h, c, n, 1)
            cols = k_col @ Sk  # (B, h, c, 1, m)
            cross = ((Sq @ q5) * couple(Sk @ k5)).sum((-1, -2))
            cost = ((rows * q2).sum((-1, -2)) + (cols.transpose(-1, -2) * k2).sum((-1, -2))
                    - 2 * cross)  # (B, h, c)
            lg = -self.beta * cost
            lse = torch.logsumexp(lg, -1)  # (B, h)
            wc = torch.exp(lg - lse.unsqueeze(-1))[..., None, None]  # (B, h, c, 1, 1)
            o = (o * wc).sum(2)
            G = (G * wc).sum(2) if G is not None else None
            logit = lse[..., None, None]  # (B, h, 1, 1)
            if out is None:
                out, plan, log_norm = o, G, logit
            else:  # running softmax-weighted sum over chunks of slices
                new = torch.logaddexp(log_norm, logit)
                keep, add = torch.exp(log_norm - new), torch.exp(logit - new)
                out = out * keep + o * add
                if G is not None:
                    plan = plan * keep + G * add
                log_norm = new
        scale = n_q / self.n_slices if self.beta == 0 else n_q
        return out * scale, (plan * scale if need_weights else None)


_SLICE_CHUNK = 1 << 22  # soft-sort entries ESP forms at once (per chunk of slices)


def _soft_sort(values, tau, pad=None):
    """:func:`mintlab.transport.soft_sort_matrix` without its argument checks (the layer
    checked ``tau`` once), so that it traces under ``torch.compile``."""
    if pad is not None:
        big = values.detach().abs().amax() + 1.0
        values = values.masked_fill(pad, big)
    sorted_v = torch.sort(values, dim=-1).values
    logits = -(sorted_v.unsqueeze(-1) - values.unsqueeze(-2)).abs() / tau  # (..., n, n)
    if pad is not None:
        logits = logits.masked_fill(pad.unsqueeze(-2), float("-inf"))
    return torch.softmax(logits, dim=-1)


def _monotone_counts(n, m, n_q, n_k, dtype, device):
    """The monotone coupling of uniform measures on the first ``n_q`` of ``n`` and the first
    ``n_k`` of ``m`` sorted ranks (``n_q``, ``n_k``: floats or ``(B, 1, 1, 1)`` tensors)."""
    i = torch.arange(n, dtype=dtype, device=device).unsqueeze(-1)  # (n, 1)
    j = torch.arange(m, dtype=dtype, device=device)  # (m,)
    lo = torch.maximum(i / n_q, j / n_k)
    hi = torch.minimum((i + 1) / n_q, (j + 1) / n_k)
    real = (i < n_q) & (j < n_k)
    return (hi - lo).clamp_min(0) * real.to(dtype)


ATTENTIONS = {"softmax": SoftmaxAttention, "sinkhorn": SinkhornAttention, "esp": ESPAttention,
              "lot": LOTAttention, "luna": LUNAAttention}


def make_attention(name: str, embed_dim: int, num_heads: int = 1,
                   **kwargs: Any) -> nn.Module:
    """An attention layer by name: one of :data:`ATTENTIONS`."""
    from .._validation import check_choice

    name = check_choice(name, "attention name", tuple(ATTENTIONS))
    return ATTENTIONS[name](embed_dim, num_heads, **kwargs)
