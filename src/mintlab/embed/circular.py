"""Linear circular OT (``lcot``) and linear spherical sliced OT (``lssot``) embeddings.

LCOT (Martin et al. 2024) embeds a measure on the circle ``R/Z`` by its
optimal displacement from the uniform measure,

.. math:: \\hat\\mu(t) = F_\\mu^{-1}\\big(t - \\textstyle\\int z\\,d\\mu + \\tfrac12\\big) - t
   \\pmod 1,

sampled on the grid ``t_k = k / N``. LSSOT (Liu et al. 2025) slices a
measure on ``S^{d-1}`` into great circles and embeds every slice with LCOT.
The embedding coordinates are centred to ``[-1/2, 1/2)`` and scaled so that
the Euclidean distance between embeddings equals LCOT (LSSOT) whenever no
coordinate differs by more than half a turn; :meth:`pairwise_distances`
uses the geodesic difference and is exact in all cases.
"""

from __future__ import annotations

import math
from typing import Any, Self

import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._random import make_generator
from .._validation import ArrayIO, check_int
from ..transport.line import _circle_gap, _lcot_embed, _lcot_parts
from ..transport.slicers import _check_sphere, _circle_coordinates, random_frames
from ..typing import Array, ArrayLike
from ._checks import check_seed
from ._measures import SetsLike, as_measures
from .lot import _progress

__all__ = ["LinearCircularOT", "LinearSphericalSlicedOT"]


def _lcot_rows(values, weights, N):
    """LCOT embeddings on the grid ``k / N`` of the rows of ``values`` (..., n): (..., N)."""
    u = torch.remainder(values, 1.0)
    us, cu, mean = _lcot_parts(u, weights)
    grid = (torch.arange(N, dtype=u.dtype, device=u.device) / N).expand(*u.shape[:-1], N)
    return _lcot_embed(grid, us, cu, mean)


def _centre(e):
    return torch.remainder(e + 0.5, 1.0) - 0.5


def _geodesic_pairwise(E, F, scale):
    """sqrt(sum of squared geodesic coordinate gaps), coordinates given scaled by ``scale``."""
    d = _circle_gap((E[:, None] - F[None]) / scale)
    return (d * d).sum(-1).sqrt() * scale


class LinearCircularOT(TransformerMixin, BaseEstimator):
    """LCOT embedding of measures on the circle (values in [0, 1), taken modulo 1).

    Reference: the uniform measure on the circle (as in the paper and POT).

    Parameters
    ----------
    n_references : int, default 100
        Grid size ``N``: the embedding has ``N`` coordinates.
    progress : bool, default False
        Show a progress bar over the measures.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).random((4, 30))   # 4 measures of 30 points
    >>> lcot = LinearCircularOT(n_references=50).fit(X)
    >>> E = lcot.transform(X)
    >>> E.shape, lcot.pairwise_distances(E).shape
    ((4, 50), (4, 4))
    """

    def __init__(self, n_references: int = 100, progress: bool = False) -> None:
        self.n_references = n_references
        self.progress = progress

    def fit(self, X: SetsLike, y: Any = None) -> Self:
        """Check the measures (the reference is fixed: nothing is learned)."""
        ms = as_measures(X)
        if ms.dim != 1:
            raise ValueError(f"X must hold points on the circle (one value each), got points of "
                             f"dimension {ms.dim}")
        self.n_references_ = check_int(self.n_references, "n_references", minimum=1)
        return self

    def transform(self, X: SetsLike) -> Array:
        """Embed measures: array of shape ``(K, N)``, coordinates ``mu_hat / sqrt(N)``."""
        check_is_fitted(self, "n_references_")
        ms = as_measures(X, dim=1)
        N = self.n_references_
        rows = [_lcot_rows(p[:, 0], w, N) for p, w in
                _progress(zip(ms.points, ms.weights, strict=True), self.progress, "LCOT")]
        return ms.io.out(_centre(torch.stack(rows)) / math.sqrt(N))

    def pairwise_distances(self, E: ArrayLike, F: ArrayLike | None = None) -> Array:
        """LCOT_2 between embeddings (rows of ``E`` and ``F``), exact on the grid."""
        check_is_fitted(self, "n_references_")
        io = ArrayIO(E, F)
        Et = io.tensor(E, "E", ndim=2, shape=(None, self.n_references_))
        Ft = Et if F is None else io.tensor(F, "F", ndim=2, shape=(None, self.n_references_))
        return io.out(_geodesic_pairwise(Et, Ft, 1.0 / math.sqrt(self.n_references_)))


