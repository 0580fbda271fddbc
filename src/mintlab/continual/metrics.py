"""Lifelong-learning metrics (``lifelong-metrics``) and the classic continual-learning scores.

A :class:`LifelongLog` records a syllabus as the paper's framework sees it:
*learning blocks* (one task trained, with its learning curve: performance
after each epoch) and *evaluation blocks* (every task evaluated, the learner
frozen). From a log, :func:`lifelong_metrics` computes the domain-agnostic
suite, with the same definitions as the authors' ``l2metrics`` package
(without its optional smoothing and normalisation):

* **terminal performance** of a block: mean of the last 10 % of a learning
  curve, or the mean of an evaluation block;
* **performance maintenance** (MRLEP): for every evaluation of a task after
  the first evaluation that follows its training, the difference to the most
  recent such post-training evaluation, averaged per task (< 0 = forgetting);
* **forward transfer** of task ``i`` to task ``j`` (``j`` not yet trained):
  ``tp_after / tp_before`` (``ratio``) or ``(after - before) / (after +
  before)`` (``contrast``), from the evaluations of ``j`` just before and
  just after a learning block of ``i``; **backward transfer** the same for a
  ``j`` that was trained before ``i``;
* **performance relative to a single-task expert** (STE): the sum of the
  task's learning curve over its first ``n`` experiences divided by the same
  sum for an expert trained on that task alone;
* **sample efficiency**: ``(s / s_ste) * (e_ste / e)``, with ``s`` the
  saturation value (maximum of the moving-average learning curve) and ``e``
  the experiences needed to reach it; 0 when the curve falls or saturates
  below 20 % of the expert's.

Classic scores from the task x time accuracy matrix ``R`` (``R[i, j]`` =
performance on task ``j`` after learning block ``i``): average accuracy
``mean_j R[T-1, j]``, backward transfer ``BWT = mean_{j<T-1} R[T-1, j] -
R[j, j]`` and forward transfer ``FWT = mean_{j>0} R[j-1, j] - b_j`` (``b``
= the evaluation before any training), as in GEM (Lopez-Paz & Ranzato).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import permutations
from typing import Any

import numpy as np

from .._artifacts import read_json, write_json
from .._validation import check_choice
from ..errors import ArtifactError
from ..typing import ArrayLike
from ._checks import float_array, item_list
from .benchmarks import Task
from .strategies import Plugin, Strategy

__all__ = ["LifelongLog", "LogPlugin", "LifelongMetrics", "lifelong_metrics",
           "terminal_performance", "performance_maintenance", "transfer",
           "relative_performance", "sample_efficiency", "accuracy_matrix", "average_accuracy",
           "backward_transfer", "forward_transfer", "saturation", "moving_average",
           "plot_accuracy_matrix", "plot_learning_curves"]


@dataclass
class _Block:
    kind: str          # "train" | "eval"
    values: dict       # task index -> list of performance values
    exp_nums: dict     # task index -> list of global experience numbers


class LifelongLog:
    """An evaluation log: learning blocks with curves, evaluation blocks with scores.

    Parameters
    ----------
    task_names : sequence of str
        Names of the tasks, in any order (blocks refer to them by index or name).

    Examples
    --------
    >>> log = LifelongLog(["a", "b"])
    >>> log.add_evaluation({"a": 0.5, "b": 0.5})
    >>> log.add_training("a", [0.6, 0.8, 0.9])
    >>> log.add_evaluation({"a": 0.9, "b": 0.55})
    >>> log.add_training("b", [0.7, 0.9])
    >>> log.add_evaluation({"a": 0.8, "b": 0.9})
    >>> accuracy_matrix(log)[0].round(2).tolist()
    [[0.9, 0.55], [0.8, 0.9]]
    """

    def __init__(self, task_names: Sequence[str]) -> None:
        names = [str(n) for n in item_list(task_names, "task_names", "task names")]
        if not names:
            raise ValueError("task_names must name at least one task")
        if len(set(names)) != len(names):
            raise ValueError(f"task_names must be distinct, got {names}")
        self.task_names = names
        self.blocks: list[_Block] = []
        self._exp = 0

    # ------------------------------------------------------------ building
    def _index(self, task: Any) -> int:
        if isinstance(task, str):
            if task not in self.task_names:
                raise ValueError(f"unknown task {task!r}; known: {self.task_names}")
            return self.task_names.index(task)
        if isinstance(task, bool) or not isinstance(task, int | np.integer):
            raise TypeError(f"task must be a task name or an integer index, got "
                            f"{type(task).__name__} {task!r}")
        i = int(task)
        if not 0 <= i < len(self.task_names):
            raise ValueError(f"task index must lie in [0, {len(self.task_names)}), got {task}")
        return i

    @staticmethod
    def _values(values: Any, name: str) -> list[float]:
        v = float_array(values, name, min_size=0).reshape(-1)
        if v.size == 0:
            raise ValueError(f"{name} must contain at least one value")
        return [float(x) for x in v]

    def _exps(self, n: int) -> list[int]:
        out = list(range(self._exp, self._exp + n))
        self._exp += n
        return out

    def add_training(self, task: str | int, curve: Sequence[float]) -> None:
        """A learning block on ``task`` with its learning curve (one value per experience)."""
        i = self._index(task)
        v = self._values(curve, "curve")
        self.blocks.append(_Block("train", {i: v}, {i: self._exps(len(v))}))

    def extend_training(self, task: str | int, values: Sequence[float]) -> None:
        """Append experiences to the current learning block (which must be on ``task``)."""
        i = self._index(task)
        if not self.blocks or self.blocks[-1].kind != "train" or i not in self.blocks[-1].values:
            self.add_training(task, values)
            return
        v = self._values(values, "values")
        self.blocks[-1].values[i].extend(v)
        self.blocks[-1].exp_nums[i].extend(self._exps(len(v)))

    def add_evaluation(self, scores: Mapping) -> None:
        """An evaluation block: ``{task (name or index): performance}`` for some or all tasks."""
        if not isinstance(scores, Mapping):
            raise TypeError(f"scores must be a mapping {{task: performance}}, got "
                            f"{type(scores).__name__}")
        if not scores:
            raise ValueError("scores must hold at least one task")
        vals, exps = {}, {}
        for k in sorted(scores, key=self._index):
            i = self._index(k)
            vals[i] = self._values([scores[k]], f"scores[{k!r}]")
            exps[i] = self._exps(1)
        self.blocks.append(_Block("eval", vals, exps))

    # ---------------------------------------------------------- reading
    def regimes(self) -> list[dict]:
        """The log as l2metrics regimes: one per (block, task), in order.

        Each: ``regime``, ``block``, ``kind`` ("train"/"test"), ``task`` (index),
        ``values``, ``exp_nums``.
        """
        out: list[dict] = []
        for b, block in enumerate(self.blocks):
            for i in block.values:
                out.append({"regime": len(out), "block": b,
                            "kind": "train" if block.kind == "train" else "test", "task": i,
                            "values": list(block.values[i]), "exp_nums": list(block.exp_nums[i])})
        return out

    def learning_curve(self, task: str | int) -> tuple[np.ndarray, np.ndarray]:
        """``(exp_nums, values)`` of every learning block of ``task``, concatenated."""
        i = self._index(task)
        e, v = [], []
        for r in self.regimes():
            if r["kind"] == "train" and r["task"] == i:
                e += r["exp_nums"]
                v += r["values"]
        return np.asarray(e, dtype=np.int64), np.asarray(v, dtype=np.float64)

    def to_records(self) -> list[dict]:
        """One row per experience: ``exp_num, block_num, block_type, task_name, performance``
        (the columns of an l2logger data log)."""
        rows = []
        for r in self.regimes():
            for e, v in zip(r["exp_nums"], r["values"], strict=True):
                rows.append({"exp_num": e, "block_num": r["block"], "block_type": r["kind"],
                             "block_subtype": "wake", "task_name": self.task_names[r["task"]],
                             "performance": v})
        rows.sort(key=lambda d: d["exp_num"])
        return rows

    def to_json(self) -> dict:
        return {"task_names": self.task_names,
                "blocks": [{"kind": b.kind,
                            "values": {self.task_names[i]: v for i, v in b.values.items()}}
                           for b in self.blocks]}

    @classmethod
    def from_json(cls, data: Mapping) -> LifelongLog:
        """Rebuild a log from :meth:`to_json`'s dict; ``ValueError`` if it is not one."""
        if not isinstance(data, Mapping):
            raise TypeError(f"data must be a mapping, got {type(data).__name__}")
        missing = [k for k in ("task_names", "blocks") if k not in data]
        if missing:
            raise ValueError(f"data lacks the entries {missing}")
        if not isinstance(data["task_names"], list) or not isinstance(data["blocks"], list):
            raise ValueError("data['task_names'] and data['blocks'] must be lists")
        log = cls(data["task_names"])
        for j, b in enumerate(data["blocks"]):
            if not isinstance(b, Mapping) or not isinstance(b.get("values"), Mapping):
                raise ValueError(f"block {j} must be an object with 'kind' and 'values'")
            values = b["values"]
            if not all(isinstance(v, list) and v for v in values.values()):
                raise ValueError(f"block {j}: every task's values must be a non-empty list")
            if b.get("kind") == "train":
                if len(values) != 1:
                    raise ValueError(f"block {j}: a learning block holds one task, got "
                                     f"{len(values)}")
                (name, curve), = values.items()
                log.add_training(name, curve)
            elif b.get("kind") == "eval":
                log.add_evaluation({k: v[0] for k, v in values.items()})
            else:
                raise ValueError(f"block {j}: unknown block kind {b.get('kind')!r}")
        return log

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the log as JSON (atomically: a crash never leaves half a file)."""
        write_json(self.to_json(), path, indent=1)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LifelongLog:
        """Read a log written by :meth:`save`.

        Raises :class:`mintlab.ArtifactError` naming the file if it is missing,
        empty, truncated, not JSON or not a lifelong log.
        """
        data = read_json(path, what="lifelong log", required=("task_names", "blocks"))
        try:
            return cls.from_json(data)
        except (TypeError, ValueError) as err:
            raise ArtifactError(path, f"the lifelong log is not a valid log: {err}") from None

    def __repr__(self) -> str:
        k = [b.kind for b in self.blocks]
        return (f"LifelongLog(tasks={len(self.task_names)}, train_blocks={k.count('train')}, "
                f"eval_blocks={k.count('eval')})")


class LogPlugin(Plugin):
    """Fills a :class:`LifelongLog` from a strategy's epochs and evaluations."""

    def __init__(self, log: LifelongLog, task_names: Mapping[int, str] | None = None) -> None:
        self.log = log
        self.task_names = dict(task_names) if task_names is not None else dict(
            enumerate(log.task_names))

    def after_training_epoch(self, strategy: Strategy, task: Task, epoch: int,
                             performance: float) -> None:
        if epoch == 0:
            self.log.add_training(task.name, [performance])
        else:
            self.log.extend_training(task.name, [performance])

    def after_evaluation(self, strategy: Strategy, results: dict[int, float]) -> None:
        scores = {}
        for tid, v in results.items():
            if tid not in self.task_names:
                raise ValueError(f"task id {tid} is not in the log's tasks {self.task_names}")
            scores[self.task_names[tid]] = v
        self.log.add_evaluation(scores)


