"""SurgFormer (``surgformer``): a gated multiresolution transformer that predicts soft-tissue
displacement fields, with cuts.

Training data come from :mod:`~mintlab.apps.surgical.fem` (linear elasticity on
a tetrahedral organ-like mesh; a cut removes the elements of a thin slab).
Each sample is one load case: a Gaussian patch of surface force, the clamped
base, and optionally a cut; the target is the nodal displacement field.

The model (:class:`SurgFormer`):

* a fixed **mesh hierarchy**: coarse nodes chosen by farthest-point sampling
  at two resolutions; every node is assigned to its nearest coarse node;
* repeated **blocks** with three branches: local message passing over the
  mesh edges that remain after the cut, global multi-head self-attention
  among coarse nodes (pool by mean over the assignment, attend, broadcast
  back), and a pointwise feed-forward network;
* the branches are **fused by learned gates** per node and per channel: a
  softmax over branches of a linear map of the node state;
* the **cut embedding**: a learned vector for nodes touching removed
  elements (and one for intact nodes), added to the input encoding.

Baselines: :class:`NodeMLP` (a multilayer perceptron per node) and
:class:`PlainGNN` (the same message passing, without attention or gates).

The paper trains on XFEM simulations of cholecystectomy and appendectomy
meshes; here a procedural ellipsoid stands in for the organ, and a cut is
element removal (no enrichment).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..._validation import check_int, check_nonnegative, check_positive, check_probability
from ...typing import ArrayLike
from .fem import (
    TetMesh,
    _check_material,
    _float_array,
    ellipsoid_mesh,
    mesh_edges,
    remove_elements,
    solve_elasticity,
    stiffness_matrix,
    surface_triangles,
)

__all__ = ["DeformationCase", "DeformationDataset", "make_deformation_dataset",
           "MeshHierarchy", "SurgFormer", "NodeMLP", "PlainGNN", "fit_deformation_model",
           "predict_displacements", "displacement_error", "slab_cut"]


@dataclass(frozen=True)
class DeformationCase:
    """One load case: inputs per node and the FEM displacement.

    ``forces`` (n, 3), ``fixed`` (n,) bool, ``cut_nodes`` (n,) bool (nodes that
    touch removed elements), ``edges`` (e, 2) of the elements that remain,
    ``u`` (n, 3) the FEM solution, ``fem_seconds`` its solve time.
    """

    forces: np.ndarray
    fixed: np.ndarray
    cut_nodes: np.ndarray
    edges: np.ndarray
    u: np.ndarray
    fem_seconds: float
    cut: bool


@dataclass
class DeformationDataset:
    """A mesh, its load cases, and the scales used to normalise forces and displacements."""

    mesh: TetMesh
    cases: list[DeformationCase]
    force_scale: float
    disp_scale: float


def _check_dataset(dataset: Any) -> DeformationDataset:
    if not isinstance(dataset, DeformationDataset):
        raise TypeError(f"dataset must be a DeformationDataset (make_deformation_dataset), got "
                        f"{type(dataset).__name__}")
    return dataset


def _check_indices(idx: Any, name: str, n: int) -> np.ndarray:
    """Case indices: a non-empty 1D integer array with values in ``[0, n)``."""
    if isinstance(idx, torch.Tensor):
        idx = idx.detach().cpu().numpy()
    if isinstance(idx, (str, bytes)):
        raise TypeError(f"{name} must be an integer array of case indices, got str")
    arr = np.asarray(idx)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1D array of case indices, got shape {arr.shape}")
    if len(arr) == 0:
        raise ValueError(f"{name} must name at least one case")
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer case indices, got dtype {arr.dtype}")
    if arr.min() < 0 or arr.max() >= n:
        raise ValueError(f"{name} must index the dataset's {n} cases (values in [0, {n})), got "
                         f"[{arr.min()}, {arr.max()}]")
    return arr


def _check_model(model: Any) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module (SurgFormer, PlainGNN, NodeMLP), got "
                        f"{type(model).__name__}")
    if next(model.parameters(), None) is None:
        raise ValueError(f"model must have parameters, got a {type(model).__name__} without any")
    return model


def _check_cases(dataset: DeformationDataset, idx: np.ndarray, *, targets: bool) -> None:
    """The load cases ``idx`` of ``dataset``, read once before a loop over their batches:
    node arrays of the mesh's size, finite forces (and displacements with ``targets``),
    edges that index the mesh's nodes, finite positive scales."""
    n = dataset.mesh.n_nodes
    for name in ("force_scale", "disp_scale"):
        v = getattr(dataset, name)
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                or not np.isfinite(v) or v <= 0:
            raise ValueError(f"dataset.{name} must be a finite positive number, got {v!r}")
    for i in np.unique(idx):
        c = dataset.cases[int(i)]
        where = f"dataset.cases[{int(i)}]"
        if not isinstance(c, DeformationCase):
            raise TypeError(f"{where} must be a DeformationCase, got {type(c).__name__}")
        arrays = (("forces", (n, 3)), ("u", (n, 3))) if targets else (("forces", (n, 3)),)
        for name, shape in arrays:
            a = _float_array(getattr(c, name), f"{where}.{name}")
            if a.shape != shape:
                raise ValueError(f"{where}.{name} must have shape {shape} (one row per mesh "
                                 f"node), got {a.shape}")
            if not np.isfinite(a).all():
                raise ValueError(f"{where}.{name} must be finite, got "
                                 f"{int((~np.isfinite(a)).sum())} NaN or infinite value(s)")
        for name in ("fixed", "cut_nodes"):
            a = np.asarray(getattr(c, name))
            if a.shape != (n,):
                raise ValueError(f"{where}.{name} must have shape ({n},) (one flag per mesh "
                                 f"node), got {a.shape}")
            if a.dtype != bool and not (name == "cut_nodes" and a.dtype.kind in "iu"):
                raise TypeError(f"{where}.{name} must hold booleans, got dtype {a.dtype}")
        e = np.asarray(c.edges)
        if e.ndim != 2 or e.shape[1] != 2 or e.dtype.kind not in "iu":
            raise ValueError(f"{where}.edges must be an integer (e, 2) array, got shape "
                             f"{e.shape} and dtype {e.dtype}")
        if e.size and (e.min() < 0 or e.max() >= n):
            raise ValueError(f"{where}.edges must index the mesh's {n} nodes, got values in "
                             f"[{e.min()}, {e.max()}]")


