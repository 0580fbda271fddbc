"""Generator-based distillation (``d3m``) and the generator behind coreset expansion.

The papers use a pretrained text-to-image diffusion model; here the
"foundation model" is a small conditional VAE that mintlab pre-trains on
glyph classes *disjoint from the target classes* (classes 100-199 of
:func:`~mintlab.datasets.make_glyph_classes` when the targets are 0-99),
cached under the user's cache directory. Its weights are public in the
papers' setting and are not counted in the distilled storage.

* :class:`PromptVAE` — decoder ``p(x | z, c)`` with a conditioning vector
  ``c`` (the analogue of a text embedding; during pre-training each
  pre-training class has one); :func:`d3m` is textual inversion: one new
  vector per target class, learned with the generator frozen by maximising
  the ELBO of that class's real images. The distilled set stores the vectors
  and a seed; training images are generated anew at every epoch.
* :class:`SuperResVAE` — decoder ``p(x_high | z, x_low)``: a learned 2x
  upsampler whose latent ``z`` adds controlled variability (sampled with
  standard deviation ``variability``), used by
  :func:`~mintlab.distill.coreset_expansion`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal, cast, overload

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._cache import cached_module
from .._random import seeded_global_rng
from .._validation import check_choice, check_int, check_nonnegative, check_positive
from ..typing import ArrayLike
from . import _checks
from .data import DistilledSet
from .dd import check_images_and_labels

__all__ = ["PromptVAE", "SuperResVAE", "pretrain_generator", "d3m"]


class _Encoder(nn.Module):
    def __init__(self, in_ch, latent, size):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(in_ch, 32, 3, 2, 1), nn.GELU(),
                                 nn.Conv2d(32, 64, 3, 2, 1), nn.GELU(), nn.Flatten())
        self.out = nn.Linear(64 * (size // 4) ** 2, 2 * latent)

    def forward(self, x):
        mu, logvar = self.out(self.net(x)).chunk(2, -1)
        return mu, logvar.clamp(-8, 8)


class _Decoder(nn.Module):
    def __init__(self, cond_dim, size, extra_ch=0):
        super().__init__()
        self.size = size
        self.fc = nn.Sequential(nn.Linear(cond_dim, 256), nn.GELU(),
                                nn.Linear(256, 64 * (size // 4) ** 2), nn.GELU())
        self.up = nn.Sequential(nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.GELU(),
                                nn.ConvTranspose2d(32, 16, 4, 2, 1), nn.GELU())
        self.head = nn.Conv2d(16 + extra_ch, 1, 3, padding=1)

    def forward(self, h, skip=None):
        s = self.size // 4
        x = self.up(self.fc(h).view(-1, 64, s, s))
        if skip is not None:
            x = torch.cat([x, skip], 1)
        return self.head(x)[:, 0]  # logits of pixel intensities


def _elbo_terms(logits, x, mu, logvar, beta):
    rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)
    kl = -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum() / len(x)
    return rec + beta * kl


def _check_batch(x: Any, name: str, size: int) -> None:
    """Shape and kind of a training batch (no pass over the values: called every step)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch tensor, got {_checks.describe(x)}")
    if x.ndim != 3 or tuple(x.shape[1:]) != (size, size) or x.shape[0] == 0:
        raise ValueError(f"{name} must have shape (n, {size}, {size}) with n >= 1, got "
                         f"{tuple(x.shape)}")


def _check_size(size: Any) -> int:
    size = check_int(size, "size", minimum=4)
    if size % 4:
        raise ValueError(f"size must be a multiple of 4 (two stride-2 stages), got {size}")
    return size


