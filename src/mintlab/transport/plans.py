"""Transport plans built from slices: expected sliced plans and min-sliced plans.

A 1D optimal plan between the projections of two point clouds on a slice
``theta`` can be *lifted* back to the points: it couples ``x_i`` with
``y_j`` whenever their projections are coupled. Every lifted plan is a
coupling of the original measures, so its cost
``sum_ij gamma_ij ||x_i - y_j||^p`` bounds the exact OT cost from above.

- ``est-plans`` (Liu et al. 2024): average the lifted plans over random
  slices (optionally weighting the slices by ``exp(-beta * cost)``). The
  result is a coupling whose cost defines a metric; with a soft-sorting
  ``temperature`` it becomes a differentiable, nearly doubly-stochastic
  matrix (reused by ESP attention).
- ``min-stp`` (Liu et al. 2025): optimise the slicer itself so that its
  lifted plan is as cheap as possible; the learned slicer transfers to new,
  perturbed pairs, and can be trained on minibatches.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .._random import make_generator
from .._validation import ArrayIO, check_finite, check_int, check_nonnegative, check_positive
from ..typing import ArrayLike, SeedLike
from .line import _check_p, _monotone_coupling
from .sliced import _clouds, _directions, _project
from .slicers import LinearSlicer, _checked_input

__all__ = ["SlicedPlan", "expected_sliced_plan", "MinSlicedPlan", "min_sliced_plan",
           "soft_sort_matrix"]

_CHUNK = 1 << 24  # elements per temporary block when lifting many slices


# ------------------------------------------------------------------ lifting
def _lift(ps, pt, aw, bw):
    """Sparse lifted plans of every slice: ``(L, K)`` source/target indices and masses."""
    L, n = ps.shape
    m = pt.shape[1]
    if aw is None and bw is None and n == m:
        src = torch.argsort(ps.detach(), dim=-1)
        tgt = torch.argsort(pt.detach(), dim=-1)
        mass = torch.full(src.shape, 1.0 / n, dtype=ps.dtype, device=ps.device)
        return src, tgt, mass
    uw = None if aw is None else aw.expand(L, n)
    vw = None if bw is None else bw.expand(L, m)
    c = _monotone_coupling(ps.detach(), pt.detach(), uw, vw)
    return torch.gather(c.u_sorter, -1, c.iu), torch.gather(c.v_sorter, -1, c.iv), c.mass


def _ground(diff: torch.Tensor, p: float) -> torch.Tensor:
    """``||diff||^p`` along the last axis."""
    sq = (diff * diff).sum(-1)
    if p == 2.0:
        return sq
    return sq.clamp_min(0).add(1e-300 if sq.dtype == torch.float64 else 1e-30).pow(p / 2)


def _lifted_costs(Xs, Xt, src, tgt, mass, p):
    """``sum_k mass_lk ||Xs[src_lk] - Xt[tgt_lk]||^p`` per slice, in chunks of slices."""
    L, K = src.shape
    d = Xs.shape[1]
    step = max(1, _CHUNK // max(1, K * d))
    out = []
    for s in range(0, L, step):
        diff = Xs[src[s:s + step]] - Xt[tgt[s:s + step]]
        out.append((mass[s:s + step] * _ground(diff, p)).sum(-1))
    return torch.cat(out)


def _densify(src, tgt, weights, n, m, dense, io):
    """Sum the weighted sparse slice plans into one ``(n, m)`` plan."""
    flat = (src * m + tgt).reshape(-1)
    vals = weights.reshape(-1)
    if dense and vals.device.type == "cpu" and not vals.requires_grad:
        # numpy's zeros are lazily mapped pages: only the touched ones cost anything
        plan = torch.from_numpy(np.zeros(n * m, dtype=torch.empty(0, dtype=vals.dtype)
                                         .numpy().dtype))
        plan.index_add_(0, flat, vals)
        return io.out(plan.reshape(n, m))
    if dense:
        plan = torch.zeros(n * m, dtype=vals.dtype, device=vals.device)
        plan = plan.index_add(0, flat, vals).reshape(n, m)
        return io.out(plan)
    sp = torch.sparse_coo_tensor(torch.stack([flat // m, flat % m]), vals, (n, m),
                                 check_invariants=True).coalesce()
    if io.is_torch:
        return sp
    import scipy.sparse

    idx = sp.indices().cpu().numpy()
    return scipy.sparse.coo_array((sp.values().detach().cpu().numpy().astype(np.float64),
                                   (idx[0], idx[1])), shape=(n, m))


def soft_sort_matrix(values: torch.Tensor, temperature: float,
                     pad: torch.Tensor | None = None) -> torch.Tensor:
    r"""Soft permutation matrices sorting ``values`` along the last axis (SoftSort).

    .. math:: P_{ki} = \operatorname{softmax}_i\big(-|v_{(k)} - v_i| / \tau\big)

    where ``v_(k)`` is the ``k``-th smallest value. Rows sum to one; as
    ``tau -> 0`` ``P`` tends to the sorting permutation, so ``P @ v`` tends
    to the sorted values. Shape ``(..., n)`` to ``(..., n, n)``.

    ``pad`` (boolean, broadcastable to ``values``, ``True`` at padding) sorts
    the padded entries last and never selects them: for a set of ``n_b`` real
    entries the first ``n_b`` rows are its SoftSort matrix.

    Examples
    --------
    >>> P = soft_sort_matrix(torch.tensor([3.0, 1.0, 2.0]), 1e-3)
    >>> (P @ torch.tensor([3.0, 1.0, 2.0])).tolist()
    [1.0, 2.0, 3.0]
    """
    tau = check_positive(temperature, "temperature")
    if not isinstance(values, torch.Tensor) or not values.is_floating_point():
        raise TypeError(f"values must be a floating torch tensor, got {type(values).__name__}")
    if values.ndim == 0 or values.shape[-1] == 0:
        raise ValueError(f"values must have shape (..., n) with n >= 1, got {tuple(values.shape)}")
    check_finite(values.detach(), "values")
    if pad is not None:
        if not isinstance(pad, torch.Tensor) or pad.dtype != torch.bool:
            raise TypeError("pad must be a boolean tensor (True at padding)")
        try:
            torch.broadcast_shapes(pad.shape, values.shape)
        except RuntimeError:
            raise ValueError(f"pad of shape {tuple(pad.shape)} does not broadcast to the values' "
                             f"shape {tuple(values.shape)}") from None
        big = values.detach().abs().amax() + 1.0
        values = values.masked_fill(pad, big)
    return _soft_sort_kernel(values, tau, pad)


def _soft_sort_kernel(values: torch.Tensor, tau: float,
                      pad: torch.Tensor | None = None) -> torch.Tensor:
    """:func:`soft_sort_matrix` on checked input (padding already filled): no checks."""
    sorted_v = torch.sort(values, dim=-1).values
    logits = -(sorted_v.unsqueeze(-1) - values.unsqueeze(-2)).abs() / tau
    if pad is not None:
        logits = logits.masked_fill(pad.unsqueeze(-2), float("-inf"))
    return torch.softmax(logits, dim=-1)


def _uniform_monotone(n, m, dtype, device, counts=None):
    """The monotone coupling of uniform measures on ``n`` and ``m`` sorted ranks, dense.

    With ``counts`` (a tensor broadcastable to ``(..., 1, 1)``: the number of
    real ranks of each batch entry, ``<= m``) the second measure is uniform on
    its first ``counts`` ranks and the later (padding) ranks get no mass; the
    result then has shape ``(..., n, m)``.
    """
    if counts is None:
        if n == m:
            return torch.eye(n, dtype=dtype, device=device) / n
        counts = torch.tensor(float(m), dtype=dtype, device=device)
    i = torch.arange(n, dtype=dtype, device=device).unsqueeze(-1)
    j = torch.arange(m, dtype=dtype, device=device)
    lo = torch.maximum(i / n, j / counts)
    hi = torch.minimum((i + 1) / n, (j + 1) / counts)
    return (hi - lo).clamp_min(0) * (j < counts).to(dtype)


def _soft_slice_plans(Xs, Xt, ps, pt, tau, p):
    """Soft lifted plans ``P_s^T Q P_t`` (chunked over slices) and their costs."""
    n, m = Xs.shape[0], Xt.shape[0]
    Q = _uniform_monotone(n, m, Xs.dtype, Xs.device)
    C = _ground(Xs.unsqueeze(1) - Xt.unsqueeze(0), p)
    step = max(1, _CHUNK // max(1, n * n + m * m + n * m))
    plans, costs = [], []
    for s in range(0, ps.shape[0], step):
        Ps = soft_sort_matrix(ps[s:s + step], tau)
        Pt = soft_sort_matrix(pt[s:s + step], tau)
        g = Ps.transpose(-1, -2) @ Q @ Pt
        plans.append(g)
        costs.append((g * C).sum((-1, -2)))
    return torch.cat(plans), torch.cat(costs)


# ----------------------------------------------------------- expected plans
@dataclass(frozen=True)
class SlicedPlan:
    """A transport plan assembled from slices.

    Attributes
    ----------
    plan : array of shape (n, m)
        The coupling (dense, or sparse with ``dense=False``).
    cost : array of shape ()
        ``sum_ij plan_ij ||x_i - y_j||^p`` (no root; ``cost ** (1/p)`` is the
        EST distance).
    slice_costs : array of shape (L,)
        Cost of each slice's lifted plan.
    slice_weights : array of shape (L,)
        Weight of each slice in the average (uniform when ``beta = 0``).
    directions : array of shape (d, L)
    """

    plan: Any
    cost: Any
    slice_costs: Any
    slice_weights: Any
    directions: Any


def expected_sliced_plan(X_s: ArrayLike, X_t: ArrayLike, a: ArrayLike | None = None,
                         b: ArrayLike | None = None, projections: ArrayLike | None = None,
                         metric: str | None = None, p: float = 2, n_projections: int = 50,
                         beta: float = 0.0, seed: SeedLike = None, dense: bool = True,
                         batch_size: int | None = None, *,
                         temperature: float | None = None) -> SlicedPlan:
    r"""Expected sliced transport (EST) plan (``est-plans``).

    .. math::
        \bar\gamma = \sum_{l=1}^L w_l \, \Lambda_{\theta_l}(\gamma_{\theta_l}),
        \qquad w_l \propto e^{-\beta\, C(\Lambda_{\theta_l}\gamma_{\theta_l})}

    where ``gamma_theta`` is the monotone 1D plan between the projections
    and ``Lambda_theta`` lifts it to the points. The plan is a coupling of
    ``a`` and ``b``; with ``beta = 0`` its cost raised to ``1/p`` is a
    metric (the paper's result), and large ``beta`` concentrates on the
    cheapest slices (min-SWGG in the limit).

    Parameters
    ----------
    X_s : array of shape (n, d)
    X_t : array of shape (m, d)
    a, b : arrays of shape (n,), (m,), optional
        Weights (uniform if omitted).
    projections, p, n_projections, seed
        As in :func:`~mintlab.transport.sliced_wasserstein_distance`. The
        ground cost is ``||x - y||^p`` (``p = 2``: squared Euclidean, POT's
        default metric).
    metric : {None, "sqeuclidean", "euclidean", "minkowski"}, optional
        POT's name for the ground cost, taking precedence over ``p`` as in
        POT: ``"sqeuclidean"`` is ``||x - y||^2``, ``"euclidean"`` (or
        ``"minkowski"`` with ``p = 2``) is ``||x - y||``. The arguments
        follow POT's ``ot.expected_sliced_plan`` in name and order; the
        result is a :class:`SlicedPlan` (POT's ``(plan, cost)`` and ``log``
        entries are its ``plan``, ``cost``, ``slice_costs``,
        ``slice_weights`` and ``directions``; :mod:`mintlab.pot` returns
        POT's tuple, and takes every POT metric).
    beta : float, default 0
        Inverse temperature of the slice weights.
    batch_size : int, optional
        Accepted for POT compatibility; lifting is chunked in any case.
    temperature : float, optional
        If given, every slice's sorting is replaced by SoftSort with this
        temperature (in the units of the projections), giving a plan that is
        differentiable in the points. Needs uniform weights; its marginals
        match ``a``, ``b`` only up to an error that vanishes as
        ``temperature -> 0``. Costs ``O(L n m)`` memory (chunked).
    dense : bool, default True
        Return the plan as an ``(n, m)`` array; ``False`` gives a sparse
        matrix (scipy for numpy input, torch COO for torch input), for the
        hard plan only.

    Returns
    -------
    SlicedPlan

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[3.0, 3.0], [1.0, 1.0]]); y = np.array([[2.0, 2.5], [3.0, 2.0]])
    >>> res = expected_sliced_plan(x, y, projections=np.eye(2))
    >>> res.plan
    array([[0.25, 0.25],
           [0.25, 0.25]])
    >>> float(res.cost)
    2.625
    """
    p = _metric_exponent(metric, _check_p(p))
    beta = check_nonnegative(beta, "beta")
    io = ArrayIO(X_s, X_t, a, b, projections)
    Xs, Xt, aw, bw = _clouds(io, X_s, X_t, a, b)
    n, m = Xs.shape[0], Xt.shape[0]
    theta = _directions(io, Xs.shape[1], projections, n_projections, seed)
    ps, pt = _project(Xs, Xt, theta)
    if temperature is not None:
        if aw is not None or bw is not None:
            raise ValueError("temperature (soft sorting) needs uniform weights: leave a and b "
                             "as None")
        if not dense:
            raise ValueError("the soft plan (temperature set) is dense; use dense=True")
        plans, costs = _soft_slice_plans(Xs, Xt, ps, pt, temperature, p)
        weights = _slice_weights(costs, beta)
        plan = (weights[:, None, None] * plans).sum(0)
        return SlicedPlan(io.out(plan), io.out((weights * costs).sum()), io.out(costs),
                          io.out(weights), io.out(theta))
    src, tgt, mass = _lift(ps, pt, aw, bw)
    costs = _lifted_costs(Xs, Xt, src, tgt, mass, p)
    weights = _slice_weights(costs, beta)
    plan = _densify(src, tgt, weights[:, None] * mass, n, m, dense, io)
    return SlicedPlan(plan, io.out((weights * costs).sum()), io.out(costs), io.out(weights),
                      io.out(theta))


def _metric_exponent(metric, p):
    """The exponent ``q`` of the ground cost ``||x - y||^q`` for POT's ``metric`` (None: ``p``)."""
    if metric is None:
        return p
    if metric == "sqeuclidean":
        return 2.0
    if metric == "euclidean" or (metric == "minkowski" and p == 2):
        return 1.0
    raise ValueError(f"metric must be None, 'sqeuclidean', 'euclidean' or 'minkowski' with p=2 "
                     f"(a power of the Euclidean distance), got {metric!r} with p={p}; "
                     "mintlab.pot.expected_sliced_plan takes POT's other metrics")


