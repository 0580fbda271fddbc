"""Estimators take what scikit-learn estimators take (pandas objects, numpy seeds), and the
index files hold what json can write."""

import json

import numpy as np
import pandas as pd
import pytest

from mintlab.embed import SLOSH, NearestSubspaceClassifier, RadonCDT, TaskEmbedding
from mintlab.embed.gromov import _embedding_rows


def test_radon_cdt_and_subspace_classifier_take_dataframes():
    rng = np.random.default_rng(0)
    imgs = rng.random((4, 16))
    a = RadonCDT(image_shape=(4, 4), angles=[0.0, 90.0]).fit_transform(imgs)
    b = RadonCDT(image_shape=(4, 4), angles=pd.Series([0.0, 90.0])).fit_transform(
        pd.DataFrame(imgs))
    assert np.array_equal(a, b)
    X = rng.normal(size=(20, 5))
    y = np.r_[np.zeros(10), np.ones(10)]
    basis = rng.normal(size=(1, 5))
    p = NearestSubspaceClassifier(extra_basis=basis).fit(X, y).predict(X)
    q = NearestSubspaceClassifier(extra_basis=pd.DataFrame(basis)).fit(
        pd.DataFrame(X), pd.Series(y)).predict(pd.DataFrame(X))
    assert np.array_equal(p, q)
    assert np.array_equal(_embedding_rows(pd.DataFrame(X), "E"), X)


def _tasks():
    rng = np.random.default_rng(0)
    return [(rng.normal(size=(30, 2)), np.arange(30) % 3) for _ in range(3)]


@pytest.mark.parametrize("seed", [np.random.default_rng(1), np.random.SeedSequence(1),
                                  np.random.PCG64(1)])
def test_task_embedding_takes_numpy_generator_seeds(seed):
    E = TaskEmbedding(label_dim=2, n_references=8, seed=seed).fit_transform(_tasks())
    assert E.shape == (3, 32) and np.isfinite(E).all()


def test_task_embedding_with_an_int_seed_is_unchanged_and_bad_seeds_are_named():
    a = TaskEmbedding(label_dim=2, n_references=8, seed=np.int64(0)).fit_transform(_tasks())
    b = TaskEmbedding(label_dim=2, n_references=8, seed=0).fit_transform(_tasks())
    assert np.array_equal(a, b)
    with pytest.raises(TypeError, match="seed must be an int, a numpy Generator"):
        TaskEmbedding(seed=1.5).fit(_tasks())


def test_slosh_saves_a_numpy_integer_seed_and_names_a_missing_folder(tmp_path):
    pytest.importorskip("faiss")
    rng = np.random.default_rng(0)
    corpus = [rng.normal(size=(20, 3)) for _ in range(6)]
    idx = SLOSH(n_projections=4, n_quantiles=4, index="flat", seed=np.int64(2)).fit(corpus)
    idx.save(tmp_path / "idx")
    assert json.loads((tmp_path / "idx" / "config.json").read_text())["seed"] == 2
    back = SLOSH.load(tmp_path / "idx")
    assert np.array_equal(idx.search(corpus[:2], k=3)[1], back.search(corpus[:2], k=3)[1])
    with pytest.raises(FileNotFoundError, match="no such SLOSH index folder") as err:
        SLOSH.load(tmp_path / "missing")
    assert str(tmp_path / "missing") in str(err.value)
