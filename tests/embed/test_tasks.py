import numpy as np
import ot
import pytest

from mintlab.embed import TaskEmbedding
from mintlab.embed.tasks import class_distances

RNG = np.random.default_rng(9)


def _task(shift, n=30, k=2):
    y = np.repeat(np.arange(k), n)
    X = RNG.normal(size=(n * k, 2)) + shift + 3 * y[:, None]
    return X, y


def test_task_embedding_symmetric_zero_on_identical_and_ordered():
    tasks = [_task(0.0), _task(0.5), _task(3.0), _task(0.0, k=3)]
    emb = TaskEmbedding(label_dim=3, n_references=16, seed=0)
    E = emb.fit_transform(tasks)
    D = np.linalg.norm(E[:, None] - E[None], axis=-1)
    assert np.allclose(D, D.T) and np.allclose(np.diag(D), 0)
    again = emb.transform(tasks)
    assert np.allclose(again, E, atol=1e-9)  # landmark MDS reproduces the training classes
    assert D[0, 1] < D[0, 2]  # a small shift is closer than a large one


def test_class_embedding_reproduces_class_distances():
    tasks = [_task(s) for s in (0.0, 1.0, 5.0)]
    emb = TaskEmbedding(label_dim=6, n_references=8, seed=0).fit(tasks)
    C = emb.class_embedding_
    clouds = [X[y == c] for X, y in tasks for c in np.unique(y)]
    D = class_distances(clouds)
    De = np.linalg.norm(C[:, None] - C[None], axis=-1)
    assert np.corrcoef(D.ravel(), De.ravel())[0, 1] > 0.99
    assert abs(D[0, 1] - np.sqrt(ot.emd2([], [], ot.dist(clouds[0], clouds[1])))) < 1e-12


def test_rank_deficient_class_distances_stay_finite():
    """Two training classes give one MDS axis; asking for more must not divide by ~0."""
    tasks = [(RNG.normal(size=(40, 2)) + s, np.zeros(40, int)) for s in (0.0, 4.0)]
    emb = TaskEmbedding(label_dim=3, n_references=8, seed=0)
    E = emb.fit_transform(tasks)
    assert np.allclose(emb.class_embedding_[:, 1:], 0)  # only one informative axis
    again = emb.transform(tasks)
    assert np.allclose(again, E, atol=1e-9)
    new = emb.transform([(RNG.normal(size=(40, 2)) + 2.0, np.zeros(40, int))])
    assert np.isfinite(new).all() and np.abs(new).max() < 100


def test_task_embedding_bad_inputs():
    with pytest.raises(ValueError, match="non-empty list"):
        TaskEmbedding().fit([])
    with pytest.raises(TypeError, match=r"X\[0\] must be a \(features, labels\) pair"):
        TaskEmbedding().fit([np.ones((3, 2))])
    with pytest.raises(ValueError, match=r"X\[1\] has 3 features"):
        TaskEmbedding().fit([_task(0.0), (np.ones((4, 3)), np.zeros(4))])
    emb = TaskEmbedding(label_dim=2, n_references=4, seed=0).fit([_task(0.0), _task(1.0)])
    with pytest.raises(ValueError, match="2 features as in fit"):
        emb.transform([(np.ones((4, 3)), np.zeros(4))])
