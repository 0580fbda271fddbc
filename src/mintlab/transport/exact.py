"""Exact transport by linear programming, on top of POT's network simplex.

These are the oracles of the test suite and the exact variants used by later
embeddings. They are not differentiable: torch input is solved on the CPU in
float64 and returned as torch on the input's device and dtype.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from ot.lp._network_simplex import emd as _pot_emd  # bound once: ``ot.emd`` may be rebound

from .._validation import ArrayIO, check_int, check_nonnegative
from ..typing import ArrayLike

__all__ = ["emd", "emd2", "partial_wasserstein_lp", "ExactPartialTransport"]


def _weights(io, w, name, size):
    """A weight vector, uniform (float64) for None or an empty list as in POT."""
    if w is None or (not isinstance(w, torch.Tensor) and np.size(w) == 0) or (
            isinstance(w, torch.Tensor) and w.numel() == 0):
        # default uniform weights in float64: in float32, n * (1/n) can miss 1 by more than rtol
        return torch.full((size,), 1.0 / size, dtype=torch.float64)
    return io.tensor(w, name, ndim=1)


def _problem(a, b, M, *, normalize: bool, check_marginals: bool = True):
    io = ArrayIO(a, b, M)
    Mt = io.tensor(M, "M", ndim=2)
    n, m = Mt.shape
    at = _weights(io, a, "a", n)
    bt = _weights(io, b, "b", m)
    if at.shape[0] != n:
        raise ValueError(f"a must have shape ({n},) to match M's {n} rows, got {tuple(at.shape)}")
    if bt.shape[0] != m:
        raise ValueError(f"b must have shape ({m},) to match M's {m} columns, "
                         f"got {tuple(bt.shape)}")
    for w, name in ((at.detach(), "a"), (bt.detach(), "b")):
        if bool((w < 0).any()):
            raise ValueError(f"{name} must be non-negative, got minimum {float(w.min()):.4g}")
        if float(w.sum()) <= 0:
            raise ValueError(f"{name} must have a positive sum")
    # the simplex needs C-contiguous float64 arrays (strided views are copied)
    a_np = np.ascontiguousarray(at.detach().cpu().double().numpy())
    b_np = np.ascontiguousarray(bt.detach().cpu().double().numpy())
    if normalize:
        # POT's rule: the totals must agree to 6 decimals (``check_marginals``)
        if check_marginals and not abs(a_np.sum() - b_np.sum()) < 1.5e-6:
            raise ValueError(f"a and b must have the same total mass, got {a_np.sum():.6g} "
                             f"and {b_np.sum():.6g}")
        b_np = b_np * (a_np.sum() / b_np.sum())
    return io, a_np, b_np, np.ascontiguousarray(Mt.detach().cpu().double().numpy())


def _iterations(numItermax, num_itermax, default):
    if num_itermax is not None:
        warnings.warn("num_itermax is deprecated; use numItermax (POT's name)",
                      DeprecationWarning, stacklevel=3)
        numItermax = num_itermax
    if numItermax is None:
        numItermax = default
    return check_int(numItermax, "numItermax", minimum=1)


def _solve(a_np, b_np, M_np, numItermax, center_dual, numThreads, potentials_init):
    """POT's network simplex on float64 numpy data: ``(G, cost, u, v, warning, code)``.

    POT itself warns when ``numItermax`` is reached before optimality.
    """
    if potentials_init is not None:
        potentials_init = tuple(
            x.detach().cpu().double().numpy() if isinstance(x, torch.Tensor)
            else np.asarray(x, dtype=np.float64) for x in potentials_init)
    G, log = _pot_emd(a_np, b_np, M_np, numItermax=numItermax, log=True,
                    center_dual=center_dual, numThreads=numThreads, check_marginals=False,
                    potentials_init=potentials_init)
    return G, float((G * M_np).sum()), log["u"], log["v"], log["warning"], log["result_code"]


def emd(a: ArrayLike, b: ArrayLike, M: ArrayLike, numItermax: int = 1_000_000, log: bool = False,
        center_dual: bool = True, numThreads: int = 1, check_marginals: bool = True,
        potentials_init: tuple[ArrayLike, ArrayLike] | None = None, *,
        num_itermax: int | None = None) -> Any:
    r"""Exact optimal transport plan (POT's network simplex), as POT's ``ot.emd``.

    .. math::
        \gamma^\star = \operatorname{argmin}_{\gamma \ge 0,\ \gamma 1 = a,\ \gamma^T 1 = b}
        \langle \gamma, M \rangle

    Parameters
    ----------
    a : array of shape (n,), None or empty
        Source weights (uniform if None or empty, as in POT).
    b : array of shape (m,), None or empty
        Target weights with the same total as ``a`` (uniform if None or empty);
        rescaled to ``a``'s total.
    M : array of shape (n, m)
        Cost matrix.
    numItermax : int, default 1_000_000
        Maximum number of simplex iterations (POT's default is 100_000); a
        warning says when it is reached.
    log : bool, default False
        Also return a dict with POT's keys: ``cost`` (float), ``u`` (n,), ``v``
        (m,) (dual potentials, arrays of the input's kind), ``warning`` (str or
        None) and ``result_code`` (int).
    center_dual, numThreads, potentials_init
        As in POT (``numThreads`` is a no-op there and here; ``potentials_init``
        is a pair of arrays warm-starting the duals).
    check_marginals : bool, default True
        Refuse totals of ``a`` and ``b`` that differ by 1.5e-6 or more (POT's
        rule); ``False`` only rescales ``b``.
    num_itermax : int, optional
        Deprecated name of ``numItermax``.

    Returns
    -------
    array of shape (n, m)
        The optimal plan (not differentiable); with ``log=True``, ``(plan, log)``.

    Examples
    --------
    >>> import numpy as np
    >>> emd(None, None, np.array([[0.0, 1.0], [1.0, 0.0]]))
    array([[0.5, 0. ],
           [0. , 0.5]])
    """
    numItermax = _iterations(numItermax if num_itermax is None else None, num_itermax,
                             1_000_000)
    io, a_np, b_np, M_np = _problem(a, b, M, normalize=True, check_marginals=check_marginals)
    G, cost, u, v, warning, code = _solve(a_np, b_np, M_np, numItermax, center_dual,
                                          numThreads, potentials_init)
    plan = io.out(torch.as_tensor(G, dtype=io.dtype, device=io.device))
    if not log:
        return plan
    return plan, _log(io, cost, u, v, warning, code)


def _log(io, cost, u, v, warning, code):
    def t(x):
        return io.out(torch.as_tensor(x, dtype=io.dtype, device=io.device))

    return {"cost": cost, "u": t(u), "v": t(v), "warning": warning, "result_code": code}


def emd2(a: ArrayLike, b: ArrayLike, M: ArrayLike, processes: int = 1, numItermax: int = 1_000_000,
         log: bool = False, return_matrix: bool = False, center_dual: bool = True,
         numThreads: int = 1, check_marginals: bool = True,
         potentials_init: tuple[ArrayLike, ArrayLike] | None = None, *,
         num_itermax: int | None = None) -> Any:
    r"""Exact optimal transport cost ``<plan, M>`` (POT's network simplex), as POT's ``ot.emd2``.

    .. math::
        W(a, b) = \min_{\gamma \ge 0,\ \gamma 1 = a,\ \gamma^T 1 = b} \langle \gamma, M \rangle

    Differentiable for torch input, as in POT: the gradient is the plan for
    ``M`` and the centred dual potentials ``u - mean(u)``, ``v - mean(v)``
    for ``a`` and ``b``.

    Parameters
    ----------
    a, b, M, numItermax, center_dual, numThreads, check_marginals, potentials_init
        As in :func:`emd`. ``b`` may also have shape ``(m, k)``: ``k`` target
        histograms, giving ``k`` costs.
    processes : int, default 1
        Accepted for POT compatibility; unused.
    log : bool, default False
        Also return POT's log dict (see :func:`emd`).
    return_matrix : bool, default False
        With ``log``, also put the plan under ``log["G"]``.
    num_itermax : int, optional
        Deprecated name of ``numItermax``.

    Returns
    -------
    array of shape () or (k,)
        The cost; with ``log=True``, ``(cost, log)`` (with several targets, a
        list of ``(cost, log)`` pairs, as POT).

    Examples
    --------
    >>> import numpy as np
    >>> float(emd2(None, None, np.array([[0.0, 1.0], [1.0, 0.0]])))
    0.0
    """
    numItermax = _iterations(numItermax if num_itermax is None else None, num_itermax,
                             1_000_000)
    if b is not None and np.ndim(b) == 2:
        bt = b if isinstance(b, torch.Tensor) else np.asarray(b)
        res = [emd2(a, bt[:, k], M, processes, numItermax, log, return_matrix, center_dual,
                    numThreads, check_marginals, potentials_init)
               for k in range(bt.shape[1])]
        if not log:
            return torch.stack(res) if isinstance(res[0], torch.Tensor) else np.stack(res)
        return res  # as POT: one (cost, log) pair per target
    io = ArrayIO(a, b, M)
    _, a_np, b_np, M_np = _problem(a, b, M, normalize=True, check_marginals=check_marginals)
    G, cost, u, v, warning, code = _solve(a_np, b_np, M_np, numItermax, center_dual,
                                          numThreads, potentials_init)

    def t(x):
        return torch.as_tensor(x, dtype=io.dtype, device=io.device)

    value = t(cost)
    # gradients as in POT: d/dM = plan, d/da = u - mean(u), d/db = v - mean(v)
    for arr, grad in ((a, u - u.mean()), (b, v - v.mean()), (M, G)):
        if isinstance(arr, torch.Tensor) and arr.requires_grad and arr.numel() > 0:
            w = arr.to(io.dtype)
            value = value + ((w - w.detach()) * t(grad)).sum()
    value = io.out(value)
    if not log:
        return value
    out = _log(io, cost, u, v, warning, code)
    if return_matrix:
        out["G"] = io.out(t(G))
    return value, out


@dataclass(frozen=True)
class ExactPartialTransport:
    """Result of :func:`partial_wasserstein_lp`: ``cost`` (penalised objective),
    ``transport_cost``, ``transported`` (mass moved) and the ``plan`` (n, m)."""

    cost: Any
    transport_cost: Any
    transported: Any
    plan: Any


def partial_wasserstein_lp(a: ArrayLike, b: ArrayLike, M: ArrayLike,
                           penalty: float) -> ExactPartialTransport:
    r"""Penalised optimal partial transport solved exactly as one balanced LP.

    .. math::
        \min_{\gamma \ge 0,\ \gamma 1 \le a,\ \gamma^T 1 \le b}
        \langle \gamma, M \rangle + \lambda (|a| - |\gamma|) + \lambda (|b| - |\gamma|)

    solved by adding a dummy point on each side (mass ``|b|`` and ``|a|``) that
    absorbs destroyed and created mass at price ``penalty``, then POT's exact
    network simplex. Weights are not normalised (unbalanced masses allowed).

    Returns
    -------
    ExactPartialTransport

    Examples
    --------
    >>> import numpy as np
    >>> r = partial_wasserstein_lp(np.ones(2), np.ones(1), np.array([[0.5], [9.0]]), penalty=1.0)
    >>> float(r.cost), float(r.transported)
    (1.5, 1.0)
    """
    lam = check_nonnegative(penalty, "penalty")
    if a is None or b is None:
        raise TypeError("a and b must be arrays (the masses are not normalised here)")
    io, a_np, b_np, M_np = _problem(a, b, M, normalize=False)
    n, m = M_np.shape
    big = np.zeros((n + 1, m + 1))
    big[:n, :m] = M_np
    big[:n, m] = lam
    big[n, :m] = lam
    aa = np.r_[a_np, b_np.sum()]
    bb = np.r_[b_np, a_np.sum()]
    G = _pot_emd(aa, bb, big, numItermax=10_000_000)
    plan = G[:n, :m]
    transport = float((plan * M_np).sum())
    mass = float(plan.sum())
    cost = transport + lam * (a_np.sum() - mass) + lam * (b_np.sum() - mass)

    def t(x):
        return torch.as_tensor(x, dtype=io.dtype, device=io.device)

    return ExactPartialTransport(io.out(t(cost)), io.out(t(transport)), io.out(t(mass)),
                                 io.out(t(plan)))
