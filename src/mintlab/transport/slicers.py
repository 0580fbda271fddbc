"""How to slice: maps that send ``(n, d)`` point clouds to ``L`` lines.

Linear slicing projects on directions (random on the sphere, or orthonormal
frames for lower variance). Generalized slicers (generalized sliced
Wasserstein, Kolouri et al. 2019) replace ``<x, theta>`` by a defining
function ``g(x, theta)``: polynomial, circular or a small network. Every
slicer is a ``torch.nn.Module`` mapping ``(n, d)`` to ``(n, L)``, so the same
object can be evaluated, optimised (max-GSW, min-sliced plans) and reused on
new data.

Spherical slicing (``s3w``) first sends the sphere ``S^{d-1}`` to ``R^{d-1}``
by the stereographic projection, corrected by a radial map ``h`` so that
distances are not distorted near the pole.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import math
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

from .._random import SeedLike, make_generator, rand, randn
from .._validation import ArrayIO, check_finite, check_int, check_positive
from ..typing import Array, ArrayLike, DeviceLike

__all__ = [
    "random_directions",
    "orthonormal_directions",
    "fibonacci_directions",
    "sample_directions",
    "DIRECTION_SCHEMES",
    "random_rotations",
    "LinearSlicer",
    "PolynomialSlicer",
    "CircularSlicer",
    "MLPSlicer",
    "ResidualMLPSlicer",
    "make_slicer",
    "stereographic_projection",
    "spherical_equidistant_map",
    "random_frames",
    "sphere_to_circle",
]


# ----------------------------------------------------------------- directions
def random_directions(d: int, n_projections: int, seed: SeedLike = None, *,
                      dtype: torch.dtype = torch.float64,
                      device: DeviceLike = None) -> torch.Tensor:
    """Directions drawn uniformly on the sphere S^{d-1}, as the columns of a ``(d, L)`` matrix.

    Same layout as POT's ``ot.sliced.get_random_projections``; the same integer
    ``seed`` gives the same directions on every machine.

    Examples
    --------
    >>> theta = random_directions(3, 5, seed=0)
    >>> tuple(theta.shape), [round(float(v), 12) for v in theta.norm(dim=0)]
    ((3, 5), [1.0, 1.0, 1.0, 1.0, 1.0])
    """
    d = check_int(d, "d", minimum=1)
    n_projections = check_int(n_projections, "n_projections", minimum=1)
    g = make_generator(seed)
    theta = randn(d, n_projections, generator=g, dtype=dtype, device=device)
    return theta / theta.norm(dim=0, keepdim=True)


def _haar_orthogonal(k: int, d: int, g: torch.Generator, dtype, device) -> torch.Tensor:
    """``k`` Haar-distributed ``(d, d)`` orthogonal matrices (QR with the sign fix)."""
    z = randn(k, d, d, generator=g, dtype=dtype, device=device)
    q, r = torch.linalg.qr(z)
    signs = torch.sign(torch.diagonal(r, dim1=-2, dim2=-1))
    signs = torch.where(signs == 0, torch.ones_like(signs), signs)
    return q * signs.unsqueeze(-2)


def orthonormal_directions(d: int, n_projections: int, seed: SeedLike = None, *,
                           dtype: torch.dtype = torch.float64,
                           device: DeviceLike = None) -> torch.Tensor:
    """Blocks of ``d`` mutually orthogonal directions, as the columns of a ``(d, L)`` matrix.

    Each block is a Haar-random orthonormal frame, so every column is
    uniform on the sphere (the Monte Carlo estimate stays unbiased) while
    the directions within a block are orthogonal, which lowers the variance
    of sliced estimates. The last block is truncated when ``d`` does not
    divide ``L``.

    Examples
    --------
    >>> theta = orthonormal_directions(3, 3, seed=0)
    >>> bool(torch.allclose(theta.T @ theta, torch.eye(3, dtype=theta.dtype)))
    True
    """
    d = check_int(d, "d", minimum=1)
    n_projections = check_int(n_projections, "n_projections", minimum=1)
    g = make_generator(seed)
    k = -(-n_projections // d)
    frames = _haar_orthogonal(k, d, g, dtype, device)  # (k, d, d), columns orthonormal
    return frames.permute(1, 0, 2).reshape(d, k * d)[:, :n_projections]


_GOLDEN = (1.0 + math.sqrt(5.0)) / 2.0


def fibonacci_directions(d: int, n_projections: int, seed: SeedLike = None, *,
                         randomized: bool = True, dtype: torch.dtype = torch.float64,
                         device: DeviceLike = None) -> torch.Tensor:
    r"""Quasi-Monte Carlo directions on ``S^1`` or ``S^2``, as the columns of a ``(d, L)`` matrix.

    For ``d = 3`` this is the spherical Fibonacci lattice

    .. math:: z_i = 1 - \frac{2i + 1}{L}, \quad \varphi_i = \frac{2\pi i}{\Phi},
       \quad \theta_i = (\sqrt{1 - z_i^2}\cos\varphi_i, \sqrt{1 - z_i^2}\sin\varphi_i, z_i)

    (``Phi`` the golden ratio), whose points cover the sphere far more evenly
    than independent draws, so a sliced estimate of a smooth integrand has
    a smaller error. For ``d = 2`` the lattice is ``L`` equally spaced
    angles over half the circle (``theta`` and ``-theta`` give the same
    slice cost, so the other half would repeat every slice). With
    ``randomized=True`` (default) the whole lattice is turned by one
    Haar-random rotation (for ``d = 2``: a uniform random angle), so
    every column is uniform on the sphere (for ``d = 2`` on the half circle,
    which gives a slice cost the same law) and the estimate is unbiased;
    independent randomized lattices are the replicates from which
    :func:`sample_directions` computes a standard error.

    Parameters
    ----------
    d : {2, 3}
    n_projections : int
        Lattice size ``L``.
    seed : int, numpy or torch generator, or None
        Drives the random rotation (unused when ``randomized=False``).
    randomized : bool, default True

    Returns
    -------
    tensor of shape (d, L)

    References
    ----------
    Nguyen, K., Bariletto, N. and Ho, N. (2024). Quasi-Monte Carlo for 3D
    sliced Wasserstein. ICLR.

    Examples
    --------
    >>> theta = fibonacci_directions(3, 8, seed=0)
    >>> tuple(theta.shape), [round(float(v), 12) for v in theta.norm(dim=0)][:3]
    ((3, 8), [1.0, 1.0, 1.0])
    """
    d = check_int(d, "d", minimum=1)
    if d not in (2, 3):
        raise ValueError(f"fibonacci_directions needs d in (2, 3) (the circle or S^2), got d={d}; "
                         "use orthonormal_directions for other dimensions")
    n = check_int(n_projections, "n_projections", minimum=1)
    g = make_generator(seed) if randomized else None
    return _rotated_lattices(d, [n], g, dtype, device)


def _rotated_lattices(d: int, sizes: list[int], g: torch.Generator | None, dtype,
                      device) -> torch.Tensor:
    """Fibonacci lattices of the given sizes, each turned by its own random rotation.

    All rotations are drawn at once (one batched QR); ``g=None`` leaves the
    lattices unrotated. Returns the lattices side by side, ``(d, sum(sizes))``.
    """
    k = len(sizes)
    if d == 2:
        offsets = rand(k, generator=g) if g is not None else torch.zeros(k, dtype=torch.float64)
        parts = []
        for j, n in enumerate(sizes):
            # half the circle: theta and -theta give the same slice cost
            angle = math.pi * (torch.arange(n, dtype=torch.float64) + offsets[j]) / n
            parts.append(torch.stack([torch.cos(angle), torch.sin(angle)]))
        return torch.cat(parts, 1).to(dtype=dtype, device=device)
    rots = random_rotations(3, k, g, dtype=torch.float64) if g is not None else None
    parts = []
    for j, n in enumerate(sizes):
        i = torch.arange(n, dtype=torch.float64)
        z = 1.0 - (2.0 * i + 1.0) / n
        r = torch.sqrt((1.0 - z * z).clamp_min(0.0))
        phi = 2 * math.pi * i / _GOLDEN
        lattice = torch.stack([r * torch.cos(phi), r * torch.sin(phi), z])  # (3, n)
        parts.append(lattice if rots is None else rots[j] @ lattice)
    return torch.cat(parts, 1).to(dtype=dtype, device=device)


DIRECTION_SCHEMES = ("random", "orthogonal", "qmc")
#: number of independent randomized lattices a fixed ``"qmc"`` budget is split into
_QMC_REPLICATES = 10


def _scheme_block(scheme: str, d: int, n_projections: int | None) -> int:
    """Slices per independent block: 1 (random), ``d`` (orthogonal), a lattice size (qmc).

    ``n_projections=None`` (an adaptive budget) gives lattices of 10 points.
    """
    if scheme == "random":
        return 1
    if scheme == "orthogonal":
        return d
    return 10 if n_projections is None else max(1, -(-n_projections // _QMC_REPLICATES))


def _check_scheme(directions: str, d: int) -> str:
    if not isinstance(directions, str) or directions not in DIRECTION_SCHEMES:
        raise ValueError(f"directions must be one of {list(DIRECTION_SCHEMES)}, got {directions!r}")
    if directions == "qmc" and d not in (2, 3):
        raise ValueError(f"directions='qmc' needs directions in dimension 2 or 3 (a spherical "
                         f"Fibonacci lattice), got dimension {d}; use 'orthogonal' instead")
    return directions


def _draw_directions(scheme: str, d: int, k: int, block: int, g: torch.Generator,
                     dtype, device) -> tuple[torch.Tensor, list[int]]:
    """``k`` directions ``(d, k)`` of one scheme and the sizes of their independent blocks."""
    sizes = [block] * (k // block) + ([k % block] if k % block else [])
    if scheme == "random":
        return random_directions(d, k, g, dtype=dtype, device=device), sizes
    if scheme == "orthogonal":
        return orthonormal_directions(d, k, g, dtype=dtype, device=device), sizes
    return _rotated_lattices(d, sizes, g, dtype, device), sizes


def _orthogonal_frames(d: int, k: int, g: torch.Generator, dtype, device) -> torch.Tensor:
    """``k`` frames ``(k, d, 2)``, in blocks of ``d // 2`` mutually orthogonal planes.

    Each block is cut from one Haar-random orthogonal matrix, so every frame
    is Haar distributed on the Stiefel manifold while the planes of a block
    are orthogonal.
    """
    per = max(1, d // 2)
    m = -(-k // per)
    q = _haar_orthogonal(m, d, g, dtype, device)[..., : 2 * per]  # (m, d, 2 per)
    return q.reshape(m, d, per, 2).permute(0, 2, 1, 3).reshape(m * per, d, 2)[:k]


def sample_directions(
    d: int, n_projections: int, seed: SeedLike = None, *, directions: str = "random",
    dtype=torch.float64, device=None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Directions from one sampling scheme, with the block each belongs to.

    Schemes (the ``directions`` keyword of the sliced estimators):

    * ``"random"``: independent uniform directions; every slice is its own block.
    * ``"orthogonal"``: blocks of ``d`` orthonormal directions, each block a
      Haar-random frame (:func:`orthonormal_directions`); any ``d``.
    * ``"qmc"``: ``d = 2`` or ``3`` only; ``10`` independently rotated
      Fibonacci lattices (:func:`fibonacci_directions`) of ``ceil(L / 10)``
      points each (the last one smaller).

    Every column is uniform on the sphere under each scheme, so a mean over
    slices is unbiased. Slices inside a block are dependent (that is how the
    variance drops), blocks are independent: a standard error must be
    computed from the block means, not from the slices as if independent.

    Returns
    -------
    theta : tensor of shape (d, L)
    block : long tensor of shape (L,)
        Index of the independent block of each direction.

    References
    ----------
    Rowland, M., Hron, J., Tang, Y., Choromanski, K., Sarlos, T. and Weller, A.
    (2019). Orthogonal estimation of Wasserstein distances. AISTATS.

    Examples
    --------
    >>> theta, block = sample_directions(3, 7, seed=0, directions="orthogonal")
    >>> tuple(theta.shape), block.tolist()
    ((3, 7), [0, 0, 0, 1, 1, 1, 2])
    """
    d = check_int(d, "d", minimum=1)
    n_projections = check_int(n_projections, "n_projections", minimum=1)
    scheme = _check_scheme(directions, d)
    block = _scheme_block(scheme, d, n_projections)
    theta, sizes = _draw_directions(scheme, d, n_projections, block, make_generator(seed),
                                    dtype, device)
    ids = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    return theta, ids.to(theta.device)


