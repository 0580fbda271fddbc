"""Shared pieces of the compression experiments (pranc, nola, mcnc): data, models, lr search."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np
import torch
from torch import nn

from mintlab._random import seeded_global_rng
from mintlab.compress import accuracy, fit_classifier
from mintlab.datasets import load_digits_split


def digits_tensors(seed: int, transform: Callable | None = None) -> dict[str, torch.Tensor]:
    """The digits split as float32 / int64 tensors, ``transform`` applied to every X."""
    d = load_digits_split(seed=seed)
    out = {}
    for k, v in d.items():
        if k.startswith("X"):
            v = transform(v) if transform is not None else v
            out[k] = torch.as_tensor(v, dtype=torch.float32)
        else:
            out[k] = torch.as_tensor(v, dtype=torch.int64)
    return out


def mlp(widths: Sequence[int], seed: int) -> nn.Sequential:
    """ReLU MLP with the given layer widths, initialised from ``seed``."""
    layers: list[nn.Module] = []
    with seeded_global_rng(seed):
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
            layers.append(nn.Linear(a, b))
            if i < len(widths) - 2:
                layers.append(nn.ReLU())
    return nn.Sequential(*layers)


@torch.no_grad()
def correct(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """1.0 where ``model`` classifies a test item correctly, else 0.0 (shape ``(n,)``)."""
    was = model.training
    model.eval()
    out = (model(X).argmax(-1) == y).double().numpy()
    model.train(was)
    return out


M = TypeVar("M", bound=nn.Module)


@dataclass
class Fitted(Generic[M]):
    model: M
    lr: float
    val_accuracy: float
    test_accuracy: float
    seconds: float
    # per test item, 1.0 if correct
    test_correct: np.ndarray = field(default_factory=lambda: np.zeros(0))
    candidate: int = 0  # index of the chosen model factory (see fit_best_of)


def fit_best_of(makes: Sequence[Callable[[], M]], data: dict[str, torch.Tensor],
                lrs: Sequence[float], epochs: int, seed: int) -> Fitted[M]:
    """Train every (model factory, learning rate) pair; keep the best on the validation split.

    ``makes`` are alternative models of one arm (e.g. several initialisations
    of a small baseline); each is trained at every learning rate with the same
    epochs and data order.
    """
    best: Fitted[M] | None = None
    for c, make in enumerate(makes):
        for lr in lrs:
            model = make()
            t0 = time.perf_counter()
            fit_classifier(model, data["X_train"], data["y_train"], epochs=epochs, lr=lr,
                           seed=seed)
            seconds = time.perf_counter() - t0
            val = accuracy(model, data["X_val"], data["y_val"])
            if best is None or val > best.val_accuracy:
                hits = correct(model, data["X_test"], data["y_test"])
                best = Fitted(model, lr, val, float(hits.mean()), seconds, hits, c)
    if best is None:
        raise ValueError("makes and lrs must not be empty")
    return best


def fit_best_lr(make: Callable[[], M], data: dict[str, torch.Tensor], lrs: Sequence[float],
                epochs: int, seed: int) -> Fitted[M]:
    """Train one model per learning rate; keep the best on the validation split.

    Every method of an experiment gets the same grid and the same epochs,
    so none is tuned more than another.
    """
    return fit_best_of([make], data, lrs, epochs, seed)


def n_trainable(model: nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))
