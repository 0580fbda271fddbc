"""EMPEROR: sliced Gaussian-mixture descriptors of distributions (``emperor``).

A set (an empirical distribution in ``R^d``) is projected on ``L``
directions; on every slice a ``K``-component 1D Gaussian mixture is fitted
by EM, vectorised over all slices and sets at once; the descriptor is the
slices' mixture parameters (weights, means, standard deviations, components
ordered by mean). By the Cramér–Wold theorem and the determinacy of
Gaussian mixtures by their moments, the slice parameters pin down the
distribution, unlike mean or covariance pooling.
"""

from __future__ import annotations

from typing import Any, Self

import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._random import make_generator
from .._validation import check_int
from ..transport.slicers import orthonormal_directions
from ..typing import Array
from ._checks import check_seed
from ._measures import SetsLike, as_measures, size_batches
from .lot import _progress

__all__ = ["EMPEROR", "fit_gmm_1d"]


def fit_gmm_1d(values, weights=None, n_components=3, n_iter=100, min_std=1e-3, tol=1e-3):
    """Weighted 1D Gaussian mixtures fitted by EM, batched over leading dimensions.

    Parameters
    ----------
    values : tensor of shape (..., n)
    weights : tensor of shape (..., n), optional
        Sample weights (uniform if omitted), normalised per row.
    n_components : int, default 3
    n_iter : int, default 100
        Maximum EM iterations.
    min_std : float, default 1e-3
        Floor on every standard deviation, relative to the row's spread.
    tol : float, default 1e-3
        Stop once the mean log-likelihood of every row changes by less than
        ``tol`` between iterations.

    Returns
    -------
    (pi, mu, sigma), each of shape (..., n_components), components sorted by mean.

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.cat([torch.randn(500, generator=g, dtype=torch.float64) - 4,
    ...                torch.randn(500, generator=g, dtype=torch.float64) + 4])
    >>> pi, mu, sd = fit_gmm_1d(x, n_components=2)
    >>> [round(float(v)) for v in mu]
    [-4, 4]
    """
    K = check_int(n_components, "n_components", minimum=1)
    if not isinstance(values, torch.Tensor) or not values.is_floating_point():
        raise TypeError(f"values must be a floating torch tensor, got {type(values).__name__}")
    if values.ndim == 0 or values.shape[-1] == 0 or not torch.isfinite(values).all():
        raise ValueError("values must have shape (..., n) with n >= 1 and finite entries")
    if weights is not None and (weights.shape != values.shape or (weights < 0).any()):
        raise ValueError(f"weights must be non-negative with shape {tuple(values.shape)}")
    x = values
    w = torch.full_like(x, 1.0 / x.shape[-1]) if weights is None else weights / weights.sum(
        -1, keepdim=True)
    mean = (w * x).sum(-1, keepdim=True)
    spread = ((w * (x - mean) ** 2).sum(-1, keepdim=True)).sqrt().clamp_min(1e-12)
    floor = min_std * spread
    # initialise at weighted quantiles (k + 1/2) / K
    xs, order = torch.sort(x, -1)
    cw = torch.cumsum(torch.gather(w, -1, order), -1)
    levels = (torch.arange(K, dtype=x.dtype, device=x.device) + 0.5) / K
    idx = torch.searchsorted(cw.contiguous(), levels.expand(*cw.shape[:-1], K).contiguous())
    mu = torch.gather(xs, -1, idx.clamp_(max=x.shape[-1] - 1))
    sd = (spread / K).expand_as(mu).clone()
    pi = torch.full_like(mu, 1.0 / K)
    # E-step as one batched matmul: log N(x; mu, sd) + log pi = coefficients @ [x^2, x, 1],
    # laid out (..., K, n) so the normalisation over the few components is elementwise;
    # M-step from the weighted sufficient statistics, another matmul
    feats = torch.stack([x * x, x, torch.ones_like(x)], -2)  # (..., 3, n)
    prev = None
    for _ in range(check_int(n_iter, "n_iter", minimum=1)):
        prec = 1.0 / (sd * sd)
        coef = torch.stack([-0.5 * prec, mu * prec,
                            torch.log(pi) - torch.log(sd) - 0.5 * mu * mu * prec], -1)
        logp = coef @ feats  # (..., K, n)
        top = logp.amax(-2, keepdim=True)
        if logp.requires_grad:
            r = torch.exp(logp - top)
        else:  # a temporary: in place
            r = logp.sub_(top).exp_()
        total = r.sum(-2, keepdim=True)
        # mean log-likelihood per row (up to the constant), for the stopping rule
        ll = (w * (top + torch.log(total)).squeeze(-2)).sum(-1)
        r = r * (w.unsqueeze(-2) / total)
        stats = r @ feats.transpose(-1, -2)  # (..., K, 3): sums of r x^2, r x, r
        nk = stats[..., 2].clamp_min(1e-300)
        pi = nk
        mu = stats[..., 1] / nk
        # max(sqrt(var), floor) written so that a collapsed component has a finite gradient
        sd = (stats[..., 0] / nk - mu * mu).maximum(floor * floor).sqrt()
        if prev is not None and float((ll - prev).detach().abs().max()) < tol:
            break
        prev = ll
    order = torch.argsort(mu, -1)
    return (torch.gather(pi, -1, order), torch.gather(mu, -1, order),
            torch.gather(sd, -1, order))


