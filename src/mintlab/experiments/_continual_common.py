"""Shared pieces of the continual-learning experiments."""

from __future__ import annotations

from collections.abc import Callable

from mintlab.continual import Naive, run_stream
from mintlab.continual.benchmarks import TaskStream


def expert_curves(stream: TaskStream, make_model: Callable, **strategy_kwargs) -> dict:
    """Learning curve of a single-task expert per task: a fresh model trained on it alone."""
    out = {}
    for task in stream:
        log = run_stream(Naive(make_model(), **strategy_kwargs), [task], evaluate_initial=False)
        out[task.name] = log.learning_curve(task.name)[1].tolist()
    return out


def final_accuracies(log) -> list[float]:
    from mintlab.continual.metrics import accuracy_matrix

    R, _ = accuracy_matrix(log)
    return R[-1].tolist()
