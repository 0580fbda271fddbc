"""POT's ``ot.lp`` names that mintlab implements, with POT's signatures.

``import mintlab.pot as ot`` and ``ot.lp.emd``, ``ot.lp.wasserstein_1d``,
``ot.lp.wasserstein_circle``, ... take POT's arguments (positional order,
keyword names, defaults, trailing batch axes) and return what POT returns,
computed by mintlab's kernels (:mod:`mintlab.transport`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..transport import exact as _exact
from ..transport import line as _line
from ..typing import ArrayLike
from ._compat import (
    as_array,
    as_pot,
    assertion_compatible,
    columns,
    first_to_last,
    last_to_first,
    pot_weights,
)

__all__ = [
    "emd",
    "emd2",
    "wasserstein_1d",
    "binary_search_circle",
    "wasserstein_circle",
    "semidiscrete_wasserstein2_unif_circle",
    "linear_circular_ot",
    "linear_circular_embedding",
]


# ------------------------------------------------------------------ exact LP
def _dense_cost(M):
    import scipy.sparse

    if scipy.sparse.issparse(M) or (isinstance(M, torch.Tensor) and M.is_sparse):
        raise TypeError("M must be a dense array: mintlab.pot.emd/emd2 do not take sparse cost "
                        "matrices; call POT's ot.emd / ot.emd2 for those")
    return as_array(M, "M")


@assertion_compatible
def emd(a: ArrayLike, b: ArrayLike, M: ArrayLike, numItermax: int = 100000, log: bool = False,
        center_dual: bool = True, numThreads: int = 1, check_marginals: bool = True,
        potentials_init: tuple[ArrayLike, ArrayLike] | None = None) -> Any:
    r"""Exact OT plan, as POT's ``ot.emd``; runs :func:`mintlab.transport.emd`.

    .. math::
        \gamma^\star = \operatorname{argmin}_{\gamma \ge 0,\ \gamma 1 = a,\ \gamma^T 1 = b}
        \langle \gamma, M \rangle

    Parameters
    ----------
    a : array of shape (n,) or empty list
        Source weights (uniform if empty).
    b : array of shape (m,) or empty list
        Target weights (uniform if empty).
    M : array of shape (n, m)
        Dense cost matrix (sparse matrices are POT-only).
    numItermax, log, center_dual, numThreads, check_marginals, potentials_init
        As in POT.

    Returns
    -------
    array of shape (n, m), or ``(plan, log)`` with POT's keys ``cost``, ``u``,
    ``v``, ``warning``, ``result_code``. Mismatched shapes or masses raise an
    error that is both a ``ValueError`` and an ``AssertionError`` (POT asserts).

    Examples
    --------
    >>> import numpy as np
    >>> emd([], [], np.array([[0.0, 1.0], [1.0, 0.0]]))
    array([[0.5, 0. ],
           [0. , 0.5]])
    """
    a, b, M = as_array(a, "a"), as_array(b, "b"), _dense_cost(M)
    out = _exact.emd(a, b, M, numItermax=numItermax, log=log, center_dual=center_dual,
                     numThreads=numThreads, check_marginals=check_marginals,
                     potentials_init=potentials_init)
    if log:
        plan, lg = out
        return as_pot(plan, M), lg
    return as_pot(out, M)


@assertion_compatible
def emd2(a: ArrayLike, b: ArrayLike, M: ArrayLike, processes: int = 1, numItermax: int = 100000,
         log: bool = False, return_matrix: bool = False, center_dual: bool = True,
         numThreads: int = 1, check_marginals: bool = True,
         potentials_init: tuple[ArrayLike, ArrayLike] | None = None) -> Any:
    r"""Exact OT cost, as POT's ``ot.emd2``; runs :func:`mintlab.transport.emd2`.

    .. math:: W(a, b) = \min_{\gamma \in U(a, b)} \langle \gamma, M \rangle

    Differentiable for torch input (gradients: the plan for ``M``, the centred
    duals for ``a`` and ``b``), as in POT. ``b`` of shape ``(m, k)`` gives
    ``k`` costs. See :func:`emd` for the arguments.

    Returns
    -------
    float, array of shape (k,), or ``(cost, log)``.

    Examples
    --------
    >>> import numpy as np
    >>> float(emd2([], [], np.array([[0.0, 1.0], [1.0, 0.0]])))
    0.0
    """
    a, b, M = as_array(a, "a"), as_array(b, "b"), _dense_cost(M)
    out = _exact.emd2(a, b, M, processes=processes, numItermax=numItermax, log=log,
                      return_matrix=return_matrix, center_dual=center_dual,
                      numThreads=numThreads, check_marginals=check_marginals,
                      potentials_init=potentials_init)
    if log and isinstance(out, list):  # several targets: one (cost, log) pair each
        return [(as_pot(value, M), lg) for value, lg in out]
    if log:
        value, lg = out
        return as_pot(value, M), lg
    return as_pot(out, M)


# ------------------------------------------------------------------------ 1D
def _check_p(p):
    if not p >= 1:
        from ._compat import POTInputError

        raise POTInputError(f"The OT loss is only valid for p>=1, {p} was given")


def wasserstein_1d(u_values: ArrayLike, v_values: ArrayLike, u_weights: ArrayLike | None = None,
                   v_weights: ArrayLike | None = None, p: float = 1, require_sort: bool = True,
                   return_plans: bool | str = False) -> Any:
    r"""``W_p^p`` between 1D measures batched over TRAILING axes, as POT's ``ot.wasserstein_1d``.

    .. math:: W_p^p(\mu, \nu) = \int_0^1 |F_\mu^{-1}(t) - F_\nu^{-1}(t)|^p \, dt

    Runs :func:`mintlab.transport.wasserstein_1d` on the axes moved to the
    front (POT's column ``[:, k]`` is mintlab's row ``[k, :]``).

    Parameters
    ----------
    u_values : array of shape (n, ...)
    v_values : array of shape (m, ...)
    u_weights, v_weights : arrays of shape (n, ...) / (m, ...) or (n,) / (m,), optional
    p : float, default 1
    require_sort : bool, default True
        ``False``: the atoms are taken as sorted along axis 0.
    return_plans : bool or "coo_tuple", default False
        Also return the plan of every column (a list of sparse ``(n, m)``
        matrices, or of ``PlanTuple(data, rows, cols)``).

    Returns
    -------
    array of shape (...), or ``(cost, plans)``

    Examples
    --------
    >>> import numpy as np
    >>> float(wasserstein_1d(np.array([0.0, 1.0]), np.array([1.0, 2.0]), p=2))
    1.0
    """
    _check_p(p)
    u_values, v_values = as_array(u_values, "u_values"), as_array(v_values, "v_values")
    u_weights, v_weights = as_array(u_weights, "u_weights"), as_array(v_weights, "v_weights")
    uw = pot_weights(u_weights, u_values)
    vw = pot_weights(v_weights, v_values)
    out = _line.wasserstein_1d(first_to_last(u_values), first_to_last(v_values),
                               first_to_last(uw), first_to_last(vw), p=p,
                               require_sort=require_sort, return_plans=return_plans)
    if return_plans is not False:
        cost, plans = out
        return as_pot(cost, u_values, v_values), plans
    return as_pot(out, u_values, v_values)


# -------------------------------------------------------------------- circle
def _circle_values(values, name):
    """POT's circle samples ``(n, ...)`` as columns, non-empty."""
    x = columns(as_array(values, name))
    if x.ndim == 0:
        raise ValueError(f"{name} must be an array of samples (n,) or (n, k), got a scalar")
    if x.shape[0] == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(x.shape)}")
    return x


