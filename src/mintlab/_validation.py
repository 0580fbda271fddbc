"""Input checking and array-kind bookkeeping shared by every public function.

Every public function in mintlab converts its inputs with an :class:`ArrayIO`.
It remembers whether the caller gave numpy arrays (then results come back as
float64 numpy arrays) or torch tensors (then results stay torch tensors on the
caller's device and dtype, differentiable where the method is).

The checks raise ``TypeError`` for the wrong kind of object and ``ValueError``
for a wrong shape or value, and every message names the argument, what was
expected and what was received.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

__all__ = [
    "ArrayIO",
    "check_positive",
    "check_nonnegative",
    "check_int",
    "check_choice",
    "check_finite",
    "check_weights",
    "check_same_leading",
    "check_probability",
    "check_ratio",
    "check_bool",
    "check_temperature",
    "check_labels",
    "check_images",
    "check_tokens",
    "check_probability_vectors",
    "check_array",
    "describe",
]

_ARRAY_TYPES = (np.ndarray, torch.Tensor, list, tuple, numbers.Real, np.generic)


def _describe(x: Any) -> str:
    if isinstance(x, torch.Tensor):
        return f"torch.Tensor of shape {tuple(x.shape)} and dtype {x.dtype}"
    if isinstance(x, np.ndarray):
        return f"numpy array of shape {x.shape} and dtype {x.dtype}"
    return type(x).__name__


class ArrayIO:
    """Converts inputs to torch tensors and results back to the caller's kind.

    The output kind is torch if any of ``arrays`` is a torch tensor, numpy
    otherwise. Torch outputs take the dtype and device of the first floating
    torch input (``torch.get_default_dtype()`` if all torch inputs are
    integer); numpy outputs are float64.

    Parameters
    ----------
    *arrays : array-like or None
        The array arguments of the public call, in signature order. ``None``
        entries are ignored.

    Examples
    --------
    >>> import numpy as np
    >>> io = ArrayIO(np.zeros(3))
    >>> t = io.tensor(np.arange(3.0), "x", ndim=1)
    >>> io.out(t * 2)
    array([0., 2., 4.])
    """

    def __init__(self, *arrays: Any) -> None:
        torch_inputs = [a for a in arrays if isinstance(a, torch.Tensor)]
        self.is_torch = bool(torch_inputs)
        if self.is_torch:
            floating = [a for a in torch_inputs if a.is_floating_point()]
            ref = floating[0] if floating else torch_inputs[0]
            self.device = ref.device
            self.dtype = ref.dtype if floating else torch.get_default_dtype()
        else:
            self.device = torch.device("cpu")
            self.dtype = torch.float64

    # ------------------------------------------------------------------ input
    def tensor(
        self,
        x: Any,
        name: str,
        *,
        ndim: int | None = None,
        min_ndim: int | None = None,
        shape: Sequence[int | None] | None = None,
        allow_empty: bool = False,
        finite: bool = True,
        dtype: torch.dtype | None = None,
    ) -> torch.Tensor:
        """Convert ``x`` to a tensor of this call's dtype and device, with checks.

        ``shape`` may contain ``None`` for free axes; it is matched against the
        trailing axes of ``x`` when ``min_ndim`` is given, and against all axes
        otherwise.
        """
        if x is None:
            raise TypeError(f"{name} must be an array, got None")
        if isinstance(x, bool) or not isinstance(x, _ARRAY_TYPES):
            raise TypeError(
                f"{name} must be a numpy array or torch tensor, got {_describe(x)}"
            )
        target = dtype or self.dtype
        if isinstance(x, torch.Tensor):
            if x.is_complex():
                raise TypeError(f"{name} must be real, got complex dtype {x.dtype}")
            if x.dtype == torch.bool:
                raise TypeError(f"{name} must be numeric, got dtype torch.bool")
            t = x.to(device=self.device, dtype=target)
        else:
            arr = np.asarray(x)
            if arr.dtype == object or not (
                np.issubdtype(arr.dtype, np.number)
                and not np.issubdtype(arr.dtype, np.complexfloating)
            ):
                raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
            if not arr.flags.writeable or any(st < 0 for st in arr.strides):
                arr = np.array(arr)  # read-only or reversed views: torch needs its own copy
            t = torch.as_tensor(arr).to(device=self.device, dtype=target)
        if ndim is not None and t.ndim != ndim:
            raise ValueError(
                f"{name} must be {ndim}-dimensional, got shape {tuple(t.shape)}"
            )
        if min_ndim is not None and t.ndim < min_ndim:
            raise ValueError(
                f"{name} must have at least {min_ndim} dimension(s), got shape {tuple(t.shape)}"
            )
        if shape is not None:
            got = tuple(t.shape)
            tail = got[len(got) - len(shape):] if min_ndim is not None else got
            ok = len(tail) == len(shape) and all(
                s is None or s == g for s, g in zip(shape, tail, strict=True)
            )
            if not ok:
                want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
                raise ValueError(f"{name} must have shape {want}, got {got}")
        if not allow_empty and t.numel() == 0:
            raise ValueError(f"{name} must not be empty, got shape {tuple(t.shape)}")
        if finite:
            check_finite(t, name)
        return t

    # ----------------------------------------------------------------- output
    def out(self, value: Any) -> Any:
        """Give ``value`` (tensor, number, tuple/list/dict of them) back in the caller's kind."""
        if isinstance(value, torch.Tensor):
            if self.is_torch:
                return value
            return value.detach().cpu().to(torch.float64).numpy() if value.is_floating_point() \
                else value.detach().cpu().numpy()
        if isinstance(value, tuple):
            return tuple(self.out(v) for v in value)
        if isinstance(value, list):
            return [self.out(v) for v in value]
        if isinstance(value, dict):
            return {k: self.out(v) for k, v in value.items()}
        return value


