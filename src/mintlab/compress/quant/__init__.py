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
    QuaRot-style randomised Hadamard ``diag(signs) H / sqrt(d)`` (Sylvester;
    for ``d = 2^k m`` with odd ``m > 1``, ``H_{2^k}`` Kronecker a random
    orthogonal ``m x m``);
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
import math
import time
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..._validation import check_int
from ..svd._calib import check_batches, find_linear_layers, resolve_objective

__all__ = ["QuantLinear", "quantize_symmetric", "quantize_model", "QuantReport",
           "random_orthogonal", "randomized_hadamard", "hadamard_matrix", "procrustes",
           "corner_alignment", "ROTATIONS"]

ROTATIONS = ("none", "random", "hadamard", "conqur")


def quantize_symmetric(x: torch.Tensor, bits: int | None, dim: int = -1) -> torch.Tensor:
    """Round-to-nearest symmetric quantisation with one max-abs scale per slice along ``dim``.

    ``bits=None`` (or >= 16) returns ``x``. Levels are ``-(2^(b-1) - 1) .. 2^(b-1) - 1``.

    Examples
    --------
    >>> quantize_symmetric(torch.tensor([[0.3, -1.0, 0.55]]), 2)
    tensor([[ 0., -1.,  1.]])
    """
    if bits is None or bits >= 16:
        return x
    if bits < 2:
        raise ValueError(f"bits must be >= 2, got {bits}")
    qmax = 2 ** (bits - 1) - 1
    scale = x.abs().amax(dim=dim, keepdim=True).clamp_min(1e-12) / qmax
    return torch.round(x / scale).clamp(-qmax, qmax) * scale


def hadamard_matrix(n: int, *, dtype=torch.float64, device=None) -> torch.Tensor:
    """Sylvester's Hadamard matrix of order ``n`` (a power of two), entries +-1."""
    if n < 1 or n & (n - 1):
        raise ValueError(f"Sylvester Hadamard matrices exist for powers of two, got {n}")
    H = torch.ones(1, 1, dtype=dtype, device=device)
    while H.shape[0] < n:
        H = torch.cat([torch.cat([H, H], 1), torch.cat([H, -H], 1)], 0)
    return H


def random_orthogonal(d: int, *, seed: int = 0, dtype=torch.float64, device=None) -> torch.Tensor:
    """A Haar-random ``d x d`` orthogonal matrix (QR of a Gaussian, signs fixed)."""
    g = torch.Generator().manual_seed(int(seed))
    Q, Rm = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    Q = Q * torch.sign(torch.diagonal(Rm))[None, :]
    return Q.contiguous().to(dtype=dtype, device=device)


def randomized_hadamard(d: int, *, seed: int = 0, dtype=torch.float64,
                        device=None) -> torch.Tensor:
    """``diag(random signs) H / sqrt(d)``, orthogonal (see the module notes for non-powers of 2)."""
    p = d & (-d)  # largest power-of-two factor
    m = d // p
    H = hadamard_matrix(p) / math.sqrt(p)
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
    lam, V = torch.linalg.eigh(M.T @ M)
    if float(lam[0]) > 1e-10 * float(lam[-1]):
        return M @ (V * lam.rsqrt()) @ V.T
    U, _, Vh = torch.linalg.svd(M)
    return U @ Vh


def corner_alignment(x: torch.Tensor, R: torch.Tensor) -> torch.Tensor:
    """Mean cosine between rotated normalised rows ``x R / |x|`` and their nearest corners."""
    z = F.normalize(x.double(), dim=-1) @ R.double()
    return (z.abs().sum(-1) / math.sqrt(x.shape[-1])).mean()


class QuantLinear(nn.Module):
    """``y = Q_a(x R) Q_w(W R)^T + b`` (see the module notes). ``R = None`` is the identity."""

    def __init__(self, linear: nn.Linear, w_bits: int | None = 4, a_bits: int | None = 4,
                 rotation: torch.Tensor | None = None):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.w_bits, self.a_bits = w_bits, a_bits
        w = linear.weight.detach()
        self.register_buffer("weight_fp", w.clone())
        self.register_buffer("rotation", None if rotation is None
                             else rotation.to(dtype=w.dtype, device=w.device))
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach().clone(),
                                                                  requires_grad=False)
        self.observer = None
        self.quantize = True
        self.refresh()

    def set_rotation(self, R: torch.Tensor | None) -> None:
        w = self.weight_fp
        self.rotation = None if R is None else R.to(dtype=w.dtype, device=w.device)
        self.refresh()

    def refresh(self) -> None:
        """Recompute the stored weight ``Q_w(W R)``."""
        w = self.weight_fp if self.rotation is None else self.weight_fp @ self.rotation
        self.register_buffer("weight_q", quantize_symmetric(w, self.w_bits, dim=1))
        self.register_buffer("weight_rot", w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.observer is not None:
            self.observer(self, x.detach())
        if self.rotation is not None:
            x = x @ self.rotation
        if not self.quantize:
            return F.linear(x, self.weight_rot, self.bias)
        return F.linear(quantize_symmetric(x, self.a_bits, dim=-1), self.weight_q, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"w_bits={self.w_bits}, a_bits={self.a_bits}, "
                f"rotated={self.rotation is not None}")


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
                   rotation: str = "hadamard", calibration: Any = None, objective=None,
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

    if rotation not in ROTATIONS:
        raise ValueError(f"rotation must be one of {ROTATIONS}, got {rotation!r}")
    for name, b in (("w_bits", w_bits), ("a_bits", a_bits)):
        if b is not None:
            check_int(b, name, minimum=2)
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    layers = find_linear_layers(model, include, exclude)
    if not inplace:
        names = list(layers)
        model = copy.deepcopy(model)
        layers = {n: model.get_submodule(n) for n in names}
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

    batches = check_batches(calibration)
    obj = resolve_objective(objective, batches[0])
    epochs = check_int(epochs, "epochs", minimum=1)
    sums = {n: torch.zeros(q.in_features, q.in_features, dtype=torch.float64,
                           device=q.weight_fp.device) for n, q in qlayers.items()}
    first_align: dict[str, float] = {}
    last_align: dict[str, float] = {}
    tokens = 0

    def observer_for(name):
        def observe(layer, x):
            xs = F.normalize(x.reshape(-1, x.shape[-1]).double(), dim=-1)
            R = layer.rotation.double()
            z = xs @ R
            corners = torch.sign(z) / math.sqrt(z.shape[1])
            align = float((z * corners).sum(1).mean())
            first_align.setdefault(name, align)
            last_align[name] = align
            sums[name].mul_(momentum).add_(xs.T @ corners)
            layer.set_rotation(procrustes(sums[name]))
        return observe

    t0 = time.perf_counter()
    was = model.training
    model.eval()
    for n, q in qlayers.items():
        q.observer = observer_for(n)
    try:
        with torch.no_grad():
            for _ in tqdm(range(epochs), desc="ConQuR calibration", disable=not progress):
                for batch in batches:
                    obj.logits(model, batch)
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


def _count_tokens(batch) -> int:
    if torch.is_tensor(batch):
        return int(batch[:, :-1].numel()) if batch.dim() == 2 else int(batch.shape[0])
    x = batch[0]
    return int(x.shape[:-1].numel()) if x.dim() > 1 else int(x.shape[0])
