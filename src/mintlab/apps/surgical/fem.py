"""Linear elasticity on tetrahedral meshes (``surgformer``'s training-data solver).

Small-strain, isotropic, linear elastic solids discretised with linear (P1)
tetrahedra: each element contributes ``K_e = V_e B_e^T C B_e`` (``B_e`` the
constant strain-displacement matrix, ``C`` the isotropic elasticity matrix
from Young's modulus ``E`` and Poisson's ratio ``nu``), assembled into a sparse
``3n x 3n`` stiffness matrix; displacements solve ``K u = f`` on the free
degrees of freedom. A resection (cut) removes elements, which is how the
surgical datasets model topology changes on a fixed node set.

P1 elements reproduce every linear displacement field exactly (uniaxial
tension is solved to machine precision), and converge, more slowly, in
bending.
"""

from __future__ import annotations

import numbers
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.linalg import spsolve

from ..._validation import check_int, check_positive, describe
from ...typing import ArrayLike

__all__ = ["TetMesh", "box_mesh", "ellipsoid_mesh", "elasticity_matrix", "stiffness_matrix",
           "solve_elasticity", "ElasticitySolution", "surface_triangles", "traction_forces",
           "remove_elements", "mesh_edges"]

# the six tetrahedra of a cube (corner k = x + 2y + 4z), all sharing the 0-7 diagonal
_CUBE_TETS = np.array([[0, 1, 3, 7], [0, 1, 5, 7], [0, 2, 3, 7], [0, 2, 6, 7],
                       [0, 4, 5, 7], [0, 4, 6, 7]])


def _float_array(x: Any, name: str) -> np.ndarray:
    """``x`` (numpy, torch, list) as a float64 numpy array; ``TypeError`` for non-numbers."""
    if isinstance(x, torch.Tensor):
        if x.is_complex() or x.dtype == torch.bool:
            raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")
        return x.detach().cpu().double().numpy()
    if isinstance(x, (str, bytes)) or not isinstance(x, (np.ndarray, list, tuple,
                                                         numbers.Real, np.generic)):
        raise TypeError(f"{name} must be a numpy array or torch tensor, got {describe(x)}")
    arr = np.asarray(x)
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got {describe(x)}")
    return arr.astype(np.float64)


