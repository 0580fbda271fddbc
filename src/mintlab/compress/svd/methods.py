"""Whitened-SVD compression of the ``nn.Linear`` layers of any model.

Every method factorises a layer ``W`` (``out x in``) in a *whitened* space
``A = R W S`` (``S`` acts on the input side, ``R`` on the output side), keeps
a set of singular components of ``A = U diag(s) V^T`` and maps them back,

    ``W' = R^{-1} U_k diag(s_k) V_k^T S^{-1} = up @ down``,

``up = R^{-1} U_k diag(s_k)^{1/2}``, ``down = diag(s_k)^{1/2} V_k^T S^{-1}``,
stored as a :class:`~mintlab.compress.svd.LowRankLinear`. With ``S S^T =
E[x x^T]`` the truncation error of the layer's output,
``E||(W - W') x||^2``, equals the sum of the dropped ``s_i^2`` (SVD-LLM's
truncation awareness); with also ``R^T R = E[g g^T]`` (the output metric,
:mod:`~mintlab.compress.svd._calib`) it is twice the second-order estimate
of the KL divergence between the original and compressed predictions.

Methods (``method=``):

``"svd"``
    plain truncated SVD of ``W`` (``S = R = I``), uniform rank.
``"asvd"``
    activation-aware scaling (ASVD-style): ``S = diag(E|x|)^alpha``, uniform rank.
``"svd-llm"``
    SVD-LLM's whitening: ``S`` the Cholesky factor of ``E[x x^T]``, uniform rank.
``"zs-svd"``
    Zero Sum SVD: input whitening as SVD-LLM, then a *global* selection of
    components to drop across all layers by their first-order loss
    estimates ``delta_i = -s_i * u_i^T H v_i`` (``H`` the calibration-loss
    gradient in whitened coordinates). Each layer offers its smallest
    remaining component; the *zero-sum rule* takes, from the candidates of
    the sign opposite to the running sum of accepted ``delta`` (positive when
    the sum is <= 0, negative otherwise), the one of smallest ``|delta|``,
    so the cumulative predicted loss change stays near zero; layers whose
    final rank does not beat the dense size stay dense. ``correction=True``
    adds the one-step correction: the removed part ``W - W_r`` is projected
    onto the span of per-batch gradients at ``W_r``, added back, and the
    layer is truncated again to its rank.
``"io-svd"``
    Input-output whitened SVD: ``S`` as SVD-LLM, ``R`` from the KL-aware
    output metric over the top-K token probabilities; the components are
    scored by the predicted loss change ``-s_i u_i^T H v_i + s_i^2 / 2``
    (first-order calibration loss plus the second-order KL term, which the
    double whitening makes exactly ``s_i^2 / 2``) and the least sensitive are
    dropped globally, cheapest predicted change per stored parameter first,
    until the budget is met. ``quantize="loss-aware"`` is the hybrid
    low-rank + 8-bit path: a kept component may also be stored in 8 bits
    (its ``down`` row and ``up`` column, per-vector scales), at the predicted
    loss of that quantisation (first order plus the whitened second-order
    error), so a byte budget buys more rank; moves (quantise a component,
    drop a layer's last one) are taken by predicted loss per byte saved.
    ``quantize="all"`` stores every kept component in 8 bits (the uniform
    remapping baseline). With ``quantize`` the ``ratio`` is a reduction of
    *bytes*.

``ratio`` is the fraction of the targeted layers' weight entries (bytes
with ``quantize``) removed.
"""

from __future__ import annotations

import copy
import heapq
import math
import time
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from ..._validation import (
    check_choice,
    check_finite,
    check_int,
    check_nonnegative,
    check_positive,
    check_ratio,
)
from .._reparam import check_module
from ._calib import (
    LayerStats,
    Objective,
    _collect_statistics,
    check_before_training,
    find_linear_layers,
    prepare_batches,
)
from .layers import LowRankLinear

__all__ = ["METHODS", "compress_model", "CompressionReport", "uniform_rank",
           "whitened_decomposition", "quantize_int8_per_vector", "whitening_factor",
           "Whitening"]

METHODS = ("svd", "asvd", "svd-llm", "zs-svd", "io-svd")
_INPUT_KIND = {"svd": None, "asvd": "asvd", "svd-llm": "chol", "zs-svd": "chol", "io-svd": "chol"}


