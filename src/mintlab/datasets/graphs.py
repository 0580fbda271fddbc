"""Graph classification data: procedural graph classes (networkx generators, from a seed),
graphs whose classes live in how node features correlate across edges, and the MUTAG
benchmark where an installed package ships its files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._validation import check_array, check_int
from ..errors import ArtifactError
from ._checks import check_names, check_numpy_rng, check_range

__all__ = ["GRAPH_FAMILIES", "FEATURE_COUPLINGS", "make_graph_classes",
           "make_featured_graph_classes", "load_mutag"]

GRAPH_FAMILIES = ("erdos_renyi", "barabasi_albert", "watts_strogatz", "two_communities")
# the fewest nodes each family's generator can build (Barabasi-Albert attaches 2 edges per
# new node; Watts-Strogatz joins every node to 4 neighbours)
_MIN_NODES = {"erdos_renyi": 1, "barabasi_albert": 3, "watts_strogatz": 4, "two_communities": 1}


def _graph(family: str, n: int, rng: np.random.Generator) -> Any:
    import networkx as nx

    s = int(rng.integers(0, 2**31 - 1))
    if family == "erdos_renyi":
        return nx.gnp_random_graph(n, 4.0 / n, seed=s)
    if family == "barabasi_albert":
        return nx.barabasi_albert_graph(n, 2, seed=s)
    if family == "watts_strogatz":
        return nx.connected_watts_strogatz_graph(n, 4, 0.15, seed=s)
    half = n // 2
    return nx.stochastic_block_model([half, n - half], [[0.25, 0.02], [0.02, 0.25]], seed=s)


def make_graph_classes(n_per_class: int, families: Sequence[str] = GRAPH_FAMILIES,
                       n_nodes: int | tuple[int, int] = (20, 40),
                       seed: Any = None) -> tuple[list[Any], np.ndarray]:
    """Random graphs from several families with about the same mean degree (~4).

    ``n_nodes`` is a size or an inclusive ``(low, high)`` range of sizes, each
    at least the fewest nodes the chosen families can build: 3 for
    Barabasi-Albert (2 edges per new node), 4 for Watts-Strogatz (every node
    joined to 4 neighbours), 1 otherwise.

    Returns
    -------
    graphs : list of networkx graphs (no node features)
    labels : ndarray of int, index into ``families``

    Examples
    --------
    >>> G, y = make_graph_classes(2, seed=0)
    >>> len(G), y.tolist()
    (8, [0, 0, 1, 1, 2, 2, 3, 3])
    """
    n_per_class = check_int(n_per_class, "n_per_class", minimum=1)
    names = check_names(families, "families", GRAPH_FAMILIES)
    lo, hi = check_range(n_nodes, "n_nodes", minimum=max(_MIN_NODES[f] for f in names))
    rng = check_numpy_rng(seed)
    graphs, labels = [], []
    for c, f in enumerate(names):
        for _ in range(n_per_class):
            graphs.append(_graph(f, int(rng.integers(lo, hi + 1)), rng))
            labels.append(c)
    return graphs, np.asarray(labels)


FEATURE_COUPLINGS = (0.6, 0.0, -0.6)  # class c: x = standardise(z + beta_c * neighbour mean of z)


def make_featured_graph_classes(n_per_class: int, couplings: Any = FEATURE_COUPLINGS,
                                n_nodes: int | tuple[int, int] = (20, 40), degree: int = 4,
                                n_features: int = 2,
                                seed: Any = None) -> tuple[list[Any], np.ndarray]:
    """Random regular graphs whose class lies only in how node features vary across edges.

    Every graph, whatever its class, is a uniformly random ``degree``-regular
    graph (so the structure alone says nothing, and 1-WL cannot tell any two
    apart). Node features are ``z + beta * mean of z over the neighbours``,
    ``z`` standard normal ``(n, n_features)``, then standardised per graph
    and feature; class ``c`` uses ``beta = couplings[c]``: positive values
    make neighbours alike, negative ones unlike, 0 independent. The node
    marginal is the same in every class, so only relations across edges
    separate the classes.

    Returns
    -------
    graphs : list of networkx graphs, features in the node attribute ``"x"``
    labels : ndarray of int, index into ``couplings``

    Examples
    --------
    >>> G, y = make_featured_graph_classes(2, seed=0)
    >>> len(G), y.tolist(), G[0].nodes[0]["x"].shape
    (6, [0, 0, 1, 1, 2, 2], (2,))
    """
    import networkx as nx

    n_per_class = check_int(n_per_class, "n_per_class", minimum=1)
    degree = check_int(degree, "degree", minimum=1)
    n_features = check_int(n_features, "n_features", minimum=1)
    betas = check_array(couplings, "couplings", ndim=1).tolist()
    lo, hi = check_range(n_nodes, "n_nodes")
    if not degree < lo <= hi:
        raise ValueError(f"n_nodes must satisfy degree < low <= high, got {n_nodes} with "
                         f"degree {degree}")
    rng = check_numpy_rng(seed)
    graphs, labels = [], []
    for c, beta in enumerate(betas):
        for _ in range(n_per_class):
            n = int(rng.integers(lo, hi + 1))
            if n * degree % 2:
                n += 1 if n < hi else -1
            g = nx.random_regular_graph(degree, n, seed=int(rng.integers(0, 2**31 - 1)))
            A = nx.to_numpy_array(g, nodelist=range(n))
            z = rng.standard_normal((n, n_features))
            x = z + float(beta) * (A @ z) / np.maximum(A.sum(1, keepdims=True), 1.0)
            x = (x - x.mean(0)) / np.where(x.std(0) > 0, x.std(0), 1.0)
            for v in range(n):
                g.nodes[v]["x"] = x[v]
            graphs.append(g)
            labels.append(c)
    return graphs, np.asarray(labels)


def _mutag_dir() -> Path:
    from importlib.util import find_spec

    from ._assets import require_asset

    require_asset("mutag")  # MissingAssetError naming the install command
    spec = find_spec("grakel")
    assert spec is not None and spec.submodule_search_locations is not None
    return Path(next(iter(spec.submodule_search_locations))) / "tests" / "data" / "MUTAG"


def _mutag_table(path: Path, *, delimiter: str | None = None, ncols: int | None = None
                 ) -> np.ndarray:
    """One integer table of the TU format, or :class:`ArtifactError` naming the file."""
    from .._artifacts import check_file

    remedy = "reinstall it with: pip install --force-reinstall 'grakel==0.1.11'"
    check_file(path, "MUTAG file")
    try:
        arr = np.loadtxt(path, delimiter=delimiter, dtype=np.int64, ndmin=2 if ncols else 1)
    except (ValueError, OSError) as err:
        raise ArtifactError(path, f"the MUTAG file is not a table of integers ({err}); "
                                  f"{remedy}") from None
    if ncols is not None and arr.shape[1] != ncols:
        raise ArtifactError(path, f"the MUTAG file must have {ncols} columns, got "
                                  f"{arr.shape[1]}; {remedy}")
    if arr.size == 0:
        raise ArtifactError(path, f"the MUTAG file holds no rows; {remedy}")
    return arr


def load_mutag() -> tuple[list[Any], np.ndarray]:
    """MUTAG (188 molecules, mutagenic or not; TU benchmark format), read offline.

    The files come with the ``grakel`` package (its test data); nothing is
    downloaded. Node labels (7 atom types) become one-hot features in the
    node attribute ``"x"`` and the integer label ``"label"``; edge labels are
    dropped. A missing, empty, malformed or inconsistent file raises
    :class:`mintlab.ArtifactError` naming it.

    Returns
    -------
    graphs : list of networkx graphs
    labels : ndarray of int (0: not mutagenic, 1: mutagenic)
    """
    import networkx as nx

    d = _mutag_dir()
    edges = _mutag_table(d / "MUTAG_A.txt", delimiter=",", ncols=2) - 1
    owner = _mutag_table(d / "MUTAG_graph_indicator.txt") - 1
    node_label = _mutag_table(d / "MUTAG_node_labels.txt")
    graph_label = _mutag_table(d / "MUTAG_graph_labels.txt")
    if owner.ndim != 1 or node_label.shape != owner.shape:
        raise ArtifactError(d / "MUTAG_node_labels.txt",
                            f"{node_label.size} node labels for {owner.size} nodes in "
                            "MUTAG_graph_indicator.txt")
    if owner.min() < 0 or owner.max() >= len(graph_label) or np.any(np.diff(owner) < 0):
        raise ArtifactError(d / "MUTAG_graph_indicator.txt",
                            f"graph indices must be sorted and within 1..{len(graph_label)}")
    if edges.min() < 0 or edges.max() >= owner.size:
        raise ArtifactError(d / "MUTAG_A.txt", f"node indices must lie in 1..{owner.size}")
    if node_label.min() < 0:
        raise ArtifactError(d / "MUTAG_node_labels.txt", "node labels must be non-negative")
    n_types = int(node_label.max()) + 1
    first = np.searchsorted(owner, np.arange(len(graph_label)))
    graphs = []
    for k in range(len(graph_label)):
        nodes = np.flatnonzero(owner == k)
        g = nx.Graph()
        for v in nodes:
            g.add_node(int(v - first[k]), x=np.eye(n_types)[node_label[v]],
                       label=int(node_label[v]))
        sel = edges[owner[edges[:, 0]] == k] - first[k]
        g.add_edges_from((int(a), int(b)) for a, b in sel if a != b)
        graphs.append(g)
    return graphs, (graph_label > 0).astype(np.int64)
