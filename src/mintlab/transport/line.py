"""One-dimensional transport kernels, batched over leading dimensions.

Every function takes values of shape ``(..., n)`` and ``(..., m)`` whose leading
dimensions broadcast (one row per slice of a sliced method) and solves all rows
with one sort. Numpy in gives float64 numpy out; torch in gives torch out on
the same device and dtype, differentiable in values and weights.

Papers: ``sopt`` (partial transport on the line), ``lcot`` (transport on the
circle).
"""

from __future__ import annotations

import warnings
from collections import namedtuple
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .._validation import (
    ArrayIO,
    check_int,
    check_nonnegative,
    check_positive,
    check_same_leading,
    check_weights,
)
from ..typing import Array, ArrayLike
from ._segments import wants_ragged_pair as _wants_ragged

__all__ = [
    "wasserstein_1d",
    "quantile_function",
    "wasserstein_1d_plan",
    "MonotonePlan",
    "partial_wasserstein_1d",
    "PartialTransport1D",
    "partial_wasserstein_1d_path",
    "PartialPath1D",
    "circle_wasserstein",
]


# ----------------------------------------------------------------- helpers
def _check_p(p: Any) -> float:
    p = check_positive(p, "p")
    if p < 1:
        raise ValueError(f"p must be >= 1 (the cost |x - y|^p must be convex), got {p}")
    return p


def _pair(u_values, v_values, u_weights, v_weights, *, allow_weights: bool = True):
    """Validate a pair of batched 1D measures; weights are normalised to sum to one."""
    io = ArrayIO(u_values, v_values, u_weights, v_weights)
    u = io.tensor(u_values, "u_values", min_ndim=1)
    v = io.tensor(v_values, "v_values", min_ndim=1)
    check_same_leading(u, v, "u_values", "v_values")
    batch = torch.broadcast_shapes(u.shape[:-1], v.shape[:-1])
    u = u.expand(*batch, u.shape[-1])
    v = v.expand(*batch, v.shape[-1])
    ws: list[torch.Tensor | None] = []
    for w, vals, name in ((u_weights, u, "u_weights"), (v_weights, v, "v_weights")):
        if w is None:
            ws.append(None)
            continue
        wt = io.tensor(w, name, min_ndim=1)
        if wt.shape[-1] != vals.shape[-1]:
            raise ValueError(
                f"{name} must have last dimension {vals.shape[-1]} to match the values, "
                f"got shape {tuple(wt.shape)}"
            )
        try:
            wt = wt.expand(*batch, vals.shape[-1])
        except RuntimeError:
            raise ValueError(
                f"{name} of shape {tuple(wt.shape)} does not broadcast to the values' "
                f"shape {(*batch, vals.shape[-1])}"
            ) from None
        ws.append(check_weights(wt, name))
    return io, u, v, ws[0], ws[1]


_SORT_POOL = None


def _both(fn, a, b, size: int):
    """``(fn(a), fn(b))``; for large inputs on two threads (numpy's sorts release the GIL)."""
    global _SORT_POOL
    if size < 1 << 16 or torch.get_num_threads() < 2:
        return fn(a), fn(b)
    if _SORT_POOL is None:
        from concurrent.futures import ThreadPoolExecutor

        _SORT_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mintlab-sort")
    fut = _SORT_POOL.submit(fn, a)
    rb = fn(b)
    return fut.result(), rb


def _argsort_rows(x: torch.Tensor):
    """Sorted float64 rows of ``x`` and their argsort, as numpy arrays.

    CPU tensors are sorted by numpy, faster than ``torch.sort`` on long rows.
    """
    if x.device.type != "cpu":
        xs, order = torch.sort(x, dim=-1)
        return xs.cpu().to(torch.float64).numpy(), order.cpu().numpy()
    a = x.to(torch.float64).numpy()
    idx = np.argsort(a, -1)
    return np.take_along_axis(a, idx, -1), idx


def _argsort_pair(u: torch.Tensor, v: torch.Tensor):
    """:func:`_argsort_rows` of both inputs: ``(us, u_order, vs, v_order)``."""
    ru, rv = _both(_argsort_rows, u, v, u.numel() + v.numel())
    return (*ru, *rv)


def _sorted_values_cpu(x: torch.Tensor) -> np.ndarray:
    return np.sort(x.numpy(), -1)


def _uniform(x: torch.Tensor) -> torch.Tensor:
    return torch.full_like(x, 1.0 / x.shape[-1])


def _pow(d: torch.Tensor, p: float, *, inplace: bool = False) -> torch.Tensor:
    """``|d|^p``; with ``inplace`` (a temporary nobody differentiates) ``d`` is overwritten."""
    if inplace and not d.requires_grad:
        return d.abs_() if p == 1.0 else (d.square_() if p == 2.0 else d.abs_().pow_(p))
    if p == 1.0:
        return d.abs()
    if p == 2.0:
        return d * d
    return d.abs().pow(p)


@dataclass(frozen=True)
class _Coupling:
    u_sorter: torch.Tensor  # (..., n) argsort of u
    v_sorter: torch.Tensor
    iu: torch.Tensor  # (..., n+m) index into sorted u of each quantile piece
    iv: torch.Tensor
    mass: torch.Tensor  # (..., n+m) length of each quantile piece
    u_piece: torch.Tensor  # (..., n+m) u value of each piece
    v_piece: torch.Tensor


def _sorted_cdf(x: torch.Tensor, w: torch.Tensor | None):
    """Sorted support, its sorting permutation and cumulative weights (uniform if ``w`` is None)."""
    xs, sorter = torch.sort(x, dim=-1)
    w = _uniform(x) if w is None else w
    return xs, sorter, torch.cumsum(torch.gather(w, -1, sorter), -1)


def _monotone_coupling(u, v, uw, vw) -> _Coupling:
    """The quantile (north-west corner) coupling of two measures."""
    us, u_sorter, cu = _sorted_cdf(u, uw)
    vs, v_sorter, cv = _sorted_cdf(v, vw)
    qs, _ = torch.sort(torch.cat([cu, cv], -1), dim=-1)
    mass = torch.diff(qs, dim=-1, prepend=torch.zeros_like(qs[..., :1]))
    # the piece (q_{k-1}, q_k] takes the first atom whose cumulative weight reaches q_k
    qd = qs.detach().contiguous()
    iu = torch.searchsorted(cu.detach().contiguous(), qd).clamp_(max=u.shape[-1] - 1)
    iv = torch.searchsorted(cv.detach().contiguous(), qd).clamp_(max=v.shape[-1] - 1)
    return _Coupling(u_sorter, v_sorter, iu, iv, mass,
                     torch.gather(us, -1, iu), torch.gather(vs, -1, iv))


