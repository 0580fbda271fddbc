"""Continual-learning strategies with one shape: ``train(task)``, ``evaluate(tasks)``, plugins.

Every strategy wraps a ``torch.nn.Module`` and trains it on one task at a
time. Models that declare ``multi_head = True`` (e.g. :class:`ContinualMLP`
with one head per task) are called as ``model(x, task_id)``; others as
``model(x)``. A strategy never sees the data of a task before ``train`` is
called with it, except :class:`Joint`, which is the multitask reference and
keeps every task it was given.

Strategies: :class:`Naive` (fine-tuning), :class:`Joint` (multitask on all
tasks seen so far), :class:`Replay` (a small class-balanced memory per task),
:class:`EWC` (diagonal-Fisher penalty), :class:`GPM` (gradient projection
memory: each layer's gradient is projected onto the orthogonal complement of
the span of earlier tasks' inputs to that layer), and :class:`SparseGPM`
(GPM on a network with k-winner activations and heterogeneous dropout,
``sparse-hetero-dropout``).

Plugins (:class:`Plugin`) receive ``before_training_task``,
``after_training_epoch``, ``after_training_task`` and ``after_evaluation``
calls, so loggers and metrics work with any strategy; :func:`run_stream`
trains a strategy on a whole stream and returns a
:class:`~mintlab.continual.metrics.LifelongLog`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Self, cast

import torch
import torch.nn.functional as F
from torch import nn

from .._random import seeded_global_rng
from .._validation import check_choice, check_int, check_nonnegative, check_positive, check_ratio
from ._checks import check_bool, check_callable
from .benchmarks import Task, TaskStream
from .models import ContinualMLP, forward_task

if TYPE_CHECKING:
    from .metrics import LifelongLog

#: One minibatch: inputs, labels and the task id of every sample.
Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]

__all__ = ["Plugin", "Strategy", "Naive", "Joint", "Replay", "EWC", "GPM", "SparseGPM",
           "run_stream", "accuracy", "layer_inputs", "projection_bases", "protected_linears",
           "project_gradients"]


class Plugin:
    """Callbacks a strategy calls while it trains and evaluates; override what you need."""

    def before_training_task(self, strategy: Strategy, task: Task) -> None:
        pass

    def after_training_epoch(self, strategy: Strategy, task: Task, epoch: int,
                             performance: float) -> None:
        pass

    def after_training_task(self, strategy: Strategy, task: Task) -> None:
        pass

    def after_evaluation(self, strategy: Strategy, results: dict[int, float]) -> None:
        pass


@torch.no_grad()
def accuracy(model: nn.Module, task: Task) -> float:
    """Test accuracy of ``model`` on ``task`` (task-aware call for multi-head models)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(task, Task):
        raise TypeError(f"task must be a mintlab.continual.Task, got {type(task).__name__}")
    was = model.training
    model.eval()
    dev = next(model.parameters()).device
    pred = forward_task(model, task.X_test.to(dev), task.task_id).argmax(-1)
    model.train(was)
    return float((pred.cpu() == task.y_test).float().mean())


def _supervised(strategy: Strategy, X: torch.Tensor, y: torch.Tensor, task_id: int):
    return F.cross_entropy(forward_task(strategy.model, X, task_id), y)


