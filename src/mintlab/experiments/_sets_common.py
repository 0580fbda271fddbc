"""Shared pieces of the set-layer experiments: point-cloud data and one training run."""

from __future__ import annotations

import contextlib
import time

import torch

from mintlab.datasets import SHAPES, make_point_cloud_classes
from mintlab.nn import SetClassifier, accuracy, fit_classifier, make_backbone, pad_sets


def point_cloud_split(n_train_per_class, n_test_per_class, n_points=(24, 32), seed=0,
                      rotate=False, noise=0.02, shapes=SHAPES):
    """Padded train / test point clouds of the eight procedural shapes (offline)."""
    out = []
    for i, n in enumerate((n_train_per_class, n_test_per_class)):
        X, y = make_point_cloud_classes(n, shapes=shapes, n_points=n_points, noise=noise,
                                        rotate=rotate, seed=1000 * seed + i)
        x, m = pad_sets(X)
        out.append((x, m, torch.as_tensor(y)))
    return out


def train_and_score(backbone, pooling, train, test, *, n_classes, epochs, lr=3e-3, seed=0):
    """Train ``SetClassifier(backbone, pooling)`` and return (test accuracy, seconds)."""
    model = SetClassifier(backbone, pooling, n_classes=n_classes)
    t0 = time.perf_counter()
    fit_classifier(model, train[0], train[2], mask=train[1], epochs=epochs, lr=lr,
                   batch_size=32, seed=seed)
    return accuracy(model, test[0], test[2], mask=test[1]), time.perf_counter() - t0


def backbone(name, width):
    kw = {"n_heads": 2} if name == "settransformer" else {}
    return make_backbone(name, 3, width, **kw)


@contextlib.contextmanager
def one_torch_thread():
    """Run small models on one thread (fastest here, and reproducible), then restore."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