# --------------------------------------------------------------- W_p on R
def wasserstein_1d(u_values: ArrayLike, v_values: ArrayLike, u_weights: ArrayLike | None = None,
                   v_weights: ArrayLike | None = None, p: float = 1, require_sort: bool = True,
                   return_plans: bool | str = False, *, u_lengths: ArrayLike | None = None,
                   v_lengths: ArrayLike | None = None, u_batch: ArrayLike | None = None,
                   v_batch: ArrayLike | None = None) -> Any:
    r"""Wasserstein distance to the power p between 1D measures, batched.

    .. math::
        W_p^p(\mu, \nu) = \int_0^1 |F_\mu^{-1}(t) - F_\nu^{-1}(t)|^p \, dt

    Same meaning as POT's ``ot.wasserstein_1d`` (the p-th power is returned),
    but the batch dimensions lead: row ``[..., :]`` of ``u_values`` is compared
    with the same row of ``v_values``. Equal sizes with uniform weights use
    the sorted difference directly; otherwise the quantile functions are
    compared on the merged cumulative weights.

    Parameters
    ----------
    u_values : array of shape (..., n)
        Support of the first measure(s).
    v_values : array of shape (..., m)
        Support of the second measure(s); leading dimensions broadcast with ``u_values``.
    u_weights, v_weights : array of shape (..., n) / (..., m), optional
        Non-negative weights, normalised to sum to one along the last axis;
        uniform when omitted.
    p : float, default 1
        Power of the ground cost ``|x - y|^p``; must be >= 1.
    require_sort : bool, default True
        As in POT: ``False`` declares every row already sorted, so the atoms
        are coupled in the order given (for unsorted rows this is the cost of
        that order-preserving coupling, not ``W_p^p``).
    return_plans : bool or "coo_tuple", default False
        As in POT: also return the optimal plan of every row, as a list over
        the rows (leading dimensions flattened in C order; one entry for a
        single pair) of sparse ``(n, m)`` matrices (``scipy.sparse.coo_array``
        for numpy input, a torch sparse COO tensor for torch input), or with
        ``"coo_tuple"`` of ``PlanTuple(data, rows, cols)`` named tuples.
    u_lengths, v_lengths : int arrays of shape (K,), optional
        Ragged batch: ``K`` problems of different sizes, flat along the last
        axis of ``u_values`` / ``v_values`` (weights flat alike). Instead, give
        lists of ``K`` 1-D arrays, or ``u_batch``/``v_batch``. The result then has
        shape ``(..., K)``, one value per problem, equal to the per-pair calls
        (see :mod:`mintlab.transport.batch`).
    u_batch, v_batch : int arrays of shape (N,) / (M,), optional
        Sorted problem index of every entry (as in PyTorch Geometric), instead
        of the lengths.

    Returns
    -------
    array of shape (...)
        ``W_p^p`` per row. Differentiable in values and weights for torch input.
        With ``return_plans``, the pair ``(cost, plans)``.

    Examples
    --------
    >>> import numpy as np
    >>> float(wasserstein_1d(np.array([0.0, 1.0]), np.array([1.0, 2.0]), p=2))
    1.0
    >>> cost, plans = wasserstein_1d(np.array([0.0, 1.0]), np.array([2.0, 1.0]), p=2,
    ...                              return_plans=True)
    >>> plans[0].toarray()
    array([[0. , 0.5],
           [0.5, 0. ]])
    """
    if _wants_ragged(u_values, v_values, u_lengths, v_lengths, u_batch, v_batch):
        if return_plans is not False:
            raise ValueError("return_plans is not available for ragged batches (lists of "
                             "arrays, lengths or batch vectors); call per pair for plans")
        from .batch import ragged_wasserstein_1d

        return ragged_wasserstein_1d(u_values, v_values, u_weights, v_weights, p,
                                     u_lengths=u_lengths, v_lengths=v_lengths,
                                     u_batch=u_batch, v_batch=v_batch)
    p = _check_p(p)
    if return_plans not in (False, True, "coo_tuple"):
        raise ValueError(f"return_plans must be False, True or 'coo_tuple', got {return_plans!r}")
    if not isinstance(require_sort, bool | np.bool_):
        raise TypeError(f"require_sort must be a bool, got {type(require_sort).__name__}")
    io, u, v, uw, vw = _pair(u_values, v_values, u_weights, v_weights)
    if require_sort and return_plans is False:
        return io.out(_wasserstein_1d(u, v, uw, vw, p))
    c = _monotone_coupling(u, v, uw, vw) if require_sort else _given_order_coupling(u, v, uw, vw)
    cost = io.out((c.mass * _pow(c.u_piece - c.v_piece, p)).sum(-1))
    if return_plans is False:
        return cost
    return cost, _plan_list(io, c, u.shape[-1], v.shape[-1], return_plans == "coo_tuple")


def _wasserstein_1d(u, v, uw, vw, p):
    """:func:`wasserstein_1d` on validated tensors (weights normalised or None)."""
    if uw is None and vw is None and u.shape[-1] == v.shape[-1]:
        if u.device.type == "cpu" and not (u.requires_grad or v.requires_grad):
            # no gradient needed: numpy's sort is faster than torch.sort here
            us, vs = _both(_sorted_values_cpu, u.detach(), v.detach(), u.numel() + v.numel())
            d = np.subtract(us, vs, out=us)
            if p == 2.0:
                w = np.einsum("...n,...n->...", d, d) / d.shape[-1]
            else:
                np.abs(d, out=d)
                w = (d if p == 1.0 else d**p).mean(-1)
            return torch.as_tensor(w, dtype=u.dtype)
        us = torch.sort(u, dim=-1).values
        vs = torch.sort(v, dim=-1).values
        if us.requires_grad or vs.requires_grad:
            return _pow(us - vs, p).mean(-1)
        d = us.sub_(vs)  # temporaries: work in place
        if p == 2.0:
            return torch.einsum("...n,...n->...", d, d) / d.shape[-1]
        return _pow(d, p, inplace=True).mean(-1)
    c = _monotone_coupling(u, v, uw, vw)
    return (c.mass * _pow(c.u_piece - c.v_piece, p)).sum(-1)


def _given_order_coupling(u, v, uw, vw) -> _Coupling:
    """The quantile coupling of two measures whose atoms are taken as already sorted."""
    cu = torch.cumsum(_uniform(u) if uw is None else uw, -1)
    cv = torch.cumsum(_uniform(v) if vw is None else vw, -1)
    qs, _ = torch.sort(torch.cat([cu, cv], -1), dim=-1)
    mass = torch.diff(qs, dim=-1, prepend=torch.zeros_like(qs[..., :1]))
    qd = qs.detach().contiguous()
    iu = torch.searchsorted(cu.detach().contiguous(), qd).clamp_(max=u.shape[-1] - 1)
    iv = torch.searchsorted(cv.detach().contiguous(), qd).clamp_(max=v.shape[-1] - 1)
    u_order = torch.arange(u.shape[-1], device=u.device).expand(u.shape)
    v_order = torch.arange(v.shape[-1], device=v.device).expand(v.shape)
    return _Coupling(u_order, v_order, iu, iv, mass, torch.gather(u, -1, iu),
                     torch.gather(v, -1, iv))


#: POT's sparse plan of one 1D problem: masses ``data`` at ``(rows, cols)``.
PlanTuple = namedtuple("PlanTuple", ["data", "rows", "cols"])


def _plan_list(io, c: _Coupling, n: int, m: int, as_tuples: bool) -> list:
    """The plan of every row of a coupling as POT returns them: sparse matrices or tuples."""
    rows = torch.gather(c.u_sorter, -1, c.iu).reshape(-1, c.iu.shape[-1])
    cols = torch.gather(c.v_sorter, -1, c.iv).reshape(-1, c.iv.shape[-1])
    data = c.mass.reshape(-1, c.mass.shape[-1])
    if as_tuples:
        return [PlanTuple(io.out(data[k]), io.out(rows[k]), io.out(cols[k]))
                for k in range(data.shape[0])]
    if io.is_torch:
        return [torch.sparse_coo_tensor(torch.stack([rows[k], cols[k]]), data[k], (n, m),
                                        check_invariants=True) for k in range(data.shape[0])]
    import scipy.sparse

    return [scipy.sparse.coo_array((io.out(data[k]), (io.out(rows[k]), io.out(cols[k]))),
                                   shape=(n, m)) for k in range(data.shape[0])]