class Strategy:
    """Base class: minibatch training of ``model`` on one task at a time.

    Parameters
    ----------
    model : torch.nn.Module
    epochs : int
        Passes over each task's training data.
    batch_size : int
    lr : float
    optimizer : {"sgd", "adam"}
        A fresh optimiser per task. Gradient-projection strategies require
        ``"sgd"`` (Adam's per-coordinate scaling would leave the protected
        subspace).
    momentum : float
        SGD momentum.
    objective : callable or None
        ``objective(strategy, X, y, task_id) -> loss``; default cross-entropy.
        Continual self-supervised learning passes its own.
    evaluator : callable or None
        ``evaluator(model, task) -> float`` used by :meth:`evaluate` and for
        the learning curve after each epoch; default test accuracy.
    plugins : iterable of Plugin
    seed : int
        Seeds the minibatch order and every random draw during training
        (dropout, memory selection), so runs repeat exactly.
    progress : bool
        A tqdm bar over epochs.
    """

    name = "base"
    requires_sgd = False

    def __init__(self, model: nn.Module, *, epochs: int = 10, batch_size: int = 32,
                 lr: float = 0.05, optimizer: str = "sgd", momentum: float = 0.0,
                 objective: Callable | None = None, evaluator: Callable | None = None,
                 plugins: Iterable[Plugin] = (), seed: int = 0, progress: bool = False) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if not any(p.requires_grad for p in model.parameters()):
            raise ValueError("model has no trainable parameters")
        self.model = model
        self.epochs = check_int(epochs, "epochs", minimum=1)
        self.batch_size = check_int(batch_size, "batch_size", minimum=1)
        self.lr = check_positive(lr, "lr")
        self.optimizer = check_choice(optimizer, "optimizer", ("sgd", "adam"))
        if self.requires_sgd and self.optimizer != "sgd":
            raise ValueError(f"{type(self).__name__} projects gradients and needs "
                             f"optimizer='sgd' (Adam rescales coordinates and would leave the "
                             f"protected subspace), got {optimizer!r}")
        self.momentum = check_nonnegative(momentum, "momentum")
        if self.momentum >= 1:
            raise ValueError(f"momentum must be < 1, got {momentum}")
        if objective is not None:
            check_callable(objective, "objective")
        if evaluator is not None:
            check_callable(evaluator, "evaluator")
        self.objective = objective if objective is not None else _supervised
        self.evaluator = evaluator if evaluator is not None else accuracy
        if isinstance(plugins, str | bytes) or not hasattr(plugins, "__iter__"):
            raise TypeError(f"plugins must be an iterable of Plugin, got {type(plugins).__name__}")
        self.plugins = list(plugins)
        for p in self.plugins:
            if not isinstance(p, Plugin):
                raise TypeError(f"plugins must be Plugin instances, got {type(p).__name__}")
        self.seed = check_int(seed, "seed", minimum=0)
        self.progress = check_bool(progress, "progress")
        self.tasks_seen: list[Task] = []

    # ----------------------------------------------------------------- helpers
    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def _check_task(self, task: Task) -> None:
        if not isinstance(task, Task):
            raise TypeError(f"task must be a mintlab.continual.Task, got {type(task).__name__}")
        d = getattr(self.model, "in_features", None)
        if d is not None and task.n_features != d:
            raise ValueError(f"task {task.name!r} has {task.n_features} features but the model "
                             f"expects {d}")
        heads = getattr(self.model, "heads", None)
        if getattr(self.model, "multi_head", False) and heads is not None \
                and task.task_id >= len(heads):
            raise ValueError(f"task_id {task.task_id} has no head: the model has {len(heads)}")
        if isinstance(self.model, ContinualMLP):
            head = cast(nn.Linear, self.model.heads[task.task_id if self.model.multi_head
                                                    else 0])
            if self.objective is _supervised and head.out_features < task.n_classes:
                raise ValueError(f"task {task.name!r} has n_classes={task.n_classes} but the "
                                 f"model's head for it has {head.out_features} outputs")
            dtype = head.weight.dtype
            if task.X_train.dtype != dtype:
                raise TypeError(f"task {task.name!r}: X_train has dtype {task.X_train.dtype} "
                                f"but the model's parameters are {dtype}; convert one of them")

    def _make_optimizer(self, params) -> torch.optim.Optimizer:
        if self.optimizer == "adam":
            return torch.optim.Adam(params, lr=self.lr)
        return torch.optim.SGD(params, lr=self.lr, momentum=self.momentum)

    @contextmanager
    def _rng(self, offset: int):
        with seeded_global_rng(self.seed * 100_003 + offset):
            yield

    def batches(self, task: Task, generator: torch.Generator) -> Iterator[Batch]:
        """Minibatches ``(X, y, task_ids)`` of one epoch; :class:`Replay` adds memory."""
        n = len(task.y_train)
        perm = torch.randperm(n, generator=generator)
        dev = self.device
        for s in range(0, n, self.batch_size):
            i = perm[s:s + self.batch_size]
            yield (task.X_train[i].to(dev), task.y_train[i].to(dev),
                   torch.full((len(i),), task.task_id, dtype=torch.int64))

    def batch_loss(self, X: torch.Tensor, y: torch.Tensor, task_ids: torch.Tensor
                   ) -> torch.Tensor:
        """Objective averaged over the samples of a (possibly multi-task) batch."""
        ids = torch.unique(task_ids)
        if len(ids) == 1:
            return self.objective(self, X, y, int(ids[0]))
        total: torch.Tensor | float = 0.0
        for t in ids.tolist():
            m = (task_ids == t).to(X.device)
            total = total + self.objective(self, X[m], y[m], t) * (m.sum() / len(y))
        return cast(torch.Tensor, total)

    # ------------------------------------------------------------- extension
    def penalty(self) -> torch.Tensor | float:
        """Regulariser added to the loss (EWC)."""
        return 0.0

    def adjust_gradients(self) -> None:
        """Change gradients before the optimiser step (GPM projects them)."""

    def before_training_task(self, task: Task) -> None:
        pass

    def after_training_task(self, task: Task) -> None:
        pass

    def training_tasks(self, task: Task) -> list[Task]:
        """Tasks whose data one epoch goes through; :class:`Joint` returns all seen."""
        return [task]

    # ------------------------------------------------------------------ API
    def train(self, task: Task) -> Self:
        """Train on ``task`` for ``epochs`` epochs; returns ``self``."""
        self._check_task(task)
        from tqdm.auto import tqdm

        offset = len(self.tasks_seen)
        with self._rng(offset):
            self.before_training_task(task)
            for p in self.plugins:
                p.before_training_task(self, task)
            gen = torch.Generator().manual_seed(self.seed * 7_919 + offset)
            opt = self._make_optimizer([p for p in self.model.parameters() if p.requires_grad])
            self.model.train()
            bar = tqdm(range(self.epochs), desc=f"{self.name}: {task.name}",
                       disable=not self.progress, leave=False)
            for epoch in bar:
                for sub in self.training_tasks(task):
                    for X, y, tids in self.batches(sub, gen):
                        opt.zero_grad(set_to_none=True)
                        loss = self.batch_loss(X, y, tids) + self.penalty()
                        loss.backward()
                        self.adjust_gradients()
                        opt.step()
                perf = self.evaluator(self.model, task)
                self.model.train()
                bar.set_postfix(performance=f"{perf:.3f}")
                for p in self.plugins:
                    p.after_training_epoch(self, task, epoch, perf)
            self.tasks_seen.append(task)
            self.after_training_task(task)
            for p in self.plugins:
                p.after_training_task(self, task)
        self.model.eval()
        return self

    def evaluate(self, tasks: Iterable[Task]) -> dict[int, float]:
        """Performance (``evaluator``) on each task, keyed by task id."""
        tasks = list(tasks)
        for t in tasks:
            self._check_task(t)
        out = {t.task_id: float(self.evaluator(self.model, t)) for t in tasks}
        for p in self.plugins:
            p.after_evaluation(self, out)
        return out


