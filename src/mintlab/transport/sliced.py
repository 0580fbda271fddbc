"""Sliced distances: project with one matmul, solve every slice with the 1D kernels.

Papers: ``sopt`` (sliced optimal partial transport).
"""

from __future__ import annotations

import torch

from .._validation import ArrayIO
from .line import _check_p, partial_wasserstein_1d, wasserstein_1d
from .slicers import random_directions

__all__ = ["sliced_wasserstein_distance", "sliced_partial_wasserstein"]


def _project(io, X_s, X_t, projections, n_projections, seed):
    Xs = io.tensor(X_s, "X_s", ndim=2)
    Xt = io.tensor(X_t, "X_t", ndim=2)
    d = Xs.shape[1]
    if Xt.shape[1] != d:
        raise ValueError(f"X_t must have shape (m, {d}) to match X_s, got {tuple(Xt.shape)}")
    if projections is None:
        theta = random_directions(d, n_projections, seed, dtype=io.dtype, device=io.device)
    else:
        theta = io.tensor(projections, "projections", ndim=2)
        if theta.shape[0] != d:
            raise ValueError(f"projections must have shape ({d}, L), got {tuple(theta.shape)}")
    # (L, n) and (L, m): one matmul per cloud, slices along the leading axis
    return (Xs @ theta).T, (Xt @ theta).T


def sliced_wasserstein_distance(X_s, X_t, a=None, b=None, n_projections=50, p=2,
                                projections=None, seed=None):
    r"""Sliced Wasserstein distance, as POT's ``ot.sliced_wasserstein_distance``.

    .. math::
        SW_p(\mu, \nu) = \Big(\frac{1}{L} \sum_{l=1}^L
        W_p^p(\theta_l \# \mu, \theta_l \# \nu)\Big)^{1/p}

    Parameters
    ----------
    X_s : array of shape (n, d)
    X_t : array of shape (m, d)
    a, b : arrays of shape (n,) and (m,), optional
        Weights (uniform if omitted).
    n_projections : int, default 50
        Number of random directions ``L`` (ignored if ``projections`` is given).
    p : float, default 2
    projections : array of shape (d, L), optional
        Directions to use instead of random ones.
    seed : int, torch.Generator or None

    Returns
    -------
    float array of shape ()
        ``SW_p`` (the p-th root is taken, as in POT).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(50, 3))
    >>> float(sliced_wasserstein_distance(X, X, seed=0))
    0.0
    """
    p = _check_p(p)
    io = ArrayIO(X_s, X_t, a, b, projections)
    ps, pt = _project(io, X_s, X_t, projections, n_projections, seed)
    aw = None if a is None else io.tensor(a, "a", ndim=1, shape=(ps.shape[1],))
    bw = None if b is None else io.tensor(b, "b", ndim=1, shape=(pt.shape[1],))
    w = wasserstein_1d(ps, pt, aw, bw, p=p)
    return io.out(w.mean().pow(1.0 / p))


def sliced_partial_wasserstein(X_s, X_t, penalty, n_projections=50, p=2, projections=None,
                               seed=None, *, return_slices=False):
    r"""Sliced optimal partial transport (``sopt``) between sums of unit Diracs.

    .. math::
        SOPT_\lambda(\mu, \nu) = \frac{1}{L} \sum_{l=1}^L OPT_\lambda(\theta_l \# \mu,
        \theta_l \# \nu)

    where ``OPT_lambda`` is the exact penalised partial transport on the line
    (:func:`mintlab.transport.partial_wasserstein_1d`), solved on every slice.

    Parameters
    ----------
    X_s : array of shape (n, d)
    X_t : array of shape (m, d)
    penalty : float
        Price of each created or destroyed unit of mass (``lambda``).
    n_projections, p, projections, seed
        As in :func:`sliced_wasserstein_distance`.
    return_slices : bool, default False
        Also return the per-slice :class:`PartialTransport1D`.

    Returns
    -------
    float array of shape ()
        The mean penalised cost over slices (no root taken); with
        ``return_slices``, a tuple ``(cost, per_slice_result)``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(20, 2))
    >>> float(sliced_partial_wasserstein(X, X, penalty=1.0, seed=0))
    0.0
    """
    p = _check_p(p)
    io = ArrayIO(X_s, X_t, projections)
    ps, pt = _project(io, X_s, X_t, projections, n_projections, seed)
    res = partial_wasserstein_1d(ps, pt, penalty, p=p)
    cost = res.cost.mean()
    if return_slices:
        return io.out(cost), res if io.is_torch else _to_numpy(res)
    return io.out(cost)


def _to_numpy(res):
    from dataclasses import replace

    return replace(res, **{k: (v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else v)
                           for k, v in vars(res).items()})
