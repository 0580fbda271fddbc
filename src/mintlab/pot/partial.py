"""POT's ``ot.partial`` names that mintlab implements, with POT's signatures."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..transport import gromov as _gromov
from ..transport import line as _line
from ..typing import ArrayLike
from ._compat import POTInputError, as_array, as_pot, check_count, check_real

__all__ = ["partial_wasserstein_1d", "partial_gromov_wasserstein", "partial_gromov_wasserstein2"]


def _flat(x, name):
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else as_array(x, name)
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if not (arr.ndim == 1 or (arr.ndim == 2 and arr.shape[1] == 1)):
        raise POTInputError(f"partial_wasserstein_1d should only be used with monodimensional "
                            f"data: {name} must have shape (n,) or (n, 1), got {arr.shape}")
    if arr.size == 0:
        raise POTInputError(f"{name} must not be empty, got shape {arr.shape}")
    flat = arr.reshape(-1).astype(np.float64)
    if not np.isfinite(flat).all():
        raise POTInputError(f"{name} must be finite, got {int(np.isnan(flat).sum())} NaN and "
                            f"{int(np.isinf(flat).sum())} infinite value(s)")
    return flat


def partial_wasserstein_1d(x_a: ArrayLike, x_b: ArrayLike,
                           n_transported_samples: int | None = None,
                           p: float = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""The path of 1D partial transport of unit Diracs, as POT's ``ot.partial`` function.

    .. math::
        C(k) = \min_{\text{matchings } \gamma,\ |\gamma| = k} \sum_{(i, j) \in \gamma}
        |x_i - y_j|^p, \qquad k = 1, \dots, K

    Runs :func:`mintlab.transport.partial_wasserstein_1d_path`, which gives
    every ``C(k)`` in one sweep (``O((n + m) log(n + m))`` after the prefix
    sums): the marginal costs are ``C(k) - C(k-1)`` and the indices are the
    points in the order in which the optimal matchings take them up.

    Parameters
    ----------
    x_a : array of shape (n,) or (n, 1)
    x_b : array of shape (m,) or (m, 1)
    n_transported_samples : int, optional
        ``K``; default ``min(n, m)``.
    p : float, default 1

    Returns
    -------
    indices_x : int array of shape (K,)
    indices_y : int array of shape (K,)
    marginal_costs : array of shape (K,)
        ``np.cumsum(marginal_costs)[k - 1]`` is ``C(k)``.

    Examples
    --------
    >>> import numpy as np
    >>> ind_x, ind_y, costs = partial_wasserstein_1d(np.array([5.0, -2.0, 4.0]),
    ...                                              np.array([-1.0, 1.0, 3.0]),
    ...                                              n_transported_samples=2)
    >>> ind_x, ind_y, float(np.sum(costs))
    (array([1, 2]), array([0, 2]), 2.0)
    """
    xa, xb = _flat(x_a, "x_a"), _flat(x_b, "x_b")
    n, m = xa.shape[0], xb.shape[0]
    K = min(n, m) if n_transported_samples is None else \
        min(check_count(n_transported_samples, "n_transported_samples", minimum=0), n, m)
    p = check_real(p, "p")
    if p <= 0:
        raise POTInputError(f"p must be positive, got {p}")
    path = getattr(_line, "partial_wasserstein_1d_path", None)
    if path is not None:
        res = path(xa, xb, p=p)
        return (np.asarray(res.u_indices[:K], dtype=np.int64),
                np.asarray(res.v_indices[:K], dtype=np.int64),
                np.asarray(res.marginal_costs[:K], dtype=np.float64))
    return _by_mass(xa, xb, K, p)


def _by_mass(xa, xb, K, p):
    """The path by one exact mass-constrained solve per ``k`` (when no path kernel exists)."""
    order_x, order_y, seen_x, seen_y = [], [], set(), set()
    costs = np.zeros(K)
    for k in range(1, K + 1):
        res = _line.partial_wasserstein_1d(xa, xb, p=p, n_transported=k)
        assign = np.asarray(res.assignment)
        costs[k - 1] = float(res.transport_cost)
        xs = np.nonzero(assign >= 0)[0]
        for i in xs[np.argsort(np.abs(xa[xs] - xb[assign[xs]]), kind="stable")]:
            if i not in seen_x:
                seen_x.add(i)
                order_x.append(i)
        for j in np.sort(assign[xs]):
            if j not in seen_y:
                seen_y.add(j)
                order_y.append(j)
    return (np.asarray(order_x[:K], dtype=np.int64), np.asarray(order_y[:K], dtype=np.int64),
            np.diff(costs, prepend=0.0))


# ------------------------------------------------------------ partial GW
def _masses(x, name, C, C_name):
    """POT's masses ``p`` / ``q``: finite, non-negative, one per row of their cost matrix."""
    if x is None:
        raise TypeError(f"{name} must be an array of masses, got None")
    t = torch.as_tensor(x).detach().cpu()
    if t.dtype == torch.bool or t.is_complex():
        raise TypeError(f"{name} must hold real numbers, got dtype {t.dtype}")
    n = C.shape[0] if getattr(C, "ndim", 0) >= 1 else None
    if t.ndim != 1 or (n is not None and t.shape[0] != n):
        raise POTInputError(f"{name} must have shape ({n},) to match {C_name}, got "
                            f"{tuple(t.shape)}")
    total = float(np.asarray(t).sum())  # numpy's pairwise sum, as POT's check takes it
    t = t.double()
    if not bool(torch.isfinite(t).all()):
        raise POTInputError(f"{name} must be finite, got {int(torch.isnan(t).sum())} NaN and "
                            f"{int(torch.isinf(t).sum())} infinite value(s)")
    if bool((t < 0).any()):
        raise POTInputError(f"{name} must be non-negative, got minimum {float(t.min()):.4g}")
    return total


