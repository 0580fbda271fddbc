"""3D shapes as triangle meshes from ``trimesh`` (the ``data`` extra), and point clouds on them.

:mod:`mintlab.datasets.pointclouds` draws points on analytic surfaces. Here
the surfaces are watertight triangle meshes built by ``trimesh.creation``
(a mesh library's primitives rather than our formulas), and points are drawn
uniformly by area on the triangles with mintlab's own seeded generator.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._validation import check_int, check_nonnegative
from ._assets import require_asset
from ._checks import check_bool, check_names, check_numpy_rng

__all__ = ["MESH_SHAPES", "mesh_primitive", "sample_mesh_surface", "make_mesh_point_cloud_classes"]

MESH_SHAPES = ("sphere", "box", "cylinder", "cone", "capsule", "torus", "annulus")


@functools.lru_cache(maxsize=len(MESH_SHAPES))
def _mesh(shape: str) -> tuple[np.ndarray, np.ndarray]:
    require_asset("meshes")
    import trimesh.creation as tc

    build = {  # every shape about unit size, centred at the origin
        "sphere": lambda: tc.icosphere(subdivisions=3, radius=1.0),
        "box": lambda: tc.box(extents=(1.2, 1.2, 1.2)),
        "cylinder": lambda: tc.cylinder(radius=0.5, height=2.0, sections=48),
        "cone": lambda: tc.cone(radius=0.6, height=2.0, sections=48),
        "capsule": lambda: tc.capsule(height=1.2, radius=0.4, count=(24, 24)),
        "torus": lambda: tc.torus(major_radius=0.7, minor_radius=0.3, major_sections=48,
                                  minor_sections=24),
        "annulus": lambda: tc.annulus(r_min=0.5, r_max=0.9, height=0.4, sections=48),
    }[shape]
    mesh = build()
    v = np.asarray(mesh.vertices, dtype=np.float64)
    v = v - 0.5 * (v.min(0) + v.max(0))  # centre the bounding box (the cone sits on z = 0)
    v.setflags(write=False)
    f = np.asarray(mesh.faces, dtype=np.int64)
    f.setflags(write=False)
    return v, f


def _check_shape(shape: str) -> str:
    if not isinstance(shape, str):
        raise TypeError(f"shape must be a string, got {type(shape).__name__}")
    if shape not in MESH_SHAPES:
        raise ValueError(f"shape must be one of {list(MESH_SHAPES)}, got {shape!r}")
    return shape


def mesh_primitive(shape: str) -> tuple[np.ndarray, np.ndarray]:
    """Vertices ``(V, 3)`` float64 and triangles ``(F, 3)`` int64 of a watertight primitive.

    Examples
    --------
    >>> v, f = mesh_primitive("box")
    >>> v.shape, f.shape
    ((8, 3), (12, 3))
    """
    v, f = _mesh(_check_shape(shape))
    return v.copy(), f.copy()


def sample_mesh_surface(shape: str, n_points: int, seed: Any = None) -> np.ndarray:
    """``n_points`` points drawn uniformly (by area) on the surface of primitive ``shape``.

    Parameters
    ----------
    shape : str
        One of :data:`MESH_SHAPES`.
    n_points : int
    seed : int, numpy Generator or None

    Returns
    -------
    ndarray of float64, shape (n_points, 3)

    Examples
    --------
    >>> P = sample_mesh_surface("sphere", 100, seed=0)
    >>> P.shape, bool(np.allclose(np.linalg.norm(P, axis=1), 1.0, atol=0.02))
    ((100, 3), True)
    """
    shape = _check_shape(shape)
    n_points = check_int(n_points, "n_points", minimum=1)
    rng = check_numpy_rng(seed)
    v, f = _mesh(shape)
    tri = v[f]  # (F, 3, 3)
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    pick = rng.choice(len(f), size=n_points, p=area / area.sum())
    r1, r2 = rng.random(n_points), rng.random(n_points)
    s = np.sqrt(r1)  # uniform barycentric coordinates on a triangle
    bary = np.stack([1 - s, s * (1 - r2), s * r2], axis=1)
    return np.einsum("nk,nkd->nd", bary, tri[pick])


def _rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return q


def make_mesh_point_cloud_classes(n_per_class: int, shapes: Sequence[str] = MESH_SHAPES,
                                  n_points: int = 256, noise: float = 0.0, rotate: bool = True,
                                  seed: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """A labelled set of point clouds sampled on mesh primitives.

    Each instance: a random anisotropic scale (0.8-1.25 per axis), an
    optional random rotation, Gaussian noise of standard deviation ``noise``
    and ``n_points`` surface points.

    Returns
    -------
    X : ndarray of float64, shape (len(shapes) * n_per_class, n_points, 3)
    y : ndarray of int64, index into ``shapes``

    Examples
    --------
    >>> X, y = make_mesh_point_cloud_classes(2, shapes=("box", "torus"), n_points=64, seed=0)
    >>> X.shape, y.tolist()
    ((4, 64, 3), [0, 0, 1, 1])
    """
    n_per_class = check_int(n_per_class, "n_per_class", minimum=1)
    n_points = check_int(n_points, "n_points", minimum=1)
    noise = check_nonnegative(noise, "noise")
    rotate = check_bool(rotate, "rotate")
    shapes = check_names(shapes, "shapes", MESH_SHAPES)
    rng = check_numpy_rng(seed)
    X = np.empty((len(shapes) * n_per_class, n_points, 3))
    y = np.repeat(np.arange(len(shapes), dtype=np.int64), n_per_class)
    for i, c in enumerate(y):
        P = sample_mesh_surface(shapes[c], n_points, rng) * rng.uniform(0.8, 1.25, size=3)
        if rotate:
            P = P @ _rotation(rng).T
        X[i] = P + noise * rng.normal(size=P.shape)
    return X, y
