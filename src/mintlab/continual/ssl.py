"""Continual self-supervised learning (``mtl-vs-cl``): one augmentation family per task.

Each task asks a SimSiam learner to become invariant to one family of
augmentations of the same images: rotation, Gaussian noise, blur, shift,
intensity, and an *adversarial* family (random pixel shuffling) whose
invariance destroys the spatial information the other tasks and the
downstream classification need. The paper's question is whether multitask
training (all families at once) is an upper bound for continual training
(one family after the other, with a method that protects earlier tasks):
with an adversarial task present, the continual learner can keep the other
tasks' representations while the multitask learner has to compromise.

Evaluation is a linear probe: a logistic regression on the frozen features
of training images, tested on test images under the task's augmentation.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._random import seeded_global_rng
from .._validation import check_choice, check_int
from .benchmarks import Task, TaskStream

__all__ = ["AUGMENTATIONS", "augment", "SimSiam", "simsiam_loss", "ssl_objective",
           "linear_probe_accuracy", "probe_evaluator", "augmentation_stream",
           "ssl_representation_forward"]

AUGMENTATIONS = ("rotation", "noise", "blur", "shift", "intensity", "shuffle")


def _affine(imgs: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    grid = F.affine_grid(theta, list(imgs.shape), align_corners=False)
    return F.grid_sample(imgs, grid, align_corners=False, padding_mode="zeros")


def augment(X: torch.Tensor, family: str, generator: torch.Generator | None = None,
            image_shape: Sequence[int] = (8, 8)) -> torch.Tensor:
    """One random augmentation of every row of ``X`` (flattened images) from ``family``.

    ``rotation``: uniform angle in [-45, 45] degrees; ``noise``: Gaussian,
    std 0.3; ``blur``: Gaussian kernel with sigma in [0.5, 1.5];
    ``shift``: translation by up to 2 pixels; ``intensity``: contrast in
    [0.4, 1.6] and gamma in [0.5, 2]; ``shuffle`` (adversarial): an
    independent random permutation of the pixels of every image.
    Outputs are clipped to [0, 1].
    """
    family = check_choice(family, "family", AUGMENTATIONS)
    if not isinstance(X, torch.Tensor):
        raise TypeError(f"X must be a torch.Tensor, got {type(X).__name__}")
    h, w = (check_int(v, "image_shape[i]", minimum=1) for v in image_shape)
    n = len(X)
    if X.ndim != 2 or X.shape[1] != h * w:
        raise ValueError(f"X must have shape (n, {h * w}), got {tuple(X.shape)}")
    dev, dt = X.device, X.dtype

    def rand(*shape):
        return torch.rand(shape, generator=generator).to(device=dev, dtype=dt)

    imgs = X.reshape(n, 1, h, w)
    if family == "rotation":
        a = (rand(n) * 2 - 1) * math.pi / 4
        c, s = torch.cos(a), torch.sin(a)
        z = torch.zeros_like(a)
        theta = torch.stack([torch.stack([c, -s, z], 1), torch.stack([s, c, z], 1)], 1)
        out = _affine(imgs, theta)
    elif family == "shift":
        t = (rand(n, 2) * 2 - 1) * (2.0 * 2 / w)
        eye = torch.eye(2, dtype=dt, device=dev).expand(n, 2, 2)
        out = _affine(imgs, torch.cat([eye, t[:, :, None]], 2))
    elif family == "noise":
        out = imgs + 0.3 * torch.randn(imgs.shape, generator=generator).to(device=dev, dtype=dt)
    elif family == "blur":
        sigma = 0.5 + rand(n)
        r = torch.arange(-2, 3, dtype=dt, device=dev)
        k1 = torch.exp(-(r[None] ** 2) / (2 * sigma[:, None] ** 2))
        k1 = k1 / k1.sum(1, keepdim=True)
        k2 = k1[:, :, None] * k1[:, None, :]
        out = F.conv2d(imgs.reshape(1, n, h, w), k2[:, None], padding=2, groups=n)
        out = out.reshape(n, 1, h, w)
    elif family == "intensity":
        contrast = 0.4 + 1.2 * rand(n, 1, 1, 1)
        gamma = torch.exp((rand(n, 1, 1, 1) * 2 - 1) * math.log(2.0))
        out = (imgs.clamp(0, 1) ** gamma) * contrast
    else:  # shuffle
        keys = rand(n, h * w)
        out = torch.gather(X, 1, keys.argsort(1)).reshape(n, 1, h, w)
    return out.reshape(n, h * w).clamp(0.0, 1.0)


class SimSiam(nn.Module):
    """A SimSiam learner for flat inputs: MLP encoder (features) + MLP predictor.

    ``forward(x)`` returns the encoder features ``(batch, feature_dim)``.
    """

    def __init__(self, in_features: int = 64, hidden: int = 128, feature_dim: int = 64,
                 predictor_hidden: int = 32, seed: int | None = 0) -> None:
        super().__init__()
        for name, v in (("in_features", in_features), ("hidden", hidden),
                        ("feature_dim", feature_dim), ("predictor_hidden", predictor_hidden)):
            check_int(v, name, minimum=1)
        scope = (contextlib.nullcontext() if seed is None
                 else seeded_global_rng(check_int(seed, "seed", minimum=0)))
        with scope:
            self.encoder = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(),
                                         nn.Linear(hidden, feature_dim))
            self.predictor = nn.Sequential(nn.Linear(feature_dim, predictor_hidden), nn.ReLU(),
                                           nn.Linear(predictor_hidden, feature_dim))
        self.in_features = in_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)


def simsiam_loss(model: SimSiam, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
    """Symmetric negative cosine between predictions and stop-gradient features (SimSiam)."""
    z1, z2 = model.encoder(x1), model.encoder(x2)
    p1, p2 = model.predictor(z1), model.predictor(z2)
    return -(F.cosine_similarity(p1, z2.detach(), dim=1).mean()
             + F.cosine_similarity(p2, z1.detach(), dim=1).mean()) / 2


def ssl_objective(families: Sequence[str], seed: int = 0) -> Callable:
    """Strategy objective: task ``t`` = SimSiam loss between two ``families[t]`` views."""
    families = [check_choice(f, "families[...]", AUGMENTATIONS) for f in families]
    gen = torch.Generator().manual_seed(check_int(seed, "seed", minimum=0))

    def objective(strategy, X, y, task_id):
        fam = families[task_id]
        return simsiam_loss(strategy.model, augment(X, fam, gen), augment(X, fam, gen))

    return objective


def ssl_representation_forward(families: Sequence[str], seed: int = 0) -> Callable:
    """GPM ``representation_forward`` for SimSiam: augmented views through encoder and
    predictor, so both are protected on the task's own augmentation family."""
    families = [check_choice(f, "families[...]", AUGMENTATIONS) for f in families]
    seed = check_int(seed, "seed", minimum=0)

    def forward(model, X, task_id):
        g = torch.Generator().manual_seed(seed * 1000 + task_id)
        return model.predictor(model.encoder(augment(X, families[task_id], g)))

    return forward


