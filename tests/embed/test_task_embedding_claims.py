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


def _lp_w2sq(a_pts, b_pts, M=None):
    """Squared W2 between uniform clouds by scipy's LP solver (an independent oracle)."""
    from scipy.optimize import linprog

    n, m = len(a_pts), len(b_pts)
    M = ((a_pts[:, None] - b_pts[None]) ** 2).sum(-1) if M is None else M
    A = np.vstack([np.kron(np.eye(n), np.ones((1, m))), np.kron(np.ones((1, n)), np.eye(m))])
    res = linprog(M.ravel(), A_eq=A, b_eq=np.r_[np.full(n, 1 / n), np.full(m, 1 / m)],
                  bounds=(0, None), method="highs")
    return res.fun


def test_exact_otdd_baseline_matches_an_lp_oracle():
    from mintlab.experiments.task_embedding import exact_otdd_matrix

    rng = np.random.default_rng(4)
    tasks = []
    for labels in ((0, 1), (1, 2), (5, 6)):
        X = rng.normal(size=(8, 2)) + np.repeat(np.array(labels), 4)[:, None]
        tasks.append((X, np.repeat(labels, 4)))
    D = exact_otdd_matrix(tasks)
    assert np.allclose(D, D.T) and np.allclose(np.diag(D), 0)
    for i in range(3):
        for j in range(i + 1, 3):
            (Xi, yi), (Xj, yj) = tasks[i], tasks[j]
            W = {(a, b): _lp_w2sq(Xi[yi == a], Xj[yj == b]) for a in set(yi) for b in set(yj)}
            M = ((Xi[:, None] - Xj[None]) ** 2).sum(-1) + np.array(
                [[W[(a, b)] for b in yj] for a in yi])
            assert abs(D[i, j] - np.sqrt(_lp_w2sq(Xi, Xj, M))) < 1e-6


def test_transfer_gains_layout_and_determinism():
    from mintlab.datasets.tasks import make_image_tasks
    from mintlab.experiments.task_embedding import QUICK, transfer_gains

    fam = make_image_tasks(4, n_classes=2, per_class=8, test_per_class=10, n_components=8,
                           seed=0)
    import dataclasses

    s = dataclasses.replace(QUICK, pretrain_steps=20, finetune_steps=5, shots=2, n_scratch=2)
    G = transfer_gains(fam, s, 0, [1, 3])
    assert np.isnan(G[:, [0, 2]]).all() and np.isnan(G[[1, 3], [1, 3]]).all()
    filled = ~np.isnan(G)
    assert filled.sum() == 6 and (np.abs(G[filled]) <= 1).all()
    assert np.array_equal(G, transfer_gains(fam, s, 0, [1, 3]), equal_nan=True)
