"""Bad arguments to the data-set loaders and generators: the message names the argument,
the rule and what was given."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import mintlab.datasets as ds

IMGS = np.full((2, 8, 8), 0.8)
RNG = np.random.default_rng(0)

CASES = [
    # generators of point clouds and meshes
    (ds.sample_shape, ("cube", 0, RNG), {}, ValueError, "n must be >= 1, got 0"),
    (ds.sample_shape, ("cube", 5, 3), {}, TypeError, "rng must be a numpy.random.Generator"),
    (ds.sample_shape, ("cube", 5, RNG), {"aspect": math.nan}, ValueError,
     "aspect must be finite"),
    (ds.sample_shape, (3, 5, RNG), {}, TypeError, "shape must be one of"),
    (ds.make_point_cloud_classes, (2,), {"shapes": "sphere"}, TypeError,
     "shapes must be a sequence of names"),
    (ds.make_point_cloud_classes, (2,), {"n_points": 2.5}, ValueError,
     "n_points must hold whole numbers of elements, got 2.5"),
    (ds.make_point_cloud_classes, (2,), {"n_points": "2"}, TypeError,
     r"n_points must be an int or a \(low, high\) pair"),
    (ds.make_point_cloud_classes, (2,), {"n_points": (5, 3)}, ValueError,
     "n_points must satisfy 1 <= low <= high"),
    (ds.make_point_cloud_classes, (2,), {"rotate": "yes"}, TypeError,
     "rotate must be True or False"),
    (ds.make_point_cloud_classes, (2,), {"seed": "s"}, TypeError, "seed must be a non-negative"),
    (ds.make_point_cloud_classes, (2,), {"seed": -1}, ValueError,
     "seed must be a non-negative int, got -1"),
    (ds.make_set_retrieval_corpus, (3, 2), {"query_noise": -0.1}, ValueError,
     "query_noise must be non-negative"),
    (ds.make_mesh_point_cloud_classes, (1,), {"shapes": ["box", "teapot"]}, ValueError,
     "shapes must hold names among"),
    # graphs and tasks
    (ds.make_graph_classes, (1,), {"n_nodes": (3, 8)}, ValueError,
     "n_nodes must satisfy 4 <= low <= high"),
    (ds.make_graph_classes, (1,), {"families": 3}, TypeError, "families must be a sequence"),
    (ds.make_featured_graph_classes, (1,), {"couplings": [0.5, math.nan]}, ValueError,
     "couplings must be finite"),
    (ds.make_digit_tasks, (2,), {"n_components": 65}, ValueError, "n_components must be <= 64"),
    (ds.make_digit_tasks, (2,), {"per_class": 500}, ValueError, "per_class must be <= 174"),
    (ds.make_gaussian_tasks, (2,), {"shift": math.inf}, ValueError, "shift must be finite"),
    (ds.make_gaussian_tasks, (2,), {"dim": 0}, ValueError, "dim must be >= 1"),
    (ds.make_image_tasks, (2,), {"seed": 1.5}, TypeError, "seed must be a non-negative"),
    # digits, glyphs
    (ds.load_digits_split, (), {"val_fraction": 1.0}, ValueError,
     r"val_fraction must lie in \(0, 1\), got 1.0"),
    (ds.load_digits_split, (), {"test_fraction": "0.2"}, TypeError,
     "test_fraction must be a real number"),
    (ds.load_digits_split, (), {"test_fraction": 0.001}, ValueError,
     "test_fraction leaves 2 digits in a split"),
    (ds.rotate_digits, (np.full((2, 64), np.nan),), {}, ValueError, "X must be finite"),
    (ds.rotate_digits, (np.zeros((2, 63)),), {}, ValueError, r"X must have shape \(n, 64\)"),
    (ds.affine_deform, (np.zeros((8, 9)), RNG), {}, ValueError, "img must be a square image"),
    (ds.affine_deform, (np.zeros((8, 8)), RNG), {"blur": -1.0}, ValueError,
     "blur must be non-negative"),
    (ds.affine_deform, (np.zeros((8, 8)), RNG), {"scale": (1.2, 0.8)}, ValueError,
     "scale must satisfy 0 < low <= high"),
    (ds.make_glyph_classes, ("3",), {}, TypeError, "n_classes must be an integer"),
    (ds.make_glyph_classes, (2,), {"noise": math.nan}, ValueError, "noise must be finite"),
    (ds.load_glyph_split, (2,), {"seed": "0"}, TypeError, "seed must be a non-negative int"),
    # corpora and text
    (ds.load_corpus_verses, (3,), {}, TypeError, "split must be one of"),
    (ds.austen_passages, (5,), {}, TypeError, "split must be one of"),
    (ds.austen_passages, ("test",), {"seed": "x"}, TypeError, "seed must be"),
    (ds.build_vocabulary, ("some words",), {"size": 3}, TypeError,
     "passages must be a sequence of passages"),
    (ds.encode_passages, ([("a", "b")], ["a"]), {}, TypeError, "vocabulary must be a dict"),
    (ds.encode_passages, ([("a", 3)], {"a": 2}), {}, TypeError,
     "passages must hold sequences of words"),
    (ds.listops_value, ([11, 3, 4, 0.5, 15],), {}, ValueError, "tokens must hold integer ids"),
    (ds.listops_value, ([11, 3, -1, 15],), {}, ValueError, r"tokens must be ids in \[0, 16\)"),
    (ds.listops_value, ("[MAX 2 3 ]",), {}, TypeError, "tokens must be a sequence"),
    (ds.make_listops, (2, 16), {"seed": 1.5}, TypeError, "seed must be a non-negative int"),
    (ds.make_byte_text, (2, 8), {"task": 3}, ValueError, "task must be one of"),
    # images and corruptions
    (ds.image_point_clouds, (np.zeros((0, 5, 5)),), {}, ValueError,
     "images must not be empty"),
    (ds.sample_image_points, (np.full((2, 4, 4), np.nan), 3), {}, ValueError,
     "images must be finite"),
    (ds.sample_image_points, (np.full((2, 4, 4), 2.0), 3), {}, ValueError,
     r"images must hold intensities in \[0, 1\]"),
    (ds.sample_image_points, (IMGS, 3), {"seed": "0"}, TypeError, "seed must be"),
    (ds.corrupt, (IMGS, "contrast", 1), {"seed": 1.5}, TypeError, "seed must be"),
    (ds.corrupt, (IMGS, 3, 1), {}, TypeError, "corruption must be one of"),
    (ds.corruption_suite, (IMGS, "contrast"), {}, TypeError, "corruptions must be a sequence"),
    (ds.corruption_suite, (IMGS, ["contrast"], (1, 7)), {}, ValueError,
     "severities must be an integer in 1..5"),
    (ds.load_fashion_mnist, ("test",), {"n": 5, "seed": -2}, ValueError,
     "seed must be a non-negative int"),
    (ds.load_mnist1d, ("test",), {"n": 5, "seed": "0"}, TypeError, "seed must be"),
]


@pytest.mark.parametrize("fn, args, kwargs, exc, match", CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CASES)])
def test_bad_argument_is_rejected_with_a_clear_message(fn, args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        out = fn(*args, **kwargs)
        if hasattr(out, "__next__"):
            next(out)


def test_corruption_suite_checks_its_arguments_when_called():
    with pytest.raises(ValueError, match="corruptions must hold names among"):
        ds.corruption_suite(IMGS, ["fog"])  # not only on the first next()


def test_local_labels_rejects_ids_of_other_tasks():
    tasks = ds.ImageTasks(train=[], test=[], classes=np.array([[0, 3], [2, 5]]),
                          n_fashion=np.array([1, 1]))
    assert tasks.local_labels(1, np.array([5, 2])).tolist() == [1, 0]
    with pytest.raises(ValueError,
                       match=r"y must hold class ids of task 1 \(\[2, 5\]\), got \[3\]"):
        tasks.local_labels(1, np.array([5, 3]))
    with pytest.raises(ValueError, match=r"t must be a task index in \[0, 2\)"):
        tasks.local_labels(2, np.array([5]))


def test_rotate_digits_keeps_the_array_kind():
    X = np.arange(128.0).reshape(2, 64)
    t = ds.rotate_digits(torch.from_numpy(X), 1)
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float64
    np.testing.assert_array_equal(t.numpy(), ds.rotate_digits(X, 1))