#: True while fit_deformation_model / predict_displacements run the model on batches
#: built from cases they have checked: the forward pass then skips its value checks.
_CHECKED_BATCHES: ContextVar[bool] = ContextVar("_CHECKED_BATCHES", default=False)


@contextmanager
def _checked_batches() -> Iterator[None]:
    token = _CHECKED_BATCHES.set(True)
    try:
        yield
    finally:
        _CHECKED_BATCHES.reset(token)


def slab_cut(mesh: TetMesh, point, direction, half_width: float, depth: float,
             half_length: float) -> np.ndarray:
    """Elements removed by a vertical slit: a slab of half-width ``half_width`` around the
    vertical plane through ``point`` that contains the horizontal ``direction``, reaching
    ``depth`` below ``point`` and ``half_length`` either side of it along ``direction``.
    Returns the flags (m,) of the elements whose centroid lies in the slit."""
    d = np.asarray(direction, float).copy()
    d[2] = 0.0
    if np.linalg.norm(d) == 0:
        raise ValueError("direction must have a horizontal component")
    d /= np.linalg.norm(d)
    normal = np.cross(d, (0.0, 0.0, 1.0))
    c = mesh.centroids() - np.asarray(point, float)
    return ((np.abs(c @ normal) <= half_width) & (np.abs(c @ d) <= half_length)
            & (c[:, 2] <= half_width) & (c[:, 2] >= -depth))


