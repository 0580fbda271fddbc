"""Wasserstein task embedding (``task-embedding``): labelled datasets as vectors.

1. Every class of every task is a distribution of samples; the W2 distances
   between all classes are embedded in ``R^k`` by classical multidimensional
   scaling (new classes at transform time by the landmark MDS formula), so
   labels from disjoint label sets live in one space.
2. Each sample becomes ``[x, s * e(y)]``: its features and its label's
   embedding (``s`` = ``label_scale``).
3. Each task, a cloud of augmented samples, gets a linear OT embedding
   against a reference fitted on the training tasks: Euclidean distances
   between task vectors approximate the W2 distance between the augmented
   datasets, close to the OTDD distance (whose label cost is the class W2).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any, Self, cast

import numpy as np
import ot
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._validation import check_int, check_positive
from ._checks import check_seed
from .lot import LinearOT, _progress

__all__ = ["TaskEmbedding", "class_distances"]

_NUMPY_SEEDS = (np.random.Generator, np.random.BitGenerator, np.random.SeedSequence)
_FROM_RNG = object()  # marker: the LOT reference's seed is drawn from the numpy stream


def _tasks(X, name="X"):
    if isinstance(X, str | bytes) or not hasattr(X, "__len__") or len(X) == 0:
        raise ValueError(f"{name} must be a non-empty list of (features, labels) tasks")
    out = []
    for t, task in enumerate(X):
        if not (isinstance(task, tuple | list) and len(task) == 2):
            raise TypeError(f"{name}[{t}] must be a (features, labels) pair")
        F0 = task[0].detach().cpu().numpy() if hasattr(task[0], "detach") else task[0]
        try:
            F = np.asarray(F0, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"{name}[{t}] must hold features (n, d) as numbers, got "
                            f"{type(task[0]).__name__}") from None
        y = np.asarray(task[1].detach().cpu() if hasattr(task[1], "detach") else task[1])
        if F.ndim != 2 or y.ndim != 1 or len(y) != len(F):
            raise ValueError(f"{name}[{t}] must hold features (n, d) and labels (n,), got "
                             f"{F.shape} and {y.shape}")
        if len(F) == 0 or not np.isfinite(F).all():
            raise ValueError(f"{name}[{t}] must hold at least one sample and finite features")
        out.append((F, y))
    d = out[0][0].shape[1]
    for t, (F, _) in enumerate(out):
        if F.shape[1] != d:
            raise ValueError(f"{name}[{t}] has {F.shape[1]} features, {name}[0] has {d}")
    return out


def class_distances(A_list, B_list=None):
    """Exact W2 distances between the classes (sample clouds) of ``A_list`` and ``B_list``."""
    B_list = A_list if B_list is None else B_list
    D = np.zeros((len(A_list), len(B_list)))
    for i, A in enumerate(A_list):
        for j, B in enumerate(B_list):
            if B_list is A_list and j < i:
                D[i, j] = D[j, i]
            elif not (B_list is A_list and i == j):
                D[i, j] = np.sqrt(max(ot.emd2([], [], ot.dist(A, B)), 0.0))
    return D


class TaskEmbedding(TransformerMixin, BaseEstimator):
    """Wasserstein task embedding of labelled datasets (``task-embedding``).

    Parameters
    ----------
    label_dim : int, default 8
        Dimension of the MDS label embedding.
    label_scale : float, default 1.0
        Weight of the label coordinates next to the features.
    n_references : int, default 64
        LOT reference support size.
    max_per_class : int, default 100
        Samples per class used for the class-to-class distances.
    shared_labels : bool, default False
        ``False``: label values are local to each task, every (task, label)
        is its own class. ``True``: label values are global identities
        shared across tasks (as when tasks are drawn from the classes of
        common datasets): a label's class is the pool of its samples over
        all tasks, the MDS runs over the distinct labels, and transform
        reuses the fitted coordinates of labels seen in fit (labels not
        seen in fit are placed by landmark MDS from their samples).
    seed : int, numpy Generator, BitGenerator or SeedSequence, or None
        Seeds the subsampling of classes and the LOT reference. A numpy
        Generator is used and advanced as given; the reference's k-means
        then takes its seed from it.
    progress : bool, default False

    ``X`` is a list of tasks ``(features (n, d), labels (n,))``; with
    ``shared_labels=False`` label values are local to each task (disjoint
    label sets are fine).

    Attributes
    ----------
    class_embedding_ : ndarray (n_classes, label_dim)
        MDS coordinates of the training classes.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> tasks = [(rng.normal(size=(40, 2)) + k, rng.integers(0, 2, 40)) for k in range(3)]
    >>> TaskEmbedding(label_dim=2, n_references=8, seed=0).fit_transform(tasks).shape
    (3, 32)
    """

    def __init__(self, label_dim: int = 8, label_scale: float = 1.0, n_references: int = 64,
                 max_per_class: int = 100, shared_labels: bool = False, seed: int | None = None,
                 progress: bool = False) -> None:
        self.label_dim = label_dim
        self.shared_labels = shared_labels
        self.label_scale = label_scale
        self.n_references = n_references
        self.max_per_class = max_per_class
        self.seed = seed
        self.progress = progress

    def _shared(self):
        if not isinstance(self.shared_labels, bool | np.bool_):
            raise TypeError(f"shared_labels must be True or False, got {self.shared_labels!r}")
        return bool(self.shared_labels)

    def _key(self, t, c):
        """The class a sample of task ``t`` with label ``c`` belongs to."""
        return c if self._shared() else (t, c)

    def _classes(self, tasks, rng, skip=()):
        """Class clouds (at most ``max_per_class`` samples each) and their keys, in order."""
        m = check_int(self.max_per_class, "max_per_class", minimum=1)
        pools: dict = {}
        for t, (F, y) in enumerate(tasks):
            for c in np.unique(y):
                key = self._key(t, c)
                if key not in skip:
                    pools.setdefault(key, []).append(F[y == c])
        clouds, index = [], []
        for key, parts in pools.items():
            pts = np.concatenate(parts)
            if len(pts) > m:
                pts = pts[rng.choice(len(pts), m, replace=False)]
            clouds.append(pts)
            index.append(key)
        return clouds, index

    def fit(self, X: Sequence[Any], y: Any = None) -> Self:
        """Embed the training classes by MDS and fit the LOT reference on the tasks."""
        tasks = _tasks(X)
        check_positive(self.label_scale, "label_scale")
        rng, lot_seed = self._rng()
        clouds, index = self._classes(tasks, rng)
        D2 = class_distances(clouds) ** 2
        n = len(clouds)
        J = np.eye(n) - 1.0 / n
        B = -0.5 * J @ D2 @ J
        vals, vecs = np.linalg.eigh(B)
        k = min(check_int(self.label_dim, "label_dim", minimum=1), n)
        order = np.argsort(vals)[::-1][:k]
        # components with a (numerically) zero or negative eigenvalue carry no distance
        # information: their coordinates are 0, for training and new classes alike (dividing
        # by a near-zero eigenvalue in the landmark formula would blow noise up)
        keep = vals[order] > 1e-9 * max(vals.max(), 1e-300)
        lam = np.where(keep, vals[order], 1.0)
        self.class_embedding_ = vecs[:, order] * np.sqrt(lam) * keep
        self._landmarks = clouds
        self._vecs, self._lam, self._mean_d2 = vecs[:, order] * keep, lam, D2.mean(1)
        self.dim_ = tasks[0][0].shape[1]
        self.classes_ = index
        aug = self._augment(tasks, {key: i for i, key in enumerate(index)}, self.class_embedding_)
        if lot_seed is _FROM_RNG:  # a numpy generator seed: one integer from its stream
            lot_seed = int(rng.integers(0, 2**31 - 1))
        self.lot_ = LinearOT(n_references=self.n_references, seed=lot_seed).fit(aug)
        self._train_aug = aug
        return self

    def fit_transform(self, X: Sequence[Any], y: Any = None, **fit_params: Any) -> np.ndarray:
        """Fit, then embed the training tasks (reusing their class coordinates)."""
        self.fit(X)
        out = self.lot_.transform(self._train_aug)
        del self._train_aug
        return cast(np.ndarray, out)  # numpy tasks in: numpy out

    def _rng(self) -> tuple[np.random.Generator, Any]:
        """The numpy stream of ``seed`` and the seed its LOT reference gets."""
        if isinstance(self.seed, _NUMPY_SEEDS):
            return np.random.default_rng(self.seed), _FROM_RNG
        if self.seed is not None and (isinstance(self.seed, bool)
                                      or not isinstance(self.seed, numbers.Integral)):
            raise TypeError(f"seed must be an int, a numpy Generator, BitGenerator or "
                            f"SeedSequence, or None, got {type(self.seed).__name__} "
                            f"{self.seed!r:.60}")
        check_seed(self.seed, numpy_ok=False, torch_ok=False)
        return np.random.default_rng(self.seed), self.seed

    def _augment(self, tasks, where, E):
        out = []
        for t, (F, y) in enumerate(tasks):
            lab = np.stack([E[where[self._key(t, c)]] for c in y])
            out.append(np.c_[F, self.label_scale * lab])
        return out

    def _embed_classes(self, clouds):
        """Landmark MDS: coordinates of new classes from their distances to the training ones."""
        d2 = class_distances(clouds, self._landmarks) ** 2
        return -0.5 * (d2 - self._mean_d2) @ self._vecs / np.sqrt(self._lam)

    def transform(self, X: Sequence[Any]) -> np.ndarray:
        """Task vectors: LOT embeddings of the label-augmented datasets."""
        check_is_fitted(self, "lot_")
        tasks = _tasks(X)
        if tasks[0][0].shape[1] != self.dim_:
            raise ValueError(f"tasks must have {self.dim_} features as in fit, got "
                             f"{tasks[0][0].shape[1]}")
        rng = self._rng()[0]
        known = {k: i for i, k in enumerate(self.classes_)} if self._shared() else {}
        clouds, index = self._classes(tasks, rng, skip=known)
        new = [self._embed_classes([c]) for c in _progress(clouds, self.progress, "task classes")]
        E = np.concatenate([self.class_embedding_, *new])
        where = dict(known)
        where.update({k: len(self.class_embedding_) + i for i, k in enumerate(index)})
        return cast(np.ndarray, self.lot_.transform(self._augment(tasks, where, E)))