class PromptVAE(nn.Module):
    """``q(z | x)``, ``p(x | z, c)``; ``c`` a conditioning vector of ``cond_dim`` numbers."""

    def __init__(self, size: int = 16, latent: int = 8, cond_dim: int = 16,
                 n_pretrain_classes: int = 100, beta: float = 2.0) -> None:
        super().__init__()
        size = _check_size(size)
        latent = check_int(latent, "latent", minimum=1)
        cond_dim = check_int(cond_dim, "cond_dim", minimum=1)
        n_pretrain_classes = check_int(n_pretrain_classes, "n_pretrain_classes", minimum=1)
        beta = check_nonnegative(beta, "beta")
        self.size, self.latent, self.cond_dim, self.beta = size, latent, cond_dim, beta
        self.encoder = _Encoder(1, latent, size)
        self.decoder = _Decoder(latent + cond_dim, size)
        self.prompts = nn.Embedding(n_pretrain_classes, cond_dim)
        nn.init.normal_(self.prompts.weight, std=1.0)

    def loss(self, x: torch.Tensor, c: torch.Tensor,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """The negative ELBO (mean over the batch) of images ``x (n, size, size)`` under
        conditioning vectors ``c (n, cond_dim)``."""
        _check_batch(x, "x", self.size)
        if not isinstance(c, torch.Tensor) or c.shape != (x.shape[0], self.cond_dim):
            raise ValueError(f"c must be a ({x.shape[0]}, {self.cond_dim}) tensor (one "
                             f"conditioning vector per image), got {_checks.describe(c)}")
        mu, logvar = self.encoder(x[:, None])
        eps = torch.randn(mu.shape, generator=generator)
        z = mu + (0.5 * logvar).exp() * eps
        return _elbo_terms(self.decoder(torch.cat([z, c], -1)), x, mu, logvar, self.beta)

    @torch.no_grad()
    def sample(self, c: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` images for each row of ``c``: ``(len(c) * n, size, size)``, class-major."""
        _checks.tensor(c, "c", ndim=2)
        if c.shape[1] != self.cond_dim:
            raise ValueError(f"c must have shape (k, {self.cond_dim}) (cond_dim), got "
                             f"{tuple(c.shape)}")
        n = check_int(n, "n", minimum=1)
        if not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator, got "
                            f"{type(generator).__name__}")
        return self._sample(c, n, generator)

    @torch.no_grad()
    def _sample(self, c: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
        """:meth:`sample` without the argument checks (a sampler's every epoch)."""
        z = torch.randn(len(c) * n, self.latent, generator=generator)
        return torch.sigmoid(self.decoder(torch.cat([z, c.repeat_interleave(n, 0)], -1)))


class SuperResVAE(nn.Module):
    """``q(z | x_high, x_low)``, ``p(x_high | z, x_low)`` for 2x upsampling with variability."""

    def __init__(self, size: int = 16, latent: int = 8, beta: float = 1.0) -> None:
        super().__init__()
        size = _check_size(size)
        latent = check_int(latent, "latent", minimum=1)
        beta = check_nonnegative(beta, "beta")
        self.size, self.latent, self.beta = size, latent, beta
        self.encoder = _Encoder(2, latent, size)
        self.low = nn.Sequential(nn.Flatten(), nn.Linear((size // 2) ** 2, 64), nn.GELU())
        self.decoder = _Decoder(latent + 64, size, extra_ch=1)

    def _up(self, low):
        return F.interpolate(low[:, None], size=(self.size, self.size), mode="bilinear",
                             align_corners=False)

    def loss(self, x: torch.Tensor, low: torch.Tensor,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """The negative ELBO (mean over the batch) of ``x (n, size, size)`` given its
        half-resolution version ``low (n, size/2, size/2)``."""
        _check_batch(x, "x", self.size)
        _check_batch(low, "low", self.size // 2)
        if low.shape[0] != x.shape[0]:
            raise ValueError(f"low must hold one image per image of x ({x.shape[0]}), got "
                             f"{low.shape[0]}")
        up = self._up(low)
        mu, logvar = self.encoder(torch.cat([x[:, None], up], 1))
        z = mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=generator)
        logits = self.decoder(torch.cat([z, self.low(low)], -1), skip=up)
        return _elbo_terms(logits, x, mu, logvar, self.beta)

    @torch.no_grad()
    def expand(self, low: torch.Tensor, variability: float,
               generator: torch.Generator) -> torch.Tensor:
        """Upsample ``(n, size/2, size/2)`` images, with latent noise of std ``variability``."""
        _checks.images(low, "low")
        half = self.size // 2
        if tuple(low.shape[1:]) != (half, half):
            raise ValueError(f"low must hold {half}x{half} images (half the upsampler's size "
                             f"{self.size}), got shape {tuple(low.shape)}")
        variability = check_nonnegative(variability, "variability")
        if not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator, got "
                            f"{type(generator).__name__}")
        return self._expand(low, variability, generator)

    @torch.no_grad()
    def _expand(self, low: torch.Tensor, variability: float,
                generator: torch.Generator) -> torch.Tensor:
        """:meth:`expand` without the argument checks (a sampler's every epoch)."""
        z = variability * torch.randn(len(low), self.latent, generator=generator)
        return torch.sigmoid(self.decoder(torch.cat([z, self.low(low)], -1), skip=self._up(low)))


def downsample(X: torch.Tensor) -> torch.Tensor:
    """2x average-pool of ``(n, H, W)`` images."""
    return F.avg_pool2d(X[:, None], 2)[:, 0]


@overload
def pretrain_generator(kind: Literal["prompt"], *, n_classes: int = ..., first_class: int = ...,
                       per_class: int = ..., steps: int = ..., seed: int = ...,
                       cache: bool = ...) -> PromptVAE: ...
@overload
def pretrain_generator(kind: Literal["superres"], *, n_classes: int = ...,
                       first_class: int = ..., per_class: int = ..., steps: int = ...,
                       seed: int = ..., cache: bool = ...) -> SuperResVAE: ...
@overload
def pretrain_generator(kind: str, *, n_classes: int = ..., first_class: int = ...,
                       per_class: int = ..., steps: int = ..., seed: int = ...,
                       cache: bool = ...) -> PromptVAE | SuperResVAE: ...
def pretrain_generator(kind: str, *, n_classes: int = 100, first_class: int = 100,
                       per_class: int = 30, steps: int = 1500, seed: int = 0,
                       cache: bool = True) -> PromptVAE | SuperResVAE:
    """Pre-train the ``"prompt"`` or ``"superres"`` generator on glyph classes disjoint from
    the targets (``first_class ..``), cached."""
    check_choice(kind, "kind", ("prompt", "superres"))
    steps = check_int(steps, "steps", minimum=1)
    n_classes = check_int(n_classes, "n_classes", minimum=1)
    first_class = check_int(first_class, "first_class", minimum=0)
    per_class = check_int(per_class, "per_class", minimum=1)
    seed = _checks.seed(seed)
    _checks.flag(cache, "cache")

    def train() -> nn.Module:
        from mintlab.datasets import make_glyph_classes
        X_np, y_np = make_glyph_classes(n_classes, per_class, seed=1000 + seed,
                                        first_class=first_class)
        X, y = torch.as_tensor(X_np), torch.as_tensor(y_np)
        with seeded_global_rng(seed):
            model: PromptVAE | SuperResVAE = (PromptVAE(n_pretrain_classes=n_classes)
                                              if kind == "prompt" else SuperResVAE())
        opt = torch.optim.Adam(model.parameters(), lr=2e-3)
        g = torch.Generator().manual_seed(seed)
        for _ in range(steps):
            b = torch.randint(0, len(X), (128,), generator=g)
            if isinstance(model, PromptVAE):
                loss = model.loss(X[b], model.prompts(y[b]), g)
            else:
                loss = model.loss(X[b], downsample(X[b]), g)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return model.eval()

    if not cache:
        return cast("PromptVAE | SuperResVAE", train())
    key = hashlib.sha1(json.dumps([kind, n_classes, first_class, per_class, steps, seed,
                                   2]).encode()).hexdigest()[:12]
    def build() -> nn.Module:
        return PromptVAE(n_pretrain_classes=n_classes) if kind == "prompt" else SuperResVAE()

    return cast("PromptVAE | SuperResVAE",
                cached_module(f"generator-{kind}-{key}.pt", build, train))


def _check_init(init: Any, k: int, cond_dim: int) -> torch.Tensor:
    """``init`` as float32 ``(k, cond_dim)`` vectors: any real array-like (tensor, numpy
    array, nested lists)."""
    if isinstance(init, torch.Tensor):
        arr = init.detach().cpu()
        arr_np = (arr.float() if arr.dtype == torch.bfloat16 else arr).numpy()
    elif init is None or isinstance(init, (str, bytes, dict, set)):
        raise TypeError(f"init must be an array-like of (n_classes, cond_dim) vectors, got "
                        f"{type(init).__name__}")
    else:
        try:
            arr_np = np.asarray(init)
        except (TypeError, ValueError):
            raise ValueError(f"init must be a rectangular ({k}, {cond_dim}) array, got a ragged "
                             f"{type(init).__name__}") from None
    if arr_np.dtype.kind not in "biuf":
        raise TypeError(f"init must hold real numbers, got {type(init).__name__} of dtype "
                        f"{arr_np.dtype}")
    vec = torch.as_tensor(arr_np, dtype=torch.float32)
    if vec.shape != (k, cond_dim):
        raise ValueError(f"init must be ({k}, {cond_dim}) vectors (n_classes, cond_dim), got "
                         f"{tuple(vec.shape)}")
    if not bool(torch.isfinite(vec).all()):
        raise ValueError("init must be finite")
    return vec


def d3m(X: torch.Tensor, y: torch.Tensor, generator: PromptVAE, *, vectors_per_class: int = 1,
        steps: int = 400, lr: float = 5e-2, per_epoch: int = 10, seed: int = 0,
        init: ArrayLike | None = None) -> DistilledSet:
    """One (or a few) learned conditioning vectors per class: textual inversion on a frozen VAE.

    The stored set is the ``(n_classes * vectors_per_class, cond_dim)``
    float32 vectors and one int64 seed; its sampler generates ``per_epoch``
    images per class for every epoch. With several vectors per class, the
    first half of the steps learns one vector per class; its copies
    (perturbed) are then refined by hard EM, each real image training the
    copy that reconstructs it best, so they spread over the class's modes
    instead of all learning its mean.

    Parameters
    ----------
    X : ``(n, size, size)`` images in [0, 1] (the generator's size); y : ``(n,)`` labels
    generator : a pre-trained :class:`PromptVAE` (frozen here)
    init : optional ``(n_classes, cond_dim)`` vectors, e.g. the ``"vectors"`` of
        a one-vector-per-class result; they replace the first stage, and all
        ``steps`` then refine their copies (or, with one vector per class,
        continue from them).
    """
    if not isinstance(generator, PromptVAE):
        raise TypeError(f"generator must be a PromptVAE, got {type(generator).__name__}")
    _, k = check_images_and_labels(X, y, 1)
    if X.shape[1:] != (generator.size, generator.size):
        raise ValueError(f"X must hold {generator.size}x{generator.size} images for this "
                         f"generator, got {tuple(X.shape[1:])}")
    if (torch.bincount(y, minlength=k) == 0).any():
        raise ValueError("y must have images of every class 0 .. max(y)")
    vpc = check_int(vectors_per_class, "vectors_per_class", minimum=1)
    steps = check_int(steps, "steps", minimum=1)
    lr = check_positive(lr, "lr")
    per_epoch = check_int(per_epoch, "per_epoch", minimum=1)
    seed = _checks.seed(seed)
    init_vec = None if init is None else _check_init(init, k, generator.cond_dim)
    for p in generator.parameters():
        p.requires_grad_(False)
    g = torch.Generator().manual_seed(seed)
    by_class = [(y == c).nonzero().flatten() for c in range(k)]

    def invert(vec, n_steps, per_class_vectors):
        vec = vec.clone().requires_grad_(True)
        opt = torch.optim.Adam([vec], lr=lr)
        for _ in range(n_steps):
            ids = torch.cat([bc[torch.randint(0, len(bc), (8,), generator=g)]
                             for bc in by_class])
            slot = torch.zeros(len(ids), dtype=torch.long)
            if per_class_vectors > 1:  # hard EM: the vector that reconstructs the image best
                with torch.no_grad():
                    mu, _ = generator.encoder(X[ids][:, None])
                    cand = vec[(y[ids] * per_class_vectors)[:, None]
                               + torch.arange(per_class_vectors)]
                    logits = generator.decoder(torch.cat(
                        [mu[:, None].expand(-1, per_class_vectors, -1), cand], -1).flatten(0, 1))
                    rec = F.binary_cross_entropy_with_logits(
                        logits, X[ids].repeat_interleave(per_class_vectors, 0), reduction="none")
                    slot = rec.flatten(1).sum(1).view(-1, per_class_vectors).argmin(1)
            loss = generator.loss(X[ids], vec[y[ids] * per_class_vectors + slot], g)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return vec.detach()

    # one vector per class first; with several, each then starts from its class's vector
    # (perturbed) so none is left untrained at the generic mean prompt
    if init is None:
        vec = generator.prompts.weight.mean(0)[None].repeat(k, 1)
        vec = vec + 0.1 * torch.randn(k, generator.cond_dim, generator=g)
        vec = invert(vec, steps if vpc == 1 else (steps + 1) // 2, 1)
    else:
        assert init_vec is not None
        vec = init_vec
        if vpc == 1:
            vec = invert(vec, steps, 1)
    if vpc > 1:
        vec = vec.repeat_interleave(vpc, 0)
        vec = invert(vec + 0.3 * vec.std() * torch.randn(vec.shape, generator=g),
                     steps if init is not None else steps // 2, vpc)
    vectors = vec.detach().float()
    labels = torch.arange(k).repeat_interleave(vpc)
    per = max(1, per_epoch // vpc)

    def sampler(epoch: int):
        gen = torch.Generator().manual_seed(int(seed) * 1_000_003 + epoch)
        return generator._sample(vectors, per, gen), labels.repeat_interleave(per)

    out = DistilledSet("d3m", None, None, k, sampler=sampler,
                       extra={"vectors": vectors.numpy().astype(np.float32),
                              "seed": np.array([seed], dtype=np.int64)})
    return out
