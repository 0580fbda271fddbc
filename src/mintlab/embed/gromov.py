"""Linear partial Gromov–Wasserstein embedding (``lpgw``): K PGW solves instead of K^2.

Each metric measure space ``(C_k, p_k)`` is compared once with a reference
``(C_0, p_0)`` by :func:`~mintlab.transport.partial_gromov_wasserstein`. The
plan ``gamma_k`` (``n_0 x n_k``) gives, for every reference point ``i``, the
transported mass ``pt_i = (gamma_k 1)_i`` and the barycentric cost matrix

.. math:: \\tilde C_k = \\operatorname{diag}(1/pt)\\, \\gamma_k C_k \\gamma_k^\\top
          \\operatorname{diag}(1/pt)

(``0`` where nothing arrives). The embedding is ``(K_k = \\tilde C_k - C_0,
pt, |p_k|^2 - |pt|^2)`` and the LPGW distance between two spaces is

.. math:: \\sum_{ij} q_i q_j (K_a - K_b)_{ij}^2
          + \\lambda\\big(|pt_a|^2 + |pt_b|^2 - 2|q|^2\\big)
          + \\lambda\\big(|p_a|^2 - |pt_a|^2 + |p_b|^2 - |pt_b|^2\\big),
   \\qquad q = \\min(pt_a, pt_b).

Against the reference itself it is at most PGW (Jensen), and equal to it
when the plan is a map; between two spaces it is a metric (the paper's
theorem), computed without solving their PGW problem.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._validation import ArrayIO, check_array, check_choice, check_int, check_nonnegative
from ..transport.gromov import _fw, partial_gromov_barycenter
from ..typing import Array, ArrayLike, SeedLike
from ._measures import SetsLike
from .lot import _progress

__all__ = ["LinearPartialGromovWasserstein", "lpgw_distance"]


def _as_spaces(X, metric, name="X"):
    """A list of ``(C, p)`` float64 numpy pairs from point clouds or cost matrices."""
    if isinstance(X, np.ndarray | torch.Tensor) and np.ndim(X) == 3:
        X = list(X)
    if not isinstance(X, list | tuple) or len(X) == 0:
        raise ValueError(f"{name} must be a non-empty list of point clouds or cost matrices")
    out = []
    for k, item in enumerate(X):
        if isinstance(item, tuple):
            if len(item) != 2:
                raise ValueError(f"{name}[{k}] must be an array or a (values, masses) pair")
            vals, w = item
        else:
            vals, w = item, None
        try:
            v = np.asarray(vals.detach().cpu() if isinstance(vals, torch.Tensor) else vals,
                           dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"{name}[{k}] must be an array of numbers, got "
                            f"{type(vals).__name__}") from None
        if v.ndim != 2 or v.shape[0] == 0:
            raise ValueError(f"{name}[{k}] must be 2-dimensional and non-empty, got shape "
                             f"{v.shape}")
        if not np.isfinite(v).all():
            raise ValueError(f"{name}[{k}] must be finite")
        if metric == "precomputed":
            if v.shape[0] != v.shape[1]:
                raise ValueError(f"{name}[{k}] must be a square cost matrix with "
                                 f"metric='precomputed', got shape {v.shape}")
            C = v
        else:
            d = np.sqrt(np.maximum(((v[:, None] - v[None]) ** 2).sum(-1), 0.0))
            C = d * d if metric == "sqeuclidean" else d
        n = C.shape[0]
        if w is None:
            p = np.full(n, 1.0 / n)
        else:
            p = np.asarray(w.detach().cpu() if isinstance(w, torch.Tensor) else w,
                           dtype=np.float64)
            if p.shape != (n,) or (p < 0).any() or p.sum() <= 0 or not np.isfinite(p).all():
                raise ValueError(f"{name}[{k}] masses must be {n} non-negative finite numbers "
                                 "with a positive sum")
        out.append((C, p))
    return out


def _embed(C0, p0, C, p, lam, solver, n_masses=6):
    G, _, _ = _fw(C0, C, p0, p, lam, None, 1.0, solver, None, 500, 1e-9, n_masses)
    pt = G.sum(1)
    inv = np.where(pt > 0, 1.0 / np.where(pt > 0, pt, 1.0), 0.0)
    Ct = inv[:, None] * (G @ C @ G.T) * inv[None, :]
    K = np.where(np.outer(pt > 0, pt > 0), Ct - C0, 0.0)
    return K, pt, float(p.sum() ** 2 - pt.sum() ** 2)


def lpgw_distance(E: ArrayLike, F: ArrayLike | None = None, penalty: float = 1.0,
                  n_reference: int | None = None) -> Array:
    """LPGW distances between packed embeddings (rows of
    :meth:`LinearPartialGromovWasserstein.transform`): ``(len(E), len(F))``, or
    ``(len(E), len(E))`` when ``F`` is omitted."""
    lam = check_nonnegative(penalty, "penalty")
    io = ArrayIO(E, F)
    Ea = _embedding_rows(E, "E")
    Fa = Ea if F is None else _embedding_rows(F, "F")
    if Ea.shape[1] != Fa.shape[1]:
        raise ValueError(f"F must have {Ea.shape[1]} columns to match E, got {Fa.shape}")
    n0 = int(round((-1 + np.sqrt(1 + 4 * (Ea.shape[1] - 1))) / 2)) if n_reference is None \
        else check_int(n_reference, "n_reference", minimum=1)
    if n0 * n0 + n0 + 1 != Ea.shape[1]:
        raise ValueError(f"E has rows of width {Ea.shape[1]}, which are not packed LPGW "
                         f"embeddings (n_reference^2 + n_reference + 1 = "
                         f"{n0 * n0 + n0 + 1} for n_reference={n0})")

    def unpack(Z):
        return Z[:, :n0 * n0].reshape(-1, n0, n0), Z[:, n0 * n0:n0 * n0 + n0], Z[:, -1]

    Ka, pa, ma = unpack(Ea)
    Kb, pb, mb = unpack(Fa)
    out = np.empty((len(Ea), len(Fa)))
    for i in range(len(Ea)):
        q = np.minimum(pa[i][None, :], pb)  # (nF, n0)
        diff = (Ka[i][None] - Kb) ** 2  # (nF, n0, n0)
        trans = np.einsum("fi,fij,fj->f", q, diff, q)
        pen = lam * (pa[i].sum() ** 2 + pb.sum(1) ** 2 - 2 * q.sum(1) ** 2) + lam * (ma[i] + mb)
        out[i] = trans + pen
    return io.out(torch.as_tensor(np.maximum(out, 0.0), dtype=io.dtype, device=io.device))


def _embedding_rows(E, name):
    """Packed LPGW embeddings ``(K, D)`` as a finite float64 numpy array."""
    if isinstance(E, torch.Tensor):
        E = E.detach().cpu()
    if isinstance(E, str):
        raise TypeError(f"{name} must be an array of packed LPGW embeddings, got a string")
    return np.asarray(check_array(E, name, ndim=2).numpy(), dtype=np.float64)


def _io_of(X):
    """The array kind of a collection of spaces (torch if any of them is a tensor)."""
    if isinstance(X, np.ndarray | torch.Tensor):
        return ArrayIO(X)
    items = X if isinstance(X, list | tuple) else []
    return ArrayIO(*[(it[0] if isinstance(it, tuple) and it else it) for it in items])


class LinearPartialGromovWasserstein(TransformerMixin, BaseEstimator):
    """LPGW embedding of metric measure spaces against one reference (``lpgw``).

    Parameters
    ----------
    penalty : float, default 1.0
        ``lambda`` of the PGW problems (and of the embedding distance).
    reference : {"barycenter", "first"} or (C0, p0), default "barycenter"
        The reference space: a PGW barycenter of (up to 10 of) the training
        spaces with ``n_reference`` points, the first training space, or a
        given cost matrix with masses.
    n_reference : int, optional
        Size of the barycenter reference (default: the median training size).
    metric : {"euclidean", "sqeuclidean", "precomputed"}, default "euclidean"
        How a point cloud becomes a cost matrix; ``"precomputed"``: the inputs
        are cost matrices already.
    solver : {"fw1", "fw2"}
    n_masses : int, default 6
        Candidate masses of each PGW solve's default start
        (:func:`~mintlab.transport.partial_gromov_wasserstein`).
    seed : int, optional
        Seeds the barycenter's start.
    progress : bool, default False

    Attributes
    ----------
    reference_C_, reference_p_ : the fitted reference.

    Notes
    -----
    ``transform`` returns one row per space: ``K`` flattened (``n0^2``), the
    transported masses ``pt`` (``n0``) and ``|p|^2 - |pt|^2``; use
    :meth:`pairwise_distances` (or :func:`lpgw_distance`) for LPGW distances.
    """

    def __init__(self, penalty: float = 1.0, reference: Any = "barycenter",
                 n_reference: int | None = None, metric: str = "euclidean", solver: str = "fw1",
                 n_masses: int = 6, seed: SeedLike = None, progress: bool = False) -> None:
        self.penalty = penalty
        self.reference = reference
        self.n_reference = n_reference
        self.metric = metric
        self.solver = solver
        self.n_masses = n_masses
        self.seed = seed
        self.progress = progress

    def _check_params(self):
        check_nonnegative(self.penalty, "penalty")
        check_choice(self.metric, "metric", ("euclidean", "sqeuclidean", "precomputed"))
        check_choice(self.solver, "solver", ("fw1", "fw2"))
        check_int(self.n_masses, "n_masses", minimum=1)

    def fit(self, X: SetsLike, y: Any = None) -> Self:
        self._check_params()
        spaces = _as_spaces(X, self.metric)
        ref = self.reference
        if isinstance(ref, tuple):
            (C0, p0), = _as_spaces([ref], "precomputed", name="reference")
        elif ref == "first":
            C0, p0 = spaces[0]
        elif ref == "barycenter":
            sizes = [len(p) for _, p in spaces]
            n0 = int(np.median(sizes)) if self.n_reference is None else check_int(
                self.n_reference, "n_reference", minimum=1)
            sub = spaces[:10]
            bary = partial_gromov_barycenter([C for C, _ in sub], [p for _, p in sub],
                                             n_points=n0, p=np.full(n0, np.mean(
                                                 [p.sum() for _, p in sub]) / n0),
                                             penalty=self.penalty, max_iter=10,
                                             solver=self.solver, seed=self.seed,
                                             n_masses=int(self.n_masses))
            C0, p0 = np.asarray(bary.C), np.asarray(bary.p)
        else:
            raise ValueError("reference must be 'barycenter', 'first' or a (C0, p0) pair, got "
                             f"{ref!r}")
        self.reference_C_, self.reference_p_ = C0, p0
        return self

    def transform(self, X: SetsLike) -> Array:
        check_is_fitted(self, "reference_C_")
        self._check_params()
        spaces = _as_spaces(X, self.metric)
        io = _io_of(X)
        lam = float(self.penalty)
        rows = []
        for C, p in _progress(spaces, self.progress, "LPGW"):
            K, pt, mc = _embed(self.reference_C_, self.reference_p_, C, p, lam, self.solver,
                               int(self.n_masses))
            rows.append(np.concatenate([K.ravel(), pt, [mc]]))
        return io.out(torch.as_tensor(np.stack(rows), dtype=io.dtype, device=io.device))

    def pairwise_distances(self, E: ArrayLike, F: ArrayLike | None = None) -> Array:
        """LPGW distance matrix between embeddings from :meth:`transform`."""
        check_is_fitted(self, "reference_C_")
        return lpgw_distance(E, F, self.penalty, n_reference=len(self.reference_p_))
