"""POT's ``ot.sliced`` names that mintlab implements, with POT's signatures.

Random directions come from mintlab's generators (:func:`mintlab._random.make_generator`:
``seed`` may be an int, a numpy ``RandomState`` / ``Generator``, a
``torch.Generator`` or None), so for the same seed they are not the numbers
POT draws; :func:`get_random_projections` with a seed returns exactly the
directions the distances use with that seed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..transport import plans as _plans
from ..transport import sliced as _core_sliced
from ..transport import slicers as _slicers
from ..transport.line import PlanTuple
from ..typing import ArrayLike, SeedLike
from ._compat import (
    POTInputError,
    as_array,
    as_pot,
    assertion_compatible,
    check_count,
    check_real,
)

__all__ = [
    "get_random_projections",
    "get_projections_sphere",
    "sliced_wasserstein_distance",
    "max_sliced_wasserstein_distance",
    "linear_sliced_wasserstein_sphere",
    "sliced_plans",
    "min_sliced_transport_plan",
    "expected_sliced_plan",
]


def _kind(type_as, backend):
    """``(torch?, dtype, device)`` of the arrays to return, from POT's ``type_as``/``backend``."""
    if isinstance(type_as, torch.Tensor):
        dtype = type_as.dtype if type_as.is_floating_point() else torch.get_default_dtype()
        return True, dtype, type_as.device
    if backend is not None and str(backend) == "torch":
        return True, torch.get_default_dtype(), torch.device("cpu")
    return False, torch.float64, torch.device("cpu")


def _to_kind(t, is_torch, type_as):
    if is_torch:
        return t
    arr = t.cpu().numpy()
    if isinstance(type_as, np.ndarray) and np.issubdtype(type_as.dtype, np.floating):
        arr = arr.astype(type_as.dtype)
    return arr


def get_random_projections(d: int, n_projections: int, seed: SeedLike = None,
                           backend: Any | None = None, type_as: Any | None = None) -> Any:
    r"""``n_projections`` uniform directions of ``S^{d-1}``, shape ``(d, n_projections)``.

    As POT's ``ot.sliced.get_random_projections``; runs
    :func:`mintlab.transport.random_directions`. Returns torch on
    ``type_as``'s device and dtype when ``type_as`` is a tensor (or
    ``backend`` is POT's torch backend), numpy otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> P = get_random_projections(5, 100, seed=0)
    >>> P.shape, bool(np.allclose((P**2).sum(0), 1.0))
    ((5, 100), True)
    """
    is_torch, dtype, device = _kind(type_as, backend)
    theta = _slicers.random_directions(check_count(d, "d"),
                                       check_count(n_projections, "n_projections"), seed,
                                       dtype=dtype,
                                       device=device)
    return _to_kind(theta, is_torch, type_as)


def get_projections_sphere(d: int, n_projections: int, seed: SeedLike = None,
                           backend: Any | None = None, type_as: Any | None = None) -> Any:
    r"""``n_projections`` uniform orthonormal frames of ``R^d``, shape ``(n_projections, d, 2)``.

    As POT's ``ot.sliced.get_projections_sphere``; runs
    :func:`mintlab.transport.random_frames`.

    Examples
    --------
    >>> import numpy as np
    >>> U = get_projections_sphere(5, 10, seed=0)
    >>> bool(np.allclose(np.einsum("nij,nik->njk", U, U), np.eye(2)))
    True
    """
    is_torch, dtype, device = _kind(type_as, backend)
    U = _slicers.random_frames(check_count(d, "d"), check_count(n_projections, "n_projections"),
                               2, seed, dtype=dtype, device=device)
    return _to_kind(U, is_torch, type_as)


def _clouds(X_s, X_t):
    X_s, X_t = as_array(X_s, "X_s"), as_array(X_t, "X_t")
    if X_s.ndim != 2 or X_t.ndim != 2:
        raise ValueError(f"X_s and X_t must be 2-dimensional, got shapes {tuple(X_s.shape)} and "
                         f"{tuple(X_t.shape)}")
    if X_s.shape[1] != X_t.shape[1]:
        raise ValueError(f"X_s and X_t must have the same number of dimensions, got "
                         f"{X_s.shape[1]} and {X_t.shape[1]}")
    return X_s, X_t


