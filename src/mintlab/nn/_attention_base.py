"""The shared multi-head shell of mintlab's attention layers (projections, checks, masks).

Subclasses implement ``_attend(q, k, v, pad, need_weights, causal)`` on per-head tensors
``(batch, heads, length, head_dim)``; ``pad`` is the boolean key padding mask
``(batch, m)`` (``True`` = ignore) or ``None`` and ``causal`` asks that query ``i`` reach
only keys ``j <= i``.

Layers whose rows interact (a column constraint couples them: Sinkhorn, ESP) may
implement ``_attend_sets(q, k, v, pad, query_pad, need_weights, causal)`` instead, where
``query_pad`` ``(batch, n)`` marks queries that are absent from the set: in
self-attention (``key`` omitted) the padded positions are absent as queries too. The
default ``_attend_sets`` ignores ``query_pad`` and calls ``_attend``.

Value checks (finite inputs, a mask hiding every key) run in eager mode only; under
``torch.compile`` they are skipped so that the forward pass traces as one graph.
"""

from __future__ import annotations

import torch
from torch import nn

from .._validation import check_finite, check_int


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
            if not torch.compiler.is_compiling():
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
        if not torch.compiler.is_compiling() and bool(key_padding_mask.all(-1).any()):
            raise ValueError("key_padding_mask hides every key of some batch entry; at least "
                             "one key must stay")
        return key_padding_mask.to(query.device)

    def _heads(self, x):
        B, n, _ = x.shape
        return x.view(B, n, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, query: torch.Tensor, key: torch.Tensor | None = None,
                value: torch.Tensor | None = None, key_padding_mask: torch.Tensor | None = None,
                need_weights: bool = False, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attend from ``query`` to ``key`` / ``value`` (``None``: self-attention).

        ``key_padding_mask`` ``(batch, m)``, ``True`` at keys to ignore; in
        self-attention the padded positions are also absent as queries.
        ``is_causal=True`` lets query ``i`` reach only keys ``j <= i`` (as many keys as
        queries). Returns ``(output (batch, n, embed_dim), weights or None)``.
        """
        self_attention = key is None or (key is query and (value is None or value is key))
        key = query if key is None else key
        value = key if value is None else value
        pad = self._check(query, key, value, key_padding_mask)
        causal = bool(is_causal)
        if causal and key.shape[1] != query.shape[1]:
            raise ValueError("is_causal=True needs as many keys as queries, got "
                             f"{key.shape[1]} keys and {query.shape[1]} queries")
        query_pad = pad if self_attention else None
        q = self._heads(self.q_proj(query))  # (B, h, n, dh)
        k = self._heads(self.k_proj(key))  # (B, h, m, dh)
        v = self._heads(self.v_proj(value))  # (B, h, m, dh)
        out, w = self._attend_sets(q, k, v, pad, query_pad, bool(need_weights), causal)
        B, _, n, _ = out.shape
        out = self.out_proj(out.transpose(1, 2).reshape(B, n, self.embed_dim))
        if w is not None and average_attn_weights:
            w = w.mean(1)
        return out, w

    def _attend(self, q, k, v, pad, need_weights, causal):  # pragma: no cover - abstract
        raise NotImplementedError

    def _attend_sets(self, q, k, v, pad, query_pad, need_weights, causal):
        return self._attend(q, k, v, pad, need_weights, causal)

    def _no_causal(self, causal):
        if causal:
            raise ValueError(f"{type(self).__name__} does not support is_causal=True")

    def attention_matrix(self, query: torch.Tensor, key: torch.Tensor | None = None,
                         key_padding_mask: torch.Tensor | None = None,
                         is_causal: bool = False) -> torch.Tensor | None:
        """The per-head attention matrices ``(batch, heads, n, m)`` (forms them explicitly)."""
        return self.forward(query, key, None, key_padding_mask, need_weights=True,
                            average_attn_weights=False, is_causal=is_causal)[1]


def _key_counts(pad, B, m, like):
    if pad is None:
        return torch.full((B, 1, 1, 1), float(m), dtype=like.dtype, device=like.device)
    return (~pad).sum(-1).to(like.dtype).view(B, 1, 1, 1)


def _neg_fill(scores, pad):
    if pad is None:
        return scores
    return scores.masked_fill(pad[:, None, None, :], float("-inf"))


def _allowed(pad, query_pad, causal, n, m, device):
    """Boolean ``(batch or 1, 1, n, m)``: query ``i`` may attend key ``j``; ``None`` = all."""
    allowed = None
    if causal:
        allowed = torch.ones(n, m, dtype=torch.bool, device=device).tril().view(1, 1, n, m)
    if pad is not None:
        keys = ~pad[:, None, None, :]
        allowed = keys if allowed is None else allowed & keys
    if query_pad is not None:
        rows = ~query_pad[:, None, :, None]
        allowed = rows if allowed is None else allowed & rows
    if allowed is None:
        return None
    return allowed.expand(allowed.shape[0], 1, n, m)


def _masked_logsumexp(x, allowed, has, dim):
    """``logsumexp`` of ``x`` over the allowed entries along ``dim``; 0 where ``has`` is
    false (no allowed entry), with finite gradients everywhere."""
    x = x.masked_fill(~allowed, float("-inf")).masked_fill(~has, 0.0)
    return torch.logsumexp(x, dim, keepdim=True).masked_fill(~has, 0.0)