class LinearSphericalSlicedOT(TransformerMixin, BaseEstimator):
    """LSSOT embedding of measures on the sphere ``S^{d-1}`` (``lssot``).

    Every measure is projected on ``L`` great circles (random orthonormal
    frames drawn in :meth:`fit`) and each slice is embedded with LCOT on an
    ``N``-point grid: ``L * N`` coordinates, scaled so that the Euclidean
    distance approximates (and :meth:`pairwise_distances` equals)

    .. math:: LSSOT_2(\\mu, \\nu) = \\Big(\\frac1L \\sum_l LCOT_2^2(P^{U_l}_\\#\\mu,
       P^{U_l}_\\#\\nu)\\Big)^{1/2}.

    Parameters
    ----------
    n_projections : int, default 50
    n_references : int, default 100
    seed : int or None
    progress : bool, default False

    Attributes
    ----------
    frames_ : ndarray of shape (L, d, 2)
    dim_ : int

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> sets = [rng.normal(size=(40, 3)) + c for c in ([0, 0, 2.0], [2.0, 0, 0])]
    >>> sets = [s / np.linalg.norm(s, axis=1, keepdims=True) for s in sets]
    >>> E = LinearSphericalSlicedOT(n_projections=8, n_references=20, seed=0).fit_transform(sets)
    >>> E.shape
    (2, 160)
    """

    def __init__(self, n_projections: int = 50, n_references: int = 100, seed: int | None = None,
                 progress: bool = False) -> None:
        self.n_projections = n_projections
        self.n_references = n_references
        self.seed = seed
        self.progress = progress

    def fit(self, X: SetsLike, y: Any = None) -> Self:
        """Draw the great-circle frames for the dimension of ``X``."""
        ms = as_measures(X)
        for k, p in enumerate(ms.points):
            _check_sphere(p, f"X[{k}]")
        self.dim_ = ms.dim
        self.n_references_ = check_int(self.n_references, "n_references", minimum=1)
        check_int(self.n_projections, "n_projections", minimum=1)
        seed = check_seed(self.seed, numpy_ok=False, torch_ok=False)
        seed = seed if seed is None else int(seed)
        self.frames_ = random_frames(ms.dim, self.n_projections, 2,
                                     make_generator(seed)).numpy()
        return self

    def transform(self, X: SetsLike) -> Array:
        """Embed measures: array of shape ``(K, L * N)``."""
        check_is_fitted(self, "frames_")
        ms = as_measures(X, dim=self.dim_)
        U = torch.as_tensor(self.frames_, dtype=ms.io.dtype, device=ms.io.device)
        L, N = U.shape[0], self.n_references_
        rows = []
        for k, (p, w) in enumerate(_progress(zip(ms.points, ms.weights, strict=True),
                                             self.progress, "LSSOT")):
            _check_sphere(p, f"X[{k}]")
            coords = _circle_coordinates(p, U)  # (L, n)
            rows.append(_lcot_rows(coords, w.expand(L, w.shape[0]), N).reshape(-1))
        return ms.io.out(_centre(torch.stack(rows)) / math.sqrt(L * N))

    def pairwise_distances(self, E: ArrayLike, F: ArrayLike | None = None) -> Array:
        """LSSOT_2 between embeddings (rows of ``E`` and ``F``), exact on the grid."""
        check_is_fitted(self, "frames_")
        io = ArrayIO(E, F)
        D = self.frames_.shape[0] * self.n_references_
        Et = io.tensor(E, "E", ndim=2, shape=(None, D))
        Ft = Et if F is None else io.tensor(F, "F", ndim=2, shape=(None, D))
        return io.out(_geodesic_pairwise(Et, Ft, 1.0 / math.sqrt(D)))