class EMPEROR(TransformerMixin, BaseEstimator):
    """EMPEROR descriptors of sets (``emperor``): sliced 1D Gaussian mixtures.

    Parameters
    ----------
    n_projections : int, default 32
    n_components : int, default 3
    n_iter : int, default 100
        Maximum EM iterations per slice (EM stops earlier once converged).
    seed : int or None
    batch_size : int, default 256
        Equal-size, unweighted sets are fitted together.
    progress : bool, default False

    Output: ``(K, L * 3 * n_components)`` — per slice the mixture weights,
    means and standard deviations.

    Examples
    --------
    >>> import numpy as np
    >>> sets = np.random.default_rng(0).normal(size=(4, 100, 3))
    >>> EMPEROR(n_projections=8, n_components=2, seed=0).fit_transform(sets).shape
    (4, 48)
    """

    def __init__(self, n_projections: int = 32, n_components: int = 3, n_iter: int = 100,
                 seed: int | None = None, batch_size: int = 256, progress: bool = False) -> None:
        self.n_projections = n_projections
        self.n_components = n_components
        self.n_iter = n_iter
        self.seed = seed
        self.batch_size = batch_size
        self.progress = progress

    def fit(self, X: SetsLike, y: Any = None) -> Self:
        """Draw the slicing directions for the dimension of ``X``."""
        ms = as_measures(X)
        L = check_int(self.n_projections, "n_projections", minimum=1)
        check_int(self.n_components, "n_components", minimum=1)
        check_int(self.n_iter, "n_iter", minimum=1)
        check_int(self.batch_size, "batch_size", minimum=1)
        check_seed(self.seed, numpy_ok=False, torch_ok=False)
        g = make_generator(None if self.seed is None else int(self.seed))
        self.projections_ = orthonormal_directions(ms.dim, L, g).numpy()
        self.dim_ = ms.dim
        return self

    def transform(self, X: SetsLike) -> Array:
        """Descriptors, one row per set."""
        check_is_fitted(self, "projections_")
        ms = as_measures(X, dim=self.dim_)
        L = self.projections_.shape[1]
        K = check_int(self.n_components, "n_components", minimum=1)
        out = torch.empty(len(ms), L, 3 * K, dtype=ms.io.dtype, device=ms.io.device)
        bs = check_int(self.batch_size, "batch_size", minimum=1)
        theta = torch.as_tensor(self.projections_, dtype=ms.io.dtype, device=ms.io.device)
        for chunk, pts, w in _progress(list(size_batches(ms, bs)), self.progress, "EMPEROR"):
            P = (pts @ theta).transpose(-1, -2)
            W = w.unsqueeze(1).expand_as(P)
            pi, mu, sd = fit_gmm_1d(P, W, K, self.n_iter)
            out[chunk] = torch.cat([pi, mu, sd], -1)
        return ms.io.out(out.reshape(len(ms), -1))
