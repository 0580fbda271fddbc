"""Procedural point clouds: sampled surfaces with random poses, noise and sizes.

Everything is generated from a seed (no files, no downloads).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._validation import check_int, check_nonnegative, check_positive
from ._checks import check_bool, check_names, check_numpy_rng, check_range

__all__ = ["SHAPES", "sample_shape", "make_point_cloud_classes", "make_set_retrieval_corpus"]

SHAPES = ("sphere", "torus", "cube", "cylinder", "cone", "plane", "helix", "ellipsoid")


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return q


def sample_shape(shape: str, n: int, rng: np.random.Generator, *,
                 aspect: float | None = None) -> np.ndarray:
    """``n`` points on the surface of a unit-size ``shape`` (one of :data:`SHAPES`).

    ``rng`` (a ``numpy.random.Generator``) is drawn from and advanced;
    ``aspect`` (a positive factor near 1) stretches the shape along its first
    axis. Returns ``(n, 3)`` float64.
    """
    if not isinstance(shape, str):
        raise TypeError(f"shape must be one of {SHAPES}, got {type(shape).__name__} {shape!r}")
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {SHAPES}, got {shape!r}")
    n = check_int(n, "n", minimum=1)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if aspect is not None:
        aspect = check_positive(aspect, "aspect")
    return _sample_shape(shape, n, rng, aspect)


def _sample_shape(shape: str, n: int, rng: np.random.Generator,
                  aspect: float | None) -> np.ndarray:
    u, v = rng.random(n), rng.random(n)
    if shape == "sphere":
        z = 2 * u - 1
        r = np.sqrt(1 - z**2)
        P = np.c_[r * np.cos(2 * np.pi * v), r * np.sin(2 * np.pi * v), z]
    elif shape == "ellipsoid":
        z = 2 * u - 1
        r = np.sqrt(1 - z**2)
        P = np.c_[r * np.cos(2 * np.pi * v), 0.6 * r * np.sin(2 * np.pi * v), 0.35 * z]
    elif shape == "torus":
        a, b = 2 * np.pi * u, 2 * np.pi * v
        P = np.c_[(0.7 + 0.3 * np.cos(b)) * np.cos(a), (0.7 + 0.3 * np.cos(b)) * np.sin(a),
                  0.3 * np.sin(b)]
    elif shape == "cube":
        face = rng.integers(0, 6, n)
        P = rng.uniform(-1, 1, (n, 3))
        P[np.arange(n), face % 3] = np.where(face < 3, -1.0, 1.0)
        P *= 0.6
    elif shape == "cylinder":
        P = np.c_[0.5 * np.cos(2 * np.pi * v), 0.5 * np.sin(2 * np.pi * v), 2 * u - 1]
    elif shape == "cone":
        h = np.sqrt(u)  # uniform on the lateral surface
        P = np.c_[0.6 * h * np.cos(2 * np.pi * v), 0.6 * h * np.sin(2 * np.pi * v), 1 - 2 * h]
    elif shape == "plane":
        P = np.c_[2 * u - 1, 2 * v - 1, np.zeros(n)]
    else:  # helix
        t = 4 * np.pi * u
        P = np.c_[0.6 * np.cos(t), 0.6 * np.sin(t), u * 2 - 1] + 0.05 * rng.normal(size=(n, 3))
    if aspect is not None:
        P[:, 0] *= aspect
    return P


def make_point_cloud_classes(n_per_class: int, shapes: Sequence[str] = SHAPES[:5],
                             n_points: int | tuple[int, int] = (200, 400), noise: float = 0.02,
                             rotate: bool = True,
                             seed: Any = None) -> tuple[list[np.ndarray], np.ndarray]:
    """A labelled set of point clouds: ``n_per_class`` random instances of each shape.

    Each instance: a random aspect (0.8-1.25), an optional random rotation,
    Gaussian noise of standard deviation ``noise``, a random size in
    ``n_points`` (inclusive range), and a random offset (scale 0.1).

    Returns
    -------
    clouds : list of ndarrays (n_i, 3)
    labels : ndarray of int, index into ``shapes``

    Examples
    --------
    >>> X, y = make_point_cloud_classes(2, shapes=("sphere", "cube"), seed=0)
    >>> len(X), y.tolist()
    (4, [0, 0, 1, 1])
    """
    n_per_class = check_int(n_per_class, "n_per_class", minimum=1)
    names = check_names(shapes, "shapes", SHAPES)
    noise = check_nonnegative(noise, "noise")
    rotate = check_bool(rotate, "rotate")
    lo, hi = check_range(n_points, "n_points")
    rng = check_numpy_rng(seed)
    clouds, labels = [], []
    for c, shape in enumerate(names):
        for _ in range(n_per_class):
            P = _sample_shape(shape, int(rng.integers(lo, hi + 1)), rng,
                              aspect=rng.uniform(0.8, 1.25))
            if rotate:
                P = P @ _random_rotation(rng).T
            clouds.append(P + noise * rng.normal(size=P.shape) + 0.1 * rng.normal(size=3))
            labels.append(c)
    return clouds, np.asarray(labels)


def make_set_retrieval_corpus(n_sets: int, n_queries: int,
                              n_points: int | tuple[int, int] = (150, 300), noise: float = 0.02,
                              query_noise: float = 0.03, seed: Any = None
                              ) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray,
                                         np.ndarray]:
    """A corpus of point clouds and perturbed queries of some of them (``slosh``).

    Each query is a fresh resampling of one corpus item's surface (same
    shape, pose and aspect; different points and size) with extra noise, so
    the task is to find its source among similar shapes.

    Returns
    -------
    corpus : list of ndarrays
    queries : list of ndarrays
    sources : ndarray of int, the corpus index each query was drawn from
    labels : ndarray of int, the shape class of each corpus item

    Examples
    --------
    >>> corpus, queries, src, lab = make_set_retrieval_corpus(10, 3, seed=0)
    >>> len(corpus), len(queries), src.shape
    (10, 3, (3,))
    """
    n_sets = check_int(n_sets, "n_sets", minimum=1)
    n_queries = check_int(n_queries, "n_queries", minimum=1)
    lo, hi = check_range(n_points, "n_points")
    noise = check_nonnegative(noise, "noise")
    query_noise = check_nonnegative(query_noise, "query_noise")
    rng = check_numpy_rng(seed)
    params = []
    corpus, labels = [], []
    for _ in range(n_sets):
        c = int(rng.integers(0, len(SHAPES)))
        R, aspect, off = _random_rotation(rng), rng.uniform(0.7, 1.4), 0.1 * rng.normal(size=3)
        params.append((c, R, aspect, off))
        P = _sample_shape(SHAPES[c], int(rng.integers(lo, hi + 1)), rng, aspect) @ R.T
        corpus.append(P + noise * rng.normal(size=P.shape) + off)
        labels.append(c)
    sources = rng.integers(0, n_sets, n_queries)
    queries = []
    for s in sources:
        c, R, aspect, off = params[s]
        P = _sample_shape(SHAPES[c], int(rng.integers(lo, hi + 1)), rng, aspect) @ R.T
        queries.append(P + (noise + query_noise) * rng.normal(size=P.shape) + off)
    return corpus, queries, np.asarray(sources), np.asarray(labels)
