"""BrainWash: a poisoning attack that makes a continual learner forget (``brainwash``).

The attacker holds only the current model ``theta`` (trained on tasks
``0..t-1``) and the data ``(x, y)`` of the newest task ``t``. It crafts a
perturbation ``delta`` with ``||delta_i||_inf <= epsilon`` (or an l2 bound)
so that a learner trained on ``(x + delta, y)`` forgets the earlier tasks:

1. a proxy of the earlier tasks' data is synthesised by model inversion
   (:func:`~mintlab.continual.inversion.invert_model`);
2. from each minibatch, ``unroll_steps`` simulated SGD steps on poisoned
   batches, ``theta' = theta - eta grad_theta CE(theta; x + delta, y)``,
   are kept in the autograd graph, and ``delta`` receives the gradient of the outer
   objective ``-CE(theta'; x_inv, y_inv)`` ("reckless") or of
   ``-CE(theta'; x_inv, y_inv) + w CE(theta'; x + delta, y)`` ("cautious",
   which also keeps the new task learnable);
3. the gradients are collected at several points of the trajectory a
   learner starting from ``theta`` follows on the poisoned data; ``delta``
   then takes a signed-gradient step and is projected back into the norm
   ball.

The attacker does not know the victim's continual-learning regulariser; the
attack is evaluated by training the victim's own strategy on the poisoned
data.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._random import make_generator
from .._validation import check_choice, check_int, check_nonnegative, check_positive
from ..typing import SeedLike
from ._checks import check_bounds
from .benchmarks import Task
from .inversion import InvertedSet
from .models import forward_task

__all__ = ["BrainWashResult", "brainwash", "random_perturbation", "project_perturbation",
           "poisoned_task"]


@dataclass(frozen=True)
class BrainWashResult:
    """The crafted perturbation ``delta`` (same shape as the task's ``X_train``), the bound,
    and the outer loss (mean CE on the inverted data after the simulated step) per round."""

    delta: torch.Tensor
    epsilon: float
    norm: str
    history: list = field(default_factory=list)

    def apply(self, task: Task, bounds: tuple[float, float] | None = (0.0, 1.0)) -> Task:
        """The task with ``X_train + delta`` (clipped to ``bounds``)."""
        return poisoned_task(task, self.delta, bounds)


def _check_bounds(bounds: Any) -> tuple[float, float] | None:
    """``None`` or ``(low, high)`` as floats (numbers, numpy scalars/arrays, 0-d tensors)."""
    if bounds is None:
        return None
    return check_bounds(bounds, "bounds")


def project_perturbation(delta: torch.Tensor, epsilon: float, norm: str) -> torch.Tensor:
    """Project every row of ``delta`` onto the ``norm`` ball of radius ``epsilon``."""
    if not isinstance(delta, torch.Tensor):
        raise TypeError(f"delta must be a torch.Tensor, got {type(delta).__name__}")
    epsilon = check_positive(epsilon, "epsilon")
    check_choice(norm, "norm", ("inf", "l2"))
    if norm == "inf":
        return delta.clamp(-epsilon, epsilon)
    n = delta.flatten(1).norm(dim=1).clamp_min(1e-12)
    scale = torch.clamp(epsilon / n, max=1.0)
    return delta * scale.reshape(-1, *([1] * (delta.ndim - 1)))


def random_perturbation(shape: Sequence[int], epsilon: float, norm: str = "inf",
                        seed: SeedLike = 0) -> torch.Tensor:
    """Random noise on the sphere of the same norm as the attack (``+-epsilon`` signs for
    ``inf``, a random direction of length ``epsilon`` for ``l2``): the attack's control."""
    if isinstance(shape, np.ndarray):
        shape = shape.tolist() if shape.ndim == 1 else shape
    if isinstance(shape, str | bytes) or not isinstance(shape, Sequence | torch.Size):
        raise TypeError(f"shape must be a sequence of ints, got {type(shape).__name__}")
    shape = tuple(check_int(s, "shape[i]", minimum=0) for s in shape)
    epsilon = check_positive(epsilon, "epsilon")
    check_choice(norm, "norm", ("inf", "l2"))
    if norm == "l2" and len(shape) < 2:
        raise ValueError(f"shape must be (n, ...) with at least two axes for norm='l2', got "
                         f"{shape}")
    g = make_generator(seed)
    if norm == "inf":
        return (torch.randint(0, 2, tuple(shape), generator=g) * 2 - 1).float() * epsilon
    d = torch.randn(tuple(shape), generator=g)
    return d / d.flatten(1).norm(dim=1).reshape(-1, *([1] * (d.ndim - 1))) * epsilon


def poisoned_task(task: Task, delta: torch.Tensor, bounds: tuple[float, float] | None = (0., 1.)
                  ) -> Task:
    """``task`` with ``delta`` added to its training inputs (clipped to ``bounds``)."""
    if not isinstance(task, Task):
        raise TypeError(f"task must be a Task, got {type(task).__name__}")
    if not isinstance(delta, torch.Tensor):
        raise TypeError(f"delta must be a torch.Tensor, got {type(delta).__name__}")
    bounds = _check_bounds(bounds)
    if tuple(delta.shape) != tuple(task.X_train.shape):
        raise ValueError(f"delta must have the shape of X_train {tuple(task.X_train.shape)}, "
                         f"got {tuple(delta.shape)}")
    X = task.X_train + delta.to(task.X_train)
    if bounds is not None:
        X = X.clamp(bounds[0], bounds[1])
    return Task(task.task_id, task.name, X, task.y_train, task.X_test, task.y_test,
                task.n_classes, task.classes)


def brainwash(model: nn.Module, task: Task, inverted: Sequence[InvertedSet], *,
              epsilon: float = 0.3, norm: str = "inf", mode: str = "reckless",
              cautious_weight: float = 1.0, rounds: int = 30, trajectory_steps: int = 1,
              unroll_steps: int = 1,
              victim_lr: float = 0.05, attack_lr: float = 0.01, batch_size: int = 64,
              bounds: tuple[float, float] | None = (0.0, 1.0), seed: SeedLike = 0,
              progress: bool = False) -> BrainWashResult:
    """Craft BrainWash noise for the newest task's training data.

    Parameters
    ----------
    model : torch.nn.Module
        The learner after the earlier tasks (not modified).
    task : Task
        The newest task; its ``X_train`` is what gets poisoned.
    inverted : sequence of InvertedSet
        Proxies of the earlier tasks (one per task, with its ``task_id``),
        from :func:`~mintlab.continual.inversion.invert_model`.
    epsilon : float
        Bound on each sample's perturbation norm.
    norm : {"inf", "l2"}
    mode : {"reckless", "cautious"}
    cautious_weight : float
        Weight of the newest task's loss in the cautious mode.
    rounds : int
        Passes over the task's data (each: one gradient per minibatch, then
        one signed update of ``delta``).
    trajectory_steps : int
        Points of the victim's trajectory per round: at each, the gradient
        of the outer objective is taken over all minibatches, then the
        simulated learner takes one real SGD step on a poisoned minibatch.
    unroll_steps : int
        SGD steps of the simulated learner the outer gradient flows through
        (1 = the one-step look-ahead of the paper's code; more sees further
        into training at proportional cost).
    victim_lr : float
        Step size of the simulated learner.
    attack_lr : float
        Signed-gradient step of ``delta``.
    bounds : (low, high) or None
        Valid input range (the poisoned inputs are clipped to it).

    Returns
    -------
    BrainWashResult
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(task, Task):
        raise TypeError(f"task must be a Task, got {type(task).__name__}")
    inverted = list(inverted)
    if not inverted:
        raise ValueError("inverted must hold at least one InvertedSet (a proxy of an earlier "
                         "task)")
    for s in inverted:
        if not isinstance(s, InvertedSet):
            raise TypeError(f"inverted must hold InvertedSet objects, got {type(s).__name__}")
        if s.X.shape[1] != task.n_features:
            raise ValueError(f"inverted inputs have {s.X.shape[1]} features, the task "
                             f"{task.n_features}")
    bounds = _check_bounds(bounds)
    epsilon = check_positive(epsilon, "epsilon")
    norm = check_choice(norm, "norm", ("inf", "l2"))
    mode = check_choice(mode, "mode", ("reckless", "cautious"))
    cautious_weight = check_nonnegative(cautious_weight, "cautious_weight")
    rounds = check_int(rounds, "rounds", minimum=1)
    trajectory_steps = check_int(trajectory_steps, "trajectory_steps", minimum=1)
    unroll_steps = check_int(unroll_steps, "unroll_steps", minimum=1)
    victim_lr = check_positive(victim_lr, "victim_lr")
    attack_lr = check_positive(attack_lr, "attack_lr")
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    from torch.func import functional_call
    from tqdm.auto import tqdm

    dev = next(model.parameters()).device
    g = make_generator(seed)
    X = task.X_train.to(dev)
    y = task.y_train.to(dev)
    n = len(y)
    delta = project_perturbation(
        (torch.rand(X.shape, generator=g) * 2 - 1).to(dev) * epsilon, epsilon, norm)
    buffers = dict(model.named_buffers())
    kw = (lambda t: {"task_id": t}) if getattr(model, "multi_head", False) else (lambda t: {})

    def loss_at(params, xb, yb, t):
        return F.cross_entropy(functional_call(model, (params, buffers), (xb,), kw(t)), yb)

    def clip(x):
        return x if bounds is None else x.clamp(bounds[0], bounds[1])

    history = []
    was = model.training
    model.eval()
    for _ in tqdm(range(rounds), desc="BrainWash", disable=not progress):
        sim = copy.deepcopy(model)   # every round replays the victim's start
        opt = torch.optim.SGD(sim.parameters(), lr=victim_lr)
        grad_delta = torch.zeros_like(delta)
        perm = torch.randperm(n, generator=g).to(dev)
        outer_total = 0.0
        for k in range(trajectory_steps):
            params = {name: v.detach() for name, v in sim.named_parameters()}
            starts = list(range(0, n, batch_size))
            for b0 in range(len(starts)):
                p = {name: v.clone().requires_grad_(True) for name, v in params.items()}
                cur, leaves = p, []
                for u in range(unroll_steps):   # differentiate through unroll_steps SGD steps
                    s0 = starts[(b0 + u) % len(starts)]
                    i = perm[s0:s0 + batch_size]
                    d = delta[i].clone().requires_grad_(True)
                    leaves.append((i, d))
                    xb = clip(X[i] + d)
                    inner = loss_at(cur, xb, y[i], task.task_id)
                    grads = torch.autograd.grad(inner, list(cur.values()), create_graph=True,
                                                allow_unused=True)  # other tasks' heads
                    cur = {name: v if gk is None else v - victim_lr * gk
                           for (name, v), gk in zip(cur.items(), grads, strict=True)}
                old = sum(loss_at(cur, inv.X.to(dev), inv.y.to(dev), inv.task_id)
                          for inv in inverted) / len(inverted)
                outer = -old
                if mode == "cautious":
                    i0, d0 = leaves[-1]
                    outer = outer + cautious_weight * loss_at(cur, clip(X[i0] + d0), y[i0],
                                                              task.task_id)
                gds = torch.autograd.grad(outer, [d for _, d in leaves])
                for (i, _), gd in zip(leaves, gds, strict=True):
                    grad_delta[i] += gd
                outer_total += float(old.detach()) / (len(starts) * trajectory_steps)
            # one real step of the simulated learner on a poisoned minibatch
            i = perm[(k * batch_size) % n:(k * batch_size) % n + batch_size]
            sim.train()
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(forward_task(sim, clip(X[i] + delta[i]), task.task_id),
                            y[i]).backward()
            opt.step()
        history.append(outer_total)
        delta = project_perturbation(delta - attack_lr * grad_delta.sign(), epsilon, norm)
        if bounds is not None:  # keep only the part of delta that survives clipping
            delta = clip(X + delta) - X
    model.train(was)
    return BrainWashResult(delta.detach().cpu(), epsilon, norm, history)