def _sliced(X_s, X_t, a, b, n_projections, p, projections, seed, log, scaler, reduce):
    """POT's sliced distance: ``reduce`` (mean or max) of the slice costs, to the power 1/p."""
    X_s, X_t = _core_sliced._apply_scaler(*_clouds(X_s, X_t), scaler)
    a, b = as_array(a, "a"), as_array(b, "b")
    if projections is None:
        projections = get_random_projections(X_s.shape[1], n_projections, seed, type_as=X_s)
    value, lg = _core_sliced.sliced_wasserstein_distance(X_s, X_t, a=a, b=b, p=p,
                                                         projections=as_array(projections,
                                                                              "projections"),
                                                         log=True)
    emds = lg["projected_emds"]
    if reduce == "max":
        value = emds.max() ** (1.0 / p)
    value = as_pot(value, X_s, X_t)
    if not log:
        return value
    return value, {"projections": projections, "projected_emds": as_pot(emds, X_s, X_t)}


def sliced_wasserstein_distance(X_s: ArrayLike, X_t: ArrayLike, a: ArrayLike | None = None,
                                b: ArrayLike | None = None, n_projections: int = 50, p: float = 2,
                                projections: ArrayLike | None = None, seed: SeedLike = None,
                                log: bool = False, scaler: Any | None = None) -> Any:
    r"""Sliced Wasserstein distance ``SW_p``, as POT's ``ot.sliced_wasserstein_distance``.

    .. math::
        SW_p(\mu, \nu) = \Big(\frac1L \sum_{l=1}^L
        W_p^p(\theta_l \# \mu, \theta_l \# \nu)\Big)^{1/p}

    Runs :func:`mintlab.transport.sliced_wasserstein_distance` on the
    directions of :func:`get_random_projections` (or ``projections``).

    Parameters
    ----------
    X_s : array of shape (n, d)
    X_t : array of shape (m, d)
    a, b : arrays of shape (n,), (m,), optional
    n_projections : int, default 50
    p : float, default 2
    projections : array of shape (d, L), optional
    seed : int, np.random.RandomState, np.random.Generator, torch.Generator or None
    log : bool, default False
        Also return ``{"projections": (d, L), "projected_emds": (L,)}`` (POT's keys).
    scaler : None, object with ``.transform()``, or callable

    Returns
    -------
    float, or ``(float, log)``

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.RandomState(0).randn(20, 2)
    >>> float(sliced_wasserstein_distance(X, X, seed=np.random.RandomState(0)))
    0.0
    """
    return _sliced(X_s, X_t, a, b, n_projections, p, projections, seed, log, scaler, "mean")


def max_sliced_wasserstein_distance(X_s: ArrayLike, X_t: ArrayLike, a: ArrayLike | None = None,
                                    b: ArrayLike | None = None, n_projections: int = 50,
                                    p: float = 2, projections: ArrayLike | None = None,
                                    seed: SeedLike = None, log: bool = False,
                                    scaler: Any | None = None) -> Any:
    r"""Max-sliced Wasserstein over the drawn directions, as POT's same-named function.

    .. math:: \max_{l} W_p(\theta_l \# \mu, \theta_l \# \nu)

    POT maximises over the ``n_projections`` random (or given) directions,
    used as they are (not normalised); so does this wrapper, from the slice
    costs of :func:`mintlab.transport.sliced_wasserstein_distance`
    (:func:`mintlab.transport.max_sliced_wasserstein_distance` goes on to
    optimise the direction by gradient ascent). Arguments and ``log`` keys
    as in :func:`sliced_wasserstein_distance`.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.zeros((4, 2)); Y = X + np.array([3.0, 0.0])
    >>> round(float(max_sliced_wasserstein_distance(X, Y, projections=np.eye(2))), 6)
    3.0
    """
    return _sliced(X_s, X_t, a, b, n_projections, p, projections, seed, log, scaler, "max")