def quantile_function(qs: ArrayLike, cws: ArrayLike, xs: ArrayLike) -> Array:
    r"""Quantile function of a sorted discrete measure, batched over leading dims.

    ``Q(q) = xs[i]`` for the first ``i`` with ``cws[i] >= q`` (as in POT's
    ``ot.quantile_function``, with batch dimensions leading).

    Parameters
    ----------
    qs : array of shape (..., k)
        Levels in [0, 1].
    cws : array of shape (..., n)
        Cumulative weights of the sorted support, non-decreasing, last entry 1.
    xs : array of shape (..., n)
        Sorted support.

    Returns
    -------
    array of shape (..., k)

    Examples
    --------
    >>> import numpy as np
    >>> quantile_function(np.array([0.2, 0.7]), np.array([0.5, 1.0]), np.array([3.0, 5.0]))
    array([3., 5.])
    """
    io = ArrayIO(qs, cws, xs)
    q = io.tensor(qs, "qs", min_ndim=1)
    cw = io.tensor(cws, "cws", min_ndim=1)
    x = io.tensor(xs, "xs", min_ndim=1)
    if cw.shape != x.shape:
        raise ValueError(f"cws and xs must have the same shape, got {tuple(cw.shape)} and "
                         f"{tuple(x.shape)}")
    if bool((q < 0).any()) or bool((q > 1 + 1e-12).any()):
        raise ValueError("qs must lie in [0, 1]")
    if bool((torch.diff(cw, dim=-1) < 0).any()):
        raise ValueError("cws must be non-decreasing along the last axis")
    check_same_leading(q, cw, "qs", "cws")
    batch = torch.broadcast_shapes(q.shape[:-1], cw.shape[:-1])
    q = q.expand(*batch, q.shape[-1]).contiguous()
    cw = cw.expand(*batch, cw.shape[-1]).contiguous()
    x = x.expand(*batch, x.shape[-1])
    idx = torch.searchsorted(cw.detach(), q.detach()).clamp_(max=x.shape[-1] - 1)
    return io.out(torch.gather(x, -1, idx))


@dataclass(frozen=True)
class MonotonePlan:
    """The optimal (monotone) coupling of two 1D measures in sparse form.

    Attributes
    ----------
    source_index, target_index : int arrays of shape (..., n + m)
        Indices into ``u_values`` and ``v_values`` of each coupled pair.
    mass : array of shape (..., n + m)
        Mass moved between each pair (some entries may be zero).
    cost : array of shape (...)
        ``W_p^p``, the cost of the plan.
    """

    source_index: Any
    target_index: Any
    mass: Any
    cost: Any
    n: int
    m: int

    def to_dense(self):
        """The plan as a dense ``(..., n, m)`` array of the same kind."""
        torch_in = isinstance(self.mass, torch.Tensor)
        src = torch.as_tensor(self.source_index)
        tgt = torch.as_tensor(self.target_index)
        mass = torch.as_tensor(self.mass)
        flat = src * self.m + tgt
        dense = torch.zeros(*mass.shape[:-1], self.n * self.m, dtype=mass.dtype,
                            device=mass.device)
        dense = dense.scatter_add(-1, flat.to(mass.device), mass)
        dense = dense.reshape(*mass.shape[:-1], self.n, self.m)
        return dense if torch_in else dense.numpy()


def wasserstein_1d_plan(u_values: ArrayLike, v_values: ArrayLike,
                        u_weights: ArrayLike | None = None, v_weights: ArrayLike | None = None,
                        p: float = 1) -> MonotonePlan:
    """The monotone optimal plan between 1D measures, batched, in sparse form.

    The monotone (quantile) coupling is optimal for every convex cost
    ``|x - y|^p`` with ``p >= 1``. Arguments as in :func:`wasserstein_1d`.

    Returns
    -------
    MonotonePlan
        ``source_index``, ``target_index``, ``mass`` of shape ``(..., n + m)`` and
        ``cost`` (``W_p^p``) of shape ``(...)``; ``to_dense()`` gives ``(..., n, m)``.

    Examples
    --------
    >>> import numpy as np
    >>> plan = wasserstein_1d_plan(np.array([1.0, 0.0]), np.array([5.0, 3.0]))
    >>> plan.to_dense()
    array([[0.5, 0. ],
           [0. , 0.5]])
    """
    p = _check_p(p)
    io, u, v, uw, vw = _pair(u_values, v_values, u_weights, v_weights)
    c = _monotone_coupling(u, v, uw, vw)
    cost = (c.mass * _pow(c.u_piece - c.v_piece, p)).sum(-1)
    src = torch.gather(c.u_sorter, -1, c.iu)
    tgt = torch.gather(c.v_sorter, -1, c.iv)
    return MonotonePlan(io.out(src), io.out(tgt), io.out(c.mass), io.out(cost),
                        u.shape[-1], v.shape[-1])


# ------------------------------------------------------- partial OT on R
@dataclass(frozen=True)
class PartialTransport1D:
    """Result of :func:`partial_wasserstein_1d`.

    Attributes
    ----------
    cost : array of shape (...)
        Penalised form: ``transport_cost + penalty * (#unmatched u + #unmatched v)``.
        Mass-constrained form: equal to ``transport_cost``.
    transport_cost : array of shape (...)
        ``sum |u_i - v_assignment[i]|^p`` over matched pairs.
    transported : array of shape (...)
        Number of matched pairs (the transported mass).
    assignment : int array of shape (..., n)
        Index in ``v_values`` matched to each ``u_values[..., i]``, or -1.
    penalty : array of shape (...)
        The penalty used (for the mass-constrained form, a penalty at which the
        requested mass is optimal).
    """

    cost: Any
    transport_cost: Any
    transported: Any
    assignment: Any
    penalty: Any


def _solve_partial(us, vs, lams, p):
    from ._partial1d import solve_batch

    B, n = us.shape
    match = np.empty((B, n), np.int64)
    counts = np.empty(B, np.int64)
    if B == 1:  # one row: skip the parallel launch (costly when the cores are busy)
        from ._partial1d import solve_one

        counts[0] = solve_one(us[0], vs[0], float(lams[0]), p, match[0])
        return match, counts
    solve_batch(us, vs, lams, p, match, counts)
    return match, counts


