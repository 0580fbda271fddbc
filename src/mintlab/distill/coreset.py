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

import numpy as np
import torch
import torch.nn.functional as F

from .._validation import check_int
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


def patch_coreset(X, y, n_per_class: int, teacher, *, crop: float = 0.75,
                  crops_per_image: int = 4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The lowest-teacher-loss patches per class, at half resolution and 8 bits."""
    n_per_class = check_int(n_per_class, "n_per_class", minimum=1)
    _, k = check_images_and_labels(X, y, 1)
    g = torch.Generator().manual_seed(seed)
    keep, labels = [], []
    with torch.no_grad():
        for c in range(k):
            ids = (y == c).nonzero().flatten()
            P = _crops(X[ids], crop, crops_per_image, g).reshape(-1, X.shape[-2], X.shape[-1])
            P = torch.cat([X[ids], P])  # whole images are candidates too
            loss = F.cross_entropy(teacher(P), torch.full((len(P),), c), reduction="none")
            keep.append(P[loss.argsort()[:n_per_class]])
            labels.append(torch.full((n_per_class,), c))
    low = quantize_images(downsample(torch.cat(keep)))
    return low, torch.cat(labels)


def _stored(low, labels, method, k):
    out = DistilledSet(method, None, labels, k)
    out.extra["patches"] = (low * 255).round().to(torch.uint8).numpy()
    out.extra["labels_u8"] = labels.numpy().astype(np.uint8 if k <= 256 else np.uint16)
    out.labels = None  # stored once, under extra
    return out


def coreset_expansion(low, labels, upsampler: SuperResVAE, *, variability: float = 1.0,
                      seed: int = 0) -> DistilledSet:
    """The patch coreset, expanded each epoch by the generator."""
    k = int(labels.max()) + 1
    out = _stored(low, labels, "coreset-expansion", k)

    def sampler(epoch):
        gen = torch.Generator().manual_seed(int(seed) * 1_000_003 + epoch)
        return upsampler.expand(low, variability, gen), labels

    out.sampler = sampler
    return out


def bilinear_coreset(low, labels, size: int) -> DistilledSet:
    """The patch coreset alone: bilinear upsampling, no generator."""
    k = int(labels.max()) + 1
    out = _stored(low, labels, "coreset", k)
    up = F.interpolate(low[:, None], size=(size, size), mode="bilinear",
                       align_corners=False)[:, 0]
    out.sampler = lambda epoch: (up, labels)
    return out
