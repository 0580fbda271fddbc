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
from .._validation import check_choice, check_int, check_nonnegative
from .benchmarks import Task, TaskStream

__all__ = ["AUGMENTATIONS", "augment", "SimSiam", "simsiam_loss", "ssl_objective",
           "linear_probe_accuracy", "probe_evaluator", "augmentation_stream",
           "ssl_representation_forward"]

AUGMENTATIONS = ("rotation", "noise", "blur", "shift", "intensity", "shuffle")


def _affine(imgs: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    grid = F.affine_grid(theta, list(imgs.shape), align_corners=False)
    return F.grid_sample(imgs, grid, align_corners=False, padding_mode="zeros")


def augment(X: torch.Tensor, family: str, generator: torch.Generator | None = None,
            image_shape: Sequence[int] | None = None) -> torch.Tensor:
    """One random augmentation of every row of ``X`` (flattened images) from ``family``.

    ``rotation``: uniform angle in [-45, 45] degrees; ``noise``: Gaussian,
    std 0.3; ``blur``: Gaussian kernel with sigma in [0.5, 1.5];
    ``shift``: translation by up to 2 pixels (images of side 8 to 15) or
    ``side // 7`` pixels (larger ones); ``intensity``: contrast in
    [0.4, 1.6] and gamma in [0.5, 2]; ``shuffle`` (adversarial): an
    independent random permutation of the pixels of every image.
    Outputs are clipped to [0, 1].

    Parameters
    ----------
    X : torch.Tensor
        Flattened images ``(n, h * w)``.
    family : str
        One of :data:`AUGMENTATIONS`.
    generator : torch.Generator or None
        Source of the random draws.
    image_shape : (int, int) or None
        ``(h, w)``; ``None``: square images of side ``sqrt(X.shape[1])``.

    Returns
    -------
    torch.Tensor
        The augmented images, the shape of ``X``.

    Examples
    --------
    >>> X = torch.rand(4, 196)
    >>> augment(X, "rotation", torch.Generator().manual_seed(0)).shape
    torch.Size([4, 196])
    """
    family = check_choice(family, "family", AUGMENTATIONS)
    if not isinstance(X, torch.Tensor):
        raise TypeError(f"X must be a torch.Tensor, got {type(X).__name__}")
    if image_shape is None:
        side = math.isqrt(X.shape[1]) if X.ndim == 2 else 0
        if X.ndim != 2 or side * side != X.shape[1]:
            raise ValueError(f"X must have shape (n, side * side) when image_shape is None, "
                             f"got {tuple(X.shape)}")
        image_shape = (side, side)
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
        px = 2.0 if w < 16 else float(w // 7)
        t = (rand(n, 2) * 2 - 1) * (px * 2 / w)
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
    """A SimSiam learner for flat inputs: encoder (features) + MLP predictor.

    ``forward(x)`` returns the encoder features ``(batch, feature_dim)``.

    Parameters
    ----------
    in_features : int
        Length of a flattened input.
    hidden : int
        Width of the encoder's hidden linear layer.
    feature_dim : int
        Width of the features.
    predictor_hidden : int
        Width of the predictor's bottleneck.
    seed : int or None
        Seeds the initialisation (``None``: the global generator).
    backbone : {"mlp", "conv"}
        ``"mlp"``: linear-ReLU-linear. ``"conv"``: two blocks of 3x3
        convolution, ReLU and 2x2 max-pooling over the square image of side
        ``sqrt(in_features)``, then linear-ReLU-linear. No batch statistics
        either way, so a loss on a mixed batch is the mean of its samples'.
    channels : (int, int)
        Channels of the two convolution blocks (``backbone="conv"``).

    Examples
    --------
    >>> m = SimSiam(in_features=196, backbone="conv", seed=0)
    >>> m(torch.rand(3, 196)).shape
    torch.Size([3, 64])
    """

    def __init__(self, in_features: int = 64, hidden: int = 128, feature_dim: int = 64,
                 predictor_hidden: int = 32, seed: int | None = 0, backbone: str = "mlp",
                 channels: Sequence[int] = (16, 32)) -> None:
        super().__init__()
        for name, v in (("in_features", in_features), ("hidden", hidden),
                        ("feature_dim", feature_dim), ("predictor_hidden", predictor_hidden)):
            check_int(v, name, minimum=1)
        backbone = check_choice(backbone, "backbone", ("mlp", "conv"))
        if backbone == "conv":
            side = math.isqrt(in_features)
            if side * side != in_features or side < 4:
                raise ValueError(f"in_features must be the square of an image side >= 4 for "
                                 f"backbone='conv', got {in_features}")
            if isinstance(channels, (str, bytes)) or len(channels) != 2:
                raise ValueError(f"channels must hold two ints, got {channels!r}")
            c1, c2 = (check_int(c, "channels[i]", minimum=1) for c in channels)
        scope = (contextlib.nullcontext() if seed is None
                 else seeded_global_rng(check_int(seed, "seed", minimum=0)))
        with scope:
            if backbone == "mlp":
                self.encoder = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(),
                                             nn.Linear(hidden, feature_dim))
            else:
                flat = c2 * (side // 4) ** 2
                self.encoder = nn.Sequential(
                    nn.Unflatten(1, (1, side, side)),
                    nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                    nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                    nn.Flatten(), nn.Linear(flat, hidden), nn.ReLU(),
                    nn.Linear(hidden, feature_dim))
            self.predictor = nn.Sequential(nn.Linear(feature_dim, predictor_hidden), nn.ReLU(),
                                           nn.Linear(predictor_hidden, feature_dim))
        self.in_features = in_features
        self.backbone = backbone

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)


def simsiam_loss(model: SimSiam, x1: torch.Tensor, x2: torch.Tensor,
                 variance_weight: float = 0.0, covariance_weight: float = 0.0) -> torch.Tensor:
    """Symmetric negative cosine between predictions and stop-gradient features (SimSiam).

    With ``variance_weight > 0`` a VICReg-style variance term is added:
    ``variance_weight * mean_j relu(1 - std_j)`` over the features ``z`` of
    each view (``std_j`` the batch standard deviation of feature ``j``). It
    keeps the features from collapsing to a constant, the role SimSiam's
    batch normalisation plays, without batch statistics in the network.
    With ``covariance_weight > 0``, VICReg's covariance term
    ``covariance_weight * sum_{i != j} C_ij^2 / d`` (``C`` the batch
    covariance of the ``d`` features of each view) keeps the features from
    collapsing onto a few directions.
    """
    z1, z2 = model.encoder(x1), model.encoder(x2)
    p1, p2 = model.predictor(z1), model.predictor(z2)
    loss = -(F.cosine_similarity(p1, z2.detach(), dim=1).mean()
             + F.cosine_similarity(p2, z1.detach(), dim=1).mean()) / 2
    if variance_weight > 0 and len(x1) > 1:
        var = sum(F.relu(1.0 - torch.sqrt(z.var(0) + 1e-4)).mean() for z in (z1, z2))
        loss = loss + variance_weight * var / 2
    if covariance_weight > 0 and len(x1) > 1:
        cov = 0.0
        for z in (z1, z2):
            zc = z - z.mean(0)
            C = zc.T @ zc / (len(z) - 1)
            cov = cov + (C.pow(2).sum() - C.diagonal().pow(2).sum()) / z.shape[1]
        loss = loss + covariance_weight * cov / 2
    return loss


def ssl_objective(families: Sequence[str], seed: int = 0, variance_weight: float = 0.0,
                  covariance_weight: float = 0.0) -> Callable:
    """Strategy objective: task ``t`` = SimSiam loss between two ``families[t]`` views
    (``variance_weight``, ``covariance_weight``: see :func:`simsiam_loss`)."""
    families = [check_choice(f, "families[...]", AUGMENTATIONS) for f in families]
    gen = torch.Generator().manual_seed(check_int(seed, "seed", minimum=0))
    variance_weight = check_nonnegative(variance_weight, "variance_weight")
    covariance_weight = check_nonnegative(covariance_weight, "covariance_weight")

    def objective(strategy, X, y, task_id):
        fam = families[task_id]
        return simsiam_loss(strategy.model, augment(X, fam, gen), augment(X, fam, gen),
                            variance_weight, covariance_weight)

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


def augmentation_stream(families: Sequence[str] = AUGMENTATIONS, seed: int = 0, *,
                        dataset: str = "digits", n_train: int | None = None,
                        n_test: int | None = None, side: int = 28) -> TaskStream:
    """Images as a stream of tasks that differ only by their augmentation family.

    Every task holds the same train / test images (labels only serve the
    linear probe); task ``t``'s name is ``families[t]``.

    Parameters
    ----------
    families : sequence of str
        The augmentation family of each task, in stream order.
    seed : int
        Seeds the train / test split (digits) or the class-balanced samples.
    dataset : {"digits", "fashion-mnist", "mnist"}
        sklearn's 8x8 digits, or 28x28 Fashion-MNIST / MNIST
        (:func:`~mintlab.continual.benchmarks.image_stream`'s images).
    n_train, n_test : int or None
        Class-balanced sample sizes of the image datasets (``None``: all).
    side : {28, 14}
        Image side of Fashion-MNIST / MNIST; 14 average-pools 2x2.

    Returns
    -------
    TaskStream

    Examples
    --------
    >>> s = augmentation_stream(["rotation", "shuffle"], dataset="mnist", n_train=50,
    ...                         n_test=20, side=14)
    >>> [t.name for t in s], s[0].X_train.shape
    (['rotation', 'shuffle'], torch.Size([50, 196]))
    """
    from .benchmarks import _digits, _tensors, image_stream

    families = [check_choice(f, "families[...]", AUGMENTATIONS) for f in families]
    if not families:
        raise ValueError("families must hold at least one augmentation family")
    seed = check_int(seed, "seed", minimum=0)
    dataset = check_choice(dataset, "dataset", ("digits", "fashion-mnist", "mnist"))
    if dataset == "digits":
        X_tr, X_te, y_tr, y_te = _digits(seed)
        a, b = _tensors(X_tr, y_tr), _tensors(X_te, y_te)
        desc = "digits; each task = invariance to one augmentation family"
    else:
        side = check_choice(side, "side", (28, 14))
        base = image_stream(dataset, "permuted", 1, n_train=n_train, n_test=n_test, seed=seed)[0]
        a, b = (base.X_train, base.y_train), (base.X_test, base.y_test)
        if side == 14:
            a, b = ((F.avg_pool2d(X.reshape(-1, 1, 28, 28), 2).reshape(len(X), -1), y)
                    for X, y in (a, b))
        desc = (f"{dataset} {side}x{side}; each task = invariance to one augmentation family")
    tasks = tuple(Task(t, f, a[0], a[1], b[0], b[1], 10, tuple(range(10)))
                  for t, f in enumerate(families))
    return TaskStream("augmentation-tasks", tasks, "domain-incremental", desc,
                      {"families": list(families), "dataset": dataset})