# ---------------------------------------------------------------------- checks
def check_finite(t: torch.Tensor, name: str) -> None:
    """Raise ``ValueError`` if ``t`` holds NaN or infinite values."""
    if t.is_floating_point() and t.numel() and not bool(torch.isfinite(t).all()):
        n_nan = int(torch.isnan(t).sum())
        n_inf = int(torch.isinf(t).sum())
        raise ValueError(f"{name} must be finite, got {n_nan} NaN and {n_inf} infinite value(s)")


def check_weights(w: torch.Tensor, name: str, *, normalize: bool = True) -> torch.Tensor:
    """Check that the weights along the last axis are non-negative with positive sum.

    Returns the weights divided by their sum along the last axis when
    ``normalize`` is true.
    """
    if bool((w < 0).any()):
        raise ValueError(f"{name} must be non-negative, got minimum {float(w.min()):.4g}")
    total = w.sum(dim=-1, keepdim=True)
    if bool((total <= 0).any()):
        raise ValueError(f"{name} must have a positive sum along its last axis, got a sum of 0")
    return w / total if normalize else w


def check_same_leading(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    """Check that two batched arrays ``(..., n)`` and ``(..., m)`` broadcast over ``...``."""
    try:
        torch.broadcast_shapes(a.shape[:-1], b.shape[:-1])
    except RuntimeError:
        raise ValueError(
            f"{name_a} and {name_b} must have broadcastable leading (batch) dimensions, "
            f"got {tuple(a.shape)} and {tuple(b.shape)}"
        ) from None


def _check_real(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    v = float(value)
    if not np.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    return v


def check_positive(value: Any, name: str) -> float:
    """Return ``value`` as a float after checking it is finite and > 0."""
    v = _check_real(value, name)
    if v <= 0:
        raise ValueError(f"{name} must be positive, got {v}")
    return v


def check_nonnegative(value: Any, name: str) -> float:
    """Return ``value`` as a float after checking it is finite and >= 0."""
    v = _check_real(value, name)
    if v < 0:
        raise ValueError(f"{name} must be non-negative, got {v}")
    return v


def check_probability(value: Any, name: str) -> float:
    """Return ``value`` as a float after checking it lies in [0, 1]."""
    v = _check_real(value, name)
    if not 0 <= v <= 1:
        raise ValueError(f"{name} must lie in [0, 1], got {v}")
    return v


def check_int(value: Any, name: str, *, minimum: int | None = None) -> int:
    """Return ``value`` as an int after checking its type and lower bound."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    v = int(value)
    if minimum is not None and v < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {v}")
    return v


def check_choice(value: Any, name: str, choices: Sequence[Any]) -> Any:
    """Check that ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def check_ratio(value: Any, name: str, *, closed_low: bool = False,
                closed_high: bool = False) -> float:
    """Return ``value`` as a float after checking it is a ratio in ``(0, 1)``.

    ``closed_low`` / ``closed_high`` admit 0 / 1. Used for compression ratios,
    fractions of a data set or of a layer's parameters kept or removed.
    """
    v = _check_real(value, name)
    low_ok = v >= 0 if closed_low else v > 0
    high_ok = v <= 1 if closed_high else v < 1
    if not (low_ok and high_ok):
        interval = f"{'[' if closed_low else '('}0, 1{']' if closed_high else ')'}"
        raise ValueError(f"{name} must lie in {interval}, got {v}")
    return v


def check_bool(value: Any, name: str) -> bool:
    """Return ``value`` as a bool after checking it is one (Python or numpy bool)."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def check_temperature(value: Any, name: str = "temperature") -> float:
    """Return a softmax temperature after checking it is finite and > 0."""
    return check_positive(value, name)


def describe(x: Any) -> str:
    """A short description of ``x`` for error messages (kind, shape, dtype)."""
    return _describe(x)


def _from_numpy(arr: np.ndarray) -> torch.Tensor:
    arr = np.ascontiguousarray(arr)
    return torch.from_numpy(arr if arr.flags.writeable else arr.copy())


def _as_tensor(x: Any, name: str) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x
    if isinstance(x, np.ndarray):
        if x.dtype == object:
            raise TypeError(f"{name} must be a numeric array, got a numpy array of dtype object")
        return _from_numpy(x)
    if x is None or isinstance(x, (str, bytes, dict, set)):
        raise TypeError(f"{name} must be a numpy array or a torch tensor, got {_describe(x)}")
    # lists, tuples, scalars and other array-likes numpy understands (pandas objects, ...)
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError):
        raise ValueError(f"{name} must be a rectangular array, got a ragged "
                         f"{type(x).__name__}") from None
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers, got {type(x).__name__} of "
                        f"dtype {arr.dtype}")
    return _from_numpy(arr)


def check_array(x: Any, name: str, *, ndim: int | Sequence[int] | None = None,
                min_size: int = 1, finite: bool = True) -> torch.Tensor:
    """Check a generic numeric array argument and return it as a tensor (no copy for tensors).

    Parameters
    ----------
    x : array-like
        The argument.
    name : str
        Its name in the public signature, for the messages.
    ndim : int or sequence of int, optional
        Allowed numbers of dimensions.
    min_size : int
        Minimum number of elements (1 rejects empty arrays).
    finite : bool
        Reject NaN and infinite values.
    """
    t = _as_tensor(x, name)
    if t.dtype == torch.bool or t.is_complex():
        raise TypeError(f"{name} must be a real numeric array, got dtype {t.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if t.ndim not in allowed:
            want = " or ".join(str(a) for a in allowed)
            raise ValueError(f"{name} must have {want} dimension(s), got shape {tuple(t.shape)}")
    if t.numel() < min_size:
        raise ValueError(f"{name} must have at least {min_size} element(s), got shape "
                         f"{tuple(t.shape)}")
    if finite:
        check_finite(t, name)
    return t


def check_labels(y: Any, name: str = "y", *, n_classes: int | None = None,
                 n: int | None = None) -> torch.Tensor:
    """Check integer class labels: a 1-D integer array with values in ``[0, n_classes)``.

    Float arrays holding whole numbers are accepted (and converted to int64);
    ``n`` is the expected length (the number of samples).
    """
    t = _as_tensor(y, name)
    if t.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of class labels, got shape {tuple(t.shape)}")
    if t.is_floating_point():
        check_finite(t, name)
        if t.numel() and not bool((t == t.round()).all()):
            raise ValueError(f"{name} must hold integer class labels, got non-integer values")
        t = t.long()
    elif t.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer class labels, got dtype bool")
    if n is not None and t.shape[0] != n:
        raise ValueError(f"{name} must have one label per sample ({n}), got {t.shape[0]}")
    if t.numel():
        lo, hi = int(t.min()), int(t.max())
        if lo < 0:
            raise ValueError(f"{name} must be non-negative class indices, got minimum {lo}")
        if n_classes is not None and hi >= n_classes:
            raise ValueError(f"{name} must lie in [0, {n_classes}) (n_classes={n_classes}), "
                             f"got maximum {hi}")
    return t


def check_images(x: Any, name: str = "images", *, channels: int | Sequence[int] | None = None,
                 min_size: int = 1) -> torch.Tensor:
    """Check a batch of images ``(n, h, w)`` or ``(n, c, h, w)``: finite, non-empty, real."""
    t = check_array(x, name, ndim=(3, 4), min_size=min_size)
    if channels is not None and t.ndim == 4:
        allowed = (channels,) if isinstance(channels, int) else tuple(channels)
        if t.shape[1] not in allowed:
            raise ValueError(f"{name} must have {' or '.join(map(str, allowed))} channel(s) on "
                             f"axis 1, got shape {tuple(t.shape)}")
    if min(t.shape[-2:]) < 1:
        raise ValueError(f"{name} must have positive height and width, got shape {tuple(t.shape)}")
    return t


def check_tokens(ids: Any, name: str = "input_ids", *,
                 vocab_size: int | None = None) -> torch.Tensor:
    """Check token ids ``(batch, length)`` or ``(length,)``: integers in ``[0, vocab_size)``."""
    t = _as_tensor(ids, name)
    if t.is_floating_point() or t.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer token ids, got dtype {t.dtype}")
    if t.ndim not in (1, 2):
        raise ValueError(f"{name} must have shape (batch, length) or (length,), "
                         f"got {tuple(t.shape)}")
    if t.numel() == 0:
        raise ValueError(f"{name} must hold at least one token, got shape {tuple(t.shape)}")
    lo, hi = int(t.min()), int(t.max())
    if lo < 0 or (vocab_size is not None and hi >= vocab_size):
        bound = f"[0, {vocab_size})" if vocab_size is not None else "[0, vocab_size)"
        raise ValueError(f"{name} must lie in {bound}, got values in [{lo}, {hi}]")
    return t


def check_probability_vectors(p: Any, name: str, *, atol: float = 1e-4) -> torch.Tensor:
    """Check probability vectors along the last axis: finite, non-negative, summing to 1."""
    t = check_array(p, name, ndim=None)
    # sums are taken in float64; a row of n low-precision values may be off by ~n ulps
    if t.is_floating_point():
        atol = max(atol, t.shape[-1] * torch.finfo(t.dtype).eps)
    t = t.double() if not t.is_floating_point() else t
    if bool((t < 0).any()):
        raise ValueError(f"{name} must be non-negative probabilities, "
                         f"got minimum {float(t.min()):.4g}")
    s = t.sum(dim=-1, dtype=torch.float64)
    if not bool(torch.allclose(s, torch.ones_like(s), atol=atol)):
        worst = float((s - 1).abs().max())
        raise ValueError(f"{name} must sum to 1 along its last axis, "
                         f"got sums off by up to {worst:.3g}")
    return t
