"""Argument checks shared by the data-set generators and the model loaders.

They complement :mod:`mintlab._validation` with what generators of data take:
flags, numpy seeds and generators, lists of option names and ``(low, high)``
size ranges. Every message names the argument, the rule and what was given.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .._validation import (
    check_bool,  # noqa: F401  (re-exported)
    check_choice,
    check_int,
)

__all__ = ["check_bool", "check_numpy_rng", "check_seed_int", "check_names", "check_range",
           "check_string", "check_real", "check_split_name", "check_count"]


def check_string(value: Any, name: str, *, allow_empty: bool = False) -> str:
    """Return ``value`` after checking it is a (non-empty) string."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {type(value).__name__}")
    if not allow_empty and not value:
        raise ValueError(f"{name} must be a non-empty string, got ''")
    return value


def check_real(value: Any, name: str) -> float:
    """Return ``value`` as a float after checking it is a finite real number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    v = float(value)
    if not np.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    return v


def check_numpy_rng(seed: Any, name: str = "seed") -> np.random.Generator:
    """``np.random.default_rng(seed)`` after checking ``seed``.

    Accepts what ``default_rng`` makes a stream of: ``None``, a non-negative
    integer (Python or numpy, 0-d integer arrays included), an array-like of
    non-negative integers, a ``np.random.SeedSequence``, a
    ``np.random.BitGenerator`` or a ``np.random.Generator`` (used and
    advanced as given). Booleans and strings are rejected.
    """
    if isinstance(seed, (bool, np.bool_, str, bytes)):
        raise TypeError(f"{name} must be a non-negative int, a sequence of them, a numpy "
                        f"Generator, BitGenerator or SeedSequence, or None, got "
                        f"{type(seed).__name__} {seed!r}")
    if isinstance(seed, np.ndarray) and seed.ndim == 0 and seed.dtype.kind in "iu":
        seed = int(seed)  # default_rng takes len() of any array
    if isinstance(seed, numbers.Integral) and int(seed) < 0:
        raise ValueError(f"{name} must be a non-negative int, got {int(seed)}")
    try:
        return np.random.default_rng(seed)
    except TypeError as err:
        raise TypeError(f"{name} must be a non-negative int, a sequence of them, a numpy "
                        f"Generator, BitGenerator or SeedSequence, or None, got "
                        f"{type(seed).__name__} {seed!r:.80} ({err})") from None
    except ValueError as err:
        raise ValueError(f"{name} must be a non-negative int or a sequence of them, got "
                         f"{seed!r:.80} ({err})") from None


def check_seed_int(seed: Any, name: str = "seed") -> int:
    """Return ``seed`` as an int after checking it is a non-negative integer."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{name} must be a non-negative int, got {type(seed).__name__} {seed!r}")
    if int(seed) < 0:
        raise ValueError(f"{name} must be a non-negative int, got {int(seed)}")
    return int(seed)


def check_names(values: Any, name: str, choices: Sequence[str]) -> tuple[str, ...]:
    """A non-empty sequence of option names, each one of ``choices``; returned as a tuple."""
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise TypeError(f"{name} must be a sequence of names among {list(choices)}, got "
                        f"{type(values).__name__} {values!r}")
    out = tuple(values)
    if not out:
        raise ValueError(f"{name} must name at least one of {list(choices)}, got none")
    for v in out:
        if not isinstance(v, str) or v not in choices:
            raise ValueError(f"{name} must hold names among {list(choices)}, got {v!r}")
    return out


def _range_end(v: Any, name: str, value: Any) -> int:
    """One end of a size range: an integer, or a float holding a whole number."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"{name} must be an int or a (low, high) pair of ints, got "
                        f"{type(value).__name__} {value!r}")
    if isinstance(v, numbers.Integral):
        return int(v)
    f = float(v)
    if not np.isfinite(f) or f != int(f):
        raise ValueError(f"{name} must hold whole numbers of elements, got {value!r}")
    return int(f)


def check_range(value: Any, name: str, *, minimum: int = 1) -> tuple[int, int]:
    """An integer size or an inclusive ``(low, high)`` range of sizes, each >= ``minimum``.

    Floats holding whole numbers (``200.0``) are accepted as sizes.
    """
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        lo = hi = _range_end(value, name, value)
    elif isinstance(value, (tuple, list, np.ndarray)) and len(value) == 2:
        lo_, hi_ = value
        lo, hi = _range_end(lo_, name, value), _range_end(hi_, name, value)
    else:
        raise TypeError(f"{name} must be an int or a (low, high) pair of ints, got "
                        f"{type(value).__name__} {value!r}")
    if lo < minimum or hi < lo:
        raise ValueError(f"{name} must satisfy {minimum} <= low <= high, got {value!r}")
    return lo, hi


def check_split_name(value: Any, name: str, choices: Sequence[str]) -> str:
    """A string among ``choices`` (TypeError for other kinds of value)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {list(choices)}, got {type(value).__name__} "
                        f"{value!r}")
    return check_choice(value, name, choices)


def check_count(value: Any, name: str, *, minimum: int = 1, maximum: int | None = None) -> int:
    """An integer in ``[minimum, maximum]``."""
    v = check_int(value, name, minimum=minimum)
    if maximum is not None and v > maximum:
        raise ValueError(f"{name} must be at most {maximum}, got {v}")
    return v
