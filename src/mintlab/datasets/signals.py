"""MNIST-1D: 1D signals of ten digit templates, made by the ``mnist1d`` package offline.

The package builds the data set from ten hand-made templates with random
padding, scaling, shear, translation and noise, from its published seed
(42): 5,000 signals of length 40, 4,000 for training and 1,000 for test, the
set of the paper. Nothing is downloaded (the package's own loader would fetch
a pickle; we call its generator directly).
"""

from __future__ import annotations

import functools
import random

import numpy as np

from .._validation import check_choice, check_int
from ._assets import require_asset
from ._checks import check_seed_int
from .images import IMAGE_SPLITS, stratified_indices

__all__ = ["load_mnist1d"]


@functools.lru_cache(maxsize=1)
def _mnist1d() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    require_asset("mnist1d")
    from mnist1d.data import get_dataset_args, make_dataset

    # The generator seeds and draws from the global numpy / random states:
    # keep the caller's streams untouched.
    np_state, py_state = np.random.get_state(), random.getstate()  # noqa: NPY002
    try:
        d = make_dataset(get_dataset_args())
    finally:
        np.random.set_state(np_state)  # noqa: NPY002
        random.setstate(py_state)
    return {"train": (d["x"].astype(np.float64), d["y"].astype(np.int64)),
            "test": (d["x_test"].astype(np.float64), d["y_test"].astype(np.int64))}


def load_mnist1d(split: str = "train", n: int | None = None,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """MNIST-1D signals and labels (10 classes), in the data set's published version.

    Parameters
    ----------
    split : {"train", "test"}
        4,000 training or 1,000 test signals (class sizes vary a little, as
        in the original: 394-411 and 89-106).
    n : int or None
        A class-balanced sample of ``n`` signals drawn with ``seed`` (in
        stored order), or the whole split when None.
    seed : int
        Seed of that sample.

    Returns
    -------
    X : ndarray of float64, shape (n, 40)
        The signals (the whole set is centred with unit standard deviation).
    y : ndarray of int64, shape (n,)

    Examples
    --------
    >>> X, y = load_mnist1d("test", n=50)
    >>> X.shape, X.dtype, y.dtype, int(np.bincount(y).min())
    ((50, 40), dtype('float64'), dtype('int64'), 5)

    References
    ----------
    Sam Greydanus, Dmitry Kobak, "Scaling Down Deep Learning with MNIST-1D", 2024.
    """
    if not isinstance(split, str):
        raise TypeError(f"split must be a string, got {type(split).__name__}")
    check_choice(split, "split", IMAGE_SPLITS)
    if n is not None:
        n = check_int(n, "n", minimum=1)
    seed = check_seed_int(seed)
    X, y = _mnist1d()[split]
    if n is not None:
        if n > y.size:
            raise ValueError(f"n must be at most {y.size} (the MNIST-1D {split} split), got {n}")
        idx = stratified_indices(y, n, seed)
        X, y = X[idx], y[idx]
    return X.copy(), y.copy()