def linear_sliced_wasserstein_sphere(X_s: ArrayLike, X_t: ArrayLike | None = None,
                                     a: ArrayLike | None = None, b: ArrayLike | None = None,
                                     n_projections: int = 50, projections: ArrayLike | None = None,
                                     seed: SeedLike = None, log: bool = False) -> Any:
    r"""Linear spherical sliced OT, as POT's ``ot.linear_sliced_wasserstein_sphere``.

    .. math:: LSSOT_2(\mu, \nu) = \Big(\frac1L \sum_l LCOT_2^2(P^{U_l}_\# \mu,
       P^{U_l}_\# \nu)\Big)^{1/2}

    Runs :func:`mintlab.transport.linear_sliced_wasserstein_sphere` on the
    frames of :func:`get_projections_sphere` (or ``projections``, shape
    ``(L, d, 2)``), with each circle's LCOT integrated exactly (POT 0.9.7
    uses a 100-point grid and a quantile one atom off, so values differ
    slightly). ``X_t=None`` compares with the uniform measure on the sphere
    (this path fails in POT 0.9.7).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.RandomState(0).randn(20, 3)
    >>> X /= np.linalg.norm(X, axis=1, keepdims=True)
    >>> float(linear_sliced_wasserstein_sphere(X, X, seed=0))
    0.0
    """
    Xs_: Any = as_array(X_s, "X_s")
    Xt_: Any = X_t
    if Xt_ is not None:
        Xs_, Xt_ = _clouds(Xs_, Xt_)
    a, b = as_array(a, "a"), as_array(b, "b")
    if projections is None:
        if Xs_.ndim != 2:
            raise ValueError(f"X_s must be 2-dimensional, got shape {tuple(Xs_.shape)}")
        projections = get_projections_sphere(Xs_.shape[1], n_projections, seed, type_as=Xs_)
    value, lg = _core_sliced.linear_sliced_wasserstein_sphere(Xs_, Xt_, a=a, b=b,
                                                         projections=as_array(projections,
                                                                              "projections"),
                                                         log=True)
    value = as_pot(value, Xs_)
    if not log:
        return value
    return value, {"projections": projections,
                   "projected_emds": as_pot(lg["projected_emds"], Xs_)}


# ---------------------------------------------------------------- plans
_METRICS = ("minkowski", "euclidean", "cityblock", "sqeuclidean")


def _ground_p(metric, p):
    """mintlab's exponent ``q`` (ground ``||x - y||^q``) for POT's metric, or None if not such."""
    if metric not in _METRICS:
        raise POTInputError("Sliced plans work only with metrics from the following list: "
                            f"{list(_METRICS)}, got {metric!r}")
    if metric == "sqeuclidean":
        return 2.0
    if metric == "euclidean" or (metric == "minkowski" and p == 2):
        return 1.0
    return None


def _ground(diff, metric, p):
    """POT's ``dist(x, y, metric, p)`` of the pairs whose differences are ``diff`` (k, d)."""
    if metric == "sqeuclidean":
        return (diff * diff).sum(-1)
    if metric == "euclidean":
        return (diff * diff).sum(-1).sqrt()
    if metric == "cityblock":
        return diff.abs().sum(-1)
    return diff.abs().pow(p).sum(-1).pow(1.0 / p)


def _plan_inputs(X_s, X_t, a, b, projections, n_projections, seed):
    X_s, X_t = _clouds(X_s, X_t)
    a, b = as_array(a, "a"), as_array(b, "b")
    if projections is None:
        if n_projections is None:
            raise POTInputError("n_projections must be specified if projections is None")
        projections = get_random_projections(X_s.shape[1], n_projections, seed, type_as=X_s)
    return X_s, X_t, a, b, projections


def _lifted_cost(X_s, X_t, plan_tuple, metric, p):
    Xs = torch.as_tensor(X_s)
    Xt = torch.as_tensor(X_t).to(Xs.dtype)
    rows = torch.as_tensor(plan_tuple.rows).to(Xs.device)
    cols = torch.as_tensor(plan_tuple.cols).to(Xs.device)
    data = torch.as_tensor(plan_tuple.data).to(Xs.dtype)
    return (data * _ground(Xs[rows] - Xt[cols], metric, p)).sum()


def _as_kind(t, like):
    return t if isinstance(like, torch.Tensor) else as_pot(t.detach().cpu().numpy(), like)


