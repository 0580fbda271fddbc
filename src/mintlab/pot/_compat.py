"""What POT's calling conventions need on top of mintlab's kernels.

POT batches 1D problems over trailing axes (``(n, ...)``), returns numpy
scalars of the input's dtype, and signals some bad inputs with
``AssertionError``; mintlab batches over leading axes, returns float64
numpy arrays for numpy input and raises ``ValueError``. The helpers here
translate between the two, nothing more.
"""

from __future__ import annotations

import functools
import numbers
from typing import Any

import numpy as np
import torch


class POTInputError(ValueError, AssertionError):
    """Bad input where POT asserts: a ``ValueError`` that ``except AssertionError`` also catches."""


def assertion_compatible(fn):
    """Re-raise the ``ValueError`` of a wrapped call as :class:`POTInputError` (same message)."""

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except POTInputError:
            raise
        except ValueError as err:
            raise POTInputError(str(err)) from err

    return wrapped


def numpy_dtype(*arrays):
    """The dtype POT returns for numpy input: the first floating numpy input's, else float64."""
    for x in arrays:
        if isinstance(x, np.ndarray) and np.issubdtype(x.dtype, np.floating):
            return x.dtype
    return np.dtype(np.float64)


def as_pot(value, *like):
    """Cast a numpy result to the dtype of the numpy inputs ``like``; 0-d arrays become scalars.

    Torch results (and everything else) are returned unchanged.
    """
    if isinstance(value, np.ndarray) and not any(isinstance(x, torch.Tensor) for x in like):
        if np.issubdtype(value.dtype, np.floating):
            value = value.astype(numpy_dtype(*like), copy=False)
        return value[()] if value.ndim == 0 else value
    return value


def is_torch(*arrays) -> bool:
    return any(isinstance(x, torch.Tensor) for x in arrays)


def as_array(x: Any, name: str = "input") -> Any:
    """Lists and scalars as numpy arrays (POT's ``list_to_array``); arrays and None unchanged.

    Anything that is not numbers (a string, a ragged list, an object) raises
    ``TypeError`` naming the argument ``name``.
    """
    if x is None or isinstance(x, np.ndarray | torch.Tensor):
        return x
    if isinstance(x, str | bytes):
        raise TypeError(f"{name} must be an array of real numbers, got {type(x).__name__}")
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of real numbers, got {type(x).__name__}") \
            from None


def check_count(value: Any, name: str, *, minimum: int = 1) -> int:
    """An integer count >= ``minimum``, as POT needs it (``TypeError`` / ``POTInputError``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if int(value) < minimum:
        raise POTInputError(f"{name} must be >= {minimum}, got {int(value)}")
    return int(value)


def check_real(value: Any, name: str, *, minimum: float | None = None) -> float:
    """A finite real number (>= ``minimum`` if given), with POT-compatible errors."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    v = float(value)
    if not np.isfinite(v):
        raise POTInputError(f"{name} must be finite, got {v}")
    if minimum is not None and v < minimum:
        raise POTInputError(f"{name} must be >= {minimum}, got {v}")
    return v


def last_to_first(x):
    """Move the last axis to the front (mintlab's ``(..., k)`` to POT's ``(k, ...)``)."""
    if x is None or x.ndim < 2:
        return x
    return torch.movedim(x, -1, 0) if isinstance(x, torch.Tensor) else np.moveaxis(x, -1, 0)


def first_to_last(x):
    """Move the first axis to the end (POT's ``(n, ...)`` to mintlab's ``(..., n)``)."""
    if x is None or x.ndim < 2:
        return x
    return torch.movedim(x, 0, -1) if isinstance(x, torch.Tensor) else np.moveaxis(x, 0, -1)


def columns(x):
    """POT's circle convention: a 1D sample ``(n,)`` is the single column ``(n, 1)``."""
    if x is None:
        return None
    return x.reshape(-1, 1) if x.ndim == 1 else x


def pot_weights(w, values, name="weights", values_name="values"):
    """POT's weights for batched values: ``(n,)`` weights are shared by every column."""
    if w is None or w.ndim == values.ndim:
        return w
    if w.ndim == 1 and values.ndim >= 2:
        if w.shape[0] != values.shape[0]:
            raise POTInputError(f"{name} must have one weight per sample of {values_name} "
                                f"({values.shape[0]}), got shape {tuple(w.shape)}")
        shape = (w.shape[0],) + (1,) * (values.ndim - 1)
        w = w.reshape(shape)
        return w.expand(values.shape) if isinstance(w, torch.Tensor) else \
            np.array(np.broadcast_to(w, values.shape))
    return w


def type_as_numpy(x, dtype=None):
    """A numpy array converted back from a torch tensor (CPU copy), for POT-shaped helpers."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)
