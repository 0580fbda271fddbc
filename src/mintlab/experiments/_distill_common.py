"""Shared pieces of the distillation experiments: data, the cached teacher, the protocol."""

from __future__ import annotations

import torch

from mintlab.distill import load_distill_data, train_teacher

from ._llm_common import single_threaded

__all__ = ["setup", "single_threaded", "EPOCHS", "evaluate_sets", "scatter_bytes_accuracy"]

#: Every student in every distillation experiment trains for this many epochs.
EPOCHS = 150


def setup(name: str, seed: int, res=None):
    """(data, teacher, training images, labels); records ``teacher_accuracy`` in ``res``."""
    data = load_distill_data(name, seed)
    teacher = train_teacher(data, epochs=30 if name == "digits" else 25, seed=seed)
    with torch.no_grad():
        acc = float((teacher(data["X_test"]).argmax(1) == data["y_test"]).float().mean())
    if res is not None:
        res.metrics["teacher_accuracy"] = acc
    return data, teacher, data["X_train"], data["y_train"]


def evaluate_sets(res, sets: dict, data: dict, seed: int, temperature=None):
    """Evaluate every distilled set by the one protocol; record ``accuracy_*`` / ``bytes_*``.

    ``temperature`` maps a set's name to its distillation temperature (default 1).
    Returns (accuracy, bytes) dictionaries keyed like ``sets``.
    """
    from mintlab.distill import evaluate

    acc, nbytes = {}, {}
    for name, ds in sets.items():
        t = 1.0 if temperature is None else temperature(name)
        r = evaluate(ds, data, epochs=EPOCHS, seed=seed, temperature=t)
        acc[name], nbytes[name] = r["accuracy"], r["bytes"]
        res.metrics[f"accuracy_{name}"] = acc[name]
        res.metrics[f"bytes_{name}"] = nbytes[name]
    return acc, nbytes


def scatter_bytes_accuracy(ax, acc: dict, nbytes: dict, ylabel: str, log: bool = True):
    """One point per method: bytes stored against student accuracy."""
    for name in acc:
        ax.scatter(nbytes[name], acc[name], label=name, s=40)
    if log:
        ax.set_xscale("log")
    ax.set_xlabel("bytes stored")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)