def random_rotations(d: int, n: int, seed: SeedLike = None, *, dtype: torch.dtype = torch.float64,
                     device: DeviceLike = None) -> torch.Tensor:
    """``n`` rotations drawn from the Haar measure on SO(d), shape ``(n, d, d)``.

    Examples
    --------
    >>> R = random_rotations(3, 4, seed=0)
    >>> [round(float(v), 10) for v in torch.linalg.det(R)]
    [1.0, 1.0, 1.0, 1.0]
    """
    d = check_int(d, "d", minimum=1)
    n = check_int(n, "n", minimum=1)
    g = make_generator(seed)
    q = _haar_orthogonal(n, d, g, dtype, device)
    # flip one column where the determinant is -1: still Haar on SO(d)
    det = torch.linalg.det(q)
    q[..., 0] = q[..., 0] * det.sign().unsqueeze(-1)
    return q


# -------------------------------------------------------------------- slicers
#: True while library code applies a slicer to data it has already checked: the
#: forward pass then skips its finiteness check (no extra pass, no device sync per step).
_CHECKED_INPUT: contextvars.ContextVar[bool] = contextvars.ContextVar("_CHECKED_INPUT",
                                                                       default=False)


@contextlib.contextmanager
def _checked_input() -> Iterator[None]:
    """Apply slicers to inputs already checked for finiteness (internal loops)."""
    token = _CHECKED_INPUT.set(True)
    try:
        yield
    finally:
        _CHECKED_INPUT.reset(token)