# --------------------------------------------------------------- building blocks
def moving_average(x: ArrayLike, window: int | None = None) -> np.ndarray:
    """Flat moving average with reflected ends, same length as ``x`` (l2metrics' smoothing).

    ``window=None`` uses ``min(int(0.2 len(x)), 100)``; windows below 3 leave
    ``x`` unchanged.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"x must be one-dimensional, got shape {x.shape}")
    if window is None or x.size < window:
        window = min(int(x.size * 0.2), 100)
    if window < 3:
        return x
    s = np.r_[x[window - 1:0:-1], x, x[-2:-window - 1:-1]]
    y = np.convolve(np.ones(window) / window, s, mode="valid")
    return y[int(np.floor(window / 2 - 1)):-int(np.ceil(window / 2))]


def saturation(curve: ArrayLike) -> tuple[float, int]:
    """``(saturation value, experiences to saturation)``: max of the smoothed curve and its
    first index."""
    y = moving_average(curve)
    if y.size == 0:
        return math.nan, 0
    s = float(np.max(y))
    return s, int(np.flatnonzero(y == s)[0])


def _terminal(values, kind: str) -> float:
    v = np.asarray(values, dtype=np.float64)
    ratio = 1.0 if kind == "test" else 0.1
    return float(np.mean(v[int((1 - ratio) * v.size):]))


def terminal_performance(log: LifelongLog) -> list[float]:
    """Terminal performance of every regime of ``log.regimes()``, in order."""
    _check_log(log)
    return [_terminal(r["values"], r["kind"]) for r in log.regimes()]


def performance_maintenance(log: LifelongLog) -> dict[str, float]:
    """Performance maintenance (MRLEP) per task; tasks without a later evaluation are left out."""
    _check_log(log)
    regs = log.regimes()
    tp = terminal_performance(log)
    out = {}
    for i, name in enumerate(log.task_names):
        train = np.array([r["regime"] for r in regs if r["task"] == i and r["kind"] == "train"])
        test = np.array([r["regime"] for r in regs if r["task"] == i and r["kind"] == "test"])
        if not len(train) or not len(test):
            continue
        refs = np.array([test[np.argmax(test > x)] for x in train if np.any(test > x)])
        if not len(refs):
            continue
        vals = [tp[t] - tp[refs[refs < t][-1]] for t in test
                if np.any(t > refs) and t not in refs]
        if vals:
            out[name] = float(np.mean(vals))
    return out


def transfer(log: LifelongLog, direction: str = "forward", method: str = "ratio"
             ) -> dict[tuple[str, str], list[float]]:
    """Forward or backward transfer values per (trained task, evaluated task) pair.

    ``direction="forward"``: learning blocks of task ``i`` before task ``j``
    was first trained; ``"backward"``: after. Each such block between two
    evaluations of ``j`` gives one value (``method``: ``"ratio"`` or
    ``"contrast"``).
    """
    _check_log(log)
    if direction not in ("forward", "backward"):
        raise ValueError(f"direction must be 'forward' or 'backward', got {direction!r}")
    if method not in ("ratio", "contrast"):
        raise ValueError(f"method must be 'ratio' or 'contrast', got {method!r}")
    regs = log.regimes()
    tp = terminal_performance(log)
    out: dict[tuple[str, str], list[float]] = {}
    n = len(log.task_names)
    for i, j in permutations(range(n), 2):
        train_i = np.array([r["regime"] for r in regs if r["task"] == i and r["kind"] == "train"])
        test_j = [r["regime"] for r in regs if r["task"] == j and r["kind"] == "test"]
        train_j = np.array([r["regime"] for r in regs if r["task"] == j and r["kind"] == "train"])
        if not len(train_i):
            continue
        if direction == "forward":
            valid = train_i[train_i < train_j.min()] if len(train_j) else train_i
        else:
            valid = train_i[train_i > train_j.min()] if len(train_j) else []
        for r in valid:
            for t1, t2 in zip(test_j[:-1], test_j[1:], strict=True):
                if t1 < r < t2:
                    a, b = tp[t1], tp[t2]
                    if method == "ratio" and a != 0:
                        out.setdefault((log.task_names[i], log.task_names[j]), []).append(b / a)
                    elif method == "contrast" and a + b != 0:
                        out.setdefault((log.task_names[i], log.task_names[j]), []).append(
                            (b - a) / (a + b))
    return out


def _check_ste(ste: Any) -> dict[str, Any]:
    """Check the single-task-expert curves: ``{task name: curve or list of curves}``, finite."""
    if ste is None:
        return {}
    if not isinstance(ste, Mapping):
        raise TypeError(f"ste must be a mapping {{task name: learning curve(s)}}, got "
                        f"{type(ste).__name__}")
    for name, c in ste.items():
        if isinstance(c, str | bytes) or not hasattr(c, "__len__") or len(c) == 0:
            raise ValueError(f"ste[{name!r}] must be a non-empty learning curve or list of "
                             f"curves, got {c!r}")
        curves = [c] if np.ndim(c[0]) == 0 else list(c)
        for k, x in enumerate(curves):
            float_array(x, f"ste[{name!r}]" + (f"[{k}]" if len(curves) > 1 else ""), ndim=1)
    return dict(ste)


def _check_log(log: Any) -> None:
    if not isinstance(log, LifelongLog):
        raise TypeError(f"log must be a LifelongLog, got {type(log).__name__}")


def _ste_curves(ste, name) -> list[np.ndarray]:
    c = ste.get(name)
    if c is None:
        return []
    c = [c] if np.ndim(c[0]) == 0 else list(c)
    return [np.asarray(x, dtype=np.float64) for x in c]


def relative_performance(log: LifelongLog, ste: Mapping[str, Sequence]) -> dict[str, float]:
    """Performance relative to the single-task expert, per task (mean over expert runs).

    ``ste`` maps a task name to one learning curve of its expert, or to a
    list of curves (several expert runs).
    """
    _check_log(log)
    ste = _check_ste(ste)
    out = {}
    for name in log.task_names:
        _, v = log.learning_curve(name)
        curves = _ste_curves(ste, name)
        if not len(v) or not curves:
            continue
        vals = []
        for c in curves:
            m = min(len(v), len(c))
            vals.append(float(np.nansum(v[:m]) / np.nansum(c[:m])))
        out[name] = float(np.mean(vals))
    return out


def sample_efficiency(log: LifelongLog, ste: Mapping[str, Sequence]) -> dict[str, float]:
    """Sample efficiency relative to the single-task expert, per task (mean over expert runs)."""
    _check_log(log)
    ste = _check_ste(ste)
    out = {}
    for name in log.task_names:
        e, v = log.learning_curve(name)
        curves = _ste_curves(ste, name)
        if not len(v) or not curves:
            continue
        slope = np.polyfit(e, v, 1)[0] if len(v) > 1 else 0.0
        s, k = saturation(v)
        if k == 0:
            continue  # saturated at the first experience: undefined, as in l2metrics
        vals = []
        for c in curves:
            s_ste, k_ste = saturation(c)
            if k_ste == 0:
                continue
            vals.append(0.0 if (s < 0.2 * s_ste or slope < 0) else (s / s_ste) * (k_ste / k))
        if vals:
            out[name] = float(np.mean(vals))
    return out


# ------------------------------------------------------------ classic scores
def accuracy_matrix(log: LifelongLog) -> tuple[np.ndarray, np.ndarray | None]:
    """``(R, b)``: ``R[i, j]`` = evaluation of task ``j`` right after learning block ``i``,
    ``b[j]`` = the evaluation before any training (or ``None``). Missing entries are NaN."""
    _check_log(log)
    n = len(log.task_names)
    rows, b, seen_train = [], None, False
    for k, block in enumerate(log.blocks):
        if block.kind == "train":
            seen_train = True
            nxt = log.blocks[k + 1] if k + 1 < len(log.blocks) else None
            row = np.full(n, np.nan)
            if nxt is not None and nxt.kind == "eval":
                for i, v in nxt.values.items():
                    row[i] = v[0]
            rows.append(row)
        elif not seen_train and b is None:
            b = np.full(n, np.nan)
            for i, v in block.values.items():
                b[i] = v[0]
    return (np.array(rows) if rows else np.zeros((0, n))), b


def _trained_order(log: LifelongLog) -> list[int]:
    return [next(iter(b.values)) for b in log.blocks if b.kind == "train"]


def average_accuracy(log: LifelongLog) -> float:
    """Mean final performance over all tasks that were trained."""
    _check_log(log)
    R, _ = accuracy_matrix(log)
    order = sorted(set(_trained_order(log)))
    return float(np.nanmean(R[-1, order]))


def backward_transfer(log: LifelongLog) -> float:
    """GEM's BWT: mean over tasks but the last of (final - just after own training)."""
    _check_log(log)
    R, _ = accuracy_matrix(log)
    order = _trained_order(log)
    if len(order) < 2:
        return math.nan
    last = {t: k for k, t in enumerate(order)}
    vals = [R[-1, t] - R[k, t] for t, k in last.items() if k < len(order) - 1]
    return float(np.nanmean(vals)) if vals else math.nan


