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

Methods compose. Each remedy against forgetting is a :class:`Plugin` with
hooks into the training step: :class:`ReplayPlugin` adds remembered samples
to every minibatch (:meth:`Plugin.batch`), :class:`EWCPlugin` adds a
penalty to the loss (:meth:`Plugin.penalty`), :class:`GPMPlugin` projects
the gradients (:meth:`Plugin.adjust_gradients`), so
``Strategy(model, plugins=[ReplayPlugin(20), EWCPlugin(100.0)])`` trains
with replay and EWC at once. The strategy names above are shortcuts for one
plugin each (``Replay(model, memory_per_task=20)`` is
``Strategy(model, plugins=[ReplayPlugin(20)])``). Loggers and metrics are
plugins too: every plugin receives ``before_training_task``,
``after_training_epoch``, ``after_training_task`` and ``after_evaluation``
calls. :func:`run_stream` trains a strategy on a whole stream and returns a
:class:`~mintlab.continual.metrics.LifelongLog`.

Examples
--------
>>> from mintlab.continual import ContinualMLP, split_digits
>>> stream = split_digits(5)
>>> net = ContinualMLP(stream.n_features, [32], stream.head_sizes, seed=0)
>>> st = Strategy(net, plugins=[ReplayPlugin(10), EWCPlugin(50.0)], epochs=1)
>>> st.train(stream[0]).train(stream[1]).plugins[0].memory_size
20
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

import torch
import torch.nn.functional as F
from torch import nn

from .._random import seeded_global_rng
from .._validation import check_choice, check_int, check_nonnegative, check_positive, check_ratio
from ._checks import check_bool, check_callable
from .benchmarks import Task, TaskStream
from .models import ContinualConvNet, ContinualMLP, forward_task

if TYPE_CHECKING:
    from .metrics import LifelongLog

#: One minibatch: inputs, labels and the task id of every sample.
Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]
_P = TypeVar("_P", bound="Plugin")

__all__ = ["Plugin", "Strategy", "Naive", "Joint", "Replay", "EWC", "GPM", "SparseGPM",
           "ReplayPlugin", "EWCPlugin", "GPMPlugin", "SparseGPMPlugin", "protected_layers",
           "run_stream", "accuracy", "layer_inputs", "projection_bases", "protected_linears",
           "project_gradients"]


class Plugin:
    """Hooks a strategy calls while it trains and evaluates; override what you need.

    Training-step hooks, called for every minibatch in the order the plugins
    were given:

    * :meth:`batch` may add samples to the minibatch (replay);
    * :meth:`penalty` returns a term added to the loss (EWC);
    * :meth:`adjust_gradients` may change the gradients after ``backward``
      and before the optimiser step (GPM's projection).

    Task hooks: :meth:`before_training_task`, :meth:`after_training_epoch`,
    :meth:`after_training_task`; :meth:`after_evaluation` after every
    :meth:`Strategy.evaluate`. A plugin that keeps state about what was
    learned (a memory, a Fisher matrix, a basis) belongs to one strategy;
    giving it to a second one raises an error.

    Attributes
    ----------
    requires_sgd : bool
        True for plugins that change gradients in a way Adam would undo
        (gradient projection); a strategy with such a plugin needs
        ``optimizer="sgd"``.
    stateful : bool
        True for plugins that hold what earlier tasks left behind.
    """

    requires_sgd = False
    stateful = False

    def attach(self, strategy: Strategy) -> None:
        """Called once when a strategy is built with this plugin."""
        if not self.stateful:
            return
        owner = getattr(self, "_strategy", None)
        if owner is not None and owner() is not None and owner() is not strategy:
            raise ValueError(f"this {type(self).__name__} already belongs to another strategy: "
                             f"it holds that strategy's memory of earlier tasks; make a new "
                             f"{type(self).__name__} for each strategy")
        import weakref

        self._strategy = weakref.ref(strategy)

    def before_training_task(self, strategy: Strategy, task: Task) -> None:
        pass

    def batch(self, strategy: Strategy, batch: Batch, generator: torch.Generator) -> Batch:
        """The minibatch ``(X, y, task_ids)`` to train on, given the strategy's one."""
        return batch

    def penalty(self, strategy: Strategy) -> torch.Tensor | float:
        """A term added to the minibatch loss (default 0)."""
        return 0.0

    def adjust_gradients(self, strategy: Strategy) -> None:
        """Change the gradients in place after ``backward``, before the optimiser step."""

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
        Methods (:class:`ReplayPlugin`, :class:`EWCPlugin`,
        :class:`GPMPlugin`, ...) and loggers; their hooks run in this order.
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
        needs_sgd = [type(p).__name__ for p in self.plugins if p.requires_sgd]
        if needs_sgd and self.optimizer != "sgd":
            raise ValueError(f"{', '.join(needs_sgd)} projects gradients and needs "
                             f"optimizer='sgd' (Adam rescales coordinates and would leave the "
                             f"protected subspace), got {optimizer!r}")
        if len({id(p) for p in self.plugins}) != len(self.plugins):
            raise ValueError("plugins must not hold the same plugin twice")
        for p in self.plugins:
            p.attach(self)
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
        if isinstance(self.model, ContinualMLP | ContinualConvNet):
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
        """Regulariser added to the loss by a subclass (plugins add their own)."""
        return 0.0

    def adjust_gradients(self) -> None:
        """Change gradients before the optimiser step in a subclass (plugins do their own)."""

    def plugin(self, kind: type[_P]) -> _P:
        """The first plugin of type ``kind`` (e.g. ``strategy.plugin(EWCPlugin)``)."""
        for p in self.plugins:
            if isinstance(p, kind):
                return p
        raise LookupError(f"this strategy has no {kind.__name__}; its plugins are "
                          f"{[type(p).__name__ for p in self.plugins]}")

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
                    for batch in self.batches(sub, gen):
                        for p in self.plugins:
                            batch = p.batch(self, batch, gen)
                        opt.zero_grad(set_to_none=True)
                        loss = self.batch_loss(*batch) + self.penalty()
                        for p in self.plugins:
                            loss = loss + p.penalty(self)
                        loss.backward()
                        self.adjust_gradients()
                        for p in self.plugins:
                            p.adjust_gradients(self)
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