def _index_array(x: Any, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be an integer array of node indices, got str")
    return np.asarray(x)


def _check_material(E: Any, nu: Any) -> tuple[float, float]:
    E = check_positive(E, "E")
    if isinstance(nu, bool) or not isinstance(nu, numbers.Real):
        raise TypeError(f"nu (Poisson's ratio) must be a real number, got {type(nu).__name__}")
    if not -1.0 < float(nu) < 0.5:
        raise ValueError(f"nu (Poisson's ratio) must lie in (-1, 0.5), got {nu}")
    return E, float(nu)


@dataclass(frozen=True)
class TetMesh:
    """A tetrahedral mesh: ``nodes`` (n, 3) float64 and ``tets`` (m, 4) int64.

    Construction checks finiteness, index ranges, and that no element is
    degenerate; elements are reoriented to positive volume.
    """

    nodes: np.ndarray
    tets: np.ndarray

    def __post_init__(self) -> None:
        nodes = _float_array(self.nodes, "nodes")
        tets = _index_array(self.tets, "tets")
        if nodes.ndim != 2 or nodes.shape[1] != 3 or len(nodes) == 0:
            raise ValueError(f"nodes must have shape (n, 3) with n >= 1, got {nodes.shape}")
        if not np.isfinite(nodes).all():
            raise ValueError("nodes must be finite")
        if tets.ndim != 2 or tets.shape[1] != 4 or len(tets) == 0:
            raise ValueError(f"tets must have shape (m, 4) with m >= 1, got {tets.shape}")
        if not np.issubdtype(tets.dtype, np.integer):
            raise TypeError(f"tets must hold integer node indices, got {tets.dtype}")
        tets = tets.astype(np.int64)
        if tets.min() < 0 or tets.max() >= len(nodes):
            raise ValueError(f"tets must index nodes in [0, {len(nodes)}), got "
                             f"[{tets.min()}, {tets.max()}]")
        if (np.sort(tets, axis=1)[:, 1:] == np.sort(tets, axis=1)[:, :-1]).any():
            raise ValueError("every tet must have four distinct nodes")
        vol = _signed_volumes(nodes, tets)
        scale = np.ptp(nodes, axis=0).max() ** 3 if len(nodes) > 1 else 1.0
        if (np.abs(vol) <= 1e-12 * scale).any():
            bad = int(np.flatnonzero(np.abs(vol) <= 1e-12 * scale)[0])
            raise ValueError(f"tet {bad} is degenerate (zero volume)")
        neg = vol < 0
        if neg.any():
            tets = tets.copy()
            tets[neg, 2], tets[neg, 3] = tets[neg, 3].copy(), tets[neg, 2].copy()
        object.__setattr__(self, "nodes", nodes)
        object.__setattr__(self, "tets", tets)

    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    @property
    def n_tets(self) -> int:
        return len(self.tets)

    def volumes(self) -> np.ndarray:
        """Element volumes (m,), positive."""
        return _signed_volumes(self.nodes, self.tets)

    def centroids(self) -> np.ndarray:
        return self.nodes[self.tets].mean(axis=1)


def _signed_volumes(nodes, tets):
    a, b, c, d = (nodes[tets[:, i]] for i in range(4))
    return np.einsum("ij,ij->i", b - a, np.cross(c - a, d - a)) / 6.0


def box_mesh(shape: Any = (4, 2, 2), size: Any = (1.0, 1.0, 1.0),
             origin: Any = (0.0, 0.0, 0.0)) -> TetMesh:
    """A box of ``nx x ny x nz`` cubes, each split into six conforming tetrahedra.

    >>> m = box_mesh((2, 1, 1))
    >>> m.n_nodes, m.n_tets, round(float(m.volumes().sum()), 12)
    (12, 12, 1.0)
    """
    for name, v in (("shape", shape), ("size", size), ("origin", origin)):
        if isinstance(v, (str, bytes)) or not hasattr(v, "__len__") or len(v) != 3:
            raise ValueError(f"{name} must hold three numbers (x, y, z), got {v!r}")
    counts = [check_int(v if not isinstance(v, np.generic) else v.item(), f"shape[{i}]",
                        minimum=1) for i, v in enumerate(shape)]
    nx, ny, nz = counts
    for ax, s in enumerate(size):
        check_positive(s, f"size[{ax}]")
    if not np.isfinite(_float_array(list(origin), "origin")).all():
        raise ValueError(f"origin must be finite, got {origin!r}")
    gx, gy, gz = (np.linspace(o, o + s, n + 1) for o, s, n in zip(origin, size, (nx, ny, nz),
                                                                   strict=True))
    X, Y, Z = np.meshgrid(gx, gy, gz, indexing="ij")
    nodes = np.c_[X.ravel(), Y.ravel(), Z.ravel()]

    def nid(i: np.ndarray, j: np.ndarray, k: np.ndarray) -> np.ndarray:
        return (i * (ny + 1) + j) * (nz + 1) + k

    I3, J3, K3 = np.meshgrid(np.arange(nx), np.arange(ny), np.arange(nz), indexing="ij")
    i, j, k = I3.ravel(), J3.ravel(), K3.ravel()
    corners = np.stack([nid(i + (c & 1), j + ((c >> 1) & 1), k + ((c >> 2) & 1))
                        for c in range(8)], axis=1)
    tets = corners[:, _CUBE_TETS].reshape(-1, 4)
    return TetMesh(nodes, tets)


def ellipsoid_mesh(radii: ArrayLike = (1.0, 0.7, 0.5), cells: int = 8) -> TetMesh:
    """An organ-like solid: the tets of a box mesh whose centroids lie inside an ellipsoid
    (unused nodes dropped). ``cells`` cubes along the longest axis."""
    r = _float_array(radii, "radii")
    if r.shape != (3,):
        raise ValueError(f"radii must hold three semi-axes, got shape {r.shape}")
    radii = np.array([check_positive(float(v), f"radii[{i}]") for i, v in enumerate(r)], float)
    h = 2 * radii.max() / check_int(cells, "cells", minimum=1)
    shape = np.maximum(1, np.ceil(2 * radii / h)).astype(int)
    box = box_mesh(shape, shape * h, -shape * h / 2)
    inside = ((box.centroids() / radii) ** 2).sum(1) <= 1.0
    return _compact(box.nodes, box.tets[inside])


def _compact(nodes: np.ndarray, tets: np.ndarray) -> TetMesh:
    used = np.unique(tets)
    remap = np.full(len(nodes), -1)
    remap[used] = np.arange(len(used))
    return TetMesh(nodes[used], remap[tets])


def remove_elements(mesh: TetMesh, remove: Any) -> TetMesh:
    """The mesh without the elements flagged in ``remove`` (m,) bool; nodes are kept (a node
    left without elements has no stiffness and is reported by the solver)."""
    remove = np.asarray(remove, bool)
    if remove.shape != (mesh.n_tets,):
        raise ValueError(f"remove must have shape ({mesh.n_tets},), got {remove.shape}")
    if remove.all():
        raise ValueError("remove would delete every element")
    return TetMesh(mesh.nodes, mesh.tets[~remove])


def elasticity_matrix(E: float, nu: float) -> np.ndarray:
    """The 6 x 6 isotropic elasticity matrix (Voigt order xx, yy, zz, yz, xz, xy; engineering
    shear strains)."""
    E, nu = _check_material(E, nu)
    lam = E * nu / ((1 + nu) * (1 - 2 * nu))
    mu = E / (2 * (1 + nu))
    C = np.zeros((6, 6))
    C[:3, :3] = lam
    C[np.arange(3), np.arange(3)] += 2 * mu
    C[np.arange(3, 6), np.arange(3, 6)] = mu
    return C


def _gradients(mesh: TetMesh):
    """Shape-function gradients (m, 4, 3) and volumes (m,)."""
    X = mesh.nodes[mesh.tets]  # (m, 4, 3)
    M = np.concatenate([np.ones((len(X), 4, 1)), X], axis=2)  # rows [1, x, y, z]
    inv = np.linalg.inv(M)  # columns: coefficients of each shape function
    return np.transpose(inv[:, 1:, :], (0, 2, 1)), mesh.volumes()


def _b_matrices(G):
    m = len(G)
    B = np.zeros((m, 6, 12))
    for a in range(4):
        gx, gy, gz = G[:, a, 0], G[:, a, 1], G[:, a, 2]
        c = 3 * a
        B[:, 0, c], B[:, 1, c + 1], B[:, 2, c + 2] = gx, gy, gz
        B[:, 3, c + 1], B[:, 3, c + 2] = gz, gy
        B[:, 4, c], B[:, 4, c + 2] = gz, gx
        B[:, 5, c], B[:, 5, c + 1] = gy, gx
    return B


def stiffness_matrix(mesh: TetMesh, E: float = 1.0, nu: float = 0.3) -> sp.csr_matrix:
    """Assembled stiffness matrix (3n, 3n), dofs ordered ``(node, axis)``.

    >>> K = stiffness_matrix(box_mesh((1, 1, 1)))
    >>> K.shape, bool(abs(K - K.T).max() < 1e-12)
    ((24, 24), True)
    """
    if not isinstance(mesh, TetMesh):
        raise TypeError(f"mesh must be a TetMesh, got {type(mesh).__name__}")
    C = elasticity_matrix(E, nu)
    G, vol = _gradients(mesh)
    B = _b_matrices(G)
    Ke = vol[:, None, None] * np.einsum("mki,kl,mlj->mij", B, C, B)  # (m, 12, 12)
    dofs = (3 * mesh.tets[:, :, None] + np.arange(3)).reshape(len(mesh.tets), 12)
    rows = np.repeat(dofs, 12, axis=1).ravel()
    cols = np.tile(dofs, (1, 12)).ravel()
    n = 3 * mesh.n_nodes
    return sp.coo_matrix((Ke.ravel(), (rows, cols)), shape=(n, n)).tocsr()


def surface_triangles(mesh: TetMesh) -> np.ndarray:
    """Boundary faces (k, 3): the faces that belong to exactly one element."""
    faces = mesh.tets[:, [[0, 1, 2], [0, 1, 3], [0, 2, 3], [1, 2, 3]]].reshape(-1, 3)
    key = np.sort(faces, axis=1)
    _, inv, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    return faces[counts[inv.ravel()] == 1]


def traction_forces(mesh: TetMesh, faces: np.ndarray, traction: Any) -> np.ndarray:
    """Consistent nodal forces (n, 3) of a uniform ``traction`` (3,) on triangles ``faces``:
    each triangle gives a third of ``traction * area`` to each of its nodes."""
    t = np.asarray(traction, float)
    if t.shape != (3,) or not np.isfinite(t).all():
        raise ValueError(f"traction must be a finite 3-vector, got {t.shape}")
    faces = np.asarray(faces).reshape(-1, 3)
    if faces.size and (not np.issubdtype(faces.dtype, np.integer) or faces.min() < 0
                       or faces.max() >= mesh.n_nodes):
        raise ValueError(f"faces must hold node indices in [0, {mesh.n_nodes})")
    P = mesh.nodes[faces]
    area = 0.5 * np.linalg.norm(np.cross(P[:, 1] - P[:, 0], P[:, 2] - P[:, 0]), axis=1)
    f = np.zeros((mesh.n_nodes, 3))
    np.add.at(f, faces.ravel(), np.repeat(area / 3.0, 3)[:, None] * t)
    return f


def mesh_edges(mesh: TetMesh) -> np.ndarray:
    """Unique undirected edges (e, 2) of the elements, ``i < j``."""
    pairs = mesh.tets[:, [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]].reshape(-1, 2)
    return np.unique(np.sort(pairs, axis=1), axis=0)


@dataclass(frozen=True)
class ElasticitySolution:
    """Nodal displacements ``u`` (n, 3), the compliance ``dot(f, u)``, the solve time, and the
    nodes left without any element (``orphans``, displacement set to 0)."""

    u: np.ndarray
    compliance: float
    seconds: float
    orphans: np.ndarray


def _check_supported(mesh: TetMesh, fixed: np.ndarray) -> None:
    """Every rigid part of the mesh must have its six rigid motions stopped by the fixed
    degrees of freedom (else the stiffness matrix is singular). Elements form one rigid part
    when they are joined through shared faces; parts that touch only along an edge or at a
    vertex can turn about it, so each needs its own support."""
    from scipy.sparse.csgraph import connected_components

    m = mesh.n_tets
    faces = np.sort(mesh.tets[:, [[0, 1, 2], [0, 1, 3], [0, 2, 3], [1, 2, 3]]], axis=2)
    _, inv = np.unique(faces.reshape(-1, 3), axis=0, return_inverse=True)
    owner = np.repeat(np.arange(m), 4)
    order = np.argsort(inv.ravel(), kind="stable")
    key, own = inv.ravel()[order], owner[order]
    pair = key[1:] == key[:-1]  # a face listed twice: its two elements are joined
    adj = sp.coo_matrix((np.ones(int(pair.sum())), (own[:-1][pair], own[1:][pair])),
                        shape=(m, m))
    n_parts, part = connected_components(adj, directed=False)
    for c in range(n_parts):
        nodes = np.unique(mesh.tets[part == c])
        x = mesh.nodes[nodes] - mesh.nodes[nodes].mean(0)
        modes = np.zeros((len(nodes), 3, 6))
        modes[:, [0, 1, 2], [0, 1, 2]] = 1.0
        for k, w in enumerate(np.eye(3)):
            modes[:, :, 3 + k] = np.cross(w, x)
        held = modes[fixed[nodes]]  # (fixed dofs, 6)
        tol = 1e-9 * max(1.0, float(np.abs(x).max()))
        if len(held) == 0 or np.linalg.matrix_rank(held, tol=tol) < 6:
            raise ValueError(f"the stiffness matrix is singular: the part of the mesh holding "
                             f"node {nodes[0]} ({len(nodes)} nodes) can still move rigidly; fix "
                             "enough degrees of freedom to stop every rigid motion")


def solve_elasticity(mesh: TetMesh, forces: ArrayLike, fixed: ArrayLike, E: float = 1.0,
                     nu: float = 0.3,
                     K: sp.spmatrix | None = None) -> ElasticitySolution:
    """Solve ``K u = f`` with the degrees of freedom in ``fixed`` held at zero.

    Parameters
    ----------
    mesh : TetMesh
    forces : array (n, 3)
        Nodal forces.
    fixed : array (n,) or (n, 3) of bool
        Clamped nodes, or clamped degrees of freedom. The fixed set must
        remove every rigid motion of each connected part, or the matrix is
        singular (a ``ValueError`` says so).
    E, nu : float
        Young's modulus and Poisson's ratio.
    K : sparse matrix, optional
        A stiffness matrix already assembled for this mesh and material.
    """
    if not isinstance(mesh, TetMesh):
        raise TypeError(f"mesh must be a TetMesh, got {type(mesh).__name__}")
    n = mesh.n_nodes
    f = _float_array(forces, "forces")
    if f.shape != (n, 3):
        raise ValueError(f"forces must have shape ({n}, 3) (one force per node), got {f.shape}")
    if not np.isfinite(f).all():
        raise ValueError(f"forces must be finite, got {int((~np.isfinite(f)).sum())} NaN or "
                         "infinite value(s)")
    E, nu = _check_material(E, nu)
    if K is not None and (not sp.issparse(K) or K.shape != (3 * n, 3 * n)):
        raise ValueError(f"K must be a sparse ({3 * n}, {3 * n}) stiffness matrix of this mesh, "
                         f"got {describe(K) if not sp.issparse(K) else K.shape}")
    fixed_arr = _index_array(fixed, "fixed")
    if fixed_arr.dtype.kind not in "biu":
        raise TypeError(f"fixed must be a boolean array, got dtype {fixed_arr.dtype}")
    fx = fixed_arr.astype(bool)
    if fx.shape == (n,):
        fx = np.repeat(fx[:, None], 3, axis=1)
    if fx.shape != (n, 3):
        raise ValueError(f"fixed must have shape ({n},) or ({n}, 3), got {fx.shape}")
    _check_supported(mesh, fx)
    t0 = time.perf_counter()
    if K is None:
        K = stiffness_matrix(mesh, E, nu)
    orphans = np.setdiff1d(np.arange(n), np.unique(mesh.tets))
    free = ~fx.copy()
    free[orphans] = False
    free = free.ravel()
    if not free.any():
        raise ValueError("every degree of freedom is fixed")
    Kff = K[free][:, free].tocsc()
    u = np.zeros(3 * n)
    with np.errstate(all="raise"):
        try:
            u[free] = spsolve(Kff, f.ravel()[free])
        except (RuntimeError, FloatingPointError) as exc:
            raise ValueError("the stiffness matrix is singular: fix enough degrees of freedom "
                             "to stop every rigid motion") from exc
    if not np.isfinite(u).all():
        raise ValueError("the stiffness matrix is singular: fix enough degrees of freedom to "
                         "stop every rigid motion")
    u3 = u.reshape(n, 3)
    return ElasticitySolution(u3, float((f * u3).sum()), time.perf_counter() - t0, orphans)
