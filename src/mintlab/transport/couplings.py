"""Minibatch couplings for generative training: exact, entropic, partial and sliced.

Flow matching, mean flows and drifting models pair a batch of source points
``x0`` (noise, model samples) with a batch of targets ``x1`` (data) by a
transport plan between the two empirical measures. :func:`couple` computes that
plan with one of four solvers and returns a :class:`Coupling` that holds the
plan (sparse support or dense matrix), its cost, and a way to draw index pairs
from it (:meth:`Coupling.sample_pairs`, as ``torchcfm``'s ``OTPlanSampler``).

========== ============================================ ==================== =========
method     plan                                         where it runs        time
========== ============================================ ==================== =========
exact      optimal assignment / LP (``emd``)            cost on device, LP   ``O(B^3)``
                                                        on the CPU
sinkhorn   entropic OT, log-domain Sinkhorn             device               ``O(B^2)``
                                                                             per sweep
partial    a fraction ``mass`` of the mass, exact (LP   exact: CPU;          as above
           with dummy points) or entropic (``reg``)     entropic: device
sliced     expected sliced plan (average of lifted      device               ``O(L B log B)``
           monotone 1D plans)
========== ============================================ ==================== =========
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._random import make_generator, rand
from .._validation import ArrayIO, check_choice, check_int, check_positive, check_weights
from ..typing import ArrayLike, SeedLike

__all__ = ["Coupling", "couple", "COUPLING_METHODS"]

COUPLING_METHODS = ("exact", "sinkhorn", "partial", "sliced")
_DEFAULT_REG = 0.05  # torchcfm's default, in units of the cost


# ------------------------------------------------------------------ result
@dataclass(frozen=True)
class Coupling:
    """A coupling of two minibatches, as returned by :func:`couple`.

    Sparse methods (``exact``, ``partial`` without ``reg``, ``sliced``) store
    the support of the plan (``src``, ``tgt``, ``mass``: the plan is
    ``sum_k mass_k delta_(src_k, tgt_k)``); ``sinkhorn`` and entropic
    ``partial`` store the dense ``plan``. Numpy in, numpy out; torch in, torch
    out on the inputs' device (indices as int64, masses in the inputs' dtype).

    Attributes
    ----------
    src, tgt : arrays of shape (K,) or None
        Source and target indices of the support (``None`` for a dense plan).
        For ``exact`` with equal uniform batches, ``src = arange(n)`` and
        ``tgt`` is the optimal permutation.
    mass : array of shape (K,) or None
        Mass of each support entry.
    plan : array of shape (n, m) or None
        The dense plan (also filled for sparse methods with ``dense=True``).
    cost : array of shape ()
        ``sum_ij plan_ij ||x0_i - x1_j||^p``.
    transported_mass : array of shape ()
        Total mass of the plan (1, or ``mass`` for ``partial``).
    method : str
    shape : tuple of int
        ``(n, m)``.
    """

    src: Any
    tgt: Any
    mass: Any
    plan: Any
    cost: Any
    transported_mass: Any
    method: str
    shape: tuple

    @property
    def is_torch(self) -> bool:
        ref = self.mass if self.mass is not None else self.plan
        return isinstance(ref, torch.Tensor)

    def permutation(self):
        """The matched target of each source, when the plan is a permutation.

        Returns
        -------
        array of shape (n,)
            ``perm[i]`` is the index of the target coupled with source ``i``.

        Raises
        ------
        ValueError
            If the plan is dense or does not match every source with exactly
            one target (use :meth:`sample_pairs` then).
        """
        n, m = self.shape
        if self.src is None or len(self.src) != n or n != m:
            raise ValueError(f"the {self.method!r} coupling of shape {self.shape} is not a "
                             "permutation; draw pairs with sample_pairs()")
        src = torch.as_tensor(self.src)
        tgt = torch.as_tensor(self.tgt)
        perm = torch.full((n,), -1, dtype=torch.long, device=src.device)
        perm[src] = tgt
        if bool((perm < 0).any()) or torch.unique(tgt).numel() != n:
            raise ValueError(f"the {self.method!r} coupling is not a permutation; draw pairs "
                             "with sample_pairs()")
        return perm if self.is_torch else perm.cpu().numpy()

    def to_dense(self):
        """The plan as an ``(n, m)`` array."""
        if self.plan is not None:
            return self.plan
        n, m = self.shape
        src, tgt, mass = (torch.as_tensor(v) for v in (self.src, self.tgt, self.mass))
        dense = torch.zeros(n * m, dtype=mass.dtype, device=mass.device)
        dense.index_add_(0, src * m + tgt, mass)
        dense = dense.reshape(n, m)
        return dense if self.is_torch else dense.cpu().numpy()

    def sample_pairs(self, n_pairs=None, *, replace=True, seed=None):
        """Draw index pairs ``(i, j)`` with probability ``plan_ij / transported_mass``.

        Parameters
        ----------
        n_pairs : int, optional
            Number of pairs (default: ``n``, the source batch size).
        replace : bool, default True
            Draw with replacement (as ``torchcfm``'s ``sample_map``); without
            replacement needs ``n_pairs`` at most the number of entries with
            positive mass (Gumbel top-k).
        seed : int, numpy or torch generator, or None
            Randomness (a CUDA generator draws on its device).

        Returns
        -------
        i, j : arrays of shape (n_pairs,)
            Source and target indices (int64, on the plan's device).

        Examples
        --------
        >>> import numpy as np
        >>> c = couple(np.zeros((3, 2)), np.ones((3, 2)), "sinkhorn", reg=1.0)
        >>> i, j = c.sample_pairs(5, seed=0)
        >>> i.shape, j.shape
        ((5,), (5,))
        """
        n, m = self.shape
        n_pairs = n if n_pairs is None else check_int(n_pairs, "n_pairs", minimum=1)
        g = make_generator(seed)
        if self.plan is not None:
            weights = torch.as_tensor(self.plan).reshape(-1)
            src = tgt = None
        else:
            weights = torch.as_tensor(self.mass)
            src, tgt = torch.as_tensor(self.src), torch.as_tensor(self.tgt)
        weights = weights.detach().to(torch.float64).clamp_min(0)
        dev = weights.device
        if replace:
            cdf = torch.cumsum(weights, 0)
            u = rand(n_pairs, generator=g, dtype=torch.float64, device=dev) * cdf[-1]
            k = torch.searchsorted(cdf, u, right=True).clamp_max(weights.numel() - 1)
        else:
            positive = int((weights > 0).sum())
            if n_pairs > positive:
                raise ValueError(f"n_pairs must be at most the {positive} entries with positive "
                                 f"mass when replace=False, got {n_pairs}")
            u = rand(weights.numel(), generator=g, dtype=torch.float64, device=dev)
            keys = weights.log() - torch.log(-torch.log(u.clamp_min(1e-300)))
            k = torch.topk(keys, n_pairs).indices
        if src is None:
            i, j = k // m, k % m
        else:
            i, j = src[k], tgt[k]
        if self.is_torch:
            return i, j
        return i.cpu().numpy(), j.cpu().numpy()


# ----------------------------------------------------------------- kernels
def _ground_cost(X, Y, p):
    """``||x_i - y_j||^p`` for all pairs, on the inputs' device and dtype."""
    D = torch.cdist(X, Y)
    if p == 2.0:
        return D.square()
    if p == 1.0:
        return D
    return D.pow(p)


def _lse(x, dim):
    """``log sum exp`` along ``dim``; below float64, terms under ``e^-80`` of the largest are
    clamped there (far below the precision of the sum), so no subnormal numbers slow it down."""
    if x.dtype == torch.float64:
        return torch.logsumexp(x, dim=dim)
    top = x.amax(dim=dim, keepdim=True)
    return (x - top).clamp_min(-80.0).exp().sum(dim).log() + top.squeeze(dim)


def _sinkhorn_log(C, log_a, log_b, reg, max_iter, tol, check_every=10):
    """Log-domain Sinkhorn: potentials ``(f, g)`` of ``exp((f_i + g_j - C_ij) / reg)``.

    ``log_a``/``log_b`` are the log-marginals (``None``: uniform). Alternates
    ``f = log a - LSE_j(-C/reg + g)`` and ``g = log b - LSE_i(-C/reg + f)`` for
    ``max_iter`` sweeps, or until the L1 error of the row marginals is below
    ``tol`` (checked every ``check_every`` sweeps; ``tol=None``: no check).
    Returns ``(plan, sweeps, error)``; ``error`` is ``nan`` when never checked.
    """
    n, m = C.shape
    if log_a is None:
        log_a = torch.full((n,), -math.log(n), dtype=C.dtype, device=C.device)
    if log_b is None:
        log_b = torch.full((m,), -math.log(m), dtype=C.dtype, device=C.device)
    K = -C / reg
    f = torch.zeros(n, dtype=C.dtype, device=C.device)
    g = torch.zeros(m, dtype=C.dtype, device=C.device)
    err = float("nan")
    it = 0
    for it in range(1, max_iter + 1):
        f = log_a - _lse(K + g[None, :], 1)
        g = log_b - _lse(K + f[:, None], 0)
        if tol is not None and (it % check_every == 0 or it == max_iter):
            rows = torch.exp(f + _lse(K + g[None, :], 1))
            err = float((rows - log_a.exp()).abs().sum())
            if err < tol:
                break
    return torch.exp(K + f[:, None] + g[None, :]), it, err


def _support(plan_np, dtype, device):
    # rounding leftovers of the LP (about 1e-17 of the mass) are not part of the support
    i, j = np.nonzero(plan_np > 1e-13 * plan_np.max())
    mass = torch.as_tensor(plan_np[i, j], dtype=dtype, device=device)
    return (torch.as_tensor(i, dtype=torch.long, device=device),
            torch.as_tensor(j, dtype=torch.long, device=device), mass)


def _emd(a, b, Cn):
    """POT's network simplex run to optimality (torchcfm's default iteration cap is not)."""
    import ot

    n, m = Cn.shape
    plan, log = ot.emd(a, b, Cn, numItermax=max(10**6, 50 * n * m), log=True)
    if log["result_code"] != 1:
        warnings.warn(f"exact coupling: the network simplex stopped before optimality "
                      f"({log['warning']})", RuntimeWarning, stacklevel=3)
    return plan


def _exact(C, aw, bw, solver):
    """Exact OT by POT's network simplex; equal uniform batches give a permutation."""
    n, m = C.shape
    Cn = C.detach().double().cpu().numpy()
    if solver == "assignment":
        from scipy.optimize import linear_sum_assignment

        if aw is not None or bw is not None or n != m:
            raise ValueError(f"solver='assignment' needs equal batch sizes and uniform weights, "
                             f"got shape {(n, m)} with weights "
                             f"{'given' if aw is not None or bw is not None else 'uniform'}")
        cols = linear_sum_assignment(Cn)[1]
        src = torch.arange(n, device=C.device)
        tgt = torch.as_tensor(cols, dtype=torch.long, device=C.device)
        return src, tgt, torch.full((n,), 1.0 / n, dtype=C.dtype, device=C.device)
    a = np.full(n, 1.0 / n) if aw is None else aw.detach().double().cpu().numpy()
    b = np.full(m, 1.0 / m) if bw is None else bw.detach().double().cpu().numpy()
    plan = _emd(a, b, Cn)
    if aw is None and bw is None and n == m:
        # a vertex of the assignment polytope: one entry per row (the check guards degeneracy)
        positive = plan > 0
        if bool((positive.sum(1) == 1).all()):
            cols = positive.argmax(1)
        else:
            from scipy.optimize import linear_sum_assignment

            cols = linear_sum_assignment(Cn)[1]
        src = torch.arange(n, device=C.device)
        tgt = torch.as_tensor(cols, dtype=torch.long, device=C.device)
        return src, tgt, torch.full((n,), 1.0 / n, dtype=C.dtype, device=C.device)
    return _support(plan, C.dtype, C.device)


def _partial_exact(C, aw, bw, mass):
    """Exact partial OT of ``mass``: the network simplex on the batch plus one dummy per side.

    The dummy source and target each carry ``1 - mass``; dummy-to-dummy is
    forbidden (a cost above any saving), every other dummy edge is free, so the
    real-to-real block of the optimal plan moves exactly ``mass``.
    """
    n, m = C.shape
    Cn = C.detach().double().cpu().numpy()
    a = np.full(n, 1.0 / n) if aw is None else aw.detach().double().cpu().numpy()
    b = np.full(m, 1.0 / m) if bw is None else bw.detach().double().cpu().numpy()
    if mass >= 1.0:
        return _support(_emd(a, b, Cn), C.dtype, C.device)
    big = np.zeros((n + 1, m + 1))
    big[:n, :m] = Cn
    big[n, m] = 2.0 * Cn.max() + 1.0
    plan = _emd(np.append(a, 1.0 - mass), np.append(b, 1.0 - mass), big)[:n, :m]
    return _support(plan, C.dtype, C.device)


def _partial_entropic(C, aw, bw, mass, reg, max_iter, tol):
    """Entropic partial OT: Sinkhorn on the problem augmented with one dummy point per side.

    The dummy source (mass ``1 - mass``) may only go to real targets and the
    dummy target (mass ``1 - mass``) only receive real sources, at zero cost;
    the real-to-real block then carries exactly ``mass``.
    """
    n, m = C.shape
    a = torch.full((n,), 1.0 / n, dtype=C.dtype, device=C.device) if aw is None else aw
    b = torch.full((m,), 1.0 / m, dtype=C.dtype, device=C.device) if bw is None else bw
    if mass >= 1.0:
        return _sinkhorn_log(C, a.log(), b.log(), reg, max_iter, tol)
    big = C.new_zeros((n + 1, m + 1))
    big[:n, :m] = C
    big[n, m] = float("inf")
    rest = torch.tensor([1.0 - mass], dtype=C.dtype, device=C.device)
    plan, it, err = _sinkhorn_log(big, torch.cat([a, rest]).log(), torch.cat([b, rest]).log(),
                                  reg, max_iter, tol)
    return plan[:n, :m], it, err


def _sliced(X0, X1, aw, bw, p, n_projections, projections, seed, beta):
    from .plans import expected_sliced_plan

    res = expected_sliced_plan(X0, X1, aw, bw, n_projections=n_projections, p=p,
                               projections=projections, seed=seed, beta=beta, dense=False)
    sp = res.plan.coalesce()
    idx = sp.indices()
    return idx[0], idx[1], sp.values(), res.cost


def _check_mass(mass):
    if isinstance(mass, bool) or not isinstance(mass, numbers.Real):
        raise TypeError(f"mass must be a real number in (0, 1], got {type(mass).__name__}")
    mass = float(mass)
    if not 0.0 < mass <= 1.0:
        raise ValueError(f"mass must lie in (0, 1] (a fraction of the total mass), got {mass}")
    return mass


def _check_weights(io, w, name, size):
    if w is None:
        return None
    t = io.tensor(w, name, ndim=1, shape=(size,))
    return check_weights(t, name)


# -------------------------------------------------------------------- API
def couple(x0: ArrayLike, x1: ArrayLike, method: str = "exact", *, a: ArrayLike | None = None,
           b: ArrayLike | None = None, p: float = 2, reg: float | None = None,
           mass: float | None = None, n_projections: int = 50,
           projections: ArrayLike | None = None, seed: SeedLike = None, beta: float = 0.0,
           max_iter: int = 1000, tol: float | str | None = "auto", solver: str = "emd",
           dense: bool = False) -> Coupling:
    r"""Couple two minibatches by a transport plan.

    .. math::
        \pi^\star \in \arg\min_{\pi \in \Pi(a, b)} \sum_{ij} \pi_{ij}\,
        \|x^0_i - x^1_j\|^p \;\big(+\ \varepsilon \textstyle\sum_{ij}
        \pi_{ij} \log \pi_{ij}\big)

    with ``Pi(a, b)`` the couplings of ``a`` and ``b`` (``partial``: plans
    with marginals at most ``a``, ``b`` and total mass ``mass``).

    - ``"exact"``: the optimal plan, by POT's network simplex (``ot.emd``,
      run to optimality: its default iteration cap, which ``torchcfm`` keeps,
      stops early from about ``B = 2048``). Equal batch sizes with uniform
      weights give a permutation. The cost matrix is built on the inputs'
      device; the solver itself runs on the CPU (float64) and the indices come
      back to the device.
    - ``"sinkhorn"``: entropic OT with regularisation ``reg`` (default 0.05,
      in units of the cost, as ``torchcfm``), log-domain Sinkhorn on the
      inputs' device, dense plan, differentiable in the points through the
      unrolled sweeps (the other methods return plans without gradients).
    - ``"partial"``: transports the fraction ``mass`` of the total mass.
      Without ``reg``: exact, the network simplex on the batch augmented with
      one dummy point per side (each carrying ``1 - mass``; the LP POT's
      ``partial_wasserstein`` solves), CPU solver, sparse plan; with equal
      uniform batches and ``mass * n`` an integer it matches ``mass * n``
      pairs.
      With ``reg``: entropic partial OT, Sinkhorn on the device on the problem
      augmented with one dummy point per side, dense plan.
    - ``"sliced"``: the expected sliced plan (average over ``n_projections``
      directions of the lifted monotone 1D plans,
      :func:`~mintlab.transport.expected_sliced_plan`): ``O(L B log B)`` on
      the device, sparse plan. With one direction and equal uniform batches
      it is a permutation.

    Parameters
    ----------
    x0 : array of shape (n, ...)
        Source batch (trailing axes are flattened).
    x1 : array of shape (m, ...)
        Target batch, with the same trailing shape.
    method : {"exact", "sinkhorn", "partial", "sliced"}
    a, b : arrays of shape (n,), (m,), optional
        Weights (uniform if omitted; normalised to sum 1).
    p : float, default 2
        Ground cost ``||x - y||^p`` (2: squared Euclidean, as ``torchcfm``).
    reg : float, optional
        Entropic regularisation (``sinkhorn``; ``partial`` entropic).
    mass : float in (0, 1], optional
        Transported fraction for ``partial`` (required there).
    n_projections, projections, seed, beta
        Directions of ``sliced`` (as :func:`expected_sliced_plan`).
    max_iter : int, default 1000
        Sinkhorn sweeps at most.
    tol : float, "auto" or None, default "auto"
        Sinkhorn stops when the L1 error of the row marginals is below
        ``tol`` (``"auto"``: 1e-9 in float64, 1e-5 in lower precision);
        ``None`` runs exactly ``max_iter`` sweeps. A run that ends above
        ``tol`` warns with the error reached.
    solver : {"emd", "assignment"}, default "emd"
        Solver of ``exact``: POT's network simplex, or scipy's
        ``linear_sum_assignment`` (Hungarian-type; equal uniform batches
        only). Both are exact; they may pick different optima when the
        optimum is not unique (repeated points).
    dense : bool, default False
        Also fill ``plan`` for the sparse methods.

    Returns
    -------
    Coupling

    Examples
    --------
    >>> import numpy as np
    >>> x0 = np.array([[0.0], [1.0], [2.0]]); x1 = np.array([[2.5], [0.1], [1.1]])
    >>> c = couple(x0, x1)
    >>> c.permutation()
    array([1, 2, 0])
    >>> round(float(c.cost), 6)
    0.09
    >>> c = couple(x0, x1, "partial", mass=2 / 3)   # the two cheap pairs, 1/3 each
    >>> sorted(zip(c.src.tolist(), c.tgt.tolist())), round(float(c.cost), 6)
    ([(0, 1), (1, 2)], 0.006667)

    References
    ----------
    Tong et al., "Improving and generalizing flow-based generative models with
    minibatch optimal transport", 2024 (``torchcfm``); Liu et al., "Expected
    Sliced Transport Plans", 2025 (``est-plans``).
    """
    method = check_choice(method, "method", COUPLING_METHODS)
    solver = check_choice(solver, "solver", ("emd", "assignment"))
    io = ArrayIO(x0, x1, a, b)
    X0 = io.tensor(x0, "x0", min_ndim=2)
    X1 = io.tensor(x1, "x1", min_ndim=2)
    if X0.shape[1:] != X1.shape[1:]:
        raise ValueError(f"x1 must have shape (m, {', '.join(map(str, X0.shape[1:]))}) to match "
                         f"x0, got {tuple(X1.shape)}")
    X0, X1 = X0.reshape(X0.shape[0], -1), X1.reshape(X1.shape[0], -1)
    n, m = X0.shape[0], X1.shape[0]
    aw = _check_weights(io, a, "a", n)
    bw = _check_weights(io, b, "b", m)
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 1 <= float(p) < math.inf:
        raise ValueError(f"p must be a real number >= 1, got {p!r}")
    p = float(p)
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    if isinstance(tol, str) and tol == "auto":
        tol = 1e-9 if X0.dtype == torch.float64 else 1e-5
    elif tol is not None:
        tol = check_positive(tol, "tol")
    if method == "partial":
        if mass is None:
            raise ValueError("method='partial' needs mass, the transported fraction in (0, 1]")
        mass = _check_mass(mass)
    elif mass is not None:
        raise ValueError(f"mass is used only by method='partial', got mass={mass} with "
                         f"method={method!r}")
    if reg is not None:
        if method not in ("sinkhorn", "partial"):
            raise ValueError(f"reg is used only by 'sinkhorn' and 'partial', got reg={reg} with "
                             f"method={method!r}")
        reg = check_positive(reg, "reg")
    X0d, X1d = X0.detach(), X1.detach()
    plan = src = tgt = w = None
    if method == "sliced":
        src, tgt, w, cost = _sliced(X0d, X1d, aw, bw, p, n_projections, projections, seed, beta)
    elif method == "exact":
        C = _ground_cost(X0d, X1d, p)
        src, tgt, w = _exact(C, aw, bw, solver)
    elif method == "partial" and reg is None:
        C = _ground_cost(X0d, X1d, p)
        src, tgt, w = _partial_exact(C, aw, bw, mass)
    else:  # dense entropic plans stay differentiable in the points (unrolled sweeps)
        C = _ground_cost(X0, X1, p)
        reg = _DEFAULT_REG if reg is None else reg
        if method == "sinkhorn":
            plan, it, err = _sinkhorn_log(C, None if aw is None else aw.log(),
                                          None if bw is None else bw.log(), reg, max_iter, tol)
        else:
            plan, it, err = _partial_entropic(C, aw, bw, mass, reg, max_iter, tol)
        if tol is not None and not err < tol:
            warnings.warn(f"Sinkhorn stopped after {it} sweeps with a row-marginal L1 error of "
                          f"{err:.3g} > tol={tol:g}; raise max_iter or reg", RuntimeWarning,
                          stacklevel=2)
        cost = (plan * C).sum()
        total = plan.sum()
    if src is not None:
        if method != "sliced":
            cost = (w * C[src, tgt]).sum()
        total = w.sum()
        if dense:
            plan = torch.zeros(n * m, dtype=w.dtype, device=w.device).index_add_(
                0, src * m + tgt, w).reshape(n, m)
    return Coupling(io.out(src), io.out(tgt), io.out(w), io.out(plan), io.out(cost),
                    io.out(total), method, (n, m))
