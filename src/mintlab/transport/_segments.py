"""Ragged batches: many measures of different sizes stored in one flat array.

A ragged batch of ``K`` measures is a flat array whose last axis (1D values)
or first axis (point clouds) concatenates the measures, plus ``offsets`` of
shape ``(K + 1,)``: measure ``k`` occupies ``offsets[k]:offsets[k + 1]``.
This module parses the three ways a caller can give one (a list of arrays, a
flat array with ``lengths``, a flat array with a sorted batch-index vector as
in PyTorch Geometric), sorts every measure once (per segment, so values never
mix across measures and no arithmetic touches them), and holds the compiled
kernels that compare sorted measures pairwise.
"""

from __future__ import annotations

import numbers
from typing import Any

import numba
import numpy as np
import torch

from .._validation import ArrayIO, check_finite
from ._partial1d import _cost

# ------------------------------------------------------------------ parsing


def is_ragged_list(x, ndim: int | None = None) -> bool:
    """True for a non-empty list or tuple of arrays (numpy or torch) of at least one
    dimension (of exactly ``ndim`` dimensions if given: 2 for point clouds, so that a
    list of points stays one cloud)."""
    return (isinstance(x, (list, tuple)) and len(x) > 0
            and all(isinstance(e, (np.ndarray, torch.Tensor)) and e.ndim >= 1
                    and (ndim is None or e.ndim == ndim) for e in x))


def wants_ragged(values, lengths, batch) -> bool:
    """Whether a call asks for the ragged form (lengths, batch vector or a list of arrays)."""
    return lengths is not None or batch is not None or is_ragged_list(values)


def wants_ragged_pair(x, y, x_lengths, y_lengths, x_batch, y_batch, *,
                      points: bool = False) -> bool:
    """Whether either input of a two-measure call is given in ragged form (lists of
    1-D arrays, or of 2-D point clouds with ``points``)."""
    nd = 2 if points else None
    return (x_lengths is not None or y_lengths is not None or x_batch is not None
            or y_batch is not None or is_ragged_list(x, nd) or is_ragged_list(y, nd))


