import networkx as nx
import numpy as np
import pytest

from mintlab.datasets import make_graph_classes
from mintlab.embed import WEGL
from mintlab.embed.graphs import node_embeddings


def test_node_embeddings_diffuse_features():
    g = nx.path_graph(3)
    Z = node_embeddings(g, n_layers=1)
    # inputs: [1, degree]; one step of D^-1/2 (A + I) D^-1/2
    A = np.array([[1, 1, 0], [1, 1, 1], [0, 1, 1]], float)
    d = 1 / np.sqrt(A.sum(1))
    X0 = np.c_[np.ones(3), [1, 2, 1]]
    assert np.allclose(Z, np.c_[X0, (d[:, None] * A * d[None]) @ X0])


def test_wegl_is_invariant_to_node_relabelling_and_accepts_edge_lists():
    rng = np.random.default_rng(0)
    graphs = []
    for _ in range(5):
        g = nx.gnp_random_graph(12, 0.3, seed=int(rng.integers(1000)))
        for v in g.nodes:
            g.nodes[v]["x"] = rng.normal(size=2)
        graphs.append(g)
    wegl = WEGL(n_layers=2, n_references=6, seed=0).fit(graphs)
    E = wegl.transform(graphs)
    perm = rng.permutation(12)
    relabelled = nx.relabel_nodes(graphs[0], {i: int(perm[i]) for i in range(12)})
    assert np.allclose(wegl.transform([relabelled])[0], E[0], atol=1e-9)
    edges = np.array(graphs[1].edges())
    X = np.stack([graphs[1].nodes[v]["x"] for v in range(12)])
    assert np.allclose(wegl.transform([(edges, X)])[0], E[1], atol=1e-9)


def test_wegl_bad_inputs_and_generators():
    with pytest.raises(ValueError, match="non-empty list of graphs"):
        WEGL().fit([])
    with pytest.raises(TypeError, match="networkx graph or an"):
        WEGL().fit([np.ones((3, 3))])
    with pytest.raises(ValueError, match="edges must index nodes"):
        WEGL().fit([([[0, 5]], np.ones((3, 1)))])
    G, y = make_graph_classes(3, seed=1)
    assert len(G) == 12 and all(g.number_of_nodes() >= 20 for g in G)
    G2, _ = make_graph_classes(3, seed=1)
    assert all(nx.utils.graphs_equal(a, b) for a, b in zip(G, G2, strict=True))


def test_featured_graph_classes_share_structure_and_node_marginals():
    from mintlab.datasets.graphs import make_featured_graph_classes

    G, y = make_featured_graph_classes(4, seed=3)
    assert y.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    for g in G:  # every class: a 4-regular graph, features standardised per graph
        assert {d for _, d in g.degree()} == {4}
        X = np.stack([g.nodes[v]["x"] for v in g.nodes])
        assert np.allclose(X.mean(0), 0, atol=1e-12) and np.allclose(X.std(0), 1)
    G2, _ = make_featured_graph_classes(4, seed=3)
    for a, b in zip(G, G2, strict=True):
        assert set(a.edges()) == set(b.edges())
        assert all(np.array_equal(a.nodes[v]["x"], b.nodes[v]["x"]) for v in a.nodes)

    def edge_corr(g):  # correlation of the first feature across edges
        a = np.array([[g.nodes[u]["x"][0], g.nodes[v]["x"][0]] for u, v in g.edges()])
        return np.corrcoef(a.T)[0, 1]

    G, y = make_featured_graph_classes(30, seed=0)
    corr = np.array([edge_corr(g) for g in G])
    assert corr[y == 0].mean() > 0.2 > abs(corr[y == 1].mean()) and corr[y == 2].mean() < -0.2
    with pytest.raises(ValueError, match="n_nodes must satisfy"):
        make_featured_graph_classes(2, n_nodes=(3, 10))


def test_load_mutag_matches_the_benchmark_statistics():
    pytest.importorskip("grakel")
    from mintlab.datasets.graphs import load_mutag

    G, y = load_mutag()
    # the published MUTAG statistics: 188 graphs, 125 mutagenic, 17.93 nodes and 19.79 edges
    # on average, 7 atom types
    assert len(G) == 188 and int(y.sum()) == 125
    assert np.isclose(np.mean([g.number_of_nodes() for g in G]), 17.93, atol=0.01)
    assert np.isclose(np.mean([g.number_of_edges() for g in G]), 19.79, atol=0.01)
    labels = {d["label"] for g in G for _, d in g.nodes(data=True)}
    assert labels == set(range(7))
    x = G[0].nodes[0]["x"]
    assert x.shape == (7,) and x.sum() == 1 and x[G[0].nodes[0]["label"]] == 1
    assert all(nx.is_connected(g) for g in G)