def _slice_weights(costs, beta):
    if beta == 0.0:
        return torch.full_like(costs, 1.0 / costs.shape[0])
    return torch.softmax(-beta * costs, dim=0)


# --------------------------------------------------------- min-sliced plans
@dataclass(frozen=True)
class MinSlicedPlan:
    """The plan of an optimised slicer (``min-stp``).

    Attributes
    ----------
    plan : array of shape (n, m)
        The lifted plan of ``slicer`` (dense, or sparse with ``dense=False``).
    cost : array of shape ()
        ``sum_ij plan_ij ||x_i - y_j||^p``.
    slicer : torch.nn.Module
        The slicer (``(n, d) -> (n, 1)``); apply it to new pairs with
        :meth:`transfer`.
    history : list of float
        Full-data lifted cost at each evaluation during the optimisation.
    p : float
    """

    plan: Any
    cost: Any
    slicer: nn.Module
    history: list = field(default_factory=list)
    p: float = 2.0
    dense: bool = True

    def transfer(self, X_s: ArrayLike, X_t: ArrayLike, a: ArrayLike | None = None,
                 b: ArrayLike | None = None, *, dense: bool | None = None) -> MinSlicedPlan:
        """The lifted plan of this (fixed) slicer between a new pair: one sort, no training.

        Examples
        --------
        >>> import numpy as np
        >>> X = np.random.default_rng(0).normal(size=(6, 2))
        >>> res = min_sliced_plan(X, X + 1.0, n_iter=0, seed=0)
        >>> float(res.transfer(X, X).cost)
        0.0
        """
        dense = self.dense if dense is None else dense
        return _apply_min_slicer(self.slicer, X_s, X_t, a, b, self.p, dense, list(self.history))


