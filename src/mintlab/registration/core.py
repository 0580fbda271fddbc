"""Point-cloud registration driven by (partial) optimal transport (``opt-registration``).

:func:`register` alternates two steps, as ICP does:

1. **correspondence**: where should each (currently transformed) source
   point go? ``"nn"`` (ICP: the nearest target point), ``"ot"`` (full-mass
   optimal transport, every point matched), ``"opt"`` (exact optimal partial
   transport, an LP: points whose best match costs more than ``2 * penalty``
   are left unmatched, which is what makes it robust to outliers and missing
   parts) or ``"sliced_opt"`` (the ``sopt`` paper's sliced optimal partial
   transport: exact 1D partial matchings along blocks of orthonormal
   directions, whose displacements add up to a displacement in space);
2. **transform**: the weighted least-squares fit of the deformation model to
   those correspondences (unmatched points have weight 0): ``"rigid"``
   (weighted Kabsch), ``"similarity"`` (rigid + scale), ``"affine"``,
   ``"tps"`` (thin-plate spline, regularised) or ``"gaussian"`` (a smooth
   displacement field on Gaussian kernels, as in coherent point drift).

The partial-transport penalty is annealed from a scale of the clouds'
spread down to ``penalty`` so that far-apart clouds can first be brought
together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._validation import (
    ArrayIO,
    check_array,
    check_choice,
    check_int,
    check_nonnegative,
    check_positive,
    check_weights,
)
from ..embed._checks import check_seed
from ..typing import Array, ArrayLike

__all__ = ["register", "RegistrationResult", "fit_transform_model", "correspondences"]

TRANSFORMS = ("rigid", "similarity", "affine", "tps", "gaussian")
CORRESPONDENCES = ("nn", "ot", "opt", "sliced_opt")


# ------------------------------------------------------------------ transforms
@dataclass(frozen=True)
class LinearModel:
    """``x -> x @ A.T + t`` (rigid, similarity and affine fits)."""

    A: np.ndarray
    t: np.ndarray

    def __call__(self, X):
        return X @ self.A.T + self.t


@dataclass(frozen=True)
class KernelModel:
    """``x -> x @ A.T + t + sum_k phi(|x - c_k|) w_k`` (thin-plate spline / Gaussian field)."""

    A: np.ndarray
    t: np.ndarray
    centers: np.ndarray
    weights: np.ndarray
    kernel: str
    width: float

    def __call__(self, X):
        return X @ self.A.T + self.t + _kernel(X, self.centers, self.kernel, self.width) \
            @ self.weights


def _kernel(X, C, kind, width):
    r = np.sqrt(np.maximum(((X[:, None, :] - C[None]) ** 2).sum(-1), 0.0))
    if kind == "gaussian":
        return np.exp(-(r / width) ** 2 / 2)
    if X.shape[1] == 2:  # thin-plate spline kernel in the plane
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(r > 0, r * r * np.log(r), 0.0)
    return -r  # the biharmonic kernel in 3D (and a polyharmonic one elsewhere)


def _weighted_linear(X, Y, w, kind):
    wsum = w.sum()
    mx, my = (w @ X) / wsum, (w @ Y) / wsum
    Xc, Yc = X - mx, Y - my
    if kind == "affine":
        Xw = Xc * w[:, None]
        A = np.linalg.lstsq(Xw.T @ Xc + 1e-12 * np.eye(X.shape[1]), Xw.T @ Yc, rcond=None)[0].T
        return LinearModel(A, my - mx @ A.T)
    H = (Xc * w[:, None]).T @ Yc  # d x d cross-covariance
    U, S, Vt = np.linalg.svd(H)
    D = np.eye(X.shape[1])
    D[-1, -1] = np.sign(np.linalg.det(Vt.T @ U.T)) or 1.0  # a rotation, not a reflection
    R = Vt.T @ D @ U.T
    s = 1.0
    if kind == "similarity":
        s = float((S * np.diag(D)).sum() / max((w * (Xc ** 2).sum(1)).sum(), 1e-300))
    A = s * R
    return LinearModel(A, my - mx @ A.T)


def fit_transform_model(X: ArrayLike, Y: ArrayLike, w: ArrayLike, kind: str = "rigid",
                        regularization: float = 1e-3,
                        width: float | None = None) -> LinearModel | KernelModel:
    """The deformation of ``kind`` that best maps ``X`` to ``Y`` in weighted least squares.

    Parameters
    ----------
    X, Y : arrays of shape (n, d)
    w : array of shape (n,)
        Non-negative weights (0: the point does not count).
    kind : {"rigid", "similarity", "affine", "tps", "gaussian"}
    regularization : float
        Smoothness weight of the kernel models (bending energy for
        ``"tps"``, RKHS norm for ``"gaussian"``), relative to the weighted
        data term.
    width : float, optional
        Gaussian kernel width (default: a quarter of the source's spread).

    Returns
    -------
    callable
        The fitted model, ``model(points) -> points``.
    """
    kind = check_choice(kind, "kind", TRANSFORMS)
    X = _points(X, "X")
    Y = _points(Y, "Y")
    if X.shape != Y.shape:
        raise ValueError(f"Y must have shape {X.shape} to match X, got {Y.shape}")
    wt = check_array(w.detach().cpu() if hasattr(w, "detach") else w, "w", ndim=1)
    if wt.shape[0] != X.shape[0]:
        raise ValueError(f"w must have shape ({X.shape[0]},) (one weight per point of X), got "
                         f"{tuple(wt.shape)}")
    w = check_weights(wt.to(torch.float64), "w", normalize=False).numpy()
    regularization = check_positive(regularization, "regularization")
    if width is not None:
        width = check_positive(width, "width")
    return _fit_model(X, Y, w, kind, regularization, width)


def _points(x: Any, name: str) -> np.ndarray:
    """A finite, non-empty point cloud ``(n, d)`` as a float64 numpy array."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
    t = check_array(x, name, ndim=2)
    if 0 in t.shape:
        raise ValueError(f"{name} must be a non-empty point cloud (n, d), got shape "
                         f"{tuple(t.shape)}")
    return np.asarray(t.numpy(), dtype=np.float64)


def _fit_model(X, Y, w, kind, regularization, width):
    """:func:`fit_transform_model` on checked float64 arrays."""
    if kind in ("rigid", "similarity", "affine"):
        return _weighted_linear(X, Y, w, kind)
    n, d = X.shape
    if width is None:
        width = 0.25 * float(np.sqrt(((X - X.mean(0)) ** 2).sum(1).mean()))
    kernel = "gaussian" if kind == "gaussian" else "tps"
    # affine part first (weighted), then a kernel correction on the residuals
    lin = _weighted_linear(X, Y, w, "affine")
    R = Y - lin(X)
    K = _kernel(X, X, kernel, width)
    lam = regularization * max(float(w.mean()), 1e-12) * n
    if kernel == "gaussian":
        # minimise sum_i w_i |K_i W - R_i|^2 + lam tr(W^T K W)  ->  (diag(w) K + lam I) W = w R
        W = np.linalg.solve(w[:, None] * K + lam * np.eye(n), w[:, None] * R)
        return KernelModel(lin.A, lin.t, X.copy(), W, kernel, width)
    # thin-plate spline: [K + lam W^-1, P; P^T, 0] [W; a] = [Y; 0] with P = [1, X]
    P = np.c_[np.ones(n), X]
    inv_w = 1.0 / np.maximum(w, 1e-6)
    top = np.c_[K + lam * np.diag(inv_w), P]
    bottom = np.c_[P.T, np.zeros((d + 1, d + 1))]
    sol = np.linalg.lstsq(np.r_[top, bottom], np.r_[Y, np.zeros((d + 1, d))], rcond=None)[0]
    W, aff = sol[:n], sol[n:]
    return KernelModel(aff[1:].T, aff[0], X.copy(), W, kernel, width)


# ------------------------------------------------------------- correspondences
def correspondences(Y: ArrayLike, X_t: ArrayLike, method: str, penalty: float | None = None,
                    n_frames: int = 8,
                    rng: np.random.Generator | None = None) -> tuple[Array, Array]:
    """Where each point of ``Y`` should move, and how much that match counts.

    Returns ``(targets (n, d), weights (n,))`` for ``method`` in
    ``"nn"``, ``"ot"``, ``"opt"``, ``"sliced_opt"`` (see the module docstring);
    ``penalty`` is the partial-transport penalty for squared distances (a
    pair is matched only if it costs less than ``2 * penalty``).
    """
    method = check_choice(method, "method", CORRESPONDENCES)
    io = ArrayIO(Y, X_t)
    Yn, Xn = _points(Y, "Y"), _points(X_t, "X_t")
    if Yn.shape[1] != Xn.shape[1]:
        raise ValueError(f"X_t must have shape (m, {Yn.shape[1]}) to match Y, got {Xn.shape}")
    if method in ("opt", "sliced_opt"):
        penalty = check_positive(penalty, "penalty")
    n_frames = check_int(n_frames, "n_frames", minimum=1)
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy random Generator or None, got {type(rng).__name__}")
    targets, weights = _correspondences(Yn, Xn, method, penalty, n_frames, rng)
    return (io.out(torch.as_tensor(targets, dtype=io.dtype, device=io.device)),
            io.out(torch.as_tensor(weights, dtype=io.dtype, device=io.device)))


def _correspondences(Y, X_t, method, penalty, n_frames, rng):
    """:func:`correspondences` on checked float64 arrays."""
    if method == "sliced_opt" and rng is None:
        rng = np.random.default_rng()
    n, d = Y.shape
    if method == "nn":
        from scipy.spatial import cKDTree

        _, j = cKDTree(X_t).query(Y)
        return X_t[j], np.ones(n)
    if method in ("ot", "opt"):
        import ot

        M = ot.dist(Y, X_t)
        if method == "ot":
            from ..transport.exact import emd

            G = emd(None, None, M, numItermax=10_000_000) * n
        else:
            from ..transport.exact import partial_wasserstein_lp

            G = partial_wasserstein_lp(np.ones(n), np.ones(len(X_t)), M, penalty).plan
        mass = G.sum(1)
        targets = np.where(mass[:, None] > 1e-12, (G @ X_t) / np.maximum(mass, 1e-12)[:, None],
                           Y)
        return targets, np.clip(mass, 0.0, 1.0)
    from ..transport.line import partial_wasserstein_1d
    from ..transport.slicers import orthonormal_directions

    theta = orthonormal_directions(d, n_frames * d, int(rng.integers(2**31))).numpy()  # (d, L)
    u, v = (Y @ theta).T, (X_t @ theta).T  # (L, n), (L, m)
    # a residual r projects to about |r|^2 / d per direction: the 1D penalty is penalty / d
    res = partial_wasserstein_1d(u, v, penalty=penalty / d, p=2)
    a = np.asarray(res.assignment)  # (L, n)
    matched = a >= 0
    delta = np.where(matched, np.take_along_axis(v, np.maximum(a, 0), 1) - u, 0.0)  # (L, n)
    disp = (delta.T @ theta.T) / n_frames  # sum over each frame's directions, mean over frames
    weights = matched.mean(0)
    return Y + disp, weights


# -------------------------------------------------------------------- register
@dataclass(frozen=True)
class RegistrationResult:
    """Result of :func:`register`.

    Attributes
    ----------
    transformed : array of shape (n, d)
        The source points after the fitted deformation.
    transform : callable
        The fitted deformation (applies to any points of the source space).
    weights : array of shape (n,)
        Weight of each source point in the last fit (0: left unmatched).
    n_iter : int
    converged : bool
        Whether the mean movement of the points fell below ``tol``.
    """

    transformed: Any
    transform: Any
    weights: Any
    n_iter: int
    converged: bool


def register(X_s: ArrayLike, X_t: ArrayLike, *, transform: str = "rigid",
             correspondence: str = "sliced_opt", penalty: float | None = None,
             n_iter: int = 100, n_frames: int = 8, regularization: float = 1e-3,
             width: float | None = None, anneal: float = 0.9, tol: float = 1e-6,
             seed: int | np.random.Generator | None = None,
             progress: bool = False) -> RegistrationResult:
    """Register the point cloud ``X_s`` onto ``X_t`` (``opt-registration``).

    Parameters
    ----------
    X_s : array of shape (n, d)
        Points to move.
    X_t : array of shape (m, d)
        Target points (may hold outliers and miss parts of ``X_s``).
    transform : {"rigid", "similarity", "affine", "tps", "gaussian"}
    correspondence : {"sliced_opt", "opt", "ot", "nn"}
        See the module docstring. ``"nn"`` with a rigid model is ICP.
    penalty : float, optional
        Final partial-transport penalty for squared distances (points whose
        match would cost more than ``2 * penalty`` stay unmatched). Default:
        ``2 * (median nearest-neighbour distance in X_t)^2``. The penalty
        starts at the squared spread of the clouds and shrinks by ``anneal``
        per iteration down to this value.
    n_iter : int
    n_frames : int
        Blocks of ``d`` orthonormal directions per ``"sliced_opt"`` step.
    regularization, width : float
        Smoothness and kernel width of ``"tps"`` / ``"gaussian"``.
    tol : float
        Stop when the mean movement of the points is below ``tol`` times the
        target's spread (after the penalty has reached its final value).
    seed : int or None
        Directions of ``"sliced_opt"``.
    progress : bool
        A progress bar over iterations.

    Returns
    -------
    RegistrationResult

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 2))
    >>> c, s = np.cos(0.4), np.sin(0.4)
    >>> Y = X @ np.array([[c, -s], [s, c]]).T + [1.0, -0.5]
    >>> res = register(X, Y, transform="rigid", correspondence="opt", n_iter=40)
    >>> bool(np.abs(res.transformed - Y).max() < 1e-6)
    True
    """
    io = ArrayIO(X_s, X_t)
    Xs = io.tensor(X_s, "X_s", ndim=2).detach().cpu().numpy().astype(np.float64)
    d = Xs.shape[1]
    Xt = io.tensor(X_t, "X_t", ndim=2, shape=(None, d)).detach().cpu().numpy().astype(np.float64)
    transform = check_choice(transform, "transform", TRANSFORMS)
    correspondence = check_choice(correspondence, "correspondence", CORRESPONDENCES)
    n_iter = check_int(n_iter, "n_iter", minimum=1)
    n_frames = check_int(n_frames, "n_frames", minimum=1)
    regularization = check_positive(regularization, "regularization")
    if width is not None:
        width = check_positive(width, "width")
    anneal = check_positive(anneal, "anneal")
    if not 0.0 < anneal <= 1.0:
        raise ValueError(f"anneal must lie in (0, 1], got {anneal}")
    tol = check_nonnegative(tol, "tol")
    if seed is not None and not isinstance(seed, np.random.Generator):
        check_seed(seed, numpy_ok=False, torch_ok=False)
    spread = float(np.sqrt(((Xt - Xt.mean(0)) ** 2).sum(1).mean())) or 1.0
    if penalty is None:
        from scipy.spatial import cKDTree

        nn = cKDTree(Xt).query(Xt, k=2)[0][:, 1]
        penalty = 2.0 * float(np.median(nn)) ** 2
    final = check_positive(penalty, "penalty")
    start = max(final, float(((Xs.mean(0) - Xt.mean(0)) ** 2).sum()) + 2 * spread ** 2)
    rng = np.random.default_rng(seed)
    Y = Xs.copy()
    model, w, converged, it = None, np.ones(len(Xs)), False, 0
    it_range = range(1, n_iter + 1)
    if progress:
        from tqdm.auto import tqdm
        it_range = tqdm(it_range, desc="registration", unit="iter")
    for it in it_range:
        lam = max(final, start * anneal ** (it - 1))
        targets, w = _correspondences(Y, Xt, correspondence, lam, n_frames, rng)
        if w.sum() <= 1e-12:
            break  # nothing matched: keep the current fit
        model = _fit_model(Xs, targets, w, transform, regularization, width)
        Y_new = model(Xs)
        move = float(np.sqrt(((Y_new - Y) ** 2).sum(1).mean()))
        Y = Y_new
        if lam <= final and move < tol * spread:
            converged = True
            break
    if model is None:
        model = LinearModel(np.eye(d), np.zeros(d))

    def out(x):
        return io.out(torch.as_tensor(x, dtype=io.dtype, device=io.device))

    return RegistrationResult(out(Y), model, out(w), it, converged)