@dataclass
class CompressionReport:
    """What :func:`compress_model` did, layer by layer.

    ``layers[name]`` holds ``shape`` (out, in), ``rank``, ``full_rank``,
    ``dense`` (left as it was), ``int8`` (components stored in 8 bits),
    ``params`` and ``bytes`` stored for the weight, ``whitening`` (the
    input whitening's path, ``"cholesky"`` or the ``"eigh-floor"`` fallback,
    see :func:`whitening_factor`; ``None`` without one), ``condition``
    (the condition number of the layer's input Gram matrix, computed when
    the fallback ran, which needs its eigenvalues; ``None`` on the Cholesky
    path, which skips them, and ``None`` when the matrix is singular, so
    every number stored is finite), ``whitened_condition`` (that of the
    damped or floored matrix actually factored: exact on the fallback, the
    lower bound ``(max L_ii / min L_ii)^2`` on the Cholesky path); ``io-svd``
    adds ``output_whitening`` and ``output_condition`` (same rules) for the
    output metric.
    """

    method: str
    ratio: float
    layers: dict[str, dict[str, Any]] = field(default_factory=dict)
    params_before: int = 0
    params_after: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    model_params_before: int = 0
    model_params_after: int = 0
    calibration_seconds: float = 0.0
    seconds: float = 0.0
    predicted_loss_change: float | None = None

    @property
    def achieved_ratio(self) -> float:
        """Fraction of the targeted weight entries removed."""
        return 1.0 - self.params_after / max(self.params_before, 1)

    @property
    def achieved_byte_ratio(self) -> float:
        """Fraction of the targeted weight bytes removed."""
        return 1.0 - self.bytes_after / max(self.bytes_before, 1)

    @property
    def ranks(self) -> dict[str, int]:
        return {k: v["rank"] for k, v in self.layers.items()}

    @property
    def fallbacks(self) -> int:
        """Number of whitenings (input and output) that took the eigenvalue-floor fallback."""
        return sum(int(v.get("whitening") == "eigh-floor")
                   + int(v.get("output_whitening") == "eigh-floor") for v in self.layers.values())

    def to_json(self) -> dict[str, Any]:
        layers = {k: {f: (None if isinstance(x, float) and not math.isfinite(x) else x)
                      for f, x in v.items()} for k, v in self.layers.items()}
        return {"method": self.method, "ratio": self.ratio, "layers": layers,
                "params_before": self.params_before, "params_after": self.params_after,
                "bytes_before": self.bytes_before, "bytes_after": self.bytes_after,
                "model_params_before": self.model_params_before,
                "model_params_after": self.model_params_after,
                "achieved_ratio": self.achieved_ratio,
                "calibration_seconds": self.calibration_seconds, "seconds": self.seconds,
                "predicted_loss_change": self.predicted_loss_change}

    def summary(self) -> str:
        lines = [f"{self.method}: {self.params_before:,} -> {self.params_after:,} weight entries "
                 f"({100 * self.achieved_ratio:.1f}% removed), {self.bytes_after:,} bytes"]
        for name, info in self.layers.items():
            tag = "dense" if info["dense"] else f"rank {info['rank']}/{info['full_rank']}"
            if info["int8"]:
                tag += f" ({info['int8']} in int8)"
            lines.append(f"  {name}: {tag}")
        return "\n".join(lines)


def uniform_rank(out_features: int, in_features: int, ratio: float) -> int:
    """The rank removing ``ratio`` of an ``out x in`` weight: floor((1 - ratio) mn / (m + n)).

    ``ratio`` must lie in ``(0, 1)``, so the rank is never negative.

    Examples
    --------
    >>> uniform_rank(64, 64, 0.5)
    16
    """
    out_features = check_int(out_features, "out_features", minimum=1)
    in_features = check_int(in_features, "in_features", minimum=1)
    ratio = check_ratio(ratio, "ratio")
    return int(math.floor((1.0 - ratio) * out_features * in_features
                          / (out_features + in_features)))


def quantize_int8_per_vector(v: torch.Tensor, dim: int) -> torch.Tensor:
    """Symmetric round-to-nearest 8-bit quantisation, one scale per slice along ``dim``."""
    _check_tensor(v, "v")
    check_dim(dim, v, "dim")
    return _quantize_int8(v, dim)


def check_dim(dim: Any, t: torch.Tensor, name: str = "dim") -> int:
    """``dim`` as an int indexing an axis of ``t`` (negative counts from the end)."""
    dim = check_int(dim, name)
    if not -t.dim() <= dim < t.dim():
        raise ValueError(f"{name} must index an axis of a {t.dim()}-D tensor (in "
                         f"[{-t.dim()}, {t.dim()})), got {dim}")
    return dim


