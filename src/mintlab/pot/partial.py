"""POT's ``ot.partial`` names that mintlab implements, with POT's signatures."""

from __future__ import annotations

import numpy as np
import torch

from ..transport import gromov as _gromov
from ..transport import line as _line
from ._compat import POTInputError, as_array, as_pot

__all__ = ["partial_wasserstein_1d", "partial_gromov_wasserstein", "partial_gromov_wasserstein2"]


def _flat(x, name):
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if not (arr.ndim == 1 or (arr.ndim == 2 and arr.shape[1] == 1)):
        raise POTInputError(f"partial_wasserstein_1d should only be used with monodimensional "
                            f"data: {name} must have shape (n,) or (n, 1), got {arr.shape}")
    return arr.reshape(-1).astype(np.float64)


def partial_wasserstein_1d(x_a, x_b, n_transported_samples=None, p=1):
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
    K = min(n, m) if n_transported_samples is None else min(int(n_transported_samples), n, m)
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
def _pgw(C1, C2, p, q, m, G0, numItermax):
    C1, C2, p, q, G0 = (as_array(x) for x in (C1, C2, p, q, G0))
    total = float(min(np.asarray(torch.as_tensor(p).detach().cpu()).sum(),
                      np.asarray(torch.as_tensor(q).detach().cpu()).sum()))
    if m is None:
        m = total
    elif m < 0:
        raise ValueError("Problem infeasible. Parameter m should be greater than 0.")
    elif m > total:
        raise ValueError("Problem infeasible. Parameter m should lower or equal than "
                         "min(|a|_1, |b|_1).")
    if m == 0:  # the empty plan is the only one
        zeros = torch.zeros(C1.shape[0], C2.shape[0], dtype=torch.float64)
        plan = zeros.to(C1) if isinstance(C1, torch.Tensor) else zeros.numpy()
        return C1, plan, plan.sum() * 0
    res = _gromov.partial_gromov_wasserstein(C1, C2, p, q, G0=G0, max_iter=int(numItermax),
                                             mass=float(m))
    return C1, as_pot(res.plan, C1), as_pot(res.gw_cost / 2, C1)


def partial_gromov_wasserstein(C1, C2, p, q, m=None, nb_dummies=1, G0=None, thres=1,
                               numItermax=1000, tol=1e-7, log=False, verbose=False, **kwargs):
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


def partial_gromov_wasserstein2(C1, C2, p, q, m=None, nb_dummies=1, G0=None, thres=1,
                                numItermax=1000, tol=1e-7, log=False, verbose=False, **kwargs):
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
