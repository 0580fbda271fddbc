"""The factorised replacement of ``nn.Linear``: ``y = up(down(x)) + bias``."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["LowRankLinear"]


class LowRankLinear(nn.Module):
    """A rank-``r`` linear map stored as two factors, ``W = up @ down``.

    ``down`` is ``(rank, in_features)``, ``up`` is ``(out_features, rank)``;
    the forward pass is two thin matrix products, ``r * (in + out)``
    multiply-adds per token instead of ``in * out``, a real speed-up below
    the break-even rank ``in * out / (in + out)``.

    ``int8_components`` marks the rank components whose ``down`` row and
    ``up`` column are stored in 8 bits (per-vector symmetric scales); their
    values here are the dequantised ones, and :attr:`storage_bytes` counts
    them at one byte per entry plus two float32 scales.
    """

    def __init__(self, in_features: int, out_features: int, rank: int, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        if rank < 0 or rank > min(in_features, out_features):
            raise ValueError(f"rank must be in [0, {min(in_features, out_features)}], got {rank}")
        kw = {"device": device, "dtype": dtype}
        self.in_features, self.out_features, self.rank = in_features, out_features, rank
        self.down = nn.Parameter(torch.zeros(rank, in_features, **kw))
        self.up = nn.Parameter(torch.zeros(out_features, rank, **kw))
        self.bias = nn.Parameter(torch.zeros(out_features, **kw)) if bias else None
        self.register_buffer("int8_components", torch.zeros(rank, dtype=torch.bool,
                                                            device=device), persistent=True)

    @classmethod
    def from_factors(cls, up: torch.Tensor, down: torch.Tensor, bias: torch.Tensor | None = None,
                     int8_components: torch.Tensor | None = None) -> LowRankLinear:
        """A layer holding copies of the given factors (``up @ down`` is the weight)."""
        if up.dim() != 2 or down.dim() != 2 or up.shape[1] != down.shape[0]:
            raise ValueError(f"up (out, r) and down (r, in) must agree, got {tuple(up.shape)} "
                             f"and {tuple(down.shape)}")
        layer = cls(down.shape[1], up.shape[0], up.shape[1], bias is not None,
                    device=up.device, dtype=up.dtype)
        with torch.no_grad():
            layer.up.copy_(up)
            layer.down.copy_(down)
            if bias is not None:
                layer.bias.copy_(bias)
            if int8_components is not None:
                layer.int8_components.copy_(int8_components)
        return layer

    @property
    def weight(self) -> torch.Tensor:
        """The dense weight ``up @ down`` (computed; not a parameter)."""
        return self.up @ self.down

    @property
    def n_parameters(self) -> int:
        """Stored numbers: ``rank * (in + out)`` plus the bias."""
        return self.rank * (self.in_features + self.out_features) + (
            self.out_features if self.bias is not None else 0)

    @property
    def storage_bytes(self) -> int:
        """Bytes of the stored factors and bias (float entries at the parameters' width)."""
        width = self.up.element_size()
        n8 = int(self.int8_components.sum())
        per = self.in_features + self.out_features
        bias = self.out_features * width if self.bias is not None else 0
        return (self.rank - n8) * per * width + n8 * (per + 8) + bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(F.linear(x, self.down), self.up, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"rank={self.rank}, bias={self.bias is not None}")