def _circle_weights(weights, values, name, values_name):
    """POT's circle weights: ``(n,)`` shared by every column, or one column per sample column."""
    w = as_array(weights, name)
    if w is None:
        return None
    w = columns(w) if w.ndim > 1 else w
    if w.ndim == 0 or w.shape[0] != values.shape[0]:
        raise ValueError(f"{name} must have one weight per sample of {values_name} "
                         f"({values.shape[0]}), got shape {tuple(w.shape)}")
    return pot_weights(w, values, name, values_name)


def _circle_pair(u_values, v_values, u_weights, v_weights):
    """POT's circle inputs as mintlab rows ``(k, n)``; columns must agree in number."""
    u = _circle_values(u_values, "u_values")
    v = _circle_values(v_values, "v_values")
    if u.shape[1:] != v.shape[1:]:
        raise ValueError(f"u and v must have the same number of batches (columns), got "
                         f"{u.shape[1:]} and {v.shape[1:]}")
    uw = _circle_weights(u_weights, u, "u_weights", "u_values")
    vw = _circle_weights(v_weights, v, "v_weights", "v_values")
    return u, first_to_last(u), first_to_last(v), first_to_last(uw), first_to_last(vw)


def _circle_cost_at(theta, us, cu, vs, cv, p):
    """``int_0^1 |F_u^{-1}(t) - (F_v^{-1}(t + theta) lifted)|^p dt`` for sorted rows, per row."""
    tau = cv - theta[..., None] + torch.floor(theta[..., None] - cv) + 1.0
    levels, _ = torch.sort(torch.cat([cu, tau], -1), dim=-1)
    mass = torch.diff(levels, dim=-1, prepend=torch.zeros_like(levels[..., :1]))
    mid = levels - 0.5 * mass
    iu = torch.searchsorted(cu.contiguous(), mid.contiguous()).clamp_(max=us.shape[-1] - 1)
    s = mid + theta[..., None]
    fl = torch.floor(s)
    iv = torch.searchsorted(cv.contiguous(), (s - fl).contiguous()).clamp_(max=vs.shape[-1] - 1)
    d = torch.gather(us, -1, iu) - torch.gather(vs, -1, iv) - fl
    return (mass * d.abs().pow(p)).sum(-1)


