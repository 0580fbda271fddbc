"""Shared pieces of the continual-learning experiments.

Per-item outcomes (one value per test item, the same items for every learner)
are what the continual experiments judge their comparisons on: they give
paired bootstrap intervals even from one seed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import torch

from mintlab.continual import Naive, run_stream
from mintlab.continual.benchmarks import Task, TaskStream
from mintlab.continual.models import forward_task


def expert_curves(stream: TaskStream, make_model: Callable, **strategy_kwargs) -> dict:
    """Learning curve of a single-task expert per task: a fresh model trained on it alone."""
    out = {}
    for task in stream:
        log = run_stream(Naive(make_model(), **strategy_kwargs), [task], evaluate_initial=False)
        out[task.name] = log.learning_curve(task.name)[1].tolist()
    return out


@torch.no_grad()
def item_correct(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor,
                 task_id: int = 0) -> np.ndarray:
    """1.0 where ``model`` classifies a test item correctly, else 0.0 (one value per item)."""
    was = model.training
    model.eval()
    dev = next(model.parameters()).device
    pred = forward_task(model, X.to(dev), task_id).argmax(-1).cpu()
    model.train(was)
    return (pred == y).to(torch.float64).numpy()


def tasks_item_correct(model: torch.nn.Module, tasks: Iterable[Task]) -> np.ndarray:
    """Per-item correctness on the test sets of ``tasks``, concatenated in order."""
    return np.concatenate([item_correct(model, t.X_test, t.y_test, t.task_id) for t in tasks])


def no_evaluation(model, task) -> float:
    """A strategy evaluator that skips the per-epoch evaluation (returns NaN).

    For learners whose learning curve is not used: the final per-item scores
    are computed once at the end, which saves an evaluation per epoch.
    """
    return float("nan")