class _Slicer(nn.Module):
    """Common input handling: ``(n, d)`` in, ``(n, L)`` out, in the slicer's dtype."""

    in_features: int
    n_projections: int

    def _input(self, X: torch.Tensor) -> torch.Tensor:
        if not isinstance(X, torch.Tensor):
            raise TypeError(f"X must be a torch tensor, got {type(X).__name__}")
        if X.ndim < 2 or X.shape[-1] != self.in_features:
            raise ValueError(
                f"X must have shape (..., n, {self.in_features}) for this slicer, "
                f"got {tuple(X.shape)}"
            )
        if not _CHECKED_INPUT.get():
            check_finite(X, "X")
        ref = next(itertools.chain(self.parameters(), self.buffers()))
        return X.to(dtype=ref.dtype, device=ref.device)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, n_projections={self.n_projections}"


class LinearSlicer(_Slicer):
    """Projections ``<x, theta_l>`` on directions kept on the unit sphere.

    Parameters
    ----------
    d : int
        Dimension of the points.
    n_projections : int
        Number of directions ``L``.
    seed : int, numpy or torch generator, or None
    directions : tensor of shape (d, L), optional
        Initial directions (normalised); overrides ``n_projections`` and ``seed``.
    orthonormal : bool, default False
        Draw orthonormal blocks (:func:`orthonormal_directions`).

    The parameter ``weight`` is unconstrained; the forward pass normalises
    its columns, so gradient steps on it stay on the sphere.

    Examples
    --------
    >>> s = LinearSlicer(3, 4, seed=0)
    >>> tuple(s(torch.ones(10, 3, dtype=torch.float64)).shape)
    (10, 4)
    """

    def __init__(self, d: int, n_projections: int = 50, seed: SeedLike = None, *,
                 directions: ArrayLike | None = None, orthonormal: bool = False,
                 dtype: torch.dtype = torch.float64, device: DeviceLike = None) -> None:
        super().__init__()
        self.in_features = check_int(d, "d", minimum=1)
        if directions is not None:
            io = ArrayIO(directions)
            theta = io.tensor(directions, "directions", ndim=2, shape=(self.in_features, None))
            theta = theta.to(dtype=dtype if not io.is_torch else theta.dtype)
            if device is not None:
                theta = theta.to(device)
            if (theta.norm(dim=0) == 0).any():
                raise ValueError("directions must have non-zero columns")
        else:
            draw = orthonormal_directions if orthonormal else random_directions
            theta = draw(self.in_features, n_projections, seed, dtype=dtype, device=device)
        self.n_projections = theta.shape[1]
        self.weight = nn.Parameter(theta.clone())

    @property
    def directions(self) -> torch.Tensor:
        """The unit directions, shape ``(d, L)``."""
        return self.weight / self.weight.norm(dim=0, keepdim=True)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self._input(X) @ self.directions


