"""Sliced Wasserstein embedding (SWE) of sets, and the pooling baselines of ``slosh``.

SWE (used by SLOSH, Lu et al. 2024): project a set on ``L`` directions and
sample each projection's quantile function at ``M`` levels
``t_k = (k + 1/2) / M``. The vector of quantiles, divided by
``sqrt(L M)``, is a fixed-length embedding whose Euclidean distance is the
Monte Carlo sliced Wasserstein-2 distance:

.. math:: \\|\\phi(\\mu) - \\phi(\\nu)\\|^2 = \\frac1L \\sum_l \\frac1M \\sum_k
   \\big(F^{-1}_{\\theta_l\\#\\mu}(t_k) - F^{-1}_{\\theta_l\\#\\nu}(t_k)\\big)^2

(exactly ``SW_2^2`` with those directions when both sets have ``M`` points
with uniform weights). Subtracting a reference's quantiles (the per-slice
Monge map from the reference) changes no distance.
"""

from __future__ import annotations

import math
from typing import Any, Self

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._random import make_generator
from .._validation import check_choice, check_int, check_positive
from ..transport.slicers import orthonormal_directions, random_directions
from ..typing import Array
from ._checks import check_bool, check_seed
from ._measures import SetsLike, as_measures, size_batches
from .lot import _progress

__all__ = ["SlicedWassersteinEmbedding", "PoolingEmbedding", "FSPoolEmbedding"]

_MAX_REFERENCE_POINTS = 50_000


def _slice_quantiles(P, W, levels):
    """Quantiles at ``levels`` of weighted 1D sets: P, W of shape (..., L, n) -> (..., L, M).

    ``W=None`` means uniform weights: the quantile index is then known in advance.
    """
    n = P.shape[-1]
    if W is None:
        ps = torch.sort(P, dim=-1).values
        idx = (torch.ceil(levels * n) - 1).clamp(0, n - 1).long()
        return ps[..., idx]
    ps, order = torch.sort(P, dim=-1)
    cw = torch.cumsum(torch.gather(W, -1, order), -1)
    cw = cw / cw[..., -1:]
    idx = torch.searchsorted(cw.contiguous(),
                             levels.expand(*cw.shape[:-1], levels.shape[0]).contiguous())
    return torch.gather(ps, -1, idx.clamp_(max=P.shape[-1] - 1))


