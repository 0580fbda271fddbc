"""scikit-learn's 8x8 digits (shipped with scikit-learn, offline) in fixed, seeded splits."""

from __future__ import annotations

import math

import numpy as np
import torch

from .._validation import check_array, check_int, check_ratio
from ..typing import Array, ArrayLike
from ._checks import check_seed_int

__all__ = ["load_digits_split", "rotate_digits"]

_N_DIGITS, _N_CLASSES = 1797, 10


def load_digits_split(seed: int = 0, val_fraction: float = 0.15,
                      test_fraction: float = 0.25) -> dict[str, np.ndarray]:
    """The 1,797 digits, pixels scaled to ``[0, 1]``, split into train / validation / test.

    The split is stratified by class and fixed by ``seed``.

    Returns
    -------
    dict
        ``X_train, y_train, X_val, y_val, X_test, y_test``: float64 arrays
        of shape ``(n, 64)`` and int64 labels ``(n,)``.

    Examples
    --------
    >>> d = load_digits_split(seed=0)
    >>> d["X_train"].shape[1], len(d["y_train"]) + len(d["y_val"]) + len(d["y_test"])
    (64, 1797)
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    seed = check_seed_int(seed)
    val_fraction = check_ratio(val_fraction, "val_fraction")
    test_fraction = check_ratio(test_fraction, "test_fraction")
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(f"val_fraction + test_fraction must be < 1, got "
                         f"{val_fraction + test_fraction}")
    # each split must hold at least one digit of every class (stratified splits)
    n_test = math.ceil(test_fraction * _N_DIGITS)
    n_val = math.ceil(val_fraction / (1.0 - test_fraction) * (_N_DIGITS - n_test))
    for name, count in (("test_fraction", n_test), ("val_fraction", n_val),
                        ("val_fraction + test_fraction", _N_DIGITS - n_test - n_val)):
        if count < _N_CLASSES:
            raise ValueError(f"{name} leaves {count} digits in a split, fewer than the "
                             f"{_N_CLASSES} classes (every split is stratified)")
    digits = load_digits()
    X, y = digits.data / 16.0, digits.target.astype(np.int64)
    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=test_fraction, random_state=seed, stratify=y)
    X_train, X_val, y_train, y_val = train_test_split(
        X_rest, y_rest, test_size=val_fraction / (1.0 - test_fraction), random_state=seed,
        stratify=y_rest)
    return {"X_train": X_train, "y_train": y_train, "X_val": X_val, "y_val": y_val,
            "X_test": X_test, "y_test": y_test}


def rotate_digits(X: ArrayLike, quarter_turns: int = 1) -> Array:
    """Rotate flattened 8x8 digits by ``quarter_turns`` x 90 degrees (exact, no interpolation).

    ``X`` is ``(n, 64)``, numpy or torch (the result has the input's kind);
    ``quarter_turns`` may be negative (clockwise).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(64.0)[None]
    >>> np.array_equal(rotate_digits(rotate_digits(X, 1), 3), X)
    True
    """
    t = check_array(X, "X", ndim=2)
    if t.shape[1] != 64:
        raise ValueError(f"X must have shape (n, 64) (flattened 8x8 images), got "
                         f"{tuple(t.shape)}")
    k = check_int(quarter_turns, "quarter_turns")
    if isinstance(X, torch.Tensor):
        return torch.rot90(X.reshape(-1, 8, 8), k=k, dims=(1, 2)).reshape(-1, 64).clone()
    X = np.asarray(X)
    return np.rot90(X.reshape(-1, 8, 8), k=k, axes=(1, 2)).reshape(-1, 64).copy()