def _monomial_exponents(d: int, degree: int) -> torch.Tensor:
    """All exponent vectors of total degree exactly ``degree`` in ``d`` variables."""
    rows = []
    for combo in itertools.combinations_with_replacement(range(d), degree):
        e = [0] * d
        for i in combo:
            e[i] += 1
        rows.append(e)
    return torch.tensor(rows, dtype=torch.long)


class PolynomialSlicer(_Slicer):
    r"""Homogeneous polynomial defining function of odd degree (generalized SW).

    .. math:: g(x, \theta) = \sum_{|\alpha| = k} \theta_\alpha x^\alpha,
       \quad \theta \in S^{N_k - 1}

    With odd ``k`` the generalized Radon transform is injective (Kolouri et
    al. 2019), so GSW with this slicer is a metric.

    Examples
    --------
    >>> s = PolynomialSlicer(2, degree=3, n_projections=5, seed=0)
    >>> tuple(s(torch.ones(7, 2, dtype=torch.float64)).shape)
    (7, 5)
    """

    exponents: torch.Tensor  # (N, d) buffer: exponent vectors of the monomials

    def __init__(self, d: int, degree: int = 3, n_projections: int = 50, seed: SeedLike = None, *,
                 dtype: torch.dtype = torch.float64, device: DeviceLike = None) -> None:
        super().__init__()
        self.in_features = check_int(d, "d", minimum=1)
        self.degree = check_int(degree, "degree", minimum=1)
        if self.degree % 2 == 0:
            raise ValueError(f"degree must be odd (injective transform), got {self.degree}")
        n_projections = check_int(n_projections, "n_projections", minimum=1)
        self.register_buffer("exponents", _monomial_exponents(self.in_features, self.degree)
                             .to(device=device))
        n_mono = self.exponents.shape[0]
        self.n_projections = n_projections
        self.weight = nn.Parameter(random_directions(n_mono, n_projections, seed, dtype=dtype,
                                                     device=device))

    def extra_repr(self) -> str:
        return super().extra_repr() + f", degree={self.degree}"

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        X = self._input(X)
        # (..., n, N) monomials: product over coordinates of x_i ** e_i
        mono = X.unsqueeze(-2).pow(self.exponents.to(X.dtype)).prod(-1)
        return mono @ (self.weight / self.weight.norm(dim=0, keepdim=True))


