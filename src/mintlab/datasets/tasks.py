"""Labelled task families (classification datasets) for task-similarity experiments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import check_array, check_int
from ._checks import check_numpy_rng, check_real

__all__ = ["make_digit_tasks", "make_gaussian_tasks", "make_image_tasks", "ImageTasks",
           "IMAGE_TASK_CLASSES"]

#: Global label ids of :func:`make_image_tasks`: 0-9 Fashion-MNIST, 10-19 MNIST digits.
IMAGE_TASK_CLASSES = tuple([f"fashion:{c}" for c in range(10)] + [f"mnist:{c}" for c in range(10)])


@dataclass
class ImageTasks:
    """Tasks of :func:`make_image_tasks`.

    Attributes
    ----------
    train, test : list of (features (n, d), labels (n,))
        Each task's training samples and held-out test samples; labels are
        global class ids (see :data:`IMAGE_TASK_CLASSES`).
    classes : ndarray (n_tasks, n_classes)
        The global class ids of each task, sorted.
    n_fashion : ndarray (n_tasks,)
        How many of each task's classes are Fashion-MNIST classes.
    """

    train: list[tuple[np.ndarray, np.ndarray]]
    test: list[tuple[np.ndarray, np.ndarray]]
    classes: np.ndarray
    n_fashion: np.ndarray

    def local_labels(self, t: int, y: Any) -> np.ndarray:
        """Task ``t``'s global labels ``y`` as indices ``0 .. n_classes - 1``.

        ``y`` (any shape) must hold only the global ids of task ``t``'s classes.
        """
        n_tasks = len(self.classes)
        t = check_int(t, "t", minimum=0)
        if t >= n_tasks:
            raise ValueError(f"t must be a task index in [0, {n_tasks}), got {t}")
        if isinstance(y, (str, bytes)):
            raise TypeError(f"y must be an array of class ids, got {type(y).__name__}")
        labels = check_array(y, "y", min_size=0)
        if labels.is_floating_point() and not bool((labels == labels.round()).all()):
            raise ValueError("y must hold integer class ids, got non-integer values")
        known = np.isin(labels.cpu().numpy(), self.classes[t])
        if not known.all():
            bad = labels.cpu().numpy()[~known].reshape(-1)[:5].tolist()
            raise ValueError(f"y must hold class ids of task {t} ({self.classes[t].tolist()}), "
                             f"got {bad}")
        return np.searchsorted(self.classes[t], y)


def make_image_tasks(n_tasks: int, n_classes: int = 4, per_class: int = 40,
                     test_per_class: int = 50, n_components: int = 32,
                     seed: Any = None) -> ImageTasks:
    """Classification tasks on real images: class subsets of Fashion-MNIST, MNIST and mixtures.

    The 20 classes of Fashion-MNIST (shipped subset) and MNIST form one label
    space (ids 0-9 and 10-19). Each task draws how many of its
    ``n_classes`` classes come from Fashion-MNIST (uniform over
    ``0 .. n_classes``, so tasks range from pure digits through mixtures to
    pure clothing), then the classes, then ``per_class`` training images per
    class from the train splits and ``test_per_class`` from the test splits.
    Features: PCA (``n_components``) of the pixels, fitted on a
    class-balanced sample of both train splits and scaled to unit variance
    per coordinate on average.

    Examples
    --------
    >>> fam = make_image_tasks(3, n_classes=2, per_class=5, test_per_class=5, seed=0)
    >>> fam.train[0][0].shape, fam.classes.shape
    ((10, 32), (3, 2))
    """
    from .images import load_fashion_mnist, load_mnist

    n_tasks = check_int(n_tasks, "n_tasks", minimum=1)
    n_classes = check_int(n_classes, "n_classes", minimum=1)
    per_class = check_int(per_class, "per_class", minimum=1)
    test_per_class = check_int(test_per_class, "test_per_class", minimum=1)
    n_components = check_int(n_components, "n_components", minimum=1)
    if n_components > 784:
        raise ValueError(f"n_components must be <= 784 (pixels), got {n_components}")
    if n_classes > 10:
        raise ValueError(f"n_classes must be <= 10 (classes per dataset), got {n_classes}")
    if per_class > 400 or test_per_class > 100:
        raise ValueError("per_class must be <= 400 and test_per_class <= 100 (the images per "
                         f"class of the smaller dataset), got {per_class} and {test_per_class}")
    rng = check_numpy_rng(seed)
    splits = {}
    for split in ("train", "test"):
        Xf, yf = load_fashion_mnist(split, source="subset")
        Xm, ym = load_mnist(split)
        X = np.concatenate([Xf, Xm]).reshape(len(yf) + len(ym), -1) / 255.0
        splits[split] = (X, np.concatenate([yf, ym + 10]))
    X, y = splits["train"]
    fit_idx = np.concatenate([rng.choice(np.flatnonzero(y == c), 100, replace=False)
                              for c in range(20)])
    mean = X[fit_idx].mean(0)
    vals, vecs = np.linalg.eigh(np.cov(X[fit_idx] - mean, rowvar=False))
    top = np.argsort(vals)[::-1][:n_components]
    basis = vecs[:, top] * np.sign(vecs[:, top].sum(0) + 1e-300)  # a fixed sign per axis
    scale = np.sqrt(vals[top].mean())
    feats = {k: ((Xs - mean) @ basis / scale, ys) for k, (Xs, ys) in splits.items()}
    train: list[tuple[np.ndarray, np.ndarray]] = []
    test: list[tuple[np.ndarray, np.ndarray]] = []
    classes, n_fashion = [], []
    for _ in range(n_tasks):
        m = int(rng.integers(0, n_classes + 1))
        cls = np.sort(np.concatenate([rng.choice(10, m, replace=False),
                                      10 + rng.choice(10, n_classes - m, replace=False)]))
        for out, (F, ys), k in ((train, feats["train"], per_class),
                                (test, feats["test"], test_per_class)):
            idx = np.concatenate([rng.choice(np.flatnonzero(ys == c), k, replace=False)
                                  for c in cls])
            out.append((F[idx], ys[idx]))
        classes.append(cls)
        n_fashion.append(m)
    return ImageTasks(train, test, np.asarray(classes), np.asarray(n_fashion))


def make_digit_tasks(n_tasks: int, n_classes: int = 3, per_class: int = 30,
                     n_components: int = 10,
                     seed: Any = None) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """Tasks drawn from scikit-learn's digits: random class subsets, PCA features.

    Labels are local to each task (``0 .. n_classes - 1``), so label sets of
    different tasks may refer to different digits. Returns a list of
    ``(features (n, n_components), labels (n,))`` and the digit classes of
    each task.

    Examples
    --------
    >>> tasks, classes = make_digit_tasks(2, seed=0)
    >>> tasks[0][0].shape, classes.shape
    ((90, 10), (2, 3))
    """
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA

    n_tasks = check_int(n_tasks, "n_tasks", minimum=1)
    n_classes = check_int(n_classes, "n_classes", minimum=1)
    if n_classes > 10:
        raise ValueError(f"n_classes must be <= 10 for digits, got {n_classes}")
    per_class = check_int(per_class, "per_class", minimum=1)
    if per_class > 174:
        raise ValueError(f"per_class must be <= 174 (the digits of the smallest class), got "
                         f"{per_class}")
    n_components = check_int(n_components, "n_components", minimum=1)
    if n_components > 64:
        raise ValueError(f"n_components must be <= 64 (pixels of an 8x8 digit), got "
                         f"{n_components}")
    rng = check_numpy_rng(seed)
    digits = load_digits()
    Z = PCA(n_components, random_state=0).fit_transform(digits.data) / 10.0
    tasks, chosen = [], []
    for _ in range(n_tasks):
        classes = rng.choice(10, n_classes, replace=False)
        X, y = [], []
        for k, c in enumerate(classes):
            idx = rng.choice(np.flatnonzero(digits.target == c), per_class, replace=False)
            X.append(Z[idx])
            y += [k] * per_class
        tasks.append((np.concatenate(X), np.asarray(y)))
        chosen.append(classes)
    return tasks, np.asarray(chosen)


def make_gaussian_tasks(n_tasks: int, n_classes: int = 3, per_class: int = 30, dim: int = 5,
                        shift: float = 1.0,
                        seed: Any = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Tasks of Gaussian classes whose means drift with the task index.

    Task ``t`` has class means ``m_k + shift * t / n_tasks * u`` for fixed
    random ``m_k`` and a direction ``u``: nearby tasks are similar.

    Examples
    --------
    >>> tasks = make_gaussian_tasks(3, seed=0)
    >>> [t[0].shape for t in tasks]
    [(90, 5), (90, 5), (90, 5)]
    """
    n_tasks = check_int(n_tasks, "n_tasks", minimum=1)
    n_classes = check_int(n_classes, "n_classes", minimum=1)
    per_class = check_int(per_class, "per_class", minimum=1)
    dim = check_int(dim, "dim", minimum=1)
    shift = check_real(shift, "shift")
    rng = check_numpy_rng(seed)
    means = 3.0 * rng.normal(size=(n_classes, dim))
    u = rng.normal(size=dim)
    u /= np.linalg.norm(u)
    tasks = []
    for t in range(n_tasks):
        m = means + shift * t / max(1, n_tasks - 1) * u * 5
        y = np.repeat(np.arange(n_classes), per_class)
        tasks.append((m[y] + rng.normal(size=(len(y), dim)), y))
    return tasks