def partial_wasserstein_1d(u_values: ArrayLike, v_values: ArrayLike,
                           penalty: ArrayLike | None = None, p: float = 2, *,
                           n_transported: int | None = None,
                           n_transported_samples: int | None = None,
                           u_lengths: ArrayLike | None = None, v_lengths: ArrayLike | None = None,
                           u_batch: ArrayLike | None = None,
                           v_batch: ArrayLike | None = None) -> PartialTransport1D:
    r"""Exact optimal partial transport between sums of unit Diracs on the line (``sopt``).

    Penalised form (give ``penalty``):

    .. math::
        \min_{\gamma} \sum_{ij} |x_i - y_j|^p \gamma_{ij}
        + \lambda (n - |\gamma|) + \lambda (m - |\gamma|)

    over partial matchings ``gamma`` (``n != m`` allowed). Mass-constrained form
    (give ``n_transported=k``, POT's ``ot.partial.partial_wasserstein_1d``
    problem): the cheapest matching with exactly ``k`` pairs.

    The solvers are exact and compiled. For ``p == 1`` the cost of a matching
    is the integral of the flow of matched mass across the gaps between
    consecutive points, and a dynamic programme over that flow with convex
    piecewise-linear value functions (the slope trick: their slopes kept as one
    sorted deque) solves the problem in time linear in ``n + m`` after sorting,
    for any penalty; the mass-constrained form searches the penalty by
    intersecting the supporting lines of the (concave, piecewise-linear)
    penalised optimum, a few penalised solves.

    For ``p > 1``, an optimal matching is monotone and no unmatched point lies
    inside a matched pair, so the unmatched points split the merged sorted
    points into balanced runs matched in sorted order; the pairs of a run lie
    on one diagonal of the cost matrix, and a run's cost is a difference of
    diagonal prefix sums ``T``. Given ``T``, the penalised problem is a
    dynamic programme linear in ``n + m``, and the mass-constrained one follows
    the successive shortest augmenting paths (each matches two neighbouring
    unmatched points and re-sorts the run between them) with a heap, in
    ``O((n + m) log(n + m))`` for all masses at once (see
    :func:`partial_wasserstein_1d_path`). For ``p == 2``, ``T`` costs
    ``O((n + m) log^2 (n + m))``: the cross term ``x_i y_j`` summed along
    diagonals by divide and conquer with FFT correlations, used when their
    rounding error bound is negligible next to the spread of the data (far
    outliers make it coarse; the runs are then summed directly). Otherwise
    ``T`` is summed directly, in time proportional to the total length of the
    runs between returns of the merged path to each level: near linear for
    overlapping samples, quadratic for strongly shifted ones (for ``p`` other
    than 1 and 2 the penalised form then uses a state-pruned programme
    instead).

    Parameters
    ----------
    u_values : array of shape (..., n)
    v_values : array of shape (..., m)
        Leading dimensions broadcast; each row is one problem.
    penalty : float, optional
        ``lambda >= 0``, the price of each created or destroyed unit of mass.
        A pair is worth matching only if its cost is below ``2 * penalty``.
    p : float, default 2
        Ground cost ``|x - y|^p``, ``p >= 1``.
    n_transported : int, optional
        Number of pairs, ``0 <= k <= min(n, m)``; exclusive with ``penalty``.
    n_transported_samples : int, optional
        POT's name for ``n_transported`` (keyword only; give one of the two).
    u_lengths, v_lengths, u_batch, v_batch : int arrays, optional
        Ragged batch of ``K`` problems of different sizes (or give lists of
        1-D arrays), as in :func:`wasserstein_1d`; ``n_transported`` may then
        hold one integer per problem. ``cost`` etc. have shape ``(..., K)`` and
        ``assignment`` the flat shape of ``u_values``, holding each point's
        partner index within its own problem's ``v_values`` (or -1).

    Returns
    -------
    PartialTransport1D
        ``cost``, ``transport_cost``, ``transported``, ``assignment``, ``penalty``
        (for ``n_transported``: a penalty at which the returned matching is
        also optimal for the penalised problem).
        For torch input the costs are differentiable in the values (the
        assignment held fixed, as the envelope theorem allows).

    Examples
    --------
    >>> import numpy as np
    >>> res = partial_wasserstein_1d(np.array([0.0, 1.0, 10.0]), np.array([0.1, 1.2]), penalty=1.0)
    >>> res.assignment.tolist(), float(res.transported)
    ([0, 1, -1], 2.0)
    >>> round(float(res.cost), 6)  # 0.1^2 + 0.2^2 + one destroyed point
    1.05
    """
    if n_transported_samples is not None:
        if n_transported is not None:
            raise ValueError("give n_transported or its alias n_transported_samples, not both")
        n_transported = n_transported_samples
    if (penalty is None) == (n_transported is None):
        raise ValueError("give exactly one of penalty and n_transported")
    if _wants_ragged(u_values, v_values, u_lengths, v_lengths, u_batch, v_batch):
        from .batch import ragged_partial_wasserstein_1d

        return ragged_partial_wasserstein_1d(u_values, v_values, penalty, p,
                                             n_transported=n_transported,
                                             u_lengths=u_lengths, v_lengths=v_lengths,
                                             u_batch=u_batch, v_batch=v_batch)
    p = _check_p(p)
    io, u, v, _, _ = _pair(u_values, v_values, None, None)
    batch = u.shape[:-1]
    n, m = u.shape[-1], v.shape[-1]
    uf = u.reshape(-1, n)
    vf = v.reshape(-1, m)
    us_np, u_sorter_np, vs_np, v_sorter_np = _argsort_pair(uf.detach(), vf.detach())
    B = us_np.shape[0]
    if penalty is not None:
        lam = check_nonnegative(penalty, "penalty")
        lams = np.full(B, lam)
        match, counts = _solve_partial(us_np, vs_np, lams, p)
    else:
        k = check_int(n_transported, "n_transported", minimum=0)
        if k > min(n, m):
            raise ValueError(f"n_transported must be <= min(n, m) = {min(n, m)}, got {k}")
        lams, match, counts = _penalty_for_mass(us_np, vs_np, p, k)
    # map the assignment from sorted to original indices
    from ._partial1d import unsort_batch

    assign = np.empty((B, n), np.int64)
    unsort_batch(match, u_sorter_np, v_sorter_np, assign)
    assign_t = torch.as_tensor(assign, device=u.device)
    if io.is_torch:
        # recomputed in torch so that the cost is differentiable in the values
        mask = assign_t >= 0
        partner = torch.gather(vf, -1, assign_t.clamp(min=0))
        transport = (_pow(uf - partner, p) * mask).sum(-1)
    else:
        transport = torch.as_tensor(_transport_cost(us_np, vs_np, match, p))
    counts_t = torch.as_tensor(counts, device=u.device, dtype=u.dtype)
    lam_t = torch.as_tensor(lams, device=u.device, dtype=u.dtype)
    if penalty is not None:
        cost = transport + lam_t * (n + m - 2 * counts_t)
    else:
        cost = transport
    shape = tuple(batch)
    return PartialTransport1D(
        cost=io.out(cost.reshape(shape)),
        transport_cost=io.out(transport.reshape(shape)),
        transported=io.out(counts_t.reshape(shape)),
        assignment=io.out(assign_t.reshape(*shape, n)),
        penalty=io.out(lam_t.reshape(shape)),
    )


def _transport_cost(us, vs, match, p):
    """Per-row transport cost of sorted-space matchings ``match`` (B, n)."""
    from ._partial1d import sorted_costs

    out = np.empty(us.shape[0])
    sorted_costs(us, vs, match, float(p), out)
    return out


