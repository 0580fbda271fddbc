"""Argument checks shared by the distillation functions (torch tensors in, clear errors out)."""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from .._validation import check_array, check_finite, check_int, check_labels, describe

__all__ = ["tensor", "images", "labels", "images_and_labels", "seed", "module", "callable_",
           "data_dict", "flag", "describe", "positive_float", "finite_output", "class_scores"]


def tensor(x: Any, name: str, *, ndim: int | tuple[int, ...] | None = None,
           min_size: int = 1, finite: bool = True) -> torch.Tensor:
    """``x`` must be a real torch tensor (no copy), of ``ndim`` dimensions, finite, non-empty."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch tensor, got {describe(x)}")
    check_array(x, name, ndim=ndim, min_size=min_size, finite=finite)
    return x


def images(x: Any, name: str = "X", *, finite: bool = True) -> torch.Tensor:
    """A floating ``(n, H, W)`` batch of images, finite (unless ``finite=False``: no pass
    over the values) and non-empty."""
    t = tensor(x, name, ndim=3, finite=finite)
    if not t.is_floating_point():
        raise TypeError(f"{name} must hold floating-point pixel values, got dtype {t.dtype}")
    if min(t.shape[1:]) < 1:
        raise ValueError(f"{name} must have positive height and width, got shape "
                         f"{tuple(t.shape)}")
    return t


def labels(y: Any, name: str = "y", *, n: int | None = None,
           n_classes: int | None = None, values: bool = True) -> torch.Tensor:
    """An integer ``(n,)`` label tensor with values in ``[0, n_classes)`` (the range is
    not read with ``values=False``)."""
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"{name} must be a torch tensor of class labels, got {describe(y)}")
    if y.is_floating_point() or y.dtype == torch.bool or y.is_complex():
        raise TypeError(f"{name} must hold integer class labels, got dtype {y.dtype}")
    if values:
        check_labels(y, name, n_classes=n_classes, n=n)
    else:
        if y.ndim != 1:
            raise ValueError(f"{name} must be a 1-D array of class labels, got shape "
                             f"{tuple(y.shape)}")
        if n is not None and y.shape[0] != n:
            raise ValueError(f"{name} must have one label per sample ({n}), got {y.shape[0]}")
    if y.numel() == 0:
        raise ValueError(f"{name} must hold at least one label, got shape {tuple(y.shape)}")
    return y


def images_and_labels(X: Any, y: Any, ipc: Any = 1, *,
                      every_class: bool = False) -> tuple[int, int]:
    """Validate ``X (n, H, W)``, ``y (n,)`` and a per-class budget; ``(ipc, n_classes)``.

    ``n_classes`` is ``max(y) + 1``. Classes below it without images are allowed
    (they get none) unless ``every_class``; ``ipc`` must not exceed the smallest
    class that has images.
    """
    images(X, "X")
    labels(y, "y", n=X.shape[0])
    ipc = check_int(ipc, "ipc", minimum=1)
    counts = torch.bincount(y)
    if every_class and bool((counts == 0).any()):
        missing = (counts == 0).nonzero().flatten()[:5].tolist()
        raise ValueError(f"y must have images of every class 0 .. max(y) = {len(counts) - 1}, "
                         f"got none of class(es) {missing}")
    smallest = int(counts[counts > 0].min())
    if smallest < ipc:
        raise ValueError(f"ipc={ipc} exceeds the smallest class of y ({smallest} images)")
    return ipc, int(y.max()) + 1


def seed(value: Any, name: str = "seed") -> int:
    """An integer seed ``>= 0``."""
    return check_int(value, name, minimum=0)


def flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return value


def module(value: Any, name: str) -> nn.Module:
    if not isinstance(value, nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module, got {type(value).__name__}")
    return value


def callable_(value: Any, name: str) -> Callable[..., Any]:
    if not callable(value):
        raise TypeError(f"{name} must be callable, got {type(value).__name__}")
    return value


def positive_float(value: Any, name: str) -> float:
    from .._validation import check_positive

    return check_positive(value, name)


_DATA_KEYS = ("X_train", "y_train", "X_test", "y_test", "n_classes", "image_size")


def data_dict(data: Any, name: str = "data", *, values: bool = True) -> Mapping[str, Any]:
    """A data dict as :func:`~mintlab.distill.load_distill_data` returns it.

    With ``values=False`` only kinds, shapes and dtypes are checked (no pass over
    the images or labels).
    """
    if not isinstance(data, Mapping):
        raise TypeError(f"{name} must be a dict as load_distill_data returns, got "
                        f"{type(data).__name__}")
    missing = [k for k in _DATA_KEYS if k not in data]
    if missing:
        raise ValueError(f"{name} lacks the entries {missing} (it must be a dict as "
                         "load_distill_data returns)")
    k = data["n_classes"]
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 2:
        raise ValueError(f"{name}['n_classes'] must be an int >= 2, got {k!r}")
    size = data["image_size"]
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
        raise ValueError(f"{name}['image_size'] must be a positive int, got {size!r}")
    for split in ("train", "test"):
        X = images(data[f"X_{split}"], f"{name}['X_{split}']", finite=values)
        if tuple(X.shape[1:]) != (size, size):
            raise ValueError(f"{name}['X_{split}'] must hold {size}x{size} images "
                             f"(image_size), got shape {tuple(X.shape)}")
        labels(data[f"y_{split}"], f"{name}['y_{split}']", n=X.shape[0], n_classes=int(k),
               values=values)
    return data


def class_scores(out: Any, c: int, n: int, name: str = "teacher") -> torch.Tensor:
    """``teacher``'s output on ``n`` images of class ``c``: an ``(n, C)`` tensor with
    ``C > c`` (shapes only)."""
    if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != n:
        raise ValueError(f"{name} must map {n} images to an ({n}, n_classes) tensor of class "
                         f"scores, got {describe(out)}")
    if out.shape[1] <= c:
        raise ValueError(f"y holds class {c}, but {name} gives scores for {out.shape[1]} "
                         f"classes (labels must lie in [0, {out.shape[1]}))")
    return out


def finite_output(t: torch.Tensor, name: str) -> torch.Tensor:
    check_finite(t.detach(), name)
    return t
