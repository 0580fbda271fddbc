"""Sliced distances: project with one matmul, solve every slice with the 1D kernels.

Papers: ``sopt`` (sliced optimal partial transport), ``s3w`` (stereographic
spherical sliced Wasserstein), ``rethinking-sw`` (plain SW, configured well,
against its variants: max-SW, generalized SW, energy-based SW).

Every estimator that is a mean over random slices can report its Monte Carlo
standard error and a 95% interval (``log=True``, or :func:`sliced_estimate`),
and accepts ``n_projections="auto"`` with ``tol=``: slices are added in blocks
until the interval's half-width is at most ``tol``. Directions may be drawn
independently, in orthonormal frames, or on randomly rotated Fibonacci
lattices (``directions="random" | "orthogonal" | "qmc"``); the standard error
is then computed over the independent blocks (frames, lattices), not over
dependent slices.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from .._random import make_generator
from .._validation import ArrayIO, check_choice, check_int, check_positive, check_weights
from ..typing import ArrayLike, SeedLike
from ._segments import wants_ragged_pair as _wants_ragged
from .line import _check_p, _wasserstein_1d, linear_circular_ot, partial_wasserstein_1d
from .slicers import (
    _apply_slicer,
    _check_scheme,
    _check_sphere,
    _circle_coordinates,
    _draw_directions,
    _equidistant,
    _orthogonal_frames,
    _scheme_block,
    make_slicer,
    random_directions,
    random_frames,
    random_rotations,
)

__all__ = [
    "sliced_wasserstein_distance",
    "max_sliced_wasserstein_distance",
    "generalized_sliced_wasserstein_distance",
    "energy_based_sliced_wasserstein_distance",
    "sliced_partial_wasserstein",
    "s3w_distance",
    "linear_sliced_wasserstein_sphere",
    "sliced_estimate",
    "SlicedEstimate",
]


# ------------------------------------------------------------------- helpers
def _clouds(io, X_s, X_t, a, b):
    Xs = io.tensor(X_s, "X_s", ndim=2)
    Xt = io.tensor(X_t, "X_t", ndim=2)
    d = Xs.shape[1]
    if Xt.shape[1] != d:
        raise ValueError(f"X_t must have shape (m, {d}) to match X_s, got {tuple(Xt.shape)}")
    aw = None if a is None else check_weights(
        io.tensor(a, "a", ndim=1, shape=(Xs.shape[0],)), "a")
    bw = None if b is None else check_weights(
        io.tensor(b, "b", ndim=1, shape=(Xt.shape[0],)), "b")
    return Xs, Xt, aw, bw


def _directions(io, d, projections, n_projections, seed):
    if projections is None:
        return random_directions(d, n_projections, seed, dtype=io.dtype, device=io.device)
    theta = io.tensor(projections, "projections", ndim=2)
    if theta.shape[0] != d:
        raise ValueError(f"projections must have shape ({d}, L), got {tuple(theta.shape)}")
    return theta


def _project(Xs: torch.Tensor, Xt: torch.Tensor,
             theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(L, n)`` and ``(L, m)`` projections: one matmul per cloud, slices leading."""
    return theta.T @ Xs.T, theta.T @ Xt.T


def _sliced_inputs(X_s, X_t, a, b, projections, n_projections, seed):
    """Validate two weighted clouds and project them on the directions: ``(L, n)``, ``(L, m)``."""
    io = ArrayIO(X_s, X_t, a, b, projections)
    Xs, Xt, aw, bw = _clouds(io, X_s, X_t, a, b)
    theta = _directions(io, Xs.shape[1], projections, n_projections, seed)
    ps, pt = _project(Xs, Xt, theta)
    return io, ps, pt, aw, bw


def _slice_costs(ps, pt, aw, bw, p):
    """``W_p^p`` on every slice (leading axes), from already validated clouds and weights."""
    aw = None if aw is None else aw.expand(*ps.shape[:-1], aw.shape[-1])
    bw = None if bw is None else bw.expand(*pt.shape[:-1], bw.shape[-1])
    return _wasserstein_1d(ps, pt, aw, bw, p)


# ------------------------------------------------- Monte Carlo error control
#: first block of slices of an adaptive (``n_projections="auto"``) run
_AUTO_START = 100
#: default cap on the slices of an adaptive run
_MAX_PROJECTIONS = 10_000


@dataclass(frozen=True)
class _Budget:
    """A fixed number of slices ``n``, or an adaptive run (``n=None``) to ``tol`` within ``cap``."""

    n: int | None
    tol: float | None
    cap: int

    @property
    def start(self) -> int:
        return self.n if self.n is not None else min(_AUTO_START, self.cap)


def _check_budget(n_projections, tol, max_projections, projections=None) -> _Budget:
    if isinstance(n_projections, str):
        if n_projections != "auto":
            raise ValueError(
                f"n_projections must be a positive integer or 'auto', got {n_projections!r}")
        if projections is not None:
            raise ValueError("n_projections='auto' draws its own slices and cannot be combined "
                             "with given projections")
        if tol is None:
            raise ValueError("n_projections='auto' needs tol, the target half-width of the 95% "
                             "interval, got tol=None")
        tol = check_positive(tol, "tol")
        cap = check_int(max_projections, "max_projections", minimum=2)
        return _Budget(None, tol, cap)
    if isinstance(n_projections, bool) or not isinstance(n_projections, numbers.Integral):
        raise TypeError(f"n_projections must be a positive integer or 'auto', got "
                        f"{type(n_projections).__name__}")
    if tol is not None:
        raise ValueError(f"tol is only used with n_projections='auto', got "
                         f"n_projections={int(n_projections)}")
    n = check_int(n_projections, "n_projections", minimum=1)
    return _Budget(n, None, n)


def _ratio_stats(u, v, sizes):
    r"""``R = sum(u) / sum(v)`` over slices and its variance from independent blocks.

    With ``U_b, V_b`` the block sums of ``B`` independent blocks, the
    linearised (delta-method) variance of a ratio of means is

    .. math:: \widehat{\mathrm{Var}}(R) = \frac{B}{B - 1}
       \frac{\sum_b (U_b - R V_b)^2}{(\sum_b V_b)^2};

    for ``v = 1`` and blocks of one slice it is ``s^2 / L``.
    Returns ``(R, variance, degrees of freedom)``.
    """
    u = u.detach().reshape(-1).to(device="cpu", dtype=torch.float64).numpy()
    v = v.detach().reshape(-1).to(device="cpu", dtype=torch.float64).numpy()
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    U, V = np.add.reduceat(u, starts), np.add.reduceat(v, starts)
    n_blocks = len(sizes)
    ratio = float(U.sum() / V.sum())
    if n_blocks < 2:
        return ratio, math.nan, 0
    var = n_blocks / (n_blocks - 1) * float(((U - ratio * V) ** 2).sum() / V.sum() ** 2)
    return ratio, var, n_blocks - 1


