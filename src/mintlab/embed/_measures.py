"""Collections of measures as estimator input: validation and conversion.

An estimator in :mod:`mintlab.embed` takes ``X`` as one of

- a list (or tuple) of point sets, each an array of shape ``(n_i, d)`` (or
  ``(n_i,)`` for points on a line or circle), with uniform weights;
- a list whose items are ``(points, weights)`` pairs;
- an array of shape ``(K, n, d)``: ``K`` sets of ``n`` points;
- an array of shape ``(K, n)``: ``K`` sets of ``n`` one-dimensional points
  (so a plain 2D array, as scikit-learn passes, is ``K`` 1D measures).

Numpy in gives numpy out; torch in gives torch out (device and dtype of
the first floating tensor).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import torch

from .._validation import ArrayIO, check_weights

__all__ = ["Measures", "as_measures", "SetsLike"]

#: A collection of measures: a list of point sets (arrays ``(n_i, d)`` or ``(n_i,)``,
#: or ``(points, weights)`` pairs), or one array ``(K, n, d)`` / ``(K, n)``.
SetsLike: TypeAlias = np.ndarray | torch.Tensor | Sequence[Any]


@dataclass
class Measures:
    """Validated measures: points ``(n_i, d)`` and weights ``(n_i,)`` as tensors."""

    points: list
    weights: list
    io: ArrayIO
    dim: int

    def __len__(self) -> int:
        return len(self.points)


def _is_array(x) -> bool:
    return isinstance(x, np.ndarray | torch.Tensor)


def as_measures(X, *, name: str = "X", normalize: bool = True, dim: int | None = None,
                uniform_weight: float | None = None) -> Measures:
    """Validate a collection of measures (see the module docstring for the forms).

    Parameters
    ----------
    normalize : bool, default True
        Divide each measure's weights by their sum (probability measures).
    dim : int, optional
        Required point dimension (e.g. the one seen in ``fit``).
    uniform_weight : float, optional
        Weight of each point when no weights are given and ``normalize`` is
        false (default ``1``).
    """
    import scipy.sparse

    if scipy.sparse.issparse(X):
        raise TypeError(f"{name}: sparse input is not supported; pass dense point sets "
                        "(each measure is a set of points)")
    if hasattr(X, "__array__") and not _is_array(X) and not isinstance(X, list | tuple):
        X = np.asarray(X)
    if isinstance(X, np.ndarray):
        if np.iscomplexobj(X):
            raise ValueError(f"{name}: Complex data not supported")
        if X.dtype == object:
            try:
                X = X.astype(np.float64)
            except (TypeError, ValueError) as err:
                raise TypeError(f"{name} must hold real numbers, got an object array that does "
                                f"not convert to float ({err})") from None
        if X.ndim == 1:
            raise ValueError(f"{name} as an array must have shape (K, n) or (K, n, d), got "
                             f"{X.shape}. Reshape your data: X.reshape(1, -1) for a single "
                             "measure of 1D points")
        if X.ndim >= 2 and X.shape[1] == 0:
            raise ValueError(f"{name} has 0 feature(s) (shape={X.shape}) while a minimum of 1 is "
                             "required: every measure needs at least one point")
    if isinstance(X, str) or X is None:
        raise TypeError(f"{name} must be a list of point sets or an array of shape (K, n) or "
                        f"(K, n, d), got {type(X).__name__}")
    if _is_array(X) or (isinstance(X, list | tuple) and X and
                        all(isinstance(v, int | float | np.number) for v in X)):
        arr = X if _is_array(X) else np.asarray(X)
        if arr.ndim not in (2, 3):
            raise ValueError(f"{name} as an array must have shape (K, n) or (K, n, d), got "
                             f"{tuple(arr.shape)}")
        items = [(arr[k], None) for k in range(arr.shape[0])]
    elif isinstance(X, list | tuple):
        items = []
        for item in X:
            if isinstance(item, tuple) and len(item) == 2 and not np.isscalar(item[0]):
                items.append(item)
            else:
                items.append((item, None))
    else:
        raise TypeError(f"{name} must be a list of point sets or an array of shape (K, n) or "
                        f"(K, n, d), got {type(X).__name__}")
    if not items:
        raise ValueError(f"{name} must contain at least one measure, got 0")
    flat = [a for pair in items for a in pair]
    io = ArrayIO(*[a for a in flat if _is_array(a)])
    points: list[torch.Tensor] = []
    weights: list[torch.Tensor] = []
    for k, (pts, w) in enumerate(items):
        if not _is_array(pts):
            pts = np.asarray(pts, dtype=float) if isinstance(pts, list | tuple) else pts
        t = io.tensor(pts, f"{name}[{k}]", min_ndim=1)
        if t.ndim == 1:
            t = t[:, None]
        if t.ndim != 2:
            raise ValueError(f"{name}[{k}] must have shape (n, d) or (n,), got "
                             f"{tuple(t.shape)}")
        if dim is not None and t.shape[1] != dim:
            raise ValueError(f"{name}[{k}] has points of dimension {t.shape[1]}, expected {dim} "
                             "(as in fit)")
        if points and t.shape[1] != points[0].shape[1]:
            raise ValueError(f"{name}[{k}] has points of dimension {t.shape[1]}, but {name}[0] "
                             f"has {points[0].shape[1]}")
        if w is None:
            wt = torch.full((t.shape[0],), 1.0 if uniform_weight is None else uniform_weight,
                            dtype=t.dtype, device=t.device)
            wt = wt / wt.sum() if normalize else wt
        else:
            wt = io.tensor(w if _is_array(w) else np.asarray(w, dtype=float),
                           f"weights of {name}[{k}]", ndim=1, shape=(t.shape[0],))
            wt = check_weights(wt, f"weights of {name}[{k}]", normalize=normalize)
        points.append(t)
        weights.append(wt)
    return Measures(points, weights, io, points[0].shape[1])


def size_batches(ms: Measures, batch_size: int):
    """Batches of indices of equal-size measures: ``[(indices, points (B, n, d), weights (B, n))]``.

    Sets of the same size are stacked so that slicing, sorting or EM run on
    all of them at once.
    """
    groups: dict[int, list[int]] = {}
    for i, p in enumerate(ms.points):
        groups.setdefault(p.shape[0], []).append(i)
    for idx in groups.values():
        for s in range(0, len(idx), batch_size):
            chunk = idx[s:s + batch_size]
            yield (chunk, torch.stack([ms.points[i] for i in chunk]),
                   torch.stack([ms.weights[i] for i in chunk]))
