"""Shared pieces of the distillation experiments: data, the teacher, the student protocol.

* :func:`setup`: the data split of a seed and the teacher (a fixed,
  pretrained model: for glyphs trained once on split 0, which shares no
  image with any other seed's split; for digits, whose splits overlap, on
  the seed's own training split);
* :func:`evaluate_items`: the student protocol of
  :func:`mintlab.distill.evaluate` (a fresh ConvNet trained from scratch on a
  distilled set), returning whether each test item is classified correctly,
  so that two sets are compared item by item (paired samples); generated
  sets (a ``sampler``) can get the same seeded augmentation as stored images;
* :func:`evaluate_sets`: every set of a dict by that protocol, with its
  accuracy and bytes recorded as metrics;
* :func:`equal_budget_ipc`: the real-subset size that a hard-label baseline
  needs to store at least a given number of bytes; :func:`smallest_at_least`:
  the smallest setting of a codec that stores at least that many;
* :class:`LogPCALabels`: PCA of soft labels in log-probability space, a
  working PCA baseline for label compression.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from mintlab.distill import DistilledSet, load_distill_data, train_teacher
from mintlab.distill.data import train_student

from ._sets_common import one_torch_thread

__all__ = ["setup", "single_threaded", "evaluate_items", "evaluate_sets", "equal_budget_ipc",
           "scatter_bytes_accuracy", "hard_label_bytes", "LogPCALabels",
           "smallest_at_least"]


def single_threaded(body):
    """``body`` run on one torch thread (small models: fastest, no oversubscription)."""
    @functools.wraps(body)
    def run(*args, **kwargs):
        with one_torch_thread():
            return body(*args, **kwargs)
    return run


def setup(name: str, seed: int, res=None, *, n_classes: int = 100, test_per_class: int = 10,
          teacher_epochs: int = 25):
    """(data, teacher, training images, labels) of split ``seed``.

    ``n_classes`` and ``test_per_class`` size the glyph split (digits has 10
    classes and a fixed test share). Records ``teacher_accuracy`` in ``res``.
    """
    kw = dict(n_classes=n_classes, test_per_class=test_per_class) if name == "glyphs" else {}
    data = load_distill_data(name, seed, **kw)
    if name == "glyphs":  # one pretrained teacher, trained on split 0's training images
        source = data if seed == 0 else load_distill_data(name, 0, **kw)
        teacher = train_teacher(source, epochs=teacher_epochs, seed=0)
    else:
        teacher = train_teacher(data, epochs=teacher_epochs, seed=seed)
    with torch.no_grad():
        acc = float((teacher(data["X_test"]).argmax(1) == data["y_test"]).float().mean())
    if res is not None:
        res.metrics["teacher_accuracy"] = acc
    return data, teacher, data["X_train"], data["y_train"]


def evaluate_items(distilled, data: dict, *, epochs: int, seed: int = 0,
                   temperature: float = 1.0, augment_generated: bool = False,
                   lr: float = 3e-3, batch_size: int = 64, width: int = 32) -> np.ndarray:
    """Train a fresh ConvNet student on ``distilled``; per-test-item correctness (0/1).

    The protocol of :func:`mintlab.distill.evaluate` (the same student, from
    :func:`mintlab.distill.data.train_student`; the mean of the result is its
    accuracy): soft labels are fitted by KL divergence on
    their seeded augmented views (epoch ``e`` uses view ``e mod n_views``),
    hard labels by cross-entropy on a seeded augmentation of the stored
    images, generated sets (a ``sampler``) on ``sampler(e)``. With
    ``augment_generated``, the generated images of epoch ``e`` get the same
    seeded augmentation as stored images do, so that no arm trains with
    augmentation another arm lacks.
    """
    student = train_student(distilled, data, epochs=epochs, lr=lr, batch_size=batch_size,
                            width=width, seed=seed, temperature=temperature,
                            augment_generated=augment_generated)
    with torch.no_grad():
        pred = student(data["X_test"]).argmax(1)
    return (pred == data["y_test"]).numpy().astype(np.float64)


def evaluate_sets(res, sets: dict, data: dict, seed: int, *, epochs: int, temperature=None,
                  augment_generated: bool = False) -> tuple[dict, dict]:
    """Evaluate every set of ``sets`` by :func:`evaluate_items`; record accuracy and bytes.

    ``temperature`` maps a set's name to its distillation temperature (default 1).
    Returns (per-item correctness, bytes) dictionaries keyed like ``sets``;
    ``accuracy_<name>`` and ``bytes_<name>`` go to ``res.metrics``.
    """
    items, nbytes = {}, {}
    for name, ds in sets.items():
        t = 1.0 if temperature is None else temperature(name)
        items[name] = evaluate_items(ds, data, epochs=epochs, seed=seed, temperature=t,
                                     augment_generated=augment_generated)
        nbytes[name] = float(ds.storage_bytes)
        res.metrics[f"accuracy_{name}"] = float(items[name].mean())
        res.metrics[f"bytes_{name}"] = nbytes[name]
    return items, nbytes


def hard_label_bytes(n_classes: int, image_size: int, ipc: int) -> int:
    """Bytes of ``ipc`` 8-bit real images per class with their hard labels."""
    label = 1 if n_classes <= 256 else 2
    return n_classes * ipc * (image_size * image_size + label)


def equal_budget_ipc(nbytes: float, n_classes: int, image_size: int) -> int:
    """The fewest real images per class whose hard-label set stores at least ``nbytes``."""
    return max(1, math.ceil(nbytes / hard_label_bytes(n_classes, image_size, 1)))


def smallest_at_least(make, nbytes: float, options):
    """``(option, codec)``: the first of ``options`` whose ``make(option)`` stores at least
    ``nbytes`` (options in increasing order of storage), else the last one."""
    codec = None
    for opt in options:
        codec = make(opt)
        if len(codec.payload()) >= nbytes:
            return opt, codec
    return opt, codec


def scatter_bytes_accuracy(ax, acc: dict, nbytes: dict, ylabel: str, log: bool = True):
    """One point per method: bytes stored against student accuracy."""
    for name in acc:
        ax.scatter(nbytes[name], acc[name], label=name, s=40)
    if log:
        ax.set_xscale("log")
    ax.set_xlabel("bytes stored")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)


class LogPCALabels:
    """Soft labels as their top-``k`` principal components in log-probability space.

    The same storage as :class:`mintlab.distill.PCALabels` (float16
    coefficients per label, float16 basis and mean once), but fitted to
    ``log p`` and decoded by a softmax, so every decoded label is a
    distribution close to the original. PCA of the probabilities themselves
    decodes to vectors with many negative entries; clamping and renormalising
    them leaves little of the label (a student trained on them falls below
    hard labels), which is no working baseline.
    """

    def __init__(self, P: torch.Tensor, k: int, *, floor: float = 1e-6):
        if not torch.is_tensor(P) or P.dim() != 3:
            raise ValueError(f"labels must be a (n_views, n, C) tensor, got "
                             f"{tuple(getattr(P, 'shape', ()))}")
        if not 1 <= int(k) <= P.shape[-1]:
            raise ValueError(f"k must lie in [1, {P.shape[-1]}], got {k}")
        self.k, self.shape = int(k), P.shape
        flat = torch.log(P.detach().reshape(-1, P.shape[-1]).double().clamp_min(floor))
        mean = flat.mean(0)
        _, _, Vh = torch.linalg.svd(flat - mean, full_matrices=False)
        self.basis, self.mean = Vh[: self.k].half(), mean.half()
        self.coef = ((flat - self.mean.double()) @ self.basis.double().T).half()

    def payload(self) -> bytes:
        return (self.coef.numpy().tobytes() + self.basis.numpy().tobytes()
                + self.mean.numpy().tobytes())

    def decode(self) -> torch.Tensor:
        logp = self.coef.float() @ self.basis.float() + self.mean.float()
        return torch.softmax(logp, -1).reshape(self.shape)


def draw(distilled: DistilledSet, epoch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The images and labels a generated set's sampler gives for ``epoch``."""
    if distilled.sampler is None:
        raise ValueError(f"the {distilled.method!r} set has no sampler")
    return distilled.sampler(epoch)
