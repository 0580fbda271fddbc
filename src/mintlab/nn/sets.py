"""Permutation-equivariant set backbones: ``(batch, n, d_in)`` + mask -> ``(batch, n, width)``.

Paper: ``backbone-vs-pooling`` (simple vs complex equivariant backbones in
front of a global pooling). Three families:

* :class:`PointNetBackbone` - a shared per-element MLP (no interaction
  between elements, as in PointNet without its transform nets);
* :class:`DeepSetsBackbone` - DeepSets' equivariant layers
  ``x_i W + pool(x) G + b`` (elements interact through a mean or max);
* :class:`SetTransformerBackbone` - Set Transformer's self-attention blocks
  (SAB, or ISAB with ``n_inducing`` points for ``O(n m)`` cost).

``mask`` is boolean ``(batch, n)``, ``True`` at real elements; padded
elements never influence real ones. :class:`SetClassifier` chains a
backbone, a pooling from :mod:`mintlab.nn.pooling` and an MLP head.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .._validation import check_choice, check_int
from ..embed._checks import check_bool
from ._common import check_set, masked_weights

__all__ = [
    "MultiheadAttentionBlock",
    "SAB",
    "ISAB",
    "PointNetBackbone",
    "DeepSetsBackbone",
    "SetTransformerBackbone",
    "SetClassifier",
    "BACKBONES",
    "make_backbone",
]


def _mlp(sizes, act=nn.ReLU, last_act=True):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if last_act or i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


class MultiheadAttentionBlock(nn.Module):
    """Set Transformer's MAB: ``H = LN(X + MHA(X, Y, Y))``, ``out = LN(H + rFF(H))``.

    ``mask`` marks the real elements of ``Y``.
    """

    def __init__(self, dim: int, n_heads: int = 4, dim_kv: int | None = None) -> None:
        super().__init__()
        dim = check_int(dim, "dim", minimum=1)
        n_heads = check_int(n_heads, "n_heads", minimum=1)
        if dim % n_heads:
            raise ValueError(f"dim ({dim}) must be divisible by n_heads ({n_heads})")
        if dim_kv is not None:
            dim_kv = check_int(dim_kv, "dim_kv", minimum=1)
        self.dim = dim
        self.dim_kv = dim if dim_kv is None else dim_kv
        self.attn = nn.MultiheadAttention(dim, n_heads, batch_first=True,
                                          kdim=dim_kv, vdim=dim_kv)
        self.ln1 = nn.LayerNorm(dim)
        self.ln2 = nn.LayerNorm(dim)
        self.ff = _mlp([dim, dim, dim], last_act=False)

    def forward(self, x: torch.Tensor, y: torch.Tensor,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        """Queries ``x`` (batch, n, dim) attend to the set ``y`` (batch, m, dim_kv) whose real
        elements ``mask`` (batch, m) marks; returns (batch, n, dim).

        As with ``nn.MultiheadAttention``, one unbatched set is accepted too:
        ``x`` (n, dim), ``y`` (m, dim_kv), ``mask`` (m,) -> (n, dim).
        """
        check_set(x, None, self.dim, unbatched=True)
        mask = check_set(y, mask, self.dim_kv, name="y", unbatched=True)
        if x.ndim != y.ndim:
            raise ValueError(f"x and y must both be batched (3-D) or both unbatched (2-D), got "
                             f"shapes {tuple(x.shape)} and {tuple(y.shape)}")
        if x.ndim == 3 and y.shape[0] != x.shape[0]:
            raise ValueError(f"x and y must have the same batch size, got {x.shape[0]} and "
                             f"{y.shape[0]}")
        return self._attend(x, y, mask)

    def _attend(self, x, y, mask):
        pad = None if mask is None else ~mask
        h = self.ln1(x + self.attn(x, y, y, key_padding_mask=pad, need_weights=False)[0])
        return self.ln2(h + self.ff(h))


class SAB(nn.Module):
    """Set attention block: ``MAB(X, X)``."""

    def __init__(self, dim: int, n_heads: int = 4) -> None:
        super().__init__()
        self.mab = MultiheadAttentionBlock(dim, n_heads)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """(batch, n, dim) and its mask -> (batch, n, dim); or one set (n, dim), mask (n,)."""
        mask = check_set(x, mask, self.mab.dim, unbatched=True)
        return self._attend(x, mask)

    def _attend(self, x, mask):
        return self.mab._attend(x, x, mask)


class ISAB(nn.Module):
    """Induced set attention block: ``H = MAB(I, X)``, ``out = MAB(X, H)``, ``m`` learned points."""

    def __init__(self, dim: int, n_heads: int = 4, n_inducing: int = 16) -> None:
        super().__init__()
        m = check_int(n_inducing, "n_inducing", minimum=1)
        dim = check_int(dim, "dim", minimum=1)
        self.inducing = nn.Parameter(torch.randn(1, m, dim) / dim**0.5)
        self.mab1 = MultiheadAttentionBlock(dim, n_heads)
        self.mab2 = MultiheadAttentionBlock(dim, n_heads)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """(batch, n, dim) and its mask -> (batch, n, dim); or one set (n, dim), mask (n,)."""
        mask = check_set(x, mask, self.inducing.shape[-1], unbatched=True)
        if x.ndim == 2:
            return self._attend(x[None], None if mask is None else mask[None])[0]
        return self._attend(x, mask)

    def _attend(self, x, mask):
        h = self.mab1._attend(self.inducing.expand(x.shape[0], -1, -1), x, mask)
        return self.mab2._attend(x, h, None)


class _Backbone(nn.Module):
    def __init__(self, in_features: int, width: int) -> None:
        super().__init__()
        self.in_features = check_int(in_features, "in_features", minimum=1)
        self.out_features = check_int(width, "width", minimum=1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """(batch, n, in_features) and its mask -> (batch, n, out_features)."""
        mask = check_set(x, mask, self.in_features)
        out = self._forward(x, mask)
        if mask is not None:  # padded rows carry zeros, so nothing downstream can read them
            out = out * mask.unsqueeze(-1).to(out.dtype)
        return out

    def _forward(self, x: torch.Tensor,
                 mask: torch.Tensor | None) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"


class PointNetBackbone(_Backbone):
    """Shared per-element MLP of ``depth`` layers of ``width``: ReLU between layers, the
    last layer linear (signed features, which the transport and moment poolings use;
    with a ReLU there, half of a narrow network's outputs can start dead)."""

    def __init__(self, in_features: int, width: int = 64, depth: int = 3) -> None:
        super().__init__(in_features, width)
        depth = check_int(depth, "depth", minimum=1)
        self.net = _mlp([in_features] + [width] * depth, last_act=False)

    def _forward(self, x, mask):
        return self.net(x)


class _EquivariantLayer(nn.Module):
    def __init__(self, d_in, d_out, reduce):
        super().__init__()
        self.elem = nn.Linear(d_in, d_out)
        self.pool = nn.Linear(d_in, d_out, bias=False)
        self.reduce = reduce

    def forward(self, x, mask):
        if self.reduce == "mean":
            s = torch.einsum("bn,bnd->bd", masked_weights(x, mask), x)
        else:
            xm = x if mask is None else x.masked_fill(~mask.unsqueeze(-1), float("-inf"))
            s = xm.amax(1)
        return self.elem(x) - self.pool(s).unsqueeze(1)


class DeepSetsBackbone(_Backbone):
    """DeepSets' permutation-equivariant layers ``x_i W - pool(x) G + b``, ReLU between
    layers and the last one linear."""

    def __init__(self, in_features: int, width: int = 64, depth: int = 3,
                 reduce: str = "mean") -> None:
        super().__init__(in_features, width)
        depth = check_int(depth, "depth", minimum=1)
        reduce = check_choice(reduce, "reduce", ("mean", "max"))
        sizes = [in_features] + [width] * depth
        self.layers = nn.ModuleList(_EquivariantLayer(a, b, reduce)
                                    for a, b in zip(sizes[:-1], sizes[1:], strict=True))

    def _forward(self, x, mask):
        for i, layer in enumerate(self.layers):
            x = layer(x, mask)
            if i < len(self.layers) - 1:
                x = torch.relu(x)
        return x


class SetTransformerBackbone(_Backbone):
    """A linear embedding then ``depth`` SAB (or ISAB with ``n_inducing``) blocks."""

    def __init__(self, in_features: int, width: int = 64, depth: int = 2, n_heads: int = 4,
                 n_inducing: int | None = None) -> None:
        super().__init__(in_features, width)
        depth = check_int(depth, "depth", minimum=1)
        self.embed = nn.Linear(in_features, width)
        if n_inducing is None:
            self.blocks = nn.ModuleList(SAB(width, n_heads) for _ in range(depth))
        else:
            self.blocks = nn.ModuleList(ISAB(width, n_heads, n_inducing) for _ in range(depth))

    def _forward(self, x, mask):
        h = self.embed(x)
        for block in self.blocks:
            h = block._attend(h, mask)
        return h


BACKBONES = {"pointnet": PointNetBackbone, "deepsets": DeepSetsBackbone,
             "settransformer": SetTransformerBackbone}


def make_backbone(name: str, in_features: int, width: int = 64, **kwargs: Any) -> nn.Module:
    """A backbone by name: one of :data:`BACKBONES`."""
    name = check_choice(name, "backbone name", tuple(BACKBONES))
    return BACKBONES[name](in_features, width, **kwargs)


class SetClassifier(nn.Module):
    """``head(pooling(backbone(x, mask), mask))``: a permutation-invariant classifier.

    The head is ``LayerNorm`` (unless ``normalize=False``), a hidden layer of
    ``hidden`` ReLU units and a linear layer to the class scores.

    Examples
    --------
    >>> from mintlab.nn import PointNetBackbone, MaxPooling
    >>> bb = PointNetBackbone(3, width=16)
    >>> model = SetClassifier(bb, MaxPooling(16), n_classes=4)
    >>> model(torch.randn(2, 10, 3)).shape
    torch.Size([2, 4])
    """

    def __init__(self, backbone: nn.Module, pooling: nn.Module, n_classes: int,
                 hidden: int = 64, normalize: bool = True) -> None:
        super().__init__()
        n_classes = check_int(n_classes, "n_classes", minimum=1)
        hidden = check_int(hidden, "hidden", minimum=1)
        for name, module in (("backbone", backbone), ("pooling", pooling)):
            if not isinstance(module, nn.Module):
                raise TypeError(f"{name} must be a torch.nn.Module, got {type(module).__name__}")
        if getattr(backbone, "out_features", None) != getattr(pooling, "in_features", None):
            raise ValueError(
                f"the backbone's out_features ({getattr(backbone, 'out_features', None)}) must "
                f"equal the pooling's in_features ({getattr(pooling, 'in_features', None)})")
        self.backbone = backbone
        self.pooling = pooling
        # a LayerNorm on the pooled vector puts every pooling's output on one scale
        k: int = getattr(pooling, "out_features")  # noqa: B009 - checked above
        norm = [nn.LayerNorm(k)] if check_bool(normalize, "normalize") else []
        self.head = nn.Sequential(*norm, nn.Linear(k, hidden), nn.ReLU(),
                                  nn.Linear(hidden, n_classes))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """(batch, n, d) and its mask -> class scores (batch, n_classes)."""
        return self.head(self.pooling(self.backbone(x, mask), mask))
