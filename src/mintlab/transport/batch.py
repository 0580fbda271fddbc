"""Ragged batches and pairwise matrices of transport distances.

Two ways to compare many measures at once without a Python loop per pair:

* **Ragged batches**: ``K`` problems of different sizes solved in one call.
  The 1D kernels (:func:`~mintlab.transport.wasserstein_1d`,
  :func:`~mintlab.transport.partial_wasserstein_1d`,
  :func:`~mintlab.transport.circle_wasserstein`) and the sliced distances
  accept a list of arrays, or a flat array with ``lengths`` (or a sorted
  batch-index vector as in PyTorch Geometric), and return one value per
  problem. The functions here do the work; the public entry points dispatch
  to them.
* **Matrices**: :func:`sliced_wasserstein_matrix` and its spherical,
  circular, partial and linear-embedding companions project and sort every
  set once, then fill the ``K x K`` (or ``K x M``) matrix from the sorted
  quantiles, block by block.

Every measure is sorted on its own segment (values are moved, never shifted
or rescaled), so the results equal the per-pair calls up to rounding in the
last bits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from .._validation import ArrayIO, check_int, check_nonnegative
from ..typing import Array, ArrayLike, SeedLike
from . import _segments as sg
from ._partial1d import sorted_costs
from .line import _check_p, _pow

__all__ = [
    "sliced_wasserstein_matrix",
    "s3w_matrix",
    "circle_wasserstein_matrix",
    "sliced_partial_wasserstein_matrix",
    "linear_sliced_wasserstein_sphere_matrix",
]

_DEFAULT_BLOCK = 4096
_THREADED_SORT = 1  # 0 turns the two-thread sort off


# ------------------------------------------------------------------ helpers
def _arrays(x):
    """The array-like pieces of an argument (for :class:`ArrayIO`'s kind detection)."""
    if x is None:
        return ()
    if sg.is_ragged_list(x):
        return tuple(x)
    return (x,)


def _needs_torch(*ts) -> bool:
    """Whether the differentiable torch route is needed (gradients or a non-CPU device)."""
    return any(t is not None and (t.requires_grad or t.device.type != "cpu") for t in ts)


def _np(t: torch.Tensor | None):
    return None if t is None else t.detach().cpu().to(torch.float64).numpy()


class _Sorted:
    """Measures sorted once per segment: values (R, N), sorted weights or None, offsets."""

    def __init__(self, x: torch.Tensor, offsets: np.ndarray, w: torch.Tensor | None,
                 *, differentiable: bool, inplace: bool = False):
        self.offsets = offsets
        self.sizes = np.diff(offsets)
        self.differentiable = differentiable
        self.uniform = w is None
        if differentiable:
            self.values, perm = sg.sort_segments_torch(x, offsets)
            if w is None:
                sizes = torch.as_tensor(self.sizes, device=x.device)
                w_s = torch.repeat_interleave(1.0 / sizes.to(x.dtype), sizes).expand(x.shape)
            else:
                w_s = torch.gather(w.expand(x.shape), -1, perm)
            self.weights = w_s
            self.cdf = sg.segment_cumsum(w_s, offsets)
        else:
            # inplace: ``x`` is a temporary of ours, sorted where it lies (no fresh buffer)
            vals, ws = sg.sort_segments_np(_np(x), offsets, _np(w), inplace=inplace)
            self.values = vals
            self.weights = ws

    @property
    def count(self) -> int:
        return self.offsets.shape[0] - 1

    def np_weights(self):
        if self.weights is None:
            return np.empty((self.values.shape[0], 0))
        return self.weights


def _sort_both(xu, off_u, wu, xv, off_v, wv, differentiable, inplace=(False, False)):
    if differentiable:
        return (_Sorted(xu, off_u, wu, differentiable=True),
                _Sorted(xv, off_v, wv, differentiable=True))
    from .line import _both

    def run(args):
        x, off, w, inp = args
        return _Sorted(x, off, w, differentiable=False, inplace=inp)

    # large inputs: the two sorts on two threads (numpy's sorts release the GIL)
    return _both(run, (xu, off_u, wu, inplace[0]), (xv, off_v, wv, inplace[1]),
                 _THREADED_SORT * (xu.numel() + xv.numel()))


def _pairs_cost_torch(su: _Sorted, sv: _Sorted, pi: np.ndarray, pj: np.ndarray, p: float):
    """``W_p^p`` (R, P) between segments ``pi`` of ``su`` and ``pj`` of ``sv``, differentiable.

    The segments of the pairs are gathered into two flat arrays; the
    cumulative weights of pair ``k`` are shifted by ``k`` (offset keys), so one
    sort merges the quantile levels of all pairs at once.
    """
    dev = su.values.device
    P = pi.shape[0]
    nu, nv = su.sizes[pi], sv.sizes[pj]
    idx_u = np.concatenate([np.arange(su.offsets[i], su.offsets[i + 1]) for i in pi])
    idx_v = np.concatenate([np.arange(sv.offsets[j], sv.offsets[j + 1]) for j in pj])
    pid_u = np.repeat(np.arange(P), nu)
    pid_v = np.repeat(np.arange(P), nv)
    start_u = np.concatenate([[0], np.cumsum(nu)])
    start_v = np.concatenate([[0], np.cumsum(nv)])
    t = lambda a: torch.as_tensor(a, device=dev)  # noqa: E731
    xu = su.values[..., t(idx_u)]
    xv = sv.values[..., t(idx_v)]
    # keys in float64 whatever the input dtype: a float32 key would round the
    # levels of pair k to about k * 6e-8
    f64 = torch.float64
    ku = su.cdf[..., t(idx_u)].to(f64) + t(pid_u).to(f64)
    kv = sv.cdf[..., t(idx_v)].to(f64) + t(pid_v).to(f64)
    keys = torch.cat([ku, kv], -1)
    qs, qord = torch.sort(keys, dim=-1)
    pid = torch.gather(t(np.concatenate([pid_u, pid_v])).expand(keys.shape), -1, qord)
    mass = torch.diff(qs, dim=-1, prepend=torch.zeros_like(qs[..., :1]))
    qd = qs.detach().contiguous()
    lo_u, hi_u = t(start_u[:-1])[pid], t(start_u[1:] - 1)[pid]
    lo_v, hi_v = t(start_v[:-1])[pid], t(start_v[1:] - 1)[pid]
    iu = torch.searchsorted(ku.detach().contiguous(), qd)
    iu = torch.minimum(torch.maximum(iu, lo_u), hi_u)
    iv = torch.searchsorted(kv.detach().contiguous(), qd)
    iv = torch.minimum(torch.maximum(iv, lo_v), hi_v)
    piece = mass.to(xu.dtype) * _pow(torch.gather(xu, -1, iu) - torch.gather(xv, -1, iv), p)
    out = torch.zeros(*piece.shape[:-1], P, dtype=piece.dtype, device=dev)
    return out.scatter_add(-1, pid, piece)


def _pairs_cost(su: _Sorted, sv: _Sorted, pi, pj, p, *, like: torch.Tensor, mean=False):
    """``W_p^p`` (R, P) between segment pairs, by the compiled kernel or the torch route.

    ``mean``: the mean over rows (P,) instead, summed in row order so that a
    pair's value does not depend on the other pairs of its block.
    """
    if su.differentiable:
        out = _pairs_cost_torch(su, sv, pi, pj, p)
        return out.mean(0) if mean else out
    out = np.empty((su.values.shape[0], pi.shape[0]))
    sg.wp_pairs(su.values, su.np_weights(), su.offsets, sv.values, sv.np_weights(),
                sv.offsets, pi.astype(np.int64), pj.astype(np.int64), float(p), out)
    if mean:
        acc = out[0].copy()
        for r in range(1, out.shape[0]):  # row order, whatever the number of pairs
            acc += out[r]
        out = acc / out.shape[0]
    return torch.as_tensor(out, device=like.device).to(like.dtype)


def _ragged_1d_inputs(io, u_values, v_values, u_weights, v_weights, u_lengths, v_lengths,
                      u_batch, v_batch):
    u, off_u = sg.flat_values(io, u_values, u_lengths, u_batch, "u_values", "u_lengths",
                              "u_batch")
    v, off_v = sg.flat_values(io, v_values, v_lengths, v_batch, "v_values", "v_lengths",
                              "v_batch")
    sg.check_same_count(off_u, off_v, "u_values", "v_values")
    try:
        lead = torch.broadcast_shapes(u.shape[:-1], v.shape[:-1])
    except RuntimeError:
        raise ValueError(f"u_values and v_values must have broadcastable leading dimensions, "
                         f"got {tuple(u.shape)} and {tuple(v.shape)}") from None
    u = u.expand(*lead, u.shape[-1]).reshape(-1, u.shape[-1])
    v = v.expand(*lead, v.shape[-1]).reshape(-1, v.shape[-1])
    uw = sg.flat_weights(io, u_weights, off_u, "u_weights", "u_values")
    vw = sg.flat_weights(io, v_weights, off_v, "v_weights", "v_values")
    return u, off_u, uw, v, off_v, vw, tuple(lead)


# ---------------------------------------------------------- ragged 1D kernels
def ragged_wasserstein_1d(u_values, v_values, u_weights=None, v_weights=None, p=1, *,
                          u_lengths=None, v_lengths=None, u_batch=None, v_batch=None):
    """:func:`~mintlab.transport.wasserstein_1d` on a ragged batch: ``W_p^p`` per problem.

    Arguments as in :func:`~mintlab.transport.wasserstein_1d` (which dispatches
    here); returns an array of shape ``(..., K)``.
    """
    p = _check_p(p)
    io = ArrayIO(*_arrays(u_values), *_arrays(v_values), *_arrays(u_weights),
                 *_arrays(v_weights))
    u, off_u, uw, v, off_v, vw, lead = _ragged_1d_inputs(
        io, u_values, v_values, u_weights, v_weights, u_lengths, v_lengths, u_batch, v_batch)
    # a list was concatenated into a fresh array of ours: it may be sorted in place
    su, sv = _sort_both(u, off_u, uw, v, off_v, vw, _needs_torch(u, v, uw, vw),
                        (sg.is_ragged_list(u_values), sg.is_ragged_list(v_values)))
    k = np.arange(su.count)
    return io.out(_pairs_cost(su, sv, k, k, p, like=u).reshape(*lead, su.count))


def _grouped(fn, xu, off_u, wu, xv, off_v, wv, pi, pj):
    """``fn`` on stacked pairs of equal sizes, one batched call per size pair: (R, P)."""
    R = xu.shape[0]
    out = torch.empty(R, pi.shape[0], dtype=xu.dtype, device=xu.device)
    su, sv = np.diff(off_u), np.diff(off_v)
    keys = su[pi] * (int(sv.max()) + 1) + sv[pj]
    for key in np.unique(keys):
        sel = np.nonzero(keys == key)[0]
        n, m = int(su[pi[sel[0]]]), int(sv[pj[sel[0]]])
        iu = torch.as_tensor(off_u[pi[sel]][:, None] + np.arange(n), device=xu.device)
        iv = torch.as_tensor(off_v[pj[sel]][:, None] + np.arange(m), device=xu.device)
        a = xu[:, iu].transpose(0, 1)  # (G, R, n)
        b = xv[:, iv].transpose(0, 1)
        aw = None if wu is None else wu[iu][:, None, :].expand(a.shape)
        bw = None if wv is None else wv[iv][:, None, :].expand(b.shape)
        out[:, torch.as_tensor(sel, device=xu.device)] = fn(a, b, aw, bw).transpose(0, 1)
    return out


def _circle_pairs(xu, off_u, wu, xv, off_v, wv, pi, pj, p):
    """Circle ``W_p^p`` (R, P) between segment pairs (values already in [0, 1))."""
    if p == 1.0 and not _needs_torch(xu, xv, wu, wv):
        su, sv = _sort_both(xu, off_u, wu, xv, off_v, wv, False, (True, True))  # fresh
        out = np.empty((xu.shape[0], pi.shape[0]))
        sg.circle_w1_pairs(su.values, su.np_weights(), off_u, sv.values, sv.np_weights(),
                           off_v, pi.astype(np.int64), pj.astype(np.int64), out)
        return torch.as_tensor(out, device=xu.device).to(xu.dtype)
    from .line import circle_wasserstein

    return _grouped(lambda a, b, aw, bw: circle_wasserstein(a, b, aw, bw, p=p),
                    xu, off_u, wu, xv, off_v, wv, pi, pj)


def ragged_circle_wasserstein(u_values, v_values, u_weights=None, v_weights=None, p=1, *,
                              u_lengths=None, v_lengths=None, u_batch=None, v_batch=None):
    """:func:`~mintlab.transport.circle_wasserstein` on a ragged batch, shape ``(..., K)``.

    ``p = 1`` on CPU without gradients runs a compiled kernel over problems
    (merge of the two sorted measures, weighted median of ``F_u - F_v``);
    otherwise problems of equal sizes are stacked and solved by the batched
    kernel, one call per distinct pair of sizes.
    """
    p = _check_p(p)
    io = ArrayIO(*_arrays(u_values), *_arrays(v_values), *_arrays(u_weights),
                 *_arrays(v_weights))
    u, off_u, uw, v, off_v, vw, lead = _ragged_1d_inputs(
        io, u_values, v_values, u_weights, v_weights, u_lengths, v_lengths, u_batch, v_batch)
    u, v = torch.remainder(u, 1.0), torch.remainder(v, 1.0)
    k = np.arange(off_u.shape[0] - 1)
    return io.out(_circle_pairs(u, off_u, uw, v, off_v, vw, k, k, p).reshape(*lead, k.size))


def _partial_sorted_pairs(us, off_u, vs, off_v, pi, pj, lam, p, ks=None):
    """Partial OT between sorted segment pairs ``(pi[k], pj[k])`` on every row (slice).

    Pairs of equal sizes (and mass) are stacked and solved in one call of the
    compiled solver. ``ks`` (P,) gives the mass-constrained form, else the
    penalty ``lam``. Returns ``(transport_cost, count, penalty)``, each (R, P),
    and ``{first pair: (pairs, match (G, R, n))}`` with the sorted-space match
    of every entry of the pairs' first segments.
    """
    from . import line
    from .line import _solve_partial

    # the mass-constrained solver the per-pair function uses
    mass_solver = getattr(line, "_mass_by_path", None) or line._penalty_for_mass

    R = us.shape[0]
    P = pi.shape[0]
    cost = np.empty((R, P))
    count = np.empty((R, P), np.int64)
    lams = np.empty((R, P))
    matches = {}
    su, sv = np.diff(off_u), np.diff(off_v)
    if ks is None:
        keys = su[pi] * (int(sv.max()) + 1) + sv[pj]
    else:
        keys = (su[pi] * (int(sv.max()) + 1) + sv[pj]) * (int(ks.max()) + 1) + ks
    order = np.argsort(keys, kind="stable")
    bounds = np.flatnonzero(np.diff(keys[order])) + 1
    for sel in np.split(order, bounds):  # pairs of equal sizes (and mass), solved together
        n, m = int(su[pi[sel[0]]]), int(sv[pj[sel[0]]])
        G = sel.shape[0]
        if G == 1:  # one pair: contiguous slices, no gather
            a0, b0 = off_u[pi[sel[0]]], off_v[pj[sel[0]]]
            a = np.ascontiguousarray(us[:, a0:a0 + n])
            b = np.ascontiguousarray(vs[:, b0:b0 + m])
        else:
            iu = off_u[pi[sel]][:, None] + np.arange(n)
            iv = off_v[pj[sel]][:, None] + np.arange(m)
            a = np.ascontiguousarray(us[:, iu].transpose(1, 0, 2).reshape(-1, n))  # (G*R, n)
            b = np.ascontiguousarray(vs[:, iv].transpose(1, 0, 2).reshape(-1, m))
        if ks is None:
            lam_rows = np.full(a.shape[0], lam)
            match, cnt = _solve_partial(a, b, lam_rows, p)
        else:
            lam_rows, match, cnt = mass_solver(a, b, p, int(ks[sel[0]]))
        tc = np.empty(a.shape[0])
        sorted_costs(a, b, match, float(p), tc)
        cost[:, sel] = tc.reshape(G, R).T
        count[:, sel] = cnt.reshape(G, R).T
        lams[:, sel] = np.asarray(lam_rows, dtype=np.float64).reshape(G, R).T
        matches[int(sel[0])] = (sel, match.reshape(G, R, n))
    return cost, count, lams, matches


def ragged_partial_wasserstein_1d(u_values, v_values, penalty=None, p=2, *,
                                  n_transported=None, u_lengths=None, v_lengths=None,
                                  u_batch=None, v_batch=None):
    """:func:`~mintlab.transport.partial_wasserstein_1d` on a ragged batch.

    ``penalty`` is one number for all problems; ``n_transported`` is one
    integer or one per problem. Returns a :class:`~mintlab.transport.PartialTransport1D`
    whose ``cost``, ``transport_cost``, ``transported`` and ``penalty`` have
    shape ``(..., K)`` and whose ``assignment`` has the flat shape ``(..., N)``
    of ``u_values``: for each point, the index of its partner inside its own
    problem's ``v_values`` (0-based within the problem), or -1.
    """
    from .line import PartialTransport1D

    if (penalty is None) == (n_transported is None):
        raise ValueError("give exactly one of penalty and n_transported")
    p = _check_p(p)
    io = ArrayIO(*_arrays(u_values), *_arrays(v_values))
    u, off_u, _, v, off_v, _, lead = _ragged_1d_inputs(
        io, u_values, v_values, None, None, u_lengths, v_lengths, u_batch, v_batch)
    K = off_u.shape[0] - 1
    nu, nv = np.diff(off_u), np.diff(off_v)
    lam, ks = None, None
    if penalty is not None:
        lam = check_nonnegative(penalty, "penalty")
    else:
        if isinstance(n_transported, (list, tuple, np.ndarray, torch.Tensor)):
            ks = sg._int_vector(io, n_transported, "n_transported")
            if ks.shape[0] != K:
                raise ValueError(f"n_transported must hold one integer per problem ({K}), "
                                 f"got {ks.shape[0]}")
        else:
            ks = np.full(K, check_int(n_transported, "n_transported", minimum=0))
        bad = np.nonzero((ks < 0) | (ks > np.minimum(nu, nv)))[0]
        if bad.size:
            b = int(bad[0])
            raise ValueError(f"n_transported must lie in [0, min(n, m)] for every problem, got "
                             f"{int(ks[b])} for problem {b} (n = {nu[b]}, m = {nv[b]})")
    un, vn = _np(u), _np(v)
    u_order = np.empty(un.shape, np.int64)
    v_order = np.empty(vn.shape, np.int64)
    for off, x, order in ((off_u, un, u_order), (off_v, vn, v_order)):
        for k in range(K):
            a, b = off[k], off[k + 1]
            order[:, a:b] = np.argsort(x[:, a:b], axis=-1) + a
    us = np.take_along_axis(un, u_order, -1)
    vs = np.take_along_axis(vn, v_order, -1)
    kk = np.arange(K)
    tcost, count, lams, matches = _partial_sorted_pairs(us, off_u, vs, off_v, kk, kk, lam, p,
                                                        ks)
    # assignment in original (flat) u positions, local v indices
    R = un.shape[0]
    assign = np.full((R, un.shape[1]), -1, np.int64)
    for sel, match in matches.values():
        for g, k in enumerate(sel):
            sg.scatter_assignment(match[g], u_order, v_order, off_u[k], off_v[k], assign)
    dev = u.device
    assign_t = torch.as_tensor(assign, device=dev)
    if io.is_torch:
        # recomputed in torch so that the costs are differentiable in the values
        seg_v = torch.as_tensor(off_v[:-1], device=dev)[sg.segment_ids(off_u, dev)]
        mask = assign_t >= 0
        partner = torch.gather(v, -1, (assign_t.clamp(min=0) + seg_v))
        piece = _pow(u - partner, p) * mask
        transport = torch.zeros(R, K, dtype=u.dtype, device=dev).index_add_(
            -1, sg.segment_ids(off_u, dev), piece)
    else:
        transport = torch.as_tensor(tcost)
    counts_t = torch.as_tensor(count, device=dev).to(u.dtype)
    lam_t = torch.as_tensor(lams, device=dev).to(u.dtype)
    sizes = torch.as_tensor(nu + nv, device=dev).to(u.dtype)
    cost = transport + lam_t * (sizes - 2 * counts_t) if penalty is not None else transport
    shape = (*lead, K)
    return PartialTransport1D(
        cost=io.out(cost.reshape(shape)),
        transport_cost=io.out(transport.reshape(shape)),
        transported=io.out(counts_t.reshape(shape)),
        assignment=io.out(assign_t.reshape(*lead, un.shape[1])),
        penalty=io.out(lam_t.reshape(shape)),
    )


# --------------------------------------------------------- ragged point clouds
def _ragged_clouds(io, X_s, X_t, a, b, lengths_s, lengths_t, batch_s, batch_t):
    Xs, off_s = sg.flat_values(io, X_s, lengths_s, batch_s, "X_s", "lengths_s", "batch_s",
                               points=True)
    Xt, off_t = sg.flat_values(io, X_t, lengths_t, batch_t, "X_t", "lengths_t", "batch_t",
                               points=True)
    sg.check_same_count(off_s, off_t, "X_s", "X_t")
    if Xt.shape[1] != Xs.shape[1]:
        raise ValueError(f"X_t must have shape (m, {Xs.shape[1]}) to match X_s, got "
                         f"{tuple(Xt.shape)}")
    aw = sg.flat_weights(io, a, off_s, "a", "X_s")
    bw = sg.flat_weights(io, b, off_t, "b", "X_t")
    return Xs, off_s, aw, Xt, off_t, bw


def _unsupported(log=False, scaler=None, tol=None, n_projections=50, **others):
    """Reject the options a ragged batch cannot honour, naming them."""
    if log:
        raise ValueError("log=True is not available for ragged batches; call per pair for "
                         "the log")
    if scaler is not None:
        raise ValueError("scaler is not available for ragged batches")
    if tol is not None or isinstance(n_projections, str):
        raise ValueError("n_projections='auto' / tol is not available for ragged batches "
                         "(each pair would need its own number of slices); give an integer")
    for name, (value, default) in others.items():
        if value != default:
            raise ValueError(f"{name}={value!r} is not available for ragged batches")


def _theta(io, d, projections, n_projections, seed, directions="random"):
    """Directions ``(d, L)``: the given ``projections``, or drawn as the per-pair calls do."""
    if projections is not None:
        from .sliced import _directions

        if directions != "random":
            raise ValueError(f"directions={directions!r} draws slices; it cannot be combined "
                             "with given projections")
        return _directions(io, d, projections, n_projections, None)
    from .slicers import sample_directions

    n_projections = check_int(n_projections, "n_projections", minimum=1)
    return sample_directions(d, n_projections, seed, directions=directions, dtype=io.dtype,
                             device=io.device)[0]


def ragged_sliced_costs(X_s, X_t, a=None, b=None, *, n_projections=50, p=2, projections=None,
                        seed=None, lengths_s=None, lengths_t=None, batch_s=None, batch_t=None,
                        slicer=None, directions="random", slicer_options=None):
    """Per-slice ``W_p^p`` of a ragged batch of cloud pairs: ``(io, costs (L, K))``.

    All clouds are projected with one matrix product on the same directions
    (or mapped by one ``slicer`` module), and every projected cloud is sorted
    once on its segment.
    """
    from .slicers import _apply_slicer

    p = _check_p(p)
    io = ArrayIO(*_arrays(X_s), *_arrays(X_t), *_arrays(a), *_arrays(b),
                 *(() if projections is None else (projections,)))
    Xs, off_s, aw, Xt, off_t, bw = _ragged_clouds(io, X_s, X_t, a, b, lengths_s, lengths_t,
                                                  batch_s, batch_t)
    if slicer is not None:
        from .slicers import make_slicer

        if not isinstance(slicer, torch.nn.Module):
            slicer = make_slicer(slicer, Xs.shape[1], n_projections, seed, dtype=io.dtype,
                                 device=io.device, **(slicer_options or {}))
        ps, pt = _apply_slicer(slicer, Xs), _apply_slicer(slicer, Xt)
    else:
        theta = _theta(io, Xs.shape[1], projections, n_projections, seed, directions)
        ps, pt = theta.T @ Xs.T, theta.T @ Xt.T
    fresh = slicer is None  # projections are ours; a module's output might not be
    su, sv = _sort_both(ps, off_s, aw, pt, off_t, bw, _needs_torch(ps, pt, aw, bw),
                        (fresh, fresh))
    k = np.arange(su.count)
    return io, _pairs_cost(su, sv, k, k, p, like=ps), p


def ragged_sliced_wasserstein_distance(X_s, X_t, a=None, b=None, n_projections=50, p=2,
                                       projections=None, seed=None, *, directions="random",
                                       lengths_s=None, lengths_t=None, batch_s=None,
                                       batch_t=None, **options):
    """:func:`~mintlab.transport.sliced_wasserstein_distance` per pair of a ragged batch.

    Every pair uses the same directions (one matmul for all clouds), so
    entry ``k`` equals the per-pair call on pair ``k`` with the same
    ``projections`` or ``seed``. Returns ``SW_p`` of shape ``(K,)``.
    """
    _unsupported(n_projections=n_projections, **options)
    io, costs, p = ragged_sliced_costs(
        X_s, X_t, a, b, n_projections=n_projections, p=p, projections=projections, seed=seed,
        lengths_s=lengths_s, lengths_t=lengths_t, batch_s=batch_s, batch_t=batch_t,
        directions=directions)
    return io.out(costs.mean(0).pow(1.0 / p))


def ragged_energy_based_sliced_wasserstein_distance(X_s, X_t, a=None, b=None,
                                                    n_projections=50, p=2, projections=None,
                                                    seed=None, *, directions="random",
                                                    lengths_s=None, lengths_t=None,
                                                    batch_s=None, batch_t=None, **options):
    """Energy-based SW per pair of a ragged batch (importance weights per pair), ``(K,)``."""
    _unsupported(n_projections=n_projections, **options)
    io, costs, p = ragged_sliced_costs(
        X_s, X_t, a, b, n_projections=n_projections, p=p, projections=projections, seed=seed,
        lengths_s=lengths_s, lengths_t=lengths_t, batch_s=batch_s, batch_t=batch_t,
        directions=directions)
    weights = torch.softmax(costs.detach(), dim=0)
    return io.out((weights * costs).sum(0).pow(1.0 / p))


def ragged_generalized_sliced_wasserstein_distance(X_s, X_t, a=None, b=None,
                                                   slicer="polynomial", n_projections=50, p=2,
                                                   seed=None, *, lengths_s=None,
                                                   lengths_t=None, batch_s=None, batch_t=None,
                                                   slicer_options=None, **options):
    """Generalized SW per pair of a ragged batch (one slicer for all clouds), ``(K,)``."""
    _unsupported(n_projections=n_projections, **options)
    io, costs, p = ragged_sliced_costs(
        X_s, X_t, a, b, n_projections=n_projections, p=p, seed=seed, lengths_s=lengths_s,
        lengths_t=lengths_t, batch_s=batch_s, batch_t=batch_t, slicer=slicer,
        slicer_options=slicer_options)
    return io.out(costs.mean(0).pow(1.0 / p))


def ragged_sliced_partial_wasserstein(X_s, X_t, penalty, n_projections=50, p=2,
                                      projections=None, seed=None, *, directions="random",
                                      lengths_s=None, lengths_t=None, batch_s=None,
                                      batch_t=None, **options):
    """Sliced partial OT (``sopt``) per pair of a ragged batch: mean penalised cost, ``(K,)``."""
    _unsupported(n_projections=n_projections, **options)
    p = _check_p(p)
    io = ArrayIO(*_arrays(X_s), *_arrays(X_t),
                 *(() if projections is None else (projections,)))
    Xs, off_s, _, Xt, off_t, _ = _ragged_clouds(io, X_s, X_t, None, None, lengths_s,
                                                lengths_t, batch_s, batch_t)
    theta = _theta(io, Xs.shape[1], projections, n_projections, seed, directions)
    res = ragged_partial_wasserstein_1d(theta.T @ Xs.T, theta.T @ Xt.T, penalty, p=p,
                                        u_lengths=np.diff(off_s), v_lengths=np.diff(off_t))
    return io.out(res.cost.mean(0))


def _s3w_projector(io, d, name, variant, n_projections, n_rotations, pool_size, h,
                   projections, seed, directions):
    """``project(x, name) -> (R L, N)``: the S3W slices of points, drawn as ``s3w_distance``
    draws them (directions first, then rotations, from one generator)."""
    from .._random import make_generator
    from .._validation import check_choice
    from .sliced import _rotation_pool
    from .slicers import _equidistant, random_rotations

    variant = check_choice(variant, "variant", ("s3w", "ri", "ari"))
    if d < 2:
        raise ValueError(f"{name} must hold points of S^(d-1) with d >= 2, got dimension {d}")
    g = make_generator(seed)
    theta = _theta(io, d - 1, projections, n_projections, g, directions)
    if variant == "s3w":
        return lambda x, name: theta.T @ _equidistant(x, h, name).T
    n_rotations = check_int(n_rotations, "n_rotations", minimum=1)
    if variant == "ri":
        rots = random_rotations(d, n_rotations, g, dtype=io.dtype, device=io.device)
    else:
        pool_size = check_int(pool_size, "pool_size", minimum=1)
        if n_rotations > pool_size:
            raise ValueError(f"n_rotations must be <= pool_size = {pool_size}, got "
                             f"{n_rotations}")
        pool = _rotation_pool(d, pool_size, io.dtype, io.device)
        rots = pool[torch.randperm(pool_size, generator=g)[:n_rotations].to(io.device)]

    def project(x, name):
        z = _equidistant(x @ rots.transpose(-1, -2), h, name)  # (R, N, d-1)
        return (theta.T @ z.transpose(-1, -2)).reshape(-1, x.shape[0])  # (R L, N)

    return project


def ragged_s3w_distance(X_s, X_t, a=None, b=None, variant="s3w", p=2, n_projections=100,
                        n_rotations=10, pool_size=100, h=None, projections=None, seed=None, *,
                        directions="random", lengths_s=None, lengths_t=None, batch_s=None,
                        batch_t=None, **options):
    """:func:`~mintlab.transport.s3w_distance` per pair of a ragged batch, shape ``(K,)``."""
    _unsupported(n_projections=n_projections, **options)
    p = _check_p(p)
    io = ArrayIO(*_arrays(X_s), *_arrays(X_t), *_arrays(a), *_arrays(b),
                 *(() if projections is None else (projections,)))
    Xs, off_s, aw, Xt, off_t, bw = _ragged_clouds(io, X_s, X_t, a, b, lengths_s, lengths_t,
                                                  batch_s, batch_t)
    project = _s3w_projector(io, Xs.shape[1], "X_s", variant, n_projections, n_rotations,
                             pool_size, h, projections, seed, directions)
    ps, pt = project(Xs, "X_s"), project(Xt, "X_t")
    su, sv = _sort_both(ps, off_s, aw, pt, off_t, bw, _needs_torch(ps, pt, aw, bw),
                        (True, True))
    k = np.arange(su.count)
    return io.out(_pairs_cost(su, sv, k, k, p, like=ps, mean=True).pow(1.0 / p))


# ------------------------------------------------------------------- matrices
def _sets(io, sets, name, *, points=True):
    """A family of sets: list of arrays or a stacked array ``(K, n, d)`` / ``(K, n)``."""
    if sg.is_ragged_list(sets, 2 if points else 1):
        flat, off = sg.flat_values(io, sets, None, None, name, "", "", points=points)
        return (flat if points else flat.reshape(1, -1)), off
    t = io.tensor(sets, name, min_ndim=1)
    if t.ndim == (2 if points else 1):  # one set: a 1 x M row (one-vs-many)
        t = t.unsqueeze(0)
    if t.ndim != (3 if points else 2):
        one, stacked = ("(n, d)", "(K, n, d)") if points else ("(n,)", "(K, n)")
        raise ValueError(f"{name} must be a list of arrays, one set {one} or a stacked array "
                         f"{stacked}, got shape {tuple(t.shape)}")
    K, n = t.shape[0], t.shape[1]
    flat = t.reshape(K * n, -1) if points else t.reshape(1, K * n)
    return flat, np.arange(K + 1, dtype=np.int64) * n


def _set_weights(io, w, offsets, name, sets_name):
    if w is None:
        return None
    if not sg.is_ragged_list(w):
        wt = io.tensor(w, name, min_ndim=1)
        if wt.ndim == 2:  # stacked (K, n)
            w = list(wt)
    return sg.flat_weights(io, w, offsets, name, sets_name)


def _pair_blocks(K, M, symmetric, block_size):
    """Index pairs (i, j) in blocks of at most ``block_size`` pairs."""
    if symmetric:
        i, j = np.triu_indices(K, 1)
    else:
        i, j = np.divmod(np.arange(K * M), M)
    for s in range(0, i.shape[0], block_size):
        yield i[s:s + block_size], j[s:s + block_size]


def _iterate(blocks, progress, total):
    if not progress:
        return blocks
    from tqdm.auto import tqdm

    return tqdm(blocks, total=total, desc="pairs", unit="block")


def _fill(pairs_fn, K, M, symmetric, block_size, progress, like):
    """``(K, M)`` matrix from ``pairs_fn(i, j) -> (P,)`` over blocks of pairs."""
    n_pairs = K * (K - 1) // 2 if symmetric else K * M
    blocks = _pair_blocks(K, M, symmetric, block_size)
    n_blocks = -(-n_pairs // block_size)
    vals, rows, cols = [], [], []
    for i, j in _iterate(blocks, progress, n_blocks):
        vals.append(pairs_fn(i, j))
        rows.append(i)
        cols.append(j)
    out = torch.zeros(K, M, dtype=like.dtype, device=like.device)
    if vals:
        r = torch.as_tensor(np.concatenate(rows), device=like.device)
        c = torch.as_tensor(np.concatenate(cols), device=like.device)
        v = torch.cat(vals)
        out = out.index_put((r, c), v)
        if symmetric:
            out = out.index_put((c, r), v)
    return out


def _check_block(block_size):
    return check_int(block_size, "block_size", minimum=1)


def _matrix_from_projections(pa, off_a, wa, pb, off_b, wb, p, symmetric, block_size,
                             progress):
    """Mean over rows (slices) of ``W_p^p`` between every pair of sets: ``(K, M)``.

    Equal sizes, uniform weights and ``p = 2``: each set is a vector of sorted
    quantiles and the matrix comes from inner products (one matmul per block),
    with the pairs whose value is small next to the norms (where the inner
    products could lose digits) recomputed exactly by the merged-quantile kernel.
    """
    K, M = off_a.shape[0] - 1, off_b.shape[0] - 1
    diff = _needs_torch(pa, pb, wa, wb)
    if symmetric:
        sa = sb = _Sorted(pa, off_a, wa, differentiable=diff, inplace=True)
    else:  # projections: fresh arrays of ours
        sa, sb = _sort_both(pa, off_a, wa, pb, off_b, wb, diff, (True, True))
    R = pa.shape[0]
    sizes_a, sizes_b = np.diff(off_a), np.diff(off_b)
    n = int(sizes_a[0])
    gram = (p == 2.0 and wa is None and wb is None and (sizes_a == n).all()
            and (sizes_b == n).all())
    if gram:
        def quantiles(s, k):
            v = s.values if diff else torch.as_tensor(s.values)
            return v.reshape(R, k, n).transpose(0, 1).reshape(k, R * n).to(pa.dtype)

        Qa = quantiles(sa, K)
        Qb = Qa if symmetric else quantiles(sb, M)
        na, nb = (Qa * Qa).sum(1), (Qb * Qb).sum(1)
        rows = max(1, block_size // max(M, 1))
        parts = []
        for s in _iterate(range(0, K, rows), progress, -(-K // rows)):
            G = Qa[s:s + rows] @ Qb.T
            parts.append((na[s:s + rows, None] + nb[None, :] - 2.0 * G).clamp_min(0.0))
        D = torch.cat(parts) / (R * n)
        scale = (na[:, None] + nb[None, :]) / (R * n)
        risky = (D <= 1e-4 * scale)
        if symmetric:
            risky.fill_diagonal_(False)
        ri, rj = (x.cpu().numpy() for x in torch.nonzero(risky, as_tuple=True))
        if ri.size:
            exact = _pairs_cost(sa, sb, ri, rj, p, like=pa, mean=True)
            D = D.index_put((torch.as_tensor(ri, device=D.device),
                             torch.as_tensor(rj, device=D.device)), exact)
        if symmetric:
            D = D - torch.diag(torch.diagonal(D))
        return D
    return _fill(lambda i, j: _pairs_cost(sa, sb, i, j, p, like=pa, mean=True), K, M,
                 symmetric, block_size, progress, pa)


def _matrix_io(sets_a, sets_b, a, b, *extra):
    return ArrayIO(*_arrays(sets_a), *_arrays(sets_b), *_arrays(a), *_arrays(b),
                   *(x for x in extra if x is not None))


def _two_families(io, sets_a, sets_b, a, b, *, points=True):
    xa, off_a = _sets(io, sets_a, "sets_a", points=points)
    wa = _set_weights(io, a, off_a, "a", "sets_a")
    if sets_b is None:
        if b is not None:
            raise ValueError("b given without sets_b")
        return xa, off_a, wa, xa, off_a, wa, True
    xb, off_b = _sets(io, sets_b, "sets_b", points=points)
    if points and xb.shape[1] != xa.shape[1]:
        raise ValueError(f"sets_b must hold points of dimension {xa.shape[1]} like sets_a, "
                         f"got dimension {xb.shape[1]}")
    wb = _set_weights(io, b, off_b, "b", "sets_b")
    return xa, off_a, wa, xb, off_b, wb, False


def sliced_wasserstein_matrix(sets_a: Sequence[ArrayLike] | ArrayLike,
                              sets_b: Sequence[ArrayLike] | ArrayLike | None = None,
                              a: Sequence[ArrayLike] | None = None,
                              b: Sequence[ArrayLike] | None = None, *, n_projections: int = 50,
                              p: float = 2, projections: ArrayLike | None = None,
                              seed: SeedLike = None, directions: str = "random",
                              block_size: int = _DEFAULT_BLOCK, progress: bool = False) -> Array:
    r"""Sliced Wasserstein distances between every pair of point clouds.

    .. math::
        D_{ij} = SW_p(\mu_i, \nu_j) = \Big(\frac1L \sum_{l=1}^L
        W_p^p(\theta_l \# \mu_i, \theta_l \# \nu_j)\Big)^{1/p}

    Every set is projected on the same ``L`` directions and sorted once
    (``O(L N log n)`` for ``N`` points in all); the matrix is then filled from
    the sorted quantiles, ``block_size`` pairs at a time, by walking the merged
    cumulative weights of each pair (``O(L (n_i + n_j))`` per pair, a compiled
    kernel on CPU). Sets of one size with uniform weights and ``p = 2`` use
    inner products of the quantile vectors (one matrix product per block of
    rows). Each entry equals :func:`~mintlab.transport.sliced_wasserstein_distance`
    on that pair with the same ``projections``.

    Parameters
    ----------
    sets_a : list of K arrays of shape (n_i, d), an array (K, n, d), or one set (n, d)
    sets_b : list of M arrays of shape (m_j, d), or an array (M, m, d), optional
        Default: ``sets_a`` itself (a symmetric matrix with zero diagonal).
        One set in ``sets_a`` gives a ``1 x M`` row (one-vs-many).
    a, b : lists of weight arrays of shape (n_i,) / (m_j,), optional
        Uniform when omitted; normalised per set.
    n_projections : int, default 50
    p : float, default 2
    projections : array of shape (d, L), optional
    seed : int, numpy or torch generator, or None
    directions : {"random", "orthogonal", "qmc"}, default "random"
        Sampling scheme of the directions, as in
        :func:`~mintlab.transport.sliced_wasserstein_distance`.
    block_size : int, default 4096
        Pairs computed at once; bounds the working memory to
        ``O(block_size * L)`` beyond the sorted projections.
    progress : bool, default False
        Show a progress bar over blocks.

    Returns
    -------
    array of shape (K, M)
        ``SW_p`` (root taken). Differentiable for torch input.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> sets = [rng.normal(size=(n, 2)) for n in (20, 30, 25)]
    >>> D = sliced_wasserstein_matrix(sets, seed=0)
    >>> D.shape, bool(np.allclose(D, D.T)), float(D[0, 0])
    ((3, 3), True, 0.0)
    """
    p = _check_p(p)
    block_size = _check_block(block_size)
    io = _matrix_io(sets_a, sets_b, a, b, projections)
    xa, off_a, wa, xb, off_b, wb, sym = _two_families(io, sets_a, sets_b, a, b)
    theta = _theta(io, xa.shape[1], projections, n_projections, seed, directions)
    pa = theta.T @ xa.T
    pb = pa if sym else theta.T @ xb.T
    D = _matrix_from_projections(pa, off_a, wa, pb, off_b, wb, p, sym, block_size, progress)
    return io.out(D.pow(1.0 / p))


def s3w_matrix(sets_a: Sequence[ArrayLike] | ArrayLike,
               sets_b: Sequence[ArrayLike] | ArrayLike | None = None,
               a: Sequence[ArrayLike] | None = None, b: Sequence[ArrayLike] | None = None, *,
               variant: str = "s3w", p: float = 2, n_projections: int = 100, n_rotations: int = 10,
               pool_size: int = 100, h: Callable[[torch.Tensor], torch.Tensor] | None = None,
               projections: ArrayLike | None = None, seed: SeedLike = None,
               directions: str = "random", block_size: int = _DEFAULT_BLOCK,
               progress: bool = False) -> Array:
    r"""Stereographic spherical sliced Wasserstein (``s3w``) between every pair of sets.

    .. math::
        D_{ij} = S3W_p(\mu_i, \nu_j) = SW_p\big((h \circ \phi) \# \mu_i,
        (h \circ \phi) \# \nu_j\big)

    Each set is mapped (stereographic projection and radial correction),
    rotated for the RI variants, projected and sorted once; the matrix is then
    filled as in :func:`sliced_wasserstein_matrix`. Each entry equals
    :func:`~mintlab.transport.s3w_distance` on that pair with the same ``seed``
    (same directions and rotations) or ``projections``.

    Parameters
    ----------
    sets_a, sets_b, a, b, block_size, progress
        As in :func:`sliced_wasserstein_matrix`; points on the unit sphere.
    variant, p, n_projections, n_rotations, pool_size, h, projections, seed, directions
        As in :func:`~mintlab.transport.s3w_distance`.

    Returns
    -------
    array of shape (K, M)

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> sets = [rng.normal(size=(n, 3)) for n in (10, 12)]
    >>> sets = [x / np.linalg.norm(x, axis=1, keepdims=True) for x in sets]
    >>> s3w_matrix(sets, seed=0).shape
    (2, 2)
    """
    p = _check_p(p)
    block_size = _check_block(block_size)
    io = _matrix_io(sets_a, sets_b, a, b, projections)
    xa, off_a, wa, xb, off_b, wb, sym = _two_families(io, sets_a, sets_b, a, b)
    project = _s3w_projector(io, xa.shape[1], "sets_a", variant, n_projections, n_rotations,
                             pool_size, h, projections, seed, directions)
    pa = project(xa, "sets_a")
    pb = pa if sym else project(xb, "sets_b")
    D = _matrix_from_projections(pa, off_a, wa, pb, off_b, wb, p, sym, block_size, progress)
    return io.out(D.pow(1.0 / p))


def circle_wasserstein_matrix(sets_a: Sequence[ArrayLike] | ArrayLike,
                              sets_b: Sequence[ArrayLike] | ArrayLike | None = None,
                              a: Sequence[ArrayLike] | None = None,
                              b: Sequence[ArrayLike] | None = None, *, p: float = 1,
                              block_size: int = _DEFAULT_BLOCK, progress: bool = False) -> Array:
    r"""Wasserstein distances on the circle :math:`\mathbb{R}/\mathbb{Z}` between every pair.

    .. math:: D_{ij} = W_p^p(\mu_i, \nu_j) \text{ on the circle}

    Each set is reduced modulo 1 and sorted once. For ``p = 1`` (CPU, no
    gradients) a compiled kernel merges the two sorted sets of each pair and
    takes the weighted median of ``F_i - F_j`` (``O((n_i + n_j) log)`` per
    pair); other cases stack pairs of equal sizes and call the batched
    :func:`~mintlab.transport.circle_wasserstein`. Entries equal the per-pair
    calls.

    Parameters
    ----------
    sets_a : list of K arrays of shape (n_i,), or an array (K, n)
        Points on the circle as values (taken modulo 1).
    sets_b : list of M arrays, or an array (M, m), optional
        Default: ``sets_a`` (symmetric, zero diagonal).
    a, b : lists of weight arrays, optional
    p : float, default 1
    block_size, progress
        As in :func:`sliced_wasserstein_matrix`.

    Returns
    -------
    array of shape (K, M)
        ``W_p^p`` (no root, as :func:`~mintlab.transport.circle_wasserstein`).

    Examples
    --------
    >>> import numpy as np
    >>> D = circle_wasserstein_matrix([np.array([0.05]), np.array([0.95]), np.array([0.5])])
    >>> np.round(D, 6)
    array([[0.  , 0.1 , 0.45],
           [0.1 , 0.  , 0.45],
           [0.45, 0.45, 0.  ]])
    """
    p = _check_p(p)
    block_size = _check_block(block_size)
    io = _matrix_io(sets_a, sets_b, a, b)
    xa, off_a, wa, xb, off_b, wb, sym = _two_families(io, sets_a, sets_b, a, b, points=False)
    xa = torch.remainder(xa, 1.0)
    xb = xa if sym else torch.remainder(xb, 1.0)
    K, M = off_a.shape[0] - 1, off_b.shape[0] - 1
    if p == 1.0 and not _needs_torch(xa, xb, wa, wb):
        if sym:
            sa = sb = _Sorted(xa, off_a, wa, differentiable=False, inplace=True)
        else:  # reduced modulo 1: fresh arrays of ours
            sa, sb = _sort_both(xa, off_a, wa, xb, off_b, wb, False, (True, True))

        def pairs_fn(i, j):
            out = np.empty((1, i.shape[0]))
            sg.circle_w1_pairs(sa.values, sa.np_weights(), off_a, sb.values, sb.np_weights(),
                               off_b, i.astype(np.int64), j.astype(np.int64), out)
            return torch.as_tensor(out[0]).to(xa.dtype)
    else:
        def pairs_fn(i, j):
            return _circle_pairs(xa, off_a, wa, xb, off_b, wb, i, j, p)[0]
    return io.out(_fill(pairs_fn, K, M, sym, block_size, progress, xa))


def sliced_partial_wasserstein_matrix(sets_a: Sequence[ArrayLike] | ArrayLike,
                                      sets_b: Sequence[ArrayLike] | ArrayLike | None = None,
                                      penalty: float | None = None, *, n_projections: int = 50,
                                      p: float = 2, projections: ArrayLike | None = None,
                                      seed: SeedLike = None, directions: str = "random",
                                      block_size: int = _DEFAULT_BLOCK,
                                      progress: bool = False) -> Array:
    r"""Sliced optimal partial transport (``sopt``) between every pair of point clouds.

    .. math::
        D_{ij} = \frac1L \sum_{l=1}^L OPT_\lambda(\theta_l \# \mu_i, \theta_l \# \nu_j)

    with the exact penalised partial transport on the line. Every set is
    projected and sorted once; pairs of equal sizes are stacked (all their
    slices in one call of the compiled solver), ``block_size`` pairs at a time.
    Entries equal :func:`~mintlab.transport.sliced_partial_wasserstein` on the
    pair with the same ``projections``.

    Parameters
    ----------
    sets_a, sets_b, block_size, progress
        As in :func:`sliced_wasserstein_matrix` (sums of unit Diracs: no weights).
    penalty : float
        Price of each created or destroyed unit of mass (required).
    n_projections, p, projections, seed, directions
        As in :func:`~mintlab.transport.sliced_partial_wasserstein`.

    Returns
    -------
    array of shape (K, M)
        Mean penalised cost over slices (no root), values only (no gradient).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> sets = [rng.normal(size=(n, 2)) for n in (8, 10, 9)]
    >>> D = sliced_partial_wasserstein_matrix(sets, penalty=0.5, seed=0)
    >>> D.shape, float(D[1, 1])
    ((3, 3), 0.0)
    """
    p = _check_p(p)
    if penalty is None:
        raise TypeError("penalty is required: the price of each created or destroyed unit of "
                        "mass")
    lam = check_nonnegative(penalty, "penalty")
    block_size = _check_block(block_size)
    io = _matrix_io(sets_a, sets_b, None, None, projections)
    xa, off_a, _, xb, off_b, _, sym = _two_families(io, sets_a, sets_b, None, None)
    theta = _theta(io, xa.shape[1], projections, n_projections, seed, directions)
    pa = _np(theta.T @ xa.T)
    pb = pa if sym else _np(theta.T @ xb.T)
    sa, _ = sg.sort_segments_np(pa, off_a, None)
    sb = sa if sym else sg.sort_segments_np(pb, off_b, None)[0]
    K, M = off_a.shape[0] - 1, off_b.shape[0] - 1
    na, nb = np.diff(off_a), np.diff(off_b)

    def pairs_fn(i, j):
        tc, cnt, _, _ = _partial_sorted_pairs(sa, off_a, sb, off_b, i, j, lam, p)
        cost = tc + lam * ((na[i] + nb[j])[None, :] - 2 * cnt)
        return torch.as_tensor(cost.mean(0)).to(device=xa.device, dtype=xa.dtype)

    return io.out(_fill(pairs_fn, K, M, sym, block_size, progress, xa.detach()))


def linear_sliced_wasserstein_sphere_matrix(sets_a: Sequence[ArrayLike] | ArrayLike,
                                            sets_b: Sequence[ArrayLike] | ArrayLike | None = None,
                                            a: Sequence[ArrayLike] | None = None,
                                            b: Sequence[ArrayLike] | None = None, *,
                                            n_projections: int = 50,
                                            projections: ArrayLike | None = None,
                                            seed: SeedLike = None,
                                            n_references: int | None = None,
                                            block_size: int = _DEFAULT_BLOCK,
                                            progress: bool = False) -> Array:
    r"""Linear spherical sliced OT (``lssot``) between every pair of sets on ``S^{d-1}``.

    .. math::
        D_{ij} = \Big(\frac1L \sum_{l=1}^L LCOT_2^2(P^{U_l}_\# \mu_i,
        P^{U_l}_\# \nu_j)\Big)^{1/2}

    With ``n_references = N`` every set is embedded once (its LCOT embedding
    on ``N`` grid points per great circle, an ``L x N`` array) and the matrix
    is the mean squared circle distance between embeddings, ``block_size``
    entries at a time: ``O(K M L N)`` work after ``K + M`` embeddings. With
    ``n_references=None`` (exact LCOT) pairs of equal sizes are stacked and
    solved by the batched :func:`~mintlab.transport.linear_circular_ot`.
    Entries equal :func:`~mintlab.transport.linear_sliced_wasserstein_sphere`
    on the pair with the same ``projections`` and ``n_references``.

    Parameters
    ----------
    sets_a, sets_b, a, b, block_size, progress
        As in :func:`sliced_wasserstein_matrix`; points on the unit sphere.
    n_projections, projections, seed, n_references
        As in :func:`~mintlab.transport.linear_sliced_wasserstein_sphere`
        (``projections`` of shape ``(L, d, 2)``).

    Returns
    -------
    array of shape (K, M)

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> sets = [rng.normal(size=(n, 3)) for n in (10, 12, 9)]
    >>> sets = [x / np.linalg.norm(x, axis=1, keepdims=True) for x in sets]
    >>> D = linear_sliced_wasserstein_sphere_matrix(sets, n_references=50, seed=0)
    >>> D.shape, float(D[2, 2])
    ((3, 3), 0.0)
    """
    from .line import _circle_gap, _lcot_embed, _lcot_parts, linear_circular_ot
    from .slicers import _check_sphere, _circle_coordinates, random_frames

    block_size = _check_block(block_size)
    io = _matrix_io(sets_a, sets_b, a, b, projections)
    xa, off_a, wa, xb, off_b, wb, sym = _two_families(io, sets_a, sets_b, a, b)
    _check_sphere(xa, "sets_a")
    if not sym:
        _check_sphere(xb, "sets_b")
    d = xa.shape[1]
    if projections is None:
        U = random_frames(d, n_projections, 2, seed, dtype=io.dtype, device=io.device)
    else:
        U = io.tensor(projections, "projections", ndim=3, shape=(None, d, 2))
    ca = _circle_coordinates(xa, U)  # (L, N)
    cb = ca if sym else _circle_coordinates(xb, U)
    K, M = off_a.shape[0] - 1, off_b.shape[0] - 1
    if n_references is None:
        ca, cb = torch.remainder(ca, 1.0), torch.remainder(cb, 1.0)
        D = _fill(lambda i, j: _grouped(
            lambda x, y, xw, yw: linear_circular_ot(x, y, xw, yw), ca, off_a, wa, cb, off_b,
            wb, i, j).mean(0), K, M, sym, block_size, progress, ca)
        return io.out(D.sqrt())
    N = check_int(n_references, "n_references", minimum=1)
    grid = torch.arange(N, dtype=ca.dtype, device=ca.device) / N

    def embed(c, off, w):
        out = []
        for k in range(off.shape[0] - 1):
            ck = torch.remainder(c[:, off[k]:off[k + 1]], 1.0)
            wk = None if w is None else w[off[k]:off[k + 1]].expand(ck.shape)
            us, cu, mu = _lcot_parts(ck, wk)
            out.append(_lcot_embed(grid.expand(ck.shape[0], N), us, cu, mu))
        return torch.stack(out)  # (K, L, N)

    Ea = embed(ca, off_a, wa)
    Eb = Ea if sym else embed(cb, off_b, wb)

    def pairs_fn(i, j):
        ti = torch.as_tensor(i, device=Ea.device)
        tj = torch.as_tensor(j, device=Ea.device)
        g = _circle_gap(Ea[ti] - Eb[tj])
        return (g * g).mean(-1).mean(-1)

    blk = max(1, block_size // max(1, Ea.shape[1] * N // 64))
    D = _fill(pairs_fn, K, M, sym, blk, progress, Ea)
    return io.out(D.sqrt())
