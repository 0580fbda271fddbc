"""Procedural many-class images: glyph templates under random affine deformations.

Each class is a fixed template of a few random strokes (line segments) drawn
from the class index alone, so class ``c`` is the same glyph whatever the
sampling seed; each sample is its class template under a random affine
deformation (scale per axis, shear, rotation, translation), blurred, with
pixel noise. With hundreds of classes, storing one soft-label vector per
image and augmentation costs as much as it does at ImageNet scale, which is
what the distillation experiments need. :func:`affine_deform` is the
deformation used here and by the ``rcdt-ns`` experiment.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

from .._validation import check_array, check_int, check_nonnegative
from ._checks import check_numpy_rng, check_seed_int

__all__ = ["affine_deform", "glyph_templates", "make_glyph_classes", "load_glyph_split"]

_TEMPLATE_SEED = 20240311


def affine_deform(img: np.ndarray, rng: np.random.Generator, *,
                  scale: tuple[float, float] = (0.75, 1.25), shear: float = 0.25,
                  translate: float = 5.0, rotate: float = 0.0, blur: float = 0.7) -> np.ndarray:
    """A random affine deformation of a square image about its centre, then a Gaussian blur.

    Draws, in order, two axis scales in ``scale``, a shear in ``[-shear, shear]``,
    a translation in ``[-translate, translate]^2`` and, if ``rotate > 0``, an
    angle in ``[-rotate, rotate]`` radians.

    Parameters
    ----------
    img : ndarray (n, n)
        A square, finite image.
    rng : numpy.random.Generator
        Drawn from (and advanced).
    scale : (low, high)
        Range of the axis scales, ``0 < low <= high``.
    shear, translate, rotate, blur : float
        Non-negative ranges (``blur``: the Gaussian's standard deviation in pixels).
    """
    if not isinstance(img, np.ndarray):
        raise TypeError(f"img must be a numpy array (a square image), got {type(img).__name__}")
    check_array(img, "img", ndim=2)
    if img.shape[0] != img.shape[1]:
        raise ValueError(f"img must be a square image (n, n), got shape {img.shape}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if isinstance(scale, (str, bytes)) or not hasattr(scale, "__len__") \
            or not hasattr(scale, "__getitem__"):
        raise TypeError(f"scale must be a (low, high) pair of positive numbers, got "
                        f"{type(scale).__name__} {scale!r}")
    if len(scale) != 2:
        raise ValueError(f"scale must be a (low, high) pair of positive numbers, got "
                         f"{len(scale)} value(s): {scale!r}")
    lo = check_nonnegative(scale[0], "scale")
    hi = check_nonnegative(scale[1], "scale")
    if not 0 < lo <= hi:
        raise ValueError(f"scale must satisfy 0 < low <= high, got {scale!r}")
    for name, v in (("shear", shear), ("translate", translate), ("rotate", rotate),
                    ("blur", blur)):
        check_nonnegative(v, name)
    return _affine_deform(img, rng, scale=scale, shear=shear, translate=translate,
                          rotate=rotate, blur=blur)


def _affine_deform(img: np.ndarray, rng: np.random.Generator, *, scale: Any, shear: float,
                   translate: float, rotate: float, blur: float) -> np.ndarray:
    n = img.shape[0]
    s = rng.uniform(scale[0], scale[1], 2)
    sh = rng.uniform(-shear, shear)
    A = np.array([[s[0], sh], [0.0, s[1]]])
    t = rng.uniform(-translate, translate, 2)
    if rotate > 0:
        a = rng.uniform(-rotate, rotate)
        A = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) @ A
    Ainv = np.linalg.inv(A)
    c = np.array([(n - 1) / 2] * 2)
    out = ndimage.affine_transform(img, Ainv, offset=c - Ainv @ (c + t), order=1)
    return ndimage.gaussian_filter(out, blur) if blur > 0 else out


def _segment_image(n: int, p: np.ndarray, q: np.ndarray, width: float) -> np.ndarray:
    yy, xx = np.mgrid[0:n, 0:n].astype(float)
    pts = np.stack([yy, xx], -1)
    d = q - p
    t = np.clip(((pts - p) @ d) / max(d @ d, 1e-9), 0, 1)
    dist = np.linalg.norm(pts - (p + t[..., None] * d), axis=-1)
    return np.clip(width - dist + 0.5, 0, 1)


def glyph_templates(n_classes: int, size: int = 16) -> np.ndarray:
    """``(n_classes, size, size)`` templates in [0, 1]: 2-4 strokes each, fixed per class index."""
    n_classes = check_int(n_classes, "n_classes", minimum=1)
    size = check_int(size, "size", minimum=8)
    out = np.zeros((n_classes, size, size))
    lo, hi = 0.2 * (size - 1), 0.8 * (size - 1)
    for c in range(n_classes):
        rng = np.random.default_rng([_TEMPLATE_SEED, c])
        img = np.zeros((size, size))
        for _ in range(int(rng.integers(2, 5))):
            p, q = rng.uniform(lo, hi, 2), rng.uniform(lo, hi, 2)
            img = np.maximum(img, _segment_image(size, p, q, size / 16))
        out[c] = img
    return out


def make_glyph_classes(n_classes: int = 100, per_class: int = 20, *, size: int = 16,
                       seed: int = 0, first_class: int = 0,
                       noise: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Samples of glyph classes ``first_class`` to ``first_class + n_classes - 1``.

    Returns
    -------
    X : float32 array ``(n_classes * per_class, size, size)`` in [0, 1]
    y : int64 array, labels ``0 .. n_classes - 1`` (relative to ``first_class``)

    Examples
    --------
    >>> X, y = make_glyph_classes(100, 2, seed=0)
    >>> X.shape, int(y.max())
    ((200, 16, 16), 99)
    """
    n_classes = check_int(n_classes, "n_classes", minimum=1)
    per_class = check_int(per_class, "per_class", minimum=1)
    first_class = check_int(first_class, "first_class", minimum=0)
    size = check_int(size, "size", minimum=8)
    noise = check_nonnegative(noise, "noise")
    rng = check_numpy_rng(seed)
    T = glyph_templates(first_class + n_classes, size)[first_class:]
    X = np.empty((n_classes * per_class, size, size), dtype=np.float32)
    k = 0
    for c in range(n_classes):
        for _ in range(per_class):
            img = _affine_deform(T[c], rng, scale=(0.85, 1.15), shear=0.15,
                                 translate=size / 10, rotate=0.2, blur=0.5)
            X[k] = np.clip(img + noise * rng.standard_normal(img.shape), 0, 1)
            k += 1
    return X, np.repeat(np.arange(n_classes), per_class).astype(np.int64)


def load_glyph_split(n_classes: int = 100, train_per_class: int = 30, test_per_class: int = 10,
                     *, size: int = 16, seed: int = 0,
                     first_class: int = 0) -> dict[str, np.ndarray]:
    """Disjointly seeded train / test samples: ``X_train, y_train, X_test, y_test``.

    The training samples use seed ``2 * seed``, the test samples ``2 * seed + 1``.
    """
    seed = check_seed_int(seed)
    n_classes = check_int(n_classes, "n_classes", minimum=1)
    train_per_class = check_int(train_per_class, "train_per_class", minimum=1)
    test_per_class = check_int(test_per_class, "test_per_class", minimum=1)
    Xtr, ytr = make_glyph_classes(n_classes, train_per_class, size=size, seed=2 * seed,
                                  first_class=first_class)
    Xte, yte = make_glyph_classes(n_classes, test_per_class, size=size, seed=2 * seed + 1,
                                  first_class=first_class)
    return {"X_train": Xtr, "y_train": ytr, "X_test": Xte, "y_test": yte}
