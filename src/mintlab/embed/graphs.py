"""WEGL: Wasserstein embedding for graph learning (``wegl``).

Each graph becomes the distribution of its node embeddings, obtained
without training by diffusing node features over the graph
(``X^{(l+1)} = D^{-1/2} (A + I) D^{-1/2} X^{(l)}``, all layers concatenated);
the distributions are embedded with linear optimal transport against a
reference fitted on the training graphs, so any vector classifier applies
and the cost is linear in the number of graphs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self, cast

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._validation import check_int
from ._checks import check_seed
from .lot import LinearOT, _progress

__all__ = ["WEGL", "node_embeddings"]


def _as_graph(g, feature_key, name="graph"):
    """(adjacency as scipy CSR, node features (n, f)) from a networkx graph or (edges, X)."""
    try:
        import networkx as nx
    except ImportError:  # pragma: no cover - networkx ships with torch
        nx = None
    if nx is not None and isinstance(g, nx.Graph):
        nodes = list(g.nodes())
        pos = {v: i for i, v in enumerate(nodes)}
        n = len(nodes)
        rows = [pos[u] for u, v in g.edges()] + [pos[v] for u, v in g.edges()]
        cols = [pos[v] for u, v in g.edges()] + [pos[u] for u, v in g.edges()]
        feats = [g.nodes[v].get(feature_key) for v in nodes]
        X = None if any(f is None for f in feats) else np.asarray(feats, dtype=np.float64)
    elif isinstance(g, tuple) and len(g) == 2:
        edges, X = g
        if hasattr(X, "detach"):
            X = X.detach().cpu().numpy()
        try:
            X = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"{name}: node features must be an array of numbers (n, f), got "
                            f"{type(X).__name__}") from None
        if X.ndim == 1:
            X = X[:, None]
        if X.ndim != 2:
            raise ValueError(f"{name}: node features must have shape (n, f), got {X.shape}")
        n = X.shape[0]
        try:
            e = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
        except (TypeError, ValueError):
            raise TypeError(f"{name}: edges must be pairs of node indices") from None
        if e.size and (e.min() < 0 or e.max() >= n):
            raise ValueError(f"{name}: edges must index nodes 0..{n - 1}, got "
                             f"{e.min()}..{e.max()}")
        rows = list(e[:, 0]) + list(e[:, 1])
        cols = list(e[:, 1]) + list(e[:, 0])
    else:
        raise TypeError(f"{name} must be a networkx graph or an (edges, node_features) pair, "
                        f"got {type(g).__name__}")
    if n == 0:
        raise ValueError(f"{name} must have at least one node, got none")
    A = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    A.data[:] = 1.0  # merge parallel edges
    if X is None:
        X = np.ones((n, 1))
    if not np.isfinite(X).all():
        raise ValueError(f"{name}: node features must be finite, got NaN or infinite values")
    return A, X


def node_embeddings(graph, n_layers=3, feature_key="x", *, name="graph"):
    """Diffused node features of one graph, all layers concatenated: ``(n, f * (L + 1))``.

    Uses the degree as an extra input feature when nodes carry none.

    Examples
    --------
    >>> import networkx as nx
    >>> node_embeddings(nx.path_graph(4), n_layers=2).shape
    (4, 6)
    """
    A, X = _as_graph(graph, feature_key, name)
    deg = np.asarray(A.sum(1)).ravel()
    if X.shape[1] == 1 and np.all(X == 1):
        X = np.c_[X, deg]
    Ah = A + sp.identity(A.shape[0], format="csr")
    d = 1.0 / np.sqrt(np.asarray(Ah.sum(1)).ravel())
    P = sp.diags(d) @ Ah @ sp.diags(d)
    layers = [X]
    for _ in range(check_int(n_layers, "n_layers", minimum=0)):
        layers.append(P @ layers[-1])
    return np.concatenate(layers, axis=1)


class WEGL(TransformerMixin, BaseEstimator):
    """Wasserstein embedding of graphs (``wegl``): diffusion + linear optimal transport.

    Parameters
    ----------
    n_layers : int, default 3
        Diffusion steps.
    n_references : int, default 64
        Support size of the LOT reference (k-means of the training nodes).
    feature_key : str, default "x"
        Node attribute holding the features in networkx graphs.
    seed : int or None
    progress : bool, default False

    ``X`` is a list of networkx graphs or ``(edges, node_features)`` pairs.
    Node embeddings are standardised with the training nodes' statistics.

    Examples
    --------
    >>> import networkx as nx
    >>> graphs = [nx.cycle_graph(6), nx.star_graph(5), nx.path_graph(6)]
    >>> WEGL(n_layers=2, n_references=4, seed=0).fit_transform(graphs).shape
    (3, 24)
    """

    def __init__(self, n_layers: int = 3, n_references: int = 64, feature_key: str = "x",
                 seed: int | None = None, progress: bool = False) -> None:
        self.n_layers = n_layers
        self.n_references = n_references
        self.feature_key = feature_key
        self.seed = seed
        self.progress = progress

    def _nodes(self, graphs):
        if isinstance(graphs, str | bytes) or not hasattr(graphs, "__len__") or len(graphs) == 0:
            raise ValueError("X must be a non-empty list of graphs")
        check_int(self.n_layers, "n_layers", minimum=0)
        check_seed(self.seed, numpy_ok=False, torch_ok=False)
        nodes = [node_embeddings(g, self.n_layers, self.feature_key, name=f"X[{k}]")
                 for k, g in enumerate(_progress(graphs, self.progress, "WEGL nodes"))]
        for k, z in enumerate(nodes):
            if z.shape[1] != nodes[0].shape[1]:
                raise ValueError(f"X[{k}] gives node embeddings of width {z.shape[1]}, X[0] of "
                                 f"{nodes[0].shape[1]}: every graph needs the same node features")
        return nodes

    def fit(self, X: Sequence[Any], y: Any = None) -> Self:
        """Fit the feature scaling and the LOT reference on the training graphs."""
        nodes = self._nodes(X)
        pooled = np.concatenate(nodes)
        self.mean_ = pooled.mean(0)
        self.scale_ = pooled.std(0)
        self.scale_[self.scale_ == 0] = 1.0
        self.lot_ = LinearOT(n_references=self.n_references, seed=self.seed,
                             progress=self.progress)
        self.lot_.fit([(z - self.mean_) / self.scale_ for z in nodes])
        return self

    def transform(self, X: Sequence[Any]) -> np.ndarray:
        """LOT embeddings of the graphs' node distributions."""
        check_is_fitted(self, "lot_")
        nodes = self._nodes(X)
        if nodes[0].shape[1] != self.mean_.shape[0]:
            raise ValueError(f"X must give node embeddings of width {self.mean_.shape[0]} "
                             f"as in fit, got {nodes[0].shape[1]}")
        # numpy node embeddings in: numpy out
        return cast(np.ndarray, self.lot_.transform([(z - self.mean_) / self.scale_
                                                     for z in nodes]))
