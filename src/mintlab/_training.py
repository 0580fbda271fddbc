"""A small, seeded classifier training loop shared by the library's experiments and examples.

Used by :mod:`mintlab.compress` (plain inputs) and :mod:`mintlab.nn` (padded
sets with a mask; poolings with a constraint penalty).
"""

from __future__ import annotations

import torch
from torch import nn

from mintlab._validation import check_int, check_positive

__all__ = ["fit_classifier", "accuracy"]


def _check_xy(X, y):
    if not isinstance(X, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise TypeError(f"X and y must be torch tensors, got {type(X).__name__} and "
                        f"{type(y).__name__}")
    if X.shape[0] != y.shape[0] or X.shape[0] == 0:
        raise ValueError(f"X and y must hold the same non-zero number of samples, got "
                         f"{tuple(X.shape)} and {tuple(y.shape)}")
    if y.dtype != torch.long:
        raise TypeError(f"y must hold class indices (torch.long), got {y.dtype}")


def _call(model, X, mask, idx):
    return model(X[idx]) if mask is None else model(X[idx], mask[idx])


def _constraint_modules(model):
    """Submodules with a primal-dual constraint (``penalty()`` and ``dual_step()``)."""
    return [m for m in model.modules()
            if callable(getattr(m, "penalty", None)) and callable(getattr(m, "dual_step", None))]


def fit_classifier(model: nn.Module, X: torch.Tensor, y: torch.Tensor, *, mask=None,
                   epochs: int = 50, lr: float = 1e-2, batch_size: int = 64,
                   weight_decay: float = 0.0, parameters=None, seed: int = 0,
                   progress: bool = False) -> list[float]:
    """Train ``model`` on ``(X, y)`` with Adam and cross-entropy; return the loss per epoch.

    ``parameters`` defaults to every parameter with ``requires_grad`` (for a
    compressed model: its coefficients). Mini-batches are drawn from a
    generator seeded with ``seed``. With ``mask`` (padded sets, boolean
    ``(N, n)``) the model is called as ``model(X, mask)``. Submodules with a
    primal-dual constraint (``penalty()`` / ``dual_step()``, e.g.
    :class:`mintlab.nn.ConstrainedSWEPooling`) add their penalty to the loss
    and take their dual step after every optimiser step.
    """
    _check_xy(X, y)
    if mask is not None and (not isinstance(mask, torch.Tensor) or mask.shape[0] != X.shape[0]):
        raise ValueError(f"mask must be a tensor with {X.shape[0]} rows, got "
                         f"{tuple(getattr(mask, 'shape', ()))}")
    epochs = check_int(epochs, "epochs", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    lr = check_positive(lr, "lr")
    params = [p for p in (parameters if parameters is not None else model.parameters())
              if p.requires_grad]
    if not params:
        raise ValueError("model has no trainable parameter")
    constrained = _constraint_modules(model)
    opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    g = torch.Generator().manual_seed(seed)
    losses = []
    it = range(epochs)
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(it, desc="training", unit="epoch")
    model.train()
    for _ in it:
        perm = torch.randperm(X.shape[0], generator=g).to(X.device)
        total = 0.0
        for start in range(0, X.shape[0], batch_size):
            idx = perm[start:start + batch_size]
            loss = nn.functional.cross_entropy(_call(model, X, mask, idx), y[idx])
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
def accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor, *, mask=None,
             batch_size: int = 1024) -> float:
    """Fraction of ``X`` that ``model`` classifies as ``y`` (``mask``: padded sets)."""
    _check_xy(X, y)
    model.eval()
    hits = 0
    for start in range(0, X.shape[0], batch_size):
        idx = torch.arange(start, min(X.shape[0], start + batch_size), device=X.device)
        hits += int((_call(model, X, mask, idx).argmax(dim=1) == y[idx]).sum())
    return hits / X.shape[0]
