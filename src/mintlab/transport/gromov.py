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

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import ot
import torch

from .._validation import ArrayIO, check_choice, check_int, check_nonnegative, check_weights

__all__ = ["PartialGWResult", "partial_gromov_wasserstein", "fused_partial_gromov_wasserstein",
           "PartialGWBarycenter", "partial_gromov_barycenter", "gromov_cost_matrix",
           "MinGSGWResult", "min_generalized_sliced_gromov_wasserstein"]


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


def gromov_cost_matrix(X, metric="euclidean"):
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


def partial_gromov_wasserstein(C1, C2, p=None, q=None, penalty=1.0, solver="fw1", G0=None,
                               max_iter=500, tol=1e-9, n_masses=6, metric=None):
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
        ``"fw1"``: Frank–Wolfe on the partial plan, its linear step a partial
        transport LP. ``"fw2"``: Frank–Wolfe on the balanced plan of the
        spaces augmented by one dummy point each (masses ``|q|`` and ``|p|``),
        its linear step a balanced LP.
    G0 : array of shape (n, m), optional
        Starting plan (must satisfy the mass constraints). By default the
        start is the best of ``n_masses`` fixed-mass partial GW plans (masses
        spread over ``(0, min(|p|, |q|)]``, each found by Frank–Wolfe from
        the scaled product plan), compared with the product plan itself for
        ``fw2``: the empty plan is a stationary point of PGW, and Frank–Wolfe
        started from the product plan often falls into it when some points
        have no counterpart.
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
    """
    lam = check_nonnegative(penalty, "penalty")
    solver = check_choice(solver, "solver", ("fw1", "fw2"))
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    io = ArrayIO(C1, C2, p, q, G0)
    C1, C2 = _costs(C1, C2, metric)
    A, pa = _space(io, C1, p, "C1", "p")
    B, qb = _space(io, C2, q, "C2", "q")
    G0n = _start(io, G0, pa, qb)
    G, it, converged = _fw(A, B, pa, qb, lam, None, 1.0, solver, G0n, max_iter, tol, n_masses)
    return _result(io, A, B, pa, qb, lam, None, 1.0, G, it, converged)


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


def _fw(A, B, pa, qb, lam, M, alpha, solver, G, max_iter, tol, n_masses):
    """Frank-Wolfe with exact line search on the (fused) partial GW objective."""
    n, m = len(pa), len(qb)
    Asq, Bsq = A * A, B * B
    scale = max(float(np.abs(A).max() ** 2 + np.abs(B).max() ** 2) *
                max(pa.sum(), qb.sum()) ** 2, 1e-300)
    if M is not None:
        scale = max(scale, float(np.abs(M).max()) * max(pa.sum(), qb.sum()))
    pe, qe = np.r_[pa, qb.sum()], np.r_[qb, pa.sum()]

    if solver == "fw1":
        def direction(grad):
            return _partial_lp(pa, qb, grad)[:n, :m]
    else:
        def direction(grad):
            big = np.zeros((n + 1, m + 1))
            big[:n, :m] = grad
            return ot.emd(pe, qe, big, numItermax=10_000_000)[:n, :m]

    def objective(G):
        return _objective(A, B, Asq, Bsq, lam, M, alpha, G)

    if G is None:
        # a start, not a solution: a loose tolerance (each step is one n x m LP)
        G = _mass_search(pa, qb, A, B, Asq, Bsq, lam, n_masses, 1e-5 * scale, M, alpha)
        if solver == "fw2":
            # also try the n x m block of the augmented problem's product plan
            P = np.outer(pe, qe)[:n, :m] / (pa.sum() + qb.sum())
            if objective(P)[0] < objective(G)[0]:
                G = P
    value, tens = objective(G)
    converged, it = False, 0
    for it in range(1, max_iter + 1):  # noqa: B007
        grad = _gradient(lam, M, alpha, G, tens)
        delta = direction(grad) - G
        gap = -float((grad * delta).sum())
        if gap <= tol * scale:
            converged = True
            break
        # F(G + a delta) = F(G) - a gap + a^2 Q(delta), Q from the same tensor: exact step
        quad = (alpha * float((_tensor(Asq, Bsq, A, B, delta) * delta).sum())
                - 2 * lam * float(delta.sum()) ** 2)
        if quad > 0:
            step = min(1.0, gap / (2 * quad))
        else:
            step = 1.0 if quad - gap < 0 else 0.0
        if step == 0.0:
            converged = True
            break
        G = G + step * delta
        value, tens = objective(G)
    return np.maximum(G, 0.0), it, converged


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


def fused_partial_gromov_wasserstein(M, C1, C2, p=None, q=None, alpha=0.5, penalty=1.0,
                                     solver="fw1", epsilon=0.01, G0=None, max_iter=500,
                                     tol=1e-9, n_masses=6, metric=None):
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
    C1, C2, p, q, penalty, G0, max_iter, tol, n_masses, metric
        As in :func:`partial_gromov_wasserstein` (``metric``: point clouds in).
    alpha : float in [0, 1], default 0.5
        Weight of the structure term.
    solver : {"fw1", "fw2", "sinkhorn"}
        Frank–Wolfe with an exact partial-LP step (``fw1``), on the balanced
        augmented problem (``fw2``), or the entropic solver: each step an
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
    if solver == "sinkhorn":
        if eps <= 0:
            raise ValueError("epsilon must be positive for the sinkhorn solver")
        G, it, converged = _sinkhorn_solve(A, B, pa, qb, lam, Mn, alpha, G0n, eps, max_iter,
                                           max(tol, 1e-7), n_masses)
    else:
        G, it, converged = _fw(A, B, pa, qb, lam, Mn, alpha, solver, G0n, max_iter, tol,
                               n_masses)
    return _result(io, A, B, pa, qb, lam, Mn, alpha, G, it, converged)


def _mass_search(pa, qb, A, B, Asq, Bsq, lam, n_masses, tol_abs, M=None, alpha=1.0):
    """Best start among fixed-mass (fused) partial GW plans on a grid of masses (and the
    empty plan)."""
    n_masses = check_int(n_masses, "n_masses", minimum=1)
    n, m = len(pa), len(qb)
    top = min(pa.sum(), qb.sum())
    best, best_val = np.zeros((n, m)), 0.0
    for mass in np.minimum(top * np.arange(1, n_masses + 1) / n_masses, top):
        # the grid's last mass can exceed ``top`` by round-off: a negative dummy weight
        pe = np.r_[pa, max(qb.sum() - mass, 0.0)]
        qe = np.r_[qb, max(pa.sum() - mass, 0.0)]
        G = np.outer(pa, qb) * mass / (pa.sum() * qb.sum())
        for _ in range(30):  # a start, not a solution: a few steps separate the masses
            # fixed mass: the penalty is constant
            grad = alpha * 2.0 * _tensor(Asq, Bsq, A, B, G)
            if M is not None:
                grad = grad + (1.0 - alpha) * M
            big = np.zeros((n + 1, m + 1))
            big[:n, :m] = grad
            big[n, m] = 1e3 * (np.abs(grad).max() + 1.0)  # dummy-to-dummy would drop mass
            delta = ot.emd(pe, qe, big, numItermax=10_000_000)[:n, :m] - G
            gap = -float((grad * delta).sum())
            if gap <= tol_abs:
                break
            quad = alpha * float((_tensor(Asq, Bsq, A, B, delta) * delta).sum())
            G = G + (min(1.0, gap / (2 * quad)) if quad > 0 else 1.0) * delta
        val = _objective(A, B, Asq, Bsq, lam, M, alpha, G)[0]
        if val < best_val:
            best, best_val = G, val
    return best


# ------------------------------------------------ min generalized sliced GW
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


def partial_gromov_barycenter(Cs, ps=None, n_points=None, p=None, weights=None, penalty=1.0,
                              init=None, max_iter=30, tol=1e-6, solver="fw1", seed=None,
                              progress=False):
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
    w = np.full(S, 1.0 / S) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (S,) or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"weights must be {S} non-negative numbers with a positive sum")
    lams = np.broadcast_to(np.asarray(penalty, dtype=float), (S,)).copy()
    if (lams < 0).any():
        raise ValueError("penalty must be non-negative")
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
    if progress:
        from tqdm.auto import tqdm
        it_range = tqdm(it_range, desc="PGW barycenter", unit="iter")
    converged, it = False, 0
    plans, costs = [], np.zeros(S)
    for it in it_range:  # noqa: B007
        plans, costs = [], np.zeros(S)
        num = np.zeros((N, N))
        den = np.zeros((N, N))
        for s, (Cs_, ws_) in enumerate(spaces):
            G, _, _ = _fw(C, Cs_, pb, ws_, lams[s], None, 1.0, solver, None, 500, 1e-9, 6)
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