def _mean_stats(costs, sizes):
    """The mean of the slice costs ``(L,)`` and its variance from independent blocks."""
    return _ratio_stats(costs, torch.ones_like(costs), sizes)


def _energy_stats(costs, sizes):
    """The energy-weighted mean ``sum e^W W / sum e^W`` (a ratio of means) and its variance."""
    w = torch.exp(costs - costs.max())
    return _ratio_stats(w * costs, w, sizes)


def _crossed_stats(costs, sizes):
    """Mean of ``(R, L)`` costs over rotations x directions, both drawn at random and crossed.

    Variance ``s_rot^2 / R + Var(direction means)``: the variance of the
    rotation means over ``R`` plus the block variance of the direction
    means (a slightly conservative estimate for a crossed design); degrees
    of freedom by Welch-Satterthwaite.
    """
    n_rot = costs.shape[0]
    mean, var_dir, dof_dir = _mean_stats(costs.mean(0), sizes)
    if n_rot < 2:
        return mean, var_dir, dof_dir
    var_rot = float(costs.detach().to("cpu", torch.float64).mean(1).var()) / n_rot
    if dof_dir < 1:
        return mean, math.nan, 0
    var = var_rot + var_dir
    denom = var_rot ** 2 / (n_rot - 1) + var_dir ** 2 / dof_dir
    dof = var ** 2 / denom if denom > 0 else n_rot - 1 + dof_dir
    return mean, var, dof


def _summary(mean, var, dof, root):
    """Standard error and 95% interval of ``mean ** (1 / root)``.

    The interval is Student's ``mean +- t_{0.975, dof} se`` for the mean of
    the slice costs (clipped at 0, costs are non-negative), mapped through
    ``x -> x^(1/root)``: a monotone map keeps the coverage. The standard
    error of the root is the delta method's ``se / (root * mean^(1 - 1/root))``.
    """
    if dof <= 0 or not math.isfinite(var):
        return math.nan, (math.nan, math.nan)
    from scipy.stats import t as student

    se = math.sqrt(max(var, 0.0))
    half = float(student.ppf(0.975, dof)) * se
    lo, hi = max(mean - half, 0.0), mean + half
    if root == 1:
        return se, (lo, hi)
    se_root = se / (root * mean ** (1.0 - 1.0 / root)) if mean > 0 else 0.0
    return se_root, (lo ** (1.0 / root), hi ** (1.0 / root))


@dataclass
class _Run:
    """Slices evaluated by :func:`_run_slices`."""

    params: list
    costs: torch.Tensor
    sizes: list
    standard_error: float
    interval: tuple

    @property
    def n_projections(self) -> int:
        return int(self.costs.shape[-1])