def _penalty_for_mass(us, vs, p, k, max_iter=200):
    """Per row, a penalty and an optimal matching of it with exactly ``k`` pairs.

    The cheapest ``k``-pair cost ``C(k)`` is convex in ``k`` (a min-cost flow
    value), so the penalised optimum ``phi(lam) = min_k C(k) + lam (n + m - 2k)``
    is concave and piecewise linear in ``lam``, one line per ``k``. Starting
    from a penalty below (``k_lo < k``) and above (``k_hi > k``), each step
    solves at the intersection of the two known lines: either a new ``k``
    strictly between them replaces one side, or the intersection is the
    breakpoint where every mass from ``k_lo`` to ``k_hi`` is optimal, and the
    two matchings are combined into one with ``k`` pairs
    (:func:`_exchange_to_k`). The bracket shrinks every step; in practice a
    handful of solves suffice. Used for ``p == 1`` (linear penalised kernel);
    other ``p`` read the answer off the mass path (:func:`_mass_by_path`).
    """
    if p != 1.0:
        return _mass_by_path(us, vs, p, k)
    B, n = us.shape
    m = vs.shape[1]
    out_match = np.full((B, n), -1, np.int64)
    out_lam = np.zeros(B)
    lo_lam = np.zeros(B)
    lo_match, lo_k = _solve_partial(us, vs, lo_lam, p)
    # at penalty 0 only zero-cost pairs can be taken: any k of them are optimal
    for b in np.nonzero(lo_k >= k)[0]:
        row = lo_match[b].copy()
        row[np.nonzero(row >= 0)[0][k:]] = -1
        out_match[b] = row
    todo = np.nonzero(lo_k < k)[0]
    if todo.size == 0:
        return out_lam, out_match, (out_match >= 0).sum(1)
    span = np.maximum(us[todo, -1], vs[todo, -1]) - np.minimum(us[todo, 0], vs[todo, 0])
    hi_lam = 0.5 * span**p + 1.0  # above half the largest pair cost every pair is worth it
    hi_match, hi_k = _solve_partial(us[todo], vs[todo], hi_lam, p)
    lo_lam, lo_match, lo_k = lo_lam[todo], lo_match[todo], lo_k[todo]
    lo_c = _transport_cost(us[todo], vs[todo], lo_match, p)
    hi_c = _transport_cost(us[todo], vs[todo], hi_match, p)
    hit = hi_k == k
    out_match[todo[hit]] = hi_match[hit]
    out_lam[todo[hit]] = hi_lam[hit]
    act = np.nonzero(~hit)[0]  # positions in todo
    for _ in range(max_iter):
        if act.size == 0:
            break
        lam = (hi_c[act] - lo_c[act]) / (2.0 * (hi_k[act] - lo_k[act]))
        lam = np.clip(lam, lo_lam[act], hi_lam[act])
        rows = todo[act]
        match, cnt = _solve_partial(us[rows], vs[rows], lam, p)
        cost = _transport_cost(us[rows], vs[rows], match, p)
        done = cnt == k
        out_match[rows[done]] = match[done]
        out_lam[rows[done]] = lam[done]
        up = (cnt < k) & (cnt > lo_k[act])
        down = (cnt > k) & (cnt < hi_k[act])
        for sel, l_, m_, k_, c_ in ((up, lo_lam, lo_match, lo_k, lo_c),
                                    (down, hi_lam, hi_match, hi_k, hi_c)):
            idx = act[sel]
            l_[idx], m_[idx], k_[idx], c_[idx] = lam[sel], match[sel], cnt[sel], cost[sel]
        # no new line between the two: the intersection is the breakpoint
        brk = ~(done | up | down)
        for j, a_ in zip(np.nonzero(brk)[0], act[brk], strict=True):
            out_match[rows[j]] = _exchange_to_k(lo_match[a_], hi_match[a_], k, m)
            out_lam[rows[j]] = lam[j]
        act = act[up | down]
    for a_ in act:  # not reached in practice: the bracket shrinks every step
        warnings.warn(f"penalty search did not converge in row {todo[a_]}", RuntimeWarning,
                      stacklevel=3)
        out_match[todo[a_]] = _exchange_to_k(lo_match[a_], hi_match[a_], k, m)
        out_lam[todo[a_]] = hi_lam[a_]
    counts = (out_match >= 0).sum(1)
    return out_lam, out_match, counts


def _exchange_to_k(m_a, m_b, k, m):
    """Flip alternating paths of the difference of two optimal matchings until ``k`` pairs.

    ``m_a`` has fewer than ``k`` pairs, ``m_b`` more; both are optimal for the
    same penalty, so each path of their symmetric difference can be flipped
    independently without changing optimality, and a path whose ``m_b`` side
    has one more pair raises the count by one.
    """
    n = m_a.shape[0]
    ya = np.full(m, -1, np.int64)
    yb = np.full(m, -1, np.int64)
    for i in range(n):
        if m_a[i] >= 0:
            ya[m_a[i]] = i
        if m_b[i] >= 0:
            yb[m_b[i]] = i
    need = k - int((m_a >= 0).sum())
    result = m_a.copy()
    seen = np.zeros(n, bool)
    for start in range(n):
        if need <= 0:
            break
        # a path that gains a pair starts at an x unmatched in a, matched in b
        if seen[start] or m_a[start] >= 0 or m_b[start] < 0:
            continue
        path_x = []
        i = start
        gains = False
        while True:
            seen[i] = True
            path_x.append(i)
            j = m_b[i]
            if j < 0:
                break  # ends at an x unmatched in b: flipping keeps the count
            i2 = ya[j]
            if i2 < 0:
                gains = True  # ends at a y unmatched in a: flipping adds a pair
                break
            i = i2
        if gains:
            for i in path_x:
                result[i] = m_b[i]
            need -= 1
    return result


def _penalty_bounds(deltas):
    """Penalties ``[lower[k], upper[k]]`` at which ``k`` pairs are optimal, from the marginal costs.

    ``k`` pairs are optimal for ``2 * penalty`` between the ``k``-th and ``(k+1)``-th
    marginal costs (non-decreasing; running maximum against rounding).
    """
    d = np.maximum.accumulate(np.maximum(np.asarray(deltas, np.float64), 0.0)) / 2.0
    lower = np.concatenate(([0.0], d))
    upper = np.concatenate((d, [np.inf]))
    return lower, upper


def _penalty_inside(lower, upper, k):
    """One penalty at which ``k`` pairs are optimal: the middle of its interval."""
    lo, hi = float(lower[k]), float(upper[k])
    if np.isinf(hi):
        return lo + max(lo, 1.0)
    return 0.5 * (lo + hi)


def _mass_by_path(us, vs, p, k):
    """Per row, the cheapest ``k``-pair matching and a penalty making it optimal (mass path)."""
    from ._partial1d import mass_batch

    B, n = us.shape
    match = np.empty((B, n), np.int64)
    lams = np.empty(B)
    counts = np.empty(B, np.int64)
    mass_batch(us, vs, p, k, match, counts, lams)
    return lams, match, counts


