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

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..._validation import check_int, check_positive
from .fem import (
    TetMesh,
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
    cases: list
    force_scale: float
    disp_scale: float


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
                             mesh: TetMesh | None = None, progress: bool = False):
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

    def __init__(self, nodes: np.ndarray, sizes=(64, 16), seed: int = 0):
        nodes = np.asarray(nodes, float)
        if nodes.ndim != 2 or nodes.shape[1] != 3 or len(nodes) == 0:
            raise ValueError(f"nodes must have shape (n, 3) with n >= 1, got {nodes.shape}")
        if not np.isfinite(nodes).all():
            raise ValueError("nodes must be finite")
        if len(sizes) == 0:
            raise ValueError("sizes must hold at least one coarse level")
        self.sizes = [min(check_int(s, "sizes[i]", minimum=1), len(nodes)) for s in sizes]
        rng = np.random.default_rng(seed)
        self.assign = []
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

    def __init__(self, width):
        super().__init__()
        self.width = check_int(width, "width", minimum=1)
        self.encode = nn.Sequential(nn.Linear(self.in_features, width), nn.GELU(),
                                    nn.Linear(width, width))
        self.decode = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width), nn.GELU(),
                                    nn.Linear(width, 3))


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
                 heads: int = 4, use_cut_embedding: bool = True):
        super().__init__(width)
        if not isinstance(hierarchy, MeshHierarchy):
            raise TypeError(f"hierarchy must be a MeshHierarchy, got {type(hierarchy).__name__}")
        if width % heads:
            raise ValueError(f"width ({width}) must be a multiple of heads ({heads})")
        self.sizes = list(hierarchy.sizes)
        for k, a in enumerate(hierarchy.assign):
            self.register_buffer(f"assign{k}", torch.as_tensor(a, dtype=torch.long))
        self.blocks = nn.ModuleList([_Block(width, heads, len(self.sizes))
                                     for _ in range(check_int(depth, "depth", minimum=1))])
        self.cut_embedding = nn.Embedding(2, width) if use_cut_embedding else None

    def forward(self, x, edges, graph, cut):
        h = self.encode(x)
        if self.cut_embedding is not None:
            h = h + self.cut_embedding(cut.long())
        n_graphs = int(graph.max()) + 1
        assigns = [getattr(self, f"assign{k}").repeat(n_graphs) for k in range(len(self.sizes))]
        pos = x[:, :3]
        for block in self.blocks:
            h = block(h, pos, edges, assigns, self.sizes, graph)
        return self.decode(h)


class PlainGNN(_Base):
    """Baseline: residual message-passing layers only (no attention, no gates); the cut flag
    is one more input feature."""

    in_features = 8

    def __init__(self, width: int = 64, depth: int = 4):
        super().__init__(width)
        self.layers = nn.ModuleList([_MessagePassing(width)
                                     for _ in range(check_int(depth, "depth", minimum=1))])
        self.norms = nn.ModuleList([nn.LayerNorm(width) for _ in self.layers])

    def forward(self, x, edges, graph, cut):
        h = self.encode(torch.cat([x, cut.unsqueeze(1).to(x.dtype)], dim=1))
        pos = x[:, :3]
        for layer, norm in zip(self.layers, self.norms, strict=True):
            h = h + layer(norm(h), pos, edges)
        return self.decode(h)


class NodeMLP(_Base):
    """Baseline: the same features through a multilayer perceptron, node by node."""

    in_features = 8

    def __init__(self, width: int = 64, depth: int = 4):
        super().__init__(width)
        self.body = nn.Sequential(*[m for _ in range(check_int(depth, "depth", minimum=1))
                                    for m in (nn.Linear(width, width), nn.GELU())])

    def forward(self, x, edges, graph, cut):
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


def fit_deformation_model(model: nn.Module, dataset: DeformationDataset, train_idx, *,
                          epochs: int = 30, batch_size: int = 16, lr: float = 3e-3,
                          seed: int = 0, progress: bool = False) -> list[float]:
    """Train ``model`` on the cases ``train_idx`` (mean squared displacement error, Adam with
    cosine decay); returns the loss per epoch."""
    from tqdm.auto import tqdm

    g = torch.Generator().manual_seed(seed)
    train_idx = np.asarray(train_idx)
    if len(train_idx) == 0:
        raise ValueError("train_idx must name at least one case")
    if train_idx.min() < 0 or train_idx.max() >= len(dataset.cases):
        raise ValueError(f"train_idx must index the dataset's {len(dataset.cases)} cases")
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    p = next(model.parameters())
    opt = torch.optim.Adam(model.parameters(), lr=check_positive(lr, "lr"))
    epochs = check_int(epochs, "epochs", minimum=1)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    losses = []
    model.train()
    for _ in tqdm(range(epochs), desc=type(model).__name__, disable=not progress):
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
        sched.step()
        losses.append(total / len(order))
    model.eval()
    return losses


@torch.no_grad()
def predict_displacements(model: nn.Module, dataset: DeformationDataset, idx) -> list:
    """Predicted displacement fields (n, 3), in the data's units, one per case of ``idx``."""
    model.eval()
    p = next(model.parameters())
    out = []
    for i in np.asarray(idx):
        x, e, gr, cut, _ = _batch(dataset, [dataset.cases[i]], p.dtype, p.device)
        out.append(model(x, e, gr, cut).double().cpu().numpy() * dataset.disp_scale)
    return out


def displacement_error(pred, true) -> float:
    """Mean Euclidean error over nodes, relative to the mean displacement magnitude."""
    pred, true = np.asarray(pred, float), np.asarray(true, float)
    if pred.shape != true.shape or pred.ndim != 2 or pred.shape[1] != 3:
        raise ValueError(f"pred and true must both have shape (n, 3), got {pred.shape} and "
                         f"{true.shape}")
    return float(np.linalg.norm(pred - true, axis=1).mean()
                 / max(np.linalg.norm(true, axis=1).mean(), 1e-300))