def _check_tensor(t: Any, name: str, ndim: int | None = None, *,
                  values: str = "always") -> torch.Tensor:
    """A non-empty, finite, floating torch tensor (of ``ndim`` dimensions).

    ``values="cpu"`` checks finiteness only for a tensor on the CPU: for the
    helpers called at every training step, where reading an accelerator's
    values would force a device sync per call.
    """
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch tensor, got {type(t).__name__}")
    if not t.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {t.dtype}")
    if ndim is not None and t.dim() != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {tuple(t.shape)}")
    if t.numel() == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(t.shape)}")
    if values == "always" or t.device.type == "cpu":
        check_finite(t.detach(), name)
    return t


def _quantize_int8(v: torch.Tensor, dim: int) -> torch.Tensor:
    scale = v.abs().amax(dim=dim, keepdim=True).clamp_min(1e-12) / 127.0
    return torch.round(v / scale).clamp(-127, 127) * scale


# --------------------------------------------------------------------------- whitening

@dataclass(frozen=True)
class Whitening:
    """A whitening factor of a Gram matrix and how it was obtained.

    Attributes
    ----------
    factor : torch.Tensor
        Lower-triangular ``L`` (float64) with ``L L^T`` the regularised Gram
        matrix.
    path : {"cholesky", "eigh-floor"}
        ``"cholesky"``: Cholesky of ``C + damping * mean(diag C) * I``;
        ``"eigh-floor"``: the fallback, ``C``'s eigenvalues floored at
        ``damping * lambda_max`` and the factor from a QR decomposition.
    condition : float or None
        ``lambda_max / lambda_min`` of ``C`` itself (``inf`` when singular);
        ``None`` where it was not computed (the Cholesky path inside
        :func:`compress_model`, which needs no eigenvalues).
    factor_condition : float or None
        Condition number of ``L L^T``, the matrix actually whitened with;
        ``None`` where it was not computed.
    condition_bound : float
        ``(max L_ii / min L_ii)^2``, a lower bound of ``factor_condition``
        up to rounding, reached for a diagonal matrix (the diagonal of a
        triangular factor holds its eigenvalues, which lie between its
        extreme singular values), that costs nothing beyond the factor;
        the Cholesky path is accepted when it is at most ``max_condition``.
    """

    factor: torch.Tensor
    path: str
    condition: float | None
    factor_condition: float | None
    condition_bound: float = math.nan


def whitening_factor(covariance: torch.Tensor, *, damping: float = 1e-6,
                     max_condition: float = 1e12) -> Whitening:
    """A lower-triangular whitening factor of a Gram matrix that never fails.

    First Cholesky of ``C + damping * mean(diag C) * I`` (SVD-LLM's
    whitening). When that fails (``C`` not positive semi-definite to working
    precision) or the damped matrix' condition number is certainly above
    ``max_condition`` (its lower bound ``(max L_ii / min L_ii)^2`` from the
    Cholesky factor exceeds it), the fallback floors the eigenvalues of the symmetric
    part of ``C`` at ``damping * lambda_max`` (relative to the spectrum,
    not to the trace) and takes the triangular factor of ``Q diag(lambda')
    Q^T`` from a QR decomposition of ``diag(lambda')^{1/2} Q^T``, which
    exists for any symmetric input.

    Parameters
    ----------
    covariance : torch.Tensor
        Square ``(d, d)`` Gram matrix, finite (e.g. ``E[x x^T]``) and
        symmetric up to rounding (``max |C - C^T| <= 1000 * eps * max |C|``
        in its dtype): the Cholesky path reads one triangle only.
    damping : float
        Relative damping of the Cholesky path and floor of the fallback.
    max_condition : float
        Largest condition number of the damped matrix the Cholesky path
        accepts (tested on the lower bound ``condition_bound``).

    Returns
    -------
    Whitening
        The factor, the path taken and the condition numbers.

    Examples
    --------
    >>> w = whitening_factor(torch.diag(torch.tensor([4.0, 1.0, 0.0])))
    >>> w.path, w.condition, round(w.condition_bound / w.factor_condition, 9)
    ('cholesky', inf, 1.0)
    """
    _check_tensor(covariance, "covariance", ndim=2)
    if covariance.shape[0] != covariance.shape[1]:
        raise ValueError(f"covariance must be square (d, d), got shape "
                         f"{tuple(covariance.shape)}")
    damping = check_positive(damping, "damping")
    max_condition = check_positive(max_condition, "max_condition")
    asym = float((covariance - covariance.T).abs().max()) if covariance.numel() else 0.0
    size = float(covariance.abs().max()) if covariance.numel() else 0.0
    if asym > 1e3 * torch.finfo(covariance.dtype).eps * size:
        raise ValueError(f"covariance must be symmetric (a Gram matrix), got max |C - C^T| = "
                         f"{asym:.3g} for max |C| = {size:.3g}")
    return _whitening(covariance.detach().double(), damping, max_condition, exact=True)