@dataclass(frozen=True)
class PartialPath1D:
    """Result of :func:`partial_wasserstein_1d_path`: the cheapest cost of every mass.

    Attributes
    ----------
    masses : int array of shape (K + 1,)
        ``0, 1, ..., K`` with ``K = min(n, m)``: numbers of matched pairs.
    costs : array of shape (K + 1,)
        ``C(k)``, the cheapest ``sum |u_i - v_j|^p`` over matchings with ``k`` pairs
        (convex in ``k``).
    marginal_costs : array of shape (K,)
        ``C(k) - C(k - 1)`` for ``k = 1..K``, non-decreasing.
    penalty_lower, penalty_upper : arrays of shape (K + 1,)
        ``k`` pairs are optimal for the penalised problem of
        :func:`partial_wasserstein_1d` exactly when ``penalty_lower[k] <= penalty
        <= penalty_upper[k]`` (half the neighbouring marginal costs;
        ``penalty_upper[K]`` is infinite).
    u_indices, v_indices : int arrays of shape (K,)
        The points of ``u_values`` and ``v_values`` that step ``k`` adds to the
        matched sets (POT's ``indices_x``, ``indices_y``): the optimal ``k``-pair
        matching pairs the first ``k`` of each in sorted order.
    n, m : int
        Sizes of the two inputs.
    """

    masses: Any
    costs: Any
    marginal_costs: Any
    penalty_lower: Any
    penalty_upper: Any
    u_indices: Any
    v_indices: Any
    n: int
    m: int

    def _np(self, a):
        return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)

    def _k(self, k):
        k = check_int(k, "k", minimum=0)
        K = min(self.n, self.m)
        if k > K:
            raise ValueError(f"k must be <= min(n, m) = {K}, got {k}")
        return k

    def penalty_for_mass(self, k) -> float:
        """A penalty at which ``k`` pairs are optimal (the middle of its interval)."""
        k = self._k(k)
        return _penalty_inside(self._np(self.penalty_lower), self._np(self.penalty_upper), k)

    def mass_for_penalty(self, penalty) -> int:
        """The optimal number of pairs at ``penalty`` (the smallest one on a breakpoint)."""
        lam = check_nonnegative(penalty, "penalty")
        return int(np.searchsorted(self._np(self.penalty_upper), lam, side="left"))

    def cost_for_penalty(self, penalty) -> float:
        """The penalised optimum ``min_k C(k) + penalty * (n + m - 2k)``."""
        lam = check_nonnegative(penalty, "penalty")
        k = self.mass_for_penalty(lam)
        return float(self._np(self.costs)[k] + lam * (self.n + self.m - 2 * k))

    def assignment(self, k):
        """The cheapest ``k``-pair matching: ``(n,)`` indices into ``v_values``, -1 if unmatched."""
        k = self._k(k)
        ui = self._np(self.u_indices)[:k]
        vi = self._np(self.v_indices)[:k]
        out = np.full(self.n, -1, np.int64)
        # the k-pair matching pairs the chosen points in sorted order; sorting the
        # indices by value (ties by index, as the solver's merge) pairs them
        out[ui[np.argsort(self._sorted_rank_u[ui], kind="stable")]] = vi[
            np.argsort(self._sorted_rank_v[vi], kind="stable")]
        if isinstance(self.costs, torch.Tensor):
            return torch.as_tensor(out, device=self.costs.device)
        return out

    _sorted_rank_u: Any = field(default=None, repr=False, compare=False)
    _sorted_rank_v: Any = field(default=None, repr=False, compare=False)


def partial_wasserstein_1d_path(u_values: ArrayLike, v_values: ArrayLike, *,
                                p: float = 2) -> PartialPath1D:
    r"""The cheapest transport cost of every mass between unit Diracs on the line, in one sweep.

    For ``k = 0..min(n, m)``,

    .. math::
        C(k) = \min_{|\gamma| = k} \sum_{ij} |x_i - y_j|^p \gamma_{ij}

    over partial matchings ``gamma`` with ``k`` pairs (POT's
    ``ot.partial.partial_wasserstein_1d`` problem for every ``k`` at once).
    ``C`` is convex, so the penalised optimum ``min_k C(k) + \lambda (n + m -
    2k)`` of :func:`partial_wasserstein_1d` is concave and piecewise linear in
    ``lambda``, with ``k`` optimal on ``[\Delta_k / 2, \Delta_{k+1} / 2]``
    (``\Delta_k = C(k) - C(k-1)``); the result converts between masses,
    penalties and costs.

    Successive shortest augmenting paths: from the cheapest ``k``-pair
    matching (monotone, no unmatched point inside a pair), the cheapest
    ``(k+1)``-pair one matches two unmatched points that are neighbours among
    the unmatched points and of opposite kinds, and re-sorts the run of
    matched points between them. Each run's cost is a difference of diagonal
    prefix sums of the cost matrix, so each candidate costs O(1) and a heap
    orders them: ``O((n + m) log(n + m))`` after the prefix sums, which take
    ``O(n + m)`` for ``p == 1``, ``O((n + m) log^2 (n + m))`` for ``p == 2``
    (FFT) and are summed directly otherwise (see :func:`partial_wasserstein_1d`).

    Parameters
    ----------
    u_values : array of shape (n,)
    v_values : array of shape (m,)
    p : float, default 2
        Ground cost ``|x - y|^p``, ``p >= 1``.

    Returns
    -------
    PartialPath1D
        ``masses``, ``costs``, ``marginal_costs``, ``penalty_lower``,
        ``penalty_upper``, ``u_indices``, ``v_indices``, and methods
        ``penalty_for_mass(k)``, ``mass_for_penalty(penalty)``,
        ``cost_for_penalty(penalty)``, ``assignment(k)``. Torch input gives
        torch arrays on its device (not differentiable: use
        :func:`partial_wasserstein_1d` with ``n_transported`` for gradients).

    Examples
    --------
    >>> import numpy as np
    >>> path = partial_wasserstein_1d_path(np.array([0.0, 1.0, 10.0]), np.array([0.1, 1.2]))
    >>> np.round(path.costs, 6).tolist()  # 0.1^2, then + 0.2^2
    [0.0, 0.01, 0.05]
    >>> path.mass_for_penalty(1.0), path.assignment(2).tolist()
    (2, [0, 1, -1])
    >>> round(path.cost_for_penalty(1.0), 6)  # as partial_wasserstein_1d(..., penalty=1.0)
    1.05

    References
    ----------
    Bai, Schmitzer, Thorpe, Kolouri. Sliced optimal partial transport (``sopt``),
    CVPR 2023. Chapel, Tavenard. One for all and all for one: efficient computation
    of partial Wasserstein distances on the line, ICLR 2025.
    """
    from ._partial1d import solve_path

    p = _check_p(p)
    io, u, v, _, _ = _pair(u_values, v_values, None, None)
    if u.ndim != 1 or v.ndim != 1:
        raise ValueError(
            f"u_values and v_values must be 1D, got shapes {tuple(u.shape)} and {tuple(v.shape)}")
    n, m = u.shape[0], v.shape[0]
    us, u_order, vs, v_order = _argsort_pair(u.detach()[None], v.detach()[None])
    is_x, add_f, add_g, deltas = solve_path(us[0], vs[0], p)
    u_order, v_order = u_order[0], v_order[0]
    x_rank = np.cumsum(is_x) - 1  # rank among the u's of each merged position
    y_rank = np.cumsum(~is_x) - 1
    f_is_x = is_x[add_f]
    pos_u = np.where(f_is_x, add_f, add_g)
    pos_v = np.where(f_is_x, add_g, add_f)
    u_idx = u_order[x_rank[pos_u]]
    v_idx = v_order[y_rank[pos_v]]
    costs = np.concatenate(([0.0], np.cumsum(deltas)))
    lower, upper = _penalty_bounds(deltas)
    rank_u = np.empty(n, np.int64)
    rank_u[u_order] = np.arange(n)
    rank_v = np.empty(m, np.int64)
    rank_v[v_order] = np.arange(m)

    def out(a, dtype=None):
        t = torch.as_tensor(a, device=u.device, dtype=dtype if dtype is not None else u.dtype)
        return io.out(t)

    return PartialPath1D(
        masses=out(np.arange(len(costs)), torch.int64),
        costs=out(costs),
        marginal_costs=out(np.asarray(deltas)),
        penalty_lower=out(lower),
        penalty_upper=out(upper),
        u_indices=out(u_idx, torch.int64),
        v_indices=out(v_idx, torch.int64),
        n=n,
        m=m,
        _sorted_rank_u=rank_u,
        _sorted_rank_v=rank_v,
    )


