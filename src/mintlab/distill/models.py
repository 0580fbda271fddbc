"""The ConvNet of dataset distillation, image augmentation by seed, and cached teachers."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._cache import cached_module
from .._random import seeded_global_rng
from .._validation import check_int

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
                 in_channels: int = 1):
        super().__init__()
        layers, c, s = [], in_channels, image_size
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
        return self.classifier(self.features(x))


def augment(images: torch.Tensor, seed: int, *, scale=(0.8, 1.0),
            shift: float = 0.15) -> torch.Tensor:
    """Random resized crops (scale and shift), the same for the same ``seed``.

    ``images`` is ``(n, H, W)`` or ``(n, 1, H, W)``; the output has the same shape.
    """
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
    g = torch.Generator().manual_seed(int(seed))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for e in range(epochs):
        Xe = augment(X, seed * 100003 + e) if augment_views else X
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
    model.eval()
    return torch.cat([F.softmax(model(X[i: i + batch_size]) / temperature, -1)
                      for i in range(0, len(X), batch_size)])


def load_distill_data(name: str, seed: int = 0, *, n_classes: int = 100,
                      train_per_class: int = 30, test_per_class: int = 10) -> dict:
    """``digits`` (scikit-learn's 8x8, stratified split) or ``glyphs`` (100 classes, 16x16).

    Float32 tensors ``X_train (n, H, W)`` in [0, 1] and int64 labels, plus
    ``n_classes`` and ``image_size``.
    """
    if name not in DATASETS:
        raise ValueError(f"name must be one of {DATASETS}, got {name!r}")
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


def train_teacher(data: dict, *, width: int = 64, depth: int = 2, epochs: int = 40,
                  seed: int = 0, cache: bool = True) -> ConvNet:
    """A ConvNet teacher trained on the whole training split, cached under the user's cache."""
    def build():
        with seeded_global_rng(seed):
            return ConvNet(data["n_classes"], data["image_size"], width=width, depth=depth)

    def fit():
        return train_classifier(build(), data["X_train"], data["y_train"], epochs=epochs,
                                seed=seed)

    if not cache:
        return fit()
    digest = hashlib.sha1(data["X_train"].numpy().tobytes()).hexdigest()[:10]
    key = hashlib.sha1(json.dumps([data.get("name"), digest, width, depth, epochs, seed,
                                   2]).encode()).hexdigest()[:12]
    return cached_module(f"teacher-{data.get('name', 'data')}-{key}.pt", build, fit)