class CircularSlicer(_Slicer):
    r"""Circular defining function ``g(x, theta) = ||x - r theta||`` (generalized SW).

    Parameters
    ----------
    radius : float, default 1.0
        ``r``; take it of the order of the data's spread.

    Examples
    --------
    >>> s = CircularSlicer(2, n_projections=3, radius=2.0, seed=0)
    >>> tuple(s(torch.zeros(4, 2, dtype=torch.float64)).shape)
    (4, 3)
    """

    def __init__(self, d: int, n_projections: int = 50, radius: float = 1.0, seed: SeedLike = None,
                 *, dtype: torch.dtype = torch.float64, device: DeviceLike = None) -> None:
        super().__init__()
        self.in_features = check_int(d, "d", minimum=1)
        self.n_projections = check_int(n_projections, "n_projections", minimum=1)
        self.radius = check_positive(radius, "radius")
        self.weight = nn.Parameter(random_directions(self.in_features, self.n_projections, seed,
                                                     dtype=dtype, device=device))

    def extra_repr(self) -> str:
        return super().extra_repr() + f", radius={self.radius}"

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        X = self._input(X)
        centres = self.radius * self.weight / self.weight.norm(dim=0, keepdim=True)  # (d, L)
        sq = (X * X).sum(-1, keepdim=True) - 2 * X @ centres + (centres * centres).sum(0)
        # sqrt with a floor: the distance is not differentiable at the centre itself
        return sq.clamp_min(0).add(1e-30).sqrt()


