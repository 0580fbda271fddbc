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


def set_backbone(name, in_features, width, depth):
    """A backbone by name with the given input size, width and depth (2 heads for attention)."""
    kw = {"n_heads": 2} if name == "settransformer" else {}
    return make_backbone(name, in_features, width, depth=depth, **kw)


def seeded_init_(model, seed):
    """Redraw every parameter of ``model`` from a generator seeded with ``seed``, in place.

    Modules are built from torch's global generator; redrawing them here makes
    a training run depend on ``seed`` alone, without seeding the global
    generator. Each kind keeps its usual scale: linear layers
    ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, attention input projections
    Xavier-uniform with zero biases, learned seeds and inducing points
    ``N(0, 1/d)``, FSPool-style rank weights ``N(0, 1/2)``. Layer norms and
    scalar parameters are deterministic and stay; sliced poolings (with a
    ``directions`` parameter) are seeded through their own ``seed`` argument
    and stay too. Returns ``model``.
    """
    import math

    from torch import nn

    g = torch.Generator().manual_seed(int(seed))

    def uniform_(p, bound):
        p.copy_((torch.rand(p.shape, generator=g, dtype=torch.float64) * 2 - 1).mul(bound))

    def normal_(p, std):
        p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64).mul(std))

    with torch.no_grad():
        for m in model.modules():
            own = dict(m.named_parameters(recurse=False))
            if not own or isinstance(m, nn.LayerNorm) or "directions" in own:
                continue
            if isinstance(m, nn.Linear):
                bound = 1.0 / math.sqrt(m.in_features)
                uniform_(m.weight, bound)
                if m.bias is not None:
                    uniform_(m.bias, bound)
                continue
            if isinstance(m, nn.MultiheadAttention):
                for name, p in own.items():
                    if name.endswith("_weight"):
                        uniform_(p, math.sqrt(6.0 / (p.shape[0] + p.shape[1])))
                    else:
                        p.zero_()
                continue
            for name, p in own.items():
                if p.ndim == 0:
                    continue
                normal_(p, math.sqrt(0.5) if type(m).__name__ == "SortPooling" and name == "weight"
                        else 1.0 / math.sqrt(p.shape[-1]))
    return model


def fit_predict_sets(backbone, pooling, train, evals, *, n_classes, epochs, lr=3e-3, seed=0,
                     batch_size=32):
    """Train ``SetClassifier(backbone, pooling)`` from a seeded initialisation.

    ``train`` and every set in ``evals`` are ``(x, mask, y)``. Returns
    ``(correct, seconds)``: for each evaluation set an array with 1.0 per set
    classified right and 0.0 otherwise, and the CPU seconds of the training.
    """
    model = seeded_init_(SetClassifier(backbone, pooling, n_classes=n_classes), seed)
    t0 = time.process_time()
    fit_classifier(model, train[0], train[2], mask=train[1], epochs=epochs, lr=lr,
                   batch_size=batch_size, seed=seed)
    seconds = time.process_time() - t0
    model.eval()
    out = []
    with torch.no_grad():
        for x, m, y in evals:
            out.append((model(x, m).argmax(dim=1) == y).double().numpy())
    return out, seconds


def image_point_cloud_split(n_train_per_class, n_val_per_class, n_test, n_points=24, seed=0,
                            dataset="mnist"):
    """Point-cloud MNIST (or Fashion-MNIST): train / validation / test ``(x, mask, y)``.

    Training and validation images are disjoint class-balanced draws from the
    training split, test images a class-balanced draw of ``n_test`` from the
    test split, all with ``seed``. Each image becomes ``n_points`` points drawn
    by intensity (:func:`mintlab.datasets.sample_image_points`), centred and
    scaled by 4 so coordinates have about unit spread.
    """
    import numpy as np

    from mintlab.datasets import load_fashion_mnist, load_mnist, sample_image_points

    load = {"mnist": load_mnist, "fashion_mnist": load_fashion_mnist}[dataset]
    n_classes = 10
    images, labels = load("train", n=n_classes * (n_train_per_class + n_val_per_class),
                          seed=seed)
    rng = np.random.default_rng(seed)
    val = np.zeros(len(labels), dtype=bool)
    for c in range(n_classes):
        idx = np.flatnonzero(labels == c)
        val[rng.choice(idx, n_val_per_class, replace=False)] = True
    test_images, test_labels = load("test", n=n_test, seed=seed)

    def clouds(X, y, s):
        P = np.stack(sample_image_points(X, n_points, seed=s))
        x = torch.as_tensor((P - 0.5) * 4.0, dtype=torch.float32)
        return x, torch.ones(x.shape[:2], dtype=torch.bool), torch.as_tensor(y, dtype=torch.long)

    return (clouds(images[~val], labels[~val], 1000 * seed + 1),
            clouds(images[val], labels[val], 1000 * seed + 2),
            clouds(test_images, test_labels, 1000 * seed + 3))