def forward_transfer(log: LifelongLog) -> float:
    """GEM's FWT: mean over tasks but the first of (before own training - initial)."""
    _check_log(log)
    R, b = accuracy_matrix(log)
    order = _trained_order(log)
    if b is None or len(order) < 2:
        return math.nan
    first: dict[int, int] = {}
    for k, t in enumerate(order):
        first.setdefault(t, k)
    vals = [R[k - 1, t] - b[t] for t, k in first.items() if k > 0]
    return float(np.nanmean(vals)) if vals else math.nan


@dataclass(frozen=True)
class LifelongMetrics:
    """The metric suite of one log. Per-task dicts map task name -> value; ``summary``
    averages each over tasks (and pairs, for transfer)."""

    performance_maintenance: dict
    forward_transfer: dict
    backward_transfer: dict
    relative_performance: dict
    sample_efficiency: dict
    average_accuracy: float
    bwt: float
    fwt: float
    summary: dict = field(default_factory=dict)


def _mean(d: Mapping) -> float:
    vals = [x for v in d.values() for x in (v if isinstance(v, list) else [v])]
    return float(np.mean(vals)) if vals else math.nan


def lifelong_metrics(log: LifelongLog, ste: Mapping[str, Sequence] | None = None,
                     transfer_method: str = "ratio") -> LifelongMetrics:
    """Every metric of the suite for one log (``ste`` optional: expert learning curves).

    Examples
    --------
    >>> log = LifelongLog(["a", "b"])
    >>> log.add_evaluation({"a": 0.5, "b": 0.5})
    >>> log.add_training("a", [0.6, 0.8, 0.9])
    >>> log.add_evaluation({"a": 0.9, "b": 0.6})
    >>> log.add_training("b", [0.7, 0.9])
    >>> log.add_evaluation({"a": 0.8, "b": 0.9})
    >>> m = lifelong_metrics(log)
    >>> round(m.summary["performance_maintenance"], 3), round(m.bwt, 3)
    (-0.1, -0.1)
    """
    if not isinstance(log, LifelongLog):
        raise TypeError(f"log must be a LifelongLog, got {type(log).__name__}")
    check_choice(transfer_method, "transfer_method", ("ratio", "contrast"))
    ste = _check_ste(ste)
    pm = performance_maintenance(log)
    ft = {f"{a} -> {b}": v for (a, b), v in transfer(log, "forward", transfer_method).items()}
    bt = {f"{a} -> {b}": v for (a, b), v in transfer(log, "backward", transfer_method).items()}
    rp = relative_performance(log, ste) if ste else {}
    se = sample_efficiency(log, ste) if ste else {}
    aa, bwt, fwt = average_accuracy(log), backward_transfer(log), forward_transfer(log)
    summary = {"performance_maintenance": _mean(pm), "forward_transfer": _mean(ft),
               "backward_transfer": _mean(bt), "relative_performance": _mean(rp),
               "sample_efficiency": _mean(se), "average_accuracy": aa, "bwt": bwt, "fwt": fwt}
    return LifelongMetrics(pm, ft, bt, rp, se, aa, bwt, fwt, summary)