class MLPSlicer(_Slicer):
    """A small network ``R^d -> R^L`` as defining function (one hidden layer, leaky ReLU).

    Examples
    --------
    >>> s = MLPSlicer(3, n_projections=2, hidden=8, seed=0)
    >>> tuple(s(torch.ones(5, 3, dtype=torch.float64)).shape)
    (5, 2)
    """

    def __init__(self, d: int, n_projections: int = 50, hidden: int = 64, seed: SeedLike = None, *,
                 dtype: torch.dtype = torch.float64, device: DeviceLike = None) -> None:
        super().__init__()
        self.in_features = check_int(d, "d", minimum=1)
        self.n_projections = check_int(n_projections, "n_projections", minimum=1)
        hidden = check_int(hidden, "hidden", minimum=1)
        g = make_generator(seed)
        w1 = randn(self.in_features, hidden, generator=g, dtype=dtype, device=device)
        w2 = randn(hidden, self.n_projections, generator=g, dtype=dtype, device=device)
        self.w1 = nn.Parameter(w1 / math.sqrt(self.in_features))
        self.b1 = nn.Parameter(torch.zeros(hidden, dtype=dtype, device=device))
        self.w2 = nn.Parameter(w2 / math.sqrt(hidden))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        X = self._input(X)
        return nn.functional.leaky_relu(X @ self.w1 + self.b1, 0.2) @ self.w2


class ResidualMLPSlicer(_Slicer):
    r"""A linear slicer plus a small network correction that starts at zero.

    .. math:: g(x) = \langle x, \theta \rangle + W_2^\top \sigma(W_1^\top x + b_1),
       \qquad W_2 = 0 \text{ at the start}

    so the slicer starts as the linear one (e.g. the best of a random search)
    and gradient steps bend its level sets (leaky ReLU ``sigma``). The
    directions are kept on the unit sphere as in :class:`LinearSlicer`.

    Parameters
    ----------
    d : int
    n_projections : int, default 1
    hidden : int, default 32
        Width of the correction's hidden layer.
    seed : int, numpy or torch generator, or None
        Draws the hidden layer (and the directions when not given).
    directions : tensor of shape (d, L), optional
        Initial directions; overrides ``n_projections``.

    Examples
    --------
    >>> theta = torch.tensor([[1.0], [0.0]], dtype=torch.float64)
    >>> s = ResidualMLPSlicer(2, hidden=4, seed=0, directions=theta)
    >>> s(torch.tensor([[2.0, 5.0]], dtype=torch.float64)).tolist()  # linear at the start
    [[2.0]]
    """

    def __init__(self, d: int, n_projections: int = 1, hidden: int = 32, seed: SeedLike = None, *,
                 directions: ArrayLike | None = None, dtype: torch.dtype = torch.float64,
                 device: DeviceLike = None) -> None:
        super().__init__()
        self.in_features = check_int(d, "d", minimum=1)
        hidden = check_int(hidden, "hidden", minimum=1)
        g = make_generator(seed)
        self.linear = LinearSlicer(self.in_features, n_projections, g, directions=directions,
                                   dtype=dtype, device=device)
        self.n_projections = self.linear.n_projections
        # the directions decide where the slicer lives (given directions may be on a GPU)
        dtype, device = self.linear.weight.dtype, self.linear.weight.device
        w1 = randn(self.in_features, hidden, generator=g, dtype=dtype, device=device)
        self.w1 = nn.Parameter(w1 / math.sqrt(self.in_features))
        self.b1 = nn.Parameter(torch.zeros(hidden, dtype=dtype, device=device))
        self.w2 = nn.Parameter(torch.zeros(hidden, self.n_projections, dtype=dtype,
                                           device=device))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        X = self._input(X)
        return self.linear(X) + nn.functional.leaky_relu(X @ self.w1 + self.b1, 0.2) @ self.w2


_SLICERS = {"linear": LinearSlicer, "orthonormal": LinearSlicer,
            "polynomial": PolynomialSlicer, "circular": CircularSlicer, "mlp": MLPSlicer}


