"""Gromov–Wasserstein transport between different metric spaces: the partial GW metric.

Paper: ``pgw`` (Bai et al. 2024). For metric measure spaces ``(C1, p)`` and
``(C2, q)`` (cost matrices and non-negative masses, not necessarily equal
in total), the partial Gromov–Wasserstein problem with penalty ``lambda``
is

.. math::
    PGW_\\lambda = \\min_{\\gamma \\ge 0,\\ \\gamma 1 \\le p,\\ \\gamma^T 1 \\le q}
    \\sum_{i,j,k,l} (C1_{ik} - C2_{jl})^2 \\gamma_{ij}\\gamma_{kl}
    + \\lambda \\big(|p|^2 + |q|^2 - 2|\\gamma|^2\\big),

(mass created or destroyed is paid for quadratically, as the GW term is
quadratic in the plan). It is solved by Frank–Wolfe: the linear
subproblem is an exact (partial) transport LP, and the step length is the
exact minimiser of the objective's quadratic restriction to the segment.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import ot
import torch

from .._validation import (
    ArrayIO,
    check_choice,
    check_int,
    check_nonnegative,
    check_positive,
    check_weights,
)
from ..typing import Array, ArrayLike, SeedLike

__all__ = ["PartialGWResult", "partial_gromov_wasserstein", "fused_partial_gromov_wasserstein",
           "PartialGWBarycenter", "partial_gromov_barycenter", "gromov_cost_matrix"]


@dataclass(frozen=True)
class PartialGWResult:
    """Result of :func:`partial_gromov_wasserstein`.

    Attributes
    ----------
    plan : array of shape (n, m)
    cost : array of shape ()
        The PGW objective at ``plan`` (GW term + mass penalty).
    gw_cost : array of shape ()
        The GW term alone, ``sum (C1_ik - C2_jl)^2 plan_ij plan_kl``.
    transported : array of shape ()
        ``|plan|``.
    n_iter : int
    converged : bool
        Whether the Frank–Wolfe gap (Sinkhorn solver: the change of the plan)
        fell below ``tol`` before ``max_iter``.
    feature_cost : array of shape () or None
        For :func:`fused_partial_gromov_wasserstein`: ``<M, plan>``.
    """

    plan: Any
    cost: Any
    gw_cost: Any
    transported: Any
    n_iter: int
    converged: bool
    feature_cost: Any = None


def gromov_cost_matrix(X: ArrayLike, metric: str = "euclidean") -> Array:
    """Pairwise distances within a point cloud ``(n, d)``: the ``C`` of a metric measure space.

    Examples
    --------
    >>> import numpy as np
    >>> gromov_cost_matrix(np.array([[0.0, 0.0], [3.0, 4.0]]))
    array([[0., 5.],
           [5., 0.]])
    """
    io = ArrayIO(X)
    x = io.tensor(X, "X", ndim=2)
    metric = check_choice(metric, "metric", ("euclidean", "sqeuclidean"))
    D = torch.cdist(x, x)
    return io.out(D * D if metric == "sqeuclidean" else D)


def _costs(C1, C2, metric):
    """Cost matrices as given, or built from point clouds when ``metric`` is set."""
    if metric is None:
        return C1, C2
    metric = check_choice(metric, "metric", ("euclidean", "sqeuclidean"))
    return gromov_cost_matrix(C1, metric), gromov_cost_matrix(C2, metric)


def _space(io, C, w, name, wname):
    Ct = io.tensor(C, name, ndim=2)
    if Ct.shape[0] != Ct.shape[1]:
        raise ValueError(f"{name} must be a square cost matrix, got shape {tuple(Ct.shape)}")
    n = Ct.shape[0]
    if w is None:
        wt = torch.full((n,), 1.0 / n, dtype=Ct.dtype, device=Ct.device)
    else:
        wt = check_weights(io.tensor(w, wname, ndim=1, shape=(n,)), wname, normalize=False)
    return Ct.detach().cpu().numpy().astype(np.float64), wt.detach().cpu().numpy().astype(
        np.float64)


def _tensor(C1sq, C2sq, C1, C2, G):
    """``(L x G)_ij = sum_kl (C1_ik - C2_jl)^2 G_kl`` for the square loss, without the 4D tensor."""
    r, c = G.sum(1), G.sum(0)
    return (C1sq @ r)[:, None] + (C2sq @ c)[None, :] - 2.0 * C1 @ G @ C2.T


def _partial_lp(p, q, G):
    """``argmin <G, g>`` over ``g >= 0, g 1 <= p, g^T 1 <= q`` (one dummy point per side)."""
    n, m = G.shape
    big = np.zeros((n + 1, m + 1))
    big[:n, :m] = G
    return ot.emd(np.r_[p, q.sum()], np.r_[q, p.sum()], big, numItermax=10_000_000)


def _direction(p, q, grad, mass=None):
    """Frank–Wolfe's linear step as a sparse plan ``(rows, cols, values)``.

    ``mass=None``: a minimiser of ``<grad, g>`` over ``g >= 0, g 1 <= p, g^T 1 <= q``
    (only negative entries of ``grad`` can carry mass). Otherwise the same with
    ``|g| = mass`` (POT's mass-constrained step). Either is one balanced transport LP
    (network simplex) between ``p`` and ``q``, each side given one dummy point that takes
    the mass the other side does not send: ``|q|`` and ``|p|`` (free to exchange with
    each other) in the first case, ``|q| - mass`` and ``|p| - mass`` (barred from each
    other) in the second.
    """
    n, m = grad.shape
    big = np.zeros((n + 1, m + 1))
    if mass is None:
        np.minimum(grad, 0.0, out=big[:n, :m])
        a, b = np.r_[p, q.sum()], np.r_[q, p.sum()]
    else:
        # on plans of one mass a constant shift changes nothing; with costs >= 0, flow
        # between the dummies would only add real mass, and a positive price bars ties
        np.subtract(grad, grad.min(), out=big[:n, :m])
        big[n, m] = 2.0 * float(big[:n, :m].max()) + 1.0
        # a mass above min(|p|, |q|) by round-off must not give a negative dummy weight
        a = np.r_[p, max(q.sum() - mass, 0.0)]
        b = np.r_[q, max(p.sum() - mass, 0.0)]
    plan = ot.emd(a, b, big, numItermax=10_000_000)[:n, :m]
    if mass is None:
        plan[grad >= 0] = 0.0  # ties at zero cost: carrying mass there is not a descent
    rows, cols = np.nonzero(plan > 0)
    return rows, cols, plan[rows, cols]


def _comonotone(x, y, p, q):
    """The comonotone coupling of ``(x, p)`` and ``(y, q)`` (equal totals) as a sparse plan:
    the north-west corner rule on both sides sorted, at most ``n + m - 1`` entries."""
    ix, iy = np.argsort(x, kind="stable"), np.argsort(y, kind="stable")
    cp, cq = np.cumsum(p[ix]), np.cumsum(q[iy])
    t = np.union1d(cp, cq)  # the breakpoints, each the end of one piece of the plan
    start = np.r_[0.0, t[:-1]]
    vals = t - start
    # a last piece past the end of one side is round-off in the totals
    keep = (vals > 0) & (start < min(cp[-1], cq[-1]))
    start, vals = start[keep], vals[keep]
    # the piece after ``start`` belongs to the first point of each side whose cumulative
    # mass exceeds it: consecutive pieces differ in a row or a column, so no pair repeats
    rows = ix[np.minimum(np.searchsorted(cp, start, side="right"), len(p) - 1)]
    cols = iy[np.minimum(np.searchsorted(cq, start, side="right"), len(q) - 1)]
    return rows, cols, vals


def _partial_ot_direction(p, q, grad):
    """FW1's linear step as a dense ``(n, m)`` plan (see :func:`_direction`)."""
    out = np.zeros(grad.shape)
    rows, cols, vals = _direction(p, q, grad)
    out[rows, cols] = vals
    return out


def partial_gromov_wasserstein(C1: ArrayLike, C2: ArrayLike, p: ArrayLike | None = None,
                               q: ArrayLike | None = None, penalty: float = 1.0,
                               solver: str = "fw1", G0: ArrayLike | None = None,
                               max_iter: int = 500, tol: float = 1e-9, n_masses: int = 6,
                               metric: str | None = None, *,
                               mass: float | None = None) -> PartialGWResult:
    """Partial Gromov–Wasserstein (``pgw``) between two metric measure spaces.

    Parameters
    ----------
    C1 : array of shape (n, n)
        Cost (e.g. distance) matrix of the first space
        (:func:`gromov_cost_matrix` builds one from points).
    C2 : array of shape (m, m)
    p, q : arrays of shape (n,), (m,), optional
        Non-negative masses (uniform probability if omitted); totals may differ.
    penalty : float, default 1.0
        ``lambda``: pairs whose distances disagree by more than ``sqrt(2 lambda)``
        are not worth transporting together.
    solver : {"fw1", "fw2"}
        The paper's two Frank–Wolfe variants. ``"fw1"`` iterates on the partial
        plan ``(n, m)``; its linear step is partial transport with the
        inequality marginals ``g 1 <= p, g^T 1 <= q``, one network-simplex LP
        with a dummy point per side; ``L x plan`` is carried along the
        iterates, so a step costs that LP and one matrix product with the
        sparse vertex. ``"fw2"`` iterates on the balanced plan
        ``(n + 1, m + 1)`` of the spaces augmented by one point each (masses
        ``|q|`` and ``|p|``), for the GW-type loss that is zero on the added
        points; its linear step is a balanced transport LP (network simplex).
        The two are equivalent: from one start their iterates agree, the
        ``fw2`` plan restricted to the ``n x m`` block.
    G0 : array of shape (n, m), optional
        Starting plan (must satisfy the mass constraints; ``fw2`` starts from
        its augmented version). By default the start is a fixed-mass partial
        GW plan: for the masses ``min(|p|, |q|) j / n_masses``,
        ``j = n_masses, ..., 1``, a few Frank–Wolfe steps at that mass from
        the scaled product plan, stopping at the first (largest) mass whose
        plan beats the empty plan. The empty plan is a stationary point of
        PGW, and Frank–Wolfe falls into it from a plan that costs more than it
        transports (e.g. one that must match points without a counterpart).
    max_iter : int, default 500
    tol : float, default 1e-9
        Stop when the Frank–Wolfe gap ``<grad, plan - direction>`` is below
        ``tol`` times the objective scale.
    n_masses : int, default 6
        Candidate masses of the default start.
    metric : {None, "euclidean", "sqeuclidean"}, default None
        ``None``: ``C1``, ``C2`` are cost matrices. Otherwise they are point
        clouds ``(n, d1)``, ``(m, d2)`` and their distance matrices are built
        with this metric (:func:`gromov_cost_matrix`).
    mass : float in ``(0, min(|p|, |q|)]``, optional
        Solve the mass-constrained problem instead (POT's
        ``ot.gromov.partial_gromov_wasserstein`` with ``m=mass``): minimise the
        GW term over plans with ``|plan| = mass``, by Frank–Wolfe from the
        scaled product plan (POT's start) or from ``G0`` (which must then carry
        ``mass``). The penalty is then a constant, kept only in ``cost``.
        ``solver="fw1"`` only.

    Returns
    -------
    PartialGWResult
        ``plan``, ``cost``, ``gw_cost``, ``transported``, ``n_iter``,
        ``converged``. Frank–Wolfe finds a stationary point of a non-convex
        problem, as every GW solver does.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0], [1.0], [3.0]])
    >>> C = gromov_cost_matrix(x)
    >>> res = partial_gromov_wasserstein(C, C[::-1, ::-1], penalty=1.0)
    >>> float(res.cost) < 1e-12, res.plan.round(3).tolist()
    (True, [[0.0, 0.0, 0.333], [0.0, 0.333, 0.0], [0.333, 0.0, 0.0]])
    >>> fixed = partial_gromov_wasserstein(C, C[::-1, ::-1], mass=0.5)  # POT's m=0.5
    >>> round(float(fixed.transported), 12), float(fixed.gw_cost) < 1e-12
    (0.5, True)
    """
    lam = check_nonnegative(penalty, "penalty")
    solver = check_choice(solver, "solver", ("fw1", "fw2"))
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    n_masses = check_int(n_masses, "n_masses", minimum=1)
    io = ArrayIO(C1, C2, p, q, G0)
    C1, C2 = _costs(C1, C2, metric)
    A, pa = _space(io, C1, p, "C1", "p")
    B, qb = _space(io, C2, q, "C2", "q")
    G0n = _start(io, G0, pa, qb)
    mass = _check_mass(mass, pa, qb, solver, G0n)
    G, it, converged = _fw(A, B, pa, qb, lam, None, 1.0, solver, G0n, max_iter, tol, n_masses,
                           mass)
    return _result(io, A, B, pa, qb, lam, None, 1.0, G, it, converged)


def _check_mass(mass, pa, qb, solver, G0):
    """``mass`` as a float in ``(0, min(|p|, |q|)]`` (round-off above clipped), or ``None``."""
    if mass is None:
        return None
    value = check_positive(mass, "mass")
    top = float(min(pa.sum(), qb.sum()))
    if value > top * (1 + 1e-12):
        raise ValueError(f"mass must be at most min(|p|, |q|) = {top:.6g}, got {value}")
    if solver != "fw1":
        raise ValueError(f"mass= is solved by solver='fw1', got solver={solver!r}")
    value = min(value, top)
    if G0 is not None and abs(float(G0.sum()) - value) > 1e-9 * max(value, 1.0):
        raise ValueError(f"G0 must carry mass {value} when mass is given, got {G0.sum()}")
    return value


def _start(io, G0, pa, qb):
    if G0 is None:
        return None
    n, m = len(pa), len(qb)
    G = io.tensor(G0, "G0", ndim=2, shape=(n, m)).detach().cpu().numpy().astype(float)
    if (G < -1e-12).any() or (G.sum(1) > pa + 1e-9).any() or (G.sum(0) > qb + 1e-9).any():
        raise ValueError("G0 must be non-negative with row sums <= p and column sums <= q")
    return G


def _objective(A, B, Asq, Bsq, lam, M, alpha, G):
    """``(1 - alpha) <M, G> + alpha <L x G, G> - 2 lam |G|^2`` (constants dropped) and ``L x G``."""
    tens = _tensor(Asq, Bsq, A, B, G)
    mass = G.sum()
    val = alpha * float((tens * G).sum()) - 2 * lam * mass * mass
    if M is not None:
        val += (1.0 - alpha) * float((M * G).sum())
    return val, tens


def _gradient(lam, M, alpha, G, tens):
    grad = alpha * 2.0 * tens - 4.0 * lam * G.sum()
    return grad if M is None else grad + (1.0 - alpha) * M


def _exact_step(gap, quad):
    """The minimiser over [0, 1] of ``-a gap + a^2 quad`` (the objective along a FW segment)."""
    if quad > 0:
        return min(1.0, gap / (2 * quad))
    return 1.0 if quad - gap < 0 else 0.0


def _tensor_sparse(C1sq, C2sq, C1, C2, rows, cols, vals):
    """:func:`_tensor` of the plan with ``vals`` at ``(rows, cols)``: one ``n x k x m``
    product instead of two dense ones."""
    r = np.bincount(rows, vals, C1.shape[0])
    c = np.bincount(cols, vals, C2.shape[0])
    return (C1sq @ r)[:, None] + (C2sq @ c)[None, :] - 2.0 * (C1[:, rows] * vals) @ C2[:, cols].T


def _product_plan(p, q, mass):
    """The product plan scaled to carry ``mass`` (feasible for ``mass <= min(|p|, |q|)``)."""
    return np.outer(p, q) * (mass / (p.sum() * q.sum()))


def _all_mass(p, q, mass):
    """Whether ``mass`` is all of ``p`` and all of ``q`` (the plans are then couplings)."""
    return bool(abs(p.sum() - q.sum()) <= 1e-12 * q.sum()
                and abs(mass - min(p.sum(), q.sum())) <= 1e-12 * q.sum())


# Frank-Wolfe steps of the fixed-mass start (a start, not a solution: loosely converged)
_START_ITER = 50
_START_TOL = 1e-5


def _fw(A, B, pa, qb, lam, M, alpha, solver, G, max_iter, tol, n_masses, mass=None):
    """Frank-Wolfe with exact line search on the (fused) partial GW objective: ``fw1`` on the
    partial plan, ``fw2`` on the balanced plan of the augmented spaces.

    Without a start ``G`` (and without ``mass``), the start is
    :func:`_descending_start`'s fixed-mass plan.
    With ``mass``, the problem is the mass-constrained one (``|G| = mass``, the penalty
    then a constant), started, as POT's solver is, from the scaled product plan.
    """
    Asq, Bsq = A * A, B * B
    scale = max(float(np.abs(A).max() ** 2 + np.abs(B).max() ** 2) *
                max(pa.sum(), qb.sum()) ** 2, 1e-300)
    if M is not None:
        scale = max(scale, float(np.abs(M).max()) * max(pa.sum(), qb.sum()))

    def run(G):
        if solver == "fw2":
            return _fw_augmented(A, B, pa, qb, lam, M, alpha, G, max_iter, tol * scale)
        return _fw_partial(A, B, Asq, Bsq, pa, qb, lam, M, alpha, G, max_iter, tol * scale,
                           mass)[:3]

    if G is not None:
        return run(G)
    if mass is not None:
        if solver == "fw1":
            return _fw_partial(A, B, Asq, Bsq, pa, qb, lam, M, alpha, _product_plan(pa, qb, mass),
                               max_iter, tol * scale, mass, _all_mass(pa, qb, mass))[:3]
        return run(_product_plan(pa, qb, mass))
    G = _descending_start(A, B, Asq, Bsq, pa, qb, lam, M, alpha, n_masses, _START_TOL * scale)
    return run(G)


def _descending_start(A, B, Asq, Bsq, pa, qb, lam, M, alpha, n_masses, tol_abs):
    """The fixed-mass plan of the largest mass on the grid ``min(|p|, |q|) j / n_masses``
    (``j = n_masses, ..., 1``) that beats the empty plan, each found by a few Frank-Wolfe
    steps from the scaled product plan (the start of POT's mass-constrained solver). Large
    masses spread the first steps over whole shapes, which settles a correspondence;
    a mass that forces points without a counterpart into the plan costs more than it
    transports, and the next mass down is tried. If none beats the empty plan, the best
    of them is returned (the penalised iterations then decide)."""
    top = min(pa.sum(), qb.sum())
    best, best_val = None, np.inf
    for j in range(n_masses, 0, -1):
        m0 = top * j / n_masses
        G, _, _, val = _fw_partial(A, B, Asq, Bsq, pa, qb, lam, M, alpha,
                                   _product_plan(pa, qb, m0), _START_ITER, tol_abs, m0,
                                   _all_mass(pa, qb, m0))
        if val < 0.0:
            return G
        if val < best_val:
            best, best_val = G, val
    return best


def _fw_partial(A, B, Asq, Bsq, pa, qb, lam, M, alpha, G, max_iter, tol_abs, mass=None,
                product=False):
    """FW1: Frank-Wolfe on the partial plan (with ``mass``: on the plans of that mass).

    Each linear step is a sparse vertex ``P`` (:func:`_direction`); ``L x P`` costs one
    ``n x k x m`` product and ``L x G`` is carried along the iterates
    (``L x (G + a (P - G)) = L x G + a (L x P - L x G)``), so an iteration costs one
    transport LP and one matrix product. Returns the plan, the iteration count, whether
    the gap fell below ``tol_abs``, and the objective of :func:`_objective` at the plan.
    ``product=True`` says that ``G`` is the product plan with ``mass = |p| = |q|``: its
    first step is then the comonotone coupling (sorting, no LP).
    """
    G = np.array(G, dtype=np.float64)
    tens = _tensor(Asq, Bsq, A, B, G)
    converged, it = False, 0
    for it in range(1, max_iter + 1):  # noqa: B007
        grad = _gradient(lam, M, alpha, G, tens)
        if it == 1 and product and M is None:
            # from the product plan with all mass transported, the gradient is
            # c (a_i + b_j - 2 x_i y_j), x = C1 p, y = C2 q: on couplings of (p, q) the
            # a, b terms are constant and -x_i y_j is minimised by the comonotone coupling
            # (the rearrangement inequality), so this LP needs no simplex
            rows, cols, vals = _comonotone(A @ pa, B @ qb, pa, qb)
        else:
            rows, cols, vals = _direction(pa, qb, grad, mass)
        gap = float((grad * G).sum()) - float(grad[rows, cols] @ vals)
        if gap <= tol_abs:
            converged = True
            break
        dtens = _tensor_sparse(Asq, Bsq, A, B, rows, cols, vals)
        dtens -= tens
        # F(G + a delta) = F(G) - a gap + a^2 Q(delta), delta = P - G: the exact step
        quad = (alpha * (float(dtens[rows, cols] @ vals) - float((dtens * G).sum()))
                - 2 * lam * (float(vals.sum()) - float(G.sum())) ** 2)
        step = _exact_step(gap, quad)
        if step == 0.0:
            converged = True
            break
        G *= 1.0 - step
        np.add.at(G, (rows, cols), step * vals)
        tens += step * dtens
    G = np.maximum(G, 0.0)
    value = alpha * float((tens * G).sum()) - 2 * lam * float(G.sum()) ** 2
    if M is not None:
        value += (1.0 - alpha) * float((M * G).sum())
    return G, it, converged, value


def _lift_plan(G, p, q):
    """The balanced plan on the augmented spaces that a partial plan ``G`` stands for.

    ``X`` gains a point carrying ``|q|`` and ``Y`` one carrying ``|p|``; mass that ``G``
    leaves at a point goes to the other side's added point, and the two added points
    exchange ``|G|``. The result, ``(n + 1, m + 1)``, has marginals ``[p, |q|]`` and
    ``[q, |p|]``; its ``n x m`` block is ``G``.
    """
    n, m = G.shape
    H = np.zeros((n + 1, m + 1))
    H[:n, :m] = G
    H[:n, m] = np.maximum(p - G.sum(1), 0.0)
    H[n, :m] = np.maximum(q - G.sum(0), 0.0)
    H[n, m] = G.sum()
    return H


def _fw_augmented(A, B, pa, qb, lam, M, alpha, G, max_iter, tol_abs):
    """FW2: Frank-Wolfe on the balanced GW-type problem over the augmented spaces.

    ``X^ = X + {x^}``, ``Y^ = Y + {y^}`` with masses ``p^ = [p, |q|]``, ``q^ = [q, |p|]``,
    and the loss ``L^((i,j),(k,l)) = alpha (C1_ik - C2_jl)^2 - 2 lam`` when none of
    ``i, k, j, l`` is an added point, ``0`` otherwise (plus ``(1 - alpha) M^``, ``M`` padded
    with zeros). Its minimisers over couplings of ``(p^, q^)`` restrict to PGW's on the
    ``n x m`` block. The loss is separable, ``L^ = sum_r a_r(i, k) b_r(j, l)``, so
    ``L^ x G^ = sum_r a_r G^ b_r^T`` (the GW tensor product of Peyre et al., 2016); each
    linear step is a balanced transport LP between ``p^`` and ``q^``.
    """
    n, m = len(pa), len(qb)
    ph, qh = np.r_[pa, qb.sum()], np.r_[qb, pa.sum()]
    U = np.zeros((n + 1, n + 1))
    U[:n, :n] = 1.0
    V = np.zeros((m + 1, m + 1))
    V[:m, :m] = 1.0
    Ah = np.zeros((n + 1, n + 1))
    Ah[:n, :n] = A
    Bh = np.zeros((m + 1, m + 1))
    Bh[:m, :m] = B
    # (alpha (a - b)^2 - 2 lam) on the real blocks = alpha a^2 + alpha b^2 - 2 alpha a b - 2 lam
    pieces = [(alpha * Ah * Ah, V), (U, alpha * Bh * Bh), (-2.0 * alpha * Ah, Bh),
              (-2.0 * lam * U, V)]
    Mh = None
    if M is not None:
        Mh = np.zeros((n + 1, m + 1))
        Mh[:n, :m] = (1.0 - alpha) * M

    def lhat(H):
        return sum(a @ H @ b.T for a, b in pieces)

    H = _lift_plan(G, pa, qb)
    LH = lhat(H)
    converged, it = False, 0
    for it in range(1, max_iter + 1):  # noqa: B007
        grad = 2.0 * LH if Mh is None else 2.0 * LH + Mh
        delta = ot.emd(ph, qh, grad, numItermax=10_000_000) - H
        gap = -float((grad * delta).sum())
        if gap <= tol_abs:
            converged = True
            break
        quad = float((lhat(delta) * delta).sum())
        step = _exact_step(gap, quad)
        if step == 0.0:
            converged = True
            break
        H = H + step * delta
        LH = lhat(H)
    return np.maximum(H[:n, :m], 0.0), it, converged


def _result(io, A, B, pa, qb, lam, M, alpha, G, it, converged):
    value, _ = _objective(A, B, A * A, B * B, lam, M, alpha, G)
    mass = float(G.sum())
    gw = float((_tensor(A * A, B * B, A, B, G) * G).sum())
    cost = value + lam * (float(pa.sum()) ** 2 + float(qb.sum()) ** 2)

    def t(x):
        return torch.as_tensor(x, dtype=io.dtype, device=io.device)

    feature = None if M is None else io.out(t(float((M * G).sum())))
    return PartialGWResult(io.out(t(G)), io.out(t(cost)), io.out(t(gw)), io.out(t(mass)), it,
                           converged, feature)


def _sinkhorn_solve(A, B, pa, qb, lam, M, alpha, G, epsilon, max_iter, tol, n_masses):
    """Entropic (mirror-descent) solver: each step an entropic partial transport of the
    linearised cost, as in entropic Gromov-Wasserstein; ``epsilon`` relative to the median
    absolute deviation of that cost over the pairs."""
    n, m = len(pa), len(qb)
    Asq, Bsq = A * A, B * B
    pe, qe = np.r_[pa, qb.sum()], np.r_[qb, pa.sum()]
    if G is None:  # the Frank-Wolfe start: the empty plan is stationary here too
        scale = max(float(np.abs(A).max() ** 2 + np.abs(B).max() ** 2), 1e-300)
        G = _mass_search(pa, qb, A, B, Asq, Bsq, lam, n_masses, 1e-5 * scale, M, alpha)
    converged, it = False, 0
    for it in range(1, max_iter + 1):  # noqa: B007
        _, tens = _objective(A, B, Asq, Bsq, lam, M, alpha, G)
        grad = _gradient(lam, M, alpha, G, tens)
        big = np.zeros((n + 1, m + 1))
        big[:n, :m] = grad
        # a robust scale of the cost's variations over pairs (the penalty shifts it
        # uniformly; outliers would inflate a max - min range)
        spread = float(np.median(np.abs(grad - np.median(grad))))
        spread = max(spread, 1e-12 * max(1.0, float(np.abs(grad).max())))
        with warnings.catch_warnings():  # a step need not be converged to make progress
            warnings.simplefilter("ignore", UserWarning)
            plan = ot.sinkhorn(pe, qe, big, epsilon * spread, method="sinkhorn_log",
                               numItermax=5000, stopThr=1e-10)
        new = plan[:n, :m]
        change = float(np.abs(new - G).sum())
        G = new
        if change <= tol * max(pa.sum(), qb.sum()):
            converged = True
            break
    return np.maximum(G, 0.0), it, converged


def fused_partial_gromov_wasserstein(M: ArrayLike, C1: ArrayLike, C2: ArrayLike,
                                     p: ArrayLike | None = None, q: ArrayLike | None = None,
                                     alpha: float = 0.5, penalty: float = 1.0, solver: str = "fw1",
                                     epsilon: float = 0.01, G0: ArrayLike | None = None,
                                     max_iter: int = 500, tol: float = 1e-9,
                                     n_masses: int = 6, metric: str | None = None, *,
                                     mass: float | None = None) -> PartialGWResult:
    r"""Fused partial Gromov–Wasserstein (``fpgw``): features and structure, unbalanced.

    .. math::
        \min_{\gamma \ge 0,\ \gamma 1 \le p,\ \gamma^T 1 \le q}
        (1 - \alpha) \langle M, \gamma \rangle
        + \alpha \sum_{ijkl} (C1_{ik} - C2_{jl})^2 \gamma_{ij} \gamma_{kl}
        + \lambda (|p|^2 + |q|^2 - 2 |\gamma|^2)

    ``alpha = 1`` is :func:`partial_gromov_wasserstein`; with equal masses and
    a large penalty the plan is a coupling and the problem is POT's fused
    Gromov-Wasserstein (``ot.gromov.fused_gromov_wasserstein``, same ``alpha``);
    ``alpha = 0`` is partial transport of the features under the same quadratic
    mass penalty. The penalty is not weighted by ``alpha``: mass keeps its
    price whatever the balance of features and structure.

    Parameters
    ----------
    M : array of shape (n, m)
        Feature cost between the nodes of the two spaces (e.g. ``ot.dist`` of features).
    C1, C2, p, q, penalty, G0, max_iter, tol, n_masses, metric, mass
        As in :func:`partial_gromov_wasserstein` (``metric``: point clouds in;
        ``mass``: the mass-constrained problem, POT's
        ``ot.gromov.partial_fused_gromov_wasserstein`` with ``m=mass``).
    alpha : float in [0, 1], default 0.5
        Weight of the structure term.
    solver : {"fw1", "fw2", "sinkhorn"}
        Frank–Wolfe on the partial plan with an exact partial-transport step
        (``fw1``), on the balanced plan of the augmented spaces (``fw2``; both
        as in :func:`partial_gromov_wasserstein`), or the entropic solver: each step an
        entropic (log-domain Sinkhorn) partial transport of the linearised
        cost; faster per step on large problems, its plan blurred by
        ``epsilon``.
    epsilon : float, default 0.01
        Entropic regularisation of the ``sinkhorn`` solver, relative to the
        median absolute deviation of the linearised cost over the pairs (robust
        to outliers).

    Returns
    -------
    PartialGWResult
        As for PGW, with ``feature_cost = <M, plan>``; ``cost`` is the whole
        objective above.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0], [1.0], [3.0]])
    >>> C = gromov_cost_matrix(x)
    >>> M = np.abs(x - x.T)  # features: the positions themselves
    >>> res = fused_partial_gromov_wasserstein(M, C, C, alpha=0.5, penalty=1.0)
    >>> float(res.cost) < 1e-12, res.plan.round(3).tolist()
    (True, [[0.333, 0.0, 0.0], [0.0, 0.333, 0.0], [0.0, 0.0, 0.333]])
    """
    lam = check_nonnegative(penalty, "penalty")
    solver = check_choice(solver, "solver", ("fw1", "fw2", "sinkhorn"))
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    n_masses = check_int(n_masses, "n_masses", minimum=1)
    alpha = check_nonnegative(alpha, "alpha")
    if alpha > 1:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    eps = check_nonnegative(epsilon, "epsilon")
    io = ArrayIO(M, C1, C2, p, q, G0)
    C1, C2 = _costs(C1, C2, metric)
    A, pa = _space(io, C1, p, "C1", "p")
    B, qb = _space(io, C2, q, "C2", "q")
    Mn = io.tensor(M, "M", ndim=2, shape=(len(pa), len(qb))).detach().cpu().numpy().astype(
        np.float64)
    G0n = _start(io, G0, pa, qb)
    mass = _check_mass(mass, pa, qb, solver, G0n)
    if solver == "sinkhorn":
        if eps <= 0:
            raise ValueError("epsilon must be positive for the sinkhorn solver")
        G, it, converged = _sinkhorn_solve(A, B, pa, qb, lam, Mn, alpha, G0n, eps, max_iter,
                                           max(tol, 1e-7), n_masses)
    else:
        G, it, converged = _fw(A, B, pa, qb, lam, Mn, alpha, solver, G0n, max_iter, tol,
                               n_masses, mass)
    return _result(io, A, B, pa, qb, lam, Mn, alpha, G, it, converged)


def _mass_search(pa, qb, A, B, Asq, Bsq, lam, n_masses, tol_abs, M=None, alpha=1.0):
    """Best start among fixed-mass (fused) partial GW plans on a grid of masses (and the
    empty plan)."""
    n_masses = check_int(n_masses, "n_masses", minimum=1)
    top = min(pa.sum(), qb.sum())
    best, best_val = np.zeros((len(pa), len(qb))), 0.0
    # the grid's last mass can exceed ``top`` by round-off
    for mass in np.minimum(top * np.arange(1, n_masses + 1) / n_masses, top):
        # a start, not a solution: a few steps separate the masses
        G, _, _, val = _fw_partial(A, B, Asq, Bsq, pa, qb, lam, M, alpha,
                                   _product_plan(pa, qb, mass), 30, tol_abs, mass)
        if val < best_val:
            best, best_val = G, val
    return best


# ------------------------------------------------------------ PGW barycenters
@dataclass(frozen=True)
class PartialGWBarycenter:
    """Result of :func:`partial_gromov_barycenter`.

    Attributes
    ----------
    C : array of shape (N, N)
        The barycenter's cost matrix (its points are defined up to a permutation).
    p : array of shape (N,)
        Its masses.
    plans : list of arrays (N, n_s)
        The PGW plan from the barycenter to each space at the last iteration.
    costs : array of shape (S,)
        ``PGW(C, C_s)`` for each space.
    n_iter : int
    converged : bool
    """

    C: Any
    p: Any
    plans: list
    costs: Any
    n_iter: int
    converged: bool


def _penalties(penalty: Any, S: int) -> np.ndarray:
    """``penalty`` as ``S`` finite non-negative floats (one number for all, or one per space)."""
    if isinstance(penalty, numbers.Real) and not isinstance(penalty, bool):
        return np.full(S, check_nonnegative(penalty, "penalty"))
    if isinstance(penalty, str | bytes) or not isinstance(penalty, Sequence | np.ndarray |
                                                          torch.Tensor):
        raise TypeError(f"penalty must be a number or a sequence of {S} numbers, got "
                        f"{type(penalty).__name__}")
    vals = [penalty[i] for i in range(len(penalty))]
    if len(vals) != S:
        raise ValueError(f"penalty must be one number or one per space ({S}), got {len(vals)}")
    return np.array([check_nonnegative(float(v) if isinstance(v, np.generic | torch.Tensor)
                                       else v, f"penalty[{i}]") for i, v in enumerate(vals)])


def partial_gromov_barycenter(Cs: Sequence[ArrayLike], ps: Sequence[ArrayLike] | None = None,
                              n_points: int | None = None, p: ArrayLike | None = None,
                              weights: ArrayLike | None = None,
                              penalty: float | Sequence[float] = 1.0,
                              init: ArrayLike | None = None, max_iter: int = 30,
                              tol: float = 1e-6, solver: str = "fw1",
                              seed: SeedLike = None, progress: bool = False,
                              n_masses: int = 6) -> PartialGWBarycenter:
    r"""Partial Gromov–Wasserstein barycenter of several metric measure spaces (``pgw``).

    .. math:: \min_C \sum_s w_s \, PGW_\lambda\big((C, p), (C_s, p_s)\big)

    by block coordinate descent: PGW plans :math:`\gamma_s` from the current
    barycenter to each space, then the closed-form update of the square loss

    .. math:: C \leftarrow \frac{\sum_s w_s\, \gamma_s C_s \gamma_s^\top}
                                {\sum_s w_s\, (\gamma_s 1)(\gamma_s 1)^\top},

    where only transported mass counts (entries no plan reaches keep their
    value). Stops when ``C`` changes by less than ``tol`` (relative).

    Parameters
    ----------
    Cs : list of arrays (n_s, n_s)
    ps : list of arrays (n_s,), optional
        Masses (uniform probabilities if omitted).
    n_points : int, optional
        Size ``N`` of the barycenter (default: the largest ``n_s``).
    p : array of shape (N,), optional
        Barycenter masses (uniform probability if omitted).
    weights : array of shape (S,), optional
        ``w_s`` (uniform if omitted).
    penalty : float or sequence of floats
        ``lambda``, one for all spaces or one per space.
    init : array of shape (N, N), optional
        Starting cost matrix; by default the first space with ``N`` points, or
        else the distances of ``N`` standard normal points in the plane
        (seeded), rescaled to the spaces' median mean cost.
    max_iter, tol, solver, seed, progress
        Outer iterations, stopping tolerance, the PGW solver (``fw1`` / ``fw2``),
        the seed of the default start, a progress bar.
    n_masses : int, default 6
        Candidate masses of each PGW solve's default start.

    Returns
    -------
    PartialGWBarycenter
    """
    from .._random import make_generator

    if not isinstance(Cs, list | tuple) or len(Cs) == 0:
        raise ValueError("Cs must be a non-empty list of square cost matrices")
    S = len(Cs)
    if ps is not None and len(ps) != S:
        raise ValueError(f"ps must hold one mass vector per space ({S}), got {len(ps)}")
    io = ArrayIO(*Cs)
    spaces = [_space(io, C, None if ps is None else ps[s], f"Cs[{s}]", f"ps[{s}]")
              for s, C in enumerate(Cs)]
    N = max(len(w) for _, w in spaces) if n_points is None else check_int(n_points, "n_points",
                                                                           minimum=1)
    pb = np.full(N, 1.0 / N) if p is None else check_weights(
        io.tensor(p, "p", ndim=1, shape=(N,)), "p", normalize=False).cpu().numpy().astype(float)
    w = np.full(S, 1.0 / S) if weights is None else check_weights(
        io.tensor(weights, "weights", ndim=1, shape=(S,)), "weights",
        normalize=False).cpu().numpy().astype(float)
    lams = _penalties(penalty, S)
    if init is None:
        same = [Cs_ for Cs_, ws_ in spaces if len(ws_) == N]
        if same:  # start from a space of the barycenter's size
            C = same[0].copy()
        else:
            g = make_generator(seed)
            Z = torch.randn(N, 2, generator=g, dtype=torch.float64).numpy()
            C = np.sqrt(((Z[:, None] - Z[None]) ** 2).sum(-1))
            target = np.median([Cs_.mean() for Cs_, _ in spaces])
            C *= target / max(C.mean(), 1e-300)
    else:
        C = io.tensor(init, "init", ndim=2, shape=(N, N)).detach().cpu().numpy().astype(float)
    it_range = range(1, check_int(max_iter, "max_iter", minimum=1) + 1)
    n_masses = check_int(n_masses, "n_masses", minimum=1)
    if progress:
        from tqdm.auto import tqdm
        it_range = tqdm(it_range, desc="PGW barycenter", unit="iter")
    converged, it = False, 0
    plans: list[np.ndarray] = []
    costs = np.zeros(S)
    for it in it_range:  # noqa: B007
        plans, costs = [], np.zeros(S)
        num = np.zeros((N, N))
        den = np.zeros((N, N))
        for s, (Cs_, ws_) in enumerate(spaces):
            G, _, _ = _fw(C, Cs_, pb, ws_, lams[s], None, 1.0, solver, None, 500, 1e-9,
                          n_masses)
            plans.append(G)
            costs[s] = float(_objective(C, Cs_, C * C, Cs_ * Cs_, lams[s], None, 1.0, G)[0]
                             + lams[s] * (pb.sum() ** 2 + ws_.sum() ** 2))
            r = G.sum(1)
            num += w[s] * (G @ Cs_ @ G.T)
            den += w[s] * np.outer(r, r)
        reached = den > 1e-300 * max(1.0, float(den.max()))
        new = np.where(reached, num / np.where(reached, den, 1.0), C)
        change = float(np.abs(new - C).max()) / max(float(np.abs(C).max()), 1e-300)
        C = new
        if change <= tol and reached.any():
            converged = True
            break

    def t(x):
        return torch.as_tensor(x, dtype=io.dtype, device=io.device)

    return PartialGWBarycenter(io.out(t(C)), io.out(t(pb)), [io.out(t(G)) for G in plans],
                               io.out(t(costs)), it, converged)
