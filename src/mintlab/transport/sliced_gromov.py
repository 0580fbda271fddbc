"""Min generalized sliced Gromov–Wasserstein: GW plans from a pair of slicers.

Paper: ``min-gsgw``. Each space is pushed to the line by its own slicer
(linear directions, polynomials or small MLPs); the monotone plan between the
two projections is lifted back to a plan between the clouds and scored with
the full Gromov–Wasserstein objective. The slicer pair is chosen from random
starts and refined by gradient descent on a soft-sorted surrogate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .._validation import ArrayIO, check_int, check_weights

__all__ = ["MinGSGWResult", "min_generalized_sliced_gromov_wasserstein"]

@dataclass(frozen=True)
class MinGSGWResult:
    """Result of :func:`min_generalized_sliced_gromov_wasserstein`.

    Attributes
    ----------
    plan : array of shape (n, m)
        The lifted monotone plan of the two slicers.
    cost : array of shape ()
        Its GW objective ``sum (|x_i - x_k| - |y_j - y_l|)^2 plan_ij plan_kl``.
    slicers : tuple of two torch.nn.Module
        ``(n, dx) -> (n, 1)`` and ``(m, dy) -> (m, 1)``; :meth:`transfer`
        applies them to a new pair without training.
    history : list of float
        Full-data cost at each evaluation.
    """

    plan: Any
    cost: Any
    slicers: tuple
    history: list

    def transfer(self, X, Y, a=None, b=None):
        """The lifted plan of these (fixed) slicers between a new pair, and its GW cost."""
        return _gsgw_apply(self.slicers, X, Y, a, b, list(self.history))


def _gw_of_sparse_plan(Xs, Yt, src, tgt, w, chunk=2048):
    """GW objective of a plan given by its support (src, tgt, w), distances computed on the fly."""
    total = Xs.new_zeros(())
    Xp, Yp = Xs[src], Yt[tgt]
    for s in range(0, len(w), chunk):
        d1 = torch.cdist(Xp[s:s + chunk], Xp)
        d2 = torch.cdist(Yp[s:s + chunk], Yp)
        total = total + (w[s:s + chunk, None] * w[None, :] * (d1 - d2) ** 2).sum()
    return total


def _gsgw_clouds(io, X, Y, a, b):
    Xs = io.tensor(X, "X", ndim=2)
    Yt = io.tensor(Y, "Y", ndim=2)
    aw = None if a is None else check_weights(
        io.tensor(a, "a", ndim=1, shape=(Xs.shape[0],)), "a")
    bw = None if b is None else check_weights(
        io.tensor(b, "b", ndim=1, shape=(Yt.shape[0],)), "b")
    return Xs, Yt, aw, bw


def _gsgw_lift(slicers, Xs, Yt, aw, bw):
    from .plans import _lift, _slicer_column

    with torch.no_grad():
        ps = _slicer_column(slicers[0], Xs).unsqueeze(0)
        pt = _slicer_column(slicers[1], Yt).unsqueeze(0)
    src, tgt, mass = _lift(ps, pt, aw, bw)
    return src[0], tgt[0], mass[0]


def _gsgw_apply(slicers, X, Y, a, b, history):
    from .plans import _densify

    io = ArrayIO(X, Y, a, b)
    Xs, Yt, aw, bw = _gsgw_clouds(io, X, Y, a, b)
    src, tgt, w = _gsgw_lift(slicers, Xs, Yt, aw, bw)
    cost = _gw_of_sparse_plan(Xs, Yt, src, tgt, w)
    plan = _densify(src[None], tgt[None], w[None], Xs.shape[0], Yt.shape[0], True, io)
    return MinGSGWResult(plan, io.out(cost), slicers, history)


def min_generalized_sliced_gromov_wasserstein(X, Y, a=None, b=None, slicers=None, n_init=32,
                                              n_iter=100, lr=0.01, temperature=0.1,
                                              batch_size=256, eval_every=10, seed=None,
                                              progress=False):
    r"""Min generalized sliced Gromov–Wasserstein (``min-gsgw``): GW plans from two slicers.

    A slicer per space assigns each point a value on the line; the monotone
    coupling of the two sets of values, lifted to the points, is a plan
    between the spaces whose GW objective (Euclidean distances within each
    space)

    .. math:: \sum_{ijkl} (\|x_i - x_k\| - \|y_j - y_l\|)^2 \gamma_{ij} \gamma_{kl}

    is minimised over the slicers. The search starts from the best of
    ``n_init`` random pairs of directions (either orientation), then descends
    a smooth surrogate: on minibatches, both sets are soft-sorted
    (SoftSort, temperature relative to the projections' spread), the soft
    plan's GW objective is computed exactly and minimised with Adam; the
    best slicers on the full data are kept. The spaces may have different
    dimensions; the cost of one evaluation is ``O((n + m)^2)`` distances,
    never an ``n x n`` matrix in memory.

    Parameters
    ----------
    X : array of shape (n, dx)
    Y : array of shape (m, dy)
    a, b : optional weights (uniform if omitted)
    slicers : pair of torch.nn.Module, optional
        Modules ``(n, dx) -> (n, 1)`` and ``(m, dy) -> (m, 1)`` to optimise
        (copied), e.g. two :class:`~mintlab.transport.MLPSlicer` with
        ``n_projections=1``. Default: linear slicers.
    n_init, n_iter, lr, temperature, batch_size, eval_every, seed, progress
        As in :func:`~mintlab.transport.min_sliced_plan`.

    Returns
    -------
    MinGSGWResult
        ``plan`` (dense), ``cost``, ``slicers``, ``history``; ``transfer``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(40, 2)) * [3.0, 1.0]
    >>> Y = X @ np.array([[0.0, -1.0], [1.0, 0.0]]) + 5.0  # a rotated, shifted copy
    >>> res = min_generalized_sliced_gromov_wasserstein(X, Y, n_iter=100, seed=0)
    >>> res.plan.sum(0)[:2], bool(float(res.cost) < 1e-9)   # the isometry is found
    (array([0.025, 0.025]), True)
    """
    import copy

    from torch import nn

    from .._random import make_generator
    from .plans import _slicer_column, soft_sort_matrix
    from .slicers import LinearSlicer, random_directions

    n_iter = check_int(n_iter, "n_iter", minimum=0)
    eval_every = check_int(eval_every, "eval_every", minimum=1)
    io = ArrayIO(X, Y, a, b)
    Xs, Yt, aw, bw = _gsgw_clouds(io, X, Y, a, b)
    Xs, Yt = Xs.detach(), Yt.detach()
    n, m = Xs.shape[0], Yt.shape[0]
    g = make_generator(seed)

    def full_cost(pair):
        src, tgt, w = _gsgw_lift(pair, Xs, Yt, aw, bw)
        with torch.no_grad():
            return float(_gw_of_sparse_plan(Xs, Yt, src, tgt, w))

    if slicers is None:
        k = check_int(n_init, "n_init", minimum=1)
        tx = random_directions(Xs.shape[1], k, g, dtype=io.dtype, device=io.device)
        ty = random_directions(Yt.shape[1], k, g, dtype=io.dtype, device=io.device)
        best = None
        for i in range(k):
            for sign in (1.0, -1.0):
                pair = (LinearSlicer(Xs.shape[1], directions=tx[:, i:i + 1], dtype=io.dtype),
                        LinearSlicer(Yt.shape[1], directions=sign * ty[:, i:i + 1],
                                     dtype=io.dtype))
                c = full_cost(pair)
                if best is None or c < best[0]:
                    best = (c, pair)
        best_cost, pair = best
    else:
        if not (isinstance(slicers, tuple | list) and len(slicers) == 2
                and all(isinstance(s, nn.Module) for s in slicers)):
            raise TypeError("slicers must be a pair of torch.nn.Module")
        pair = tuple(copy.deepcopy(s) for s in slicers)
        best_cost = full_cost(pair)
    best_state = [copy.deepcopy(s.state_dict()) for s in pair]
    history = [best_cost]
    params = [q for s in pair for q in s.parameters() if q.requires_grad]
    if n_iter > 0 and params:
        B = min(check_int(batch_size, "batch_size", minimum=2), n, m)
        opt = torch.optim.Adam(params, lr=lr)
        steps = range(n_iter)
        if progress:
            from tqdm.auto import tqdm

            steps = tqdm(steps, desc="min-GSGW", leave=False)
        ua = torch.full((n,), 1.0 / n, dtype=io.dtype) if aw is None else aw.detach().cpu()
        ub = torch.full((m,), 1.0 / m, dtype=io.dtype) if bw is None else bw.detach().cpu()
        with torch.enable_grad():
            for it in steps:
                ib = torch.multinomial(ua, B, replacement=aw is not None, generator=g)
                jb = torch.multinomial(ub, B, replacement=bw is not None, generator=g)
                xb, yb = Xs[ib.to(io.device)], Yt[jb.to(io.device)]
                s = _slicer_column(pair[0], xb)
                t = _slicer_column(pair[1], yb)
                Ps = soft_sort_matrix(s, temperature * float(s.detach().std().clamp_min(1e-12)))
                Pt = soft_sort_matrix(t, temperature * float(t.detach().std().clamp_min(1e-12)))
                G = Ps.transpose(0, 1) @ Pt / B  # soft lifted plan (B, B)
                D1, D2 = torch.cdist(xb, xb), torch.cdist(yb, yb)
                r, c = G.sum(1), G.sum(0)
                tens = (D1 * D1 @ r)[:, None] + (D2 * D2 @ c)[None, :] - 2 * D1 @ G @ D2.T
                loss = (tens * G).sum()
                opt.zero_grad()
                loss.backward()
                opt.step()
                if (it + 1) % eval_every == 0 or it == n_iter - 1:
                    cval = full_cost(pair)
                    history.append(cval)
                    if cval < best_cost:
                        best_cost = cval
                        best_state = [copy.deepcopy(sl.state_dict()) for sl in pair]
    for sl, st in zip(pair, best_state, strict=True):
        sl.load_state_dict(st)
    return _gsgw_apply(tuple(pair), X, Y, a, b, history)
