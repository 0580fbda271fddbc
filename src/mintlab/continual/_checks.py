"""Argument checks shared by the continual-learning modules (on top of ``mintlab._validation``)."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from .._validation import (
    check_array,
    check_bool,  # noqa: F401  (re-exported)
    describe,
)

__all__ = ["check_bool", "check_real", "check_module", "check_callable", "np_seed",
           "check_bounds", "array_like", "item_list", "float_array", "int_array"]


def check_real(value: Any, name: str) -> float:
    """Return ``value`` as a finite float (``TypeError`` for strings and other non-numbers)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    v = float(value)
    if not np.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    return v


def check_module(value: Any, name: str = "model") -> nn.Module:
    """Check that ``value`` is a ``torch.nn.Module``."""
    if not isinstance(value, nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module, got {type(value).__name__}")
    return value


def check_callable(value: Any, name: str) -> Any:
    """Check that ``value`` can be called."""
    if not callable(value):
        raise TypeError(f"{name} must be callable, got {type(value).__name__} {value!r}")
    return value


def np_seed(seed: Any, name: str = "seed") -> Any:
    """Check a seed for ``numpy.random.default_rng`` and return it unchanged.

    Accepted, as numpy accepts them: None, an int >= 0, a sequence or array of
    ints >= 0, a ``SeedSequence``, a ``BitGenerator`` or a ``Generator``.
    """
    if seed is None or isinstance(seed, np.random.Generator | np.random.SeedSequence
                                  | np.random.BitGenerator):
        return seed
    if isinstance(seed, Sequence | np.ndarray) and not isinstance(seed, str | bytes):
        try:
            a = np.asarray(seed)
        except (TypeError, ValueError):
            a = np.asarray([None])  # ragged: reported below
        whole = a.dtype.kind in "iu" or a.size == 0 or (a.dtype == object and all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool | np.bool_)
            for v in a.ravel()))
        if not whole:
            raise TypeError(f"{name} must be an int >= 0, a sequence of ints >= 0, a numpy "
                            f"Generator or None, got {describe(seed)}")
        if a.size and min(int(v) for v in a.ravel()) < 0:
            raise ValueError(f"{name} must hold ints >= 0, got minimum "
                             f"{min(int(v) for v in a.ravel())}")
        return seed
    if isinstance(seed, bool | np.bool_) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{name} must be an int >= 0, a sequence of ints >= 0, a numpy "
                        f"Generator or None, got {type(seed).__name__} {seed!r}")
    if int(seed) < 0:
        raise ValueError(f"{name} must be >= 0, got {int(seed)}")
    return int(seed)


def _real_scalar(v: Any, name: str) -> float:
    """A Python, numpy or one-element torch real number as a finite float."""
    if isinstance(v, torch.Tensor):
        if v.numel() != 1 or v.dtype == torch.bool or v.is_complex():
            raise TypeError(f"{name} must be a real number, got {describe(v)}")
        v = v.item()
    elif isinstance(v, np.ndarray) and v.ndim == 0:
        v = v[()]
    return check_real(v, name)


def check_bounds(bounds: Any, name: str = "bounds") -> tuple[float, float]:
    """``(low, high)`` with ``low < high`` as two floats.

    ``bounds`` may be a tuple or list of two numbers, a numpy array or a torch
    tensor of two numbers; each number may be a Python or numpy scalar or a
    0-d tensor.
    """
    if isinstance(bounds, torch.Tensor | np.ndarray):
        if bounds.ndim != 1 or bounds.shape[0] != 2:
            raise ValueError(f"{name} must be (low, high), got an array of shape "
                             f"{tuple(bounds.shape)}")
        items = list(bounds)
    elif isinstance(bounds, Sequence) and not isinstance(bounds, str | bytes):
        if len(bounds) != 2:
            raise ValueError(f"{name} must be (low, high), got {len(bounds)} values: {bounds!r}")
        items = list(bounds)
    else:
        raise TypeError(f"{name} must be (low, high), got {type(bounds).__name__} {bounds!r}")
    lo, hi = _real_scalar(items[0], f"{name}[0]"), _real_scalar(items[1], f"{name}[1]")
    if not lo < hi:
        raise ValueError(f"{name} must be (low, high) with low < high, got ({lo}, {hi})")
    return lo, hi


def item_list(x: Any, name: str, what: str) -> list[Any]:
    """``list(x)`` for any iterable but a string (lists, tuples, numpy arrays, dict keys,
    generators, ...); ``TypeError`` naming ``name`` otherwise."""
    if isinstance(x, str | bytes) or not hasattr(x, "__iter__"):
        raise TypeError(f"{name} must be a sequence of {what}, got {type(x).__name__} {x!r}")
    try:
        return list(x)
    except TypeError:  # e.g. a 0-d numpy array
        raise TypeError(f"{name} must be a sequence of {what}, got {describe(x)}") from None


def array_like(x: Any, name: str) -> Any:
    """``x`` ready for ``mintlab._validation.check_array``: tensors, arrays, lists and tuples
    pass unchanged (that check reports their problems); anything else that numpy can
    convert (a pandas object, ...) becomes a numpy array and must hold real numbers."""
    if isinstance(x, torch.Tensor | np.ndarray | list | tuple):
        return x
    if isinstance(x, str | bytes):
        raise TypeError(f"{name} must be an array of numbers, got a string {x!r}")
    try:
        a = np.array(x)  # a writable copy (pandas hands out read-only views)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of numbers, got {describe(x)}") from None
    if a.dtype == object or a.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be an array of numbers, got {type(x).__name__} of "
                        f"dtype {a.dtype}")
    return a


def _numpy(x: Any, name: str) -> np.ndarray:
    if isinstance(x, str | bytes):
        raise TypeError(f"{name} must be an array of numbers, got a string {x!r}")
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    if isinstance(x, np.ndarray):
        return x
    try:
        return np.asarray(x)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of numbers, got {describe(x)}") from None


def float_array(x: Any, name: str, *, ndim: int | Sequence[int] | None = None,
                min_size: int = 1) -> np.ndarray:
    """``x`` (numpy, torch or a list) as a finite float64 numpy array, checked."""
    a = _numpy(x, name)
    if a.dtype == object or a.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got {describe(x)}")
    t = check_array(a, name, ndim=ndim, min_size=min_size)
    return np.asarray(t.numpy(), dtype=np.float64)


def int_array(x: Any, name: str, *, ndim: int | None = None, min_size: int = 1) -> np.ndarray:
    """``x`` as an int64 numpy array; floats must hold whole numbers."""
    a = _numpy(x, name)
    if a.dtype == object or a.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold integers, got {describe(x)}")
    t = check_array(a, name, ndim=ndim, min_size=min_size)
    if t.is_floating_point() and t.numel() and not bool((t == t.round()).all()):
        raise ValueError(f"{name} must hold integers, got non-integer values")
    return np.asarray(t.numpy()).astype(np.int64)