def _int_vector(io: ArrayIO, x, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        if x.is_floating_point() or x.is_complex() or x.dtype == torch.bool:
            raise TypeError(f"{name} must hold integers, got dtype {x.dtype}")
        arr = x.detach().cpu().numpy()
    else:
        if isinstance(x, numbers.Number) and not isinstance(x, bool):
            x = [x]
        arr = np.asarray(x)
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            if np.issubdtype(arr.dtype, np.floating) and np.all(np.mod(arr, 1) == 0):
                arr = arr.astype(np.int64)
            else:
                raise TypeError(f"{name} must hold integers, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-dimensional, got shape {arr.shape}")
    return arr.astype(np.int64, copy=False)


def offsets_from(io: ArrayIO, size: int, lengths, batch, values_name: str,
                 lengths_name: str, batch_name: str) -> np.ndarray:
    """``(K + 1,)`` offsets of a flat array of ``size`` entries from ``lengths`` or ``batch``."""
    if lengths is not None and batch is not None:
        raise ValueError(f"give at most one of {lengths_name} and {batch_name}")
    if lengths is not None:
        ln = _int_vector(io, lengths, lengths_name)
        if ln.size == 0:
            raise ValueError(f"{lengths_name} must hold at least one problem, got none")
        if (ln < 1).any():
            k = int(np.nonzero(ln < 1)[0][0])
            raise ValueError(f"{lengths_name} must be >= 1 (no empty problem), got "
                             f"{int(ln[k])} for problem {k}")
        if int(ln.sum()) != size:
            raise ValueError(f"{lengths_name} must sum to the size of {values_name} "
                             f"({size}), got a sum of {int(ln.sum())}")
        return np.concatenate([[0], np.cumsum(ln)]).astype(np.int64)
    bt = _int_vector(io, batch, batch_name)
    if bt.shape[0] != size:
        raise ValueError(f"{batch_name} must have one entry per element of {values_name} "
                         f"(shape ({size},)), got shape {bt.shape}")
    if size == 0:
        raise ValueError(f"{values_name} must not be empty")
    if bt[0] != 0 or (np.diff(bt) < 0).any():
        raise ValueError(f"{batch_name} must be sorted and start at 0 (elements of problem 0, "
                         f"then problem 1, ..., as in PyTorch Geometric)")
    counts = np.bincount(bt)
    if (counts == 0).any():
        k = int(np.nonzero(counts == 0)[0][0])
        raise ValueError(f"{batch_name} must give every problem 0..{counts.size - 1} at least "
                         f"one element, problem {k} has none")
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def flat_values(io: ArrayIO, values, lengths, batch, name: str, lengths_name: str,
                batch_name: str, *, points: bool = False):
    """A ragged argument as ``(flat tensor, offsets)``.

    1D values (``points=False``): elements of shape ``(n_k,)`` concatenated
    along the last axis; a flat array may have leading axes ``(..., N)``.
    Point clouds (``points=True``): elements ``(n_k, d)``, flat ``(N, d)``.
    """
    flat: Any  # numpy or torch while the elements are gathered, a tensor once checked
    if is_ragged_list(values, 2 if points else None):
        if lengths is not None or batch is not None:
            raise ValueError(f"{name} is a list of arrays: do not also give {lengths_name} "
                             f"or {batch_name}")
        want = 2 if points else 1
        for k, e in enumerate(values):
            if e.ndim != want:
                raise ValueError(f"{name}[{k}] must be {want}-dimensional, got shape "
                                 f"{tuple(e.shape)}")
            if points and e.shape[1] != values[0].shape[1]:
                raise ValueError(f"{name}[{k}] must have shape (n, {values[0].shape[1]}) like "
                                 f"{name}[0], got {tuple(e.shape)}")
            if e.shape[0] == 0:
                raise ValueError(f"{name}[{k}] must not be empty (problem {k})")
        finite = True
        if all(isinstance(e, np.ndarray) for e in values):
            flat = np.concatenate(values, 0)
            if flat.dtype.kind in "fc":  # numpy's check, cheaper than a torch pass
                finite = not bool(np.isfinite(flat).all())
        else:  # torch (or mixed): one conversion per element, then one concatenation
            flat = torch.cat([io.tensor(e, f"{name}[{k}]", finite=False)
                              for k, e in enumerate(values)], 0)
        parts = values
        try:
            flat = io.tensor(flat, name, ndim=want, finite=finite)
        except ValueError as err:  # say which problem holds the bad value
            sizes = [e.shape[0] for e in values]
            bad = ~torch.isfinite(torch.as_tensor(np.asarray(flat) if isinstance(
                flat, np.ndarray) else flat.detach())).reshape(len(flat), -1).all(1)
            bad_k = int(np.searchsorted(np.cumsum(sizes), int(torch.nonzero(bad)[0, 0]),
                                        side="right")) if bool(bad.any()) else None
            raise ValueError(f"{err}" + ("" if bad_k is None else f" (in {name}[{bad_k}])")) \
                from None
        sizes = [e.shape[0] for e in parts]
        return flat, np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    if lengths is None and batch is None:
        raise ValueError(f"{name} must be a list of arrays, or a flat array with "
                         f"{lengths_name}= or {batch_name}= (the other input of the call "
                         f"is ragged)")
    flat = io.tensor(values, name, ndim=2 if points else None, min_ndim=None if points else 1)
    size = flat.shape[0] if points else flat.shape[-1]
    return flat, offsets_from(io, size, lengths, batch, name, lengths_name, batch_name)


def flat_weights(io: ArrayIO, weights, offsets: np.ndarray, name: str, values_name: str):
    """Ragged weights (list or flat ``(N,)``) checked and normalised per problem, or None."""
    if weights is None:
        return None
    N = int(offsets[-1])
    K = offsets.shape[0] - 1
    w: Any  # numpy while the elements are gathered, a tensor once checked
    if is_ragged_list(weights):
        if len(weights) != K:
            raise ValueError(f"{name} must hold {K} arrays (one per problem of {values_name}), "
                             f"got {len(weights)}")
        for k, e in enumerate(weights):
            nk = int(offsets[k + 1] - offsets[k])
            if tuple(e.shape) != (nk,):
                raise ValueError(f"{name}[{k}] must have shape ({nk},) to match "
                                 f"{values_name}[{k}], got {tuple(e.shape)}")
        if all(isinstance(e, np.ndarray) for e in weights):
            w = np.concatenate(weights)
            w = io.tensor(w, name, ndim=1,
                          finite=w.dtype.kind not in "fc" or not bool(np.isfinite(w).all()))
        else:
            w = io.tensor(torch.cat([io.tensor(e, f"{name}[{k}]", finite=False)
                                     for k, e in enumerate(weights)]), name, ndim=1)
    else:
        w = io.tensor(weights, name, ndim=1)
        if w.shape[0] != N:
            raise ValueError(f"{name} must have shape ({N},) to match the flat {values_name}, "
                             f"got {tuple(w.shape)}")
    if bool((w < 0).any()):
        raise ValueError(f"{name} must be non-negative, got minimum {float(w.min()):.4g}")
    seg = segment_ids(offsets, w.device)
    total = torch.zeros(K, dtype=w.dtype, device=w.device).index_add_(0, seg, w)
    if bool((total <= 0).any()):
        k = int(torch.nonzero(total <= 0)[0, 0])
        raise ValueError(f"{name} must have a positive sum in every problem, got a sum of 0 "
                         f"in problem {k}")
    return w / total[seg]


def segment_ids(offsets: np.ndarray, device) -> torch.Tensor:
    """``(N,)`` problem index of every flat entry."""
    sizes = torch.as_tensor(np.diff(offsets), device=device)
    return torch.repeat_interleave(torch.arange(sizes.shape[0], device=device), sizes)


def check_same_count(off_u: np.ndarray, off_v: np.ndarray, name_u: str, name_v: str) -> None:
    if off_u.shape[0] != off_v.shape[0]:
        raise ValueError(f"{name_u} and {name_v} must hold the same number of problems, got "
                         f"{off_u.shape[0] - 1} and {off_v.shape[0] - 1}")


def check_finite_all(t: torch.Tensor, name: str) -> None:
    check_finite(t, name)


# ------------------------------------------------------------ segment sort
def sort_segments_np(x: np.ndarray, offsets: np.ndarray, w: np.ndarray | None, *,
                     inplace: bool = False):
    """Sort every segment of the rows of ``x`` (R, N); weights follow the sort.

    Returns sorted values (R, N) and, when ``w`` (R, N) or (N,) is given,
    the sorted weights (R, N); with ``inplace`` (a temporary of the caller) the
    values are sorted where they lie. One numpy sort per segment (all rows at once):
    the values are only moved, never shifted or rescaled, so every measure is
    sorted exactly as on its own.
    """
    if w is None:
        usable = inplace and x.dtype == np.float64 and x.flags.c_contiguous and x.flags.writeable
        out = x if usable else np.array(x, dtype=np.float64, order="C", copy=True)
        for k in range(offsets.shape[0] - 1):
            out[:, offsets[k]:offsets[k + 1]].sort(axis=-1)
        return out, None
    out = np.empty(x.shape, np.float64)
    ws = np.empty(x.shape, np.float64)
    for k in range(offsets.shape[0] - 1):
        a, b = offsets[k], offsets[k + 1]
        xk = x[:, a:b]
        o = np.argsort(xk, axis=-1)
        out[:, a:b] = np.take_along_axis(xk, o, -1)
        wk = w[..., a:b]
        ws[:, a:b] = np.take_along_axis(np.broadcast_to(wk, xk.shape), o, -1)
    return out, ws


def sort_segments_torch(x: torch.Tensor, offsets: np.ndarray):
    """Differentiable segment sort of ``x`` (R, N): ``(sorted, permutation)``.

    One sort of the values then one stable sort of the problem indices (two
    keys, no arithmetic on the values), so each segment is sorted exactly.
    """
    seg = segment_ids(offsets, x.device).expand(x.shape)
    order = torch.argsort(x.detach(), dim=-1)
    order2 = torch.sort(torch.gather(seg, -1, order), dim=-1, stable=True).indices
    perm = torch.gather(order, -1, order2)
    return torch.gather(x, -1, perm), perm


def segment_cumsum(w: torch.Tensor, offsets: np.ndarray) -> torch.Tensor:
    """Cumulative sums restarted at every segment (last axis), ``w`` of shape (R, N)."""
    c = torch.cumsum(w, -1)
    starts = torch.as_tensor(offsets[:-1], device=w.device)
    base = torch.cat([torch.zeros_like(c[..., :1]), c[..., :-1]], -1)[..., starts]
    sizes = torch.as_tensor(np.diff(offsets), device=w.device)
    return c - torch.repeat_interleave(base, sizes, dim=-1)


# ------------------------------------------------------------ compiled kernels
@numba.njit(cache=True, nogil=True)
def _wp_pair(us, uw, a0, n, vs, vw, b0, m, p):
    """``W_p^p`` between sorted segments ``us[a0:a0+n]`` and ``vs[b0:b0+m]``.

    ``uw``/``vw`` hold the sorted normalised weights, or are empty for uniform
    weights. Walks the merged cumulative weights (the quantile coupling).
    """
    if uw.shape[0] == 0 and vw.shape[0] == 0:
        if n == m:
            c = 0.0
            for i in range(n):
                c += _cost(us[a0 + i] - vs[b0 + i], p)
            return c / n
        # levels (i+1)/n and (j+1)/m as integers over n*m: exact comparisons, no branches
        i = 0
        j = 0
        prev = 0
        c = 0.0
        li = m
        lj = n
        for _ in range(n + m):
            if i >= n or j >= m:
                break
            q = li if li < lj else lj
            c += (q - prev) * _cost(us[a0 + i] - vs[b0 + j], p)
            prev = q
            ai = li <= lj
            bj = lj <= li
            i += ai
            li += m * ai
            j += bj
            lj += n * bj
        return c / (n * m)
    i = 0
    j = 0
    cu = uw[a0] if uw.shape[0] else 1.0 / n
    cv = vw[b0] if vw.shape[0] else 1.0 / m
    prev = 0.0
    c = 0.0
    while i < n and j < m:
        q = cu if cu < cv else cv
        c += (q - prev) * _cost(us[a0 + i] - vs[b0 + j], p)
        prev = q
        a_le = cu <= cv
        b_le = cv <= cu
        if a_le:
            i += 1
            if i < n:
                cu += uw[a0 + i] if uw.shape[0] else 1.0 / n
        if b_le:
            j += 1
            if j < m:
                cv += vw[b0 + j] if vw.shape[0] else 1.0 / m
    # rounding may leave one side short of 1: its last atom takes the rest
    while i < n:
        c += (cu - prev) * _cost(us[a0 + i] - vs[b0 + m - 1], p)
        prev = cu
        i += 1
        if i < n:
            cu += uw[a0 + i] if uw.shape[0] else 1.0 / n
    while j < m:
        c += (cv - prev) * _cost(us[a0 + n - 1] - vs[b0 + j], p)
        prev = cv
        j += 1
        if j < m:
            cv += vw[b0 + j] if vw.shape[0] else 1.0 / m
    return c


_PARALLEL_WORK = 1 << 18  # merged entries above which the kernels run on all threads


def wp_pairs(us, uw, uoff, vs, vw, voff, pi, pj, p, out):
    """``out[r, k] = W_p^p`` between segment ``pi[k]`` of row ``r`` of ``us`` and
    segment ``pj[k]`` of row ``r`` of ``vs`` (rows: slices; weights (R, N) or (R, 0))."""
    work = us.shape[0] * (int(np.diff(uoff)[pi].sum()) + int(np.diff(voff)[pj].sum()))
    fn = _wp_pairs_parallel if work > _PARALLEL_WORK else _wp_pairs_serial
    fn(us, uw, uoff, vs, vw, voff, pi, pj, p, out)


def circle_w1_pairs(us, uw, uoff, vs, vw, voff, pi, pj, out):
    """:func:`wp_pairs` for W_1 on the circle (sorted values, sorted weights or empty)."""
    work = us.shape[0] * (int(np.diff(uoff)[pi].sum()) + int(np.diff(voff)[pj].sum()))
    fn = _circle_pairs_parallel if work > _PARALLEL_WORK // 8 else _circle_pairs_serial
    fn(us, uw, uoff, vs, vw, voff, pi, pj, out)


def _wp_pairs_impl(us, uw, uoff, vs, vw, voff, pi, pj, p, out):
    R = us.shape[0]
    P = pi.shape[0]
    for t in numba.prange(R * P):
        r = t // P
        k = t - r * P
        a0 = uoff[pi[k]]
        b0 = voff[pj[k]]
        out[r, k] = _wp_pair(us[r], uw[r], a0, uoff[pi[k] + 1] - a0,
                             vs[r], vw[r], b0, voff[pj[k] + 1] - b0, p)


@numba.njit(cache=True, nogil=True)
def _circle_w1_pair(us, uw, a0, n, vs, vw, b0, m):
    """W_1 on the circle between sorted segments (values in [0, 1)): with
    ``D = F_u - F_v`` on the merged support, ``min_alpha int |D - alpha|``."""
    N = n + m
    z = np.empty(N)
    w = np.empty(N)
    i = 0
    j = 0
    for t in range(N):
        if j >= m or (i < n and us[a0 + i] <= vs[b0 + j]):
            z[t] = us[a0 + i]
            w[t] = uw[a0 + i] if uw.shape[0] else 1.0 / n
            i += 1
        else:
            z[t] = vs[b0 + j]
            w[t] = -(vw[b0 + j] if vw.shape[0] else 1.0 / m)
            j += 1
    D = np.empty(N)
    ln = np.empty(N)
    acc = 0.0
    for t in range(N - 1):
        acc += w[t]
        D[t] = acc
        ln[t] = z[t + 1] - z[t]
    D[N - 1] = 0.0
    ln[N - 1] = z[0] + 1.0 - z[N - 1]
    order = np.argsort(D)
    total = 0.0
    for t in range(N):
        total += ln[t]
    half = 0.5 * total
    cw = 0.0
    alpha = D[order[N - 1]]
    for t in range(N):
        cw += ln[order[t]]
        if cw >= half:
            alpha = D[order[t]]
            break
    c = 0.0
    for t in range(N):
        c += ln[t] * abs(D[t] - alpha)
    return c


def _circle_pairs_impl(us, uw, uoff, vs, vw, voff, pi, pj, out):
    R = us.shape[0]
    P = pi.shape[0]
    for t in numba.prange(R * P):
        r = t // P
        k = t - r * P
        a0 = uoff[pi[k]]
        b0 = voff[pj[k]]
        out[r, k] = _circle_w1_pair(us[r], uw[r], a0, uoff[pi[k] + 1] - a0,
                                    vs[r], vw[r], b0, voff[pj[k] + 1] - b0)


_wp_pairs_serial = numba.njit(cache=True, nogil=True)(_wp_pairs_impl)
_wp_pairs_parallel = numba.njit(cache=True, nogil=True, parallel=True)(_wp_pairs_impl)
_circle_pairs_serial = numba.njit(cache=True, nogil=True)(_circle_pairs_impl)
_circle_pairs_parallel = numba.njit(cache=True, nogil=True, parallel=True)(_circle_pairs_impl)


@numba.njit(cache=True, nogil=True)
def scatter_assignment(match, u_order, v_order, u0, v0, assign):
    """Problem-local assignment in original order from a sorted-space match.

    ``u_order[r, u0 + i]`` / ``v_order[r, v0 + j]`` are the flat positions of the
    i-th / j-th smallest entries of the problem starting at ``u0`` / ``v0``;
    ``assign[r, pos]`` gets the problem-local index of the partner, or -1.
    """
    for r in range(match.shape[0]):
        for i in range(match.shape[1]):
            j = match[r, i]
            assign[r, u_order[r, u0 + i]] = v_order[r, v0 + j] - v0 if j >= 0 else -1
