"""Properties of the Wasserstein task embedding that hold by construction (``task-embedding``).

An identical task embeds at distance zero, however its samples are ordered
and its labels named; the embedding distance tracks the exact 2-Wasserstein
distance (POT's LP) between the label-augmented datasets it approximates.
"""

import numpy as np
import ot
from scipy.stats import spearmanr

from mintlab.datasets import make_digit_tasks
from mintlab.embed import TaskEmbedding


def _tasks(n=6):
    tasks, _ = make_digit_tasks(n, 3, 20, seed=3)
    return tasks


def test_identical_task_embeds_at_zero_distance():
    tasks = _tasks()
    emb = TaskEmbedding(label_dim=4, n_references=20, seed=0)
    E = emb.fit_transform(tasks)
    X, y = tasks[2]
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y))
    renamed = np.array([2, 0, 1])[y]  # the same classes under other label values
    again = emb.transform([(X, y), (X[order], y[order]), (X, renamed)])
    assert np.abs(again - E[2]).max() < 1e-9
    # a different task is far away on the same scale
    others = np.linalg.norm(E[np.arange(len(E)) != 2] - E[2], axis=1)
    assert others.min() > 1e-3


def test_embedding_distance_tracks_exact_w2_of_augmented_datasets():
    tasks = _tasks()
    emb = TaskEmbedding(label_dim=4, n_references=40, seed=0)
    E = emb.fit_transform(tasks)
    # the augmented datasets [x, e(y)] with the fitted MDS label coordinates, rebuilt here in
    # the estimator's (task, class) order
    rows, aug = 0, []
    for X, y in tasks:
        classes = np.unique(y)
        where = {c: rows + k for k, c in enumerate(classes)}
        rows += len(classes)
        aug.append(np.c_[X, emb.class_embedding_[[where[c] for c in y]]])
    exact, approx = [], []
    for i in range(len(tasks)):
        for j in range(i + 1, len(tasks)):
            exact.append(np.sqrt(ot.emd2([], [], ot.dist(aug[i], aug[j]))))
            approx.append(np.linalg.norm(E[i] - E[j]))
    exact, approx = np.array(exact), np.array(approx)
    assert spearmanr(exact, approx).statistic > 0.9
    # the linearised distance (through the reference) is within a few percent of W2 here
    assert np.abs(approx / exact - 1).max() < 0.15
