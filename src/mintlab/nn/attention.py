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
from .._validation import check_finite, check_int, check_nonnegative, check_positive
from ..transport.plans import _uniform_monotone, soft_sort_matrix

__all__ = [
    "SoftmaxAttention",
    "SinkhornAttention",
    "ESPAttention",
    "LOTAttention",
    "LUNAAttention",
    "ATTENTIONS",
    "make_attention",
]


class _MultiheadBase(nn.Module):
    """Projections, head split and input checks; subclasses implement ``_attend``."""

    def __init__(self, embed_dim: int, num_heads: int = 1, bias: bool = True,
                 kdim: int | None = None, vdim: int | None = None) -> None:
        super().__init__()
        self.embed_dim = check_int(embed_dim, "embed_dim", minimum=1)
        self.num_heads = check_int(num_heads, "num_heads", minimum=1)
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim ({embed_dim}) must be divisible by num_heads "
                             f"({num_heads})")
        self.head_dim = embed_dim // num_heads
        self.kdim = embed_dim if kdim is None else check_int(kdim, "kdim", minimum=1)
        self.vdim = embed_dim if vdim is None else check_int(vdim, "vdim", minimum=1)
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.k_proj = nn.Linear(self.kdim, embed_dim, bias=bias)
        self.v_proj = nn.Linear(self.vdim, embed_dim, bias=bias)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)

    # ------------------------------------------------------------ checking
    def _check(self, query, key, value, key_padding_mask):
        for t, name, dim in ((query, "query", self.embed_dim), (key, "key", self.kdim),
                             (value, "value", self.vdim)):
            if not isinstance(t, torch.Tensor) or not t.is_floating_point():
                raise TypeError(f"{name} must be a floating torch tensor, "
                                f"got {getattr(t, 'dtype', type(t).__name__)}")
            if t.ndim != 3:
                raise ValueError(f"{name} must have shape (batch, length, {dim}) "
                                 f"(batch_first), got {tuple(t.shape)}")
            if t.shape[-1] != dim:
                raise ValueError(f"{name} must have last dimension {dim}, got {t.shape[-1]}")
            if t.shape[1] == 0:
                raise ValueError(f"{name} must not be empty, got shape {tuple(t.shape)}")
            check_finite(t.detach(), name)
        if key.shape[:2] != value.shape[:2]:
            raise ValueError(f"key and value must share (batch, length), got "
                             f"{tuple(key.shape[:2])} and {tuple(value.shape[:2])}")
        if key.shape[0] != query.shape[0]:
            raise ValueError(f"query and key must have the same batch size, got "
                             f"{query.shape[0]} and {key.shape[0]}")
        if key_padding_mask is None:
            return None
        kpm = key_padding_mask
        if not isinstance(kpm, torch.Tensor) or kpm.dtype != torch.bool:
            got = getattr(kpm, "dtype", type(kpm).__name__)
            raise TypeError(f"key_padding_mask must be a boolean tensor (True = ignore), got {got}")
        if tuple(key_padding_mask.shape) != tuple(key.shape[:2]):
            raise ValueError(f"key_padding_mask must have shape {tuple(key.shape[:2])}, got "
                             f"{tuple(key_padding_mask.shape)}")
        if bool(key_padding_mask.all(-1).any()):
            raise ValueError("key_padding_mask hides every key of some batch entry; at least "
                             "one key must stay")
        return key_padding_mask.to(query.device)

    def _heads(self, x):
        B, n, _ = x.shape
        return x.view(B, n, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, query, key=None, value=None, key_padding_mask=None, need_weights=False,
                average_attn_weights=True):
        key = query if key is None else key
        value = key if value is None else value
        pad = self._check(query, key, value, key_padding_mask)
        q = self._heads(self.q_proj(query))
        k = self._heads(self.k_proj(key))
        v = self._heads(self.v_proj(value))
        out, w = self._attend(q, k, v, pad, bool(need_weights))
        B, _, n, _ = out.shape
        out = self.out_proj(out.transpose(1, 2).reshape(B, n, self.embed_dim))
        if w is not None and average_attn_weights:
            w = w.mean(1)
        return out, w

    def _attend(self, q, k, v, pad, need_weights):  # pragma: no cover - abstract
        raise NotImplementedError

    def attention_matrix(self, query, key=None, key_padding_mask=None):
        """The per-head attention matrices ``(batch, heads, n, m)`` (forms them explicitly)."""
        value = query if key is None else key
        return self.forward(query, key, value, key_padding_mask, need_weights=True,
                            average_attn_weights=False)[1]


def _key_counts(pad, B, m, like):
    if pad is None:
        return torch.full((B, 1, 1, 1), float(m), dtype=like.dtype, device=like.device)
    return (~pad).sum(-1).to(like.dtype).view(B, 1, 1, 1)


def _neg_fill(scores, pad):
    if pad is None:
        return scores
    return scores.masked_fill(pad[:, None, None, :], float("-inf"))


class SoftmaxAttention(_MultiheadBase):
    """Scaled dot-product attention, ``softmax(q k^T / sqrt(d_h))`` row by row (the baseline)."""

    def _attend(self, q, k, v, pad, need_weights):
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

    def _attend(self, q, k, v, pad, need_weights):
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

    def _attend(self, q, k, v, pad, need_weights):
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
    """

    def __init__(self, embed_dim, num_heads=1, n_pivots: int = 16, epsilon: float = 0.1,
                 n_iter: int = 10, seed=None, **kwargs) -> None:
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

    def _attend(self, q, k, v, pad, need_weights):
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
    """

    def __init__(self, embed_dim, num_heads=1, n_features: int = 64, causal: bool = False,
                 chunk_size: int = 128, learn_features: bool = True, seed=None,
                 **kwargs) -> None:
        super().__init__(embed_dim, num_heads, **kwargs)
        self.n_features = check_int(n_features, "n_features", minimum=1)
        self.causal = bool(causal)
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

    def _attend(self, q, k, v, pad, need_weights):
        fq = self.features(q, True)
        fk = self.features(k, False)
        if pad is not None:
            fk = fk.masked_fill(pad[:, None, :, None], 0.0)
        if need_weights:
            a = fq @ fk.transpose(-1, -2)
            if self.causal:
                n, m = a.shape[-2:]
                a = a.masked_fill(torch.ones(n, m, dtype=torch.bool, device=a.device).triu(1),
                                  0.0)
            a = a / a.sum(-1, keepdim=True).clamp_min(1e-30)
            return a @ v, a
        if not self.causal:
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


ATTENTIONS = {"softmax": SoftmaxAttention, "sinkhorn": SinkhornAttention, "esp": ESPAttention,
              "lot": LOTAttention, "luna": LUNAAttention}


def make_attention(name: str, embed_dim: int, num_heads: int = 1, **kwargs) -> nn.Module:
    """An attention layer by name: one of :data:`ATTENTIONS`."""
    from .._validation import check_choice

    name = check_choice(name, "attention", tuple(ATTENTIONS))
    return ATTENTIONS[name](embed_dim, num_heads, **kwargs)
