"""Pieces of the ``wegl`` experiment that its claims rely on (fast, no full run)."""

import numpy as np
import pytest

from mintlab.datasets.graphs import make_featured_graph_classes
from mintlab.experiments import wegl


def test_structure_alone_cannot_separate_the_featured_classes():
    # WL on the structure only (every node the same label): all random 4-regular graphs of one
    # size get the same colour histogram, so the classes live in the features alone
    import networkx as nx

    G, y = make_featured_graph_classes(3, n_nodes=(20, 20), seed=0)
    hashes = {nx.weisfeiler_lehman_graph_hash(g, iterations=3) for g in G}
    assert len(hashes) == 1


def test_gin_is_seeded_and_batches_are_block_diagonal():
    from mintlab.experiments._sets_common import one_thread

    G, y = make_featured_graph_classes(6, seed=1)
    tr, te = np.arange(0, 18, 2), np.arange(1, 18, 2)
    with one_thread():
        a = wegl._gin_fold(G, y, tr, te, epochs=5, seed=3)
        b = wegl._gin_fold(G, y, tr, te, epochs=5, seed=3)
    assert np.array_equal(a, b)
    x, adj, pool = wegl._batch(G[:2])
    n0 = G[0].number_of_nodes()
    assert x.shape[0] == n0 + G[1].number_of_nodes()
    assert adj.to_dense().sum() == 2 * (G[0].number_of_edges() + G[1].number_of_edges())
    assert pool.to_dense().sum(1).tolist() == [n0, G[1].number_of_nodes()]


def test_kernel_labels_and_fold_fitting():
    G, y = make_featured_graph_classes(6, seed=2)
    labels = wegl._labels(G[0])
    assert set(labels.values()) <= {0, 1, 2, 3}
    tr, te = np.arange(0, 18, 2), np.arange(1, 18, 2)
    pred, pred_svm, t_embed, t_all = wegl._wegl_fold(G, y, tr, te, n_references=8, seed=0)
    assert pred.shape == pred_svm.shape == te.shape and 0 < t_embed <= t_all


def test_grakel_kernels_run_on_the_fold_split():
    grakel = pytest.importorskip("grakel")
    from grakel.kernels import WeisfeilerLehman

    G, y = make_featured_graph_classes(6, seed=4)
    gk = [grakel.Graph({v: list(g.neighbors(v)) for v in g.nodes()},
                       node_labels=wegl._labels(g)) for g in G]
    tr, te = np.arange(0, 18, 2), np.arange(1, 18, 2)
    pred = wegl._kernel_fold(grakel, WeisfeilerLehman(n_iter=2, normalize=True), gk, y, tr, te)
    assert pred.shape == te.shape


def test_without_grakel_the_wl_hash_features_stand_in(monkeypatch):
    from mintlab.experiments._sets_common import one_thread

    monkeypatch.setattr(wegl, "_grakel", lambda: None)
    G, y = make_featured_graph_classes(6, seed=5)
    settings = wegl.WeglSettings(seeds=1, tasks=("featured",), folds=3, featured_per_class=6,
                                 n_references=4, gin_epochs=0, n_timed_pairs=5)
    with one_thread():
        correct, sec = wegl._evaluate(G, y, settings, seed=0)
    assert set(correct) == {"wegl", "wegl_linear_svm", "wl_features"}
    assert all(c.shape == (18,) for c in correct.values())
    assert sec["wegl"] >= sec["wegl_embedding"] > 0
