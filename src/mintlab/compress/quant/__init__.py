"""Fake-quantised weight-activation paths (W4A4, W8A8) with rotations (``conqur``).

A :class:`QuantLinear` computes ``y = Q_a(x R) Q_w(W R)^T + b``: the layer's
input is rotated by an orthogonal ``R`` (online, per token) and quantised per
token, the weight is stored with the rotation folded in (``W R``) and
quantised per output channel; both round to nearest with symmetric max-abs
scales. Since ``R R^T = I`` the unquantised layer is unchanged by any
rotation, and a rotation that spreads each token's energy evenly over the
channels shrinks the per-token scale, hence the activation error.

Rotations (``rotation=``):

``"none"``
    identity;
``"random"``
    a Haar-random orthogonal matrix;
``"hadamard"``
    QuaRot-style randomised Hadamard ``diag(signs) H / sqrt(d)`` for any
    width: a true Hadamard matrix (Sylvester for powers of two, Kronecker
    with Paley factors otherwise, e.g. 576 = 36 x 16, 1536 = 12 x 128), and
    for widths without one the largest Hadamard factor Kronecker a small
    random orthogonal matrix (:func:`randomized_hadamard`);
``"conqur"``
    ConQuR: starting from the randomised Hadamard, the rotation that aligns
    each normalised activation ``x / |x|`` with the nearest corner
    ``sign(x R) / sqrt(d)`` of the inscribed hypercube, by alternating the
    corner assignment and the closed-form orthogonal Procrustes update
    ``R = U V^T`` (``U S V^T`` the SVD of ``sum x^T C``). Calibration is
    online: batches run through the model *already quantised with the
    current rotations*, each layer keeps only the ``d x d`` running sum
    (decayed by ``momentum``) and updates its rotation after every batch, so
    no activation is stored and later layers adapt to the quantised
    activations of earlier ones.
"""

from __future__ import annotations

import copy
import functools
import math
import numbers
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..._validation import check_choice, check_int
from ...typing import DeviceLike
from ..svd._calib import (
    Objective,
    check_before_training,
    find_linear_layers,
    prepare_batches,
    score,
)
from ..svd.layers import _check_input
from ..svd.methods import _check_container, _check_tensor, check_dim

__all__ = ["QuantLinear", "quantize_symmetric", "quantize_model", "QuantReport",
           "random_orthogonal", "randomized_hadamard", "hadamard_matrix", "hadamard_exists",
           "largest_hadamard_factor", "procrustes",
           "corner_alignment", "ROTATIONS"]

ROTATIONS = ("none", "random", "hadamard", "conqur")


def quantize_symmetric(x: torch.Tensor, bits: int | None, dim: int = -1) -> torch.Tensor:
    """Round-to-nearest symmetric quantisation with one max-abs scale per slice along ``dim``.

    ``bits=None`` (or >= 16) returns ``x``. Levels are ``-(2^(b-1) - 1) .. 2^(b-1) - 1``.
    ``x`` must be finite; that is checked on the CPU only (on an accelerator
    it would force a device sync per call).

    Examples
    --------
    >>> quantize_symmetric(torch.tensor([[0.3, -1.0, 0.55]]), 2)
    tensor([[ 0., -1.,  1.]])
    """
    _check_tensor(x, "x", values="cpu")
    if bits is not None:
        bits = check_int(bits, "bits", minimum=2)
    dim = check_dim(dim, x, "dim")
    return _quantize(x, bits, dim)


def _check_bits(bits: Any, name: str) -> int | None:
    return None if bits is None else check_int(bits, name, minimum=2)


def _quantize(x: torch.Tensor, bits: int | None, dim: int = -1) -> torch.Tensor:
    if bits is None or bits >= 16:
        return x
    qmax = 2 ** (bits - 1) - 1
    scale = x.abs().amax(dim=dim, keepdim=True).clamp_min(1e-12) / qmax
    return torch.round(x / scale).clamp(-qmax, qmax) * scale


def _is_prime(q: int) -> bool:
    return q >= 2 and all(q % f for f in range(2, math.isqrt(q) + 1))


