"""Shared pieces of the distillation experiments: data, the cached teacher, the protocol."""

from __future__ import annotations

import torch

from mintlab.distill import load_distill_data, train_teacher

from ._llm_common import single_threaded

__all__ = ["setup", "single_threaded", "EPOCHS"]

#: Every student in every distillation experiment trains for this many epochs.
EPOCHS = 150


def setup(name: str, seed: int):
    """(data, teacher, teacher test accuracy)."""
    data = load_distill_data(name, seed)
    teacher = train_teacher(data, epochs=30 if name == "digits" else 25, seed=seed)
    with torch.no_grad():
        acc = float((teacher(data["X_test"]).argmax(1) == data["y_test"]).float().mean())
    return data, teacher, acc
