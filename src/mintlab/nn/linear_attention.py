"""Linear-time attention layers: LOT (``lotformer``) and LUNA (``luna``).

Both follow the calling convention of :mod:`mintlab.nn.attention` (where they are
also importable) and never form the ``n x m`` matrix unless ``need_weights`` asks.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from .._random import make_generator
from .._validation import check_finite, check_int, check_positive
from ..embed._checks import check_bool, check_seed, seeded_modules
from ..typing import SeedLike
from ._attention_base import _key_counts, _MultiheadBase

__all__ = ["LOTAttention", "LUNAAttention"]


def _sinkhorn_log(C, log_a, log_b, eps, n_iter):
    """Log-domain Sinkhorn for cost ``C`` (..., n, r) and log marginals; returns the log plan.

    Each sweep fits the columns then the rows, so the rows match ``exp(log_a)`` exactly.
    """
    f = torch.zeros_like(C[..., :, :1])
    M = -C / eps
    for _ in range(n_iter):
        g = log_b - torch.logsumexp(M + f, -2, keepdim=True)
        f = log_a - torch.logsumexp(M + g, -1, keepdim=True)
    return M + f + g


class LOTAttention(_MultiheadBase):
    r"""Linear-time doubly-stochastic attention through a learned pivot (``lotformer``).

    Per head, a pivot measure of ``n_pivots`` learnable points :math:`z_k`
    with learnable masses :math:`\beta` sits between queries and keys. Two
    entropic OT problems are solved by ``n_iter`` log-domain Sinkhorn sweeps:
    queries (uniform) to pivot, :math:`\Gamma_1` ``(n, r)``, and pivot to keys
    (uniform over the real keys), :math:`\Gamma_2` ``(r, m)``. Their glued
    coupling gives

    .. math:: A = n\, \Gamma_1 \operatorname{diag}(1/\beta)\, \Gamma_2,

    of rank at most ``r``, applied to the values as
    ``n * Gamma_1 @ (diag(1/beta) @ (Gamma_2 @ V))`` in ``O((n + m) r d)``
    without forming ``A``. The last sweeps end on the query rows of
    :math:`\Gamma_1` and on the pivot rows of :math:`\Gamma_2`, so the rows of
    ``A`` sum to one exactly; the columns match ``n / m`` up to the Sinkhorn
    error. ``epsilon`` is relative to the mean squared distance of each
    problem.

    There is no causal mode: the pivot-to-key plan is balanced over *all* keys,
    so every query's weights depend on every key's marginal. A causal variant
    would need one pivot-to-key problem per prefix (quadratic work), or would
    give up the key marginals and with them the doubly-stochastic property the
    layer exists for; ``is_causal=True`` raises ``ValueError`` instead.

    ``seed`` draws the initial pivots and, from a stream derived from it, the
    projections, without touching torch's global generator (the same seed builds the
    same layer); ``seed=None`` draws from the global generator, as ``torch.nn`` does.
    """

    def __init__(self, embed_dim: int, num_heads: int = 1, n_pivots: int = 16, epsilon: float = 0.1,
                 n_iter: int = 10, seed: SeedLike = None, **kwargs: Any) -> None:
        with seeded_modules(check_seed(seed), "LOTAttention"):
            super().__init__(embed_dim, num_heads, **kwargs)
        self.n_pivots = check_int(n_pivots, "n_pivots", minimum=1)
        self.epsilon = check_positive(epsilon, "epsilon")
        self.n_iter = check_int(n_iter, "n_iter", minimum=1)
        g = make_generator(seed)
        self.pivots = nn.Parameter(torch.randn(self.num_heads, self.n_pivots, self.head_dim,
                                               generator=g))
        self.pivot_logits = nn.Parameter(torch.zeros(self.num_heads, self.n_pivots))

    def _plans(self, q, k, pad):
        B, h, n, _ = q.shape
        m = k.shape[2]
        z = self.pivots.to(q.dtype).unsqueeze(0).expand(B, -1, -1, -1)  # (B, h, r, dh)
        log_beta = torch.log_softmax(self.pivot_logits.to(q.dtype), -1).view(1, h, 1, -1)
        C1 = torch.cdist(q, z) ** 2  # (B, h, n, r)
        C2 = torch.cdist(z, k) ** 2  # (B, h, r, m)
        counts = _key_counts(pad, B, m, q)
        log_k = (-torch.log(counts)).expand(B, 1, 1, m)
        if pad is not None:
            log_k = log_k.masked_fill(pad[:, None, None, :], float("-inf"))
            C2 = C2.masked_fill(pad[:, None, None, :], 0.0)
        eps1 = self.epsilon * C1.mean((-1, -2), keepdim=True).clamp_min(1e-12)
        eps2 = self.epsilon * (C2.sum((-1, -2), keepdim=True) / (counts * self.n_pivots)
                               ).clamp_min(1e-12)
        log_q = torch.full((1, 1, n, 1), -math.log(n), dtype=q.dtype, device=q.device)
        lg1 = _sinkhorn_log(C1, log_q, log_beta, eps1, self.n_iter)
        # pivot -> keys, ending on the pivot rows (exact pivot masses)
        lg2 = _sinkhorn_log(C2, log_beta.transpose(-1, -2), log_k, eps2, self.n_iter)
        return torch.exp(lg1), torch.exp(lg2), torch.exp(log_beta)  # (B,h,n,r), (B,h,r,m)

    def _attend(self, q, k, v, pad, need_weights, causal):
        if causal:
            raise ValueError("LOTAttention does not support is_causal=True: its pivot-to-key "
                             "plan is balanced over all keys, so no query's weights can ignore "
                             "the later keys (see the class documentation)")
        n = q.shape[2]
        G1, G2, beta = self._plans(q, k, pad)
        inv_beta = (1.0 / beta).transpose(-1, -2)  # (1, h, r, 1)
        out = n * (G1 @ (inv_beta * (G2 @ v)))
        w = n * (G1 @ (inv_beta * G2)) if need_weights else None
        return out, w


class LUNAAttention(_MultiheadBase):
    r"""Linear attention with a learned positive-definite feature map (``luna``).

    Per head, :math:`\phi(x) = \exp(W x + b - \|x\|^2 / 2) / \sqrt{D}` with a
    learnable ``(D, d_h)`` matrix ``W`` and bias ``b`` (``n_features = D``),
    applied to ``x / d_h^{1/4}``: at the standard-normal initialisation
    :math:`\phi(q)^\top\phi(k)` is an unbiased estimate of the softmax kernel
    :math:`\exp(q^\top k / \sqrt{d_h})` (positive random features), and
    training moves the features to the data. The kernel is an inner product
    of non-negative features, hence positive definite and giving non-negative
    weights, and the attention

    .. math:: \text{out}_i = \frac{\phi(q_i)^\top \sum_j \phi(k_j) v_j^\top}
                                   {\phi(q_i)^\top \sum_j \phi(k_j)}

    costs ``O((n + m) D d_h)``. With ``causal=True`` key ``j`` only reaches
    queries ``i >= j``; the sums are then carried as a running state over
    chunks of ``chunk_size`` (the streaming form, :meth:`stream`), so memory
    stays linear in ``n``. ``learn_features=False`` keeps the initial random
    features: the fixed positive-random-feature (Performer-style) baseline.

    ``seed`` draws the initial random features and, from a stream derived from it, the
    projections, without touching torch's global generator (the same seed builds the
    same layer); ``seed=None`` draws from the global generator, as ``torch.nn`` does.
    """

    def __init__(self, embed_dim: int, num_heads: int = 1, n_features: int = 64,
                 causal: bool = False,
                 chunk_size: int = 128, learn_features: bool = True, seed: SeedLike = None,
                 **kwargs: Any) -> None:
        with seeded_modules(check_seed(seed), "LUNAAttention"):
            super().__init__(embed_dim, num_heads, **kwargs)
        self.n_features = check_int(n_features, "n_features", minimum=1)
        self.causal = check_bool(causal, "causal")
        learn_features = check_bool(learn_features, "learn_features")
        self.chunk_size = check_int(chunk_size, "chunk_size", minimum=1)
        g = make_generator(seed)
        self.feature_weight = nn.Parameter(
            torch.randn(self.num_heads, self.n_features, self.head_dim, generator=g),
            requires_grad=learn_features)
        self.feature_bias = nn.Parameter(torch.zeros(self.num_heads, self.n_features),
                                         requires_grad=learn_features)

    def features(self, x, is_query):
        """``phi(x)`` for per-head inputs ``(B, h, n, d_h)`` -> ``(B, h, n, D)``, stabilised."""
        x = x / self.head_dim**0.25
        W = self.feature_weight.to(x.dtype).unsqueeze(0)  # (1, h, D, dh)
        logits = x @ W.transpose(-1, -2) + self.feature_bias.to(x.dtype).view(1, -1, 1,
                                                                              self.n_features)
        logits = logits - 0.5 * (x * x).sum(-1, keepdim=True)
        # constants that cancel in the ratio: one per query row; for keys one per head,
        # the bound w.x - |x|^2 / 2 <= |w|^2 / 2, which does not depend on the keys seen
        if is_query:
            logits = logits - logits.detach().amax(-1, keepdim=True)
        else:
            bound = (self.feature_bias + 0.5 * (self.feature_weight**2).sum(-1)).amax(-1)
            logits = logits - bound.detach().to(x.dtype).view(1, -1, 1, 1)
        return torch.exp(logits) / math.sqrt(self.n_features)

    def _attend(self, q, k, v, pad, need_weights, causal):
        causal = causal or self.causal
        fq = self.features(q, True)
        fk = self.features(k, False)
        if pad is not None:
            fk = fk.masked_fill(pad[:, None, :, None], 0.0)
        if need_weights:
            a = fq @ fk.transpose(-1, -2)
            if causal:
                n, m = a.shape[-2:]
                a = a.masked_fill(torch.ones(n, m, dtype=torch.bool, device=a.device).triu(1),
                                  0.0)
            a = a / a.sum(-1, keepdim=True).clamp_min(1e-30)
            return a @ v, a
        if not causal:
            kv = fk.transpose(-1, -2) @ v  # (B, h, D, dh)
            z = fk.sum(-2)  # (B, h, D)
            num = fq @ kv
            den = (fq * z.unsqueeze(-2)).sum(-1, keepdim=True)
            return num / den.clamp_min(1e-30), None
        if q.shape[2] != k.shape[2]:
            raise ValueError("causal attention needs as many keys as queries, got "
                             f"{k.shape[2]} and {q.shape[2]}")
        out, _ = self._stream(fq, fk, v, None)
        return out, None

    def _stream(self, fq, fk, v, state):
        B, h, n, D = fq.shape
        if state is None:
            kv = fq.new_zeros(B, h, D, v.shape[-1])
            z = fq.new_zeros(B, h, D)
        else:
            kv, z = state
        outs = []
        for s in range(0, n, self.chunk_size):
            e = min(n, s + self.chunk_size)
            qc, kc, vc = fq[:, :, s:e], fk[:, :, s:e], v[:, :, s:e]
            local = (qc @ kc.transpose(-1, -2)).tril()  # within the chunk: j <= i
            num = qc @ kv + local @ vc
            den = (qc * z.unsqueeze(-2)).sum(-1, keepdim=True) + local.sum(-1, keepdim=True)
            outs.append(num / den.clamp_min(1e-30))
            kv = kv + kc.transpose(-1, -2) @ vc
            z = z + kc.sum(-2)
        return torch.cat(outs, 2), (kv, z)

    def stream(self, x, state=None):
        """Causal self-attention over the next chunk ``x`` (batch, c, embed_dim) given the
        running ``state`` of earlier chunks; returns ``(output, state)``. Feeding a sequence
        chunk by chunk gives the same output as one causal call.
        """
        if not isinstance(x, torch.Tensor) or x.ndim != 3 or x.shape[-1] != self.embed_dim:
            raise ValueError(f"x must have shape (batch, c, {self.embed_dim}), got "
                             f"{tuple(getattr(x, 'shape', ()))}")
        check_finite(x.detach(), "x")
        q = self._heads(self.q_proj(x))
        k = self._heads(self.k_proj(x))
        v = self._heads(self.v_proj(x))
        fq = self.features(q, True)
        fk = self.features(k, False)
        out, state = self._stream(fq, fk, v, state)
        B, _, c, _ = out.shape
        return self.out_proj(out.transpose(1, 2).reshape(B, c, self.embed_dim)), state