@assertion_compatible
def sliced_plans(X_s: ArrayLike, X_t: ArrayLike, a: ArrayLike | None = None,
                 b: ArrayLike | None = None, metric: str | None = "sqeuclidean", p: float = 1,
                 projections: ArrayLike | None = None, n_projections: int | None = None,
                 seed: SeedLike = None, batch_size: int | None = None,
                 log: bool = False) -> Any:
    r"""The lifted 1D optimal plan of every slice and its cost, as POT's ``ot.sliced.sliced_plans``.

    .. math:: C_l = \sum_{ij} \Lambda_{\theta_l}(\gamma_{\theta_l})_{ij} \, c(x_i, y_j)

    Plans from :func:`mintlab.transport.wasserstein_1d` (``return_plans="coo_tuple"``);
    ``c`` is POT's ``dist`` for ``metric`` (and ``p`` for ``"minkowski"``).
    ``batch_size`` is accepted and unused.

    Returns
    -------
    plans : list of ``PlanTuple(data, rows, cols)``, one per slice
    costs : array of shape (L,)
    log : dict with ``X_projection``, ``Y_projection``, ``projections`` (if ``log``)

    Examples
    --------
    >>> import numpy as np
    >>> plans, costs = sliced_plans(np.array([[0.0], [1.0]]), np.array([[1.0], [0.0]]),
    ...                             projections=np.ones((1, 1)))
    >>> float(costs[0])
    0.0
    """
    _ground_p(metric, p)
    Xs_, Xt_, a, b, proj_matrix = _plan_inputs(X_s, X_t, a, b, projections, n_projections,
                                                seed)
    Xp = Xs_ @ proj_matrix
    Yp = Xt_ @ proj_matrix
    from .lp import wasserstein_1d

    _, plans = wasserstein_1d(Xp, Yp, a, b, p=2, return_plans="coo_tuple")
    costs = _as_kind(torch.stack([_lifted_cost(Xs_, Xt_, pl, metric, p) for pl in plans]), Xs_)
    plans = [PlanTuple(*pl) for pl in plans]
    if log:
        return plans, costs, {"X_projection": Xp, "Y_projection": Yp, "projections": proj_matrix}
    return plans, costs


def _assemble(plans, weights, n, m, dense, like):
    """``sum_l weights_l plans_l`` as a dense or sparse ``(n, m)`` array of ``like``'s kind."""
    data = torch.cat([torch.as_tensor(pl.data) * w for pl, w in zip(plans, weights, strict=True)])
    rows = torch.cat([torch.as_tensor(pl.rows) for pl in plans])
    cols = torch.cat([torch.as_tensor(pl.cols) for pl in plans])
    if dense:
        plan = torch.zeros(n * m, dtype=data.dtype, device=data.device)
        plan = plan.index_add(0, (rows * m + cols).to(data.device), data).reshape(n, m)
        return _as_kind(plan, like)
    if isinstance(like, torch.Tensor):
        return torch.sparse_coo_tensor(torch.stack([rows, cols]), data, (n, m),
                                       check_invariants=True)
    import scipy.sparse

    return scipy.sparse.coo_array((data.detach().cpu().numpy(),
                                   (rows.cpu().numpy(), cols.cpu().numpy())), shape=(n, m))


@assertion_compatible
def min_sliced_transport_plan(X_s: ArrayLike, X_t: ArrayLike, a: ArrayLike | None = None,
                              b: ArrayLike | None = None, projections: ArrayLike | None = None,
                              metric: str = "sqeuclidean", p: float = 2,
                              n_projections: int | None = None, seed: SeedLike = None,
                              batch_size: int | None = None, dense: bool = True,
                              log: bool = False) -> Any:
    r"""The cheapest lifted slice plan, as POT's ``ot.min_sliced_transport_plan``.

    .. math:: \gamma = \Lambda_{\theta^\star}(\gamma_{\theta^\star}), \quad
       \theta^\star = \operatorname{argmin}_l C_l

    For Euclidean powers (``"sqeuclidean"``, ``"euclidean"``) the slice
    costs and plan come from :func:`mintlab.transport.expected_sliced_plan`;
    other metrics use the slice plans of :func:`sliced_plans`. For a learned
    slicer see :func:`mintlab.transport.min_sliced_plan`.

    Returns
    -------
    plan : array of shape (n, m) (sparse with ``dense=False``)
    cost : float
    log : dict with ``projections``, ``costs``, ``min_projection``,
        ``X_min_projection``, ``Y_min_projection`` (if ``log``)

    Examples
    --------
    >>> import numpy as np
    >>> plan, cost = min_sliced_transport_plan(np.array([[0.0, 0.0], [1.0, 5.0]]),
    ...                                         np.array([[1.0, 5.0], [0.0, 0.0]]),
    ...                                         projections=np.eye(2))
    >>> plan
    array([[0. , 0.5],
           [0.5, 0. ]])
    """
    q = _ground_p(metric, p)
    Xs_, Xt_, a, b, proj_matrix = _plan_inputs(X_s, X_t, a, b, projections, n_projections,
                                                seed)
    n, m = Xs_.shape[0], Xt_.shape[0]
    if q is None:
        plans, costs = sliced_plans(Xs_, Xt_, a, b, metric, p, proj_matrix)
        k = int(np.argmin(np.asarray(torch.as_tensor(costs).detach().cpu())))
        plan = _assemble([plans[k]], [1.0], n, m, dense, Xs_)
        cost = costs[k]
    else:
        res = _plans.expected_sliced_plan(Xs_, Xt_, a=a, b=b, projections=proj_matrix, p=q,
                                          dense=False)
        costs = as_pot(res.slice_costs, Xs_)
        k = int(np.argmin(np.asarray(torch.as_tensor(res.slice_costs).detach().cpu())))
        one = _plans.expected_sliced_plan(Xs_, Xt_, a=a, b=b,
                                          projections=proj_matrix[:, k:k + 1], p=q, dense=dense)
        plan = as_pot(one.plan, Xs_) if dense else one.plan
        cost = as_pot(one.cost, Xs_)
    if not log:
        return plan, cost
    return plan, cost, {"projections": proj_matrix, "costs": costs,
                        "min_projection": proj_matrix[:, k],
                        "X_min_projection": (Xs_ @ proj_matrix)[:, k],
                        "Y_min_projection": (Xt_ @ proj_matrix)[:, k]}


