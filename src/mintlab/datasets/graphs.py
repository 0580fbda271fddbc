"""Graph classification data: procedural graph classes (networkx generators, from a seed),
graphs whose classes live in how node features correlate across edges, and the MUTAG
benchmark where an installed package ships its files."""

from __future__ import annotations

import numpy as np

from .._validation import check_int

__all__ = ["GRAPH_FAMILIES", "FEATURE_COUPLINGS", "make_graph_classes",
           "make_featured_graph_classes", "load_mutag"]

GRAPH_FAMILIES = ("erdos_renyi", "barabasi_albert", "watts_strogatz", "two_communities")


def _graph(family, n, rng):
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


def make_graph_classes(n_per_class, families=GRAPH_FAMILIES, n_nodes=(20, 40), seed=None):
    """Random graphs from several families with about the same mean degree (~4).

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
    for f in families:
        if f not in GRAPH_FAMILIES:
            raise ValueError(f"families must be among {GRAPH_FAMILIES}, got {f!r}")
    lo, hi = n_nodes
    rng = np.random.default_rng(seed)
    graphs, labels = [], []
    for c, f in enumerate(families):
        for _ in range(n_per_class):
            graphs.append(_graph(f, int(rng.integers(lo, hi + 1)), rng))
            labels.append(c)
    return graphs, np.asarray(labels)


FEATURE_COUPLINGS = (0.6, 0.0, -0.6)  # class c: x = standardise(z + beta_c * neighbour mean of z)


def make_featured_graph_classes(n_per_class, couplings=FEATURE_COUPLINGS, n_nodes=(20, 40),
                                degree=4, n_features=2, seed=None):
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
    lo, hi = n_nodes
    if not degree < lo <= hi:
        raise ValueError(f"n_nodes must satisfy degree < low <= high, got {n_nodes} with "
                         f"degree {degree}")
    rng = np.random.default_rng(seed)
    graphs, labels = [], []
    for c, beta in enumerate(couplings):
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


def _mutag_dir():
    from importlib.util import find_spec
    from pathlib import Path

    from ._assets import require_asset

    require_asset("mutag")  # MissingAssetError naming the install command
    spec = find_spec("grakel")
    d = Path(next(iter(spec.submodule_search_locations))) / "tests" / "data" / "MUTAG"
    if not (d / "MUTAG_A.txt").is_file():
        raise FileNotFoundError(f"MUTAG files not found under {d}")
    return d


def load_mutag():
    """MUTAG (188 molecules, mutagenic or not; TU benchmark format), read offline.

    The files come with the ``grakel`` package (its test data); nothing is
    downloaded. Node labels (7 atom types) become one-hot features in the
    node attribute ``"x"`` and the integer label ``"label"``; edge labels are
    dropped.

    Returns
    -------
    graphs : list of networkx graphs
    labels : ndarray of int (0: not mutagenic, 1: mutagenic)
    """
    import networkx as nx

    d = _mutag_dir()
    edges = np.loadtxt(d / "MUTAG_A.txt", delimiter=",", dtype=np.int64) - 1
    owner = np.loadtxt(d / "MUTAG_graph_indicator.txt", dtype=np.int64) - 1
    node_label = np.loadtxt(d / "MUTAG_node_labels.txt", dtype=np.int64)
    graph_label = np.loadtxt(d / "MUTAG_graph_labels.txt", dtype=np.int64)
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