def _paley_kind(n: int) -> int:
    """1 or 2 if Paley construction I (n = q + 1) or II (n = 2 (q + 1)) gives order n, else 0."""
    if n % 4:
        return 0
    if _is_prime(n - 1) and (n - 1) % 4 == 3:
        return 1
    if n % 2 == 0 and _is_prime(n // 2 - 1) and (n // 2 - 1) % 4 == 1:
        return 2
    return 0


@functools.cache
def _hadamard_plan(n: int) -> tuple[int, ...] | None:
    """Kronecker factors (Paley orders, then a power of two) of a Hadamard matrix of order n."""
    if n >= 1 and not n & (n - 1):
        return (n,)
    for p in range(12, n + 1, 4):
        if n % p == 0 and _paley_kind(p) and p & (p - 1):
            rest = _hadamard_plan(n // p)
            if rest is not None:
                return (p, *rest)
    return None


def _jacobsthal(q: int) -> np.ndarray:
    """``Q[i, j] = chi(j - i)``, chi the quadratic character modulo the prime q."""
    squares = np.zeros(q, dtype=np.int64)
    squares[[(i * i) % q for i in range(1, q)]] = 1
    chi = np.where(squares == 1, 1, -1)
    chi[0] = 0
    idx = (np.arange(q)[None, :] - np.arange(q)[:, None]) % q
    return chi[idx]


def _paley(n: int) -> np.ndarray:
    if _paley_kind(n) == 1:
        q = n - 1
        S = np.zeros((n, n), dtype=np.int64)
        S[0, 1:], S[1:, 0], S[1:, 1:] = 1, -1, _jacobsthal(q)
        return np.eye(n, dtype=np.int64) + S
    q = n // 2 - 1
    C = np.zeros((q + 1, q + 1), dtype=np.int64)
    C[0, 1:], C[1:, 0], C[1:, 1:] = 1, 1, _jacobsthal(q)
    return np.kron(C, np.array([[1, 1], [1, -1]])) + np.kron(
        np.eye(q + 1, dtype=np.int64), np.array([[1, -1], [-1, -1]]))


def _sylvester(n: int) -> torch.Tensor:
    H = torch.ones(1, 1, dtype=torch.float64)
    while H.shape[0] < n:
        H = torch.cat([torch.cat([H, H], 1), torch.cat([H, -H], 1)], 0)
    return H


def hadamard_exists(n: int) -> bool:
    """Whether :func:`hadamard_matrix` builds a Hadamard matrix of order ``n``.

    Orders built: powers of two (Sylvester) and their Kronecker products with
    Paley orders ``q + 1`` (prime ``q = 3 mod 4``: 12, 20, 24, 32, 44, 48, ...)
    and ``2 (q + 1)`` (prime ``q = 1 mod 4``: 12, 28, 36, 60, 76, ...), e.g.
    576 = 36 x 16 and 1536 = 12 x 128. No Hadamard matrix exists for orders
    other than 1, 2 and multiples of 4; some multiples of 4 (e.g. 92) are
    not built here.

    Examples
    --------
    >>> hadamard_exists(576), hadamard_exists(1536), hadamard_exists(6)
    (True, True, False)
    """
    n = check_int(n, "n", minimum=1)
    return _hadamard_plan(n) is not None


def hadamard_matrix(n: int, *, dtype: torch.dtype = torch.float64,
                    device: DeviceLike = None) -> torch.Tensor:
    """A Hadamard matrix of order ``n`` (entries +-1, ``H H^T = n I``).

    Sylvester's construction for powers of two; otherwise the Kronecker
    product of Paley matrices and a Sylvester one (see
    :func:`hadamard_exists` for the orders built).

    Parameters
    ----------
    n : int
        The order.
    dtype, device
        Of the returned matrix.

    Returns
    -------
    torch.Tensor
        ``(n, n)`` with entries +-1.

    Examples
    --------
    >>> H = hadamard_matrix(12)
    >>> bool((H @ H.T == 12 * torch.eye(12, dtype=H.dtype)).all())
    True
    """
    n = check_int(n, "n")
    plan = _hadamard_plan(n) if n >= 1 else None
    if plan is None:
        raise ValueError(f"n must be the order of a Hadamard matrix built here (1, 2, a power of "
                         f"two, or a multiple of 4 from Paley and Sylvester factors such as 12, "
                         f"20, 576 or 1536), got {n}")
    H = _sylvester(plan[-1])
    for p in reversed(plan[:-1]):
        H = torch.kron(torch.as_tensor(_paley(p), dtype=torch.float64), H)
    return H.to(dtype=dtype, device=device)


def largest_hadamard_factor(d: int) -> int:
    """The largest divisor ``h`` of ``d`` with a Hadamard matrix built here.

    See :func:`hadamard_exists` for the orders built.

    Examples
    --------
    >>> [largest_hadamard_factor(d) for d in (1536, 100, 6)]
    [1536, 20, 2]
    """
    d = check_int(d, "d", minimum=1)
    return max(h for h in range(1, d + 1) if d % h == 0 and _hadamard_plan(h) is not None)


def random_orthogonal(d: int, *, seed: int = 0, dtype: torch.dtype = torch.float64,
                      device: DeviceLike = None) -> torch.Tensor:
    """A Haar-random ``d x d`` orthogonal matrix (QR of a Gaussian, signs fixed)."""
    d = check_int(d, "d", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    g = torch.Generator().manual_seed(int(seed))
    Q, Rm = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    Q = Q * torch.sign(torch.diagonal(Rm))[None, :]
    return Q.contiguous().to(dtype=dtype, device=device)


def randomized_hadamard(d: int, *, seed: int = 0, dtype: torch.dtype = torch.float64,
                        device: DeviceLike = None) -> torch.Tensor:
    """A randomised Hadamard rotation of any width: ``diag(random signs) (O kron H / sqrt(h))``.

    ``H`` is the Hadamard matrix of the largest order ``h`` dividing ``d``
    that :func:`hadamard_matrix` builds (:func:`largest_hadamard_factor`)
    and ``O`` a Haar-random ``d/h x d/h`` orthogonal factor (none when
    ``h = d``). So every power of two and every width with a Paley-Sylvester
    Hadamard matrix (12, 20, 24, ..., 576, 768, 1536, 5120, ...) gets a true
    Hadamard rotation with entries ``+-1/sqrt(d)``; other widths (odd ones,
    twice an odd number, ...) the Kronecker product with a small random
    orthogonal factor.

    Parameters
    ----------
    d : int
        The width.
    seed : int
        Seeds the signs (and ``O``, from ``seed + 1``).
    dtype, device
        Of the returned matrix.

    Returns
    -------
    torch.Tensor
        ``(d, d)`` orthogonal.

    Examples
    --------
    >>> R = randomized_hadamard(576)
    >>> bool(torch.allclose(R.abs(), torch.full_like(R, 1 / 24)))
    True
    """
    d = check_int(d, "d", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    h = largest_hadamard_factor(d)
    m = d // h
    H = hadamard_matrix(h) / math.sqrt(h)
    if m > 1:
        H = torch.kron(random_orthogonal(m, seed=seed + 1), H)
    g = torch.Generator().manual_seed(int(seed))
    signs = torch.randint(0, 2, (d,), generator=g).double() * 2 - 1
    return (signs[:, None] * H).to(dtype=dtype, device=device)


def procrustes(M: torch.Tensor) -> torch.Tensor:
    """The orthogonal ``R`` maximising ``tr(R^T M)``: ``U V^T`` from ``M = U S V^T``.

    Computed as the polar factor ``M (M^T M)^{-1/2}`` from a symmetric
    eigendecomposition (2-3x faster than the SVD), falling back to the SVD
    when ``M`` is too ill-conditioned for that to be accurate.
    """
    _check_tensor(M, "M", ndim=2)
    if M.shape[0] < M.shape[1]:
        raise ValueError(f"M must have at least as many rows as columns (d x d, or tall), "
                         f"got shape {tuple(M.shape)}")
    return _procrustes(M)


def _procrustes(M: torch.Tensor) -> torch.Tensor:
    lam, V = torch.linalg.eigh(M.T @ M)
    if float(lam[0]) > 1e-10 * float(lam[-1]):
        return M @ (V * lam.rsqrt()) @ V.T
    U, _, Vh = torch.linalg.svd(M)
    return U @ Vh


def corner_alignment(x: torch.Tensor, R: torch.Tensor) -> torch.Tensor:
    """Mean cosine between rotated normalised rows ``x R / |x|`` and their nearest corners.

    ``x`` and ``R`` must be finite; that is checked on the CPU only (on an
    accelerator it would force a device sync per call).
    """
    _check_tensor(x, "x", values="cpu")
    if x.dim() < 2:
        raise ValueError(f"x must have shape (..., d), rows of activations, got {tuple(x.shape)}")
    _check_tensor(R, "R", ndim=2, values="cpu")
    d = x.shape[-1]
    if tuple(R.shape) != (d, d):
        raise ValueError(f"R must have shape ({d}, {d}) to match x {tuple(x.shape)}, got "
                         f"{tuple(R.shape)}")
    z = F.normalize(x.double(), dim=-1) @ R.double()
    return (z.abs().sum(-1) / math.sqrt(x.shape[-1])).mean()


class QuantLinear(nn.Module):
    """``y = Q_a(x R) Q_w(W R)^T + b`` (see the module notes). ``R = None`` is the identity."""

    weight_fp: torch.Tensor
    weight_q: torch.Tensor
    weight_rot: torch.Tensor
    rotation: torch.Tensor | None

    def __init__(self, linear: nn.Linear, w_bits: int | None = 4, a_bits: int | None = 4,
                 rotation: torch.Tensor | None = None) -> None:
        if not isinstance(linear, nn.Linear):
            raise TypeError(f"linear must be an nn.Linear, got {type(linear).__name__}")
        w_bits, a_bits = _check_bits(w_bits, "w_bits"), _check_bits(a_bits, "a_bits")
        if rotation is not None:
            _check_rotation(rotation, linear.in_features)
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.w_bits, self.a_bits = w_bits, a_bits
        w = linear.weight.detach()
        self.register_buffer("weight_fp", w.clone())
        self.register_buffer("rotation", None if rotation is None
                             else rotation.to(dtype=w.dtype, device=w.device))
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach().clone(),
                                                                  requires_grad=False)
        self.observer: Callable[[QuantLinear, torch.Tensor], None] | None = None
        self.quantize = True
        self.refresh()

    def set_rotation(self, R: torch.Tensor | None) -> None:
        """Use the orthogonal ``R`` (``in x in``; ``None``: identity) and requantise the weight."""
        if R is not None:
            _check_rotation(R, self.in_features, "R")
        self._set_rotation(R)

    def _set_rotation(self, R: torch.Tensor | None) -> None:
        w = self.weight_fp
        self.rotation = None if R is None else R.to(dtype=w.dtype, device=w.device)
        self.refresh()

    def refresh(self) -> None:
        """Recompute the stored weight ``Q_w(W R)``."""
        w = self.weight_fp if self.rotation is None else self.weight_fp @ self.rotation
        self.register_buffer("weight_q", _quantize(w, self.w_bits, dim=1))
        self.register_buffer("weight_rot", w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(..., in_features) -> (..., out_features)``."""
        _check_input(x, self.in_features)
        if self.observer is not None:
            self.observer(self, x.detach())
        if self.rotation is not None:
            x = x @ self.rotation
        if not self.quantize:
            return F.linear(x, self.weight_rot, self.bias)
        return F.linear(_quantize(x, self.a_bits, dim=-1), self.weight_q, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"w_bits={self.w_bits}, a_bits={self.a_bits}, "
                f"rotated={self.rotation is not None}")


def _check_rotation(R: Any, d: int, name: str = "rotation") -> None:
    _check_tensor(R, name, ndim=2)
    if tuple(R.shape) != (d, d):
        raise ValueError(f"{name} must have shape ({d}, {d}) (in_features x in_features), got "
                         f"{tuple(R.shape)}")


@dataclass
class QuantReport:
    """What :func:`quantize_model` did."""

    rotation: str
    w_bits: int | None
    a_bits: int | None
    layers: list[str] = field(default_factory=list)
    calibration_seconds: float = 0.0
    calibration_tokens: int = 0
    calibration_state_bytes: int = 0
    stored_activation_bytes: int = 0
    corner_alignment: dict[str, tuple[float, float]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def quantize_model(model: nn.Module, *, w_bits: int | None = 4, a_bits: int | None = 4,
                   rotation: str = "hadamard", calibration: Any = None,
                   objective: Objective | None = None,
                   include: Any = None, exclude: Any = None, epochs: int = 2,
                   momentum: float = 0.9, seed: int = 0, inplace: bool = False,
                   progress: bool = False) -> tuple[nn.Module, QuantReport]:
    """Replace the ``nn.Linear`` layers by :class:`QuantLinear` with the chosen rotations.

    ``calibration`` (batches) is needed for ``rotation="conqur"`` only;
    ``epochs`` passes are made over it. The report gives ConQuR's calibration
    state (``d x d`` per layer) against what storing the calibration
    activations would take (``tokens x d`` per layer, float32).
    """
    from tqdm.auto import tqdm

    _check_container(model)
    rotation = check_choice(rotation, "rotation", ROTATIONS)
    w_bits, a_bits = _check_bits(w_bits, "w_bits"), _check_bits(a_bits, "a_bits")
    if isinstance(momentum, (bool, np.bool_)) or not isinstance(momentum, numbers.Real):
        raise TypeError(f"momentum must be a number in [0, 1), got {type(momentum).__name__}")
    if not 0.0 <= float(momentum) < 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    seed = check_int(seed, "seed", minimum=0)
    epochs = check_int(epochs, "epochs", minimum=1)
    layers = find_linear_layers(model, include, exclude)
    batches: list[Any] = []
    obj: Objective | None = None
    if rotation == "conqur":  # the data is checked before the model is touched
        batches, obj = prepare_batches(calibration, objective)
        check_before_training(model, batches, obj, "calibration")
    if not inplace:
        names = list(layers)
        model = copy.deepcopy(model)
        layers = {n: cast(nn.Linear, model.get_submodule(n)) for n in names}
    report = QuantReport(rotation=rotation, w_bits=w_bits, a_bits=a_bits, layers=list(layers))
    qlayers: dict[str, QuantLinear] = {}
    for i, (name, lin) in enumerate(layers.items()):
        d = lin.in_features
        R = None
        if rotation == "random":
            R = random_orthogonal(d, seed=seed + i)
        elif rotation in ("hadamard", "conqur"):
            R = randomized_hadamard(d, seed=seed + i)
        q = QuantLinear(lin, w_bits, a_bits, R)
        parent_name, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent_name) if parent_name else model, child, q)
        qlayers[name] = q
    if rotation != "conqur":
        return model, report

    assert obj is not None
    sums = {n: torch.zeros(q.in_features, q.in_features, dtype=torch.float64,
                           device=q.weight_fp.device) for n, q in qlayers.items()}
    first_align: dict[str, float] = {}
    last_align: dict[str, float] = {}
    tokens = 0

    def observer_for(name: str) -> Callable[[QuantLinear, torch.Tensor], None]:
        def observe(layer: QuantLinear, x: torch.Tensor) -> None:
            xs = F.normalize(x.reshape(-1, x.shape[-1]).double(), dim=-1)
            assert layer.rotation is not None  # conqur layers start from a Hadamard rotation
            R = layer.rotation.double()
            z = xs @ R
            corners = torch.sign(z) / math.sqrt(z.shape[1])
            align = float((z * corners).sum(1).mean())
            first_align.setdefault(name, align)
            last_align[name] = align
            sums[name].mul_(momentum).add_(xs.T @ corners)
            layer._set_rotation(_procrustes(sums[name]))
        return observe

    t0 = time.perf_counter()
    was = model.training
    model.eval()
    for n, q in qlayers.items():
        q.observer = observer_for(n)
    try:
        with torch.no_grad():
            for _ in tqdm(range(epochs), desc="ConQuR calibration", disable=not progress):
                for i, batch in enumerate(batches):
                    score(obj.logits, model, batch, f"calibration[{i}]")
                    tokens += _count_tokens(batch)
    finally:
        for q in qlayers.values():
            q.observer = None
        model.train(was)
    report.calibration_seconds = time.perf_counter() - t0
    report.calibration_tokens = tokens // epochs
    report.calibration_state_bytes = sum(2 * q.in_features ** 2 * 8 for q in qlayers.values())
    report.stored_activation_bytes = sum(report.calibration_tokens * q.in_features * 4
                                         for q in qlayers.values())
    report.corner_alignment = {n: (first_align[n], last_align[n]) for n in qlayers}
    return model, report


def _count_tokens(batch: Any) -> int:
    if torch.is_tensor(batch):
        return int(batch[:, :-1].numel()) if batch.dim() == 2 else int(batch.shape[0])
    x = batch[0]
    return int(x.shape[:-1].numel()) if x.dim() > 1 else int(x.shape[0])