class SlicedWassersteinEmbedding(TransformerMixin, BaseEstimator):
    """Sliced Wasserstein embedding of sets (``slosh``): distances equal sliced W2.

    Parameters
    ----------
    n_projections : int, default 64
        Slices ``L``.
    n_quantiles : int, default 64
        Quantile levels ``M`` per slice. With sets of exactly ``M`` points
        and uniform weights the embedding distance is exactly ``SW_2``.
    orthonormal : bool, default True
        Draw the directions in orthonormal blocks (lower variance).
    subtract_reference : bool, default True
        Subtract the quantiles of the pooled training points (a reference
        measure; a weighted sample of 50,000 of them when there are more),
        so an embedding is a per-slice displacement field.
    seed : int or None
    batch_size : int, default 1024
        Equal-size, unweighted sets are embedded together in batches.
    progress : bool, default False

    Attributes
    ----------
    projections_ : ndarray of shape (d, L)
    reference_quantiles_ : ndarray of shape (L, M)

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> swe = SlicedWassersteinEmbedding(n_projections=8, n_quantiles=16, seed=0)
    >>> swe.fit_transform(rng.normal(size=(5, 16, 3))).shape
    (5, 128)
    """

    def __init__(self, n_projections: int = 64, n_quantiles: int = 64, orthonormal: bool = True,
                 subtract_reference: bool = True, seed: int | None = None,
                 batch_size: int = 1024, progress: bool = False) -> None:
        self.n_projections = n_projections
        self.n_quantiles = n_quantiles
        self.orthonormal = orthonormal
        self.subtract_reference = subtract_reference
        self.seed = seed
        self.batch_size = batch_size
        self.progress = progress

    def fit(self, X: SetsLike, y: Any = None) -> Self:
        """Draw the directions for the dimension of ``X`` and the reference quantiles."""
        return self._fit(X, "X")

    def _fit(self, X, name):
        ms = as_measures(X, name=name)
        L = check_int(self.n_projections, "n_projections", minimum=1)
        self.n_quantiles_ = check_int(self.n_quantiles, "n_quantiles", minimum=1)
        check_bool(self.orthonormal, "orthonormal")
        check_bool(self.subtract_reference, "subtract_reference")
        check_seed(self.seed, numpy_ok=False, torch_ok=False)
        check_int(self.batch_size, "batch_size", minimum=1)
        draw = orthonormal_directions if self.orthonormal else random_directions
        g = make_generator(None if self.seed is None else int(self.seed))
        self.projections_ = draw(ms.dim, L, g).numpy()
        self.dim_ = ms.dim
        if self.subtract_reference:
            pooled = torch.cat([p for p in ms.points]).to(torch.float64).cpu()
            pw = torch.cat([w / w.sum() for w in ms.weights]).to(torch.float64).cpu()
            if pooled.shape[0] > _MAX_REFERENCE_POINTS:  # a weighted sample is plenty
                pick = torch.multinomial(pw, _MAX_REFERENCE_POINTS, replacement=True,
                                         generator=g)
                pooled, pw = pooled[pick], torch.ones(_MAX_REFERENCE_POINTS,
                                                      dtype=torch.float64)
            self.reference_quantiles_ = self._quantiles(pooled[None], pw[None])[0].numpy()
        else:
            self.reference_quantiles_ = np.zeros((L, self.n_quantiles_))
        return self

    def _quantiles(self, pts, w):
        """(B, n, d), (B, n) -> (B, L, M) on the device/dtype of pts."""
        theta = torch.as_tensor(self.projections_, dtype=pts.dtype, device=pts.device)
        levels = (torch.arange(self.n_quantiles_, dtype=pts.dtype, device=pts.device) + 0.5) \
            / self.n_quantiles_
        P = theta.T @ pts.transpose(-1, -2)  # (B, L, n), contiguous for the sort
        uniform = bool((w == w[..., :1]).all())
        return _slice_quantiles(P, None if uniform else w.unsqueeze(-2).expand_as(P), levels)

    def transform(self, X: SetsLike) -> Array:
        """Embed sets: array of shape ``(K, L * M)``."""
        return self._transform(X, "X")

    def _transform(self, X, name):
        check_is_fitted(self, "projections_")
        ms = as_measures(X, name=name, dim=self.dim_)
        K = len(ms)
        L, M = self.projections_.shape[1], self.n_quantiles_
        out = torch.empty(K, L, M, dtype=ms.io.dtype, device=ms.io.device)
        bs = check_int(self.batch_size, "batch_size", minimum=1)
        for chunk, pts, w in _progress(list(size_batches(ms, bs)), self.progress, "SWE"):
            out[chunk] = self._quantiles(pts, w)
        ref = torch.as_tensor(self.reference_quantiles_, dtype=out.dtype, device=out.device)
        return ms.io.out(((out - ref) / math.sqrt(L * M)).reshape(K, L * M))