def _optimal_theta(u, v, uw, vw, p):
    """A minimiser in [-1, 1] of the (convex) shift objective, by golden-section search."""
    u = torch.as_tensor(u).detach().cpu().double().remainder(1.0)
    v = torch.as_tensor(v).detach().cpu().double().remainder(1.0)
    us, iu = torch.sort(u, -1)
    vs, iv = torch.sort(v, -1)
    wu = torch.full_like(u, 1.0 / u.shape[-1]) if uw is None else \
        torch.as_tensor(uw).detach().cpu().double().expand(u.shape)
    wv = torch.full_like(v, 1.0 / v.shape[-1]) if vw is None else \
        torch.as_tensor(vw).detach().cpu().double().expand(v.shape)
    wu = torch.gather(wu / wu.sum(-1, keepdim=True), -1, iu)
    wv = torch.gather(wv / wv.sum(-1, keepdim=True), -1, iv)
    cu, cv = torch.cumsum(wu, -1), torch.cumsum(wv, -1)
    lo = torch.full(u.shape[:-1], -1.0, dtype=torch.float64)
    hi = torch.ones_like(lo)
    r = (5 ** 0.5 - 1) / 2
    for _ in range(80):
        a = hi - r * (hi - lo)
        b = lo + r * (hi - lo)
        left = _circle_cost_at(a, us, cu, vs, cv, p) <= _circle_cost_at(b, us, cu, vs, cv, p)
        hi = torch.where(left, b, hi)
        lo = torch.where(left, lo, a)
    return 0.5 * (lo + hi)


