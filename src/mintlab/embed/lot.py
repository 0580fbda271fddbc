"""Linear optimal transport embeddings: LOT and linear optimal partial transport (``lopt``).

Fix a reference measure ``sigma = sum_k w_k delta_{x_k}``. Each measure
``mu`` is transported from ``sigma`` once and summarised by the barycentric
projection of the plan, ``T_mu(x_k) = sum_j gamma_kj y_j / w_k``. Comparing
the maps instead of solving transport between every pair turns ``K^2``
transport problems into ``K``:

.. math:: W_2(\\mu, \\nu) \\approx \\|T_\\mu - T_\\nu\\|_{L^2(\\sigma)}

(exact in 1D, and exact when one of the two measures is the reference).
``lopt`` (Bai et al. 2023) does the same with *partial* transport, for
measures of different masses: a point of the reference may be left
untransported, and the embedding also records how much mass each reference
point carries and how much of the target was destroyed.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import ot
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.cluster import KMeans
from sklearn.utils.validation import check_is_fitted

from .._validation import ArrayIO, check_choice, check_int, check_nonnegative, check_positive
from ..transport.exact import partial_wasserstein_lp
from ..transport.plans import expected_sliced_plan
from ..typing import Array, ArrayLike
from ._measures import SetsLike, as_measures

__all__ = ["LinearOT", "LinearOptimalPartialTransport"]


def _progress(it, progress: bool, desc: str):
    if not progress:
        return it
    from tqdm.auto import tqdm

    return tqdm(it, desc=desc, leave=False)


def _int_seed(seed) -> int | None:
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"seed must be an int or None for this estimator, got "
                        f"{type(seed).__name__}")
    if int(seed) < 0:
        raise ValueError(f"seed must be a non-negative int, got {int(seed)}")
    return int(seed)


class _ReferenceMixin:
    """A reference measure: given, or k-means of the pooled training points."""

    # hyper-parameters of the estimators that use the mixin
    reference: Any
    n_references: Any
    seed: Any

    def _fit_reference(self, ms, total_mass: float, *, keep_given_mass: bool = False):
        if self.reference is not None:
            ref = as_measures([self.reference], name="reference", normalize=False, dim=ms.dim,
                              uniform_weight=None if keep_given_mass else 1.0)
            pts = ref.points[0].detach().cpu().numpy().astype(np.float64)
            w = ref.weights[0].detach().cpu().numpy().astype(np.float64)
            if keep_given_mass and not isinstance(self.reference, tuple):
                return pts, np.full(len(pts), total_mass / len(pts))
            return pts, (w if keep_given_mass else w / w.sum() * total_mass)
        k = check_int(self.n_references, "n_references", minimum=1)
        pooled = np.concatenate([p.detach().cpu().numpy() for p in ms.points]).astype(np.float64)
        pw = np.concatenate([(w / w.sum()).detach().cpu().numpy() for w in ms.weights])
        k = min(k, len(np.unique(pooled, axis=0)))
        km = KMeans(n_clusters=k, n_init=1, random_state=_int_seed(self.seed))
        km.fit(pooled, sample_weight=pw)
        w = np.bincount(km.labels_, weights=pw, minlength=k)
        keep = w > 0
        return km.cluster_centers_[keep], w[keep] / w[keep].sum() * total_mass


class LinearOT(_ReferenceMixin, TransformerMixin, BaseEstimator):
    """Linear optimal transport (LOT) embedding of probability measures.

    .. math:: \\phi(\\mu) = \\big((T_\\mu(x_k) - x_k)\\sqrt{w_k}\\big)_{k=1}^r
       \\in \\mathbb{R}^{r d}, \\qquad \\|\\phi(\\mu) - \\phi(\\nu)\\| \\approx W_2(\\mu, \\nu)

    Parameters
    ----------
    n_references : int, default 64
        Support size ``r`` of the reference when it is fitted (k-means of the
        pooled training points, weighted by each measure's weights).
    reference : array (r, d) or (points, weights), optional
        A fixed reference measure instead.
    method : {"exact", "sliced"}, default "exact"
        ``"exact"``: the optimal plan from the reference (POT's network
        simplex). ``"sliced"``: the expected sliced plan (``est-plans``),
        cheaper for large measures.
    n_projections : int, default 64
        Slices for ``method="sliced"``.
    seed : int or None
        Seeds k-means and the slices.
    progress : bool, default False
        Show a progress bar over the measures.

    Attributes
    ----------
    reference_points_ : ndarray of shape (r, d)
    reference_weights_ : ndarray of shape (r,)
    dim_ : int

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> sets = [rng.normal(loc=c, size=(40, 2)) for c in (0.0, 1.0, 3.0)]
    >>> E = LinearOT(n_references=16, seed=0).fit_transform(sets)
    >>> E.shape
    (3, 32)
    """

    def __init__(self, n_references: int = 64, reference: Any = None, method: str = "exact",
                 n_projections: int = 64, seed: int | None = None,
                 progress: bool = False) -> None:
        self.n_references = n_references
        self.reference = reference
        self.method = method
        self.n_projections = n_projections
        self.seed = seed
        self.progress = progress

    def fit(self, X: SetsLike, y: Any = None) -> Self:
        """Fit the reference measure on the measures ``X``."""
        check_choice(self.method, "method", ("exact", "sliced"))
        check_int(self.n_projections, "n_projections", minimum=1)
        ms = as_measures(X)
        self.reference_points_, self.reference_weights_ = self._fit_reference(ms, 1.0)
        self.dim_ = ms.dim
        return self

    def _plan(self, ref_pts, ref_w, pts, w):
        if self.method == "exact":
            return ot.emd(ref_w, w, ot.dist(ref_pts, pts), numItermax=1_000_000)
        return expected_sliced_plan(ref_pts, pts, ref_w, w, n_projections=self.n_projections,
                                    seed=self.seed).plan

    def _maps(self, X):
        check_is_fitted(self, "reference_points_")
        ms = as_measures(X, dim=self.dim_)
        R, wr = self.reference_points_, self.reference_weights_
        maps = []
        for pts, w in _progress(zip(ms.points, ms.weights, strict=True), self.progress, "LOT"):
            Y = pts.detach().cpu().numpy().astype(np.float64)
            G = self._plan(R, wr, Y, w.detach().cpu().numpy().astype(np.float64))
            maps.append(G @ Y / wr[:, None])
        return ms, np.stack(maps)

    def transform(self, X: SetsLike) -> Array:
        """Embed measures: array of shape ``(K, r * d)``."""
        ms, T = self._maps(X)
        E = (T - self.reference_points_) * np.sqrt(self.reference_weights_)[:, None]
        return ms.io.out(torch.as_tensor(E.reshape(len(ms), -1), dtype=ms.io.dtype,
                                         device=ms.io.device))

    def inverse_transform(self, E: ArrayLike) -> list[tuple[Array, Array]]:
        """Measures back from embeddings: a list of ``(points (r, d), weights (r,))``.

        Any point of the embedding space (e.g. an average of embeddings)
        gives a measure supported on the displaced reference points.
        """
        check_is_fitted(self, "reference_points_")
        io = ArrayIO(E)
        r, d = self.reference_points_.shape
        Et = io.tensor(E, "E", ndim=2, shape=(None, r * d))
        R = torch.as_tensor(self.reference_points_, dtype=Et.dtype, device=Et.device)
        w = torch.as_tensor(self.reference_weights_, dtype=Et.dtype, device=Et.device)
        pts = R + Et.reshape(-1, r, d) / w.sqrt()[:, None]
        return [(io.out(p), io.out(w.clone())) for p in pts]


class LinearOptimalPartialTransport(_ReferenceMixin, TransformerMixin, BaseEstimator):
    """Linear optimal partial transport (``lopt``) embedding of measures of any mass.

    Each measure ``nu`` is partially transported from the reference with
    penalty ``lambda`` (exact LP). The embedding holds, for every reference
    point, its displacement ``U_k = T(x_k) - x_k`` and the mass it sends
    ``p_k``, plus the destroyed mass ``M`` of ``nu``:
    ``[U (r*d), p (r), M (1)]``. The distance between two embeddings,

    .. math:: \\sum_k \\min(p_k, p'_k)\\min(\\|U_k - U'_k\\|^2, 2\\lambda)
       + \\lambda\\Big(\\sum_k |p_k - p'_k| + M + M'\\Big),

    approximates the partial transport cost ``OPT_lambda(nu, nu')`` (equal to
    it when ``nu`` is the reference and the plan is a partial matching); see
    :meth:`pairwise_distances`.

    Parameters
    ----------
    n_references : int, default 64
    reference : array (r, d) or (points, weights), optional
        A fixed reference. Weights given with it are used as they are; a
        reference given as points alone gets the mean training mass, spread
        uniformly.
    penalty : float, default 1.0
        ``lambda``: price of each destroyed or created unit of mass.
    point_mass : float, optional
        Mass of each point of a measure given without weights. Default:
        ``1 / n`` with ``n`` the mean number of points per training measure,
        so typical measures have mass about one (weights given in ``X``
        are used as they are, not normalised).
    seed : int or None
    progress : bool, default False

    Attributes
    ----------
    reference_points_, reference_weights_ : ndarrays
        The reference (its total mass is the mean training mass).
    point_mass_ : float
    dim_ : int

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> sets = [rng.normal(size=(30, 2)), np.vstack([rng.normal(size=(30, 2)), [[9.0, 9.0]]])]
    >>> lopt = LinearOptimalPartialTransport(n_references=8, penalty=2.0, seed=0)
    >>> E = lopt.fit_transform(sets)
    >>> E.shape, lopt.pairwise_distances(E).shape
    ((2, 25), (2, 2))
    """

    def __init__(self, n_references: int = 64, reference: Any = None, penalty: float = 1.0,
                 point_mass: float | None = None, seed: int | None = None,
                 progress: bool = False) -> None:
        self.n_references = n_references
        self.reference = reference
        self.penalty = penalty
        self.point_mass = point_mass
        self.seed = seed
        self.progress = progress

    def fit(self, X: SetsLike, y: Any = None) -> Self:
        """Fit the reference measure (and the default point mass) on ``X``."""
        check_positive(self.penalty, "penalty")
        probe = as_measures(X, normalize=False)
        mean_n = float(np.mean([len(p) for p in probe.points]))
        self.point_mass_ = (1.0 / mean_n if self.point_mass is None
                            else check_positive(self.point_mass, "point_mass"))
        ms = as_measures(X, normalize=False, uniform_weight=self.point_mass_)
        mass = float(np.mean([float(w.sum()) for w in ms.weights]))
        self.reference_points_, self.reference_weights_ = self._fit_reference(
            ms, mass, keep_given_mass=True)
        self.dim_ = ms.dim
        return self

    def transform(self, X: SetsLike) -> Array:
        """Embed measures: array of shape ``(K, r * d + r + 1)``."""
        check_is_fitted(self, "reference_points_")
        lam = check_nonnegative(self.penalty, "penalty")
        ms = as_measures(X, normalize=False, dim=self.dim_, uniform_weight=self.point_mass_)
        R, wr = self.reference_points_, self.reference_weights_
        rows = []
        for pts, w in _progress(zip(ms.points, ms.weights, strict=True), self.progress, "LOPT"):
            Y = pts.detach().cpu().numpy().astype(np.float64)
            wy = w.detach().cpu().numpy().astype(np.float64)
            G = partial_wasserstein_lp(wr, wy, ot.dist(R, Y), lam).plan
            p = G.sum(1)
            moved = p > 1e-12 * max(1.0, wr.max())
            U = np.zeros_like(R)
            U[moved] = G[moved] @ Y / p[moved, None] - R[moved]
            rows.append(np.concatenate([U.ravel(), p, [wy.sum() - p.sum()]]))
        return ms.io.out(torch.as_tensor(np.stack(rows), dtype=ms.io.dtype,
                                         device=ms.io.device))

    def _split(self, E, name):
        r, d = self.reference_points_.shape
        io = ArrayIO(E)
        Et = io.tensor(E, name, ndim=2, shape=(None, r * d + r + 1))
        return io, Et[:, : r * d].reshape(-1, r, d), Et[:, r * d: r * d + r], Et[:, -1]

    def pairwise_distances(self, E: ArrayLike, F: ArrayLike | None = None) -> Array:
        """LOPT costs between the rows of ``E`` (and ``F``): shape ``(K, K')``.

        Approximates ``OPT_lambda`` (a cost, no root taken).
        """
        check_is_fitted(self, "reference_points_")
        lam = float(self.penalty)
        io, U1, p1, M1 = self._split(E, "E")
        _, U2, p2, M2 = self._split(E if F is None else F, "F")
        U2, p2, M2 = (t.to(device=U1.device, dtype=U1.dtype) for t in (U2, p2, M2))
        sq = ((U1[:, None] - U2[None]) ** 2).sum(-1).clamp(max=2 * lam)  # (K, K', r)
        pm = torch.minimum(p1[:, None], p2[None])
        cost = (pm * sq).sum(-1) + lam * ((p1[:, None] - p2[None]).abs().sum(-1)
                                          + M1[:, None] + M2[None])
        return io.out(cost)
