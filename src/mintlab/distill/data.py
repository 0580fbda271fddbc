"""A distilled dataset, its exact storage, and the one evaluation protocol.

A :class:`DistilledSet` is what a distillation method stores: 8-bit images
(or none), hard labels (or none), an encoded soft-label payload for the
augmented views (or none), and extra numbers (generator conditioning
vectors, seeds). :meth:`DistilledSet.serialize` gives the bytes that would be
written, field by field; :attr:`DistilledSet.storage_bytes` is their length.
Images are quantised to 8 bits *when the set is built*, so students train
on exactly what is stored.

:func:`evaluate` trains a fresh student from scratch on a distilled set and
reports its test accuracy and the storage: soft labels (one per image and
view) are fitted by KL divergence on their augmented views; generated images
(``sampler``) are drawn anew every epoch; otherwise hard labels with seeded
augmentation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .._random import seeded_global_rng
from .._validation import check_int, check_positive, check_temperature, describe
from . import _checks
from .models import ConvNet, _augment

__all__ = ["DistilledSet", "quantize_images", "train_student", "evaluate", "view_seed"]


def quantize_images(X: torch.Tensor) -> torch.Tensor:
    """Round images in [0, 1] to 8 bits (values ``k / 255``)."""
    _checks.tensor(X, "X")
    if not X.is_floating_point():
        raise TypeError(f"X must hold floating-point pixels in [0, 1], got dtype {X.dtype}")
    return torch.round(X.clamp(0, 1) * 255) / 255


def view_seed(base: int, view: int) -> int:
    """The augmentation seed of view ``view`` (stored: one integer for all views)."""
    return int(base) * 1_000_003 + int(view)


@dataclass
class DistilledSet:
    """What a distillation method stores (see the module notes)."""

    method: str
    images: torch.Tensor | None = None          # (n, H, W), multiples of 1/255
    labels: torch.Tensor | None = None          # (n,) hard labels
    n_classes: int = 0
    soft_labels: Any = None                     # a codec holding (n_views, n, C) labels
    view_base_seed: int = 0
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    sampler: Callable[[int], tuple[torch.Tensor, torch.Tensor]] | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.method, str) or not self.method:
            raise TypeError(f"method must be a non-empty string, got {self.method!r}")
        if isinstance(self.n_classes, bool) or not isinstance(self.n_classes, int) \
                or self.n_classes < 0:
            raise ValueError(f"n_classes must be an int >= 0, got {self.n_classes!r}")
        if self.images is not None:
            _checks.images(self.images, "images")
            self.images = quantize_images(self.images.detach().float())
        if self.labels is not None:
            n = len(self.images) if self.images is not None else None
            _checks.labels(self.labels, "labels", n=n,
                           n_classes=self.n_classes if self.n_classes > 0 else None)
        if self.sampler is not None and not callable(self.sampler):
            raise TypeError(f"sampler must be callable (epoch -> (images, labels)), got "
                            f"{type(self.sampler).__name__}")
        if self.soft_labels is not None and not (callable(getattr(self.soft_labels, "decode",
                                                                  None))
                                                 and callable(getattr(self.soft_labels,
                                                                      "payload", None))):
            raise TypeError(f"soft_labels must be a label codec with decode() and payload(), "
                            f"got {type(self.soft_labels).__name__}")
        _checks.seed(self.view_base_seed, "view_base_seed")
        if not isinstance(self.extra, dict):
            raise TypeError(f"extra must be a dict of arrays, got {type(self.extra).__name__}")

    def serialize(self) -> dict[str, bytes]:
        """The stored fields as raw bytes: uint8 pixels, uint8/uint16 labels, payloads."""
        out: dict[str, bytes] = {}
        if self.images is not None:
            out["images"] = (self.images * 255).round().to(torch.uint8).numpy().tobytes()
        if self.labels is not None:
            dt = np.uint8 if self.n_classes <= 256 else np.uint16
            out["labels"] = self.labels.numpy().astype(dt).tobytes()
        if self.soft_labels is not None:
            out["soft_labels"] = self.soft_labels.payload()
            out["view_seed"] = np.int64(self.view_base_seed).tobytes()
        for k, v in self.extra.items():
            out[k] = np.ascontiguousarray(v).tobytes()
        return out

    @property
    def storage_bytes(self) -> int:
        return sum(len(v) for v in self.serialize().values())


def _check_protocol(distilled: Any, data: Any, epochs: Any, lr: Any, batch_size: Any,
                    width: Any, seed: Any, temperature: Any) -> tuple[int, float, int, int, int,
                                                                       float]:
    """Validate the arguments of :func:`train_student` / :func:`evaluate` once, up front."""
    if not isinstance(distilled, DistilledSet):
        raise TypeError(f"distilled must be a DistilledSet, got {describe(distilled)}")
    _checks.data_dict(data)
    if distilled.sampler is None:
        if distilled.images is None:
            raise ValueError("distilled must hold images (or a sampler) to train a student on")
        if distilled.soft_labels is None and distilled.labels is None:
            raise ValueError("distilled must hold labels or soft_labels for its images")
        size = int(data["image_size"])
        if tuple(distilled.images.shape[1:]) != (size, size):
            raise ValueError(f"distilled images must be {size}x{size} to match data's "
                             f"image_size, got shape {tuple(distilled.images.shape)}")
        n_classes = int(data["n_classes"])
        if distilled.labels is not None and int(distilled.labels.max()) >= n_classes:
            raise ValueError(f"distilled labels must lie in [0, {n_classes}) (data's "
                             f"n_classes), got maximum {int(distilled.labels.max())}")
    return (check_int(epochs, "epochs", minimum=1), check_positive(lr, "lr"),
            check_int(batch_size, "batch_size", minimum=1), check_int(width, "width", minimum=1),
            _checks.seed(seed), check_temperature(temperature))


def train_student(distilled: DistilledSet, data: Mapping[str, Any], *, epochs: int = 60,
                  lr: float = 3e-3,
                  batch_size: int = 64, width: int = 32, seed: int = 0,
                  temperature: float = 1.0, augment_generated: bool = False) -> ConvNet:
    """Train a fresh ConvNet student on ``distilled`` and return it in eval mode.

    With soft labels, epoch ``e`` uses view ``e mod n_views`` (its augmentation
    seed and its decoded labels), fitted by KL divergence; hard labels are
    fitted by cross-entropy on a seeded augmentation of the stored images. With
    a sampler, epoch ``e`` trains on ``sampler(e)``, and with
    ``augment_generated`` those images get the same seeded augmentation as
    stored images do, so that no arm of a comparison trains with augmentation
    another lacks.
    """
    epochs, lr, batch_size, width, seed, temperature = _check_protocol(
        distilled, data, epochs, lr, batch_size, width, seed, temperature)
    _checks.flag(augment_generated, "augment_generated")
    return _train_student(distilled, data, epochs, lr, batch_size, width, seed, temperature,
                          augment_generated)


def _train_student(distilled: DistilledSet, data: Mapping[str, Any], epochs: int, lr: float,
                   batch_size: int, width: int, seed: int, temperature: float,
                   augment_generated: bool) -> ConvNet:
    """:func:`train_student` on arguments :func:`_check_protocol` has checked."""
    with seeded_global_rng(seed):
        student = ConvNet(data["n_classes"], data["image_size"], width=width)
    opt = torch.optim.Adam(student.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    soft = None
    if distilled.soft_labels is not None:
        soft = distilled.soft_labels.decode()
    student.train()
    for e in range(epochs):
        if distilled.sampler is not None:
            X, y = distilled.sampler(e)
            if e == 0:  # kinds and shapes only: the values are new every epoch
                _checks.images(X, "distilled.sampler(0)[0]", finite=False)
                _checks.labels(y, "distilled.sampler(0)[1]", n=X.shape[0], values=False)
            if augment_generated:
                X = _augment(X, seed * 7919 + e)
            target = None
        elif soft is not None:
            assert distilled.images is not None  # checked by _check_protocol
            v = e % soft.shape[0]
            X = _augment(distilled.images, view_seed(distilled.view_base_seed, v))
            target, y = soft[v], None
        else:
            assert distilled.images is not None and distilled.labels is not None
            X = _augment(distilled.images, seed * 7919 + e)
            y, target = distilled.labels, None
        perm = torch.randperm(len(X), generator=g)
        for i in range(0, len(X), batch_size):
            b = perm[i: i + batch_size]
            logits = student(X[b])
            if target is not None:
                loss = F.kl_div(F.log_softmax(logits / temperature, -1),
                                target[b].clamp_min(1e-12), reduction="batchmean")
            else:
                assert y is not None
                loss = F.cross_entropy(logits, y[b])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    student.eval()
    return student


def evaluate(distilled: DistilledSet, data: Mapping[str, Any], *, epochs: int = 60,
             lr: float = 3e-3, batch_size: int = 64, width: int = 32, seed: int = 0,
             temperature: float = 1.0, augment_generated: bool = False) -> dict[str, float]:
    """Train a fresh ConvNet student on ``distilled`` (:func:`train_student`); test
    accuracy and storage in bytes."""
    epochs, lr, batch_size, width, seed, temperature = _check_protocol(
        distilled, data, epochs, lr, batch_size, width, seed, temperature)
    _checks.flag(augment_generated, "augment_generated")
    student = _train_student(distilled, data, epochs, lr, batch_size, width, seed, temperature,
                             augment_generated)
    with torch.no_grad():
        pred = student(data["X_test"]).argmax(1)
    return {"accuracy": float((pred == data["y_test"]).float().mean()),
            "bytes": float(distilled.storage_bytes)}
