"""Machine unlearning by CovarNav (``covarnav``) and the usual baselines.

Given a trained classifier and a *forget set*, CovarNav

1. synthesises a proxy of the training data by model inversion (the
   retained classes; :func:`~mintlab.continual.inversion.invert_model`), so
   no retained training data is needed;
2. relabels every forget sample with its most probable *wrong* class under
   the current model;
3. trains on the relabelled forget set with each protected layer's
   gradient (every linear layer and convolution but task-specific heads)
   projected onto the orthogonal complement of the principal subspace
   (energy ``threshold``) of that layer's inputs on the inverted samples, as
   GPM does for an old task, so what the model does on the proxy of the
   retained data is preserved.

Baselines: fine-tuning on the retained data, gradient ascent on the forget
set, and training on the forget set with random wrong labels. Every method
returns a new model; the input model is not modified.

:func:`loss_membership_scores` measures what a loss-threshold
membership-inference attack learns about the forget set.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._random import make_generator
from .._validation import check_finite, check_int, check_positive
from ..typing import SeedLike
from .inversion import InvertedSet, invert_model
from .models import forward_task
from .strategies import layer_inputs, project_gradients, projection_bases, protected_layers

__all__ = ["UnlearningResult", "covarnav", "most_probable_wrong_label", "finetune_retain",
           "gradient_ascent", "random_relabel", "loss_membership_scores"]


@dataclass(frozen=True)
class UnlearningResult:
    """The unlearned ``model``, the labels it was trained towards (if any), the inverted
    proxy (CovarNav) and the protected directions per layer."""

    model: nn.Module
    targets: torch.Tensor | None = None
    inverted: InvertedSet | None = None
    memory_dimensions: tuple = ()


def _check_xy(X: Any, y: Any, name: str, model: Any = None,
              names: tuple[str, str] | None = None) -> None:
    """Check a labelled set; ``names`` overrides the argument names ``X_{name}``/``y_{name}``."""
    xn, yn = names if names is not None else (f"X_{name}", f"y_{name}")
    if model is not None and not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(X, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise TypeError(f"{xn} and {yn} must be torch tensors, got "
                        f"{type(X).__name__} and {type(y).__name__}")
    if X.ndim != 2 or y.ndim != 1 or len(X) != len(y):
        raise ValueError(f"{xn} must be (n, d) and {yn} (n,), got {tuple(X.shape)} and "
                         f"{tuple(y.shape)}")
    if len(y) == 0:
        raise ValueError(f"the {name} set is empty: {xn} and {yn} hold no samples")
    check_finite(X, xn)
    if y.is_floating_point() or y.dtype == torch.bool:
        raise TypeError(f"{yn} must hold integer class labels, got dtype {y.dtype}")
    if int(y.min()) < 0:
        raise ValueError(f"{yn} must be non-negative class indices, got minimum "
                         f"{int(y.min())}")


@torch.no_grad()
def most_probable_wrong_label(model: nn.Module, X: torch.Tensor, y: torch.Tensor,
                              task_id: int = 0) -> torch.Tensor:
    """For each sample, the class with the highest logit other than its label ``y``."""
    _check_xy(X, y, "input", model, names=("X", "y"))
    return _wrong_labels(model, X, y, task_id)


@torch.no_grad()
def _wrong_labels(model: nn.Module, X: torch.Tensor, y: torch.Tensor,
                  task_id: int) -> torch.Tensor:
    was = model.training
    model.eval()
    dev = next(model.parameters()).device
    logits = forward_task(model, X.to(dev), task_id).clone()
    model.train(was)
    logits[torch.arange(len(y)), y.to(dev)] = float("-inf")
    return logits.argmax(1).cpu()


def _train(model, X, y, *, epochs, lr, batch_size, seed, task_id=0, ascent=False,
           layers=None, bases=None):
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    g = make_generator(seed)
    dev = next(model.parameters()).device
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(y), generator=g)
        for s in range(0, len(y), batch_size):
            i = perm[s:s + batch_size]
            loss = F.cross_entropy(forward_task(model, X[i].to(dev), task_id), y[i].to(dev))
            opt.zero_grad(set_to_none=True)
            (-loss if ascent else loss).backward()
            if layers is not None:
                project_gradients(layers, bases)
            opt.step()
    model.eval()
    return model


def covarnav(model: nn.Module, X_forget: torch.Tensor, y_forget: torch.Tensor, n_classes: int,
             *, retain_classes: Sequence[int] | None = None, n_inverted_per_class: int = 50,
             inversion_steps: int = 200, threshold: float = 0.97, epochs: int = 10,
             lr: float = 0.01, batch_size: int = 32, task_id: int = 0, seed: SeedLike = 0,
             inversion_kwargs: dict | None = None,
             inverted: InvertedSet | None = None) -> UnlearningResult:
    """Unlearn ``(X_forget, y_forget)`` from ``model`` with CovarNav.

    Parameters
    ----------
    model : torch.nn.Module
        The trained classifier (left unchanged; a copy is unlearned).
    X_forget, y_forget : torch.Tensor
        The forget set, ``(n, d)`` and ``(n,)``.
    n_classes : int
        Number of classes of the classifier.
    retain_classes : sequence of int or None
        Classes to invert as the proxy of the retained data; default: every
        class that does not occur in ``y_forget`` (class unlearning), or all
        classes if the forget set covers them all.
    n_inverted_per_class, inversion_steps : int
        Size and effort of the inverted proxy.
    threshold : float
        Energy of the protected subspace per layer (GPM's rule); linear
        layers and convolutions (their input patches) are protected.
    epochs, lr, batch_size : training on the relabelled forget set (SGD).
    task_id : int
        Head used for multi-head models.
    seed : int, torch.Generator or None
    inversion_kwargs : dict or None
        Extra arguments of :func:`~mintlab.continual.inversion.invert_model`,
        e.g. ``dict(tv=0.1, image_shape=(1, 28, 28))`` for images.
    inverted : InvertedSet or None
        A proxy already inverted from ``model`` (e.g. to try several
        learning rates with one inversion); its samples of classes outside
        ``retain_classes`` are dropped. ``None`` (default) inverts ``model``.

    Returns
    -------
    UnlearningResult
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    _check_xy(X_forget, y_forget, "forget", model)
    n_classes = check_int(n_classes, "n_classes", minimum=2)
    if int(y_forget.max()) >= n_classes or int(y_forget.min()) < 0:
        raise ValueError(f"y_forget must lie in [0, {n_classes}), got values in "
                         f"[{int(y_forget.min())}, {int(y_forget.max())}]")
    if retain_classes is None:
        forgotten = set(torch.unique(y_forget).tolist())
        retain_classes = [c for c in range(n_classes) if c not in forgotten] or list(
            range(n_classes))
    retain_classes = [check_int(c, "retain_classes[...]", minimum=0) for c in retain_classes]
    epochs = check_int(epochs, "epochs", minimum=1)
    lr = check_positive(lr, "lr")
    net = copy.deepcopy(model)
    if inverted is None:
        inv = invert_model(net, retain_classes, n_inverted_per_class, X_forget.shape[1],
                           task_id=task_id, steps=inversion_steps, seed=seed,
                           **(inversion_kwargs or {}))
    elif not isinstance(inverted, InvertedSet):
        raise TypeError(f"inverted must be an InvertedSet or None, got "
                        f"{type(inverted).__name__}")
    else:
        keep = torch.isin(inverted.y, torch.as_tensor(retain_classes, dtype=inverted.y.dtype))
        if not bool(keep.any()):
            raise ValueError(f"inverted holds no sample of retain_classes {retain_classes}")
        if inverted.X.shape[1] != X_forget.shape[1]:
            raise ValueError(f"inverted.X must have {X_forget.shape[1]} features like "
                             f"X_forget, got {inverted.X.shape[1]}")
        inv = InvertedSet(inverted.X[keep], inverted.y[keep], inverted.task_id,
                          inverted.final_loss)
    targets = _wrong_labels(net, X_forget, y_forget, task_id)  # checked above
    layers = protected_layers(net)
    reps = layer_inputs(net, layers, inv.X, task_id)
    bases = projection_bases(reps, [None] * len(layers), threshold)
    _train(net, X_forget, targets, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed,
           task_id=task_id, layers=layers, bases=bases)
    return UnlearningResult(net, targets, inv, tuple(int(M.shape[1]) for M in bases))


def finetune_retain(model: nn.Module, X_retain: torch.Tensor, y_retain: torch.Tensor, *,
                    epochs: int = 10, lr: float = 0.01, batch_size: int = 32, task_id: int = 0,
                    seed: SeedLike = 0) -> UnlearningResult:
    """Baseline: keep training on the retained data only (the forget set fades, slowly)."""
    _check_xy(X_retain, y_retain, "retain", model)
    net = _train(copy.deepcopy(model), X_retain, y_retain,
                 epochs=check_int(epochs, "epochs", minimum=1), lr=check_positive(lr, "lr"),
                 batch_size=batch_size, seed=seed, task_id=task_id)
    return UnlearningResult(net)


def gradient_ascent(model: nn.Module, X_forget: torch.Tensor, y_forget: torch.Tensor, *,
                    epochs: int = 10, lr: float = 0.01, batch_size: int = 32, task_id: int = 0,
                    seed: SeedLike = 0) -> UnlearningResult:
    """Baseline: maximise the loss on the forget set."""
    _check_xy(X_forget, y_forget, "forget", model)
    net = _train(copy.deepcopy(model), X_forget, y_forget,
                 epochs=check_int(epochs, "epochs", minimum=1), lr=check_positive(lr, "lr"),
                 batch_size=batch_size, seed=seed, task_id=task_id, ascent=True)
    return UnlearningResult(net)


def random_relabel(model: nn.Module, X_forget: torch.Tensor, y_forget: torch.Tensor,
                   n_classes: int, *, epochs: int = 10, lr: float = 0.01, batch_size: int = 32,
                   task_id: int = 0, seed: SeedLike = 0) -> UnlearningResult:
    """Baseline: train on the forget set with uniformly random wrong labels."""
    _check_xy(X_forget, y_forget, "forget", model)
    n_classes = check_int(n_classes, "n_classes", minimum=2)
    g = make_generator(seed)
    shift = torch.randint(1, n_classes, (len(y_forget),), generator=g)
    targets = (y_forget + shift) % n_classes
    net = _train(copy.deepcopy(model), X_forget, targets,
                 epochs=check_int(epochs, "epochs", minimum=1), lr=check_positive(lr, "lr"),
                 batch_size=batch_size, seed=seed, task_id=task_id)
    return UnlearningResult(net, targets)


@torch.no_grad()
def _losses(model: nn.Module, X: torch.Tensor, y: torch.Tensor, task_id: int,
            name: str) -> torch.Tensor:
    was = model.training
    model.eval()
    dev = next(model.parameters()).device
    out = forward_task(model, X.to(dev), task_id)
    model.train(was)
    if int(y.max()) >= out.shape[1]:
        raise ValueError(f"{name} must be < {out.shape[1]} (the head's width), got "
                         f"{int(y.max())}")
    return F.cross_entropy(out, y.to(dev), reduction="none").double().cpu()


def loss_membership_scores(model: nn.Module, X_members: torch.Tensor, y_members: torch.Tensor,
                           X_nonmembers: torch.Tensor, y_nonmembers: torch.Tensor, *,
                           task_id: int = 0) -> np.ndarray:
    """Per-member scores of a loss-threshold membership-inference attack; their mean is its AUC.

    The attack calls a sample a training member when the model's
    cross-entropy loss on it is low. For member ``i`` the score is the
    fraction of non-members whose loss is higher than its loss (ties count
    one half), so the mean over members is the attack's ROC AUC
    (Mann-Whitney): 0.5 when members and non-members are indistinguishable
    (what a model that never saw the members gives on members and unseen
    samples from the same distribution), above 0.5 when the members are
    still recognisable, below 0.5 when their loss is conspicuously high.

    Parameters
    ----------
    model : torch.nn.Module
    X_members, y_members : torch.Tensor
        The samples whose membership is tested (e.g. a forget set),
        ``(n, d)`` and ``(n,)``.
    X_nonmembers, y_nonmembers : torch.Tensor
        Samples the model never trained on, from the same distribution.
    task_id : int
        Head used for multi-head models.

    Returns
    -------
    numpy.ndarray of float64, shape (n,)
        One score in [0, 1] per member.

    Examples
    --------
    >>> from mintlab.continual import ContinualMLP
    >>> net = ContinualMLP(2, [4], [2], seed=0)
    >>> X = torch.zeros(3, 2)
    >>> y = torch.tensor([0, 1, 0])
    >>> round(float(loss_membership_scores(net, X, y, X, y).mean()), 6)  # same sets: AUC 0.5
    0.5
    """
    _check_xy(X_members, y_members, "members", model)
    _check_xy(X_nonmembers, y_nonmembers, "nonmembers")
    lm = _losses(model, X_members, y_members, task_id, "y_members")
    ln = _losses(model, X_nonmembers, y_nonmembers, task_id, "y_nonmembers")
    higher = (ln[None, :] > lm[:, None]).double().mean(1)
    ties = (ln[None, :] == lm[:, None]).double().mean(1)
    return (higher + 0.5 * ties).numpy()
