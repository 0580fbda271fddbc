"""Shared pieces of the generative reproductions (``sinkhorn-drifting``, ``transport-mean-flows``).

* :func:`image_space`: real 28x28 images (MNIST or Fashion-MNIST) in the space of their
  leading principal components. The PCA is fitted on the generator's training split only;
  coordinates are divided by one scalar so that their mean variance is 1 (distances stay
  proportional to pixel distances between the projected images). The test split is the
  held-out set: generators never see it; it is the reference of the W2 scores and the
  training set of the class-coverage classifier.
* :func:`batch_w2`: exact W2 (POT ``emd2``) of each evaluation batch of generated samples to
  a held-out batch of the same size (paired items for ``Result.compare``).
* :meth:`ImageSpace.class_shares`: the share of samples a classifier trained on the held-out
  real images assigns to each class (class and mode coverage).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import ot

MIN_SHARE = 0.02  # share of samples a class needs to count as covered (uniform share: 0.10)


@dataclass(frozen=True)
class ImageSpace:
    """Real images as points in a fixed PCA space, with a classifier of the held-out ones."""

    dataset: str
    train: np.ndarray  # (n_train, k) the generators' data
    held: np.ndarray  # (n_held, k) held-out real images (test split)
    held_labels: np.ndarray  # (n_held,)
    mean: np.ndarray  # (784,) pixel mean of the training images
    components: np.ndarray  # (k, 784) principal axes
    scale: float  # coordinates = (pixels - mean) @ components.T / scale
    explained: float  # share of the pixel variance the k components keep
    classifier: Any  # logistic regression fitted on (held, held_labels)
    classifier_cv_accuracy: float  # its 5-fold cross-validated accuracy on the held-out images

    @property
    def dim(self) -> int:
        return self.train.shape[1]

    def decode(self, Z) -> np.ndarray:
        """Images ``(n, 28, 28)`` in [0, 1] from PCA coordinates ``(n, k)``."""
        pix = np.asarray(Z) * self.scale @ self.components + self.mean
        return np.clip(pix, 0.0, 1.0).reshape(-1, 28, 28)

    def class_shares(self, Z) -> np.ndarray:
        """Share of the samples ``Z`` the classifier puts in each of the 10 classes."""
        return np.bincount(self.classifier.predict(np.asarray(Z)), minlength=10) / len(Z)


@functools.cache
def image_space(dataset: str = "mnist", n_components: int = 32) -> ImageSpace:
    """The images of ``dataset`` ("mnist": 4,000 / 1,000; "fashion-mnist": the shipped
    12,000 / 2,000 subset) in their first ``n_components`` principal components."""
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    from mintlab.datasets import load_fashion_mnist, load_mnist

    if dataset == "mnist":
        (Xtr, _), (Xte, yte) = load_mnist("train"), load_mnist("test")
    elif dataset == "fashion-mnist":
        (Xtr, _) = load_fashion_mnist("train", source="subset")
        (Xte, yte) = load_fashion_mnist("test", source="subset")
    else:
        raise ValueError(f"dataset must be 'mnist' or 'fashion-mnist', got {dataset!r}")
    Xtr = Xtr.reshape(len(Xtr), -1) / 255.0
    Xte = Xte.reshape(len(Xte), -1) / 255.0
    pca = PCA(n_components, svd_solver="full").fit(Xtr)
    scale = float(np.sqrt(pca.explained_variance_.mean()))
    train = pca.transform(Xtr) / scale
    held = pca.transform(Xte) / scale
    clf = LogisticRegression(max_iter=3000, C=1.0)
    acc = float(cross_val_score(clf, held, yte, cv=5).mean())
    clf.fit(held, yte)
    return ImageSpace(dataset, train, held, np.asarray(yte), pca.mean_, pca.components_, scale,
                      float(pca.explained_variance_ratio_.sum()), clf, acc)


def w2(A, B) -> float:
    """Exact W2 between the uniform measures on the rows of ``A`` and ``B``."""
    return float(np.sqrt(ot.emd2([], [], ot.dist(A, B), numItermax=1_000_000)))


def batch_w2(S, held, k) -> np.ndarray:
    """W2 of each of ``k`` consecutive sample batches to the matching held-out batch."""
    return np.array([w2(a, b) for a, b in zip(np.array_split(S, k), np.array_split(held, k),
                                              strict=True)])


def image_grid(ax, images, rows, title=None):
    """Tile ``images`` (n, 28, 28) into ``rows`` rows on ``ax``."""
    n = len(images) // rows * rows
    cols = n // rows
    tiles = images[:n].reshape(rows, cols, 28, 28).transpose(0, 2, 1, 3).reshape(rows * 28,
                                                                                 cols * 28)
    ax.imshow(tiles, cmap="gray_r", vmin=0, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=8)


def frechet(A, B) -> float:
    """Fréchet distance between Gaussians fitted to the rows of ``A`` and ``B`` (the FID
    formula, here on PCA coordinates instead of Inception features)."""
    from scipy.linalg import sqrtm

    mu = A.mean(0) - B.mean(0)
    Sa, Sb = np.cov(A, rowvar=False), np.cov(B, rowvar=False)
    root = sqrtm(Sa @ Sb)
    return float(mu @ mu + np.trace(Sa) + np.trace(Sb) - 2 * np.trace(root.real))


def batch_frechet(S, held, k) -> np.ndarray:
    """Fréchet distance of each of ``k`` consecutive sample batches to the matching held-out
    batch."""
    return np.array([frechet(a, b) for a, b in zip(np.array_split(S, k),
                                                   np.array_split(held, k), strict=True)])