def make_slicer(slicer: str | nn.Module, d: int, n_projections: int, seed: SeedLike = None, *,
                dtype: torch.dtype = torch.float64, device: DeviceLike = None,
                **options: Any) -> nn.Module:
    """A slicer from a name (``"linear"``, ``"orthonormal"``, ``"polynomial"``,
    ``"circular"``, ``"mlp"``) or an existing module (returned as is).

    Examples
    --------
    >>> make_slicer("circular", 3, 8, seed=0, radius=2.0)
    CircularSlicer(in_features=3, n_projections=8, radius=2.0)
    """
    if isinstance(slicer, nn.Module):
        return slicer
    if not isinstance(slicer, str) or slicer not in _SLICERS:
        raise ValueError(
            f"slicer must be one of {sorted(_SLICERS)} or a torch.nn.Module, got {slicer!r}"
        )
    if slicer == "orthonormal":
        options["orthonormal"] = True
    return _SLICERS[slicer](d, n_projections=n_projections, seed=seed, dtype=dtype,
                            device=device, **options)


def _apply_slicer(slicer: nn.Module, X: torch.Tensor) -> torch.Tensor:
    """``slicer(X)`` as ``(L, n)`` in ``X``'s dtype, checking the module's output."""
    with _checked_input():
        out = slicer(X)
    if not isinstance(out, torch.Tensor) or out.shape[:-1] != X.shape[:-1]:
        raise ValueError(
            f"slicer must map an (n, d) tensor to (n, L); got output of shape "
            f"{getattr(out, 'shape', type(out).__name__)} for input {tuple(X.shape)}"
        )
    return out.to(X.dtype).transpose(-1, -2)


# ------------------------------------------------------------ sphere -> plane
def _check_sphere(X: torch.Tensor, name: str) -> None:
    if X.shape[-1] < 2:
        raise ValueError(f"{name} must hold points of S^(d-1) with d >= 2, got shape "
                         f"{tuple(X.shape)}")
    err = (X.detach().norm(dim=-1) - 1).abs().max() if X.numel() else 0.0
    if err > 1e-6:
        raise ValueError(f"{name} must lie on the unit sphere (row norms 1), "
                         f"largest deviation {float(err):.3g}")


def stereographic_projection(X: ArrayLike) -> Array:
    r"""Stereographic projection of ``S^{d-1}`` minus the north pole onto ``R^{d-1}``.

    .. math:: \phi(x) = \frac{x_{1:d-1}}{1 - x_d}

    The north pole ``e_d`` goes to infinity; near it distances blow up,
    which is what :func:`spherical_equidistant_map` corrects.

    Examples
    --------
    >>> import numpy as np
    >>> stereographic_projection(np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0]]))
    array([[1., 0.],
           [0., 0.]])
    """
    io = ArrayIO(X)
    x = io.tensor(X, "X", min_ndim=1)
    _check_sphere(x, "X")
    denom = 1 - x[..., -1:]
    if (denom.detach() <= 0).any():
        raise ValueError("X contains the north pole (0, ..., 0, 1), which has no stereographic "
                         "image; use spherical_equidistant_map instead")
    return io.out(x[..., :-1] / denom)


def spherical_equidistant_map(X: ArrayLike,
                              h: Callable[[torch.Tensor], torch.Tensor] | None = None) -> Array:
    r"""The S3W map ``h o phi``: stereographic projection with the radial correction.

    With ``h = None`` this is the paper's ``h_1``, which rescales the
    stereographic image ``y`` to length ``arccos((1 - |y|^2) / (1 + |y|^2)) / pi``
    (the geodesic distance to the south pole over ``pi``). The composition is
    computed directly from ``x`` so it is finite everywhere:

    .. math:: h_1(\phi(x)) = \frac{\arccos(-x_d)}{\pi}
       \frac{x_{1:d-1}}{\|x_{1:d-1}\|}

    It sends the sphere into the unit ball, is injective away from the north
    pole, and does not stretch distances near the pole as ``phi`` does. The
    north pole itself (measure zero) is sent to ``e_1``. A custom ``h``
    (any callable or ``nn.Module`` on ``(..., d-1)`` torch tensors) is
    applied to :func:`stereographic_projection` instead.

    Examples
    --------
    >>> import numpy as np
    >>> spherical_equidistant_map(np.array([[0.0, 0.0, -1.0], [1.0, 0.0, 0.0]]))
    array([[0. , 0. ],
           [0.5, 0. ]])
    """
    io = ArrayIO(X)
    x = io.tensor(X, "X", min_ndim=1)
    return io.out(_equidistant(x, h, "X"))


