"""Compiled kernel for exact penalised optimal partial transport on the line.

Problem (``sopt``): between unit Diracs ``x_1..x_n`` and ``y_1..y_m`` find a
partial matching minimising ``sum |x_i - y_j|^p + penalty * (#unmatched points)``.

Structure used (p >= 1): an optimal matching is monotone, and no unmatched
point lies strictly inside the interval spanned by a matched pair (moving the
pair's far end to that point is strictly cheaper). Hence the unmatched points
cut the merged sorted sequence into balanced segments, each matched in sorted
order. Writing ``h`` for the height (#x - #y) of the merged prefix, a segment
that starts at height ``h0`` pairs ``x_i`` with ``y_{i - h0}``. The kernel runs a
dynamic programme over the merged sequence whose states are the start
heights ``h0`` of the open segment; the state ``h0 == h`` is the closed one.
Two exact rules prune states:

* radius: an open state whose oldest pending point lies farther than
  ``(2 penalty)^(1/p)`` from the next point can only close through a pair
  costing more than destroying both points, which is never optimal;
* dominance: an open state with ``e`` pending points whose value is at least
  ``V[closed] + penalty * e`` is never better than leaving its future partners
  unmatched from the closed state.

The work is linear in the number of points times the number of live states,
which stays small unless the penalty is large compared with the spread of the
data; the answer is exact in every case.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _cost(d, p):
    if p == 1.0:
        return abs(d)
    if p == 2.0:
        return d * d
    return abs(d) ** p


@numba.njit(cache=True, nogil=True)
def solve_sorted(x, y, lam, p, prefer_more, match_x):
    """Solve one slice. ``x``, ``y`` sorted ascending.

    Fills ``match_x[i]`` with the index in ``y`` matched to ``x[i]`` (-1 if
    unmatched) and returns the number of pairs. Ties between equal-cost
    choices are broken towards fewer pairs, or more if ``prefer_more``.
    """
    n = x.shape[0]
    m = y.shape[0]
    N = n + m
    off = m
    inf = np.inf
    V = np.full(N + 1, inf)
    C = np.zeros(N + 1, np.int64)
    dec = np.zeros(N, np.bool_)
    hs = np.zeros(N + 1, np.int64)
    is_x = np.zeros(N, np.bool_)
    V[off] = 0.0
    lo = 0
    hi = 0
    A = 0
    B = 0
    h = 0
    two_lam = 2.0 * lam
    for t in range(N):
        kc = h + off
        take_x = A < n and (B >= m or x[A] <= y[B])
        is_x[t] = take_x
        if take_x:
            xi = x[A]
            for h0 in range(h + 1, hi + 1):
                k = h0 + off
                if V[k] < inf:
                    V[k] += _cost(xi - y[A - h0], p)
                    C[k] += 1
            kn = kc + 1
        else:
            yj = y[B]
            for h0 in range(lo, h):
                k = h0 + off
                if V[k] < inf:
                    V[k] += _cost(x[B + h0] - yj, p)
                    C[k] += 1
            kn = kc - 1
        cand = V[kc] + lam
        cur = V[kn]
        if cand < cur or (cand == cur and (C[kc] > C[kn]) == prefer_more):
            V[kn] = cand
            C[kn] = C[kc]
            dec[t] = True
        if take_x:
            A += 1
            h += 1
            if h > hi:
                hi = h
        else:
            B += 1
            h -= 1
            if h < lo:
                lo = h
        hs[t + 1] = h
        if t + 1 == N:
            break
        if A < n and (B >= m or x[A] <= y[B]):
            znext = x[A]
        else:
            znext = y[B]
        # radius: states below h hold pending x's (oldest x[B + h0]), states
        # above h pending y's (oldest y[A - h0]); the outermost are the oldest
        while lo < h and (V[lo + off] == inf or _cost(znext - x[B + lo], p) > two_lam):
            V[lo + off] = inf
            lo += 1
        while hi > h and (V[hi + off] == inf or _cost(znext - y[A - hi], p) > two_lam):
            V[hi + off] = inf
            hi -= 1
        # dominance, swept outward from the closed state: a state is dropped
        # when V - lam * e is not below that of a state closer to h
        best = V[h + off]
        for h0 in range(h - 1, lo - 1, -1):
            k = h0 + off
            if V[k] < inf:
                w = V[k] - lam * (h - h0)
                if w >= best:
                    V[k] = inf
                else:
                    best = w
        best = V[h + off]
        for h0 in range(h + 1, hi + 1):
            k = h0 + off
            if V[k] < inf:
                w = V[k] - lam * (h0 - h)
                if w >= best:
                    V[k] = inf
                else:
                    best = w
        while lo < h and V[lo + off] == inf:
            lo += 1
        while hi > h and V[hi + off] == inf:
            hi -= 1
    # backtrack the unmatched points
    unmatched_x = np.zeros(n, np.bool_)
    unmatched_y = np.zeros(m, np.bool_)
    s = h
    A = n
    B = m
    for t in range(N - 1, -1, -1):
        if is_x[t]:
            A -= 1
        else:
            B -= 1
        if s == hs[t + 1] and dec[t]:
            if is_x[t]:
                unmatched_x[A] = True
            else:
                unmatched_y[B] = True
            s = hs[t]
    j = 0
    k = 0
    for i in range(n):
        if unmatched_x[i]:
            match_x[i] = -1
        else:
            while unmatched_y[j]:
                j += 1
            match_x[i] = j
            j += 1
            k += 1
    return k


@numba.njit(cache=True, nogil=True, parallel=True)
def solve_batch(xs, ys, lams, p, prefer_more, match_x, counts):
    """Solve row ``b`` of ``xs`` (B, n) against row ``b`` of ``ys`` (B, m), penalty ``lams[b]``."""
    for b in numba.prange(xs.shape[0]):
        counts[b] = solve_sorted(xs[b], ys[b], lams[b], p, prefer_more, match_x[b])