@torch.no_grad()
def linear_probe_accuracy(model: nn.Module, X_train: torch.Tensor, y_train: torch.Tensor,
                          X_test: torch.Tensor, y_test: torch.Tensor) -> float:
    """Accuracy of a logistic regression trained on frozen ``model`` features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    was = model.training
    model.eval()
    f_tr = model(X_train).cpu().numpy().astype(np.float64)
    f_te = model(X_test).cpu().numpy().astype(np.float64)
    model.train(was)
    sc = StandardScaler().fit(f_tr)
    clf = LogisticRegression(max_iter=300).fit(sc.transform(f_tr), y_train.cpu().numpy())
    return float(clf.score(sc.transform(f_te), y_test.cpu().numpy()))


def probe_evaluator(families: Sequence[str], seed: int = 0) -> Callable:
    """Strategy evaluator: linear probe on clean training features, tested on test images
    under one fixed draw of the task's augmentation."""
    families = [check_choice(f, "families[...]", AUGMENTATIONS) for f in families]
    seed = check_int(seed, "seed", minimum=0)
    cache: dict[int, torch.Tensor] = {}

    def evaluate(model, task: Task) -> float:
        if task.task_id not in cache:
            g = torch.Generator().manual_seed(seed * 1000 + task.task_id)
            cache[task.task_id] = augment(task.X_test, families[task.task_id], g)
        dev = next(model.parameters()).device
        return linear_probe_accuracy(model, task.X_train.to(dev), task.y_train,
                                     cache[task.task_id].to(dev), task.y_test)

    return evaluate


def augmentation_stream(families: Sequence[str] = AUGMENTATIONS, seed: int = 0) -> TaskStream:
    """The digits as a stream of tasks that differ only by their augmentation family.

    Every task holds the same train / test images (labels only serve the
    linear probe); task ``t``'s name is ``families[t]``.
    """
    from .benchmarks import _digits, _tensors

    families = [check_choice(f, "families[...]", AUGMENTATIONS) for f in families]
    X_tr, X_te, y_tr, y_te = _digits(check_int(seed, "seed", minimum=0))
    a, b = _tensors(X_tr, y_tr), _tensors(X_te, y_te)
    tasks = tuple(Task(t, f, a[0], a[1], b[0], b[1], 10, tuple(range(10)))
                  for t, f in enumerate(families))
    return TaskStream("augmentation-tasks", tasks, "domain-incremental",
                      "digits; each task = invariance to one augmentation family",
                      {"families": list(families)})