def _slicer_column(slicer, X):
    with _checked_input():
        out = slicer(X)
    if out.ndim == X.ndim:
        if out.shape[-1] != 1:
            raise ValueError(f"a min-sliced slicer must output one value per point, "
                             f"shape (n, 1); got {tuple(out.shape)}")
        out = out[..., 0]
    if out.shape != X.shape[:-1]:
        raise ValueError(f"slicer output must have shape (n,) or (n, 1); got {tuple(out.shape)}")
    return out.to(X.dtype)


def _apply_min_slicer(slicer, X_s, X_t, a, b, p, dense, history, lifted=None):
    io = ArrayIO(X_s, X_t, a, b)
    Xs, Xt, aw, bw = _clouds(io, X_s, X_t, a, b)
    if lifted is None:
        with torch.no_grad():
            ps = _slicer_column(slicer, Xs).unsqueeze(0)
            pt = _slicer_column(slicer, Xt).unsqueeze(0)
        lifted = _lift(ps, pt, aw, bw)
    src, tgt, mass = lifted
    cost = _lifted_costs(Xs, Xt, src, tgt, mass, p)[0]
    plan = _densify(src, tgt, mass, Xs.shape[0], Xt.shape[0], dense, io)
    return MinSlicedPlan(plan, io.out(cost), slicer, history, p, dense)


