"""The factorised replacement of ``nn.Linear``: ``y = up(down(x)) + bias``."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..._validation import check_finite, check_int
from ...typing import DeviceLike

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

    down: nn.Parameter
    up: nn.Parameter
    bias: nn.Parameter | None
    int8_components: torch.Tensor

    def __init__(self, in_features: int, out_features: int, rank: int, bias: bool = True,
                 device: DeviceLike = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        in_features = check_int(in_features, "in_features", minimum=1)
        out_features = check_int(out_features, "out_features", minimum=1)
        rank = check_int(rank, "rank")
        if rank < 0 or rank > min(in_features, out_features):
            raise ValueError(f"rank must be in [0, {min(in_features, out_features)}], got {rank}")
        self.in_features, self.out_features, self.rank = in_features, out_features, rank
        self.down = nn.Parameter(torch.zeros(rank, in_features, device=device, dtype=dtype))
        self.up = nn.Parameter(torch.zeros(out_features, rank, device=device, dtype=dtype))
        self.bias = nn.Parameter(torch.zeros(out_features, device=device, dtype=dtype)) \
            if bias else None
        self.register_buffer("int8_components", torch.zeros(rank, dtype=torch.bool,
                                                            device=device), persistent=True)

    @classmethod
    def from_factors(cls, up: torch.Tensor, down: torch.Tensor, bias: torch.Tensor | None = None,
                     int8_components: torch.Tensor | None = None) -> LowRankLinear:
        """A layer holding copies of the given factors (``up @ down`` is the weight)."""
        for name, t in (("up", up), ("down", down)):
            if not isinstance(t, torch.Tensor) or not t.is_floating_point():
                got = t.dtype if isinstance(t, torch.Tensor) else type(t).__name__
                raise TypeError(f"{name} must be a floating-point torch tensor, got {got}")
            if t.dim() != 2:
                raise ValueError(f"{name} must be 2-dimensional, got shape {tuple(t.shape)}")
            check_finite(t.detach(), name)
        if up.shape[1] != down.shape[0]:
            raise ValueError(f"up (out, r) and down (r, in) must agree, got {tuple(up.shape)} "
                             f"and {tuple(down.shape)}")
        if bias is not None:
            if not isinstance(bias, torch.Tensor):
                raise TypeError(f"bias must be None or a torch tensor, got {type(bias).__name__}")
            if tuple(bias.shape) != (up.shape[0],):
                raise ValueError(f"bias must have shape ({up.shape[0]},) to match up, got "
                                 f"{tuple(bias.shape)}")
            check_finite(bias.detach(), "bias")
        if int8_components is not None:
            if not isinstance(int8_components, torch.Tensor) \
                    or int8_components.dtype != torch.bool:
                got = int8_components.dtype if isinstance(int8_components, torch.Tensor) \
                    else type(int8_components).__name__
                raise TypeError(f"int8_components must be a boolean torch tensor (one flag per "
                                f"component), got {got}")
            if tuple(int8_components.shape) != (up.shape[1],):
                raise ValueError(f"int8_components must have shape ({up.shape[1]},) (one flag "
                                 f"per component of up), got {tuple(int8_components.shape)}")
        layer = cls(down.shape[1], up.shape[0], up.shape[1], bias is not None,
                    device=up.device, dtype=up.dtype)
        with torch.no_grad():
            layer.up.copy_(up)
            layer.down.copy_(down)
            if bias is not None and layer.bias is not None:
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
        """``(..., in_features) -> (..., out_features)``."""
        _check_input(x, self.in_features)
        return F.linear(F.linear(x, self.down), self.up, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"rank={self.rank}, bias={self.bias is not None}")


def _check_input(x: object, in_features: int, name: str = "x") -> None:
    """Shape and kind of a linear layer's input (no pass over the values)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch tensor, got {type(x).__name__}")
    if x.dim() == 0 or x.shape[-1] != in_features:
        raise ValueError(f"{name} must have shape (..., {in_features}) (in_features), got "
                         f"{tuple(x.shape)}")
