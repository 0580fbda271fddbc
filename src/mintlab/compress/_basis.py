"""Random numbers that a model can be rebuilt from: one seed, named streams, fixed blocks.

Every random tensor of the compression methods (PRANC's basis networks,
NOLA's basis matrices, MCNC's generator) is drawn from a *stream*: a fresh
CPU ``torch.Generator`` whose seed is a 63-bit hash of the user's seed and
a tuple of keys (method, parameter name, block index). Consequences:

* the numbers depend only on ``(seed, keys)``, not on the order in which
  tensors are generated, on which other parameters are compressed, or on
  how much memory a caller lets us use;
* any block can be regenerated on its own (PRANC's backward pass does this
  instead of keeping the basis in memory);
* draws happen on the CPU in float32 and are then moved to the target
  device and dtype, so the random tensors are the same bit for bit on
  every machine and device. Weights computed from them (matrix products)
  are the same bit for bit at the same device, dtype and thread count,
  and agree to floating-point rounding otherwise.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import torch

from .._random import stream_seed

__all__ = ["stream_seed", "stream_generator", "uniform", "check_seed"]


def check_seed(seed: object, name: str = "seed") -> int:
    """A non-negative Python int: the only kind of seed a compressed model can store."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{name} must be a non-negative int (it is stored with the model), "
                        f"got {type(seed).__name__}")
    if int(seed) < 0:
        raise ValueError(f"{name} must be non-negative, got {int(seed)}")
    return int(seed)


def stream_generator(seed: int, *keys: object) -> torch.Generator:
    """A fresh CPU generator for the stream ``keys`` under ``seed``."""
    g = torch.Generator(device="cpu")
    g.manual_seed(stream_seed(seed, *keys))
    return g


def uniform(shape: Sequence[int], seed: int, *keys: object, low: float = -1.0,
            high: float = 1.0, dtype: torch.dtype = torch.float32,
            device: torch.device | str | None = None) -> torch.Tensor:
    """Uniform ``[low, high)`` draws of the stream ``keys``, made on the CPU in float32.

    The values are the same for any ``dtype``/``device`` requested (they are
    converted after drawing).
    """
    g = stream_generator(seed, *keys)
    t = torch.empty(tuple(shape), dtype=torch.float32).uniform_(low, high, generator=g)
    return t.to(device=device, dtype=dtype)
