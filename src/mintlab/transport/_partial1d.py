"""Compiled kernels for exact optimal partial transport on the line.

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
data; the answer is exact in every case. It is kept for ``p`` other than 1
and 2 when the diagonal sums below would be expensive.

For ``p > 1`` the kernels after it (:func:`diag_prefix`,
:func:`penalised_from_prefix`, :func:`mass_path`) use the same structure
through diagonal prefix sums of the cost matrix: a linear dynamic programme
for the penalised problem and successive shortest augmenting paths with a
heap for every mass at once; the sums take ``O(N log^2 N)`` with FFTs for
``p == 2`` and ``O(N)`` for ``p == 1`` (two prefix sums of the flow). The
comment block that opens that part of the file gives the details.

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
def _solve_batch_segment_dp(xs, ys, lams, p, match_x, counts):
    """The state-pruned kernels on every row: :func:`solve_sorted_p1` or :func:`solve_sorted`."""
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


# ---------------------------------------------------------------------------
# Any p through diagonal prefix sums (p == 2 in O(N log^2 N) with FFTs)
#
# Merge the sorted points into one sequence z_0 <= ... <= z_{N-1} (an x before
# a y on ties) and let corner t = (i_t, j_t) count the x's and y's among the
# first t points; its level is h_t = i_t - j_t. A balanced run of points
# t0 .. t1 - 1 (h_{t0} == h_{t1}) matched in sorted order pairs x_i with
# y_{i - h_{t0}}: its pairs lie on one diagonal of the cost matrix
# K_ij = |x_i - y_j|^p. With the diagonal prefix sums
#     T_t = sum_{r >= 1} K(i_t - r, j_t - r)
# the run costs T_{t1} - T_{t0}, so every quantity below is O(1) once T is
# known. (T may carry an arbitrary constant per diagonal: only differences
# along one diagonal are used.)
#
# Penalised problem. An optimal matching is monotone and no unmatched point
# lies inside a matched pair, so the unmatched points cut the sequence into
# balanced runs matched in sorted order, and two balanced runs side by side
# are matched in sorted order as one. With F_t the optimum over the first t
# points ending at a run boundary:
#     F_t = min(F_{t-1} + penalty,  F_s + T_t - T_s),  s = last corner before t
#                                                       on level h_t
# (a run may start at any earlier corner of the level, but the latest one is
# never worse, by induction). Linear time after T.
#
# Mass path. Successive shortest augmenting paths give the cheapest matching
# with k + 1 pairs from the one with k pairs. Relative to a matching of the
# structure above, the endpoints of an optimal augmenting path are two
# unmatched points adjacent among the unmatched ones (any unmatched point
# between them would lie inside a pair of the old or of the new matching), of
# opposite kinds, and the new matching rematches the run between them in
# sorted order together with the two endpoints, at the extra cost
#     delta = (T_{g+1} - T_f) - (T_g - T_{f+1})
# for endpoints at positions f < g. Merging the cheapest adjacent pair with a
# heap and linking its neighbours gives all masses k = 0 .. min(n, m) in
# O(N log N); the marginal costs delta_k are non-decreasing (the cheapest
# k-pair cost C(k) is convex). The argument uses strict convexity and
# distinct points; ties and p == 1 are covered by the tests against the LP.
#
# Computing T. Directly, T_t = T_s + (the run from the previous corner s of
# the level), whose total length (the "area" between the corner path and the
# diagonals) is small for overlapping samples but quadratic for shifted ones.
# For p == 2, K_ij = x_i^2 + y_j^2 - 2 x_i y_j: the squares are prefix sums
# and the cross term is a sum of x_i y_j along diagonals, computed by divide
# and conquer over the corner path. For a block of corners lo..hi with box
# R = [i_lo, i_hi) x [j_lo, j_hi) and halves R1 (lower left) and R2 (upper
# right) split at mid, the part of corner t's diagonal inside R and before t
# is its part inside R1 if t <= mid, and otherwise its part inside R2 plus
# the whole diagonal of R minus the whole diagonal of R2 (everything of R
# behind and after the corner that is not in R2 lies behind it). The whole
# diagonals of a box are one cross-correlation (FFT). Small blocks are summed
# directly. The FFT sums carry an absolute error of about eps log N |x| |y|;
# they are used only when that is negligible next to the squared spread of
# the data (far outliers fall back to direct sums). For p == 1 a run costs
# |sum of gap * (h_c - h)| over the corners c inside it (one sign throughout):
# two prefix sums, linear time. Direct sums accumulate T as a double-length
# pair so that a cheap run stays exact after a costly one on the same level.
# ---------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def merged_corners(x, y, is_x, ic, jc):
    """Merge sorted ``x``, ``y`` (x first on ties): kinds ``is_x`` (N,), corners ``ic``, ``jc``."""
    n = x.shape[0]
    m = y.shape[0]
    A = 0
    B = 0
    ic[0] = 0
    jc[0] = 0
    for t in range(n + m):
        take_x = A < n and (B >= m or x[A] <= y[B])
        is_x[t] = take_x
        if take_x:
            A += 1
        else:
            B += 1
        ic[t + 1] = A
        jc[t + 1] = B


@numba.njit(cache=True, nogil=True)
def chord_area(ic, jc, m):
    """Total length of the runs between consecutive corners of one level (the direct work)."""
    N = ic.shape[0] - 1
    last = np.full(N + m + 2, -1, np.int64)
    area = 0
    for t in range(N + 1):
        k = ic[t] - jc[t] + m
        s = last[k]
        if s >= 0:
            area += ic[t] - ic[s]
        last[k] = t
    return area


@numba.njit(cache=True, nogil=True, inline="always")
def _add2(hi, lo, a):
    """``(hi + lo) + a`` as a new unevaluated pair (error-free addition of ``a`` to ``hi``)."""
    s = hi + a
    bb = s - hi
    return s, lo + ((hi - (s - bb)) + (a - bb))


@numba.njit(cache=True, nogil=True)
def diag_prefix_direct(x, y, ic, jc, p, T, Tl):
    """Diagonal prefix sums ``T + Tl``, each run summed directly (0 at a level's first corner)."""
    N = ic.shape[0] - 1
    m = y.shape[0]
    last = np.full(N + m + 2, -1, np.int64)
    for t in range(N + 1):
        a = ic[t]
        d = a - jc[t]
        s = last[d + m]
        if s < 0:
            T[t] = 0.0
            Tl[t] = 0.0
        else:
            acc = 0.0
            for i in range(ic[s], a):
                acc += _cost(x[i] - y[i - d], p)
            T[t], Tl[t] = _add2(T[s], Tl[s], acc)
        last[d + m] = t


@numba.njit(cache=True, nogil=True)
def diag_prefix_p1(x, y, is_x, ic, jc, T, Tl):
    """Diagonal prefix sums for ``p == 1`` in linear time (``T`` is 0 at a level's first corner).

    A run between consecutive corners ``s < t`` of level ``h`` carries the flow
    ``|h_c - h|`` across the gap ending at each corner ``c`` strictly between them,
    with one sign throughout, so its cost is
    ``|sum_c (z_c - z_{c-1}) (h_c - h)|``: two prefix sums.
    """
    N = is_x.shape[0]
    m = y.shape[0]
    z = np.empty(N)
    for t in range(N):
        z[t] = x[ic[t]] if is_x[t] else y[jc[t]]
    G1 = np.zeros(N + 1)  # G1 + G1l: sum_{c' <= c} (z_c' - z_{c'-1}) h_c', double length
    G1l = np.zeros(N + 1)
    for c in range(1, N):
        G1[c], G1l[c] = _add2(G1[c - 1], G1l[c - 1], (z[c] - z[c - 1]) * (ic[c] - jc[c]))
    last = np.full(N + m + 2, -1, np.int64)
    for t in range(N + 1):
        h = ic[t] - jc[t]
        s = last[h + m]
        if s < 0:
            T[t] = 0.0
            Tl[t] = 0.0
        else:
            q = ((G1[t - 1] - G1[s]) + (G1l[t - 1] - G1l[s])) - h * (z[t - 1] - z[s])
            T[t], Tl[t] = _add2(T[s], Tl[s], abs(q))
        last[h + m] = t


@numba.njit(cache=True, nogil=True)
def _cross_direct(x, y, ic, jc, lo, hi, out):
    """``out[t] = sum_{r>=1} x[i_t - r] y[j_t - r]`` inside the box of corners ``lo..hi``."""
    i0 = ic[lo]
    j0 = jc[lo]
    for t in range(lo, hi + 1):
        a = ic[t]
        b = jc[t]
        r = min(a - i0, b - j0)
        acc = 0.0
        for q in range(1, r + 1):
            acc += x[a - q] * y[b - q]
        out[t] = acc


_DIRECT_WORK = 1 << 17  # a block whose direct sums cost less than this is summed directly


@numba.njit(cache=True, nogil=True)
def _box_diagonals_direct(x, y, i0, i1, j0, j1, out):
    """:func:`_box_diagonals` by direct summation (thin or small boxes)."""
    h = j1 - j0
    out[:] = 0.0
    for i in range(i0, i1):
        xi = x[i]
        base = i - i0 + h + j0  # entry of the diagonal through (i, j0)... minus (j - j0)
        for j in range(j0, j1):
            out[base - j] += xi * y[j]


def _box_diagonals(x, y, i0, i1, j0, j1):
    """Sums of ``x_i y_j`` along every diagonal of ``[i0, i1) x [j0, j1)``, zero-padded both sides.

    Entry ``e + h`` holds the diagonal ``i - j = (i0 - j0) + e``, for ``e`` in ``[-h, w]``.
    """
    from scipy import fft

    w = int(i1 - i0)
    h = int(j1 - j0)
    out = np.zeros(w + h + 1)
    if w == 0 or h == 0:
        return out
    if w * h <= _DIRECT_WORK:
        _box_diagonals_direct(x, y, i0, i1, j0, j1, out)
        return out
    size = fft.next_fast_len(w + h - 1, real=True)
    conv = fft.irfft(fft.rfft(x[i0:i1], size) * fft.rfft(y[j0:j1][::-1], size), size)
    out[1 : w + h] = conv[: w + h - 1]
    return out


def _cross_dc(x, y, ic, jc, lo, hi, out, need_box):
    """Fill ``out[lo..hi]`` with the in-box cross sums; return the box diagonals if ``need_box``."""
    w = int(ic[hi] - ic[lo])
    h = int(jc[hi] - jc[lo])
    if (hi - lo) * min(w, h) <= _DIRECT_WORK:
        _cross_direct(x, y, ic, jc, lo, hi, out)
        return _box_diagonals(x, y, ic[lo], ic[hi], jc[lo], jc[hi]) if need_box else None
    mid = (lo + hi) // 2
    upper = _cross_dc(x, y, ic, jc, mid, hi, out, True)
    _cross_dc(x, y, ic, jc, lo, mid, out, False)  # second: the corner mid keeps its value in R1
    t = np.arange(mid + 1, hi + 1)
    d = ic[t] - jc[t]
    full = _box_diagonals(x, y, ic[lo], ic[hi], jc[lo], jc[hi])
    i_full = d - (ic[lo] - jc[lo]) + h
    i_up = d - (ic[mid] - jc[mid]) + int(jc[hi] - jc[mid])
    out[t] += full[i_full] - upper[i_up]
    return full


def diag_prefix_p2(x, y, ic, jc):
    """Diagonal prefix sums of ``(x_i - y_j)^2`` in O(N log^2 N) (``x``, ``y`` centred)."""
    N = ic.shape[0] - 1
    cross = np.zeros(N + 1)
    _cross_dc(x, y, ic, jc, 0, N, cross, False)
    px = np.concatenate(([0.0], np.cumsum(x * x)))
    py = np.concatenate(([0.0], np.cumsum(y * y)))
    r = np.minimum(ic, jc)
    return (px[ic] - px[ic - r]) + (py[jc] - py[jc - r]) - 2.0 * cross


_EPS = float(np.finfo(np.float64).eps)
# The FFT sums carry an absolute rounding error of about eps log2(N) |x| |y| (2-norms of
# the centred values) on every diagonal. They are used only when that is below this
# fraction of the squared robust spread of the data (far outliers or a large offset
# make it coarse); otherwise the runs are summed directly.
_FFT_REL_ERROR = 1e-8


def _fft_is_accurate(x, y):
    """``(ok, centre)``: whether FFT sums are accurate next to the spread of the data.

    The spread is the median absolute deviation from the median, which is the centre
    the sums use.
    """
    z = np.concatenate((x, y))
    med = float(np.median(z))
    z -= med
    np.abs(z, out=z)
    spread = float(np.median(z))
    if spread == 0.0:
        return False, med
    nx = float(np.linalg.norm(z[: x.shape[0]]))
    ny = float(np.linalg.norm(z[x.shape[0] :]))
    bound = _EPS * np.log2(z.size) * nx * ny
    return bound <= _FFT_REL_ERROR * spread * spread, med


def diag_prefix(x, y, p):
    """``(is_x, ic, jc, T, Tl)`` for sorted ``x``, ``y``: merged corners, diagonal prefix sums.

    ``T + Tl`` (a double-length pair where runs are summed directly) keeps the
    difference of two prefix sums accurate even after far more costly runs on the level.
    """
    n = x.shape[0]
    m = y.shape[0]
    N = n + m
    is_x = np.empty(N, np.bool_)
    ic = np.empty(N + 1, np.int64)
    jc = np.empty(N + 1, np.int64)
    merged_corners(x, y, is_x, ic, jc)
    T = np.empty(N + 1)
    Tl = np.zeros(N + 1)
    if p == 1.0:
        diag_prefix_p1(x, y, is_x, ic, jc, T, Tl)
    elif p == 2.0 and N > 64 and chord_area(ic, jc, m) > 24 * N * max(1, int(np.log2(N))):
        ok, c = _fft_is_accurate(x, y)
        if ok:
            T = diag_prefix_p2(x - c, y - c, ic, jc)
        else:
            diag_prefix_direct(x, y, ic, jc, float(p), T, Tl)
    else:
        diag_prefix_direct(x, y, ic, jc, float(p), T, Tl)
    return is_x, ic, jc, T, Tl


@numba.njit(cache=True, nogil=True)
def matching_from_flags(is_x, matched, n, match_x):
    """Sorted matching of the flagged points: the k-th matched x with the k-th matched y."""
    N = is_x.shape[0]
    ys = np.empty(N, np.int64)
    ny = 0
    B = 0
    for t in range(N):
        if not is_x[t]:
            if matched[t]:
                ys[ny] = B
                ny += 1
            B += 1
    A = 0
    k = 0
    for t in range(N):
        if is_x[t]:
            if matched[t]:
                match_x[A] = ys[k]
                k += 1
            else:
                match_x[A] = -1
            A += 1
    return k


@numba.njit(cache=True, nogil=True)
def penalised_from_prefix(is_x, ic, jc, T, Tl, lam, m, match_x):
    """Exact penalised partial matching from the diagonal prefix sums; returns the number of pairs.

    Ties between equal-cost choices are broken towards fewer pairs.
    """
    N = is_x.shape[0]
    n = ic[N]
    F = np.empty(N + 1)
    choice = np.empty(N + 1, np.int64)
    last = np.full(N + m + 2, -1, np.int64)
    F[0] = 0.0
    last[m] = 0
    for t in range(1, N + 1):
        best = F[t - 1] + lam
        ch = -1
        k = ic[t] - jc[t] + m
        s = last[k]
        if s >= 0:
            cand = F[s] + ((T[t] - T[s]) + (Tl[t] - Tl[s]))
            if cand < best:
                best = cand
                ch = s
        F[t] = best
        choice[t] = ch
        last[k] = t
    matched = np.zeros(N, np.bool_)
    t = N
    while t > 0:
        s = choice[t]
        if s < 0:
            t -= 1
        else:
            for q in range(s, t):
                matched[q] = True
            t = s
    return matching_from_flags(is_x, matched, n, match_x)


@numba.njit(cache=True, nogil=True)
def _heap_push(keys, fa, ga, size, key, f, g):
    i = size
    keys[i] = key
    fa[i] = f
    ga[i] = g
    while i > 0:
        par = (i - 1) >> 1
        if keys[par] <= keys[i]:
            break
        keys[par], keys[i] = keys[i], keys[par]
        fa[par], fa[i] = fa[i], fa[par]
        ga[par], ga[i] = ga[i], ga[par]
        i = par
    return size + 1


@numba.njit(cache=True, nogil=True)
def _heap_pop(keys, fa, ga, size):
    size -= 1
    keys[0] = keys[size]
    fa[0] = fa[size]
    ga[0] = ga[size]
    i = 0
    while True:
        lft = 2 * i + 1
        if lft >= size:
            break
        c = lft
        if lft + 1 < size and keys[lft + 1] < keys[lft]:
            c = lft + 1
        if keys[i] <= keys[c]:
            break
        keys[c], keys[i] = keys[i], keys[c]
        fa[c], fa[i] = fa[i], fa[c]
        ga[c], ga[i] = ga[i], ga[c]
        i = c
    return size


@numba.njit(cache=True, nogil=True)
def mass_path(is_x, T, Tl, add_f, add_g, deltas, limit):
    """Cheapest matchings for every number of pairs, by merging adjacent unmatched points.

    Step ``k`` (0-based) matches the points at merged positions ``add_f[k] < add_g[k]``
    at the extra cost ``deltas[k]``; returns the number of steps, ``min(n, m, limit)``.
    """
    N = is_x.shape[0]
    prv = np.empty(N, np.int64)
    nxt = np.empty(N, np.int64)
    alive = np.ones(N, np.bool_)
    for t in range(N):
        prv[t] = t - 1
        nxt[t] = t + 1
    cap = 2 * N + 1
    keys = np.empty(cap)
    fa = np.empty(cap, np.int64)
    ga = np.empty(cap, np.int64)
    size = 0
    for t in range(N - 1):
        if is_x[t] != is_x[t + 1]:
            size = _heap_push(keys, fa, ga, size, (T[t + 2] - T[t]) + (Tl[t + 2] - Tl[t]), t,
                              t + 1)
    K = 0
    while size > 0 and K < limit:
        key = keys[0]
        f = fa[0]
        g = ga[0]
        size = _heap_pop(keys, fa, ga, size)
        if not (alive[f] and alive[g]):
            continue
        alive[f] = False
        alive[g] = False
        add_f[K] = f
        add_g[K] = g
        deltas[K] = key
        K += 1
        a = prv[f]
        b = nxt[g]
        if a >= 0:
            nxt[a] = b
        if b < N:
            prv[b] = a
        if a >= 0 and b < N and is_x[a] != is_x[b]:
            outer = (T[b + 1] - T[a]) + (Tl[b + 1] - Tl[a])
            inner = (T[b] - T[a + 1]) + (Tl[b] - Tl[a + 1])
            size = _heap_push(keys, fa, ga, size, outer - inner, a, b)
    return K


@numba.njit(cache=True, nogil=True, parallel=True)
def _solve_batch_direct(xs, ys, lams, p, match_x, counts, todo, area_cap):
    """Rows whose direct diagonal sums are cheap (``chord_area <= area_cap``): solved here.

    ``todo[b]`` is set for the rows left to the caller.
    """
    n = xs.shape[1]
    m = ys.shape[1]
    N = n + m
    for b in numba.prange(xs.shape[0]):
        is_x = np.empty(N, np.bool_)
        ic = np.empty(N + 1, np.int64)
        jc = np.empty(N + 1, np.int64)
        merged_corners(xs[b], ys[b], is_x, ic, jc)
        if chord_area(ic, jc, m) > area_cap:
            todo[b] = True
            continue
        todo[b] = False
        T = np.empty(N + 1)
        Tl = np.empty(N + 1)
        diag_prefix_direct(xs[b], ys[b], ic, jc, p, T, Tl)
        counts[b] = penalised_from_prefix(is_x, ic, jc, T, Tl, lams[b], m, match_x[b])


def solve_batch(xs, ys, lams, p, match_x, counts):
    """Solve row ``b`` of ``xs`` (B, n) against row ``b`` of ``ys`` (B, m), penalty ``lams[b]``.

    Rows sorted ascending; fills ``match_x`` (B, n) with the index in ``ys[b]`` matched to
    each point (-1 if unmatched) and ``counts`` (B,) with the number of pairs. ``p == 1``
    runs the linear slope-trick kernel. Otherwise rows with a small direct work run the
    diagonal-sum programme in parallel; the others use FFT diagonal sums for ``p == 2`` and
    the state-pruned programme for other ``p``.
    """
    xs = np.ascontiguousarray(xs, dtype=np.float64)
    ys = np.ascontiguousarray(ys, dtype=np.float64)
    lams = np.ascontiguousarray(lams, dtype=np.float64)
    p = float(p)
    B, n = xs.shape
    m = ys.shape[1]
    if p == 1.0 or B == 0:
        _solve_batch_segment_dp(xs, ys, lams, p, match_x, counts)
        return
    N = n + m
    cap = 24 * N * max(1, int(np.log2(max(N, 2))))
    todo = np.zeros(B, np.bool_)
    _solve_batch_direct(xs, ys, lams, p, match_x, counts, todo, cap)
    rows = np.nonzero(todo)[0]
    if rows.size == 0:
        return
    if p != 2.0:
        sub_m = np.empty((rows.size, n), np.int64)
        sub_c = np.empty(rows.size, np.int64)
        _solve_batch_segment_dp(xs[rows], ys[rows], lams[rows], p, sub_m, sub_c)
        match_x[rows] = sub_m
        counts[rows] = sub_c
        return
    for b in rows:
        counts[b] = solve_one(xs[b], ys[b], float(lams[b]), p, match_x[b])


def solve_one(x, y, lam, p, match_x):
    """One penalised problem, sorted ``x`` (n,) and ``y`` (m,); returns the number of pairs.

    ``p == 1``: the slope-trick kernel. ``p == 2``: diagonal sums (direct or FFT).
    Other ``p``: diagonal sums when their direct work is small, else the state-pruned
    programme.
    """
    p = float(p)
    if p == 1.0:
        return solve_sorted_p1(x, y, lam, match_x)
    n = x.shape[0]
    m = y.shape[0]
    if p != 2.0:
        N = n + m
        is_x = np.empty(N, np.bool_)
        ic = np.empty(N + 1, np.int64)
        jc = np.empty(N + 1, np.int64)
        merged_corners(x, y, is_x, ic, jc)
        if chord_area(ic, jc, m) > 24 * N * max(1, int(np.log2(max(N, 2)))):
            return solve_sorted(x, y, lam, p, match_x)
    is_x, ic, jc, T, Tl = diag_prefix(x, y, p)
    return penalised_from_prefix(is_x, ic, jc, T, Tl, lam, m, match_x)


def solve_path(x, y, p, limit=None):
    """Mass path of sorted ``x`` (n,), ``y`` (m,), up to ``limit`` pairs (default all).

    Returns ``(is_x, add_f, add_g, deltas)``: the merged kinds and, for each step ``k``,
    the merged positions of the two points it matches and its extra cost.
    """
    is_x, ic, jc, T, Tl = diag_prefix(np.ascontiguousarray(x, np.float64),
                                  np.ascontiguousarray(y, np.float64), float(p))
    K = min(x.shape[0], y.shape[0])
    if limit is not None:
        K = min(K, int(limit))
    add_f = np.empty(K, np.int64)
    add_g = np.empty(K, np.int64)
    deltas = np.empty(K)
    got = mass_path(is_x, T, Tl, add_f, add_g, deltas, K)
    if got != K:  # a free point of each kind is always left while k < min(n, m)
        raise RuntimeError(f"mass path stopped after {got} of {K} steps")
    return is_x, add_f, add_g, deltas


@numba.njit(cache=True, nogil=True)
def matching_at_mass(is_x, add_f, add_g, k, n, match_x):
    """Sorted-space matching with the first ``k`` steps of a mass path."""
    matched = np.zeros(is_x.shape[0], np.bool_)
    for q in range(k):
        matched[add_f[q]] = True
        matched[add_g[q]] = True
    return matching_from_flags(is_x, matched, n, match_x)


@numba.njit(cache=True, nogil=True)
def _penalty_at(deltas, K, k):
    """A penalty at which ``k`` pairs are optimal, from the first ``min(k + 1, K)`` marginal costs.

    ``k`` is optimal for ``2 * penalty`` in ``[delta_k, delta_{k+1}]`` (running maximum
    against rounding); the middle of that interval, or above ``delta_K`` when ``k == K``.
    """
    lo = 0.0
    for q in range(k):
        lo = max(lo, deltas[q])
    lo *= 0.5
    if k >= K:
        return lo + max(lo, 1.0)
    hi = max(lo, 0.5 * deltas[k])
    return 0.5 * (lo + hi)


@numba.njit(cache=True, nogil=True, parallel=True)
def _mass_batch_direct(xs, ys, p, k, match_x, counts, lams, todo, area_cap):
    """Mass-constrained rows whose direct diagonal sums are cheap; ``todo[b]`` marks the others."""
    n = xs.shape[1]
    m = ys.shape[1]
    N = n + m
    K = min(n, m)
    steps = min(K, k + 1)
    for b in numba.prange(xs.shape[0]):
        is_x = np.empty(N, np.bool_)
        ic = np.empty(N + 1, np.int64)
        jc = np.empty(N + 1, np.int64)
        merged_corners(xs[b], ys[b], is_x, ic, jc)
        T = np.empty(N + 1)
        Tl = np.empty(N + 1)
        if p == 1.0:
            diag_prefix_p1(xs[b], ys[b], is_x, ic, jc, T, Tl)
        elif chord_area(ic, jc, m) > area_cap:
            todo[b] = True
            continue
        else:
            diag_prefix_direct(xs[b], ys[b], ic, jc, p, T, Tl)
        todo[b] = False
        add_f = np.empty(steps, np.int64)
        add_g = np.empty(steps, np.int64)
        deltas = np.empty(steps)
        mass_path(is_x, T, Tl, add_f, add_g, deltas, steps)
        counts[b] = matching_at_mass(is_x, add_f, add_g, k, n, match_x[b])
        lams[b] = _penalty_at(deltas, K, k)


def mass_batch(xs, ys, p, k, match_x, counts, lams):
    """Cheapest ``k``-pair matching of row ``b`` of ``xs`` (B, n) and ``ys`` (B, m), sorted.

    Fills ``match_x`` (B, n), ``counts`` (B,) and ``lams`` (B,), a penalty at which the
    matching is also optimal for the penalised problem. Rows whose direct diagonal sums
    are cheap run in parallel; the others use FFT sums (``p == 2``) or direct ones.
    """
    xs = np.ascontiguousarray(xs, dtype=np.float64)
    ys = np.ascontiguousarray(ys, dtype=np.float64)
    p = float(p)
    B, n = xs.shape
    m = ys.shape[1]
    if B == 0:
        return
    N = n + m
    cap = 24 * N * max(1, int(np.log2(max(N, 2))))
    todo = np.zeros(B, np.bool_)
    if B == 1:  # one row: no parallel launch; diag_prefix picks the sums
        todo[0] = True
    else:
        _mass_batch_direct(xs, ys, p, int(k), match_x, counts, lams, todo, cap)
    K = min(n, m)
    for b in np.nonzero(todo)[0]:
        is_x, add_f, add_g, deltas = solve_path(xs[b], ys[b], p, limit=k + 1)
        counts[b] = matching_at_mass(is_x, add_f, add_g, k, n, match_x[b])
        lams[b] = _penalty_at(deltas, K, k)
