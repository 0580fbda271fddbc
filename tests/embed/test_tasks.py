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


def _shared_tasks():
    """Three tasks over global labels 0..3: task 2 reuses labels 0 and 1 of task 0."""
    def cloud(label, n=25):
        return RNG.normal(size=(n, 2)) + 4.0 * np.array([label % 2, label // 2])

    out = []
    for labels in ((0, 1), (2, 3), (0, 1, 2)):
        X = np.concatenate([cloud(c) for c in labels])
        out.append((X, np.repeat(labels, 25)))
    return out


def test_shared_labels_pool_classes_across_tasks():
    tasks = _shared_tasks()
    emb = TaskEmbedding(label_dim=3, n_references=12, shared_labels=True, seed=0)
    E = emb.fit_transform(tasks)
    assert emb.classes_ == [0, 1, 2, 3]  # one class per distinct label, in order of appearance
    # MDS reproduces the W2 distances between the pooled label clouds (POT's exact solver)
    pooled = [np.concatenate([X[y == c] for X, y in tasks]) for c in range(4)]
    C = emb.class_embedding_
    for a in range(4):
        for b in range(a + 1, 4):
            w2 = np.sqrt(ot.emd2([], [], ot.dist(pooled[a], pooled[b])))
            assert abs(np.linalg.norm(C[a] - C[b]) - w2) < 0.05 * w2
    # transform reuses the fitted coordinates of known labels: the training tasks come back
    assert np.allclose(emb.transform(tasks), E, atol=1e-9)
    # local labels treat label 0 of task 0 and of task 2 as different classes
    local = TaskEmbedding(label_dim=3, n_references=12, seed=0).fit(tasks)
    assert len(local.class_embedding_) == 7


def test_shared_labels_place_an_unseen_label_by_landmark_mds():
    tasks = _shared_tasks()
    emb = TaskEmbedding(label_dim=3, n_references=12, shared_labels=True, seed=0).fit(tasks)
    X, y = tasks[1]
    renamed = (X, np.where(y == 3, 7, y))  # label 7 was never seen: placed from its samples
    same, new = emb.transform([tasks[1], renamed])
    # the unseen label's samples equal label 3's, so its landmark coordinates are close
    assert np.linalg.norm(same - new) < 0.1 * np.linalg.norm(same)
    with pytest.raises(TypeError, match="shared_labels must be True or False"):
        TaskEmbedding(shared_labels="yes").fit(tasks)


def test_make_image_tasks_real_class_subsets_and_mixtures():
    from mintlab.datasets.tasks import IMAGE_TASK_CLASSES, make_image_tasks

    fam = make_image_tasks(12, n_classes=3, per_class=6, test_per_class=4, n_components=16,
                           seed=1)
    again = make_image_tasks(12, n_classes=3, per_class=6, test_per_class=4, n_components=16,
                             seed=1)
    assert len(IMAGE_TASK_CLASSES) == 20
    assert fam.classes.shape == (12, 3) and (np.diff(fam.classes, axis=1) > 0).all()
    assert np.array_equal(fam.n_fashion, (fam.classes < 10).sum(1))
    assert {0, 3} <= set(fam.n_fashion.tolist()) or len(set(fam.n_fashion.tolist())) > 1
    for t, ((X, y), (Xt, yt)) in enumerate(zip(fam.train, fam.test, strict=True)):
        assert X.shape == (18, 16) and Xt.shape == (12, 16)
        assert set(y.tolist()) == set(fam.classes[t].tolist()) == set(yt.tolist())
        assert np.array_equal(np.bincount(fam.local_labels(t, y)), [6, 6, 6])
        assert np.array_equal(X, again.train[t][0])
    # PCA coordinates scaled to unit variance on average
    allX = np.concatenate([X for X, _ in fam.train])
    assert 0.3 < allX.var(0).mean() < 3
    with pytest.raises(ValueError, match="n_classes must be <= 10"):
        make_image_tasks(2, n_classes=11)
    with pytest.raises(ValueError, match="per_class must be <= 400"):
        make_image_tasks(2, per_class=401)
    with pytest.raises(ValueError, match="n_components must be <= 784"):
        make_image_tasks(2, n_components=800)
