"""Soft-label storage: raw, top-k, b-bit, PCA and the vector-quantised autoencoder.

The last is ``vq-soft-labels``.

Every codec is fitted on, and encodes, a ``(n_views, n, C)`` array of
teacher probabilities; :meth:`payload` is exactly what is stored (raw
bytes) and :meth:`decode` the probabilities a student trains on. Bit
accounting, per label vector of ``C`` classes (plus what is shared):

* :class:`RawLabels` — ``32 C`` bits (float32);
* :class:`TopKLabels` — ``k`` (index, value) pairs: ``k (ceil(log2 C) + 16)``
  bits (the index in the fewest whole bytes, the value in float16); the rest
  of the mass is spread uniformly when decoding;
* :class:`QuantizedLabels` — ``b C`` bits plus a float16 scale;
* :class:`PCALabels` — ``16 k`` bits of float16 coefficients, plus the mean
  and basis (``C (k + 1)`` float16) once;
* :class:`VQLabels` — a VQ autoencoder (encoder MLP, ``M`` codebooks of ``K``
  entries each over ``M`` slices of the latent, decoder MLP to logits) trained
  on the teacher's labels with the straight-through estimator and a
  commitment loss: ``M ceil(log2 K)`` bits per label (codes packed
  bit-tight), plus the decoder and the codebooks in float16 once.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._random import seeded_global_rng
from .._validation import check_int, check_positive, describe
from . import _checks

__all__ = ["RawLabels", "TopKLabels", "QuantizedLabels", "PCALabels", "VQLabels",
           "SoftLabelVQAE", "pack_bits", "unpack_bits"]


def _check_probs(P: Any, name: str = "P") -> torch.Tensor:
    if not isinstance(P, torch.Tensor):
        raise TypeError(f"{name} must be a (n_views, n, C) torch tensor of probabilities, got "
                        f"{describe(P)}")
    if P.dim() != 3:
        raise ValueError(f"{name} must be a (n_views, n, C) tensor, got shape {tuple(P.shape)}")
    if P.numel() == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(P.shape)}")
    if not P.is_floating_point():
        raise TypeError(f"{name} must hold floating-point probabilities, got dtype {P.dtype}")
    P = P.detach()
    if not bool(torch.isfinite(P).all()):
        raise ValueError(f"{name} must be finite probabilities, got NaN or infinite values")
    if bool((P < 0).any()):
        raise ValueError(f"{name} must be non-negative probabilities, got minimum "
                         f"{float(P.min()):.4g}")
    if bool((P.sum(-1) <= 0).any()):
        raise ValueError(f"{name} must have a positive sum in every label vector (last axis), "
                         "got a vector of zeros")
    return P.float()


def pack_bits(values: np.ndarray, bits: int) -> bytes:
    """Pack non-negative integers < 2**bits into a bit string (big-endian within bytes)."""
    v = np.asarray(values, dtype=np.int64).ravel()
    if v.size and (v.min() < 0 or v.max() >= 2 ** bits):
        raise ValueError(f"values must be in [0, 2**{bits})")
    b = ((v[:, None] >> np.arange(bits - 1, -1, -1)) & 1).astype(np.uint8)
    return np.packbits(b.ravel()).tobytes()


def unpack_bits(data: bytes, bits: int, count: int) -> np.ndarray:
    b = np.unpackbits(np.frombuffer(data, dtype=np.uint8))[: count * bits].reshape(count, bits)
    return (b.astype(np.int64) << np.arange(bits - 1, -1, -1)).sum(1)


def _index_bytes(C: int) -> int:
    return max(1, math.ceil(math.ceil(math.log2(max(C, 2))) / 8))


class RawLabels:
    """Float32 labels, stored as they are."""

    def __init__(self, P: torch.Tensor) -> None:
        self.P = _check_probs(P)

    def payload(self) -> bytes:
        return self.P.numpy().astype(np.float32).tobytes()

    def decode(self) -> torch.Tensor:
        return self.P


class TopKLabels:
    """The ``k`` largest probabilities with their indices; the rest spread uniformly."""

    def __init__(self, P: torch.Tensor, k: int) -> None:
        P = _check_probs(P)
        self.k = check_int(k, "k", minimum=1)
        self.shape = P.shape
        vals, idx = P.topk(min(self.k, P.shape[-1]), dim=-1)
        self.vals = vals.half()
        self.idx = idx

    def payload(self) -> bytes:
        dt = np.uint8 if _index_bytes(self.shape[-1]) == 1 else np.uint16
        return self.idx.numpy().astype(dt).tobytes() + self.vals.numpy().tobytes()

    def decode(self) -> torch.Tensor:
        V, n, C = self.shape
        vals = self.vals.float()
        rest = (1 - vals.sum(-1, keepdim=True)).clamp_min(0) / max(C - vals.shape[-1], 1)
        out = rest.expand(V, n, C).clone()
        out.scatter_(-1, self.idx, vals)
        return out / out.sum(-1, keepdim=True)


class QuantizedLabels:
    """``bits``-bit uniform quantisation of each label vector (scale: its max, float16)."""

    def __init__(self, P: torch.Tensor, bits: int) -> None:
        P = _check_probs(P)
        self.bits = check_int(bits, "bits", minimum=1)
        if self.bits > 32:
            raise ValueError(f"bits must be <= 32, got {self.bits}")
        self.shape = P.shape
        levels = 2 ** self.bits - 1
        self.scale = P.amax(-1, keepdim=True).clamp_min(1e-8).half()
        self.q = torch.round(P / self.scale.float() * levels).clamp(0, levels).long()

    def payload(self) -> bytes:
        return pack_bits(self.q.numpy(), self.bits) + self.scale.numpy().tobytes()

    def decode(self) -> torch.Tensor:
        P = self.q.float() / (2 ** self.bits - 1) * self.scale.float()
        return P / P.sum(-1, keepdim=True).clamp_min(1e-12)


class PCALabels:
    """Labels projected on their top-``k`` principal directions (float16 everywhere)."""

    def __init__(self, P: torch.Tensor, k: int) -> None:
        P = _check_probs(P)
        self.k = check_int(k, "k", minimum=1)
        self.shape = P.shape
        flat = P.reshape(-1, P.shape[-1]).double()
        self.mean = flat.mean(0)
        _, _, Vh = torch.linalg.svd(flat - self.mean, full_matrices=False)
        self.basis = Vh[: self.k].half()
        self.mean = self.mean.half()
        self.coef = ((flat - self.mean.double()) @ self.basis.double().T).half()

    def payload(self) -> bytes:
        return self.coef.numpy().tobytes() + self.basis.numpy().tobytes() + \
            self.mean.numpy().tobytes()

    def decode(self) -> torch.Tensor:
        flat = self.coef.float() @ self.basis.float() + self.mean.float()
        flat = flat.clamp_min(0)
        flat = flat / flat.sum(-1, keepdim=True).clamp_min(1e-12)
        return flat.reshape(self.shape)


class SoftLabelVQAE(nn.Module):
    """Encoder MLP, ``M`` slices each snapped to the nearest of ``K`` codewords, decoder MLP."""

    def __init__(self, n_classes: int, *, n_codebooks: int = 2, codebook_size: int = 256,
                 code_dim: int = 16, hidden: int = 128) -> None:
        super().__init__()
        n_classes = check_int(n_classes, "n_classes", minimum=1)
        n_codebooks = check_int(n_codebooks, "n_codebooks", minimum=1)
        codebook_size = check_int(codebook_size, "codebook_size", minimum=1)
        code_dim = check_int(code_dim, "code_dim", minimum=1)
        hidden = check_int(hidden, "hidden", minimum=1)
        self.M, self.K, self.d = n_codebooks, codebook_size, code_dim
        self.encoder = nn.Sequential(nn.Linear(n_classes, hidden), nn.GELU(),
                                     nn.Linear(hidden, n_codebooks * code_dim))
        self.decoder = nn.Sequential(nn.Linear(n_codebooks * code_dim, hidden), nn.GELU(),
                                     nn.Linear(hidden, n_classes))
        self.codebooks = nn.Parameter(torch.randn(n_codebooks, codebook_size, code_dim) * 0.1)

    def _inputs(self, P):
        return torch.log(P.clamp_min(1e-6))

    def _check_input(self, P: Any) -> None:
        _checks.tensor(P, "P", ndim=2)
        if P.shape[-1] != self.encoder[0].in_features:
            raise ValueError(f"P must have shape (n, {self.encoder[0].in_features}) (n_classes), "
                             f"got {tuple(P.shape)}")
        if P.dtype != self.codebooks.dtype:
            raise TypeError(f"P must have the model's dtype {self.codebooks.dtype}, got {P.dtype}")

    def codes(self, P: torch.Tensor) -> torch.Tensor:
        """``(n, M)`` indices of the nearest codewords of the encoded labels."""
        self._check_input(P)
        z = self.encoder(self._inputs(P)).view(-1, self.M, self.d)
        d = ((z[:, :, None, :] - self.codebooks[None]) ** 2).sum(-1)
        return d.argmin(-1)

    def decode_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """Probabilities decoded from ``(n, M)`` codes."""
        _checks.tensor(codes, "codes", ndim=2)
        if codes.is_floating_point() or codes.is_complex():
            raise TypeError(f"codes must hold integer codeword indices, got dtype {codes.dtype}")
        if codes.shape[1] != self.M:
            raise ValueError(f"codes must have shape (n, {self.M}) (n_codebooks), got "
                             f"{describe(codes)}")
        lo, hi = int(codes.min()), int(codes.max())
        if lo < 0 or hi >= self.K:
            raise ValueError(f"codes must lie in [0, {self.K}) (codebook_size), got values in "
                             f"[{lo}, {hi}]")
        q = self.codebooks[torch.arange(self.M)[None, :], codes]
        return F.softmax(self.decoder(q.reshape(len(codes), -1)), -1)

    def forward(self, P: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(logits, vq loss, codes)`` of label vectors ``P (n, n_classes)`` (training)."""
        z = self.encoder(self._inputs(P)).view(-1, self.M, self.d)
        d = ((z[:, :, None, :].detach() - self.codebooks[None]) ** 2).sum(-1)
        idx = d.argmin(-1)
        q = self.codebooks[torch.arange(self.M)[None, :], idx]
        vq = F.mse_loss(q, z.detach()) + 0.25 * F.mse_loss(z, q.detach())
        zq = z + (q - z).detach()
        logits = self.decoder(zq.reshape(len(P), -1))
        return logits, vq, idx


