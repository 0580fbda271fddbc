"""The ConvNet of dataset distillation, image augmentation by seed, and cached teachers."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._cache import cached_module
from .._random import seeded_global_rng
from .._validation import (
    check_choice,
    check_int,
    check_nonnegative,
    check_positive,
    check_temperature,
)
from . import _checks

__all__ = ["ConvNet", "augment", "train_classifier", "train_teacher", "predict_proba",
           "load_distill_data", "DATASETS"]

DATASETS = ("digits", "glyphs")


class ConvNet(nn.Module):
    """Dataset distillation's ConvNet: ``depth`` x (conv 3x3, instance norm, ReLU, avg-pool).

    ``features(x)`` is the flattened last block (the embedding used by
    herding, distribution matching and hint losses); ``forward`` adds a
    linear classifier.
    """

    def __init__(self, n_classes: int, image_size: int, width: int = 32, depth: int = 2,
                 in_channels: int = 1) -> None:
        super().__init__()
        n_classes = check_int(n_classes, "n_classes", minimum=1)
        image_size = check_int(image_size, "image_size", minimum=1)
        width = check_int(width, "width", minimum=1)
        depth = check_int(depth, "depth", minimum=1)
        in_channels = check_int(in_channels, "in_channels", minimum=1)
        if image_size < 2 ** depth:
            raise ValueError(f"image_size must be >= 2**depth = {2 ** depth} (each of the depth="
                             f"{depth} blocks halves it), got {image_size}")
        self.image_size, self.in_channels = image_size, in_channels
        layers: list[nn.Module] = []
        c, s = in_channels, image_size
        for _ in range(depth):
            layers += [nn.Conv2d(c, width, 3, padding=1), nn.GroupNorm(width, width, affine=True),
                       nn.ReLU(), nn.AvgPool2d(2)]
            c, s = width, s // 2
        self.body = nn.Sequential(*layers)
        self.feature_dim = width * s * s
        self.classifier = nn.Linear(self.feature_dim, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 3:
            x = x[:, None]
        return self.body(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(n, n_classes)`` of images ``(n, H, W)`` or ``(n, in_channels, H, W)``.

        Only the kind, shape and dtype of ``x`` are checked here (no pass over its
        values: this runs at every training step); the public training and
        prediction functions check their data once.
        """
        _checks.tensor(x, "x", ndim=(3, 4), min_size=0, finite=False)
        if x.dim() == 4 and x.shape[1] != self.in_channels:
            raise ValueError(f"x must have {self.in_channels} channel(s) on axis 1 "
                             f"(in_channels), got shape {tuple(x.shape)}")
        if x.dim() == 3 and self.in_channels != 1:
            raise ValueError(f"x must have shape (n, {self.in_channels}, H, W) for "
                             f"in_channels={self.in_channels}, got {tuple(x.shape)}")
        if tuple(x.shape[-2:]) != (self.image_size, self.image_size):
            raise ValueError(f"x must hold {self.image_size}x{self.image_size} images "
                             f"(image_size), got shape {tuple(x.shape)}")
        w = self.classifier.weight
        if x.dtype != w.dtype:
            raise TypeError(f"x must have the network's dtype {w.dtype}, got {x.dtype}")
        return self.classifier(self.features(x))


def augment(images: torch.Tensor, seed: int, *, scale: tuple[float, float] = (0.8, 1.0),
            shift: float = 0.15) -> torch.Tensor:
    """Random resized crops (scale and shift), the same for the same ``seed``.

    ``images`` is ``(n, H, W)`` or ``(n, 1, H, W)``; the output has the same shape.
    """
    _checks.tensor(images, "images", ndim=(3, 4))
    if not images.is_floating_point():
        raise TypeError(f"images must hold floating-point pixels, got dtype {images.dtype}")
    if images.dim() == 4 and images.shape[1] != 1:
        raise ValueError(f"images must have shape (n, H, W) or (n, 1, H, W), got "
                         f"{tuple(images.shape)}")
    seed = _checks.seed(seed)
    if not (isinstance(scale, (tuple, list)) and len(scale) == 2):
        raise TypeError(f"scale must be a pair (low, high), got {scale!r}")
    lo, hi = (check_positive(v, "scale") for v in scale)
    if lo > hi:
        raise ValueError(f"scale must be (low, high) with low <= high, got {tuple(scale)}")
    shift = check_nonnegative(shift, "shift")
    return _augment(images, seed, scale=(scale[0], scale[1]), shift=shift)


def _augment(images: torch.Tensor, seed: int, *, scale: tuple[float, float] = (0.8, 1.0),
             shift: float = 0.15) -> torch.Tensor:
    """:func:`augment` without the argument checks (for loops over checked data)."""
    squeeze = images.dim() == 3
    x = images[:, None] if squeeze else images
    g = torch.Generator().manual_seed(int(seed))
    n = x.shape[0]
    s = torch.empty(n).uniform_(scale[0], scale[1], generator=g)
    t = torch.empty(n, 2).uniform_(-shift, shift, generator=g)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = s
    theta[:, 1, 1] = s
    theta[:, :, 2] = t
    theta = theta.to(dtype=x.dtype, device=x.device)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, padding_mode="zeros", align_corners=False)
    return out[:, 0] if squeeze else out


