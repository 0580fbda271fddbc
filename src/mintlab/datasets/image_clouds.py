"""Images as weighted 2D point clouds: the point-cloud MNIST of the set-learning papers.

Each pixel brighter than a threshold becomes a point at its position, with
its intensity as weight. The clouds come back padded to one size with a mask
(True = a real point), the layout every set layer and estimator in mintlab
takes; :meth:`ImagePointClouds.measures` gives the ``(points, weights)``
pairs of :mod:`mintlab.embed`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._validation import ArrayIO, check_array, check_int, check_probability
from ..typing import Array, ArrayLike
from ._checks import check_numpy_rng

__all__ = ["ImagePointClouds", "image_point_clouds", "sample_image_points"]


@dataclass(frozen=True)
class ImagePointClouds:
    """A batch of weighted 2D point clouds made from images.

    Attributes
    ----------
    X : array (n_images, n_points, 2)
        Point coordinates ``(x, y)`` in ``[0, 1]^2``: ``x`` grows to the
        right, ``y`` upwards (an image plotted from its points stands upright).
        Zeros at the padding.
    a : array (n_images, n_points)
        Weights: the pixel intensities, normalised to sum to one per cloud;
        zero at the padding.
    mask : bool array (n_images, n_points)
        True at real points.
    """

    X: Any
    a: Any
    mask: Any

    @property
    def sizes(self) -> np.ndarray:
        """Number of real points of each cloud, ``(n_images,)`` int64."""
        m = self.mask
        m = m.cpu().numpy() if isinstance(m, torch.Tensor) else np.asarray(m)
        return m.sum(axis=1).astype(np.int64)

    def measures(self) -> list[tuple[Any, Any]]:
        """The clouds without padding, as ``(points (n_i, 2), weights (n_i,))`` pairs."""
        return [(x[m], w[m]) for x, w, m in zip(self.X, self.a, self.mask, strict=True)]


def image_point_clouds(images: ArrayLike, threshold: float = 0.5,
                       n_points: int | None = None) -> ImagePointClouds:
    """Turn grey-level images into weighted 2D point clouds (pixels as points).

    A pixel is a point when its intensity ``v`` (in ``[0, 1]``: ``uint8``
    images are read as ``value / 255``) is above ``threshold``; its weight
    is ``v / sum(v)`` over the cloud's points.

    Parameters
    ----------
    images : array (n, H, W) or (H, W)
        ``uint8`` grey levels (0-255) or real intensities in ``[0, 1]``, numpy
        or torch.
    threshold : float in [0, 1), default 0.5
        Pixels at or below it are left out.
    n_points : int or None
        Size of every cloud. With an int, a cloud keeps its ``n_points``
        brightest pixels (ties: the first in raster order) and a cloud with
        fewer is padded (``mask`` False). ``None``: every pixel above the
        threshold, padded to the largest cloud.

    Returns
    -------
    ImagePointClouds
        ``X (n, k, 2)``, ``a (n, k)``, ``mask (n, k)``; numpy float64 for
        numpy input, torch (default float dtype, the images' device) for torch
        input. A single image gives a batch of one.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((3, 3), dtype=np.uint8)
    >>> img[0, 0], img[2, 2] = 255, 128
    >>> pc = image_point_clouds(img, threshold=0.1)
    >>> pc.X[0].tolist(), np.round(pc.a[0], 3).tolist()
    ([[0.0, 1.0], [1.0, 0.0]], [0.666, 0.334])
    """
    io = ArrayIO(images)
    is_uint8 = (isinstance(images, np.ndarray) and images.dtype == np.uint8) or (
        isinstance(images, torch.Tensor) and images.dtype == torch.uint8)
    v = io.tensor(images, "images", min_ndim=2)
    if v.ndim == 2:
        v = v[None]
    if v.ndim != 3:
        raise ValueError(f"images must have shape (n, H, W) or (H, W), got {tuple(v.shape)}")
    if is_uint8:
        v = v / 255.0
    elif bool((v < 0).any()) or bool((v > 1).any()):
        raise ValueError(f"images must hold intensities in [0, 1] (or be uint8), got values in "
                         f"[{float(v.min()):.4g}, {float(v.max()):.4g}]")
    threshold = check_probability(threshold, "threshold")
    if threshold >= 1:
        raise ValueError(f"threshold must be < 1 (no pixel is brighter than 1), got {threshold}")
    n, H, W = v.shape
    flat = v.reshape(n, H * W)
    valid = flat > threshold
    counts = valid.sum(1)
    if bool((counts == 0).any()):
        empty = torch.nonzero(counts == 0).flatten()[:5].tolist()
        raise ValueError(f"images must each have a pixel above threshold={threshold}; "
                         f"images {empty} have none")
    if n_points is None:
        k = int(counts.max())
    else:
        k = check_int(n_points, "n_points", minimum=1)
        if k > H * W:
            raise ValueError(f"n_points must be at most H * W = {H * W}, got {k}")
    score = torch.where(valid, flat, torch.full_like(flat, -1.0))
    idx = torch.sort(score, dim=1, descending=True, stable=True).indices[:, :k]  # (n, k)
    keep = valid.gather(1, idx)
    # Real points in raster order first, then the padding.
    order = torch.argsort(torch.where(keep, idx, idx + H * W), dim=1)
    idx, keep = idx.gather(1, order), keep.gather(1, order)
    row = torch.div(idx, W, rounding_mode="floor").to(v.dtype)
    col = (idx % W).to(v.dtype)
    X = torch.stack([col / max(W - 1, 1), 1.0 - row / max(H - 1, 1)], dim=-1)
    X = X * keep.unsqueeze(-1)
    w = flat.gather(1, idx) * keep
    a = w / w.sum(1, keepdim=True)
    mask = keep if io.is_torch else keep.cpu().numpy()
    return ImagePointClouds(X=io.out(X), a=io.out(a), mask=mask)


def sample_image_points(images: ArrayLike, n_points: int, seed: Any = 0,
                        threshold: float = 0.5) -> list[Array]:
    """Draw ``n_points`` equally weighted points from each image's intensity.

    A pixel above ``threshold`` is drawn with probability proportional to its
    intensity (with replacement), and the point is placed uniformly inside it;
    coordinates are in ``[0, 1]^2`` with ``y`` pointing up. This gives clouds
    of one size with unit masses, where :func:`image_point_clouds` gives the
    pixels themselves with intensity weights.

    Parameters
    ----------
    images : array (n, H, W) or (H, W)
        ``uint8`` grey levels (0-255) or real intensities in ``[0, 1]``,
        numpy or torch.
    n_points : int
        Points per image.
    seed : int or numpy.random.Generator, default 0
        A generator is used (and advanced) as given.
    threshold : float in [0, 1), default 0.5

    Returns
    -------
    list of arrays, each of shape (n_points, 2)
        float64 numpy arrays for numpy input; torch tensors (the images'
        floating dtype, else the default one, on their device) for torch input.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((4, 4), dtype=np.uint8)
    >>> img[0, 3] = 255
    >>> P = sample_image_points(img, 3, seed=0)[0]
    >>> bool(((P[:, 0] >= 0.75) & (P[:, 1] >= 0.75)).all())   # the top-right pixel
    True
    """
    n_points = check_int(n_points, "n_points", minimum=1)
    threshold = check_probability(threshold, "threshold")
    if threshold >= 1:
        raise ValueError(f"threshold must be below 1, got {threshold}")
    rng = check_numpy_rng(seed)
    if isinstance(images, (str, bytes)):
        raise TypeError(f"images must be a numpy array or torch tensor, got "
                        f"{type(images).__name__}")
    if np.ndim(images) not in (2, 3):
        raise ValueError(f"images must have shape (n, H, W) or (H, W), got "
                         f"{tuple(np.shape(images))}")
    check_array(images, "images")
    V = np.asarray(images.detach().cpu() if isinstance(images, torch.Tensor) else images)
    if V.ndim == 2:
        V = V[None]
    if V.ndim != 3:  # pragma: no cover - checked above
        raise ValueError(f"images must have shape (n, H, W) or (H, W), got {V.shape}")
    V = V.astype(np.float64) / 255.0 if V.dtype == np.uint8 else V.astype(np.float64)
    if V.min() < 0 or V.max() > 1:
        raise ValueError(f"images must hold intensities in [0, 1] (or be uint8), got values in "
                         f"[{V.min():.4g}, {V.max():.4g}]")
    _, H, W = V.shape
    out = []
    for k, v in enumerate(V):
        ys, xs = np.nonzero(v > threshold)
        if len(ys) == 0:
            raise ValueError(f"images[{k}] has no pixel above threshold={threshold}")
        w = v[ys, xs] / v[ys, xs].sum()
        idx = rng.choice(len(w), n_points, p=w)
        out.append(np.c_[(xs[idx] + rng.random(n_points)) / W,
                         1 - (ys[idx] + rng.random(n_points)) / H])
    if isinstance(images, torch.Tensor):
        io = ArrayIO(images)
        return [torch.from_numpy(p).to(device=io.device, dtype=io.dtype) for p in out]
    return list(out)