def _equidistant(x: torch.Tensor, h, name: str) -> torch.Tensor:
    _check_sphere(x, name)
    if h is not None:
        denom = 1 - x[..., -1:]
        if (denom.detach() <= 0).any():
            raise ValueError(f"{name} contains the north pole, where a custom h is undefined")
        return h(x[..., :-1] / denom)
    xd = x[..., -1].clamp(-1.0, 1.0)
    head = x[..., :-1]
    norm = head.norm(dim=-1, keepdim=True)
    tiny = torch.finfo(x.dtype).tiny ** 0.5
    safe = torch.where(norm > tiny, norm, torch.ones_like(norm))
    direction = torch.where(norm > tiny, head / safe, _e1_like(head))
    # radius = angle to the south pole / pi; the clamp keeps arccos' gradient finite
    eps = 4 * torch.finfo(x.dtype).eps
    radius = torch.arccos((-xd).clamp(-1 + eps, 1 - eps)) / math.pi
    radius = torch.where(xd <= -1.0, torch.zeros_like(radius), radius)
    return radius.unsqueeze(-1) * direction


def _e1_like(head: torch.Tensor) -> torch.Tensor:
    e = torch.zeros_like(head)
    e[..., 0] = 1.0
    return e


# ----------------------------------------------------------- sphere -> circle
def random_frames(d: int, n_projections: int, k: int = 2, seed: SeedLike = None, *,
                  dtype: torch.dtype = torch.float64,
                  device: DeviceLike = None) -> torch.Tensor:
    """``n_projections`` Haar-random orthonormal ``(d, k)`` frames (the Stiefel manifold).

    With ``k = 2`` these are the great-circle slices of spherical sliced
    transport (``lssot``; layout of POT's ``get_projections_sphere``).

    Examples
    --------
    >>> U = random_frames(4, 3, seed=0)
    >>> tuple(U.shape), bool(torch.allclose(U[0].T @ U[0], torch.eye(2, dtype=U.dtype)))
    ((3, 4, 2), True)
    """
    d = check_int(d, "d", minimum=1)
    k = check_int(k, "k", minimum=1)
    if k > d:
        raise ValueError(f"k must be <= d = {d}, got {k}")
    n_projections = check_int(n_projections, "n_projections", minimum=1)
    g = make_generator(seed)
    return _haar_orthogonal(n_projections, d, g, dtype, device)[..., :k]


def sphere_to_circle(X: ArrayLike, frames: ArrayLike) -> Array:
    r"""Project points of ``S^{d-1}`` on great circles, as coordinates in [0, 1).

    .. math:: P^U(x) = \frac{U^T x}{\|U^T x\|}, \quad
       t = \frac{\operatorname{atan2}(P_2, P_1)}{2\pi} \bmod 1

    Parameters
    ----------
    X : array of shape (n, d)
        Points on the unit sphere.
    frames : array of shape (L, d, 2)
        Orthonormal frames (:func:`random_frames`).

    Returns
    -------
    array of shape (L, n)
        Points with ``U^T x = 0`` (measure zero) are sent to 0.

    Examples
    --------
    >>> import numpy as np
    >>> U = np.eye(3)[None, :, :2]
    >>> sphere_to_circle(np.array([[0.0, 1.0, 0.0]]), U)
    array([[0.25]])
    """
    io = ArrayIO(X, frames)
    x = io.tensor(X, "X", ndim=2)
    _check_sphere(x, "X")
    U = io.tensor(frames, "frames", ndim=3, shape=(None, x.shape[1], 2))
    return io.out(_circle_coordinates(x, U))


def _circle_coordinates(x: torch.Tensor, U: torch.Tensor) -> torch.Tensor:
    P = torch.einsum("ldk,nd->lnk", U, x)
    angle = torch.atan2(P[..., 1], P[..., 0])
    return torch.remainder(angle / (2 * math.pi), 1.0)