def make_deformation_dataset(n_cases: int, *, cells: int = 8, cut_fraction: float = 0.5,
                             lateral: float = 0.5, E: float = 3.0, nu: float = 0.45, seed: int = 0,
                             mesh: TetMesh | None = None,
                             progress: bool = False) -> DeformationDataset:
    """Load cases on an ellipsoidal organ solved by FEM (``surgformer``'s data).

    The base (nodes in the lowest 15 % of the height) is clamped. Each case
    pushes a random Gaussian patch of the upper surface in a random downward
    direction (horizontal components ~ N(0, ``lateral``) against a vertical
    1); a ``cut_fraction`` of the cases first cut a random vertical slit down
    from the top (:func:`slab_cut`; a slit that would leave a part hanging
    loose, more than tripling the largest displacement, is drawn again).
    Units are arbitrary (soft tissue: ``E`` of a few kPa, ``nu`` near
    incompressible).
    """
    from tqdm.auto import tqdm

    n_cases = check_int(n_cases, "n_cases", minimum=1)
    cells = check_int(cells, "cells", minimum=1)
    cut_fraction = check_probability(cut_fraction, "cut_fraction")
    lateral = check_nonnegative(lateral, "lateral")
    E, nu = _check_material(E, nu)
    seed = check_int(seed, "seed", minimum=0)
    if mesh is not None and not isinstance(mesh, TetMesh):
        raise TypeError(f"mesh must be a TetMesh or None, got {type(mesh).__name__}")
    rng = np.random.default_rng(seed)
    mesh = mesh if mesh is not None else ellipsoid_mesh((1.0, 0.7, 0.5), cells=cells)
    z = mesh.nodes[:, 2]
    fixed = z <= z.min() + 0.15 * np.ptp(z)
    surf = np.unique(surface_triangles(mesh))
    top = surf[mesh.nodes[surf, 2] > np.median(mesh.nodes[surf, 2])]
    K_full = stiffness_matrix(mesh, E, nu)
    h = float(np.median(np.linalg.norm(mesh.nodes[mesh_edges(mesh)[:, 0]]
                                       - mesh.nodes[mesh_edges(mesh)[:, 1]], axis=1)))
    edges_full = mesh_edges(mesh)
    cases = []
    for _ in tqdm(range(n_cases), desc="FEM load cases", disable=not progress):
        centre = mesh.nodes[rng.choice(top)]
        width = rng.uniform(0.15, 0.35)
        w = np.exp(-((mesh.nodes - centre) ** 2).sum(1) / (2 * width**2))
        w[fixed] = 0.0
        direction = np.array([rng.normal(0, lateral), rng.normal(0, lateral), -1.0])
        direction /= np.linalg.norm(direction)
        forces = w[:, None] * direction * rng.uniform(0.5, 1.5) * 0.05
        sol = solve_elasticity(mesh, forces, fixed, E, nu, K=K_full)
        cut_nodes, edges, cut = np.zeros(mesh.n_nodes, bool), edges_full, False
        if rng.random() < cut_fraction:
            for _ in range(20):  # a slit that leaves no part hanging by a thread
                theta = rng.uniform(0, np.pi)
                removed = slab_cut(mesh, mesh.nodes[rng.choice(top)],
                                   (np.cos(theta), np.sin(theta), 0.0), half_width=0.6 * h,
                                   depth=rng.uniform(0.25, 0.45), half_length=0.35)
                if not removed.any():
                    continue
                m = remove_elements(mesh, removed)
                try:
                    cut_sol = solve_elasticity(m, forces, fixed, E, nu)
                except ValueError:  # a part came loose
                    continue
                if np.abs(cut_sol.u).max() <= 3 * np.abs(sol.u).max():
                    sol, cut, edges = cut_sol, True, mesh_edges(m)
                    cut_nodes[np.unique(mesh.tets[removed])] = True
                    break
        cases.append(DeformationCase(forces, fixed, cut_nodes, edges, sol.u, sol.seconds,
                                     bool(cut)))
    force_scale = float(np.mean([np.abs(c.forces).max() for c in cases]))
    disp_scale = float(np.mean([np.abs(c.u).max() for c in cases]))
    return DeformationDataset(mesh, cases, force_scale, disp_scale)


class MeshHierarchy:
    """Fixed coarse levels of a mesh: farthest-point samples and nearest-node assignment.

    ``levels[k]`` holds the indices of level ``k``'s nodes (level 0 = all
    nodes); ``assign[k]`` maps every fine node to its level-``k`` coarse node.
    """

    def __init__(self, nodes: ArrayLike, sizes: Sequence[int] = (64, 16), seed: int = 0) -> None:
        nodes = _float_array(nodes, "nodes")
        if nodes.ndim != 2 or nodes.shape[1] != 3 or len(nodes) == 0:
            raise ValueError(f"nodes must have shape (n, 3) with n >= 1, got {nodes.shape}")
        if not np.isfinite(nodes).all():
            raise ValueError(f"nodes must be finite, got {int((~np.isfinite(nodes)).sum())} NaN "
                             "or infinite value(s)")
        if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__"):
            raise TypeError(f"sizes must be a sequence of coarse-level sizes, got "
                            f"{type(sizes).__name__}")
        if len(sizes) == 0:
            raise ValueError("sizes must hold at least one coarse level")
        self.sizes = [min(check_int(s, f"sizes[{i}]", minimum=1), len(nodes))
                      for i, s in enumerate(sizes)]
        seed = check_int(seed, "seed", minimum=0)
        self.n_nodes = len(nodes)
        rng = np.random.default_rng(seed)
        self.assign: list[np.ndarray] = []
        for s in self.sizes:
            picked = [int(rng.integers(len(nodes)))]
            d = np.linalg.norm(nodes - nodes[picked[0]], axis=1)
            for _ in range(s - 1):
                picked.append(int(d.argmax()))
                d = np.minimum(d, np.linalg.norm(nodes - nodes[picked[-1]], axis=1))
            centres = nodes[picked]
            self.assign.append(np.linalg.norm(nodes[:, None] - centres[None], axis=2)
                               .argmin(1))


