"""Radon-CDT features and the nearest-subspace classifier (``rcdt-ns``).

Shifts, scalings and other deformations of a template image become (close
to) linear in Radon-CDT space, so each class's transforms span a subspace.
The classifier (Shifat-E-Rabbi et al. 2021) keeps, per class, the leading
right singular vectors of its training transforms (enough to hold 99% of
the singular-value mass; the same count for every class), optionally
enriched with known deformation directions (translations:
:meth:`RadonCDT.translation_basis`), and predicts the class whose subspace
is nearest. Nothing is tuned.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.utils.multiclass import unique_labels
from sklearn.utils.validation import check_is_fitted, validate_data

from .._validation import check_array, check_int, check_nonnegative, check_positive
from ..transport.signals import radon_cdt
from ..typing import ArrayLike

__all__ = ["RadonCDT", "NearestSubspaceClassifier"]


class RadonCDT(TransformerMixin, BaseEstimator):
    """Radon cumulative distribution transform of images (``rcdt-ns``).

    Parameters
    ----------
    angles : array of shape (A,), optional
        Degrees; default ``0, 4, ..., 176``.
    n_levels : int, optional
        Quantile levels per angle (default: the larger image side).
    epsilon : float, default 1e-8
    image_shape : (H, W), optional
        Needed when ``X`` is given flattened, shape ``(n, H * W)``.
    batch_size : int, default 256
        Images transformed at once (bounds memory on large sets).
    progress : bool, default False
        Show a progress bar over the batches.

    ``X`` is ``(n, H, W)`` or flattened ``(n, H * W)``; the output is
    ``(n, A * m)``.

    Examples
    --------
    >>> import numpy as np
    >>> imgs = np.random.default_rng(0).random((3, 8, 8))
    >>> RadonCDT(angles=[0, 45, 90]).fit_transform(imgs).shape
    (3, 24)
    """

    def __init__(self, angles: ArrayLike | None = None, n_levels: int | None = None,
                 epsilon: float = 1e-8, image_shape: tuple[int, int] | None = None,
                 batch_size: int = 256, progress: bool = False) -> None:
        self.angles = angles
        self.n_levels = n_levels
        self.epsilon = epsilon
        self.image_shape = image_shape
        self.batch_size = batch_size
        self.progress = progress

    def _images(self, X):
        if hasattr(X, "detach"):
            X = X.detach().cpu()
        t = check_array(X, "X", ndim=(2, 3))
        if 0 in t.shape:
            raise ValueError(f"X must hold at least one non-empty image, got shape "
                             f"{tuple(t.shape)}")
        X = np.asarray(t.numpy(), dtype=np.float64)
        if (X < 0).any():
            raise ValueError(f"X must hold non-negative intensities, got minimum {X.min():.4g}")
        if X.ndim == 3:
            return X
        if X.ndim == 2 and self.image_shape is not None:
            h, w = self.image_shape
            if X.shape[1] != h * w:
                raise ValueError(f"X must have {h * w} columns for image_shape {(h, w)}, "
                                 f"got {X.shape[1]}")
            return X.reshape(-1, h, w)
        raise ValueError(f"X must have shape (n, H, W), or (n, H*W) with image_shape set; got "
                         f"{X.shape}")

    def fit(self, X: ArrayLike, y: Any = None) -> Self:
        """Record the image shape and the angles (nothing is learned)."""
        imgs = self._images(X)
        if self.angles is None:
            angles = np.arange(0.0, 180.0, 4.0)
        else:
            if isinstance(self.angles, str) or np.isscalar(self.angles):
                raise TypeError(f"angles must be a 1D array of degrees, got {self.angles!r}")
            angles = check_array(self.angles, "angles", ndim=1).numpy().astype(np.float64)
        check_nonnegative(self.epsilon, "epsilon")
        check_int(self.batch_size, "batch_size", minimum=1)
        n_levels = (max(imgs.shape[1:]) if self.n_levels is None
                    else check_int(self.n_levels, "n_levels", minimum=1))
        self.image_shape_ = imgs.shape[1:]
        self.angles_ = angles
        self.n_levels_ = n_levels
        return self

    def transform(self, X: ArrayLike) -> np.ndarray:
        """Transforms, flattened: ``(n, A * m)``."""
        check_is_fitted(self, "image_shape_")
        imgs = self._images(X)
        if imgs.shape[1:] != self.image_shape_:
            raise ValueError(f"images must have shape {self.image_shape_} as in fit, got "
                             f"{imgs.shape[1:]}")
        step = check_int(self.batch_size, "batch_size", minimum=1)
        starts = range(0, len(imgs), step)
        if self.progress:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="Radon-CDT", leave=False)
        parts = [radon_cdt(imgs[i:i + step], self.angles_, self.n_levels_, self.epsilon)
                 for i in starts]
        out = (np.concatenate(parts) if parts
               else np.zeros((0, len(self.angles_), self.n_levels_)))
        return out.reshape(out.shape[0], -1)

    def translation_basis(self) -> np.ndarray:
        """The two directions a translation moves a transform along: ``(2, A * m)``.

        Translating by ``(u, v)`` adds ``u cos(theta) + v sin(theta)`` at angle
        ``theta``, so the span of these rows is the translation subspace.
        """
        check_is_fitted(self, "image_shape_")
        rad = np.deg2rad(self.angles_)
        m = self.n_levels_
        return np.stack([np.repeat(np.cos(rad), m), np.repeat(np.sin(rad), m)])


def _validated(est, X, y="no_validation", **kw):
    """scikit-learn's ``validate_data``, with messages that name the argument."""
    if hasattr(X, "detach"):
        X = X.detach().cpu().numpy()
    try:
        return validate_data(est, X, y, **kw)
    except (ValueError, TypeError) as err:
        msg = str(err)
        if "inconsistent numbers of samples" in msg:
            raise ValueError(f"y must have one label per row of X: {msg}") from None
        if msg.startswith(("X", "y")) or "Input X" in msg or "Input y" in msg:
            raise
        raise type(err)(f"X: {msg}") from None


