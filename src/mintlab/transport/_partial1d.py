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

For ``p == 1`` a faster exact kernel, :func:`solve_sorted_p1`, runs in time
linear in ``n + m`` after sorting, whatever the penalty: the cost of a matching
is then the integral of the flow of matched mass across each gap between
consecutive points, so the problem is a dynamic programme over the flow ``f``
whose value functions are convex and piecewise linear (the "slope trick").
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
def solve_sorted(x, y, lam, p, match_x):
    """Solve one slice. ``x``, ``y`` sorted ascending.

    Fills ``match_x[i]`` with the index in ``y`` matched to ``x[i]`` (-1 if
    unmatched) and returns the number of pairs. Ties between equal-cost
    choices are broken towards fewer pairs.
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
        if cand < cur or (cand == cur and C[kc] <= C[kn]):
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


# ---------------------------------------------------------------------------
# p == 1: slope trick with a deque
#
# After the first t merged points, let V_t(f) be the cheapest cost of the
# choices so far (penalty per unmatched point, plus gap * |f| for every gap
# crossed) with flow f = #matched x - #matched y. Then
#   an x:  V'(f) = min(V(f) + lam, V(f - 1))   (merge a slope -lam),
#   a y:   V'(f) = min(V(f) + lam, V(f + 1))   (merge a slope +lam),
#   a gap g: V'(f) = V(f) + g |f|              (slopes left of f = 0 fall
#                                               by g, those right of it rise),
# and the answer is V_N(0). V_t is convex on [-#y, #x]: its slopes, one token
# per point seen, form a sorted sequence split at f = 0 with exactly #y
# tokens on the left. Unwinding the optimal path backwards shows that a point
# is matched exactly when its token ends on the side it was not created for:
# an x token (-lam) that finishes left of 0, a y token (+lam) right of it.
#
# Left tokens only fall and right tokens only rise, so a left token at or
# below -lam stays left for good, a right one at or above +lam stays right,
# and the new tokens enter exactly at -lam / +lam. Only the tokens strictly
# between -lam and +lam can still change side; they form one sorted deque with
# the split inside it, and every operation happens at one of its ends or at
# the split. The sweep is linear after sorting.
# ---------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def solve_sorted_p1(x, y, lam, match_x):
    """Exact penalised partial matching for ``p == 1`` in linear time; see above.

    ``x``, ``y`` sorted ascending. Fills ``match_x`` like :func:`solve_sorted`
    and returns the number of pairs. Among equally cheap matchings (ties in
    the data) one is chosen by a fixed rule.
    """
    n = x.shape[0]
    m = y.shape[0]
    N = n + m
    # deque of the undecided tokens, sorted: [lo, sp) left of the split,
    # [sp, hi) right of it; a token's value is key + the offset of its side
    key = np.empty(2 * N + 1)
    tok = np.empty(2 * N + 1, np.int64)
    left = np.zeros(N, np.bool_)  # final side; token of x_i is i, of y_j is n + j
    lo = N
    hi = N
    sp = N
    off_l = 0.0
    off_r = 0.0
    A = 0
    B = 0
    prev = 0.0
    for t in range(N):
        take_x = A < n and (B >= m or x[A] <= y[B])
        z = x[A] if take_x else y[B]
        if t > 0:
            g = z - prev
            off_l -= g
            off_r += g
        prev = z
        # tokens that drifted out of (-lam, lam) are decided
        while lo < sp and key[lo] + off_l <= -lam:
            left[tok[lo]] = True
            lo += 1
        while hi > sp and key[hi - 1] + off_r >= lam:
            hi -= 1
        if take_x:
            if sp > lo:
                # -lam sorts below every undecided left token: it stays left
                # (x matched) and the largest left token crosses the split
                sp -= 1
                key[sp] += off_l - off_r
                left[A] = True
            else:
                # -lam is the largest left slope: it crosses to the right
                lo -= 1
                key[lo] = -lam - off_r
                tok[lo] = A
                sp = lo
            A += 1
        else:
            if hi > sp:
                # +lam sorts above every undecided right token: it stays
                # right (y matched) and the smallest right token crosses
                key[sp] += off_r - off_l
                sp += 1
            else:
                key[hi] = lam - off_l
                tok[hi] = n + B
                hi += 1
                sp = hi
            B += 1
    for q in range(lo, sp):
        left[tok[q]] = True
    j = 0
    k = 0
    for i in range(n):
        if left[i]:
            while left[n + j]:
                j += 1
            match_x[i] = j
            j += 1
            k += 1
        else:
            match_x[i] = -1
    return k


@numba.njit(cache=True, nogil=True, parallel=True)
def solve_batch(xs, ys, lams, p, match_x, counts):
    """Solve row ``b`` of ``xs`` (B, n) against row ``b`` of ``ys`` (B, m), penalty ``lams[b]``."""
    for b in numba.prange(xs.shape[0]):
        if p == 1.0:
            counts[b] = solve_sorted_p1(xs[b], ys[b], lams[b], match_x[b])
        else:
            counts[b] = solve_sorted(xs[b], ys[b], lams[b], p, match_x[b])


@numba.njit(cache=True, nogil=True)
def unsort_batch(match, u_order, v_order, assign):
    """Map sorted-space matchings to original indices:
    ``assign[b, u_order[b, i]] = v_order[b, match[b, i]]`` (``-1`` for unmatched points)."""
    for b in range(match.shape[0]):  # memory-bound: one thread, no parallel launch per call
        for i in range(match.shape[1]):
            j = match[b, i]
            assign[b, u_order[b, i]] = v_order[b, j] if j >= 0 else -1


@numba.njit(cache=True, nogil=True)
def sorted_costs(us, vs, match, p, costs):
    """``costs[b] = sum_i |us[b, i] - vs[b, match[b, i]]|^p`` over matched points."""
    for b in range(us.shape[0]):
        c = 0.0
        for i in range(us.shape[1]):
            j = match[b, i]
            if j >= 0:
                c += _cost(us[b, i] - vs[b, j], p)
        costs[b] = c