class PoolingEmbedding(TransformerMixin, BaseEstimator):
    """Set-to-vector poolings used as baselines by ``slosh``.

    Parameters
    ----------
    kind : {"mean", "gem", "sorted", "covariance"}
        ``"mean"``: the mean point. ``"gem"``: generalised mean
        ``(mean |x|^q)^(1/q)`` per coordinate (``q = gem_power``), signed.
        ``"sorted"``: FSPool-style sorted pooling: every coordinate sorted
        and sampled at ``n_quantiles`` levels. ``"covariance"``: mean and
        the upper triangle of the covariance.
    gem_power : float, default 3.0
    n_quantiles : int, default 16

    Examples
    --------
    >>> import numpy as np
    >>> sets = np.random.default_rng(0).normal(size=(4, 10, 3))
    >>> PoolingEmbedding("covariance").fit_transform(sets).shape
    (4, 9)
    """

    def __init__(self, kind: str = "mean", gem_power: float = 3.0, n_quantiles: int = 16) -> None:
        self.kind = kind
        self.gem_power = gem_power
        self.n_quantiles = n_quantiles

    def fit(self, X: SetsLike, y: Any = None) -> Self:
        """Record the point dimension."""
        check_choice(self.kind, "kind", ("mean", "gem", "sorted", "covariance"))
        check_positive(self.gem_power, "gem_power")
        check_int(self.n_quantiles, "n_quantiles", minimum=1)
        self.dim_ = as_measures(X).dim
        return self

    def _pool_equal(self, X):
        """The same pooled vectors for an array ``(K, n, d)`` of unweighted sets, batched."""
        p = torch.as_tensor(X, dtype=torch.float64) if isinstance(X, np.ndarray) else X
        mean = p.mean(1)
        if self.kind == "mean":
            out = mean
        elif self.kind == "gem":
            q = check_positive(self.gem_power, "gem_power")
            out = torch.sign(mean) * p.abs().pow(q).mean(1).pow(1 / q)
        elif self.kind == "sorted":
            M = check_int(self.n_quantiles, "n_quantiles", minimum=1)
            levels = (torch.arange(M, dtype=p.dtype, device=p.device) + 0.5) / M
            out = _slice_quantiles(p.transpose(1, 2), None, levels).reshape(p.shape[0], -1)
        else:
            c = p - mean.unsqueeze(1)
            # an elementwise product summed over the points, in chunks of sets: each set's
            # result does not depend on the other sets of the call (a batched matmul's
            # blocking does), so chunked or distributed calls agree bit for bit
            K, n, d = c.shape
            step = max(1, (1 << 24) // max(1, n * d * d))
            cov = torch.cat([(c[i:i + step, :, :, None] * c[i:i + step, :, None, :]).sum(1)
                             for i in range(0, K, step)]) / n
            iu = torch.triu_indices(p.shape[2], p.shape[2])
            out = torch.cat([mean, cov[:, iu[0], iu[1]]], 1)
        return out.numpy() if isinstance(X, np.ndarray) else out

    def transform(self, X: SetsLike) -> Array:
        """Pooled vectors, one row per set."""
        check_is_fitted(self, "dim_")
        if (isinstance(X, np.ndarray) and X.ndim == 3 and X.dtype.kind == "f"
                and X.shape[1] > 0 and X.shape[2] == self.dim_ and np.isfinite(X).all()):
            return self._pool_equal(X)
        ms = as_measures(X, dim=self.dim_)
        rows = []
        for p, w in zip(ms.points, ms.weights, strict=True):
            w = w / w.sum()
            mean = w @ p
            if self.kind == "mean":
                rows.append(mean)
            elif self.kind == "gem":
                q = check_positive(self.gem_power, "gem_power")
                mag = (w @ p.abs().pow(q)).pow(1 / q)
                rows.append(torch.sign(mean) * mag)
            elif self.kind == "sorted":
                M = check_int(self.n_quantiles, "n_quantiles", minimum=1)
                levels = (torch.arange(M, dtype=p.dtype, device=p.device) + 0.5) / M
                rows.append(_slice_quantiles(p.T, w.expand(p.shape[1], -1), levels).reshape(-1))
            else:
                c = p - mean
                cov = (c * w[:, None]).T @ c
                iu = torch.triu_indices(p.shape[1], p.shape[1])
                rows.append(torch.cat([mean, cov[iu[0], iu[1]]]))
        return ms.io.out(torch.stack(rows))


class FSPoolEmbedding(TransformerMixin, BaseEstimator):
    """A learned FSPool set embedding (a ``slosh`` baseline), trained by a metric objective.

    The network is :class:`mintlab.nn.pooling.FSPool`: a per-element MLP
    (``d -> width -> out_features``) and featurewise sort pooling with learned
    rank weights. :meth:`fit` trains it contrastively (InfoNCE, cosine
    similarity over ``temperature``, symmetric): two views of the same
    training set are positives, the other sets of the mini-batch negatives.
    The views are ``X[i]`` and ``X_positive[i]`` when given (e.g. two
    resamplings of one image), else two random halves of ``X[i]``'s points,
    drawn afresh every epoch. The sets that train the network should be
    disjoint from those later searched. :meth:`transform` gives the
    L2-normalised outputs (the geometry the objective trains).

    Elements count equally (weights are ignored); sets of different sizes are
    padded.

    Parameters
    ----------
    out_features : int, default 128
    width : int, default 64
    n_pieces : int, default 20
    epochs : int, default 20
    lr : float, default 3e-3
    batch_size : int, default 128
    temperature : float, default 0.1
    seed : int or None
    progress : bool, default False

    Attributes
    ----------
    module_ : FSPool
    losses_ : list of float
        Mean training loss per epoch.

    Examples
    --------
    >>> import numpy as np
    >>> sets = np.random.default_rng(0).normal(size=(40, 12, 2))
    >>> emb = FSPoolEmbedding(out_features=8, width=16, epochs=2, seed=0).fit(sets)
    >>> emb.transform(sets[:3]).shape
    (3, 8)
    """

    def __init__(self, out_features: int = 128, width: int = 64, n_pieces: int = 20,
                 epochs: int = 20, lr: float = 3e-3, batch_size: int = 128,
                 temperature: float = 0.1, seed: int | None = None,
                 progress: bool = False) -> None:
        self.out_features = out_features
        self.width = width
        self.n_pieces = n_pieces
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.temperature = temperature
        self.seed = seed
        self.progress = progress

    @staticmethod
    def _padded(X, dim=None):
        from ..nn._common import pad_sets

        ms = as_measures(X, dim=dim)
        x, mask = pad_sets([p.detach().cpu() for p in ms.points], dtype=torch.float32)
        return ms, x, mask

    def fit(self, X: SetsLike, y: Any = None, X_positive: SetsLike | None = None) -> Self:
        """Train the network on the sets ``X`` (and their positive views ``X_positive``)."""
        from ..nn.pooling import FSPool

        k = check_int(self.out_features, "out_features", minimum=1)
        epochs = check_int(self.epochs, "epochs", minimum=1)
        bs = check_int(self.batch_size, "batch_size", minimum=2)
        lr = check_positive(self.lr, "lr")
        tau = check_positive(self.temperature, "temperature")
        check_seed(self.seed, numpy_ok=False, torch_ok=False)
        ms, x, mask = self._padded(X)
        if X_positive is not None:
            _, xp, maskp = self._padded(X_positive, dim=ms.dim)
            if xp.shape[0] != x.shape[0]:
                raise ValueError(f"X_positive must hold one set per set of X ({x.shape[0]}), "
                                 f"got {xp.shape[0]}")
        elif int(mask.sum(1).min()) < 2:
            raise ValueError("without X_positive every set needs at least 2 points (two "
                             "random halves are its views)")
        self.dim_ = ms.dim
        g = make_generator(None if self.seed is None else int(self.seed))
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=g))
        self.module_ = FSPool(ms.dim, k, width=check_int(self.width, "width", minimum=1),
                              n_pieces=self.n_pieces, seed=seed)
        opt = torch.optim.Adam(self.module_.parameters(), lr=lr)
        N = x.shape[0]
        self.losses_ = []
        self.module_.train()
        for _ in _progress(range(epochs), self.progress, "FSPool"):
            if X_positive is None:  # two random halves of every set's real points
                keys = torch.rand(mask.shape, generator=g).masked_fill(~mask, 2.0)
                rank = torch.argsort(torch.argsort(keys, 1), 1)
                half = (mask.sum(1, keepdim=True) // 2)
                v1, m1 = x, mask & (rank < half)
                v2, m2 = x, mask & (rank >= half)
            else:
                v1, m1, v2, m2 = x, mask, xp, maskp
            perm = torch.randperm(N, generator=g)
            total, seen = 0.0, 0
            for start in range(0, N, bs):
                idx = perm[start:start + bs]
                if idx.numel() < 2:
                    continue
                z1 = torch.nn.functional.normalize(self.module_(v1[idx], m1[idx]), dim=1)
                z2 = torch.nn.functional.normalize(self.module_(v2[idx], m2[idx]), dim=1)
                logits = z1 @ z2.T / tau
                target = torch.arange(idx.numel(), device=logits.device)
                loss = 0.5 * (torch.nn.functional.cross_entropy(logits, target)
                              + torch.nn.functional.cross_entropy(logits.T, target))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * idx.numel()
                seen += idx.numel()
            self.losses_.append(total / max(seen, 1))
        self.module_.eval()
        return self

    def transform(self, X: SetsLike) -> Array:
        """L2-normalised FSPool embeddings, one row per set."""
        check_is_fitted(self, "module_")
        ms, x, mask = self._padded(X, dim=self.dim_)
        with torch.no_grad():
            z = torch.cat([self.module_(xb, mb) for xb, mb in
                           zip(x.split(1024), mask.split(1024), strict=True)])
            z = torch.nn.functional.normalize(z, dim=1)
        return ms.io.out(z.to(ms.io.dtype))
