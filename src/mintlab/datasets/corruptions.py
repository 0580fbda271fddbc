"""A corruption suite for small greyscale images (Fashion-MNIST / MNIST, 28 x 28).

Ten corruptions in the spirit of CIFAR-10-C / ImageNet-C, each at five
severities, rescaled to 28 x 28 greyscale images: noise (gaussian, shot,
impulse), blur, contrast and brightness changes, rotation, elastic
deformation, pixelation and occlusion. Every corruption is deterministic given
``seed``; :func:`corruption_suite` gives each (corruption, severity) pair its
own stream derived from one seed.

Images are ``uint8`` arrays ``(n, H, W)`` with values in 0..255 (as
:func:`mintlab.datasets.load_fashion_mnist` returns them), or floating arrays
with values in ``[0, 1]``; the result has the input's shape and dtype.

Examples
--------
>>> import numpy as np
>>> imgs = np.zeros((2, 28, 28), np.uint8); imgs[:, 10:18, 10:18] = 200
>>> out = corrupt(imgs, "rotation", 3, seed=0)
>>> out.shape, out.dtype
((2, 28, 28), dtype('uint8'))
>>> [name for name, severity, _ in corruption_suite(imgs, ["contrast"], (1, 5), seed=0)]
['contrast', 'contrast']
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
from scipy import ndimage

from ._checks import check_names, check_numpy_rng, check_split_name

__all__ = ["CORRUPTIONS", "SEVERITIES", "CORRUPTION_PARAMETERS", "corrupt", "corruption_suite"]

#: The parameter of each corruption at severities 1..5 (units in the functions' docstrings).
CORRUPTION_PARAMETERS: dict[str, tuple] = {
    "gaussian_noise": (0.08, 0.12, 0.18, 0.26, 0.38),  # noise std, intensities in [0, 1]
    "shot_noise": (60.0, 25.0, 12.0, 5.0, 3.0),  # photons at full intensity (Poisson)
    "impulse_noise": (0.03, 0.06, 0.09, 0.17, 0.27),  # share of pixels set to 0 or 1
    "gaussian_blur": (0.5, 0.75, 1.0, 1.25, 1.5),  # blur std in pixels
    "contrast": (0.5, 0.4, 0.3, 0.2, 0.1),  # factor towards each image's mean
    "brightness": (0.1, 0.2, 0.3, 0.4, 0.5),  # added to every intensity, then clipped
    "rotation": (10.0, 20.0, 30.0, 45.0, 60.0),  # degrees, sign drawn per image
    "elastic": (8.0, 16.0, 24.0, 32.0, 40.0),  # displacement scale alpha (sigma 4 px)
    "pixelate": (20, 16, 12, 10, 8),  # side of the low-resolution image (for 28 px)
    "occlusion": (4, 6, 8, 10, 12),  # side of a square patch set to 0 (for 28 px)
}
CORRUPTIONS: tuple[str, ...] = tuple(CORRUPTION_PARAMETERS)
SEVERITIES: tuple[int, ...] = (1, 2, 3, 4, 5)

_ELASTIC_SIGMA = 4.0


def _as_unit(images: Any) -> tuple[np.ndarray, np.dtype]:
    if not isinstance(images, np.ndarray):
        raise TypeError(f"images must be a numpy array, got {type(images).__name__}")
    if images.ndim != 3 or images.shape[0] == 0 or min(images.shape[1:]) < 4:
        raise ValueError("images must have shape (n, height, width) with n >= 1 and sides "
                         f">= 4, got {images.shape}")
    if images.dtype == np.uint8:
        return images.astype(np.float64) / 255.0, images.dtype
    if not np.issubdtype(images.dtype, np.floating):
        raise TypeError(f"images must be uint8 (0..255) or floating (0..1), got {images.dtype}")
    if not np.isfinite(images).all() or images.min() < 0 or images.max() > 1:
        raise ValueError("floating images must hold finite values in [0, 1], got values in "
                         f"[{np.nanmin(images):.3g}, {np.nanmax(images):.3g}]")
    return images.astype(np.float64), images.dtype


def _back(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    if dtype == np.uint8:
        return np.round(x * 255.0).astype(np.uint8)
    return x.astype(dtype)


def _severity(severity: Any, name: str = "severity") -> int:
    if isinstance(severity, bool) or not isinstance(severity, int | np.integer):
        raise TypeError(f"{name} must be an integer in 1..5, got {type(severity).__name__} "
                        f"{severity!r}")
    if not 1 <= int(severity) <= 5:
        raise ValueError(f"{name} must be an integer in 1..5, got {severity!r}")
    return int(severity)


def _scale(side: int, height: int) -> int:
    """A pixel size given for 28 px images, rescaled to ``height``."""
    return max(1, int(round(side * height / 28)))


def corrupt(images: np.ndarray, corruption: str, severity: int, seed: Any = None) -> np.ndarray:
    """Apply one corruption at one severity (1 = mild .. 5 = strong) to every image.

    Parameters
    ----------
    images : ndarray (n, H, W)
        ``uint8`` in 0..255 or floating in ``[0, 1]``.
    corruption : str
        One of :data:`CORRUPTIONS`: ``gaussian_noise`` (additive, std),
        ``shot_noise`` (Poisson photon noise), ``impulse_noise`` (salt and
        pepper), ``gaussian_blur``, ``contrast`` (pixels pulled towards the
        image mean), ``brightness`` (added intensity), ``rotation`` (by the
        severity's angle, random sign per image, bilinear), ``elastic``
        (a smooth random displacement field, bilinear), ``pixelate`` (down to
        a coarse grid and back, nearest neighbour), ``occlusion`` (a black
        square at a random place). :data:`CORRUPTION_PARAMETERS` holds the
        parameter of each severity.
    severity : int in 1..5
    seed : int, sequence of ints, numpy Generator or None
        Randomness of the stochastic corruptions (the same seed gives the
        same output).

    Returns
    -------
    ndarray with the shape and dtype of ``images``.
    """
    corruption = check_split_name(corruption, "corruption", CORRUPTIONS)
    s = _severity(severity)
    rng = check_numpy_rng(seed)
    x, dtype = _as_unit(images)
    p = CORRUPTION_PARAMETERS[corruption][s - 1]
    n, H, W = x.shape
    if corruption == "gaussian_noise":
        out = x + rng.normal(scale=p, size=x.shape)
    elif corruption == "shot_noise":
        out = rng.poisson(x * p) / p
    elif corruption == "impulse_noise":
        out = x.copy()
        hit = rng.random(x.shape) < p
        out[hit] = rng.integers(0, 2, size=int(hit.sum()))
    elif corruption == "gaussian_blur":
        out = ndimage.gaussian_filter(x, sigma=(0, p * H / 28, p * W / 28), mode="constant")
    elif corruption == "contrast":
        m = x.mean(axis=(1, 2), keepdims=True)
        out = (x - m) * p + m
    elif corruption == "brightness":
        out = x + p
    elif corruption == "rotation":
        sign = rng.choice([-1.0, 1.0], size=n)
        plus = ndimage.rotate(x, p, axes=(2, 1), reshape=False, order=1, mode="constant")
        minus = ndimage.rotate(x, -p, axes=(2, 1), reshape=False, order=1, mode="constant")
        out = np.where(sign[:, None, None] > 0, plus, minus)
    elif corruption == "elastic":
        sig = (0, _ELASTIC_SIGMA * H / 28, _ELASTIC_SIGMA * W / 28)
        dy = ndimage.gaussian_filter(rng.uniform(-1, 1, x.shape), sig, mode="constant") * p
        dx = ndimage.gaussian_filter(rng.uniform(-1, 1, x.shape), sig, mode="constant") * p
        k, i, j = np.meshgrid(np.arange(n), np.arange(H), np.arange(W), indexing="ij")
        out = ndimage.map_coordinates(x, [k, i + dy * H / 28, j + dx * W / 28], order=1,
                                      mode="constant")
    elif corruption == "pixelate":
        h, w = min(H, _scale(p, H)), min(W, _scale(p, W))
        ri = (np.arange(H) * h) // H  # the coarse cell of every row / column
        rj = (np.arange(W) * w) // W
        sums = np.zeros((n, h, w))
        # numpy's stub for ufunc.at omits slices in the index tuple
        np.add.at(sums, (slice(None), ri[:, None], rj[None, :]), x)  # type: ignore[arg-type]
        counts = np.zeros((h, w))
        np.add.at(counts, (ri[:, None], rj[None, :]), 1.0)
        out = (sums / counts)[:, ri[:, None], rj[None, :]]
    else:  # occlusion
        side = min(_scale(p, H), H, W)
        top = rng.integers(0, H - side + 1, size=n)
        left = rng.integers(0, W - side + 1, size=n)
        rows = np.arange(H)[None, :, None]
        cols = np.arange(W)[None, None, :]
        inside = ((rows >= top[:, None, None]) & (rows < top[:, None, None] + side)
                  & (cols >= left[:, None, None]) & (cols < left[:, None, None] + side))
        out = np.where(inside, 0.0, x)
    return _back(out, dtype)


def corruption_suite(images: np.ndarray, corruptions: Sequence[str] | None = None,
                     severities: Sequence[int] = SEVERITIES,
                     seed: int | None = None) -> Iterator[tuple[str, int, np.ndarray]]:
    """Yield ``(corruption, severity, corrupted images)`` for every pair, in order.

    Each pair draws from its own stream derived from ``seed`` and the pair
    (``numpy.random.default_rng([seed, corruption index, severity])``), so a
    pair's output does not depend on which other pairs are asked for.
    ``corruptions`` defaults to all of :data:`CORRUPTIONS`. The arguments are
    checked when the function is called, before the first pair is made.
    """
    names = CORRUPTIONS if corruptions is None else check_names(corruptions, "corruptions",
                                                                CORRUPTIONS)
    if isinstance(severities, (str, bytes)) or not isinstance(severities, Iterable):
        raise TypeError(f"severities must be a sequence of integers in 1..5, got "
                        f"{type(severities).__name__}")
    sev = [_severity(s, "severities") for s in severities]
    if not sev:
        raise ValueError("severities must hold at least one severity in 1..5, got none")
    if seed is None:
        seed = int(np.random.default_rng().integers(2**31))
    elif isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"seed must be a non-negative integer or None, got "
                        f"{type(seed).__name__} {seed!r}")
    elif seed < 0:
        raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
    _as_unit(images)
    return _suite(images, names, sev, int(seed))


def _suite(images: np.ndarray, names: Sequence[str], sev: Sequence[int],
           seed: int) -> Iterator[tuple[str, int, np.ndarray]]:
    for name in names:
        for s in sev:
            yield name, s, corrupt(images, name, s, seed=[seed, CORRUPTIONS.index(name), s])