@assertion_compatible
def expected_sliced_plan(X_s: ArrayLike, X_t: ArrayLike, a: ArrayLike | None = None,
                         b: ArrayLike | None = None, projections: ArrayLike | None = None,
                         metric: str = "sqeuclidean", p: float = 2,
                         n_projections: int | None = None, beta: float = 0.0,
                         seed: SeedLike = None, dense: bool = True,
                         batch_size: int | None = None, log: bool = False) -> Any:
    r"""Expected sliced transport plan, as POT's ``ot.expected_sliced_plan``.

    .. math:: \bar\gamma = \sum_l w_l \Lambda_{\theta_l}(\gamma_{\theta_l}), \quad
       w_l \propto e^{-\beta C_l}

    For Euclidean powers runs :func:`mintlab.transport.expected_sliced_plan`;
    other metrics (as in :func:`sliced_plans`) average the slice plans of
    :func:`sliced_plans`. ``batch_size`` is accepted and unused.

    Returns
    -------
    plan : array of shape (n, m) (sparse with ``dense=False``)
    cost : float
    log : dict with ``projections``, ``costs``, ``G`` (the slice plans as
        ``PlanTuple``), ``weights`` (if ``log``)

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[3.0, 3.0], [1.0, 1.0]]); y = np.array([[2.0, 2.5], [3.0, 2.0]])
    >>> plan, cost = expected_sliced_plan(x, y, projections=np.eye(2))
    >>> float(cost)
    2.625
    """
    q = _ground_p(metric, p)
    beta = check_real(beta, "beta")
    Xs_, Xt_, a, b, proj_matrix = _plan_inputs(X_s, X_t, a, b, projections, n_projections,
                                                seed)
    n, m = Xs_.shape[0], Xt_.shape[0]
    plans = None
    if q is None:
        plans, costs = sliced_plans(Xs_, Xt_, a, b, metric, p, proj_matrix)
        c = torch.as_tensor(costs)
        w = torch.full_like(c, 1.0 / c.shape[0]) if beta == 0 else torch.softmax(-beta * c, 0)
        plan = _assemble(plans, w, n, m, True, Xs_)
        Xs = torch.as_tensor(Xs_)
        cost_matrix = _ground(Xs[:, None, :] - torch.as_tensor(Xt_).to(Xs.dtype)[None], metric,
                              p)
        cost = _as_kind((torch.as_tensor(plan).to(Xs.dtype) * cost_matrix).sum()
                        if beta == 0 else (w * c).sum(), Xs_)
        if not dense:
            plan = _assemble(plans, w, n, m, False, Xs_)
        weights = _as_kind(w, Xs_)
    else:
        res = _plans.expected_sliced_plan(Xs_, Xt_, a=a, b=b, projections=proj_matrix, p=q,
                                          beta=float(beta), dense=dense)
        plan = as_pot(res.plan, Xs_) if dense else res.plan
        cost = as_pot(res.cost, Xs_)
        costs, weights = as_pot(res.slice_costs, Xs_), as_pot(res.slice_weights, Xs_)
    if not log:
        return plan, cost
    if plans is None:
        plans, _ = sliced_plans(Xs_, Xt_, a, b, metric, p, proj_matrix)
    return plan, cost, {"projections": proj_matrix, "costs": costs, "G": plans,
                        "weights": weights}
