"""Shared pieces of ``slosh``, ``emperor`` and ``constrained-swe``: real images as sets.

* pixel sets: each image as a cloud of equally weighted 2D points drawn by
  intensity (point-cloud MNIST / Fashion-MNIST), optionally jittered;
* token sets: each image as the set of its EfficientNet-Lite0 feature-map
  positions (frozen, cached on disk);
* a set classifier (identity backbone, a pooling, an MLP head) trained with a
  seeded initialisation and scored per test item.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from mintlab.datasets import load_fashion_mnist, load_mnist, sample_image_points


def split_images(dataset: str, split: str, sizes, seed: int):
    """Disjoint random groups of images of one stored split, one ``(images, labels)`` per size.

    The whole split is shuffled with ``seed`` and cut into consecutive
    groups, so no image is in two groups.
    """
    if dataset == "fashion-mnist":
        X, y = load_fashion_mnist(split, None, source="subset")
    elif dataset == "mnist":
        X, y = load_mnist(split, None)
    else:
        raise ValueError(f"dataset must be 'fashion-mnist' or 'mnist', got {dataset!r}")
    sizes = [int(s) for s in sizes]
    if sum(sizes) > len(y):
        raise ValueError(f"the {dataset} {split} split holds {len(y)} images, asked for "
                         f"{sum(sizes)}")
    order = np.random.default_rng(seed).permutation(len(y))
    out, start = [], 0
    for s in sizes:
        pick = np.sort(order[start: start + s])
        out.append((X[pick], y[pick]))
        start += s
    return out


def pixel_sets(images, n_points: int, seed, jitter: float = 0.0) -> np.ndarray:
    """``(n, n_points, 2)`` equally weighted pixel clouds in ``[0, 1]^2``.

    Points are drawn by intensity (``sample_image_points``); ``jitter`` adds
    Gaussian noise of that standard deviation (in image widths) to every point.
    """
    rng = np.random.default_rng(seed)
    P = np.stack(sample_image_points(images, n_points, seed=rng))
    if jitter > 0:
        P = P + rng.normal(scale=jitter, size=P.shape)
    return P


class IdentityBackbone(nn.Module):
    """The set's elements as they are (frozen features): ``out_features = d``."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.out_features = int(d)

    def forward(self, x, mask=None):
        return x


@torch.no_grad()
def seeded_init(module: nn.Module, seed: int) -> nn.Module:
    """Re-draw every ``nn.Linear`` of ``module`` (PyTorch's default uniform law) from ``seed``."""
    g = torch.Generator().manual_seed(int(seed))
    for m in module.modules():
        if isinstance(m, nn.Linear):
            bound = 1.0 / math.sqrt(m.in_features)
            m.weight.copy_((torch.rand(m.weight.shape, generator=g) * 2 - 1) * bound)
            if m.bias is not None:
                m.bias.copy_((torch.rand(m.bias.shape, generator=g) * 2 - 1) * bound)
    return module


def train_set_classifier(pooling, train, test, *, n_classes: int, epochs: int, lr: float,
                         seed: int, batch_size: int = 32, weight_decay: float = 0.0):
    """Train ``SetClassifier(identity, pooling)`` on ``train = (X, y)``; per-test-item correctness.

    ``X`` are equal-size sets ``(n, m, d)`` (no padding). The head is drawn from
    ``seed``; the pooling keeps its own (seeded) initialisation.
    Returns ``(correct, model)`` with ``correct`` 1.0 / 0.0 per test set.
    """
    from mintlab._training import fit_classifier
    from mintlab.nn import SetClassifier

    Xtr = torch.as_tensor(np.asarray(train[0]), dtype=torch.float32)
    ytr = torch.as_tensor(np.asarray(train[1]), dtype=torch.long)
    Xte = torch.as_tensor(np.asarray(test[0]), dtype=torch.float32)
    yte = torch.as_tensor(np.asarray(test[1]), dtype=torch.long)
    model = SetClassifier(IdentityBackbone(Xtr.shape[-1]), pooling, n_classes=n_classes)
    seeded_init(model.head, seed)
    fit_classifier(model, Xtr, ytr, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed,
                   weight_decay=weight_decay)
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(xb).argmax(1) for xb in Xte.split(256)])
    return (pred == yte).double().numpy(), model