def _draw_batch(w, size, g, replace):
    if replace:
        return torch.multinomial(w.detach().cpu(), size, replacement=True, generator=g)
    return torch.randperm(w.shape[0], generator=g)[:size]


def min_sliced_plan(X_s: ArrayLike, X_t: ArrayLike, a: ArrayLike | None = None,
                    b: ArrayLike | None = None, p: float = 2, slicer: nn.Module | None = None,
                    n_projections: int = 64, n_iter: int = 100, lr: float = 0.05,
                    temperature: float = 0.1, batch_size: int | None = 512, eval_every: int = 10,
                    seed: SeedLike = None, dense: bool = True,
                    progress: bool = False) -> MinSlicedPlan:
    r"""Min-sliced transport plan (``min-stp``): the slicer whose lifted plan is cheapest.

    .. math::
        \min_{\sigma} \sum_{ij} \Lambda_\sigma(\gamma_\sigma)_{ij} \|x_i - y_j\|^p

    over slicers ``sigma`` (a unit direction, or the parameters of a
    module). The lifted cost is piecewise constant in ``sigma``, so the
    optimiser descends a smooth surrogate: on each step, a minibatch of
    ``batch_size`` points per side is soft-sorted along the slice
    (SoftSort, temperature in units of the projections' standard
    deviation) and the cost of the soft lifted plan ``P_s^T P_t / B`` is
    minimised with Adam. Every ``eval_every`` steps the true lifted cost on
    the full data is measured and the best slicer so far kept, so the
    result is never worse than the starting slicer (for the linear slicer:
    the best of ``n_projections`` random directions, which is POT's
    ``min_sliced_transport_plan``).

    Parameters
    ----------
    X_s : array of shape (n, d)
    X_t : array of shape (m, d)
    a, b : arrays of shape (n,), (m,), optional
        Weights (uniform if omitted); minibatches are drawn from them.
    p : float, default 2
        Ground cost ``||x - y||^p``.
    slicer : torch.nn.Module, optional
        A module mapping ``(n, d)`` to ``(n, 1)`` (or ``(n,)``) to optimise,
        e.g. :class:`~mintlab.transport.MLPSlicer` with ``n_projections=1``.
        Default: a :class:`~mintlab.transport.LinearSlicer` started at the
        best of ``n_projections`` random directions. The module given is
        copied, never modified.
    n_iter : int, default 100
        Optimisation steps; ``0`` only evaluates the starting slicer.
    lr : float, default 0.05
    temperature : float, default 0.1
    batch_size : int or None, default 512
        Minibatch size per side (``None``: ``min(n, m)``). Minibatches of
        non-uniform or unequal-size measures are drawn with replacement
        according to the weights.
    eval_every : int, default 10
    seed : int, numpy or torch generator, or None
    dense : bool, default True
    progress : bool, default False
        Show a progress bar.

    Returns
    -------
    MinSlicedPlan
        ``plan``, ``cost``, the optimised ``slicer``, ``history``;
        ``transfer(X_s2, X_t2)`` applies the slicer to a new pair.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(50, 2))
    >>> res = min_sliced_plan(X, X[::-1] + 0.1, n_iter=20, seed=0)
    >>> res.plan.sum(axis=1)[:3]
    array([0.02, 0.02, 0.02])
    """
    p = _check_p(p)
    n_iter = check_int(n_iter, "n_iter", minimum=0)
    lr = check_positive(lr, "lr")
    tau = check_positive(temperature, "temperature")
    eval_every = check_int(eval_every, "eval_every", minimum=1)
    io = ArrayIO(X_s, X_t, a, b)
    Xs, Xt, aw, bw = _clouds(io, X_s, X_t, a, b)
    Xs, Xt = Xs.detach(), Xt.detach()
    aw = None if aw is None else aw.detach()
    bw = None if bw is None else bw.detach()
    n, m, d = Xs.shape[0], Xt.shape[0], Xs.shape[1]
    g = make_generator(seed)

    def full_cost(module):
        with torch.no_grad():
            ps = _slicer_column(module, Xs).unsqueeze(0)
            pt = _slicer_column(module, Xt).unsqueeze(0)
            src, tgt, mass = _lift(ps, pt, aw, bw)
            return float(_lifted_costs(Xs, Xt, src, tgt, mass, p)[0])

    start = None  # the starting slicer's lifted plan, when already at hand
    if slicer is None:
        theta = _directions(io, d, None, n_projections, g)
        ps, pt = _project(Xs, Xt, theta)
        src, tgt, mass = _lift(ps, pt, aw, bw)
        costs = _lifted_costs(Xs, Xt, src, tgt, mass, p)
        best = int(torch.argmin(costs))
        module: nn.Module = LinearSlicer(d, directions=theta[:, best:best + 1],
                                         dtype=io.dtype, device=io.device)
        best_cost = float(costs[best])
        start = (src[best:best + 1], tgt[best:best + 1], mass[best:best + 1])
    elif isinstance(slicer, nn.Module):
        module = copy.deepcopy(slicer)
        best_cost = full_cost(module)
    else:
        raise TypeError(f"slicer must be a torch.nn.Module or None, got {type(slicer).__name__}")

    best_state = copy.deepcopy(module.state_dict())
    history = [best_cost]
    params = [q for q in module.parameters() if q.requires_grad]
    if n_iter > 0 and params:
        B = min(n, m) if batch_size is None else check_int(batch_size, "batch_size", minimum=2)
        B = min(B, n, m) if (aw is None and bw is None) else B
        ua = torch.full((n,), 1.0 / n, dtype=io.dtype) if aw is None else aw
        ub = torch.full((m,), 1.0 / m, dtype=io.dtype) if bw is None else bw
        replace = not (aw is None and bw is None and B <= min(n, m))
        opt = torch.optim.Adam(params, lr=lr)
        steps = range(n_iter)
        if progress:
            from tqdm.auto import tqdm

            steps = tqdm(steps, desc="min-sliced plan", leave=False)
        with torch.enable_grad():
            for it in steps:
                ib = _draw_batch(ua, B, g, replace).to(io.device)
                jb = _draw_batch(ub, B, g, replace).to(io.device)
                xb, yb = Xs[ib], Xt[jb]
                s = _slicer_column(module, xb)
                t = _slicer_column(module, yb)
                scale = float(torch.cat([s, t]).detach().std().clamp_min(1e-12))
                # cost of the soft lifted plan P_s^T P_t / B on the minibatch
                Ps = soft_sort_matrix(s, tau * scale)
                Pt = soft_sort_matrix(t, tau * scale)
                C = _ground(xb.unsqueeze(1) - yb.unsqueeze(0), p)
                loss = ((Ps @ C) * Pt).sum() / B
                opt.zero_grad()
                loss.backward()
                opt.step()
                if (it + 1) % eval_every == 0 or it == n_iter - 1:
                    c = full_cost(module)
                    history.append(c)
                    if c < best_cost:
                        best_cost, best_state = c, copy.deepcopy(module.state_dict())
    improved = min(history) < history[0]
    module.load_state_dict(best_state)
    return _apply_min_slicer(module, X_s, X_t, a, b, p, dense, history,
                             lifted=None if improved else start)