def _conditions(C: torch.Tensor, delta: float) -> tuple[float, float]:
    """``cond(C)`` (``inf`` when singular) and ``cond(C + delta I)``, from the eigenvalues."""
    lam = torch.linalg.eigvalsh((C + C.T) / 2)
    lo, hi = float(lam[0]), float(lam[-1])
    return (hi / lo if lo > 0 else math.inf,
            (hi + delta) / (lo + delta) if lo + delta > 0 else math.inf)


def _whitening(C: torch.Tensor, eps: float = 1e-6, max_condition: float = 1e12,
               exact: bool = False) -> Whitening:
    """The factor; ``exact`` also computes the Cholesky path's condition numbers (eigenvalues)."""
    d = C.shape[0]
    scale = float(torch.diagonal(C).mean().clamp_min(1e-30))
    eye = torch.eye(d, dtype=C.dtype, device=C.device)
    delta = eps * scale
    L, info = torch.linalg.cholesky_ex(C + delta * eye)
    if int(info) == 0 and bool(torch.isfinite(L).all()):
        diag = torch.diagonal(L)
        bound = (float(diag.max()) / float(diag.min())) ** 2 if d else 1.0
        if bound <= max_condition:
            condition, damped = _conditions(C, delta) if exact else (None, None)
            return Whitening(L, "cholesky", condition, damped, bound)
    lam, Q = torch.linalg.eigh((C + C.T) / 2)
    lo = float(lam[0]) if d else 1.0
    condition = float(lam[-1]) / lo if d and lo > 0 else math.inf
    floor = eps * max(float(lam[-1]) if d else 0.0, float(lam.abs().max()) if d else 0.0, 1e-30)
    lam = lam.clamp_min(floor)
    Rq = torch.linalg.qr(lam.sqrt()[:, None] * Q.T, mode="r").R
    L = Rq.T * torch.sign(torch.diagonal(Rq))[None, :]
    diag = torch.diagonal(L)
    bound = (float(diag.max()) / float(diag.min())) ** 2 if d else 1.0
    return Whitening(L.contiguous(), "eigh-floor", condition,
                     float(lam[-1]) / floor if d else 1.0, bound)