class NearestSubspaceClassifier(ClassifierMixin, BaseEstimator):
    """Nearest-subspace classifier (``rcdt-ns``): the class whose span fits best.

    Parameters
    ----------
    energy : float, default 0.99
        Keep the fewest singular vectors whose cumulative singular values
        reach this fraction (per class; every class then keeps the largest
        of these counts, as in the paper).
    extra_basis : array of shape (k, n_features), optional
        Known deformation directions added to every class subspace (e.g.
        :meth:`RadonCDT.translation_basis`).

    Attributes
    ----------
    classes_ : ndarray
    bases_ : list of ndarrays (r_c, n_features), orthonormal rows
    n_components_ : int

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> A, B = rng.normal(size=(2, 10)), rng.normal(size=(2, 10))
    >>> X = np.r_[rng.normal(size=(20, 2)) @ A, rng.normal(size=(20, 2)) @ B]
    >>> y = np.r_[np.zeros(20), np.ones(20)]
    >>> NearestSubspaceClassifier().fit(X, y).score(X, y)
    1.0
    """

    def __init__(self, energy: float = 0.99, extra_basis: ArrayLike | None = None) -> None:
        self.energy = energy
        self.extra_basis = extra_basis

    def fit(self, X: ArrayLike, y: ArrayLike) -> Self:
        """One subspace per class from the training rows of ``X``."""
        if isinstance(y, str):
            raise TypeError("y must be an array with one label per row of X, got a string")
        Xa, ya = _validated(self, X, y)
        return self._fit(Xa, ya)

    def _fit(self, X: np.ndarray, y: np.ndarray) -> Self:
        energy = check_positive(self.energy, "energy")
        if not 0 < energy <= 1:
            raise ValueError(f"energy must be in (0, 1], got {self.energy}")
        self.classes_ = unique_labels(y)
        spectra, counts = [], []
        for c in self.classes_:
            _, s, vt = np.linalg.svd(X[y == c], full_matrices=False)
            cum = np.cumsum(s)
            k = 1 if cum[-1] <= 0 else int(np.searchsorted(cum / cum[-1], self.energy) + 1)
            spectra.append(vt)
            counts.append(min(k, len(s)))
        self.n_components_ = max(counts)
        extra = None
        if self.extra_basis is not None:
            eb = self.extra_basis
            eb = eb.detach().cpu() if hasattr(eb, "detach") else eb
            if isinstance(eb, str):
                raise TypeError(f"extra_basis must be an array (k, n_features), got {eb!r}")
            extra = check_array(eb, "extra_basis", ndim=2).numpy().astype(np.float64)
            if extra.ndim != 2 or extra.shape[1] != X.shape[1]:
                raise ValueError(f"extra_basis must have shape (k, {X.shape[1]}), got "
                                 f"{extra.shape}")
        self.bases_ = []
        for vt in spectra:
            B = vt[: self.n_components_]
            if extra is not None:
                B = np.vstack([B, extra])
            q, r = np.linalg.qr(B.T)
            keep = np.abs(np.diag(r)) > 1e-10 * max(1.0, np.abs(r).max())
            self.bases_.append(q[:, keep].T)
        return self

    def _distances(self, X):
        check_is_fitted(self, "bases_")
        X = _validated(self, X, reset=False)
        return np.stack([np.linalg.norm(X - (X @ B.T) @ B, axis=1) for B in self.bases_], 1)

    def decision_function(self, X: ArrayLike) -> np.ndarray:
        """Minus the distance of each row to each class subspace, ``(n, n_classes)``.

        With two classes, sklearn's convention: one score per row, positive
        for ``classes_[1]`` (the distance to class 0 minus that to class 1).
        """
        D = self._distances(X)
        return D[:, 0] - D[:, 1] if len(self.classes_) == 2 else -D

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The class of the nearest subspace."""
        nearest = np.argmin(self._distances(X), axis=1)
        return self.classes_[nearest]
