"""scikit-learn's 8x8 digits (shipped with scikit-learn, offline) in fixed, seeded splits."""

from __future__ import annotations

import numpy as np

from .._validation import check_int

__all__ = ["load_digits_split", "rotate_digits"]


def load_digits_split(seed: int = 0, val_fraction: float = 0.15, test_fraction: float = 0.25):
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

    seed = check_int(seed, "seed", minimum=0)
    for name, f in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 < float(f) < 1.0:
            raise ValueError(f"{name} must lie in (0, 1), got {f}")
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(f"val_fraction + test_fraction must be < 1, got "
                         f"{val_fraction + test_fraction}")
    digits = load_digits()
    X, y = digits.data / 16.0, digits.target.astype(np.int64)
    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=test_fraction, random_state=seed, stratify=y)
    X_train, X_val, y_train, y_val = train_test_split(
        X_rest, y_rest, test_size=val_fraction / (1.0 - test_fraction), random_state=seed,
        stratify=y_rest)
    return {"X_train": X_train, "y_train": y_train, "X_val": X_val, "y_val": y_val,
            "X_test": X_test, "y_test": y_test}


def rotate_digits(X, quarter_turns: int = 1):
    """Rotate flattened 8x8 digits by ``quarter_turns`` x 90 degrees (exact, no interpolation).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(64.0)[None]
    >>> np.array_equal(rotate_digits(rotate_digits(X, 1), 3), X)
    True
    """
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != 64:
        raise ValueError(f"X must have shape (n, 64) (flattened 8x8 images), got {X.shape}")
    k = check_int(quarter_turns, "quarter_turns")
    return np.rot90(X.reshape(-1, 8, 8), k=k, axes=(1, 2)).reshape(-1, 64).copy()