def train_classifier(model: nn.Module, X: torch.Tensor, y: torch.Tensor, *, epochs: int = 30,
                     lr: float = 3e-3, batch_size: int = 64, augment_views: bool = True,
                     seed: int = 0) -> nn.Module:
    """Adam + cross-entropy on ``(X, y)``, a new seeded augmentation every epoch."""
    epochs = check_int(epochs, "epochs", minimum=1)
    _checks.module(model, "model")
    _checks.images(X, "X")
    _checks.labels(y, "y", n=X.shape[0])
    lr = check_positive(lr, "lr")
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    seed = _checks.seed(seed)
    return _train_classifier(model, X, y, epochs=epochs, lr=lr, batch_size=batch_size,
                             augment_views=augment_views, seed=seed)


def _train_classifier(model: nn.Module, X: torch.Tensor, y: torch.Tensor, *, epochs: int = 30,
                      lr: float = 3e-3, batch_size: int = 64, augment_views: bool = True,
                      seed: int = 0) -> nn.Module:
    """:func:`train_classifier` without the argument checks."""
    g = torch.Generator().manual_seed(int(seed))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for e in range(epochs):
        Xe = _augment(X, seed * 100003 + e) if augment_views else X
        perm = torch.randperm(len(X), generator=g)
        for i in range(0, len(X), batch_size):
            b = perm[i: i + batch_size]
            loss = F.cross_entropy(model(Xe[b]), y[b])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model.eval()


@torch.no_grad()
def predict_proba(model: nn.Module, X: torch.Tensor, batch_size: int = 512,
                  temperature: float = 1.0) -> torch.Tensor:
    """Softmax of ``model(X) / temperature`` in batches."""
    _checks.module(model, "model")
    _checks.tensor(X, "X", ndim=(2, 3, 4))
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    temperature = check_temperature(temperature)
    return _predict_proba(model, X, batch_size, temperature)


@torch.no_grad()
def _predict_proba(model: nn.Module, X: torch.Tensor, batch_size: int = 512,
                   temperature: float = 1.0) -> torch.Tensor:
    """:func:`predict_proba` without the argument checks."""
    model.eval()
    return torch.cat([F.softmax(model(X[i: i + batch_size]) / temperature, -1)
                      for i in range(0, len(X), batch_size)])


def load_distill_data(name: str, seed: int = 0, *, n_classes: int = 100,
                      train_per_class: int = 30, test_per_class: int = 10) -> dict[str, Any]:
    """``digits`` (scikit-learn's 8x8, stratified split) or ``glyphs`` (100 classes, 16x16).

    Float32 tensors ``X_train (n, H, W)`` in [0, 1] and int64 labels, plus
    ``n_classes`` and ``image_size``.
    """
    check_choice(name, "name", DATASETS)
    seed = _checks.seed(seed)
    n_classes = check_int(n_classes, "n_classes", minimum=2)
    train_per_class = check_int(train_per_class, "train_per_class", minimum=1)
    test_per_class = check_int(test_per_class, "test_per_class", minimum=1)
    if name == "digits":
        from mintlab.datasets import load_digits_split
        d = load_digits_split(seed=seed)
        X_train = np.concatenate([d["X_train"], d["X_val"]]).reshape(-1, 8, 8)
        y_train = np.concatenate([d["y_train"], d["y_val"]])
        X_test, y_test = d["X_test"].reshape(-1, 8, 8), d["y_test"]
        k, size = 10, 8
    else:
        from mintlab.datasets import load_glyph_split
        d = load_glyph_split(n_classes, train_per_class, test_per_class, seed=seed)
        X_train, y_train, X_test, y_test = d["X_train"], d["y_train"], d["X_test"], d["y_test"]
        k, size = n_classes, 16
    t = torch.as_tensor
    return {"X_train": t(X_train, dtype=torch.float32), "y_train": t(y_train, dtype=torch.long),
            "X_test": t(X_test, dtype=torch.float32), "y_test": t(y_test, dtype=torch.long),
            "n_classes": k, "image_size": size, "name": name}


def train_teacher(data: Mapping[str, Any], *, width: int = 64, depth: int = 2,
                  epochs: int = 40, seed: int = 0, cache: bool = True) -> ConvNet:
    """A ConvNet teacher trained on the whole training split, cached under the user's cache.

    The images and labels are read (checked) only when the teacher is trained,
    not when the cached one is loaded.
    """
    _checks.data_dict(data, values=False)
    width = check_int(width, "width", minimum=1)
    depth = check_int(depth, "depth", minimum=1)
    epochs = check_int(epochs, "epochs", minimum=1)
    seed = _checks.seed(seed)
    _checks.flag(cache, "cache")

    def build() -> ConvNet:
        with seeded_global_rng(seed):
            return ConvNet(data["n_classes"], data["image_size"], width=width, depth=depth)

    def fit() -> ConvNet:
        _checks.data_dict(data)
        return cast(ConvNet, _train_classifier(build(), data["X_train"], data["y_train"],
                                               epochs=epochs, seed=seed))

    if not cache:
        return fit()
    digest = hashlib.sha1(data["X_train"].detach().cpu().numpy().tobytes()).hexdigest()[:10]
    key = hashlib.sha1(json.dumps([data.get("name"), digest, width, depth, epochs, seed,
                                   2]).encode()).hexdigest()[:12]
    return cast(ConvNet, cached_module(f"teacher-{data.get('name', 'data')}-{key}.pt", build,
                                       fit))