@assertion_compatible
def binary_search_circle(u_values: ArrayLike, v_values: ArrayLike,
                         u_weights: ArrayLike | None = None, v_weights: ArrayLike | None = None,
                         p: float = 1, Lm: int = 10, Lp: int = 10, tm: float = -1, tp: float = 1,
                         eps: float = 1e-6, require_sort: bool = True, log: bool = False) -> Any:
    r"""``W_p^p`` on the circle, as POT's ``ot.binary_search_circle``.

    .. math:: W_p^p(\mu, \nu) = \min_\theta \int_0^1 |F_\mu^{-1}(t) - (F_\nu - \theta)^{-1}(t)|^p dt

    Runs :func:`mintlab.transport.circle_wasserstein`, which finds the optimal
    shift to machine precision, so ``Lm``, ``Lp``, ``tm``, ``tp`` and ``eps``
    (POT's search settings) are accepted and not needed; ``require_sort`` is
    ignored (the atoms are always sorted). Values are taken modulo 1; a 1D
    sample is one column.

    Parameters
    ----------
    u_values : array of shape (n, ...)
    v_values : array of shape (m, ...)
    u_weights, v_weights : optional weights
    p : float, default 1
    log : bool, default False
        Also return ``{"optimal_theta": theta}`` (one shift per column, found
        by a golden-section search of the convex shift objective).

    Returns
    -------
    array of shape (k,) (``k`` columns), or ``(cost, log)``

    Examples
    --------
    >>> import numpy as np
    >>> np.round(binary_search_circle(np.array([0.05]), np.array([0.95])), 6)
    array([0.1])
    """
    _check_p(p)
    u, ut, vt, uwt, vwt = _circle_pair(u_values, v_values, u_weights, v_weights)
    value = as_pot(_line.circle_wasserstein(ut, vt, uwt, vwt, p=p), u)
    if not log:
        return value
    theta = _optimal_theta(ut, vt, uwt, vwt, float(p))
    if isinstance(u, torch.Tensor):
        theta = theta.to(dtype=u.dtype, device=u.device)
    else:
        theta = theta.numpy().astype(np.asarray(value).dtype)
    return value, {"optimal_theta": theta}


@assertion_compatible
def wasserstein_circle(u_values: ArrayLike, v_values: ArrayLike,
                       u_weights: ArrayLike | None = None, v_weights: ArrayLike | None = None,
                       p: float = 1, Lm: int = 10, Lp: int = 10, tm: float = -1, tp: float = 1,
                       eps: float = 1e-6, require_sort: bool = True) -> Any:
    r"""``W_p^p`` on the circle, as POT's ``ot.wasserstein_circle`` (exact for every ``p``).

    .. math:: W_p^p(\mu, \nu) = \min_\theta \int_0^1 |F_\mu^{-1}(t) - (F_\nu - \theta)^{-1}(t)|^p dt

    Same as :func:`binary_search_circle` without ``log``; runs
    :func:`mintlab.transport.circle_wasserstein`.

    Examples
    --------
    >>> import numpy as np
    >>> u = np.array([[0.2, 0.5, 0.8]]); v = np.array([[0.4, 0.5, 0.7]])
    >>> np.round(wasserstein_circle(u.T, v.T), 6)
    array([0.1])
    """
    return binary_search_circle(u_values, v_values, u_weights, v_weights, p=p)


def semidiscrete_wasserstein2_unif_circle(u_values: ArrayLike,
                                          u_weights: ArrayLike | None = None) -> Any:
    r"""``W_2^2`` between samples on the circle and the uniform measure, in closed form.

    As POT's ``ot.semidiscrete_wasserstein2_unif_circle``. For sorted atoms
    ``x_i`` of weights ``w_i`` (cumulative ``c_i``, ``c_0 = 0``) and mean
    ``m``, the optimal shift of the quantile function is ``m - 1/2``, and

    .. math::
        W_2^2 = \sum_i w_i x_i^2 - m^2 + \sum_i w_i x_i (1 - w_i - 2 c_{i-1}) + \tfrac{1}{12}

    (expand ``int_0^1 (F^{-1}(t) - t - m + 1/2)^2 dt`` piece by piece).

    Parameters
    ----------
    u_values : array of shape (n, ...)
        Values in [0, 1) (taken modulo 1); a 1D sample is one column.
    u_weights : array of shape (n, ...) or (n,), optional

    Returns
    -------
    array of shape (k,) for ``k`` columns

    Examples
    --------
    >>> import numpy as np
    >>> np.round(semidiscrete_wasserstein2_unif_circle(np.array([0.0, 0.5])), 6)
    array([0.020833])
    """
    from .._validation import ArrayIO, check_weights

    u0 = _circle_values(u_values, "u_values")
    uw0 = as_array(u_weights, "u_weights")
    io = ArrayIO(u0, uw0)
    x = io.tensor(first_to_last(u0), "u_values", min_ndim=1).remainder(1.0)
    if uw0 is None:
        w = torch.full_like(x, 1.0 / x.shape[-1])
    else:
        w = io.tensor(first_to_last(_circle_weights(uw0, u0, "u_weights", "u_values")),
                      "u_weights", min_ndim=1)
        if w.shape != x.shape:
            raise ValueError(f"u_weights must match u_values, got shapes {tuple(uw0.shape)} "
                             f"and {tuple(u0.shape)}")
        w = check_weights(w, "u_weights")
    x, order = torch.sort(x, -1)
    w = torch.gather(w, -1, order)
    c_prev = torch.cumsum(w, -1) - w
    mean = (w * x).sum(-1)
    value = (w * x * x).sum(-1) - mean**2 + (w * x * (1 - w - 2 * c_prev)).sum(-1) + 1.0 / 12
    return as_pot(io.out(value), u0)