def _pgw(C1, C2, p, q, m, G0, numItermax):
    C1, C2, p, q, G0 = (as_array(x, name) for x, name in
                        ((C1, "C1"), (C2, "C2"), (p, "p"), (q, "q"), (G0, "G0")))
    numItermax = check_count(numItermax, "numItermax")
    total_p, total_q = _masses(p, "p", C1, "C1"), _masses(q, "q", C2, "C2")
    total = min(total_p, total_q)
    if m is None:
        m = total
    else:
        m = check_real(m, "m")
        if m < 0:
            raise ValueError("Problem infeasible. Parameter m should be greater than 0.")
        if m > total:
            raise ValueError("Problem infeasible. Parameter m should lower or equal than "
                             f"min(|a|_1, |b|_1): got m={m:.6g}, the sum of p {total_p:.6g} "
                             f"and of q {total_q:.6g}.")
    if m == 0:  # the empty plan is the only one
        zeros = torch.zeros(C1.shape[0], C2.shape[0], dtype=torch.float64)
        plan = zeros.to(C1) if isinstance(C1, torch.Tensor) else zeros.numpy()
        return C1, plan, plan.sum() * 0
    res = _gromov.partial_gromov_wasserstein(C1, C2, p, q, G0=G0, max_iter=numItermax,
                                             mass=float(m))
    return C1, as_pot(res.plan, C1), as_pot(res.gw_cost / 2, C1)


def partial_gromov_wasserstein(C1: ArrayLike, C2: ArrayLike, p: ArrayLike, q: ArrayLike,
                               m: float | None = None, nb_dummies: int = 1,
                               G0: ArrayLike | None = None, thres: float = 1,
                               numItermax: int = 1000, tol: float = 1e-7, log: bool = False,
                               verbose: bool = False, **kwargs: Any) -> Any:
    r"""Partial GW plan with a fixed transported mass, as POT's same-named function.

    .. math::
        \gamma^\star = \operatorname{argmin}_{\gamma \ge 0,\ \gamma 1 \le p,\
        \gamma^T 1 \le q,\ |\gamma| = m}
        \tfrac12 \sum_{ijkl} (C_1[i, k] - C_2[j, l])^2 \gamma_{ij} \gamma_{kl}

    Runs :func:`mintlab.transport.partial_gromov_wasserstein` with
    ``mass=m`` (Frank–Wolfe from POT's start, the scaled product plan, or
    ``G0``); ``numItermax`` is its ``max_iter``. ``nb_dummies``, ``thres``,
    ``tol``, ``verbose`` (settings of POT's solver) are accepted and unused:
    mintlab's solver stops on its Frank–Wolfe gap.

    Parameters
    ----------
    C1 : array of shape (n, n)
    C2 : array of shape (m, m)
    p : array of shape (n,)
    q : array of shape (m,)
    m : float, optional
        Transported mass, in ``[0, min(|p|, |q|)]`` (default: the maximum).
    log : bool, default False
        Also return ``{"err": [], "partial_gw_dist": loss}`` (POT's keys; POT
        lists its iterates' changes under ``err``, mintlab records none).

    Returns
    -------
    array of shape (n, m), or ``(plan, log)``

    Examples
    --------
    >>> import numpy as np
    >>> C = np.array([[0.0, 1.0, 3.0], [1.0, 0.0, 2.0], [3.0, 2.0, 0.0]])
    >>> G = partial_gromov_wasserstein(C, C[::-1, ::-1], np.ones(3) / 3, np.ones(3) / 3, m=0.5)
    >>> round(float(G.sum()), 12)
    0.5
    """
    C1, plan, loss = _pgw(C1, C2, p, q, m, G0, numItermax)
    if log:
        return plan, {"err": [], "partial_gw_dist": loss}
    return plan


def partial_gromov_wasserstein2(C1: ArrayLike, C2: ArrayLike, p: ArrayLike, q: ArrayLike,
                                m: float | None = None, nb_dummies: int = 1,
                                G0: ArrayLike | None = None, thres: float = 1,
                                numItermax: int = 1000, tol: float = 1e-7,
                                log: bool = False, verbose: bool = False, **kwargs: Any) -> Any:
    r"""Partial GW loss with a fixed transported mass, as POT's same-named function.

    The loss ``1/2 sum (C1[i, k] - C2[j, l])^2 gamma_ij gamma_kl`` of the plan
    of :func:`partial_gromov_wasserstein` (same arguments); with ``log``,
    ``(loss, log)`` where ``log["T"]`` is the plan.

    Examples
    --------
    >>> import numpy as np
    >>> C = np.array([[0.0, 1.0, 3.0], [1.0, 0.0, 2.0], [3.0, 2.0, 0.0]])
    >>> w = np.ones(3) / 3
    >>> float(partial_gromov_wasserstein2(C, C[::-1, ::-1], w, w, m=0.5)) < 1e-12
    True
    """
    C1, plan, loss = _pgw(C1, C2, p, q, m, G0, numItermax)
    if log:
        return loss, {"err": [], "partial_gw_dist": loss, "T": plan}
    return loss
