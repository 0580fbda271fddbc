"""Shared pieces of the set-layer experiments: point-cloud data, one training run, threads."""

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


def train_and_predict(backbone, pooling, train, test, *, n_classes, epochs, lr=3e-3, seed=0):
    """Train ``SetClassifier(backbone, pooling)`` like :func:`train_and_score`.

    Returns ``(correct, seconds, model)``: ``correct`` holds 1.0 for each test
    set classified right and 0.0 otherwise (one item per test set, for paired
    comparisons between models scored on the same test sets).
    """
    model = SetClassifier(backbone, pooling, n_classes=n_classes)
    t0 = time.perf_counter()
    fit_classifier(model, train[0], train[2], mask=train[1], epochs=epochs, lr=lr,
                   batch_size=32, seed=seed)
    seconds = time.perf_counter() - t0
    model.eval()
    with torch.no_grad():
        pred = model(test[0], test[1]).argmax(dim=1)
    return (pred == test[2]).double().numpy(), seconds, model


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


@contextlib.contextmanager
def one_thread():
    """Run on one thread: torch's and every BLAS/OpenMP pool (threadpoolctl), then restore.

    Small solvers (scipy's L-BFGS inside a logistic regression, small
    matmuls) run much slower with several BLAS threads on a busy machine
    than with one; one thread also makes CPU-time comparisons fair.
    """
    from threadpoolctl import threadpool_limits

    with one_torch_thread(), threadpool_limits(1):
        yield
