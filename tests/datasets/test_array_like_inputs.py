"""Valid input in every form numpy understands is accepted: pandas objects, numpy scalars
and seeds, whole-number floats for sizes, numpy arrays of words."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mintlab.datasets as ds
from mintlab._cache import cached_arrays
from mintlab.datasets import graphs
from mintlab.datasets._checks import check_numpy_rng, check_range
from mintlab.datasets.text_classes import build_vocabulary, encode_passages


def test_pandas_inputs_are_accepted():
    X = np.arange(128.0).reshape(2, 64)
    assert np.array_equal(ds.rotate_digits(pd.DataFrame(X)), ds.rotate_digits(X))
    G1, y1 = ds.make_featured_graph_classes(1, couplings=pd.Series([0.5, -0.5]), n_nodes=8,
                                            seed=0)
    G2, y2 = ds.make_featured_graph_classes(1, couplings=[0.5, -0.5], n_nodes=8, seed=0)
    assert np.array_equal(y1, y2)
    assert all(np.array_equal(a.nodes[0]["x"], b.nodes[0]["x"])
               for a, b in zip(G1, G2, strict=True))
    img = np.random.default_rng(0).random((4, 4))
    a = ds.sample_image_points(pd.DataFrame(img), 5, seed=0)[0]
    b = ds.sample_image_points(img, 5, seed=0)[0]
    assert np.array_equal(a, b)
    ids = {t: i for i, t in enumerate(ds.LISTOPS_VOCAB)}
    expr = pd.Series([ids[t] for t in "[MAX 2 [MIN 7 4 ] 3 ]".split()])
    assert ds.listops_value(expr) == 4


def test_numpy_arrays_of_words_are_passages():
    words = np.array([["a", "b"], ["b", "c"]])
    vocab = build_vocabulary(words, 5)
    assert vocab == build_vocabulary([["a", "b"], ["b", "c"]], 5)
    assert np.array_equal(encode_passages(words, vocab),
                          encode_passages([("a", "b"), ("b", "c")], vocab))
    assert encode_passages(iter([["a", "b"]]), vocab).shape == (1, 2)
    with pytest.raises(TypeError, match=r"passages\[0\]"):
        build_vocabulary(["ab"], 5)


def test_sizes_may_be_whole_number_floats():
    assert check_range(200.0, "n_points") == (200, 200)
    assert check_range((np.float32(3), 5), "n_points") == (3, 5)
    a, _ = ds.make_point_cloud_classes(1, shapes=("cube",), n_points=50.0, seed=0)
    b, _ = ds.make_point_cloud_classes(1, shapes=("cube",), n_points=50, seed=0)
    assert np.array_equal(a[0], b[0])
    with pytest.raises(ValueError, match="n_points must hold whole numbers"):
        check_range(200.5, "n_points")
    with pytest.raises(TypeError, match="n_points must be an int"):
        check_range(True, "n_points")


def test_graph_families_need_only_their_own_minimum_size():
    G, y = ds.make_graph_classes(1, families=("erdos_renyi", "two_communities"), n_nodes=(2, 3),
                                 seed=0)
    assert len(G) == 2
    G, _ = ds.make_graph_classes(1, families=("barabasi_albert",), n_nodes=3, seed=0)
    assert G[0].number_of_nodes() == 3
    G, _ = ds.make_graph_classes(1, families=("watts_strogatz",), n_nodes=4, seed=0)
    assert G[0].number_of_nodes() == 4
    with pytest.raises(ValueError, match="n_nodes must satisfy 4 <= low"):
        ds.make_graph_classes(1, families=("watts_strogatz",), n_nodes=3)
    assert graphs._MIN_NODES.keys() == set(ds.GRAPH_FAMILIES)


@pytest.mark.parametrize("seed", [3, np.int64(3), np.array(3), [1, 2], np.array([1, 2]),
                                  np.random.PCG64(3), np.random.SeedSequence(3),
                                  np.random.default_rng(3), None])
def test_numpy_seeds_accepted_as_default_rng_does(seed):
    assert isinstance(check_numpy_rng(seed), np.random.Generator)


def test_numpy_seed_errors_name_the_argument():
    with pytest.raises(TypeError, match="seed must be a non-negative int"):
        check_numpy_rng(np.array(2.0))
    with pytest.raises(TypeError, match="seed must be"):
        check_numpy_rng(True)
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        check_numpy_rng(-1)
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        check_numpy_rng([1, -2])
    # the same draws as default_rng for every accepted kind
    assert check_numpy_rng(np.array(5)).integers(1000) == np.random.default_rng(5).integers(1000)


def test_affine_deform_scale_of_the_wrong_length_is_a_value_error():
    img = np.zeros((8, 8))
    with pytest.raises(ValueError, match=r"scale must be a \(low, high\) pair .* 3 value"):
        ds.affine_deform(img, np.random.default_rng(0), scale=(0.8, 1.0, 1.2))
    with pytest.raises(TypeError, match=r"scale must be a \(low, high\) pair"):
        ds.affine_deform(img, np.random.default_rng(0), scale=1.0)


def test_cached_arrays_rejects_object_arrays_and_returns_what_it_reads(tmp_path, monkeypatch):
    monkeypatch.setenv("MINTLAB_CACHE_DIR", str(tmp_path))
    with pytest.raises(TypeError, match="'x' as an array of dtype object"):
        cached_arrays("obj.npz", lambda: {"x": np.array([{"a": 1}], dtype=object)})
    assert not (tmp_path / "obj.npz").exists()
    with pytest.raises(ValueError, match=r"missing \['y'\]"):
        cached_arrays("keys.npz", lambda: {"x": np.zeros(2)}, keys=("y",))
    first = cached_arrays("ok.npz", lambda: {"x": [1.5, 2.5], "w": np.array(["a", "bc"])})
    calls = []
    again = cached_arrays("ok.npz", lambda: calls.append(1) or {"x": np.zeros(1)})
    assert not calls
    for k in ("x", "w"):
        assert first[k].dtype == again[k].dtype and np.array_equal(first[k], again[k])
