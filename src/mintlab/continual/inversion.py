"""Model inversion: synthesise inputs a trained classifier assigns to chosen classes.

Used by BrainWash (a proxy of the earlier tasks' data, which the attacker
does not have) and CovarNav (a proxy of the training data to protect). Each
synthetic input starts from uniform noise and minimises
``CE(model(x), c) + l2 ||x||^2 + tv TV(x)`` with Adam, where TV (total
variation, for images of a known shape) favours smooth images; inputs stay in
``bounds`` through a sigmoid parametrisation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .._random import make_generator
from .._validation import check_int, check_nonnegative, check_positive, check_ratio
from ..typing import SeedLike
from ._checks import check_bounds
from .models import forward_task

__all__ = ["InvertedSet", "invert_model"]


@dataclass(frozen=True)
class InvertedSet:
    """Synthetic inputs ``X`` ``(n, d)``, their target labels ``y`` and the task id used."""

    X: torch.Tensor
    y: torch.Tensor
    task_id: int
    final_loss: float

    def __len__(self) -> int:
        return len(self.y)


def _tv(x: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    img = x.reshape(len(x), *shape)
    dh = (img[..., 1:, :] - img[..., :-1, :]).abs().mean()
    dw = (img[..., :, 1:] - img[..., :, :-1]).abs().mean()
    return dh + dw


def invert_model(model: nn.Module, classes: Sequence[int], n_per_class: int, n_features: int,
                 *, task_id: int = 0, steps: int = 200, lr: float = 0.1, l2: float = 1e-3,
                 tv: float = 0.0, image_shape: Sequence[int] | None = None,
                 bounds: tuple[float, float] = (0.0, 1.0), target_probability: float | None = None,
                 seed: SeedLike = 0) -> InvertedSet:
    """Synthesise ``n_per_class`` inputs per class that ``model`` classifies as that class.

    Parameters
    ----------
    model : torch.nn.Module
        Frozen during inversion (its weights are not changed).
    classes : sequence of int
        Output indices (of the head of ``task_id`` for multi-head models).
    n_per_class : int
    n_features : int
        Input dimension.
    task_id : int
        Head to invert for multi-head models.
    steps, lr : int, float
        Adam iterations and step size.
    l2, tv : float
        Weights of the ``||x||^2`` and total-variation priors (``tv`` needs
        ``image_shape``).
    bounds : (low, high)
        Range of every input coordinate.
    target_probability : float or None
        Stop pushing a sample once the model gives its class this
        probability (keeps the proxy on the decision-relevant part of the
        input space instead of arbitrarily confident points).
    seed : int, torch.Generator or None

    Returns
    -------
    InvertedSet

    Examples
    --------
    >>> from mintlab.continual import ContinualMLP
    >>> net = ContinualMLP(4, [8], [3], seed=0)
    >>> inv = invert_model(net, [0, 2], 5, 4, steps=50)
    >>> bool((net(inv.X).argmax(1) == inv.y).float().mean() > 0.5)
    True
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    classes = [check_int(c, "classes[...]", minimum=0) for c in classes]
    if not classes:
        raise ValueError("classes must name at least one class")
    n_per_class = check_int(n_per_class, "n_per_class", minimum=1)
    n_features = check_int(n_features, "n_features", minimum=1)
    steps = check_int(steps, "steps", minimum=1)
    lr = check_positive(lr, "lr")
    l2, tv = check_nonnegative(l2, "l2"), check_nonnegative(tv, "tv")
    if tv > 0 and image_shape is None:
        raise ValueError("tv > 0 needs image_shape (e.g. (8, 8))")
    if target_probability is not None:
        target_probability = check_ratio(target_probability, "target_probability")
    lo, hi = check_bounds(bounds, "bounds")
    p0 = next(model.parameters())
    dev, dtype = p0.device, p0.dtype
    g = make_generator(seed)
    y = torch.tensor(classes, device=dev).repeat_interleave(n_per_class)
    z = (torch.rand(len(y), n_features, generator=g, dtype=dtype) * 2 - 1).to(dev)
    z.requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    was = model.training
    model.eval()
    req = [p.requires_grad for p in model.parameters()]
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        with torch.enable_grad():  # works inside a caller's no_grad block too
            for _ in range(steps):
                x = lo + (hi - lo) * torch.sigmoid(z)
                out = forward_task(model, x, task_id)
                if max(classes) >= out.shape[1]:
                    raise ValueError(f"classes must be < {out.shape[1]} (the head's width), got "
                                     f"{max(classes)}")
                ce = F.cross_entropy(out, y, reduction="none")
                if target_probability is not None:
                    ce = ce * (ce > -math.log(target_probability)).to(ce.dtype)
                loss = ce.mean() + l2 * (x ** 2).sum(1).mean()
                if tv > 0 and image_shape is not None:  # tv > 0 needs image_shape (checked)
                    loss = loss + tv * _tv(x, image_shape)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
    finally:
        for p, r in zip(model.parameters(), req, strict=True):
            p.requires_grad_(r)
        model.train(was)
    X = (lo + (hi - lo) * torch.sigmoid(z)).detach()
    return InvertedSet(X, y, int(task_id), float(loss.detach()))
