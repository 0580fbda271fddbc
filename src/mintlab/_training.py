"""A small, seeded classifier training loop shared by the library's experiments and examples.

Used by :mod:`mintlab.compress` (plain inputs) and :mod:`mintlab.nn` (padded
sets with a mask; poolings with a constraint penalty).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from mintlab._validation import (
    check_finite,
    check_int,
    check_nonnegative,
    check_positive,
)

__all__ = ["fit_classifier", "accuracy"]

#: Labels equal to this are ignored by the loss (``F.cross_entropy``'s default ``ignore_index``).
IGNORE_INDEX = -100


def _check_xy(X, y):
    if not isinstance(X, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise TypeError(f"X and y must be torch tensors, got {type(X).__name__} and "
                        f"{type(y).__name__}")
    if X.dim() == 0 or y.dim() == 0 or X.shape[0] != y.shape[0] or X.shape[0] == 0:
        raise ValueError(f"X and y must hold the same non-zero number of samples, got "
                         f"{tuple(X.shape)} and {tuple(y.shape)}")
    if y.dtype != torch.long:
        raise TypeError(f"y must hold class indices (torch.long), got {y.dtype}")
    if bool(((y < 0) & (y != IGNORE_INDEX)).any()):
        low = int(y[y != IGNORE_INDEX].min())
        raise ValueError(f"y must hold class indices >= 0 (or {IGNORE_INDEX}, which the loss "
                         f"ignores), got minimum {low}")
    check_finite(X.detach(), "X")


def _check_model(model, mask, X):
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if mask is None:
        return
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise TypeError("mask must be a boolean tensor (N, n) with True at real elements, got "
                        f"{getattr(mask, 'dtype', type(mask).__name__)}")
    if X.ndim < 2 or tuple(mask.shape) != tuple(X.shape[:2]):
        raise ValueError(f"mask must have shape {tuple(X.shape[:2])} to match X, got "
                         f"{tuple(mask.shape)}")
    if mask.numel() and not bool(mask.any(-1).all()):
        raise ValueError(f"mask leaves {int((~mask.any(-1)).sum())} set(s) of X empty; every "
                         "set needs at least one True element")


def _check_classes(logits, y):
    """Once, on the first batch: the labels must index the model's outputs (axis 1 of the
    logits, the class axis of ``F.cross_entropy``; labels equal to -100 are ignored)."""
    if logits.dim() == 0:
        return
    n_classes = logits.shape[1] if logits.dim() >= 2 else logits.shape[0]
    hi = int(torch.where(y == IGNORE_INDEX, -1, y).max())
    if hi >= n_classes:
        raise ValueError(f"y must lie in [0, {n_classes}) (the model has {n_classes} outputs), "
                         f"got maximum {hi}")


def _call(model, X, mask, idx):
    return model(X[idx]) if mask is None else model(X[idx], mask[idx])


def _constraint_modules(model):
    """Submodules with a primal-dual constraint (``penalty()`` and ``dual_step()``)."""
    return [m for m in model.modules()
            if callable(getattr(m, "penalty", None)) and callable(getattr(m, "dual_step", None))]


def fit_classifier(model: nn.Module, X: torch.Tensor, y: torch.Tensor, *,
                   mask: torch.Tensor | None = None, epochs: int = 50, lr: float = 1e-2,
                   batch_size: int = 64, weight_decay: float = 0.0,
                   parameters: Iterable[nn.Parameter] | None = None, seed: int = 0,
                   progress: bool = False) -> list[float]:
    """Train ``model`` on ``(X, y)`` with Adam and cross-entropy; return the loss per epoch.

    ``y`` holds class indices (``torch.long``), one row per row of ``X``:
    ``(N,)``, or ``(N, d1, ...)`` for logits ``(N, C, d1, ...)``. Labels equal
    to ``-100`` are ignored by the loss (``F.cross_entropy``'s default
    ``ignore_index``).

    ``parameters`` defaults to every parameter with ``requires_grad`` (for a
    compressed model: its coefficients). Mini-batches are drawn from a
    generator seeded with ``seed``. With ``mask`` (padded sets, boolean
    ``(N, n)``) the model is called as ``model(X, mask)``. Submodules with a
    primal-dual constraint (``penalty()`` / ``dual_step()``, e.g.
    :class:`mintlab.nn.ConstrainedSWEPooling`) add their penalty to the loss
    and take their dual step after every optimiser step.
    """
    _check_xy(X, y)
    _check_model(model, mask, X)
    epochs = check_int(epochs, "epochs", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    lr = check_positive(lr, "lr")
    weight_decay = check_nonnegative(weight_decay, "weight_decay")
    seed = check_int(seed, "seed", minimum=0)
    params = [p for p in (parameters if parameters is not None else model.parameters())
              if p.requires_grad]
    if not params:
        raise ValueError("model has no trainable parameter")
    constrained = _constraint_modules(model)
    opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    g = torch.Generator().manual_seed(seed)
    losses = []
    it: Iterable[int] = range(epochs)
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(it, desc="training", unit="epoch")
    model.train()
    first = True
    for _ in it:
        perm = torch.randperm(X.shape[0], generator=g).to(X.device)
        total = 0.0
        for start in range(0, X.shape[0], batch_size):
            idx = perm[start:start + batch_size]
            logits = _call(model, X, mask, idx)
            if first:
                _check_classes(logits, y)
                first = False
            loss = nn.functional.cross_entropy(logits, y[idx])
            total += float(loss.detach()) * idx.numel()
            for m in constrained:
                loss = loss + m.penalty()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            for m in constrained:
                m.dual_step()
        losses.append(total / X.shape[0])
    model.eval()
    return losses


@torch.no_grad()
def accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor, *,
             mask: torch.Tensor | None = None, batch_size: int = 1024) -> float:
    """Fraction of ``X`` that ``model`` classifies as ``y`` (``mask``: padded sets).

    A label of ``-100`` (ignored in training) never counts as a hit.
    """
    _check_xy(X, y)
    _check_model(model, mask, X)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    model.eval()
    hits = 0
    for start in range(0, X.shape[0], batch_size):
        idx = torch.arange(start, min(X.shape[0], start + batch_size), device=X.device)
        logits = _call(model, X, mask, idx)
        if start == 0:
            _check_classes(logits, y)
        hits += int((logits.argmax(dim=1) == y[idx]).sum())
    return hits / X.shape[0]
