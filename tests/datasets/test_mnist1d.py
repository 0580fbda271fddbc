"""MNIST-1D through mintlab's loader: the published data set, generated offline."""

import random

import numpy as np
import pytest

from mintlab.datasets import load_mnist1d


def test_mnist1d_is_the_published_set():
    X, y = load_mnist1d("train")
    assert X.shape == (4000, 40) and X.dtype == np.float64 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [398, 396, 411, 394, 394, 402, 401, 404, 402, 398]
    assert y[:10].tolist() == [2, 6, 4, 5, 6, 6, 6, 0, 3, 1]
    np.testing.assert_allclose(X[0, :6], [-0.332006, -0.47191, -0.778697, -1.009741,
                                          -0.882353, 0.103935], atol=1e-6)
    Xt, yt = load_mnist1d("test")
    assert Xt.shape == (1000, 40)
    assert np.bincount(yt).tolist() == [102, 104, 89, 106, 106, 98, 99, 96, 98, 102]
    assert not {x.tobytes() for x in X} & {x.tobytes() for x in Xt}  # disjoint splits


def test_mnist1d_leaves_the_global_random_state_alone():
    from mintlab.datasets import signals

    signals._mnist1d.cache_clear()
    np.random.seed(123)  # noqa: NPY002
    random.seed(7)
    load_mnist1d("test", n=10)
    assert np.random.random() == np.random.RandomState(123).random()  # noqa: NPY002
    assert random.random() == random.Random(7).random()


def test_mnist1d_sample_and_errors():
    X, y = load_mnist1d("train", n=30, seed=2)
    assert X.shape == (30, 40) and np.bincount(y).tolist() == [3] * 10
    with pytest.raises(ValueError, match="n must be at most 1000"):
        load_mnist1d("test", n=1001)
    with pytest.raises(ValueError, match="split must be one of"):
        load_mnist1d("val")