class _MessagePassing(nn.Module):
    """h_i <- W_out mean_j GELU(A h_i + B h_j + C (x_j - x_i)) over the mesh neighbours j of i.

    A two-layer message MLP on ``[h_i, h_j, x_j - x_i]`` followed by the mean; its first
    layer is applied per node before gathering, and the second after the mean (a linear map
    commutes with it), so the per-edge work is one addition and one GELU.
    """

    def __init__(self, width):
        super().__init__()
        self.dst = nn.Linear(width, width)
        self.src = nn.Linear(width, width, bias=False)
        self.rel = nn.Linear(3, width, bias=False)
        self.out = nn.Linear(width, width)

    def forward(self, h, pos, edges):
        src, dst = edges
        sel = torch.index_select  # its backward (index_add) beats advanced indexing's
        a = (sel(self.dst(h), 0, dst) + sel(self.src(h), 0, src)
             + self.rel(sel(pos, 0, src) - sel(pos, 0, dst)))
        out = torch.zeros_like(h).index_add_(0, dst, torch.nn.functional.gelu(a))
        deg = torch.zeros(len(h), 1, dtype=h.dtype, device=h.device).index_add_(
            0, dst, torch.ones(len(dst), 1, dtype=h.dtype, device=h.device))
        return self.out(out / deg.clamp_min(1))


class _CoarseAttention(nn.Module):
    """Pool nodes to their coarse node (mean), self-attention among coarse nodes, broadcast."""

    def __init__(self, width, heads):
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.norm = nn.LayerNorm(width)

    def forward(self, h, assign, n_coarse, graph):
        # graph: (n,) index of the sample each node belongs to; coarse ids are per sample
        key = graph * n_coarse + assign
        n_graphs = int(graph.max()) + 1
        pooled = torch.zeros(n_graphs * n_coarse, h.shape[1], dtype=h.dtype,
                             device=h.device).index_add_(0, key, h)
        count = torch.zeros(n_graphs * n_coarse, 1, dtype=h.dtype, device=h.device).index_add_(
            0, key, torch.ones(len(h), 1, dtype=h.dtype, device=h.device))
        pooled = self.norm(pooled / count.clamp_min(1)).reshape(n_graphs, n_coarse, -1)
        out, _ = self.attn(pooled, pooled, pooled, need_weights=False)
        return torch.index_select(out.reshape(n_graphs * n_coarse, -1), 0, key)


class _Block(nn.Module):
    def __init__(self, width, heads, n_levels, gated=True):
        super().__init__()
        self.local = _MessagePassing(width)
        self.glob = nn.ModuleList([_CoarseAttention(width, heads) for _ in range(n_levels)])
        self.ffn = nn.Sequential(nn.Linear(width, 2 * width), nn.GELU(),
                                 nn.Linear(2 * width, width))
        self.n_branches = 2 + n_levels
        self.gate = nn.Linear(width, self.n_branches * width)
        self.norm = nn.LayerNorm(width)

    def forward(self, h, pos, edges, assigns, sizes, graph):
        x = self.norm(h)
        branches = [self.local(x, pos, edges)]
        branches += [g(x, a, s, graph) for g, a, s in zip(self.glob, assigns, sizes,
                                                          strict=True)]
        branches.append(self.ffn(x))
        B = torch.stack(branches, dim=1)  # (n, branches, width)
        gates = torch.softmax(self.gate(x).reshape(len(x), self.n_branches, -1), dim=1)
        self.last_gates = gates.detach()
        return h + (gates * B).sum(1)