# ------------------------------------------------------------ the circle
def circle_wasserstein(u_values: ArrayLike, v_values: ArrayLike,
                       u_weights: ArrayLike | None = None, v_weights: ArrayLike | None = None,
                       p: float = 1, *, u_lengths: ArrayLike | None = None,
                       v_lengths: ArrayLike | None = None, u_batch: ArrayLike | None = None,
                       v_batch: ArrayLike | None = None) -> Array:
    r"""Wasserstein distance to the power p on the circle :math:`\mathbb{R}/\mathbb{Z}`, batched.

    .. math::
        W_p^p(\mu, \nu) = \min_{\theta \in \mathbb{R}} \int_0^1
        |F_\mu^{-1}(t) - \tilde F_\nu^{-1}(t + \theta)|^p \, dt

    where :math:`\tilde F_\nu^{-1}(s) = F_\nu^{-1}(s - \lfloor s \rfloor) + \lfloor s \rfloor`
    is the periodic lift of the quantile function (Delon, Salomon and
    Sobolevski). For discrete measures the objective is convex and piecewise
    linear in ``theta`` with an explicit slope, so the minimiser is found by
    bisection on the sign of the slope to machine precision; the result is
    exact up to rounding for every ``p >= 1``. For ``p = 1`` the closed form
    :math:`\min_\alpha \int_0^1 |F_\mu - F_\nu - \alpha|` (a weighted median) is used.

    Parameters
    ----------
    u_values, v_values : arrays of shape (..., n) and (..., m)
        Points on the circle as values in [0, 1) (other reals are taken modulo 1).
    u_weights, v_weights : arrays of shape (..., n) and (..., m), optional
        Non-negative weights, normalised; uniform when omitted.
    p : float, default 1
        Power of the geodesic cost.
    u_lengths, v_lengths : int arrays of shape (K,), optional
        Ragged batch: ``K`` problems of different sizes, flat along the last
        axis of ``u_values`` / ``v_values`` (weights flat alike). Instead, give
        lists of ``K`` 1-D arrays, or ``u_batch``/``v_batch``: the sorted problem
        index of every entry, as in PyTorch Geometric. The result then has shape
        ``(..., K)``, one value per problem (see :mod:`mintlab.transport.batch`).
    u_batch, v_batch : int arrays of shape (N,) / (M,), optional
        Sorted problem index of every entry, instead of the lengths.

    Returns
    -------
    array of shape (...)
        ``W_p^p`` on the circle (as POT's ``ot.wasserstein_circle``).

    Examples
    --------
    >>> import numpy as np
    >>> round(float(circle_wasserstein(np.array([0.05]), np.array([0.95]))), 6)
    0.1
    """
    if _wants_ragged(u_values, v_values, u_lengths, v_lengths, u_batch, v_batch):
        from .batch import ragged_circle_wasserstein

        return ragged_circle_wasserstein(u_values, v_values, u_weights, v_weights, p,
                                         u_lengths=u_lengths, v_lengths=v_lengths,
                                         u_batch=u_batch, v_batch=v_batch)
    p = _check_p(p)
    io, u, v, uw, vw = _pair(u_values, v_values, u_weights, v_weights)
    u = torch.remainder(u, 1.0)
    v = torch.remainder(v, 1.0)
    if p == 1.0:
        return io.out(_circle_w1(u, v, _uniform(u) if uw is None else uw,
                                 _uniform(v) if vw is None else vw))
    us, _, cu = _sorted_cdf(u, uw)
    vs, _, cv = _sorted_cdf(v, vw)
    n, m = u.shape[-1], v.shape[-1]
    with torch.no_grad():
        usd, vsd = us.detach(), vs.detach()
        cud, cvd = cu.detach().contiguous(), cv.detach().contiguous()
        v_next = torch.cat([vsd[..., 1:], vsd[..., :1] + 1.0], -1)

        def slope(theta):
            # jumps of t -> lift(t + theta) sit at tau_j = cv_j - theta + k_j in (0, 1]
            k = torch.floor(theta[..., None] - cvd) + 1.0
            tau = cvd - theta[..., None] + k
            iu = torch.searchsorted(cud, tau.contiguous()).clamp_(max=n - 1)
            xq = torch.gather(usd, -1, iu)
            return (_pow(xq - (v_next + k), p) - _pow(xq - (vsd + k), p)).sum(-1)

        lo = torch.full(u.shape[:-1], -1.0, dtype=u.dtype, device=u.device)
        hi = torch.full_like(lo, 1.0)
        for _ in range(64 if u.dtype == torch.float64 else 32):
            mid = 0.5 * (lo + hi)
            pos = slope(mid) >= 0
            hi = torch.where(pos, mid, hi)
            lo = torch.where(pos, lo, mid)
        theta = 0.5 * (lo + hi)
    # cost at theta (differentiable in values and weights through the pieces)
    tau = cv - theta[..., None] + torch.floor(theta[..., None] - cv.detach()) + 1.0
    levels, _ = torch.sort(torch.cat([cu, tau], -1), dim=-1)
    mass = torch.diff(levels, dim=-1, prepend=torch.zeros_like(levels[..., :1]))
    mid = (levels - 0.5 * mass).detach()
    iu = torch.searchsorted(cu.detach().contiguous(), mid.contiguous()).clamp_(max=n - 1)
    s = mid + theta[..., None]
    fl = torch.floor(s)
    iv = torch.searchsorted(cv.detach().contiguous(), (s - fl).contiguous()).clamp_(max=m - 1)
    xq = torch.gather(us, -1, iu)
    yq = torch.gather(vs, -1, iv) + fl
    cost = (mass * _pow(xq - yq, p)).sum(-1)
    if n == m:
        # identical measures cost exactly 0 (the pieces' rounding would leave ~1e-17)
        same = ((us == vs) & (cu == cv)).all(-1)
        cost = torch.where(same, torch.zeros_like(cost), cost)
    return io.out(cost)


def _circle_w1(u, v, uw, vw):
    """W_1 on the circle: ``min_alpha int |F_u - F_v - alpha|``, alpha a weighted median."""
    z, order = torch.sort(torch.cat([u, v], -1), dim=-1)
    w = torch.gather(torch.cat([uw, -vw], -1), -1, order)
    D = torch.cumsum(w, -1)[..., :-1]  # F_u - F_v on [z_k, z_{k+1})
    gaps = torch.diff(z, dim=-1)
    wrap = z[..., :1] + 1.0 - z[..., -1:]  # the piece through 0, where F_u - F_v = 0
    D = torch.cat([D, torch.zeros_like(wrap)], -1)
    lengths = torch.cat([gaps, wrap], -1)
    with torch.no_grad():
        Ds, idx = torch.sort(D, dim=-1)
        cw = torch.cumsum(torch.gather(lengths, -1, idx), -1)
        half = 0.5 * cw[..., -1:]
        k = torch.searchsorted(cw.contiguous(), half.contiguous()).clamp_(max=D.shape[-1] - 1)
        alpha = torch.gather(Ds, -1, k)
    return (lengths * (D - alpha).abs()).sum(-1)