class VQLabels:
    """Soft labels stored as VQ codes (see the module notes); ``fit`` trains the autoencoder."""

    def __init__(self, P: torch.Tensor, *, n_codebooks: int = 2, codebook_size: int = 256,
                 code_dim: int = 16, hidden: int = 128, steps: int = 1500, lr: float = 2e-3,
                 batch_size: int = 512, seed: int = 0) -> None:
        P = _check_probs(P)
        self.shape = P.shape
        steps = check_int(steps, "steps", minimum=1)
        lr = check_positive(lr, "lr")
        batch_size = check_int(batch_size, "batch_size", minimum=1)
        seed = _checks.seed(seed)
        with seeded_global_rng(seed):
            self.model = SoftLabelVQAE(P.shape[-1], n_codebooks=n_codebooks,
                                       codebook_size=codebook_size, code_dim=code_dim,
                                       hidden=hidden)
        flat = P.reshape(-1, P.shape[-1])
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():  # codebooks start at encoded labels (k-means++-free init)
            z = self.model.encoder(self.model._inputs(flat)).view(-1, self.model.M,
                                                                  self.model.d)
            pick = torch.randint(0, len(flat), (self.model.K,), generator=g)
            self.model.codebooks.copy_(z[pick].transpose(0, 1))
        opt = torch.optim.Adam(self.model.parameters(), lr=lr)
        for step in range(check_int(steps, "steps", minimum=1)):
            b = torch.randint(0, len(flat), (min(batch_size, len(flat)),), generator=g)
            logits, vq, idx = self.model(flat[b])
            rec = F.kl_div(F.log_softmax(logits, -1), flat[b].clamp_min(1e-12),
                           reduction="batchmean")
            loss = rec + vq
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if step % 100 == 99:  # re-seed unused codewords at encoded labels
                with torch.no_grad():
                    used = torch.zeros(self.model.M, self.model.K, dtype=torch.bool)
                    used[torch.arange(self.model.M)[None, :].expand_as(idx), idx] = True
                    z = self.model.encoder(self.model._inputs(flat[b])).view(
                        -1, self.model.M, self.model.d)
                    for m in range(self.model.M):
                        dead = (~used[m]).nonzero().flatten()
                        if len(dead):
                            src = torch.randint(0, len(z), (len(dead),), generator=g)
                            self.model.codebooks[m, dead] = z[src, m]
        self.model.eval()
        with torch.no_grad():
            self.codes = self.model.codes(flat)
            for prm in [self.model.codebooks, *self.model.decoder.parameters()]:
                prm.copy_(prm.half().float())  # decode with exactly what is stored
        self.bits = max(1, math.ceil(math.log2(self.model.K)))

    def payload(self) -> bytes:
        shared = [self.model.codebooks] + [p for p in self.model.decoder.parameters()]
        return pack_bits(self.codes.numpy(), self.bits) + b"".join(
            p.detach().half().numpy().tobytes() for p in shared)

    @property
    def code_bytes(self) -> int:
        return math.ceil(self.codes.numel() * self.bits / 8)

    def decode(self) -> torch.Tensor:
        with torch.no_grad():
            return self.model.decode_codes(self.codes).reshape(self.shape)