def _cholesky(C: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Lower whitening factor of ``C`` (see :func:`whitening_factor`)."""
    return _whitening(C, eps).factor


@dataclass
class _Whitened:
    """``A = R W S`` and its SVD, with the maps back to the weight's space."""

    U: torch.Tensor
    s: torch.Tensor
    Vh: torch.Tensor
    S: torch.Tensor | None  # None, a diagonal vector, or a lower-triangular matrix
    R: torch.Tensor | None  # None or an upper-triangular matrix

    def factors(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        root = self.s[:k].sqrt()
        up = self.U[:, :k] * root
        down = root[:, None] * self.Vh[:k]
        if self.R is not None:
            up = torch.linalg.solve_triangular(self.R, up, upper=True)
        if self.S is not None:
            if self.S.dim() == 1:
                down = down / self.S
            else:
                down = torch.linalg.solve_triangular(self.S, down, upper=False, left=False)
        return up, down

    def whiten(self, M: torch.Tensor) -> torch.Tensor:
        """``R M S`` for an ``out x in`` matrix."""
        return _whiten(M, self.S, self.R)

    def gradient(self, G: torch.Tensor) -> torch.Tensor:
        """The loss gradient in whitened coordinates, ``R^{-T} G S^{-T}``."""
        if self.S is not None:
            G = G / self.S if self.S.dim() == 1 else torch.linalg.solve_triangular(
                self.S.T, G, upper=True, left=False)
        if self.R is not None:
            G = torch.linalg.solve_triangular(self.R.T, G, upper=False)
        return G

    def component_gradients(self, G: torch.Tensor) -> torch.Tensor:
        """``u_i^T H v_i`` for every component: the loss' derivative in ``s_i``."""
        H = self.gradient(G)
        return ((self.U.T @ H) * self.Vh).sum(1)


def whitened_decomposition(weight: torch.Tensor, S: torch.Tensor | None = None,
                           R: torch.Tensor | None = None) -> _Whitened:
    """SVD of ``R W S`` in float64 (``S``: vector = diagonal, matrix = lower triangular).

    Parameters
    ----------
    weight : torch.Tensor
        ``(out, in)``, finite.
    S : torch.Tensor, optional
        Input-side factor: ``(in,)`` positive diagonal, or ``(in, in)``
        invertible lower triangular.
    R : torch.Tensor, optional
        Output-side factor: ``(out, out)`` invertible upper triangular.
    """
    _check_tensor(weight, "weight", ndim=2)
    m, n = weight.shape
    if S is not None:
        _check_tensor(S, "S")
        if tuple(S.shape) not in ((n,), (n, n)):
            raise ValueError(f"S must have shape ({n},) or ({n}, {n}) to match weight "
                             f"{tuple(weight.shape)}, got {tuple(S.shape)}")
        diag = S if S.dim() == 1 else torch.diagonal(S)
        if not bool((diag.detach() != 0).all()):
            raise ValueError("S must be invertible (no zero on its diagonal)")
    if R is not None:
        _check_tensor(R, "R", ndim=2)
        if tuple(R.shape) != (m, m):
            raise ValueError(f"R must have shape ({m}, {m}) to match weight "
                             f"{tuple(weight.shape)}, got {tuple(R.shape)}")
        if not bool((torch.diagonal(R).detach() != 0).all()):
            raise ValueError("R must be invertible (no zero on its diagonal)")
    # the SVD runs in float64: the factors join it there
    return _decompose(weight, None if S is None else S.detach().double(),
                      None if R is None else R.detach().double())


def _decompose(weight: torch.Tensor, S: torch.Tensor | None,
               R: torch.Tensor | None) -> _Whitened:
    W = weight.detach().double()
    U, s, Vh = torch.linalg.svd(_whiten(W, S, R), full_matrices=False)
    return _Whitened(U, s, Vh, S, R)


def _whiten(M: torch.Tensor, S: torch.Tensor | None, R: torch.Tensor | None) -> torch.Tensor:
    """``R M S`` for an ``out x in`` matrix."""
    if S is not None:
        M = M * S if S.dim() == 1 else M @ S
    return R @ M if R is not None else M


def _input_factor(kind: str | None, st: LayerStats,
                  alpha: float) -> tuple[torch.Tensor | None, Whitening | None]:
    if kind is None:
        return None, None
    if kind == "asvd":
        a = st.abs_mean.clamp_min(1e-8) ** alpha
        return a / a.mean(), None
    w = _whitening(st.covariance)
    return w.factor, w


def _output_factor(st: LayerStats, damping: float) -> tuple[torch.Tensor, Whitening]:
    M = st.out_metric
    if M is None:
        raise RuntimeError("the output metric was not collected")
    w = _whitening(M, eps=damping)
    return w.factor.T, w


# --------------------------------------------------------------------------- selection

def _dense_removed(m, n, k):
    return m * n - min(m * n, k * (m + n))


def _select_global(infos, target_removed, rule, min_rank):
    """Greedy global truncation; returns ranks and the sum of accepted predicted changes."""
    ranks = {name: len(info["delta"]) for name, info in infos.items()}
    removed = 0
    running = 0.0
    pos, neg, one = [], [], []
    counter = 0

    def push(name):
        nonlocal counter
        k = ranks[name]
        if k - 1 < min_rank:
            return
        d = float(infos[name]["delta"][k - 1])
        m, n = infos[name]["shape"]
        counter += 1
        if rule == "zero-sum":
            heapq.heappush(pos if d >= 0 else neg, (abs(d), counter, name, d))
        else:
            heapq.heappush(one, (d / (m + n), counter, name, d))

    for name in infos:
        push(name)
    while removed < target_removed:
        if rule == "zero-sum":
            first, second = (pos, neg) if running <= 0 else (neg, pos)
            heap = first if first else second
        else:
            heap = one
        if not heap:
            break
        _, _, name, d = heapq.heappop(heap)
        m, n = infos[name]["shape"]
        before = _dense_removed(m, n, ranks[name])
        ranks[name] -= 1
        removed += _dense_removed(m, n, ranks[name]) - before
        running += d
        push(name)
    return ranks, running


def _select_hybrid(infos, target_bytes, mode, min_rank, width):
    """Greedy over 'quantise a component' and 'drop a layer's last component' moves by bytes."""
    state = {}
    for name, info in infos.items():
        m, n = info["shape"]
        k = len(info["delta"])
        state[name] = {"k": k, "q": np.full(k, mode == "all"), "version": 0}

    def comp_bytes(name, i):
        m, n = infos[name]["shape"]
        return (m + n + 8) if state[name]["q"][i] else (m + n) * width

    def layer_bytes(name):
        m, n = infos[name]["shape"]
        st = state[name]
        q = int(st["q"][: st["k"]].sum())
        fact = q * (m + n + 8) + (st["k"] - q) * (m + n) * width
        return min(fact, m * n * width)

    total = sum(layer_bytes(n) for n in infos)
    heap = []
    counter = 0

    def push_drop(name):
        nonlocal counter
        st = state[name]
        t = st["k"] - 1
        if t < min_rank:
            return
        cost = float(infos[name]["delta"][t]) - (float(infos[name]["dq"][t]) if st["q"][t] else 0)
        counter += 1
        heapq.heappush(heap, (cost / comp_bytes(name, t), counter, name, "drop", t,
                              st["version"]))

    for name, info in infos.items():
        push_drop(name)
        if mode == "loss-aware":
            m, n = info["shape"]
            saved = (m + n) * width - (m + n + 8)
            for i in range(len(info["delta"])):
                counter += 1
                heapq.heappush(heap, (float(info["dq"][i]) / saved, counter, name, "quant", i, -1))
    running = 0.0
    while total > target_bytes and heap:
        _, _, name, kind, i, version = heapq.heappop(heap)
        st = state[name]
        before = layer_bytes(name)
        if kind == "drop":
            if version != st["version"]:
                continue
            running += float(infos[name]["delta"][i]) - (
                float(infos[name]["dq"][i]) if st["q"][i] else 0)
            st["k"] -= 1
        else:
            if st["q"][i] or i >= st["k"]:
                continue
            st["q"][i] = True
            running += float(infos[name]["dq"][i])
        st["version"] += 1
        total += layer_bytes(name) - before
        push_drop(name)
    return {n: (state[n]["k"], state[n]["q"][: state[n]["k"]].copy()) for n in infos}, running


# --------------------------------------------------------------------------- entry point

def _set_module(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)


def _finite(w: Whitening | None, field_: str) -> float | None:
    """A condition number for the report: ``None`` when not computed or infinite (singular)."""
    value = None if w is None else getattr(w, field_)
    return value if value is not None and math.isfinite(value) else None


def _whitened_condition(w: Whitening | None) -> float | None:
    """The factored matrix' condition: exact on the fallback, the lower bound on Cholesky."""
    if w is None:
        return None
    return w.factor_condition if w.path == "eigh-floor" else w.condition_bound


def _check_container(model: Any) -> nn.Module:
    """``model`` as a module that can hold its replaced layers (not a bare linear layer)."""
    check_module(model)
    if isinstance(model, nn.Linear):
        raise ValueError(f"model must be a module holding linear layers, got a bare "
                         f"{type(model).__name__}, which cannot replace itself: wrap it in a "
                         f"module, e.g. nn.Sequential(layer)")
    return model


def compress_model(model: nn.Module, method: str = "svd-llm", ratio: float = 0.4,
                   calibration: Any = None, *, objective: Objective | None = None,
                   include: Any = None, exclude: Any = None, inplace: bool = False,
                   correction: bool = False, quantize: str | None = None, alpha: float = 0.5,
                   top_k: int = 32, output_damping: float = 1e-2, min_rank: int = 1,
                   correction_batches: int = 8, seed: int = 0,
                   progress: bool = False) -> tuple[nn.Module, CompressionReport]:
    """Compress the ``nn.Linear`` layers of ``model`` by whitened SVD.

    Parameters
    ----------
    model : nn.Module
        Any module with ``nn.Linear`` layers (only those are compressed).
    method : {"svd", "asvd", "svd-llm", "zs-svd", "io-svd"}
        See the module documentation.
    ratio : float in (0, 1)
        Fraction of the targeted layers' weight entries to remove (of bytes
        with ``quantize``).
    calibration : iterable of batches
        Required by every method but ``"svd"``; statistics are streamed.
    objective : Objective, optional
        How batches are scored; inferred for ``(B, T + 1)`` token batches
        (causal LM) and ``(x, y)`` pairs (classification).
    include, exclude : str, list of str or callable, optional
        Which linear layers to compress (by qualified name).
    inplace : bool
        Modify ``model`` itself instead of a deep copy.
    correction : bool
        ``zs-svd`` only: the one-step projected-gradient correction.
    quantize : {None, "loss-aware", "all"}
        ``io-svd`` only: the hybrid low-rank + 8-bit path.
    alpha : float
        ASVD's activation exponent.
    top_k : int
        ``io-svd``: the number of most probable tokens in the KL expansion.
    output_damping : float
        ``io-svd``: damping of the output metric, relative to its mean diagonal.
    min_rank : int
        Global selections never take a layer below this rank.
    correction_batches : int
        Batches whose gradients span the correction's subspace.

    Returns
    -------
    (model, CompressionReport)
        The compressed model (factorised layers are
        :class:`~mintlab.compress.svd.LowRankLinear`) and what was done.
    """
    t_start = time.perf_counter()
    _check_container(model)
    method = check_choice(method, "method", METHODS)
    ratio = check_ratio(ratio, "ratio")
    quantize = check_choice(quantize, "quantize", (None, "loss-aware", "all"))
    if quantize is not None and method != "io-svd":
        raise ValueError("quantize= is the hybrid path of method='io-svd'")
    if correction and method != "zs-svd":
        raise ValueError("correction=True is the one-step correction of method='zs-svd'")
    alpha = check_nonnegative(alpha, "alpha")
    top_k = check_int(top_k, "top_k", minimum=1)
    output_damping = check_positive(output_damping, "output_damping")
    min_rank = check_int(min_rank, "min_rank", minimum=0)
    correction_batches = check_int(correction_batches, "correction_batches", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    layers = find_linear_layers(model, include, exclude)
    for lname, lin in layers.items():
        if not bool(torch.isfinite(lin.weight.detach()).all()):
            raise ValueError(f"model's layer {lname!r} has NaN or infinite weights")
    batches: list[Any] = []
    model_params_before = sum(p.numel() for p in model.parameters())
    if not inplace:
        names = list(layers)
        model = copy.deepcopy(model)
        layers = {n: cast(nn.Linear, model.get_submodule(n)) for n in names}

    needs = _INPUT_KIND[method]
    stats: dict[str, LayerStats] = {}
    calib_seconds = 0.0
    objective_ = None
    if method != "svd":
        batches, objective_ = prepare_batches(calibration, objective)
        check_before_training(model, batches, objective_, "calibration")
        grads = method in ("zs-svd", "io-svd")
        stats, calib_seconds = _collect_statistics(
            model, layers, batches, objective_, inputs=True, gradients=grads,
            output_metric=method == "io-svd", top_k=top_k, seed=seed, progress=progress)

    decomps: dict[str, _Whitened] = {}
    infos: dict[str, dict[str, Any]] = {}
    whitenings: dict[str, tuple[Whitening | None, Whitening | None]] = {}
    for name, lin in layers.items():
        st = stats.get(name)
        S, w_in = _input_factor(needs, st, alpha) if needs and st is not None else (None, None)
        R, w_out = _output_factor(st, output_damping) if method == "io-svd" and st is not None \
            else (None, None)
        whitenings[name] = (w_in, w_out)
        dec = _decompose(lin.weight, S, R)
        decomps[name] = dec
        m, n = lin.weight.shape
        info: dict[str, Any] = {"shape": (m, n)}
        if method in ("zs-svd", "io-svd"):
            assert st is not None and st.grad is not None  # gradients=True collected them
            g = dec.component_gradients(st.grad)
            delta = -dec.s * g
            if method == "io-svd":
                delta = delta + 0.5 * dec.s ** 2
            info["delta"] = delta.cpu().numpy()
            if quantize is not None:
                info["dq"] = _quantisation_deltas(dec, st.grad).cpu().numpy()
        infos[name] = info

    width = next(iter(layers.values())).weight.element_size()
    dense_entries = {n: lin.weight.numel() for n, lin in layers.items()}
    total_entries = sum(dense_entries.values())
    int8 = {n: None for n in layers}
    predicted = None
    if method in ("svd", "asvd", "svd-llm"):
        ranks = {n: max(min_rank, min(min(lin.weight.shape),
                                      uniform_rank(lin.weight.shape[0], lin.weight.shape[1],
                                                   ratio)))
                 for n, lin in layers.items()}
    elif quantize is None:
        rule = "zero-sum" if method == "zs-svd" else "ascending"
        ranks, predicted = _select_global(infos, ratio * total_entries, rule, min_rank)
    else:
        target = (1.0 - ratio) * total_entries * width
        chosen, predicted = _select_hybrid(infos, target, quantize, min_rank, width)
        ranks = {n: k for n, (k, _) in chosen.items()}
        int8 = {n: q for n, (_, q) in chosen.items()}

    def is_dense(name, k):
        m, n = layers[name].weight.shape
        q = 0 if int8[name] is None else int(int8[name].sum())
        fact = q * (m + n + 8) + (k - q) * (m + n) * width
        return fact >= m * n * width

    dense = {n: is_dense(n, ranks[n]) for n in layers}
    if correction:
        _correct(model, layers, decomps, ranks, dense, batches, objective_,
                 correction_batches, seed)

    report = CompressionReport(method=method if quantize is None else f"{method}+{quantize}",
                               ratio=ratio, calibration_seconds=calib_seconds,
                               predicted_loss_change=predicted,
                               model_params_before=model_params_before)
    for name, lin in layers.items():
        m, n = lin.weight.shape
        k = ranks[name]
        full = min(m, n)
        w_in, w_out = whitenings[name]
        whitening = {"whitening": None if w_in is None else w_in.path,
                     "condition": _finite(w_in, "condition"),
                     "whitened_condition": _whitened_condition(w_in)}
        if w_out is not None:
            whitening.update(output_whitening=w_out.path,
                             output_condition=_finite(w_out, "condition"))
        if dense[name]:
            report.layers[name] = {"shape": [m, n], "rank": full, "full_rank": full,
                                   "dense": True, "int8": 0, "params": m * n,
                                   "bytes": m * n * width, **whitening}
            continue
        up, down = decomps[name].factors(k)
        q = int8[name]
        if q is not None and q.any():
            qt = torch.as_tensor(q, device=up.device)
            up = torch.where(qt[None, :], _quantize_int8(up, 0), up)
            down = torch.where(qt[:, None], _quantize_int8(down, 1), down)
        w = lin.weight
        new = LowRankLinear.from_factors(
            up.to(w.dtype), down.to(w.dtype),
            None if lin.bias is None else lin.bias.detach(),
            None if q is None else torch.as_tensor(q, device=w.device))
        new.to(w.device)
        _set_module(model, name, new)
        n8 = 0 if q is None else int(q.sum())
        report.layers[name] = {"shape": [m, n], "rank": k, "full_rank": full, "dense": False,
                               "int8": n8, "params": k * (m + n),
                               "bytes": (k - n8) * (m + n) * width + n8 * (m + n + 8),
                               **whitening}
    report.params_before = total_entries
    report.params_after = sum(v["params"] for v in report.layers.values())
    report.bytes_before = total_entries * width
    report.bytes_after = sum(v["bytes"] for v in report.layers.values())
    report.model_params_after = sum(p.numel() for p in model.parameters())
    report.seconds = time.perf_counter() - t_start
    return model, report


def _quantisation_deltas(dec: _Whitened, G: torch.Tensor) -> torch.Tensor:
    """Predicted loss change of storing each component in 8 bits (first + second order)."""
    k = len(dec.s)
    up, down = dec.factors(k)
    uq, dq = _quantize_int8(up, 0), _quantize_int8(down, 1)
    first = ((uq.T @ G) * dq).sum(1) - ((up.T @ G) * down).sum(1)
    # whitened rank-one errors: a b^T - a0 b0^T with a = R uq_i, b = S^T dq_i
    a, a0 = _left(dec, uq), _left(dec, up)
    b, b0 = _right(dec, dq), _right(dec, down)
    second = ((a * a).sum(0) * (b * b).sum(1) + (a0 * a0).sum(0) * (b0 * b0).sum(1)
              - 2 * (a * a0).sum(0) * (b * b0).sum(1))
    return first + 0.5 * second.clamp_min(0)


def _left(dec, up):
    return dec.R @ up if dec.R is not None else up


def _right(dec, down):
    if dec.S is None:
        return down
    return down * dec.S if dec.S.dim() == 1 else down @ dec.S


def _correct(model, layers, decomps, ranks, dense, batches, objective, n_batches, seed):
    """ZS-SVD's correction: project ``W - W_r`` on the span of gradients at ``W_r``, re-truncate."""
    targets = {n: lin for n, lin in layers.items() if not dense[n]}
    if not targets:
        return
    originals = {n: lin.weight.detach().clone() for n, lin in targets.items()}
    truncated = {}
    with torch.no_grad():
        for n, lin in targets.items():
            up, down = decomps[n].factors(ranks[n])
            truncated[n] = (up @ down)
            lin.weight.copy_(truncated[n].to(lin.weight.dtype))
    g = torch.Generator().manual_seed(int(seed) + 7)
    pick = torch.randperm(len(batches), generator=g)[: max(1, int(n_batches))].tolist()
    stats, _ = _collect_statistics(model, targets, [batches[i] for i in pick], objective,
                                   inputs=False, batch_gradients=True)
    with torch.no_grad():
        for n, lin in targets.items():
            Gs = torch.stack([gb.double().reshape(-1) for gb in stats[n].batch_grads])
            delta = (originals[n].double() - truncated[n]).reshape(-1)
            gram = Gs @ Gs.T
            coef = torch.linalg.lstsq(gram, (Gs @ delta)[:, None]).solution[:, 0]
            corrected = truncated[n] + (coef @ Gs).reshape(truncated[n].shape)
            old = decomps[n]
            decomps[n] = _decompose(corrected, old.S, old.R)
            lin.weight.copy_(originals[n])
