"""Shared data of the Gromov-Wasserstein experiments: shapes with outliers and partial views."""

from __future__ import annotations

import numpy as np

from mintlab.datasets.pointclouds import _random_rotation, sample_shape

SHAPES5 = ("sphere", "torus", "cube", "cylinder", "helix")


def shape_instance(shape, n, rng, *, outliers=0, missing=0.0, rotate=True):
    """``n`` points of ``shape`` (random aspect and pose), minus a ``missing`` fraction cut off
    by a random plane, plus ``outliers`` uniform points in ``[-3, 3]^3`` (last rows)."""
    P = sample_shape(shape, n, rng, aspect=rng.uniform(0.8, 1.25))
    if missing > 0:
        u = rng.normal(size=3)
        s = P @ (u / np.linalg.norm(u))
        P = P[s >= np.quantile(s, missing)]
    if rotate:
        P = P @ _random_rotation(rng).T
    P = P + 0.01 * rng.normal(size=P.shape)
    if outliers:
        P = np.r_[P, rng.uniform(-3, 3, size=(outliers, 3))]
    return P


def penalty_rule(C):
    """The penalty used by the experiments: 2 lambda = (median distance / 2)^2, i.e. pairs
    whose distances disagree by more than half a typical distance are not worth keeping."""
    return 0.5 * (0.5 * float(np.median(C[C > 0]))) ** 2


def digit_clouds(n_per_class, n_points, seed, split="train"):
    """Real MNIST digits as 2D point clouds: ``n_per_class`` digits of each class (a
    class-balanced sample drawn with ``seed``), each as ``n_points`` pixel positions in
    ``[0, 1]^2`` drawn without replacement with probability proportional to intensity
    (pixels above 0.3), plus a little jitter. Returns the clouds (class by class) and
    the labels."""
    from mintlab.datasets import image_point_clouds, load_mnist

    rng = np.random.default_rng(seed)
    images, labels = load_mnist(split, n=10 * n_per_class, seed=seed)
    order = np.argsort(labels, kind="stable")
    images, labels = images[order], labels[order]
    clouds = []
    for pts, w in image_point_clouds(images, threshold=0.3).measures():
        k = min(n_points, len(pts))
        P = pts[rng.choice(len(pts), k, replace=False, p=w)]
        clouds.append(P + 0.005 * rng.normal(size=P.shape))
    return clouds, labels


def occlude(P, fraction, rng):
    """``P`` without the ``fraction`` of its points beyond a random line through its
    centroid (a cropped, partial view)."""
    u = rng.normal(size=P.shape[1])
    s = (P - P.mean(0)) @ (u / np.linalg.norm(u))
    return P[s >= np.quantile(s, fraction)]


def clutter(P, n_extra, rng, low=0.0, high=1.0):
    """``P`` with ``n_extra`` uniform points in ``[low, high]^d`` appended (last rows)."""
    return np.r_[P, rng.uniform(low, high, size=(n_extra, P.shape[1]))]
