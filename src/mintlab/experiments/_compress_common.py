"""Shared pieces of the compression experiments (pranc, nola, mcnc): data, models, lr search."""

from __future__ import annotations

import functools
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
                lrs: Sequence[float], epochs: int, seed: int, batch_size: int = 64
                ) -> Fitted[M]:
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
                           batch_size=batch_size, seed=seed)
            seconds = time.perf_counter() - t0
            val = accuracy(model, data["X_val"], data["y_val"])
            if best is None or val > best.val_accuracy:
                hits = correct(model, data["X_test"], data["y_test"])
                best = Fitted(model, lr, val, float(hits.mean()), seconds, hits, c)
    if best is None:
        raise ValueError("makes and lrs must not be empty")
    return best


def fit_best_lr(make: Callable[[], M], data: dict[str, torch.Tensor], lrs: Sequence[float],
                epochs: int, seed: int, batch_size: int = 64) -> Fitted[M]:
    """Train one model per learning rate; keep the best on the validation split.

    Every method of an experiment gets the same grid and the same epochs,
    so none is tuned more than another.
    """
    return fit_best_of([make], data, lrs, epochs, seed, batch_size)


def n_trainable(model: nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


# ------------------------------------------------------------- Fashion-MNIST ConvNets
def fashion_tensors(seed: int, n_train: int, n_val: int, n_test: int) -> dict[str, torch.Tensor]:
    """Class-balanced Fashion-MNIST splits as ``(N, 1, 28, 28)`` float32 in [0, 1].

    Train and validation images are disjoint samples of the official train
    split (the shipped subset), the test images a sample of the test split;
    all drawn with ``seed``.
    """
    from mintlab.datasets import load_fashion_mnist
    from mintlab.datasets.images import stratified_indices

    X, y = load_fashion_mnist("train", n=n_train + n_val, seed=seed, source="subset")
    val = np.zeros(len(y), dtype=bool)
    val[stratified_indices(y, n_val, seed=seed)] = True
    Xt, yt = load_fashion_mnist("test", n=n_test, seed=seed, source="subset")

    def img(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(a[:, None].astype(np.float32) / 255.0)

    return {"X_train": img(X[~val]), "y_train": torch.as_tensor(y[~val]),
            "X_val": img(X[val]), "y_val": torch.as_tensor(y[val]),
            "X_test": img(Xt), "y_test": torch.as_tensor(yt)}


def convnet(seed: int, channels: tuple[int, int] = (16, 32), hidden: int = 32) -> nn.Sequential:
    """Two conv-ReLU-pool blocks, a hidden layer and 10 outputs: 55,338 weights by default."""
    c1, c2 = channels
    with seeded_global_rng(seed):
        return nn.Sequential(nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(c2 * 49, hidden), nn.ReLU(),
                             nn.Linear(hidden, 10))


def _pooled(pool: int, layers: list[nn.Module]) -> nn.Sequential:
    return nn.Sequential(nn.AvgPool2d(pool), nn.Flatten(), *layers)


def small_dense_candidates(budget: int, seed: int, n_inits: int
                           ) -> list[tuple[str, Callable[[], nn.Module]]]:
    """Every small image classifier of the sweep with at most ``budget`` weights.

    The same-size dense baseline of the compression papers, given a fair
    chance: linear classifiers and one-hidden-layer ReLU MLPs on average-
    pooled images (pools of 4 and 7 pixels: 7x7 and 4x4 inputs),
    the widest MLP that fits the budget, and a one-block ConvNet when one
    fits; each at ``n_inits`` initialisations. The caller keeps the best on
    validation data.
    """
    out: list[tuple[str, Callable[[], nn.Module]]] = []

    def add(label: str, build: Callable[[], nn.Module], n_params: int) -> None:
        if n_params > budget:
            return
        for i in range(n_inits):
            def make(build: Callable[[], nn.Module] = build, i: int = i) -> nn.Module:
                with seeded_global_rng(1_000 * seed + i):
                    return build()
            out.append((f"{label} (init {i})", make))

    def linear(pool: int, d: int) -> nn.Module:
        return _pooled(pool, [nn.Linear(d, 10)])

    def hidden(pool: int, d: int, h: int) -> nn.Module:
        return _pooled(pool, [nn.Linear(d, h), nn.ReLU(), nn.Linear(h, 10)])

    def conv(c: int) -> nn.Module:
        return nn.Sequential(nn.Conv2d(1, c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(4),
                             nn.Flatten(), nn.Linear(c * 49, 10))

    for pool in (4, 7):
        d = (28 // pool) ** 2
        add(f"linear on {28 // pool}x{28 // pool} pooled pixels",
            functools.partial(linear, pool, d), 10 * d + 10)
        h = (budget - 10) // (d + 11)
        if h >= 1:
            add(f"MLP {d}-{h}-10 on pooled pixels", functools.partial(hidden, pool, d, h),
                d * h + h + 10 * h + 10)
    c = (budget - 10) // 500
    if c >= 1:
        add(f"ConvNet 1-{c} (3x3, pool 4) + linear", functools.partial(conv, c),
            10 * c + 490 * c + 10)
    return out


def _proc_status(key: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def time_and_peak_memory(fn: Callable[[], object], repeats: int = 1) -> tuple[float, float]:
    """Best wall time of ``fn`` over ``repeats`` runs, and its peak resident-memory growth.

    The peak is read from Linux's ``/proc/self/status`` (``VmHWM`` after the
    high-water mark is reset through ``/proc/self/clear_refs``), in bytes
    above the resident memory before the call; NaN where the system does not
    offer it.
    """
    best = float("inf")
    peak: float | None = None
    for _ in range(repeats):
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            before = _proc_status("VmRSS")
        except OSError:
            before = None
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
        after = _proc_status("VmHWM")
        if before is not None and after is not None:
            grow = float(max(0, after - before))
            peak = grow if peak is None else max(peak, grow)
    return best, float("nan") if peak is None else peak
