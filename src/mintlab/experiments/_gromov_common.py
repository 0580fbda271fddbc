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