# ------------------------------------------------------------------- plots
def plot_accuracy_matrix(log: LifelongLog, ax: Any = None, title: str | None = None) -> Any:
    """Heatmap of the task x time matrix ``R`` (rows: after each learning block)."""
    _check_log(log)
    import matplotlib.pyplot as plt

    R, _ = accuracy_matrix(log)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.0 + 0.6 * R.shape[1], 1.0 + 0.5 * max(1, R.shape[0])))
    im = ax.imshow(R, vmin=0, vmax=max(1.0, float(np.nanmax(R)) if R.size else 1.0),
                   cmap="viridis")
    order = _trained_order(log)
    ax.set_xticks(range(R.shape[1]), [str(i) for i in range(R.shape[1])])
    ax.set_yticks(range(R.shape[0]), [f"after {i}" for i in order])
    ax.set_xlabel("evaluated task")
    for i in range(R.shape[0]):
        for j in range(R.shape[1]):
            if np.isfinite(R[i, j]):
                ax.text(j, i, f"{R[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="w" if R[i, j] < 0.6 else "k")
    ax.figure.colorbar(im, ax=ax, fraction=0.05)
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def plot_learning_curves(log: LifelongLog, ste: Mapping[str, Sequence] | None = None,
                         ax: Any = None, title: str | None = None) -> Any:
    """Learning curves of every block (solid), evaluations (dots) and expert curves (dashed)."""
    _check_log(log)
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3.5))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for r in log.regimes():
        c = colors[r["task"] % len(colors)]
        if r["kind"] == "train":
            ax.plot(r["exp_nums"], r["values"], "-", color=c, lw=1.5)
            for curve in _ste_curves(ste or {}, log.task_names[r["task"]])[:1]:
                x0 = r["exp_nums"][0]
                ax.plot(np.arange(x0, x0 + len(curve)), curve, "--", color=c, lw=0.8)
        else:
            ax.plot(r["exp_nums"], r["values"], ".", color=c, ms=4)
    for i, name in enumerate(log.task_names):
        ax.plot([], [], color=colors[i % len(colors)], label=name)
    ax.set_xlabel("experience (epoch or evaluation)")
    ax.set_ylabel("performance")
    ax.legend(fontsize=7, ncol=2)
    if title:
        ax.set_title(title, fontsize=9)
    return ax