class Naive(Strategy):
    """Plain fine-tuning: train on each new task, nothing done against forgetting."""

    name = "fine-tuning"


class Joint(Strategy):
    """Multitask reference: trains on the union of every task given so far.

    With ``reset=True`` (default) the model is re-initialised to its state at
    construction before each call, so after the last task it is a multitask
    model trained jointly on all of them with the same number of epochs.
    """

    name = "multitask"

    def __init__(self, model: nn.Module, *, reset: bool = True, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self.reset = bool(reset)
        self._init_state = copy.deepcopy(model.state_dict())

    def before_training_task(self, task: Task) -> None:
        if self.reset:
            self.model.load_state_dict(self._init_state)

    def train_all(self, tasks: Sequence[Task]) -> Self:
        """Multitask training on all ``tasks`` at once (the usual upper-bound reference)."""
        tasks = list(tasks)
        if not tasks:
            raise ValueError("tasks must hold at least one task")
        for t in tasks:
            self._check_task(t)
        self.tasks_seen = [t for t in self.tasks_seen if t.task_id not in
                           {u.task_id for u in tasks}] + tasks[:-1]
        return self.train(tasks[-1])

    def batches(self, task: Task, generator: torch.Generator) -> Iterator[Batch]:
        tasks = [t for t in self.tasks_seen if t.task_id != task.task_id] + [task]
        X = torch.cat([t.X_train for t in tasks])
        y = torch.cat([t.y_train for t in tasks])
        tids = torch.cat([torch.full((len(t.y_train),), t.task_id, dtype=torch.int64)
                          for t in tasks])
        perm = torch.randperm(len(y), generator=generator)
        dev = self.device
        for s in range(0, len(y), self.batch_size):
            i = perm[s:s + self.batch_size]
            yield X[i].to(dev), y[i].to(dev), tids[i]


class Replay(Strategy):
    """Experience replay: keep ``memory_per_task`` class-balanced samples of each task.

    Every minibatch of the new task is joined by an equal-sized batch drawn
    from the memory (with its task ids, so multi-head models use the right
    heads).
    """

    name = "replay"

    def __init__(self, model: nn.Module, *, memory_per_task: int = 20, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self.memory_per_task = check_int(memory_per_task, "memory_per_task", minimum=1)
        self.memory: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []

    def batches(self, task: Task, generator: torch.Generator) -> Iterator[Batch]:
        if not self.memory:
            yield from super().batches(task, generator)
            return
        MX = torch.cat([m[0] for m in self.memory])
        My = torch.cat([m[1] for m in self.memory])
        Mt = torch.cat([m[2] for m in self.memory])
        dev = self.device
        for X, y, tids in super().batches(task, generator):
            j = torch.randint(len(My), (len(y),), generator=generator)
            yield (torch.cat([X, MX[j].to(dev)]), torch.cat([y, My[j].to(dev)]),
                   torch.cat([tids, Mt[j]]))

    def after_training_task(self, task: Task) -> None:
        g = torch.Generator().manual_seed(self.seed * 31 + task.task_id)
        classes = torch.unique(task.y_train)
        per = max(1, self.memory_per_task // len(classes))
        parts = []
        for c in classes:
            idx = torch.nonzero(task.y_train == c).flatten()
            parts.append(idx[torch.randperm(len(idx), generator=g)[:per]])
        keep = torch.cat(parts)[: self.memory_per_task]
        self.memory.append((task.X_train[keep], task.y_train[keep],
                            torch.full((len(keep),), task.task_id, dtype=torch.int64)))


class EWC(Strategy):
    """Elastic weight consolidation with a cumulative diagonal Fisher.

    After each task, ``F += E_x[(d log p(y|x) / d theta)^2]`` (empirical
    Fisher on the task's training data, ``fisher_samples`` of them) and the
    anchor ``theta*`` becomes the current weights; training adds
    ``ewc_lambda / 2 * sum F (theta - theta*)^2``.
    """

    name = "EWC"

    def __init__(self, model: nn.Module, *, ewc_lambda: float = 100.0,
                 fisher_samples: int = 200, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self.ewc_lambda = check_nonnegative(ewc_lambda, "ewc_lambda")
        self.fisher_samples = check_int(fisher_samples, "fisher_samples", minimum=1)
        self.fisher: dict[str, torch.Tensor] = {}
        self.anchor: dict[str, torch.Tensor] = {}

    def penalty(self) -> torch.Tensor | float:
        if not self.fisher or self.ewc_lambda == 0:
            return 0.0
        total: torch.Tensor | float = 0.0
        for n, p in self.model.named_parameters():
            if n in self.fisher:
                total = total + (self.fisher[n] * (p - self.anchor[n]) ** 2).sum()
        return 0.5 * self.ewc_lambda * total

    def after_training_task(self, task: Task) -> None:
        from torch.func import functional_call, grad, vmap

        params = {n: p.detach() for n, p in self.model.named_parameters() if p.requires_grad}
        buffers = {n: b for n, b in self.model.named_buffers()}
        was = self.model.training
        self.model.eval()
        n = min(self.fisher_samples, len(task.y_train))
        X, y = task.X_train[:n].to(self.device), task.y_train[:n].to(self.device)

        def loss_one(p, x, t):
            out = functional_call(self.model, (p, buffers), (x[None],),
                                  {"task_id": task.task_id}
                                  if getattr(self.model, "multi_head", False) else {})
            return F.cross_entropy(out, t[None])

        grads = vmap(grad(loss_one), in_dims=(None, 0, 0))(params, X, y)
        self.model.train(was)
        for name, g in grads.items():
            f = (g ** 2).mean(0)
            self.fisher[name] = self.fisher.get(name, torch.zeros_like(f)) + f
            self.anchor[name] = params[name].clone()


# ---------------------------------------------------------------------- GPM
def protected_linears(model: nn.Module) -> list[nn.Linear]:
    """Linear layers GPM protects: every ``nn.Linear`` except task-specific heads.

    Heads listed in ``model.heads`` are excluded when the model is
    multi-head (each head only ever sees its own task).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    heads = set()
    if getattr(model, "multi_head", False):
        heads = {id(m) for m in cast(nn.Module, model.heads).modules()}
    return [m for m in model.modules() if isinstance(m, nn.Linear) and id(m) not in heads]


@torch.no_grad()
def layer_inputs(model: nn.Module, layers: Sequence[nn.Linear], X: torch.Tensor,
                 task_id: int, forward: Callable | None = None) -> list[torch.Tensor]:
    """Inputs seen by each of ``layers`` when the model runs on ``X`` (eval mode).

    ``forward(model, X, task_id)`` runs the model (default: its forward
    call); it must reach every layer, e.g. SimSiam's predictor.

    Returns one ``(n, in_features [+1])`` matrix per layer; a constant 1 is
    appended for layers with a bias, so the bias is protected with the weight.
    """
    got: dict[int, torch.Tensor] = {}
    hooks = [layer.register_forward_hook(
        lambda m, inp, out, i=i: got.__setitem__(i, inp[0].detach()))
        for i, layer in enumerate(layers)]
    was = model.training
    model.eval()
    try:
        (forward or (lambda m, x, t: forward_task(m, x, t)))(model, X, task_id)
    finally:
        for h in hooks:
            h.remove()
        model.train(was)
    missing = [i for i in range(len(layers)) if i not in got]
    if missing:
        raise ValueError(f"layers {missing} were not reached by the forward pass; pass a "
                         "forward function that runs them")
    out = []
    for i, layer in enumerate(layers):
        R = got[i].reshape(-1, layer.in_features)
        if layer.bias is not None:
            R = torch.cat([R, torch.ones(len(R), 1, dtype=R.dtype, device=R.device)], 1)
        out.append(R)
    return out


def projection_bases(representations: Sequence[torch.Tensor],
                     bases: Sequence[torch.Tensor | None], threshold: float
                     ) -> list[torch.Tensor]:
    """Grow orthonormal bases so they capture ``threshold`` of each representation's energy.

    GPM's rule: with ``R`` the ``(n, d)`` inputs of a layer and ``M`` its
    current basis ``(d, k)``, the part of ``R`` outside ``span(M)`` is
    ``R_hat = R - R M M^T``; the fewest leading right-singular vectors of
    ``R_hat`` are added so that ``||R M M^T||^2 + ||R_hat_r||^2 >= threshold
    ||R||^2``. The first task (``M`` empty) uses the singular vectors of ``R``.

    Returns the new bases, orthonormal columns, in float64.
    """
    threshold = check_ratio(threshold, "threshold", closed_high=True)
    out = []
    for R, M in zip(representations, bases, strict=True):
        R = R.to(torch.float64)
        total = float((R ** 2).sum())
        if M is None or M.shape[1] == 0:
            M = torch.zeros(R.shape[1], 0, dtype=torch.float64, device=R.device)
        inside = R @ M
        R_hat = R - inside @ M.T
        captured = float((inside ** 2).sum())
        if total <= 0 or captured >= threshold * total or M.shape[1] >= R.shape[1]:
            out.append(M)
            continue
        _, S, Vh = torch.linalg.svd(R_hat, full_matrices=False)
        energy = captured + torch.cumsum(S ** 2, 0)
        r = int(torch.searchsorted(energy, torch.tensor(threshold * total, dtype=energy.dtype,
                                                           device=energy.device)).item()) + 1
        r = min(r, len(S), R.shape[1] - M.shape[1])
        new = Vh[:r].T
        # re-orthogonalise against M (R_hat is orthogonal to M up to round-off)
        new = new - M @ (M.T @ new)
        Q, _ = torch.linalg.qr(torch.cat([M, new], 1))
        out.append(Q)
    return out


def project_gradients(layers: Sequence[nn.Linear], bases: Sequence[torch.Tensor | None]) -> None:
    """Replace each layer's gradient ``G`` of ``[W | b]`` by ``G - G M M^T`` (in place).

    ``bases[i]`` is an orthonormal ``(in_features [+1], k)`` basis for
    ``layers[i]`` (``+1`` when it has a bias) or ``None`` (left unchanged).
    """
    for layer, M in zip(layers, bases, strict=True):
        if M is None or M.shape[1] == 0 or layer.weight.grad is None:
            continue
        G = layer.weight.grad
        has_bias = layer.bias is not None
        if M.shape[0] != layer.in_features + int(has_bias):
            raise ValueError(f"basis has {M.shape[0]} rows but the layer needs "
                             f"{layer.in_features + int(has_bias)}")
        if has_bias:
            gb = layer.bias.grad if layer.bias.grad is not None else torch.zeros_like(layer.bias)
            G = torch.cat([G, gb[:, None]], 1)
        Mt = M.to(device=G.device, dtype=G.dtype)
        G = G - (G @ Mt) @ Mt.T
        layer.weight.grad.copy_(G[:, :layer.in_features])
        if has_bias and layer.bias.grad is not None:
            layer.bias.grad.copy_(G[:, -1])


class GPM(Strategy):
    """Gradient projection memory (Saha et al., 2021).

    After each task the inputs of every protected linear layer on
    ``memory_samples`` training samples define an orthonormal basis ``M``
    (grown by :func:`projection_bases` with energy ``threshold``). Later
    tasks update each layer only with ``G - G M M^T`` (``G`` = gradient of
    ``[W | b]``), so the layer's output on any input in ``span(M)``, and with
    it the old tasks' predictions, stays as it was to first order. Needs
    plain SGD (momentum allowed: it only combines projected gradients).

    Parameters
    ----------
    threshold : float
        Energy fraction the bases keep (0.97 in the GPM paper's MLPs); a
        value close to 1 protects more and leaves less room for new tasks.
    memory_samples : int
        Training samples of each task whose activations form the memory.
    representation_forward : callable or None
        ``f(model, X, task_id)`` run to collect the layer inputs (default:
        the model's forward); needed when the objective uses layers the
        forward call skips, as SimSiam's predictor.
    """

    name = "GPM"
    requires_sgd = True

    def __init__(self, model: nn.Module, *, threshold: float = 0.97,
                 memory_samples: int = 300, representation_forward: Callable | None = None,
                 **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        if representation_forward is not None:
            check_callable(representation_forward, "representation_forward")
        self.representation_forward = representation_forward
        self.threshold = check_ratio(threshold, "threshold", closed_high=True)
        self.memory_samples = check_int(memory_samples, "memory_samples", minimum=1)
        self.layers = protected_linears(model)
        if not self.layers:
            raise ValueError("GPM found no nn.Linear layer to protect in the model")
        self.bases: list[torch.Tensor | None] = [None] * len(self.layers)

    def adjust_gradients(self) -> None:
        project_gradients(self.layers, self.bases)

    def memory_inputs(self, task: Task) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.seed * 13 + task.task_id)
        n = min(self.memory_samples, len(task.y_train))
        idx = torch.randperm(len(task.y_train), generator=g)[:n]
        return task.X_train[idx].to(self.device)

    def after_training_task(self, task: Task) -> None:
        reps = layer_inputs(self.model, self.layers, self.memory_inputs(task), task.task_id,
                            self.representation_forward)
        self.bases = list[torch.Tensor | None](projection_bases(reps, self.bases,
                                                               self.threshold))

    def memory_dimensions(self) -> list[int]:
        """Number of protected directions per layer."""
        return [0 if M is None else int(M.shape[1]) for M in self.bases]


class SparseGPM(GPM):
    """GPM with k-winner activations and heterogeneous dropout (``sparse-hetero-dropout``).

    The model must contain :class:`~mintlab.continual.models.KWinner` layers
    (e.g. ``ContinualMLP(..., k_winner_density=0.2, hetero_dropout=1.0)``).
    Sparse activations make each task's layer inputs low-rank, so GPM's
    memory fills slower; after each task the winner counts of every unit are
    updated from that task's data, and the heterogeneous dropout of the next
    tasks steers them to the units old tasks used least.
    """

    name = "GPM + sparsity + heterogeneous dropout"

    def __init__(self, model: nn.Module, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        from .models import KWinner

        self.k_winner_layers = [m for m in model.modules() if isinstance(m, KWinner)]
        if not self.k_winner_layers:
            raise ValueError("SparseGPM needs a model with KWinner activations, e.g. "
                             "ContinualMLP(..., k_winner_density=0.2, hetero_dropout=1.0)")

    def after_training_task(self, task: Task) -> None:
        super().after_training_task(task)
        X = self.memory_inputs(task)
        if hasattr(self.model, "count_winners"):
            getattr(self.model, "count_winners")(X)  # noqa: B009 (an optional method)
        else:  # generic model: count from hooks on the KWinner inputs
            hooks = [m.register_forward_pre_hook(lambda m, inp: m.count(inp[0]))
                     for m in self.k_winner_layers]
            try:
                with torch.no_grad():
                    forward_task(self.model.eval(), X, task.task_id)
            finally:
                for h in hooks:
                    h.remove()


def run_stream(strategy: Strategy, stream: TaskStream | Sequence[Task], *,
               evaluate_initial: bool = True, progress: bool = False) -> LifelongLog:
    """Train ``strategy`` on every task of ``stream`` in order, evaluating all tasks each time.

    Returns a :class:`~mintlab.continual.metrics.LifelongLog` with the
    learning curve of every training block (performance on the task being
    learned after each epoch) and an evaluation of every task before
    training (if ``evaluate_initial``) and after each block.
    """
    from tqdm.auto import tqdm

    from .metrics import LifelongLog, LogPlugin

    if not isinstance(strategy, Strategy):
        raise TypeError(f"strategy must be a mintlab.continual Strategy, got "
                        f"{type(strategy).__name__}")
    check_bool(evaluate_initial, "evaluate_initial")
    check_bool(progress, "progress")
    if isinstance(stream, str | bytes) or not hasattr(stream, "__iter__"):
        raise TypeError(f"stream must be a TaskStream or a sequence of Task, got "
                        f"{type(stream).__name__}")
    tasks = list(stream)
    for i, t in enumerate(tasks):
        if not isinstance(t, Task):
            raise TypeError(f"stream[{i}] must be a Task, got {type(t).__name__}")
    if not tasks:
        raise ValueError("stream has no tasks")
    log = LifelongLog([t.name for t in tasks])
    plugin = LogPlugin(log, {t.task_id: t.name for t in tasks})
    strategy.plugins.append(plugin)
    try:
        if evaluate_initial:
            strategy.evaluate(tasks)
        for task in tqdm(tasks, desc=strategy.name, disable=not progress):
            strategy.train(task)
            strategy.evaluate(tasks)
    finally:
        strategy.plugins.remove(plugin)
    return log