@assertion_compatible
def linear_circular_ot(u_values: ArrayLike, v_values: ArrayLike | None = None,
                       u_weights: ArrayLike | None = None,
                       v_weights: ArrayLike | None = None) -> Any:
    r"""Linear circular OT ``LCOT_2^2``, as POT's ``ot.linear_circular_ot``.

    .. math:: LCOT_2^2(\mu, \nu) = \int_0^1 d_{S^1}(\hat\mu(t), \hat\nu(t))^2 \, dt

    Runs :func:`mintlab.transport.linear_circular_ot`, which integrates
    exactly; POT 0.9.7 averages over 100 grid points and its quantile search
    lands one atom too far, so its values differ slightly. ``v_values=None``
    compares with the uniform measure.

    Parameters
    ----------
    u_values : array of shape (n, ...)
    v_values : array of shape (m, ...), optional
    u_weights, v_weights : optional weights

    Returns
    -------
    array of shape (k,) for ``k`` columns

    Examples
    --------
    >>> import numpy as np
    >>> np.round(linear_circular_ot(np.array([0.1, 0.2]), np.array([0.3, 0.4])), 6)
    array([0.044])
    """
    if v_values is None:
        u = _circle_values(u_values, "u_values")
        uw = _circle_weights(u_weights, u, "u_weights", "u_values")
        return as_pot(_line.linear_circular_ot(first_to_last(u), None, first_to_last(uw)), u)
    u, ut, vt, uwt, vwt = _circle_pair(u_values, v_values, u_weights, v_weights)
    return as_pot(_line.linear_circular_ot(ut, vt, uwt, vwt), u)


def linear_circular_embedding(x: ArrayLike, u_values: ArrayLike,
                              u_weights: ArrayLike | None = None,
                              require_sort: bool = True) -> Any:
    r"""LCOT embedding ``(m, ...)``, as POT's ``ot.lp.solver_circle.linear_circular_embedding``.

    .. math:: \hat\mu(x) = F_\mu^{-1}(x - \textstyle\int z\, d\mu(z) + \tfrac12) - x \pmod 1

    Runs :func:`mintlab.transport.linear_circular_embedding` (the exact
    quantile; POT 0.9.7 evaluates it one atom too far). The atoms are always
    sorted, so ``require_sort`` changes nothing for sorted input.

    Examples
    --------
    >>> import numpy as np
    >>> linear_circular_embedding(np.array([0.0, 0.5]), np.array([0.25, 0.75]))
    array([[0.25],
           [0.75]])
    """
    u = _circle_values(u_values, "u_values")
    uw = _circle_weights(u_weights, u, "u_weights", "u_values")
    emb = _line.linear_circular_embedding(as_array(x, "x"), first_to_last(u), first_to_last(uw))
    return as_pot(last_to_first(emb), u)
