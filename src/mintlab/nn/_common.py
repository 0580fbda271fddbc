"""Input checks shared by the set layers and attention modules."""

from __future__ import annotations

from typing import Any

import torch

from .._validation import check_finite
from ..typing import DeviceLike


def check_set(x: Any, mask: Any, in_features: int | None = None, name: str = "x", *,
              unbatched: bool = False) -> torch.Tensor | None:
    """Validate a batch of padded sets ``x`` (batch, n, d) and its ``mask`` (batch, n).

    ``mask`` is boolean with ``True`` at real elements (``None``: all real).
    Every set must keep at least one element. Returns the mask (or ``None``).
    With ``unbatched``, one set ``(n, d)`` with a mask ``(n,)`` is accepted too.

    Shapes, dtypes and the mask's kind are always checked. The values
    (finiteness of ``x``, no empty set in ``mask``) are read only for tensors
    off CUDA: reading them there would wait for the device on every forward
    pass of a training loop.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch tensor of shape (batch, n, d), "
                        f"got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating tensor, got dtype {x.dtype}")
    if x.ndim != 3 and not (unbatched and x.ndim == 2):
        want = "(batch, n, d) or (n, d)" if unbatched else "(batch, n, d)"
        raise ValueError(f"{name} must have shape {want}, got {tuple(x.shape)}")
    if x.shape[-2] == 0:
        raise ValueError(f"{name} must hold at least one element per set, got {tuple(x.shape)}")
    if in_features is not None and x.shape[-1] != in_features:
        raise ValueError(f"{name} must have {in_features} features in its last dimension, "
                         f"got {x.shape[-1]}")
    read_values = not x.is_cuda
    if read_values:
        check_finite(x.detach(), name)
    if mask is None:
        return None
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise TypeError("mask must be a boolean tensor of shape (batch, n) with True at real "
                        f"elements, got {getattr(mask, 'dtype', type(mask).__name__)}")
    if tuple(mask.shape) != tuple(x.shape[:-1]):
        raise ValueError(f"mask must have shape {tuple(x.shape[:-1])} to match {name}, "
                         f"got {tuple(mask.shape)}")
    if read_values and not bool(mask.any(-1).all()):
        empty = int((~mask.any(-1)).sum())
        raise ValueError(f"mask leaves {empty} set(s) empty; every set needs at least one "
                         "True element")
    return mask.to(x.device)


def masked_weights(x, mask):
    """Uniform weights over the real elements: (batch, n), rows summing to one."""
    if mask is None:
        return torch.full(x.shape[:2], 1.0 / x.shape[1], dtype=x.dtype, device=x.device)
    w = mask.to(x.dtype)
    return w / w.sum(-1, keepdim=True)


def pad_sets(sets: Any, dtype: torch.dtype = torch.float32,
             device: DeviceLike = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack sets of different sizes into a padded batch and its mask.

    Parameters
    ----------
    sets : sequence of arrays or tensors of shape (n_i, d)
    dtype, device : where the batch lives

    Returns
    -------
    x : tensor (len(sets), max n_i, d), zeros at the padding
    mask : bool tensor (len(sets), max n_i), True at real elements

    Examples
    --------
    >>> import numpy as np
    >>> x, mask = pad_sets([np.ones((2, 3)), np.ones((4, 3))])
    >>> tuple(x.shape), mask.sum(1).tolist()
    ((2, 4, 3), [2, 4])
    """
    import numpy as np

    if isinstance(sets, torch.Tensor | np.ndarray) and getattr(sets, "ndim", 0) == 3:
        sets = list(sets)
    if not isinstance(sets, list | tuple) or len(sets) == 0:
        raise ValueError("sets must be a non-empty sequence of (n_i, d) arrays")
    ts = []
    for i, s in enumerate(sets):
        if isinstance(s, str | bytes) or s is None:
            raise TypeError(f"sets[{i}] must be an array of shape (n_i, d), got "
                            f"{type(s).__name__}")
        try:
            t = torch.as_tensor(s, dtype=dtype, device=device)
        except (TypeError, ValueError, RuntimeError):
            raise TypeError(f"sets[{i}] must be an array of numbers of shape (n_i, d), got "
                            f"{type(s).__name__}") from None
        if t.ndim != 2 or t.shape[0] == 0:
            raise ValueError(f"sets[{i}] must have shape (n_i, d) with n_i >= 1, "
                             f"got {tuple(t.shape)}")
        ts.append(t)
    d = ts[0].shape[1]
    if any(t.shape[1] != d for t in ts):
        raise ValueError(f"all sets must have the same dimension, got "
                         f"{sorted({t.shape[1] for t in ts})}")
    n = max(t.shape[0] for t in ts)
    x = torch.zeros(len(ts), n, d, dtype=dtype, device=device)
    mask = torch.zeros(len(ts), n, dtype=torch.bool, device=device)
    for i, t in enumerate(ts):
        x[i, :t.shape[0]] = t
        mask[i, :t.shape[0]] = True
    check_finite(x, "sets")
    return x, mask