def _run_slices(budget: _Budget, draw, evaluate, stats, root, block=1, *,
                error_bar=True) -> _Run:
    """Evaluate a fixed number of slices, or add blocks until the interval is narrow enough.

    ``draw(k)`` gives the parameters of ``k`` new slices and the sizes of
    their independent blocks; ``evaluate(params)`` their costs, slices on
    the last axis (differentiable); ``stats(costs, sizes)`` the estimate's
    inner mean, its variance and degrees of freedom. An adaptive run starts
    with ``min(100, cap)`` slices, then adds as many as the current variance
    says are needed for ``tol`` (10% margin, at most doubling, whole
    blocks), until the half-width of the 95% interval is ``<= tol`` or the
    cap is reached (then a ``RuntimeWarning`` gives the half-width reached).
    ``error_bar=False`` skips the statistics of a fixed budget (they need a
    copy of the costs to the host, a device synchronisation).
    """
    params, sizes = draw(budget.start)
    plist, costs = [params], evaluate(params)
    if budget.n is not None and not error_bar:
        return _Run(plist, costs, sizes, math.nan, (math.nan, math.nan))
    while True:
        mean, var, dof = stats(costs.detach(), sizes)
        se, interval = _summary(mean, var, dof, root)
        if budget.n is not None:
            break
        n = costs.shape[-1]
        half = (interval[1] - interval[0]) / 2
        if half <= budget.tol or n >= budget.cap:
            break
        want = n * ((half / budget.tol) ** 2 * 1.1 - 1) if math.isfinite(half) else n
        k = min(max(math.ceil(want), 1), n)
        k = min(-(-k // block) * block, budget.cap - n)
        new, new_sizes = draw(k)
        plist.append(new)
        sizes = sizes + new_sizes
        costs = torch.cat([costs, evaluate(new)], dim=-1)
    if budget.n is None and not half <= budget.tol:
        warnings.warn(
            f"n_projections='auto' stopped at max_projections={budget.cap} with a 95% interval "
            f"half-width of {half:.3g} > tol={budget.tol:.3g}; raise max_projections or tol",
            RuntimeWarning, stacklevel=3)
    return _Run(plist, costs, sizes, se, interval)


def _direction_draw(io, d, projections, budget, directions, seed):
    """``draw(k)`` for linear slices, and the block size of the scheme.

    Given ``projections`` are used as they are and treated as independent
    slices for the standard error.
    """
    if projections is not None:
        if directions != "random":
            raise ValueError(f"directions={directions!r} draws slices; it cannot be combined "
                             "with given projections")
        theta = _directions(io, d, projections, None, None)
        return (lambda k: (theta, [1] * theta.shape[1])), 1
    scheme = _check_scheme(directions, d)
    block = _scheme_block(scheme, d, budget.n)
    g = make_generator(seed)

    def draw(k):
        return _draw_directions(scheme, d, k, block, g, io.dtype, io.device)

    return draw, block


def _frame_draw(io, d, projections, budget, directions, seed):
    """``draw(k)`` for great-circle slices ``(k, d, 2)``, and the block size of the scheme."""
    if projections is not None:
        if directions != "random":
            raise ValueError(f"directions={directions!r} draws slices; it cannot be combined "
                             "with given projections")
        U = io.tensor(projections, "projections", ndim=3, shape=(None, d, 2))
        return (lambda k: (U, [1] * U.shape[0])), 1
    if directions not in ("random", "orthogonal"):
        raise ValueError(f"directions must be one of ['random', 'orthogonal'] for great-circle "
                         f"slices, got {directions!r}")
    block = 1 if directions == "random" else max(1, d // 2)
    g = make_generator(seed)

    def draw(k):
        sizes = [block] * (k // block) + ([k % block] if k % block else [])
        if directions == "random":
            return random_frames(d, k, 2, g, dtype=io.dtype, device=io.device), sizes
        return _orthogonal_frames(d, k, g, io.dtype, io.device), sizes

    return draw, block


def _log(io, run, projections, **extra):
    """POT's ``log`` keys (``projections``, ``projected_emds``) and the error bar."""
    log = {"projections": projections, "projected_emds": io.out(run.costs)}
    log.update(extra)
    log.update(standard_error=run.standard_error, interval=run.interval,
               n_projections=run.n_projections)
    return log


def _cat(io, params, dim):
    return io.out(params[0] if len(params) == 1 else torch.cat(params, dim=dim))


def _apply_scaler(X_s, X_t, scaler):
    """POT's ``scaler``: ``None``, an object with ``.transform()``, or a callable."""
    if scaler is None:
        return X_s, X_t
    if callable(getattr(scaler, "transform", None)):
        return scaler.transform(X_s), scaler.transform(X_t)
    if callable(scaler):
        return scaler(X_s), scaler(X_t)
    raise ValueError("scaler must be None, an object with a .transform() method, or a "
                     f"callable, got {type(scaler).__name__}")


# ----------------------------------------------------------------- plain SW
def sliced_wasserstein_distance(X_s: ArrayLike, X_t: ArrayLike, a: ArrayLike | None = None,
                                b: ArrayLike | None = None, n_projections: int | str = 50,
                                p: float = 2, projections: ArrayLike | None = None,
                                seed: SeedLike = None, log: bool = False,
                                scaler: Any | None = None, *, directions: str = "random",
                                tol: float | None = None, max_projections: int = _MAX_PROJECTIONS,
                                lengths_s: ArrayLike | None = None,
                                lengths_t: ArrayLike | None = None,
                                batch_s: ArrayLike | None = None,
                                batch_t: ArrayLike | None = None) -> Any:
    r"""Sliced Wasserstein distance, as POT's ``ot.sliced_wasserstein_distance``.

    .. math::
        SW_p(\mu, \nu) = \Big(\frac{1}{L} \sum_{l=1}^L
        W_p^p(\theta_l \# \mu, \theta_l \# \nu)\Big)^{1/p}

    All slices are projected with one matrix product per cloud and solved
    with one batched sort (:func:`mintlab.transport.wasserstein_1d`).

    **Error bar.** The estimate is ``M^(1/p)`` with ``M`` the mean of the
    ``L`` slice costs ``W_p^p``. Its standard error is computed from
    independent blocks of slices (single slices for ``"random"``, frames
    for ``"orthogonal"``, lattices for ``"qmc"``):
    ``se(M) = sqrt(B/(B-1) sum_b (S_b - n_b M)^2) / L`` over the ``B``
    blocks of sums ``S_b`` and sizes ``n_b``, and the delta method gives
    ``se(SW_p) = se(M) / (p M^(1 - 1/p))``. The 95% interval is Student's
    interval for ``M`` (``B - 1`` degrees of freedom, clipped at 0) mapped
    through ``x -> x^(1/p)``, so it is not symmetric around the value.

    Parameters
    ----------
    X_s : array of shape (n, d)
    X_t : array of shape (m, d)
    a, b : arrays of shape (n,) and (m,), optional
        Weights (uniform if omitted).
    n_projections : int or "auto", default 50
        Number of random directions ``L`` (ignored if ``projections`` is
        given). ``"auto"``: start with 100 and add slices until the
        half-width of the 95% interval is at most ``tol``.
    p : float, default 2
    projections : array of shape (d, L), optional
        Directions to use instead of random ones (treated as independent
        slices for the error bar).
    seed : int, np.random.RandomState, np.random.Generator, torch.Generator or None
    log : bool, default False
        Also return a dict with POT's keys ``projections`` (``(d, L)``) and
        ``projected_emds`` (``(L,)``, each ``W_p^p``), and
        ``standard_error``, ``interval`` (95%, for the distance) and
        ``n_projections``. :func:`sliced_estimate` gives the same as a
        dataclass.
    scaler : None, object with ``.transform()``, or callable
        Applied to ``X_s`` and ``X_t`` first, as in POT.
    directions : {"random", "orthogonal", "qmc"}, default "random"
        How directions are drawn (:func:`~mintlab.transport.sample_directions`):
        independent, Haar-random orthonormal frames of ``d`` directions, or
        randomly rotated Fibonacci lattices (``d`` = 2 or 3).
    tol : float, optional
        Target half-width of the 95% interval, with ``n_projections="auto"``.
    max_projections : int, default 10000
        Cap on the slices of an adaptive run (a ``RuntimeWarning`` says if
        ``tol`` was not reached).
    lengths_s, lengths_t : int arrays of shape (K,), optional
        Ragged batch: ``K`` pairs of clouds of different sizes, stacked along
        the first axis of ``X_s`` / ``X_t`` (weights flat alike); or give lists
        of ``K`` arrays, or ``batch_s``/``batch_t``. Returns one value per pair,
        shape ``(K,)``, equal to the per-pair calls with the same directions
        (all pairs share them; one sort per slice and cloud, see
        :mod:`mintlab.transport.batch`). Not with ``log``, ``scaler`` or
        ``n_projections="auto"``.
    batch_s, batch_t : int arrays of shape (N,) / (M,), optional
        Sorted cloud index of every point (as in PyTorch Geometric), instead
        of the lengths.

    Returns
    -------
    float array of shape (), or ``(distance, log)``
        ``SW_p`` (the p-th root is taken, as in POT). Differentiable in
        ``X_s``, ``X_t``, ``a``, ``b`` for torch input.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(50, 3))
    >>> float(sliced_wasserstein_distance(X, X, seed=0))
    0.0
    >>> value, log = sliced_wasserstein_distance(X, X + 1, n_projections="auto", tol=0.05,
    ...                                          seed=0, log=True)
    >>> bool((log["interval"][1] - log["interval"][0]) / 2 <= 0.05)
    True
    """
    if _wants_ragged(X_s, X_t, lengths_s, lengths_t, batch_s, batch_t, points=True):
        from .batch import ragged_sliced_wasserstein_distance

        return ragged_sliced_wasserstein_distance(
            X_s, X_t, a, b, n_projections, p, projections, seed, log=log, scaler=scaler,
            directions=directions, tol=tol,
            lengths_s=lengths_s, lengths_t=lengths_t, batch_s=batch_s, batch_t=batch_t)
    p = _check_p(p)
    budget = _check_budget(n_projections, tol, max_projections, projections)
    X_s, X_t = _apply_scaler(X_s, X_t, scaler)
    io = ArrayIO(X_s, X_t, a, b, projections)
    Xs, Xt, aw, bw = _clouds(io, X_s, X_t, a, b)
    draw, block = _direction_draw(io, Xs.shape[1], projections, budget, directions, seed)
    run = _run_slices(budget, draw,
                      lambda theta: _slice_costs(*_project(Xs, Xt, theta), aw, bw, p),
                      _mean_stats, p, block, error_bar=log)
    value = io.out(run.costs.mean().pow(1.0 / p))
    if log:
        return value, _log(io, run, _cat(io, run.params, 1), directions=directions)
    return value


def max_sliced_wasserstein_distance(X_s: ArrayLike, X_t: ArrayLike, a: ArrayLike | None = None,
                                    b: ArrayLike | None = None, n_projections: int = 50,
                                    p: float = 2, projections: ArrayLike | None = None,
                                    seed: SeedLike = None, log: bool = False,
                                    scaler: Any | None = None, *, n_iter: int = 100,
                                    lr: float = 0.05, return_direction: bool = False) -> Any:
    r"""Max-sliced Wasserstein distance: the most discriminative direction, optimised.

    .. math:: \max\text{-}SW_p(\mu, \nu) = \max_{\theta \in S^{d-1}}
       W_p(\theta \# \mu, \theta \# \nu)

    The search starts from the best of ``n_projections`` candidate
    directions (POT's ``max_sliced_wasserstein_distance`` stops there, as
    ``n_iter=0`` does) and then runs ``n_iter`` Adam ascent steps on the
    sphere, keeping the best direction seen, so the value is never below
    the random-search one for the same candidates. Gradients with respect
    to the points are taken at the optimal direction (envelope theorem).
    Clouds whose best candidate distance is far from 1 (below 2^-6 or above
    2^6) are rescaled by a power of two for the ascent only, so the search
    works the same at every scale and the value scales linearly with the
    coordinates.

    No Monte Carlo error bar is given: the value is a maximum found by
    optimisation, not a mean over random slices, and the best of random
    candidates is biased downward by an amount no sample variance measures;
    ``n_projections="auto"`` is refused.

    Parameters
    ----------
    X_s, X_t, a, b, n_projections, p, projections, seed, scaler
        As in :func:`sliced_wasserstein_distance` (POT's order);
        ``projections`` are the starting candidates.
    log : bool, default False
        Also return a dict with POT's keys ``projections`` (the candidates)
        and ``projected_emds`` (their ``W_p^p``), and ``direction``.
    n_iter : int, default 100
        Ascent steps (0 gives the random-search value).
    lr : float, default 0.05
        Adam step size on the (unnormalised) direction.
    return_direction : bool, default False
        Also return the optimal unit direction, shape ``(d,)``.

    Returns
    -------
    float array of shape (), ``(distance, direction)``; with ``log``, the
    log dict is appended: ``(distance, log)`` or ``(distance, direction, log)``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.zeros((4, 2)); Y = X + np.array([3.0, 0.0])
    >>> round(float(max_sliced_wasserstein_distance(X, Y, seed=0)), 6)
    3.0
    """
    p = _check_p(p)
    if isinstance(n_projections, str):
        raise ValueError("max_sliced_wasserstein_distance is a maximum found by optimisation, "
                         "not a Monte Carlo mean: n_projections must be an integer, got "
                         f"{n_projections!r}")
    n_iter = check_int(n_iter, "n_iter", minimum=0)
    lr = check_positive(lr, "lr")
    X_s, X_t = _apply_scaler(X_s, X_t, scaler)
    io = ArrayIO(X_s, X_t, a, b, projections)
    Xs, Xt, aw, bw = _clouds(io, X_s, X_t, a, b)
    theta0 = _directions(io, Xs.shape[1], projections, n_projections, seed)
    theta, costs = _best_direction(Xs.detach(), Xt.detach(),
                                   None if aw is None else aw.detach(),
                                   None if bw is None else bw.detach(), theta0, p, n_iter, lr)
    ps, pt = _project(Xs, Xt, theta.unsqueeze(1))
    value = _slice_costs(ps, pt, aw, bw, p)[0].pow(1.0 / p)
    out = (io.out(value), io.out(theta)) if return_direction else (io.out(value),)
    if log:
        out = out + ({"projections": io.out(theta0), "projected_emds": io.out(costs),
                      "direction": io.out(theta)},)
    return out if len(out) > 1 else out[0]


def _best_direction(Xs, Xt, aw, bw, theta0, p, n_iter, lr):
    """The best unit direction and the ``W_p^p`` of the (normalised) candidates."""
    with torch.no_grad():
        ps, pt = _project(Xs, Xt, theta0 / theta0.norm(dim=0, keepdim=True))
        costs = _slice_costs(ps, pt, aw, bw, p)
        best = int(torch.argmax(costs))
    best_theta = theta0[:, best] / theta0[:, best].norm()
    best_cost = float(costs[best])
    if n_iter == 0:
        return best_theta, costs
    # Adam's steps stall when the gradients fall near its epsilon (coordinates ~1e-8): run
    # the ascent on the clouds rescaled by a power of two (exact in floating point; the best
    # direction does not change with the scale). Clouds whose best slice distance lies in
    # [2^-6, 2^6] are left as they are.
    if best_cost > 0 and math.isfinite(best_cost):
        k = round(math.log2(best_cost) / p)
        limit = int(math.log2(torch.finfo(Xs.dtype).max)) - 1  # 2^-k finite in the dtype
        k = max(-limit, min(limit, k))
        if abs(k) > 6:
            Xs, Xt = Xs * 2.0 ** -k, Xt * 2.0 ** -k
            with torch.no_grad():
                ps, pt = _project(Xs, Xt, best_theta.unsqueeze(1))
                best_cost = float(_slice_costs(ps, pt, aw, bw, p)[0])
    w = best_theta.clone().requires_grad_(True)
    opt = torch.optim.Adam([w], lr=lr)
    with torch.enable_grad():
        for _ in range(n_iter):
            u = w / w.norm()
            ps, pt = _project(Xs, Xt, u.unsqueeze(1))
            cost = _slice_costs(ps, pt, aw, bw, p)[0]
            if float(cost.detach()) > best_cost:
                best_cost, best_theta = float(cost.detach()), u.detach().clone()
            opt.zero_grad()
            (-cost).backward()
            opt.step()
    with torch.no_grad():
        u = w / w.norm()
        ps, pt = _project(Xs, Xt, u.unsqueeze(1))
        if float(_slice_costs(ps, pt, aw, bw, p)[0]) > best_cost:
            best_theta = u.clone()
    return best_theta, costs


def generalized_sliced_wasserstein_distance(X_s: ArrayLike, X_t: ArrayLike,
                                            a: ArrayLike | None = None, b: ArrayLike | None = None,
                                            slicer: str | nn.Module = "polynomial",
                                            n_projections: int | str = 50, p: float = 2,
                                            seed: SeedLike = None, *, log: bool = False,
                                            tol: float | None = None,
                                            max_projections: int = _MAX_PROJECTIONS,
                                            lengths_s: ArrayLike | None = None,
                                            lengths_t: ArrayLike | None = None,
                                            batch_s: ArrayLike | None = None,
                                            batch_t: ArrayLike | None = None,
                                            **slicer_options: Any) -> Any:
    r"""Generalized sliced Wasserstein distance (Kolouri et al. 2019).

    .. math::
        GSW_p(\mu, \nu) = \Big(\frac{1}{L} \sum_{l=1}^L
        W_p^p(g(\cdot, \theta_l) \# \mu, g(\cdot, \theta_l) \# \nu)\Big)^{1/p}

    Parameters
    ----------
    X_s, X_t, a, b, n_projections, p, seed
        As in :func:`sliced_wasserstein_distance`.
    slicer : str or torch.nn.Module, default "polynomial"
        ``"linear"`` (plain SW), ``"orthonormal"``, ``"polynomial"``,
        ``"circular"``, ``"mlp"`` (built with ``n_projections``, ``seed`` and
        ``slicer_options`` such as ``degree=3`` or ``radius=2.0``), or any
        module mapping ``(n, d)`` to ``(n, L)`` (see
        :mod:`mintlab.transport.slicers`); a module's parameters receive
        gradients, so it can be trained (max-GSW).
    log : bool, default False
        Also return a dict with ``slicer`` (the module, or the list of
        modules of an adaptive run), ``projected_emds`` and the error bar
        (``standard_error``, ``interval``, ``n_projections``), computed as
        in :func:`sliced_wasserstein_distance`. The slices of a given module
        are treated as independent (true for the linear, polynomial and
        circular slicers with random parameters); ``"orthonormal"`` uses
        its frames as blocks; ``"mlp"`` slices share a hidden layer, so no
        standard error is given for it (NaN) and ``"auto"`` is refused.
    tol, max_projections
        With ``n_projections="auto"`` and a named slicer, as in
        :func:`sliced_wasserstein_distance`.
    lengths_s, lengths_t, batch_s, batch_t : int arrays, optional
        Ragged batch of ``K`` cloud pairs (or lists of arrays), one value per
        pair, as in :func:`sliced_wasserstein_distance`.

    Returns
    -------
    float array of shape (), or ``(distance, log)``

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(30, 2))
    >>> float(generalized_sliced_wasserstein_distance(X, X, slicer="circular", seed=0))
    0.0
    """
    if _wants_ragged(X_s, X_t, lengths_s, lengths_t, batch_s, batch_t, points=True):
        from .batch import ragged_generalized_sliced_wasserstein_distance

        return ragged_generalized_sliced_wasserstein_distance(
            X_s, X_t, a, b, slicer, n_projections, p, seed, log=log, tol=tol,
            slicer_options=slicer_options,
            lengths_s=lengths_s, lengths_t=lengths_t, batch_s=batch_s, batch_t=batch_t)
    p = _check_p(p)
    is_module = isinstance(slicer, torch.nn.Module)
    budget = _check_budget(n_projections, tol, max_projections)
    if is_module and budget.n is None:
        raise ValueError("n_projections='auto' draws new slicers, so it needs slicer given by "
                         f"name, got a {type(slicer).__name__} module")
    if slicer == "mlp" and budget.n is None:
        raise ValueError("slicer='mlp' shares one hidden layer across its slices, so they are "
                         "not independent: n_projections='auto' is not available for it")
    io = ArrayIO(X_s, X_t, a, b)
    Xs, Xt, aw, bw = _clouds(io, X_s, X_t, a, b)
    d = Xs.shape[1]
    g = None if is_module else make_generator(seed)
    block = d if slicer == "orthonormal" else 1

    def draw(k):
        module = make_slicer(slicer, d, k, g, dtype=io.dtype, device=io.device, **slicer_options)
        L = module.n_projections if hasattr(module, "n_projections") else None
        if slicer == "mlp":
            return module, [k]
        if L is None:  # a foreign module: its width is known after a forward pass
            return module, None
        return module, [block] * (L // block) + ([L % block] if L % block else [])

    def evaluate(module):
        return _slice_costs(_apply_slicer(module, Xs), _apply_slicer(module, Xt), aw, bw, p)

    def stats(costs, sizes):
        return _mean_stats(costs, sizes if sizes is not None else [1] * costs.shape[-1])

    run = _run_slices(budget, draw, evaluate, stats, p, block, error_bar=log)
    value = io.out(run.costs.mean().pow(1.0 / p))
    if log:
        mods = run.params[0] if len(run.params) == 1 else run.params
        return value, _log(io, run, None, slicer=mods,
                           directions=slicer if isinstance(slicer, str) else "module")
    return value


def energy_based_sliced_wasserstein_distance(X_s: ArrayLike, X_t: ArrayLike,
                                             a: ArrayLike | None = None,
                                             b: ArrayLike | None = None,
                                             n_projections: int | str = 50, p: float = 2,
                                             projections: ArrayLike | None = None,
                                             seed: SeedLike = None, log: bool = False, *,
                                             directions: str = "random", tol: float | None = None,
                                             max_projections: int = _MAX_PROJECTIONS,
                                             lengths_s: ArrayLike | None = None,
                                             lengths_t: ArrayLike | None = None,
                                             batch_s: ArrayLike | None = None,
                                             batch_t: ArrayLike | None = None) -> Any:
    r"""Energy-based sliced Wasserstein (Nguyen & Ho 2023): slices weighted by their cost.

    .. math::
        EBSW_p^p = \sum_l \frac{e^{W_l}}{\sum_k e^{W_k}} W_l,
        \quad W_l = W_p^p(\theta_l \# \mu, \theta_l \# \nu)

    The importance weights are held fixed in the backward pass (as in the
    paper's importance-sampling estimator). A baseline of the
    ``rethinking-sw`` experiment. Arguments as in
    :func:`sliced_wasserstein_distance`.

    **Error bar.** ``EBSW_p^p`` is a ratio of two Monte Carlo means,
    ``mean(e^W W) / mean(e^W)``; its standard error is the ratio
    estimator's linearised one over independent blocks,
    ``sqrt(B/(B-1) sum_b (U_b - R V_b)^2) / sum_b V_b``, then the delta
    method for the p-th root as in :func:`sliced_wasserstein_distance`. The
    interval covers the limit of infinitely many slices; for few slices the
    self-normalised estimate has a bias of order ``1/L``.

    A ragged batch of ``K`` cloud pairs (lists of arrays, or the keywords
    ``lengths_s``/``lengths_t``/``batch_s``/``batch_t``) gives one value per
    pair, as in :func:`sliced_wasserstein_distance`.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(30, 2))
    >>> float(energy_based_sliced_wasserstein_distance(X, X, seed=0))
    0.0
    """
    if _wants_ragged(X_s, X_t, lengths_s, lengths_t, batch_s, batch_t, points=True):
        from .batch import ragged_energy_based_sliced_wasserstein_distance

        return ragged_energy_based_sliced_wasserstein_distance(
            X_s, X_t, a, b, n_projections, p, projections, seed, log=log,
            directions=directions, tol=tol,
            lengths_s=lengths_s, lengths_t=lengths_t, batch_s=batch_s, batch_t=batch_t)
    p = _check_p(p)
    budget = _check_budget(n_projections, tol, max_projections, projections)
    io = ArrayIO(X_s, X_t, a, b, projections)
    Xs, Xt, aw, bw = _clouds(io, X_s, X_t, a, b)
    draw, block = _direction_draw(io, Xs.shape[1], projections, budget, directions, seed)
    run = _run_slices(budget, draw,
                      lambda theta: _slice_costs(*_project(Xs, Xt, theta), aw, bw, p),
                      _energy_stats, p, block, error_bar=log)
    weights = torch.softmax(run.costs.detach(), dim=0)
    value = io.out((weights * run.costs).sum().pow(1.0 / p))
    if log:
        return value, _log(io, run, _cat(io, run.params, 1), directions=directions)
    return value


# --------------------------------------------------------- partial (sopt)
def sliced_partial_wasserstein(X_s: ArrayLike, X_t: ArrayLike, penalty: float,
                               n_projections: int | str = 50, p: float = 2,
                               projections: ArrayLike | None = None, seed: SeedLike = None,
                               *, return_slices: bool = False, log: bool = False,
                               directions: str = "random", tol: float | None = None,
                               max_projections: int = _MAX_PROJECTIONS,
                               lengths_s: ArrayLike | None = None,
                               lengths_t: ArrayLike | None = None,
                               batch_s: ArrayLike | None = None,
                               batch_t: ArrayLike | None = None) -> Any:
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
    n_projections, p, projections, seed, directions, tol, max_projections
        As in :func:`sliced_wasserstein_distance` (no root is taken here, so
        the interval is Student's interval of the mean itself).
    return_slices : bool, default False
        Also return the per-slice :class:`PartialTransport1D` (fixed
        ``n_projections`` only).
    log : bool, default False
        Also return a dict with ``projections``, ``projected_emds`` (the
        per-slice penalised costs) and the error bar.
    lengths_s, lengths_t, batch_s, batch_t : int arrays, optional
        Ragged batch of ``K`` cloud pairs (or lists of arrays), one value per
        pair, as in :func:`sliced_wasserstein_distance`.

    Returns
    -------
    float array of shape ()
        The mean penalised cost over slices (no root taken); with
        ``return_slices``, a tuple ``(cost, per_slice_result)``; with
        ``log``, the log dict is appended to what is returned.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(20, 2))
    >>> float(sliced_partial_wasserstein(X, X, penalty=1.0, seed=0))
    0.0
    """
    if _wants_ragged(X_s, X_t, lengths_s, lengths_t, batch_s, batch_t, points=True):
        from .batch import ragged_sliced_partial_wasserstein

        return ragged_sliced_partial_wasserstein(
            X_s, X_t, penalty, n_projections, p, projections, seed, log=log,
            directions=directions, tol=tol, return_slices=(return_slices, False),
            lengths_s=lengths_s, lengths_t=lengths_t, batch_s=batch_s, batch_t=batch_t)
    p = _check_p(p)
    budget = _check_budget(n_projections, tol, max_projections, projections)
    if return_slices and budget.n is None:
        raise ValueError("return_slices needs a fixed number of slices, got "
                         "n_projections='auto'")
    io = ArrayIO(X_s, X_t, projections)
    Xs, Xt, _, _ = _clouds(io, X_s, X_t, None, None)
    draw, block = _direction_draw(io, Xs.shape[1], projections, budget, directions, seed)
    results = []

    def evaluate(theta):
        res = partial_wasserstein_1d(*_project(Xs, Xt, theta), penalty, p=p)
        results.append(res)
        return res.cost

    run = _run_slices(budget, draw, evaluate, _mean_stats, 1, block, error_bar=log)
    out: tuple[Any, ...] = (io.out(run.costs.mean()),)
    if return_slices:
        out = out + (results[0] if io.is_torch else _to_numpy(results[0]),)
    if log:
        out = out + (_log(io, run, _cat(io, run.params, 1), directions=directions),)
    return out if len(out) > 1 else out[0]


def _to_numpy(res):
    from dataclasses import replace

    return replace(res, **{k: (v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else v)
                           for k, v in vars(res).items()})


# ------------------------------------------------------------ sphere (s3w)
_ROTATION_POOLS: dict = {}


def _rotation_pool(d, pool_size, dtype, device):
    """The ARI-S3W pool: ``pool_size`` Haar rotations drawn once per (d, size, dtype, device).

    Drawn from a fixed seed so that results do not depend on call order.
    """
    key = (d, pool_size, dtype, str(device))
    if key not in _ROTATION_POOLS:
        _ROTATION_POOLS[key] = random_rotations(d, pool_size, seed=0, dtype=dtype, device=device)
    return _ROTATION_POOLS[key]


def s3w_distance(X_s: ArrayLike, X_t: ArrayLike, a: ArrayLike | None = None,
                 b: ArrayLike | None = None, variant: str = "s3w", p: float = 2,
                 n_projections: int | str = 100, n_rotations: int = 10, pool_size: int = 100,
                 h: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 projections: ArrayLike | None = None, seed: SeedLike = None, *,
                 log: bool = False, directions: str = "random", tol: float | None = None,
                 max_projections: int = _MAX_PROJECTIONS, lengths_s: ArrayLike | None = None,
                 lengths_t: ArrayLike | None = None, batch_s: ArrayLike | None = None,
                 batch_t: ArrayLike | None = None) -> Any:
    r"""Stereographic spherical sliced Wasserstein distance (``s3w``) for data on ``S^{d-1}``.

    .. math::
        S3W_p(\mu, \nu) = SW_p\big((h \circ \phi) \# \mu, (h \circ \phi) \# \nu\big)

    ``phi`` is the stereographic projection and ``h`` its radial correction
    (:func:`~mintlab.transport.spherical_equidistant_map`). ``phi`` depends
    on the choice of pole, so the distance is not rotation invariant; the
    rotation-invariant variant averages over random rotations:

    .. math::
        RI\text{-}S3W_p^p(\mu, \nu) = \mathbb{E}_{R \sim \mathrm{Haar}(SO(d))}
        S3W_p^p(R \# \mu, R \# \nu)

    Parameters
    ----------
    X_s, X_t : arrays of shape (n, d), (m, d)
        Points on the unit sphere (rows of norm 1).
    a, b : optional weights
    variant : {"s3w", "ri", "ari"}
        ``"s3w"``: one fixed pole. ``"ri"``: ``n_rotations`` fresh Haar
        rotations per call. ``"ari"`` (amortised RI): ``n_rotations`` drawn
        from a pool of ``pool_size`` rotations generated once and reused
        across calls.
    p : float, default 2
    n_projections : int or "auto", default 100
        Directions in ``R^{d-1}``, shared by all rotations (one matmul).
    n_rotations, pool_size : int
        For the RI variants.
    h : callable, optional
        A custom correction applied to the stereographic image (torch
        tensors in and out); the default is the paper's ``h_1``.
    projections : array of shape (d - 1, L), optional
    seed : int, numpy or torch generator, or None
        Drives directions, rotations and pool sampling.
    log : bool, default False
        Also return a dict with ``projections`` (``(d - 1, L)``),
        ``projected_emds`` (``(L,)``, or ``(R, L)`` for the RI variants) and
        the error bar. For the RI variants rotations and directions are
        crossed; the variance of the mean is estimated as
        ``Var(rotation means) / R + Var(direction means)`` (block
        variance), with Welch-Satterthwaite degrees of freedom. An adaptive
        run adds directions only, so the rotation part is fixed by
        ``n_rotations`` (for ``"ari"``, rotations are a sample of the fixed
        pool, and the interval is for the pool's average).
    directions, tol, max_projections
        As in :func:`sliced_wasserstein_distance` (``"qmc"`` needs ``d - 1``
        = 2 or 3).
    lengths_s, lengths_t, batch_s, batch_t : int arrays, optional
        Ragged batch of ``K`` cloud pairs (or lists of arrays), one value per
        pair, as in :func:`sliced_wasserstein_distance`.

    Returns
    -------
    float array of shape (), or ``(distance, log)``
        ``S3W_p`` (the p-th root of the mean slice cost, as for
        :func:`sliced_wasserstein_distance`).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(40, 3))
    >>> X /= np.linalg.norm(X, axis=1, keepdims=True)
    >>> float(s3w_distance(X, X, variant="ri", seed=0))
    0.0
    """
    if _wants_ragged(X_s, X_t, lengths_s, lengths_t, batch_s, batch_t, points=True):
        from .batch import ragged_s3w_distance

        return ragged_s3w_distance(
            X_s, X_t, a, b, variant, p, n_projections, n_rotations, pool_size, h, projections,
            seed, log=log, directions=directions, tol=tol, lengths_s=lengths_s,
            lengths_t=lengths_t, batch_s=batch_s, batch_t=batch_t)
    p = _check_p(p)
    variant = check_choice(variant, "variant", ("s3w", "ri", "ari"))
    budget = _check_budget(n_projections, tol, max_projections, projections)
    io = ArrayIO(X_s, X_t, a, b, projections)
    Xs, Xt, aw, bw = _clouds(io, X_s, X_t, a, b)
    d = Xs.shape[1]
    if d < 2:
        raise ValueError(
            f"X_s must hold points of S^(d-1) with d >= 2, got shape {tuple(Xs.shape)}"
        )
    g = make_generator(seed)
    draw, block = _direction_draw(io, d - 1, projections, budget, directions, g)
    if variant != "s3w":
        n_rotations = check_int(n_rotations, "n_rotations", minimum=1)
    if variant == "ari":
        pool_size = check_int(pool_size, "pool_size", minimum=1)
        if n_rotations > pool_size:
            raise ValueError(f"n_rotations must be <= pool_size = {pool_size}, got {n_rotations}")
    images: list[torch.Tensor] = []

    def evaluate(theta):
        if not images:  # rotations are drawn after the first directions
            if variant == "s3w":
                images.append((_equidistant(Xs, h, "X_s"), _equidistant(Xt, h, "X_t")))
            else:
                if variant == "ri":
                    rots = random_rotations(d, n_rotations, g, dtype=io.dtype,
                                            device=io.device)
                else:
                    pool = _rotation_pool(d, pool_size, io.dtype, io.device)
                    idx = torch.randperm(pool_size, generator=g)[:n_rotations].to(io.device)
                    rots = pool[idx]
                # (R, n, d) rotated clouds -> (R, n, d-1) images
                images.append((_equidistant(Xs @ rots.transpose(-1, -2), h, "X_s"),
                               _equidistant(Xt @ rots.transpose(-1, -2), h, "X_t")))
        Zs, Zt = images[0]
        # (L, n) or (R, L, n) projections, one sort for all
        return _slice_costs(theta.T @ Zs.transpose(-1, -2), theta.T @ Zt.transpose(-1, -2),
                            aw, bw, p)

    stats = _mean_stats if variant == "s3w" else _crossed_stats
    run = _run_slices(budget, draw, evaluate, stats, p, block, error_bar=log)
    value = io.out(run.costs.mean().pow(1.0 / p))
    if log:
        return value, _log(io, run, _cat(io, run.params, 1), directions=directions)
    return value


def linear_sliced_wasserstein_sphere(X_s: ArrayLike, X_t: ArrayLike | None = None,
                                     a: ArrayLike | None = None, b: ArrayLike | None = None,
                                     n_projections: int | str = 50,
                                     projections: ArrayLike | None = None,
                                     seed: SeedLike = None, log: bool = False, *,
                                     n_references: int | None = None, directions: str = "random",
                                     tol: float | None = None,
                                     max_projections: int = _MAX_PROJECTIONS) -> Any:
    r"""Linear spherical sliced OT (``lssot``) between measures on ``S^{d-1}``.

    .. math::
        LSSOT_2(\mu, \nu) = \Big(\int_{V_{d,2}} LCOT_2^2(P^U_\# \mu, P^U_\# \nu)
        \, d\sigma(U)\Big)^{1/2}

    Every great-circle slice (:func:`~mintlab.transport.sphere_to_circle`) is
    compared with the linear circular OT of
    :func:`~mintlab.transport.linear_circular_ot`, computed exactly
    (``n_references=None``) or on a grid of ``n_references`` points.
    Same meaning and positional order as POT's
    ``ot.linear_sliced_wasserstein_sphere`` (root taken); note that POT
    0.9.7 evaluates each circle quantile one atom too far (its CDF is
    zero-padded before the search), so its values differ.

    Parameters
    ----------
    X_s : array of shape (n, d)
        Points on the unit sphere.
    X_t : array of shape (m, d), optional
        Default: the uniform measure on the sphere (each slice is then
        compared with the uniform measure on the circle, exactly).
    a, b : optional weights
    n_projections : int or "auto", default 50
    projections : array of shape (L, d, 2), optional
        Orthonormal frames (:func:`~mintlab.transport.random_frames`).
    seed : int, numpy or torch generator, or None
    log : bool, default False
        Also return a dict with POT's keys ``projections`` (``(L, d, 2)``)
        and ``projected_emds`` (each slice's ``LCOT_2^2``), and the error
        bar (square root by the delta method, as for ``p = 2`` in
        :func:`sliced_wasserstein_distance`).
    n_references : int, optional
    directions : {"random", "orthogonal"}, default "random"
        Independent Haar frames, or blocks of ``d // 2`` mutually orthogonal
        planes cut from one Haar rotation.
    tol, max_projections
        As in :func:`sliced_wasserstein_distance`.

    Returns
    -------
    float array of shape (), or ``(distance, log)``

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(20, 3))
    >>> X /= np.linalg.norm(X, axis=1, keepdims=True)
    >>> float(linear_sliced_wasserstein_sphere(X, X, seed=0))
    0.0
    """
    budget = _check_budget(n_projections, tol, max_projections, projections)
    io = ArrayIO(X_s, X_t, a, b, projections)
    if X_t is None:
        Xs = io.tensor(X_s, "X_s", ndim=2)
        aw = None if a is None else check_weights(
            io.tensor(a, "a", ndim=1, shape=(Xs.shape[0],)), "a")
        if b is not None:
            raise ValueError("b given without X_t")
        Xt = bw = None
    else:
        Xs, Xt, aw, bw = _clouds(io, X_s, X_t, a, b)
    _check_sphere(Xs, "X_s")
    if Xt is not None:
        _check_sphere(Xt, "X_t")
    d = Xs.shape[1]
    draw, block = _frame_draw(io, d, projections, budget, directions, seed)

    def evaluate(U):
        cs = _circle_coordinates(Xs, U)
        aw_l = None if aw is None else aw.expand(U.shape[0], aw.shape[0])
        if Xt is None:
            return linear_circular_ot(cs, None, aw_l, n_references=n_references)
        ct = _circle_coordinates(Xt, U)
        bw_l = None if bw is None else bw.expand(U.shape[0], bw.shape[0])
        return linear_circular_ot(cs, ct, aw_l, bw_l, n_references=n_references)

    run = _run_slices(budget, draw, evaluate, _mean_stats, 2, block, error_bar=log)
    value = io.out(run.costs.mean().sqrt())
    if log:
        return value, _log(io, run, _cat(io, run.params, 0), directions=directions)
    return value


# ------------------------------------------------- one estimate, as a result
@dataclass(frozen=True)
class SlicedEstimate:
    """A sliced estimate with its Monte Carlo error bar (:func:`sliced_estimate`).

    Attributes
    ----------
    value : float array of shape ()
        The distance (or cost, for ``"sopt"``) as the estimator returns it;
        differentiable for torch input.
    standard_error : float
        Standard error of ``value`` (delta method through the root); NaN
        when fewer than two independent blocks of slices were drawn.
    interval : tuple of two floats
        95% confidence interval for the limit of infinitely many slices.
    n_projections : int
        Slices used.
    per_slice : array
        The cost of every slice (``W_p^p``, ``LCOT_2^2`` or penalised cost).
    directions : str
        The sampling scheme.
    """

    value: Any
    standard_error: float
    interval: tuple
    n_projections: int
    per_slice: Any
    directions: str

    @property
    def half_width(self) -> float:
        """Half the width of :attr:`interval`."""
        return (self.interval[1] - self.interval[0]) / 2


_ESTIMATORS: dict[str, Callable[..., Any]] = {
    "sw": sliced_wasserstein_distance,
    "ebsw": energy_based_sliced_wasserstein_distance,
    "gsw": generalized_sliced_wasserstein_distance,
    "sopt": sliced_partial_wasserstein,
    "s3w": s3w_distance,
    "lssot": linear_sliced_wasserstein_sphere,
}


def sliced_estimate(X_s: ArrayLike, X_t: ArrayLike | None = None, a: ArrayLike | None = None,
                    b: ArrayLike | None = None, *, distance: str = "sw",
                    n_projections: int | str = 50, tol: float | None = None,
                    max_projections: int = _MAX_PROJECTIONS, seed: SeedLike = None,
                    **options: Any) -> SlicedEstimate:
    r"""A sliced distance with its Monte Carlo standard error and 95% interval.

    Every sliced estimator is a mean over random slices,
    ``M = (1/L) sum_l c(theta_l)``, reported as ``M^(1/p)``. Its error bar
    comes from independent blocks of slices (see
    :func:`sliced_wasserstein_distance`); with ``n_projections="auto"``
    slices are added until the interval's half-width is at most ``tol``.

    Parameters
    ----------
    X_s, X_t, a, b
        The two measures (``X_t`` may be omitted for ``"lssot"``: the
        uniform measure; ``a, b`` must be omitted for ``"sopt"``).
    distance : {"sw", "ebsw", "gsw", "sopt", "s3w", "lssot"}, default "sw"
        :func:`sliced_wasserstein_distance`,
        :func:`energy_based_sliced_wasserstein_distance`,
        :func:`generalized_sliced_wasserstein_distance`,
        :func:`sliced_partial_wasserstein` (give ``penalty=``),
        :func:`s3w_distance`, :func:`linear_sliced_wasserstein_sphere`.
        (Max-sliced Wasserstein is an optimum, not a mean: it has no such
        error bar.)
    n_projections : int or "auto", default 50
    tol : float, optional
        Target half-width of the 95% interval (with ``"auto"``).
    max_projections : int, default 10000
    seed : int, numpy or torch generator, or None
    **options
        Passed to the estimator (``p``, ``directions``, ``penalty``,
        ``variant``, ``slicer``, ...).

    Returns
    -------
    SlicedEstimate

    References
    ----------
    Rowland, M. et al. (2019). Orthogonal estimation of Wasserstein distances.
    AISTATS (orthogonal frames). Nguyen, K., Bariletto, N. and Ho, N. (2024).
    Quasi-Monte Carlo for 3D sliced Wasserstein. ICLR (randomised lattices).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X, Y = rng.normal(size=(100, 3)), rng.normal(size=(100, 3)) + 1
    >>> est = sliced_estimate(X, Y, n_projections="auto", tol=0.02, seed=0)
    >>> est.interval[0] <= float(est.value) <= est.interval[1], est.half_width <= 0.02
    (True, True)
    """
    distance = check_choice(distance, "distance", tuple(_ESTIMATORS))
    budget: dict[str, Any] = dict(n_projections=n_projections, seed=seed, log=True, tol=tol,
                                  max_projections=max_projections)
    if distance == "sopt":
        if X_t is None:
            raise ValueError(f"X_t is required for distance={distance!r}")
        if a is not None or b is not None:
            raise ValueError("distance='sopt' compares sums of unit Diracs: a and b must be None")
        if "penalty" not in options:
            raise ValueError("distance='sopt' needs penalty=")
        out = sliced_partial_wasserstein(X_s, X_t, options.pop("penalty"), **budget, **options)
    else:
        if X_t is None and distance != "lssot":
            raise ValueError(f"X_t is required for distance={distance!r}")
        out = _ESTIMATORS[distance](X_s, X_t, a, b, **budget, **options)
    value, log = out[0], out[-1]
    return SlicedEstimate(value=value, standard_error=log["standard_error"],
                          interval=log["interval"], n_projections=log["n_projections"],
                          per_slice=log["projected_emds"],
                          directions=log["directions"])
