"""``sparse-hetero-dropout``: GPM with k-winner activations and heterogeneous dropout.

Four learners on two streams, same network width, epochs and step size:
fine-tuning, EWC, GPM (energy threshold 0.99) and GPM on a network whose
hidden layers are k-winner (10 % of units) with heterogeneous dropout
(rho = 0.5), same threshold. Streams: Continual Swiss Roll (5 segments of
two interleaved spirals, one shared 2-class head) and permuted digits (5
pixel permutations, one shared 10-class head). Scaled down from the paper's
MNIST / CIFAR / SuperDog-40 runs to what trains in seconds.

Claims and how each is judged (paired per test item of all tasks after the
whole stream, pooled over seeds, 95% bootstrap intervals):

1. ``sparsity_hd_improve_gpm``: on each stream, the sparse +
   heterogeneous-dropout learner classifies more test items correctly after
   the last task than GPM (the method it builds on);
2. ``boost_over_cl_baselines``: on each stream, it also beats EWC and
   fine-tuning (one comparison per baseline and stream).

Backward transfer and the accuracy matrices are reported as metrics and
figures.
"""

from __future__ import annotations

from dataclasses import dataclass

from mintlab.continual import (
    EWC,
    GPM,
    ContinualMLP,
    Naive,
    SparseGPM,
    continual_swiss_roll,
    lifelong_metrics,
    permuted_digits,
    run_stream,
)
from mintlab.continual.metrics import plot_accuracy_matrix

from ._continual_common import tasks_item_correct
from ._core import Experiment, Result, Settings
from ._sets_common import one_torch_thread
from .registry import register

CLAIMS = {
    "sparsity_hd_improve_gpm": "k-winner activations that enforce layer-wise sparse "
                               "activations, together with a between-task heterogeneous "
                               "dropout, on top of Gradient Projection Memory significantly "
                               "increase a continual learner's performance over a sequence of "
                               "tasks.",
    "boost_over_cl_baselines": "The approach gives a significant performance boost on various "
                               "benchmark continual learning problems.",
}


@dataclass(frozen=True, kw_only=True)
class SparseHDSettings(Settings):
    swiss_roll_epochs: int  # epochs per Continual Swiss Roll segment
    digits_epochs: int  # epochs per permuted-digits task


QUICK = SparseHDSettings(seeds=3, swiss_roll_epochs=10, digits_epochs=4)
FULL = SparseHDSettings(seeds=5, swiss_roll_epochs=60, digits_epochs=20)
EXPECTED = "partly reproduced (1 of 2)"

OURS = "GPM+sparse+HD"
_GAPS = {
    "swiss_roll": "on the Continual Swiss Roll the sparse + heterogeneous-dropout learner ends at "
                  "{ours:.3f} against GPM's {baseline:.3f} (interval of the difference "
                  "[{low:.3f}, {high:.3f}] over {n} test items): the gain varies from seed to "
                  "seed at this number of epochs per segment, and two seeds do not bound it "
                  "away from zero",
    "permuted_digits": "on permuted 8x8 digits the k-winner network (10 of 100 units active) "
                       "ends at {ours:.3f} against GPM's {baseline:.3f} (interval of the "
                       "difference [{low:.3f}, {high:.3f}]): it learns each new permutation "
                       "less well within the same epochs, which outweighs its smaller "
                       "forgetting at this scale",
}


def run(settings: SparseHDSettings = QUICK, seed: int = 0) -> Result:
    import matplotlib.pyplot as plt

    res = Result(seed=seed)
    streams = {"swiss_roll": (continual_swiss_roll(5, turns=2.0, noise=0.1, seed=seed),
                              settings.swiss_roll_epochs),
               "permuted_digits": (permuted_digits(5, seed=seed), settings.digits_epochs)}
    fig, axes = plt.subplots(2, 4, figsize=(15, 6.5))
    for row, (sname, (stream, epochs)) in enumerate(streams.items()):
        common = dict(epochs=epochs, lr=0.05, momentum=0.9, batch_size=32, seed=seed)

        def model(stream=stream, **kw):
            return ContinualMLP(stream.n_features, [100, 100], stream.head_sizes, seed=seed, **kw)

        learners = {
            "fine-tuning": (Naive, {}, {}),
            "EWC": (EWC, {"ewc_lambda": 100.0, "lr": 0.01}, {}),
            "GPM": (GPM, {"threshold": 0.99}, {}),
            OURS: (SparseGPM, {"threshold": 0.99},
                   {"k_winner_density": 0.1, "hetero_dropout": 0.5})}
        items = {}
        for col, (name, (cls, kw, model_kw)) in enumerate(learners.items()):
            strategy = cls(model(**model_kw), **{**common, **kw})
            with one_torch_thread():
                log = run_stream(strategy, stream)
            items[name] = tasks_item_correct(strategy.model, stream)
            m = lifelong_metrics(log)
            res.metrics[f"{sname}_{name}_average_accuracy"] = m.average_accuracy
            res.metrics[f"{sname}_{name}_bwt"] = m.bwt
            plot_accuracy_matrix(log, ax=axes[row, col], title=f"{sname}: {name}")
        res.compare(f"{sname}_accuracy_above_gpm", items[OURS], items["GPM"], better="higher",
                    claim="sparsity_hd_improve_gpm",
                    known_gap=_GAPS[sname],
                    description="per-item correctness on every task's test set after the last "
                                "task, sparse + heterogeneous dropout vs GPM")
        for base in ("EWC", "fine-tuning"):
            key = base.lower().replace("-", "_")
            res.compare(f"{sname}_accuracy_above_{key}", items[OURS], items[base],
                        better="higher", claim="boost_over_cl_baselines",
                        description="per-item correctness on every task's test set after the "
                                    f"last task, sparse + heterogeneous dropout vs {base}")
    fig.tight_layout()
    res.figures["accuracy_matrices"] = fig
    return res


EXPERIMENT = register(Experiment(
    "sparse-hetero-dropout", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="synthetic Continual Swiss Roll (the paper's own benchmark) and sklearn digits 8x8 "
         "(real) under five pixel permutations",
    full_scale="permuted / rotated MNIST and Fashion-MNIST with 784-input MLPs, split CIFAR-100 "
               "ResNets and ImageNet SuperDog-40 over 10-20 tasks, with sparsity-only and "
               "dropout-only ablations; GPU hours",
))