class ReplayPlugin(Plugin):
    """Experience replay: keep ``memory_per_task`` class-balanced samples of each task.

    Every minibatch of a new task is joined by an equal-sized batch drawn
    (with replacement) from the memory, with its task ids, so multi-head
    models use the right heads. The memory is filled after each task.

    Parameters
    ----------
    memory_per_task : int
        Samples kept per task, split evenly over its classes.

    Examples
    --------
    >>> from mintlab.continual import ContinualMLP, split_digits
    >>> stream = split_digits(5)
    >>> net = ContinualMLP(64, [32], stream.head_sizes, seed=0)
    >>> st = Strategy(net, plugins=[ReplayPlugin(10)], epochs=1).train(stream[0])
    >>> st.plugin(ReplayPlugin).memory_size
    10
    """

    stateful = True

    def __init__(self, memory_per_task: int = 20) -> None:
        self.memory_per_task = check_int(memory_per_task, "memory_per_task", minimum=1)
        self.memory: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        self._joined: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    @property
    def memory_size(self) -> int:
        """Samples held in the memory."""
        return sum(len(m[1]) for m in self.memory)

    def batch(self, strategy: Strategy, batch: Batch, generator: torch.Generator) -> Batch:
        if not self.memory:
            return batch
        if self._joined is None:
            self._joined = (torch.cat([m[0] for m in self.memory]),
                            torch.cat([m[1] for m in self.memory]),
                            torch.cat([m[2] for m in self.memory]))
        MX, My, Mt = self._joined
        X, y, tids = batch
        dev = X.device
        j = torch.randint(len(My), (len(y),), generator=generator)
        return (torch.cat([X, MX[j].to(dev)]), torch.cat([y, My[j].to(dev)]),
                torch.cat([tids, Mt[j]]))

    def after_training_task(self, strategy: Strategy, task: Task) -> None:
        g = torch.Generator().manual_seed(strategy.seed * 31 + task.task_id)
        classes = torch.unique(task.y_train)
        per = max(1, self.memory_per_task // len(classes))
        parts = []
        for c in classes:
            idx = torch.nonzero(task.y_train == c).flatten()
            parts.append(idx[torch.randperm(len(idx), generator=g)[:per]])
        keep = torch.cat(parts)[: self.memory_per_task]
        self.memory.append((task.X_train[keep], task.y_train[keep],
                            torch.full((len(keep),), task.task_id, dtype=torch.int64)))
        self._joined = None


class EWCPlugin(Plugin):
    """Elastic weight consolidation with a cumulative diagonal Fisher.

    After each task, ``F += E_x[(d log p(y|x) / d theta)^2]`` (empirical
    Fisher on the task's first ``fisher_samples`` training samples) and the
    anchor ``theta*`` becomes the current weights; training adds
    ``ewc_lambda / 2 * sum F (theta - theta*)^2`` to the loss.

    Parameters
    ----------
    ewc_lambda : float
        Strength of the penalty.
    fisher_samples : int
        Training samples of each task the Fisher is estimated on.

    Examples
    --------
    >>> from mintlab.continual import ContinualMLP, split_digits
    >>> stream = split_digits(5)
    >>> net = ContinualMLP(64, [32], stream.head_sizes, seed=0)
    >>> st = Strategy(net, plugins=[EWCPlugin(100.0)], epochs=1).train(stream[0])
    >>> sorted(st.plugin(EWCPlugin).fisher)[:2]
    ['heads.0.bias', 'heads.0.weight']
    """

    stateful = True

    def __init__(self, ewc_lambda: float = 100.0, fisher_samples: int = 200) -> None:
        self.ewc_lambda = check_nonnegative(ewc_lambda, "ewc_lambda")
        self.fisher_samples = check_int(fisher_samples, "fisher_samples", minimum=1)
        self.fisher: dict[str, torch.Tensor] = {}
        self.anchor: dict[str, torch.Tensor] = {}

    def penalty(self, strategy: Strategy) -> torch.Tensor | float:
        if not self.fisher or self.ewc_lambda == 0:
            return 0.0
        total: torch.Tensor | float = 0.0
        for n, p in strategy.model.named_parameters():
            if n in self.fisher:
                total = total + (self.fisher[n] * (p - self.anchor[n]) ** 2).sum()
        return 0.5 * self.ewc_lambda * total

    def after_training_task(self, strategy: Strategy, task: Task) -> None:
        from torch.func import functional_call, grad, vmap

        model = strategy.model
        params = {n: p.detach() for n, p in model.named_parameters() if p.requires_grad}
        buffers = {n: b for n, b in model.named_buffers()}
        was = model.training
        model.eval()
        n = min(self.fisher_samples, len(task.y_train))
        X, y = task.X_train[:n].to(strategy.device), task.y_train[:n].to(strategy.device)
        kwargs = {"task_id": task.task_id} if getattr(model, "multi_head", False) else {}

        def loss_one(p, x, t):
            out = functional_call(model, (p, buffers), (x[None],), kwargs)
            return F.cross_entropy(out, t[None])

        grads = vmap(grad(loss_one), in_dims=(None, 0, 0))(params, X, y)
        model.train(was)
        for name, g in grads.items():
            f = (g ** 2).mean(0)
            self.fisher[name] = self.fisher.get(name, torch.zeros_like(f)) + f
            self.anchor[name] = params[name].clone()


class Replay(Strategy):
    """Experience replay: ``Strategy(model, plugins=[ReplayPlugin(memory_per_task)])``.

    See :class:`ReplayPlugin`. ``memory`` is the plugin's memory.
    """

    name = "replay"

    def __init__(self, model: nn.Module, *, memory_per_task: int = 20,
                 plugins: Iterable[Plugin] = (), **kwargs: Any) -> None:
        self.replay = ReplayPlugin(memory_per_task)
        super().__init__(model, plugins=[self.replay, *_plugin_list(plugins)], **kwargs)

    @property
    def memory_per_task(self) -> int:
        return self.replay.memory_per_task

    @property
    def memory(self) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        return self.replay.memory


class EWC(Strategy):
    """Elastic weight consolidation: ``Strategy(model, plugins=[EWCPlugin(...)])``.

    See :class:`EWCPlugin`; ``fisher`` and ``anchor`` are the plugin's.
    """

    name = "EWC"

    def __init__(self, model: nn.Module, *, ewc_lambda: float = 100.0,
                 fisher_samples: int = 200, plugins: Iterable[Plugin] = (),
                 **kwargs: Any) -> None:
        self.ewc = EWCPlugin(ewc_lambda, fisher_samples)
        super().__init__(model, plugins=[self.ewc, *_plugin_list(plugins)], **kwargs)

    @property
    def ewc_lambda(self) -> float:
        return self.ewc.ewc_lambda

    @property
    def fisher_samples(self) -> int:
        return self.ewc.fisher_samples

    @property
    def fisher(self) -> dict[str, torch.Tensor]:
        return self.ewc.fisher

    @property
    def anchor(self) -> dict[str, torch.Tensor]:
        return self.ewc.anchor


def _plugin_list(plugins: Iterable[Plugin]) -> list[Plugin]:
    if isinstance(plugins, str | bytes) or not hasattr(plugins, "__iter__"):
        raise TypeError(f"plugins must be an iterable of Plugin, got {type(plugins).__name__}")
    return list(plugins)


# ---------------------------------------------------------------------- GPM
def _heads(model: nn.Module) -> set[int]:
    if getattr(model, "multi_head", False) and hasattr(model, "heads"):
        return {id(m) for m in cast(nn.Module, model.heads).modules()}
    return set()


def protected_linears(model: nn.Module) -> list[nn.Linear]:
    """Linear layers GPM protects: every ``nn.Linear`` except task-specific heads.

    Heads listed in ``model.heads`` are excluded when the model is
    multi-head (each head only ever sees its own task).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    heads = _heads(model)
    return [m for m in model.modules() if isinstance(m, nn.Linear) and id(m) not in heads]


def protected_layers(model: nn.Module) -> list[nn.Module]:
    """Layers GPM protects: every ``nn.Linear`` and ``nn.Conv2d`` except task-specific heads.

    Examples
    --------
    >>> from mintlab.continual import ContinualConvNet
    >>> net = ContinualConvNet(channels=(4, 8), hidden=16, head_sizes=[2, 2])
    >>> [type(m).__name__ for m in protected_layers(net)]
    ['Conv2d', 'Conv2d', 'Linear']
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    heads = _heads(model)
    layers = [m for m in model.modules()
              if isinstance(m, nn.Linear | nn.Conv2d) and id(m) not in heads]
    return _check_protectable(layers)


def _check_protectable(layers: Any) -> list[nn.Module]:
    if isinstance(layers, nn.Module) or not isinstance(layers, Sequence):
        raise TypeError(f"layers must be a sequence of nn.Linear / nn.Conv2d, got "
                        f"{type(layers).__name__}")
    for i, m in enumerate(layers):
        if not isinstance(m, nn.Linear | nn.Conv2d):
            raise TypeError(f"layers[{i}] must be an nn.Linear or nn.Conv2d, got "
                            f"{type(m).__name__}")
        if isinstance(m, nn.Conv2d) and (m.groups != 1 or m.padding_mode != "zeros"
                                         or isinstance(m.padding, str)):
            raise ValueError(f"layers[{i}]: GPM protects convolutions with groups=1, zero "
                             f"padding and numeric padding, got {m}")
    return list(layers)


#: Rows (image patches) of a convolution's memory matrix beyond which they are thinned.
MAX_PATCH_ROWS = 20_000


def _patches(layer: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """The input patches a convolution multiplies with its kernel, ``(n * positions, C k k)``."""
    cols = F.unfold(x, layer.kernel_size, dilation=layer.dilation,
                    padding=cast(tuple[int, int], layer.padding), stride=layer.stride)
    R = cols.transpose(1, 2).reshape(-1, cols.shape[1])
    if len(R) > MAX_PATCH_ROWS:  # an even thinning: no random draw, same rows every time
        step = -(-len(R) // MAX_PATCH_ROWS)
        R = R[::step]
    return R


@torch.no_grad()
def layer_inputs(model: nn.Module, layers: Sequence[nn.Module], X: torch.Tensor,
                 task_id: int, forward: Callable | None = None) -> list[torch.Tensor]:
    """Inputs seen by each of ``layers`` when the model runs on ``X`` (eval mode).

    ``forward(model, X, task_id)`` runs the model (default: its forward
    call); it must reach every layer, e.g. SimSiam's predictor.

    Returns one ``(n, in_features [+1])`` matrix per layer; a constant 1 is
    appended for layers with a bias, so the bias is protected with the weight.
    For an ``nn.Conv2d`` the rows are the input patches its kernel sees
    (``in_channels * kh * kw`` columns), evenly thinned to at most
    :data:`MAX_PATCH_ROWS` rows.
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
        if isinstance(layer, nn.Conv2d):
            R = _patches(layer, got[i])
        else:
            R = got[i].reshape(-1, cast(nn.Linear, layer).in_features)
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


def project_gradients(layers: Sequence[nn.Module], bases: Sequence[torch.Tensor | None]) -> None:
    """Replace each layer's gradient ``G`` of ``[W | b]`` by ``G - G M M^T`` (in place).

    ``bases[i]`` is an orthonormal ``(fan_in [+1], k)`` basis for
    ``layers[i]`` (``fan_in`` = ``in_features`` of a linear layer,
    ``in_channels * kh * kw`` of a convolution; ``+1`` when it has a bias) or
    ``None`` (left unchanged).
    """
    for layer, M in zip(layers, bases, strict=True):
        weight = cast(torch.Tensor, layer.weight)
        if M is None or M.shape[1] == 0 or weight.grad is None:
            continue
        G = weight.grad.reshape(weight.shape[0], -1)
        fan_in = G.shape[1]
        bias = cast(torch.Tensor | None, layer.bias)
        has_bias = bias is not None
        if M.shape[0] != fan_in + int(has_bias):
            raise ValueError(f"basis has {M.shape[0]} rows but the layer needs "
                             f"{fan_in + int(has_bias)}")
        if bias is not None:
            gb = bias.grad if bias.grad is not None else torch.zeros_like(bias)
            G = torch.cat([G, gb[:, None]], 1)
        Mt = M.to(device=G.device, dtype=G.dtype)
        G = G - (G @ Mt) @ Mt.T
        weight.grad.copy_(G[:, :fan_in].reshape(weight.shape))
        if bias is not None and bias.grad is not None:
            bias.grad.copy_(G[:, -1])


class GPMPlugin(Plugin):
    """Gradient projection memory (Saha et al., 2021) as a plugin.

    After each task the inputs of every protected layer on
    ``memory_samples`` training samples define an orthonormal basis ``M``
    (grown by :func:`projection_bases` with energy ``threshold``). Later
    tasks update each layer only with ``G - G M M^T`` (``G`` = gradient of
    ``[W | b]``, a convolution's kernel flattened), so the layer's output on
    any input in ``span(M)`` (for a convolution: any image patch in it), and
    with it the old tasks' predictions, stays as it was to first order.
    Needs plain SGD (momentum allowed: it only combines projected gradients).

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
    layers : sequence of nn.Linear / nn.Conv2d or None
        The layers to protect; default :func:`protected_layers` of the
        strategy's model (every linear and convolution layer but task heads).

    Examples
    --------
    >>> from mintlab.continual import ContinualMLP, split_digits
    >>> stream = split_digits(5)
    >>> net = ContinualMLP(64, [32], stream.head_sizes, seed=0)
    >>> st = Strategy(net, plugins=[GPMPlugin(0.9)], epochs=1).train(stream[0])
    >>> st.plugin(GPMPlugin).memory_dimensions()[0] > 0
    True

    References
    ----------
    Gobinda Saha, Isha Garg, Kaushik Roy, "Gradient Projection Memory for
    Continual Learning", ICLR 2021.
    """

    requires_sgd = True
    stateful = True

    def __init__(self, threshold: float = 0.97, memory_samples: int = 300,
                 representation_forward: Callable | None = None,
                 layers: Sequence[nn.Module] | None = None) -> None:
        if representation_forward is not None:
            check_callable(representation_forward, "representation_forward")
        self.representation_forward = representation_forward
        self.threshold = check_ratio(threshold, "threshold", closed_high=True)
        self.memory_samples = check_int(memory_samples, "memory_samples", minimum=1)
        self._given_layers = None if layers is None else _check_protectable(layers)
        self.layers: list[nn.Module] = []
        self.bases: list[torch.Tensor | None] = []

    def attach(self, strategy: Strategy) -> None:
        super().attach(strategy)
        if self._given_layers is not None:
            mods = {id(m) for m in strategy.model.modules()}
            if any(id(m) not in mods for m in self._given_layers):
                raise ValueError("layers must be modules of the strategy's model")
            layers = self._given_layers
        else:
            layers = protected_layers(strategy.model)
        if not layers:
            raise ValueError("GPM found no nn.Linear or nn.Conv2d layer to protect in the model")
        if self.layers and [id(m) for m in self.layers] != [id(m) for m in layers]:
            raise ValueError("this GPMPlugin already protects another model's layers")
        self.layers = list(layers)
        if not self.bases:
            self.bases = [None] * len(self.layers)

    def adjust_gradients(self, strategy: Strategy) -> None:
        project_gradients(self.layers, self.bases)

    def memory_inputs(self, strategy: Strategy, task: Task) -> torch.Tensor:
        """The training samples of ``task`` whose layer inputs enter the memory."""
        g = torch.Generator().manual_seed(strategy.seed * 13 + task.task_id)
        n = min(self.memory_samples, len(task.y_train))
        idx = torch.randperm(len(task.y_train), generator=g)[:n]
        return task.X_train[idx].to(strategy.device)

    def after_training_task(self, strategy: Strategy, task: Task) -> None:
        reps = layer_inputs(strategy.model, self.layers, self.memory_inputs(strategy, task),
                            task.task_id, self.representation_forward)
        self.bases = list[torch.Tensor | None](projection_bases(reps, self.bases,
                                                               self.threshold))

    def memory_dimensions(self) -> list[int]:
        """Number of protected directions per layer."""
        return [0 if M is None else int(M.shape[1]) for M in self.bases]


class SparseGPMPlugin(GPMPlugin):
    """GPM on a network with k-winner activations and heterogeneous dropout, as a plugin.

    The model must contain :class:`~mintlab.continual.models.KWinner` layers
    (e.g. ``ContinualMLP(..., k_winner_density=0.2, hetero_dropout=1.0)``).
    Sparse activations make each task's layer inputs low-rank, so GPM's
    memory fills slower; after each task the winner counts of every unit are
    updated from that task's data, and the heterogeneous dropout of the next
    tasks steers them to the units old tasks used least. Parameters as
    :class:`GPMPlugin`.

    References
    ----------
    Abbasi et al., "Sparsity and Heterogeneous Dropout for Continual Learning
    in the Null Space of Neural Activations", CoLLAs 2022.
    """

    def attach(self, strategy: Strategy) -> None:
        from .models import KWinner

        self.k_winner_layers = [m for m in strategy.model.modules() if isinstance(m, KWinner)]
        if not self.k_winner_layers:
            raise ValueError("SparseGPM needs a model with KWinner activations, e.g. "
                             "ContinualMLP(..., k_winner_density=0.2, hetero_dropout=1.0)")
        super().attach(strategy)

    def after_training_task(self, strategy: Strategy, task: Task) -> None:
        super().after_training_task(strategy, task)
        X = self.memory_inputs(strategy, task)
        model = strategy.model
        if hasattr(model, "count_winners"):
            getattr(model, "count_winners")(X)  # noqa: B009 (an optional method)
        else:  # generic model: count from hooks on the KWinner inputs
            hooks = [m.register_forward_pre_hook(lambda m, inp: m.count(inp[0]))
                     for m in self.k_winner_layers]
            was = model.training
            try:
                with torch.no_grad():
                    forward_task(model.eval(), X, task.task_id)
            finally:
                for h in hooks:
                    h.remove()
                model.train(was)


class GPM(Strategy):
    """Gradient projection memory: ``Strategy(model, plugins=[GPMPlugin(...)])``.

    See :class:`GPMPlugin` for the method and the parameters
    ``threshold``, ``memory_samples`` and ``representation_forward``;
    ``layers``, ``bases`` and :meth:`memory_dimensions` are the plugin's.
    """

    name = "GPM"
    requires_sgd = True
    _plugin_type: type[GPMPlugin] = GPMPlugin

    def __init__(self, model: nn.Module, *, threshold: float = 0.97,
                 memory_samples: int = 300, representation_forward: Callable | None = None,
                 plugins: Iterable[Plugin] = (), **kwargs: Any) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.gpm = self._plugin_type(threshold, memory_samples, representation_forward)
        super().__init__(model, plugins=[self.gpm, *_plugin_list(plugins)], **kwargs)

    @property
    def threshold(self) -> float:
        return self.gpm.threshold

    @property
    def memory_samples(self) -> int:
        return self.gpm.memory_samples

    @property
    def representation_forward(self) -> Callable | None:
        return self.gpm.representation_forward

    @property
    def layers(self) -> list[nn.Module]:
        return self.gpm.layers

    @property
    def bases(self) -> list[torch.Tensor | None]:
        return self.gpm.bases

    def memory_inputs(self, task: Task) -> torch.Tensor:
        """The training samples of ``task`` whose layer inputs enter the memory."""
        return self.gpm.memory_inputs(self, task)

    def memory_dimensions(self) -> list[int]:
        """Number of protected directions per layer."""
        return self.gpm.memory_dimensions()


class SparseGPM(GPM):
    """GPM + k-winners + heterogeneous dropout: ``Strategy(model, plugins=[SparseGPMPlugin()])``.

    See :class:`SparseGPMPlugin` (``sparse-hetero-dropout``).
    """

    name = "GPM + sparsity + heterogeneous dropout"
    _plugin_type = SparseGPMPlugin

    @property
    def k_winner_layers(self) -> Sequence[nn.Module]:
        return cast(SparseGPMPlugin, self.gpm).k_winner_layers


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