# ------------------------------------------------- linear circular OT (lcot)
def _lcot_parts(u, uw):
    """Sorted support, CDF and circular mean of measures on [0, 1) (``lcot``)."""
    us, _, cu = _sorted_cdf(u, uw)
    w = _uniform(u) if uw is None else uw
    mean = (w * u).sum(-1, keepdim=True)
    return us, cu, mean


def _lcot_embed(x, us, cu, mean):
    r"""``mu_hat(x) = F^{-1}((x - E mu + 1/2) mod 1) - x (mod 1)``; ``x`` of shape (..., k)."""
    q = torch.remainder(x - mean + 0.5, 1.0)
    idx = torch.searchsorted(cu.detach().contiguous(),
                             q.detach().expand(*cu.shape[:-1], q.shape[-1]).contiguous())
    idx = idx.clamp_(max=us.shape[-1] - 1)
    return torch.remainder(torch.gather(us, -1, idx) - x, 1.0)


def _circle_gap(d):
    """Geodesic distance on R/Z of a difference ``d``."""
    d = torch.remainder(d, 1.0)
    return torch.minimum(d, 1.0 - d)


def linear_circular_embedding(x: ArrayLike, u_values: ArrayLike,
                              u_weights: ArrayLike | None = None,
                              require_sort: bool = True) -> Array:
    r"""LCOT embedding of measures on the circle, reference ``Unif(S^1)`` (``lcot``).

    .. math:: \hat\mu(x) = F_\mu^{-1}\big(x - \textstyle\int z\, d\mu(z) + \tfrac12\big) - x
       \pmod 1

    Same meaning as POT's ``ot.lp.solver_circle.linear_circular_embedding``,
    with batch dimensions leading; the quantile is the exact one (POT 0.9.7
    reads it one atom too far).

    Parameters
    ----------
    x : array of shape (k,)
        Points of [0, 1) where the embedding is evaluated.
    u_values : array of shape (..., n)
        Points on the circle as values in [0, 1) (taken modulo 1).
    u_weights : array of shape (..., n), optional
    require_sort : bool, default True
        POT's flag; the atoms are sorted in any case, which for sorted input
        is what ``require_sort=False`` computes.

    Returns
    -------
    array of shape (..., k), values in [0, 1)

    Examples
    --------
    >>> import numpy as np
    >>> linear_circular_embedding(np.array([0.0, 0.5]), np.array([0.25, 0.75]))
    array([0.25, 0.75])
    """
    io, u, _, uw, _ = _pair(u_values, u_values, u_weights, None)
    xt = io.tensor(x, "x", ndim=1)
    if bool(((xt < 0) | (xt >= 1)).any()):
        raise ValueError("x must lie in [0, 1)")
    u = torch.remainder(u, 1.0)
    us, cu, mean = _lcot_parts(u, uw)
    return io.out(_lcot_embed(xt.expand(*u.shape[:-1], xt.shape[0]), us, cu, mean))


def linear_circular_ot(u_values: ArrayLike, v_values: ArrayLike | None = None,
                       u_weights: ArrayLike | None = None, v_weights: ArrayLike | None = None,
                       n_references: int | None = None) -> Array:
    r"""Linear circular OT (``lcot``): ``LCOT_2^2`` between measures on the circle, batched.

    .. math::
        LCOT_2^2(\mu, \nu) = \int_0^1 d_{S^1}\big(\hat\mu(t), \hat\nu(t)\big)^2 \, dt

    with the embeddings of :func:`linear_circular_embedding` (reference:
    the uniform measure). Both embeddings have slope -1 between their
    breakpoints, so their difference is piecewise constant and the integral
    is computed exactly from the merged breakpoints (``n_references=None``).
    ``n_references=N`` instead averages over the grid ``k / N`` (POT's
    ``ot.linear_circular_ot`` uses ``N = 100``).

    Parameters
    ----------
    u_values : array of shape (..., n)
    v_values : array of shape (..., m), optional
        Default: the uniform measure on the circle.
    u_weights, v_weights : optional weights
    n_references : int, optional

    Returns
    -------
    array of shape (...)
        ``LCOT_2^2`` (squared, as POT).

    Examples
    --------
    >>> import numpy as np
    >>> round(float(linear_circular_ot(np.array([0.1, 0.2]), np.array([0.3, 0.4]))), 12)
    0.044
    """
    if v_values is None:
        if v_weights is not None:
            raise ValueError("v_weights given without v_values")
        io, u, _, uw, _ = _pair(u_values, u_values, u_weights, None)
        u = torch.remainder(u, 1.0)
        us, cu, mu = _lcot_parts(u, uw)
        bps = [torch.remainder(cu + mu - 0.5, 1.0)]
        emb_v = None  # the uniform measure: F^{-1}(s) = s, mean 1/2, so its embedding is 0
    else:
        io, u, v, uw, vw = _pair(u_values, v_values, u_weights, v_weights)
        u, v = torch.remainder(u, 1.0), torch.remainder(v, 1.0)
        us, cu, mu = _lcot_parts(u, uw)
        vs, cv, mv = _lcot_parts(v, vw)
        bps = [torch.remainder(cu + mu - 0.5, 1.0), torch.remainder(cv + mv - 0.5, 1.0)]

        def emb_v(x):
            return _lcot_embed(x, vs, cv, mv)
    if n_references is not None:
        N = check_int(n_references, "n_references", minimum=1)
        grid = torch.arange(N, dtype=u.dtype, device=u.device) / N
        grid = grid.expand(*u.shape[:-1], N)
        d = _lcot_embed(grid, us, cu, mu)
        d = _circle_gap(d if emb_v is None else d - emb_v(grid))
        return io.out((d * d).mean(-1))
    ends = torch.zeros_like(cu[..., :1])
    t, _ = torch.sort(torch.cat([ends, *bps, ends + 1.0], -1), dim=-1)
    lengths = torch.diff(t, dim=-1)
    mid = (t[..., :-1] + 0.5 * lengths).detach()
    if emb_v is None:
        # on a piece mu_hat(x) = c - x with c constant: integrate d_S1(c - x)^2 exactly
        c = _lcot_embed(mid, us, cu, mu) + mid
        return io.out((_gap_sq_integral(c - t[..., :-1]) - _gap_sq_integral(c - t[..., 1:]))
                      .sum(-1))
    # both embeddings have slope -1 on a piece: their difference is constant there
    d = _circle_gap(_lcot_embed(mid, us, cu, mu) - emb_v(mid))
    return io.out((lengths * d * d).sum(-1))


def _gap_sq_integral(y):
    """Antiderivative of ``d_S1(y)^2`` (periodic part plus 1/12 per period)."""
    k = torch.floor(y)
    f = y - k
    inner = torch.where(f <= 0.5, f**3 / 3, 1.0 / 12 - (1 - f) ** 3 / 3)
    return k / 12 + inner
