"""Triangle-mesh primitives from trimesh and point clouds sampled on them."""

import numpy as np
import pytest

from mintlab.datasets import (
    MESH_SHAPES,
    make_mesh_point_cloud_classes,
    mesh_primitive,
    sample_mesh_surface,
)


@pytest.mark.parametrize("shape", MESH_SHAPES)
def test_primitives_are_closed_centred_meshes(shape):
    v, f = mesh_primitive(shape)
    assert v.ndim == 2 and v.shape[1] == 3 and f.dtype == np.int64 and f.max() < len(v)
    # Watertight: every edge is shared by exactly two triangles.
    edges = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    assert np.all(counts == 2)
    np.testing.assert_allclose(0.5 * (v.min(0) + v.max(0)), 0.0, atol=1e-9)
    assert 0.5 < np.abs(v).max() <= 1.2


def test_surface_samples_are_on_the_surface_and_seeded():
    P = sample_mesh_surface("sphere", 500, seed=1)
    assert P.shape == (500, 3)
    r = np.linalg.norm(P, axis=1)
    assert r.max() <= 1 + 1e-9 and r.min() > 0.98
    assert np.array_equal(P, sample_mesh_surface("sphere", 500, seed=1))
    B = sample_mesh_surface("box", 300, seed=0)
    assert np.all(np.isclose(np.abs(B).max(1), 0.6))  # on a face of the 1.2-wide cube


def test_labelled_classes_and_errors():
    X, y = make_mesh_point_cloud_classes(3, n_points=50, noise=0.01, seed=0)
    assert X.shape == (3 * len(MESH_SHAPES), 50, 3) and np.bincount(y).tolist() == [3] * 7
    X2, _ = make_mesh_point_cloud_classes(3, n_points=50, noise=0.01, seed=0)
    assert np.array_equal(X, X2)
    with pytest.raises(ValueError, match="shape must be one of"):
        mesh_primitive("teapot")
    with pytest.raises(ValueError, match="n_points must be >= 1"):
        sample_mesh_surface("box", 0)
    with pytest.raises(ValueError, match="shapes must name at least one"):
        make_mesh_point_cloud_classes(1, shapes=())