class _Base(nn.Module):
    """Common input handling: per-node features [rest position, force, clamped]."""

    in_features = 7

    def __init__(self, width: int) -> None:
        super().__init__()
        self.width = check_int(width, "width", minimum=1)
        self.encode = nn.Sequential(nn.Linear(self.in_features, width), nn.GELU(),
                                    nn.Linear(width, width))
        self.decode = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width), nn.GELU(),
                                    nn.Linear(width, 3))


    def _check_inputs(self, x: Any, edges: Any, graph: Any, cut: Any) -> None:
        """Shapes and kinds of a forward call's graph batch; its values (finite features,
        edge and sample indices in range) only for a direct call on CPU tensors: no pass
        over the values (a device sync on a GPU) at every training step, where the
        batches come from cases checked once up front."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch tensor of node features, got "
                            f"{type(x).__name__}")
        if x.ndim != 2 or x.shape[1] != 7 or x.shape[0] == 0:
            raise ValueError(f"x must have shape (N, 7) ([rest position, force, clamped]), got "
                             f"{tuple(x.shape)}")
        if not x.is_floating_point():
            raise TypeError(f"x must be floating point, got dtype {x.dtype}")
        w = next(self.parameters())
        if x.dtype != w.dtype or x.device != w.device:
            raise TypeError(f"x must have the model's dtype {w.dtype} and device {w.device}, got "
                            f"{x.dtype} on {x.device}")
        n = x.shape[0]
        for name, t, shape in (("edges", edges, None), ("graph", graph, (n,)), ("cut", cut, (n,))):
            if not isinstance(t, torch.Tensor):
                raise TypeError(f"{name} must be a torch tensor, got {type(t).__name__}")
            if t.is_floating_point() or t.is_complex():
                raise TypeError(f"{name} must hold integers or booleans, got dtype {t.dtype}")
            if shape is not None and tuple(t.shape) != shape:
                raise ValueError(f"{name} must have shape {shape} (one entry per node of x), got "
                                 f"{tuple(t.shape)}")
        if edges.ndim != 2 or edges.shape[0] != 2:
            raise ValueError(f"edges must have shape (2, E), got {tuple(edges.shape)}")
        if _CHECKED_BATCHES.get() or any(t.device.type != "cpu" for t in (x, edges, graph)):
            return
        if not bool(torch.isfinite(x).all()):
            raise ValueError("x must be finite, got NaN or infinite values")
        if edges.numel() and (bool((edges < 0).any()) or bool((edges >= n).any())):
            raise ValueError(f"edges must index the N={n} nodes of x")
        if bool((graph < 0).any()):
            raise ValueError("graph must hold non-negative sample indices")


class SurgFormer(_Base):
    """Gated multiresolution transformer for nodal displacements (``surgformer``).

    Parameters
    ----------
    hierarchy : MeshHierarchy
        The fixed coarse levels of the mesh.
    width : int, default 64
    depth : int, default 4
        Number of blocks.
    heads : int, default 4
    use_cut_embedding : bool, default True

    Call with ``(x, edges, graph, cut)``: node features ``(N, 7)`` ([rest
    position, force / scale, clamped]), directed edges ``(2, E)``, the sample
    index of every node ``(N,)`` and the cut-node flags ``(N,)``; returns
    displacements ``(N, 3)`` (in units of the dataset's displacement scale).
    """

    def __init__(self, hierarchy: MeshHierarchy, width: int = 64, depth: int = 4,
                 heads: int = 4, use_cut_embedding: bool = True) -> None:
        if not isinstance(hierarchy, MeshHierarchy):
            raise TypeError(f"hierarchy must be a MeshHierarchy, got {type(hierarchy).__name__}")
        width = check_int(width, "width", minimum=1)
        heads = check_int(heads, "heads", minimum=1)
        depth = check_int(depth, "depth", minimum=1)
        if not isinstance(use_cut_embedding, bool):
            raise TypeError(f"use_cut_embedding must be a bool, got "
                            f"{type(use_cut_embedding).__name__}")
        super().__init__(width)
        if width % heads:
            raise ValueError(f"width ({width}) must be a multiple of heads ({heads})")
        self.sizes = list(hierarchy.sizes)
        self.n_mesh_nodes = len(hierarchy.assign[0])
        for k, a in enumerate(hierarchy.assign):
            self.register_buffer(f"assign{k}", torch.as_tensor(a, dtype=torch.long))
        self.blocks = nn.ModuleList([_Block(width, heads, len(self.sizes))
                                     for _ in range(check_int(depth, "depth", minimum=1))])
        self.cut_embedding = nn.Embedding(2, width) if use_cut_embedding else None

    def forward(self, x: torch.Tensor, edges: torch.Tensor, graph: torch.Tensor,
                cut: torch.Tensor) -> torch.Tensor:
        self._check_inputs(x, edges, graph, cut)
        n_graphs = int(graph.max()) + 1
        n_mesh = self.n_mesh_nodes
        if x.shape[0] != n_graphs * n_mesh:
            raise ValueError(f"x must hold {n_mesh} nodes (the hierarchy's mesh) per sample of "
                             f"graph, got {x.shape[0]} nodes for {n_graphs} sample(s)")
        h = self.encode(x)
        if self.cut_embedding is not None:
            h = h + self.cut_embedding(cut.long())
        assigns = [getattr(self, f"assign{k}").repeat(n_graphs) for k in range(len(self.sizes))]
        pos = x[:, :3]
        for block in self.blocks:
            h = block(h, pos, edges, assigns, self.sizes, graph)
        return self.decode(h)


class PlainGNN(_Base):
    """Baseline: residual message-passing layers only (no attention, no gates); the cut flag
    is one more input feature."""

    in_features = 8

    def __init__(self, width: int = 64, depth: int = 4) -> None:
        super().__init__(width)
        self.layers = nn.ModuleList([_MessagePassing(width)
                                     for _ in range(check_int(depth, "depth", minimum=1))])
        self.norms = nn.ModuleList([nn.LayerNorm(width) for _ in self.layers])

    def forward(self, x: torch.Tensor, edges: torch.Tensor, graph: torch.Tensor,
                cut: torch.Tensor) -> torch.Tensor:
        self._check_inputs(x, edges, graph, cut)
        h = self.encode(torch.cat([x, cut.unsqueeze(1).to(x.dtype)], dim=1))
        pos = x[:, :3]
        for layer, norm in zip(self.layers, self.norms, strict=True):
            h = h + layer(norm(h), pos, edges)
        return self.decode(h)


class NodeMLP(_Base):
    """Baseline: the same features through a multilayer perceptron, node by node."""

    in_features = 8

    def __init__(self, width: int = 64, depth: int = 4) -> None:
        super().__init__(width)
        self.body = nn.Sequential(*[m for _ in range(check_int(depth, "depth", minimum=1))
                                    for m in (nn.Linear(width, width), nn.GELU())])

    def forward(self, x: torch.Tensor, edges: torch.Tensor, graph: torch.Tensor,
                cut: torch.Tensor) -> torch.Tensor:
        self._check_inputs(x, edges, graph, cut)
        return self.decode(self.body(self.encode(torch.cat([x, cut.unsqueeze(1).to(x.dtype)],
                                                           dim=1))))


def _batch(dataset: DeformationDataset, cases, dtype=torch.float32, device=None):
    """Concatenate cases into one graph batch: (x, edges (2, E), graph, cut, target), on
    ``device``."""
    out = _batch_cpu(dataset, cases, dtype)
    return out if device is None else tuple(t.to(device) for t in out)


def _batch_cpu(dataset: DeformationDataset, cases, dtype):
    nodes = torch.as_tensor(dataset.mesh.nodes, dtype=dtype)
    n = len(nodes)
    xs, es, gs, cuts, ys = [], [], [], [], []
    for k, c in enumerate(cases):
        f = torch.as_tensor(c.forces, dtype=dtype) / dataset.force_scale
        fixed = torch.as_tensor(c.fixed, dtype=dtype).unsqueeze(1)
        xs.append(torch.cat([nodes, f, fixed], dim=1))
        e = torch.as_tensor(c.edges.T, dtype=torch.long) + k * n
        es.append(torch.cat([e, e.flip(0)], dim=1))
        gs.append(torch.full((n,), k, dtype=torch.long))
        cuts.append(torch.as_tensor(c.cut_nodes))
        ys.append(torch.as_tensor(c.u, dtype=dtype) / dataset.disp_scale)
    return (torch.cat(xs), torch.cat(es, dim=1), torch.cat(gs), torch.cat(cuts),
            torch.cat(ys))


def fit_deformation_model(model: nn.Module, dataset: DeformationDataset,
                          train_idx: ArrayLike, *, epochs: int = 30, batch_size: int = 16,
                          lr: float = 3e-3,
                          seed: int = 0, progress: bool = False) -> list[float]:
    """Train ``model`` on the cases ``train_idx`` (mean squared displacement error, Adam with
    cosine decay); returns the loss per epoch."""
    from tqdm.auto import tqdm

    _check_model(model)
    _check_dataset(dataset)
    seed = check_int(seed, "seed", minimum=0)
    g = torch.Generator().manual_seed(seed)
    train_idx = _check_indices(train_idx, "train_idx", len(dataset.cases))
    _check_compatible(model, dataset)
    _check_cases(dataset, train_idx, targets=True)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    p = next(model.parameters())
    opt = torch.optim.Adam(model.parameters(), lr=check_positive(lr, "lr"))
    epochs = check_int(epochs, "epochs", minimum=1)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    losses = []
    model.train()
    with _checked_batches():
        for _ in tqdm(range(epochs), desc=type(model).__name__, disable=not progress):
            losses.append(_fit_epoch(model, opt, dataset, train_idx, batch_size, g, p))
            sched.step()
    model.eval()
    return losses


def _fit_epoch(model: nn.Module, opt: torch.optim.Optimizer, dataset: DeformationDataset,
               train_idx: np.ndarray, batch_size: int, g: torch.Generator,
               p: torch.Tensor) -> float:
    """One epoch of :func:`fit_deformation_model`; the mean loss over its cases."""
    order = train_idx[torch.randperm(len(train_idx), generator=g).numpy()]
    total = 0.0
    for s in range(0, len(order), batch_size):
        x, e, gr, cut, y = _batch(dataset, [dataset.cases[i] for i in
                                            order[s:s + batch_size]], p.dtype, p.device)
        pred = model(x, e, gr, cut)
        free = ~torch.cat([torch.as_tensor(dataset.cases[i].fixed)
                           for i in order[s:s + batch_size]]).to(p.device)
        loss = ((pred - y)[free] ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item() * len(order[s:s + batch_size])
    return total / len(order)


def _check_compatible(model: nn.Module, dataset: DeformationDataset) -> None:
    if isinstance(model, SurgFormer) and model.n_mesh_nodes != dataset.mesh.n_nodes:
        raise ValueError(f"model was built for a mesh of {model.n_mesh_nodes} nodes (its "
                         f"hierarchy), but dataset's mesh has {dataset.mesh.n_nodes}")


@torch.no_grad()
def predict_displacements(model: nn.Module, dataset: DeformationDataset,
                          idx: ArrayLike) -> list[np.ndarray]:
    """Predicted displacement fields (n, 3), in the data's units, one per case of ``idx``."""
    _check_model(model)
    _check_dataset(dataset)
    idx = _check_indices(idx, "idx", len(dataset.cases))
    _check_compatible(model, dataset)
    _check_cases(dataset, idx, targets=False)
    model.eval()
    p = next(model.parameters())
    out = []
    with _checked_batches():
        for i in np.asarray(idx):
            x, e, gr, cut, _ = _batch(dataset, [dataset.cases[i]], p.dtype, p.device)
            out.append(model(x, e, gr, cut).double().cpu().numpy() * dataset.disp_scale)
    return out


def displacement_error(pred: ArrayLike, true: ArrayLike) -> float:
    """Mean Euclidean error over nodes, relative to the mean displacement magnitude."""
    pred, true = _float_array(pred, "pred"), _float_array(true, "true")
    for name, a in (("pred", pred), ("true", true)):
        if a.ndim != 2 or a.shape[1] != 3 or a.shape[0] == 0:
            raise ValueError(f"{name} must have shape (n, 3) with n >= 1, got {a.shape}")
        if not np.isfinite(a).all():
            raise ValueError(f"{name} must be finite, got {int((~np.isfinite(a)).sum())} NaN or "
                             "infinite value(s)")
    if pred.shape != true.shape:
        raise ValueError(f"pred and true must both have shape (n, 3), got {pred.shape} and "
                         f"{true.shape}")
    return float(np.linalg.norm(pred - true, axis=1).mean()
                 / max(np.linalg.norm(true, axis=1).mean(), 1e-300))
