"""``lifelong-metrics``: the domain-agnostic metric suite ranks three continual learners.

Fine-tuning, replay and GPM learn the five tasks of split digits (one head
per task) in the same order with the same budget; single-task experts
(one fresh network per task, same epochs) give the reference curves. The
suite (performance maintenance, forward / backward transfer, performance
relative to the expert, sample efficiency) is computed from each run's log.

Claims checked: replay and GPM maintain performance better than fine-tuning
(stability), and the most plastic learner, fine-tuning, learns each new task
at least as well relative to the expert as GPM does (the
stability-plasticity trade-off the suite is meant to expose).
"""

from __future__ import annotations

from mintlab.continual import GPM, ContinualMLP, Naive, Replay, lifelong_metrics, run_stream
from mintlab.continual.benchmarks import split_digits
from mintlab.continual.metrics import plot_accuracy_matrix, plot_learning_curves

from ._continual_common import expert_curves
from ._core import Experiment, Result
from .registry import register

CLAIM = ("A domain-agnostic suite of lifelong-learning metrics (performance maintenance, "
         "transfer, performance relative to a single-task expert, sample efficiency) computed "
         "from evaluation logs characterises learners and exposes the stability-plasticity "
         "trade-off.")


def run(quick: bool = True, seed: int = 0) -> Result:
    import matplotlib.pyplot as plt

    res = Result()
    stream = split_digits(5, seed=seed)
    epochs = 8 if quick else 20
    common = dict(epochs=epochs, lr=0.02, momentum=0.9, batch_size=32, seed=seed)

    def model():
        return ContinualMLP(stream.n_features, [100, 100], stream.head_sizes, seed=seed)

    ste = expert_curves(stream, model, **common)
    learners = {"fine-tuning": lambda: Naive(model(), **common),
                "replay": lambda: Replay(model(), memory_per_task=20, **common),
                "GPM": lambda: GPM(model(), threshold=0.97, **common)}
    logs, suites = {}, {}
    for name, make in learners.items():
        logs[name] = run_stream(make(), stream)
        suites[name] = lifelong_metrics(logs[name], ste)
        for k, v in suites[name].summary.items():
            res.metrics[f"{name}_{k}"] = v

    pm = {k: s.summary["performance_maintenance"] for k, s in suites.items()}
    rp = {k: s.summary["relative_performance"] for k, s in suites.items()}
    for other in ("replay", "GPM"):
        res.check(f"{other.lower()}_maintains_better_than_fine_tuning",
                  pm[other] - pm["fine-tuning"], 0.0, ">",
                  description=f"performance maintenance of {other} minus that of fine-tuning "
                              f"({pm[other]:.3f} vs {pm['fine-tuning']:.3f})")
    res.check("fine_tuning_most_plastic", rp["fine-tuning"] - rp["GPM"], 0.0, ">=",
              description="performance relative to the single-task expert: fine-tuning minus "
                          f"GPM ({rp['fine-tuning']:.3f} vs {rp['GPM']:.3f}); GPM's frozen "
                          "subspaces cost plasticity")

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    for ax, (name, log) in zip(axes, logs.items(), strict=True):
        plot_accuracy_matrix(log, ax=ax, title=f"{name}: accuracy after each task")
    fig.tight_layout()
    res.figures["accuracy_matrices"] = fig
    fig, axes = plt.subplots(3, 1, figsize=(7, 8), sharex=True)
    for ax, (name, log) in zip(axes, logs.items(), strict=True):
        plot_learning_curves(log, ste, ax=ax, title=f"{name} (dashed: single-task experts)")
    fig.tight_layout()
    res.figures["learning_curves"] = fig
    return res


EXPERIMENT = register(Experiment("lifelong-metrics", CLAIM, run))
