"""Diffusion-augmented coreset expansion (``coreset-expansion``), with a VAE upsampler.

Stage 1 (:func:`patch_coreset`): for every class, candidate patches (random
crops of real images at ``crop`` of their side, resized back) are scored by
the teacher's loss on their label, and the ``n_per_class`` most informative
(lowest loss: the patches the teacher recognises best, RDED's criterion)
are kept at half resolution, 8-bit: a quarter of the bytes of a full image.
Stage 2 (:func:`coreset_expansion`): during student training every stored
patch is expanded, at each epoch afresh, by the pre-trained
:class:`~mintlab.distill.generative.SuperResVAE` (2x upsampling, latent noise
of standard deviation ``variability``: controlled variability). The coreset
alone is the same patches upsampled bilinearly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .._validation import check_int, check_nonnegative, check_ratio
from . import _checks
from .data import DistilledSet, quantize_images
from .dd import check_images_and_labels
from .generative import SuperResVAE, downsample

__all__ = ["patch_coreset", "coreset_expansion", "bilinear_coreset"]


def _crops(X, crop, n, g):
    size = X.shape[-1]
    s = max(2, int(round(crop * size)))
    out = []
    for _ in range(n):
        i, j = (int(v) for v in torch.randint(0, size - s + 1, (2,), generator=g))
        out.append(F.interpolate(X[:, None, i:i + s, j:j + s], size=(size, size),
                                 mode="bilinear", align_corners=False)[:, 0])
    return torch.stack(out, 1)  # (n_images, n_crops, H, W)


def patch_coreset(X: torch.Tensor, y: torch.Tensor, n_per_class: int,
                  teacher: Callable[[torch.Tensor], torch.Tensor], *, crop: float = 0.75,
                  crops_per_image: int = 4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The lowest-teacher-loss patches per class, at half resolution and 8 bits.

    Classes run from 0 to ``max(y)``; one without images contributes no patch.
    """
    n_per_class = check_int(n_per_class, "n_per_class", minimum=1)
    _, k = check_images_and_labels(X, y, 1)
    _checks.callable_(teacher, "teacher")
    crop = check_ratio(crop, "crop", closed_high=True)
    crops_per_image = check_int(crops_per_image, "crops_per_image", minimum=1)
    seed = _checks.seed(seed)

    g = torch.Generator().manual_seed(seed)
    keep, labels = [], []
    with torch.no_grad():
        for c in range(k):
            ids = (y == c).nonzero().flatten()
            P = _crops(X[ids], crop, crops_per_image, g).reshape(-1, X.shape[-2], X.shape[-1])
            P = torch.cat([X[ids], P])  # whole images are candidates too
            if len(P) == 0:  # a class without images gets no patch
                continue
            logits = _checks.class_scores(teacher(P), c, len(P))
            loss = F.cross_entropy(logits, torch.full((len(P),), c), reduction="none")
            keep.append(P[loss.argsort()[:n_per_class]])
            labels.append(torch.full((len(keep[-1]),), c))  # a class without images: none
    low = quantize_images(downsample(torch.cat(keep)))
    return low, torch.cat(labels)


def _stored(low, labels, method, k):
    out = DistilledSet(method, None, labels, k)
    out.extra["patches"] = (low * 255).round().to(torch.uint8).numpy()
    out.extra["labels_u8"] = labels.numpy().astype(np.uint8 if k <= 256 else np.uint16)
    out.labels = None  # stored once, under extra
    return out


def _check_coreset(low: Any, labels: Any) -> int:
    """The number of classes, ``max(labels) + 1`` (a class may have no patch)."""
    _checks.images(low, "low")
    _checks.labels(labels, "labels", n=low.shape[0])
    return int(labels.max()) + 1


def coreset_expansion(low: torch.Tensor, labels: torch.Tensor, upsampler: SuperResVAE, *,
                      variability: float = 1.0, seed: int = 0) -> DistilledSet:
    """The patch coreset, expanded each epoch by the generator."""
    k = _check_coreset(low, labels)
    if not isinstance(upsampler, SuperResVAE):
        raise TypeError(f"upsampler must be a SuperResVAE, got {type(upsampler).__name__}")
    half = upsampler.size // 2
    if tuple(low.shape[1:]) != (half, half):
        raise ValueError(f"low must hold {half}x{half} patches (half the upsampler's size "
                         f"{upsampler.size}), got shape {tuple(low.shape)}")
    variability = check_nonnegative(variability, "variability")
    seed = _checks.seed(seed)
    out = _stored(low, labels, "coreset-expansion", k)

    def sampler(epoch):
        gen = torch.Generator().manual_seed(int(seed) * 1_000_003 + epoch)
        return upsampler._expand(low, variability, gen), labels

    out.sampler = sampler
    return out


def bilinear_coreset(low: torch.Tensor, labels: torch.Tensor, size: int) -> DistilledSet:
    """The patch coreset alone: bilinear upsampling, no generator."""
    k = _check_coreset(low, labels)
    size = check_int(size, "size", minimum=1)
    out = _stored(low, labels, "coreset", k)
    up = F.interpolate(low[:, None], size=(size, size), mode="bilinear",
                       align_corners=False)[:, 0]
    out.sampler = lambda epoch: (up, labels)
    return out
