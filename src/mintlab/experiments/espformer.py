"""``espformer``: doubly-stochastic attention from expected sliced transport plans.

The shared harness of :mod:`._attention_common`: a one-block transformer on
an offline long-range sequence task (find the single signal token among
noise tokens) and on point-cloud classification, with softmax attention and
ESP attention (4 slices, SoftSort temperature 0.05) trained alike; the full
run trains Sinkhorn attention (5 sweeps) too. Three claims of the abstract:

1. ``doubly_stochastic``: the trained ESP layer's attention on its own
   point-cloud inputs has every row sum within 0.1 of one and every column
   sum within 0.1 of ``n / m``, in every seed (a check: there is no baseline);
2. ``more_efficient_than_sinkhorn``: one forward and backward pass of ESP
   attention is faster than Sinkhorn attention's, on the log seconds of
   paired timing rounds;
3. ``improves_accuracy``: ESP is more accurate than softmax attention on each
   task ("consistently"), on per-test-item correctness paired over the same
   test items (bootstrap over items and seeds).

All three fail at our scale; each says why, with the numbers of the run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._attention_common import (
    TASKS,
    AttentionSettings,
    accuracy_figure,
    run_tasks,
    step_times,
    stochasticity,
)
from ._core import Experiment, Result
from ._sets_common import one_thread
from .registry import register

CLAIMS = {
    "doubly_stochastic": "We introduce a novel, fully parallelizable doubly-stochastic "
                         "attention mechanism based on sliced optimal transport, leveraging "
                         "Expected Sliced Transport Plans (ESP).",
    "more_efficient_than_sinkhorn": "Unlike prior approaches, our method enforces doubly "
                                    "stochasticity without iterative Sinkhorn normalization, "
                                    "significantly enhancing efficiency.",
    "improves_accuracy": "Experiments across multiple benchmark datasets demonstrate that our "
                         "enhanced attention regularization consistently improves performance "
                         "across diverse applications.",
}


@dataclass(frozen=True, kw_only=True)
class EspformerSettings(AttentionSettings):
    time_lengths: tuple[int, ...]  # sequence lengths timed (ESP vs Sinkhorn judged at the last)


QUICK = EspformerSettings(
    seeds=3, needle_length=48, needle_train=384, needle_test=300, needle_epochs=8,
    clouds_train=12, clouds_test=30, clouds_epochs=30, extra_attentions=(),
    time_repeats=4, time_lengths=(256,))
FULL = EspformerSettings(
    seeds=3, needle_length=256, needle_train=2000, needle_test=1000, needle_epochs=15,
    clouds_train=48, clouds_test=40, clouds_epochs=30, extra_attentions=("sinkhorn",),
    time_repeats=7, time_lengths=(256, 512, 1024))
EXPECTED = "not reproduced at this scale"

DS_TOLERANCE = 0.1  # largest row / column error called doubly stochastic


def run(settings: EspformerSettings = QUICK, seed: int = 0) -> Result:
    with one_thread():
        return _run(settings, seed)


def _run(settings, seed):
    res = Result(seed=seed)
    names = ("softmax", "esp", *settings.extra_attentions)
    correct, models, inputs = run_tasks(names, settings, seed)
    for (task, name), c in correct.items():
        res.metrics[f"accuracy_{task}_{name}"] = float(c.mean())
    err = {}
    for task in TASKS:
        for name in names:
            err[(task, name)] = stochasticity(models[(task, name)], inputs[task])
            r, c = err[(task, name)]
            res.metrics[f"row_error_{task}_{name}"] = r
            res.metrics[f"column_error_{task}_{name}"] = c
    times = {}
    for n in settings.time_lengths:
        times[n] = step_times(("sinkhorn", "esp"), n, settings.time_repeats)
        for name, t in times[n].items():
            res.metrics[f"seconds_{name}_n{n}"] = float(np.median(t))

    # 1. double stochasticity of the trained layer, no Sinkhorn sweep
    res.check("esp_doubly_stochastic", max(err[("points", "esp")]), DS_TOLERANCE, "<=",
              claim="doubly_stochastic",
              description="largest row- or column-sum error of the trained ESP attention on "
                          "16 test point clouds, every seed (softmax's column error "
                          f"{err[('points', 'softmax')][1]:.2f} in this seed)",
              known_gap="The trained ESP layer's largest row/column error is {worst:.3f} (mean "
                        "over seeds {measured:.3f}), above {threshold}: SoftSort at "
                        "temperature 0.05 leaks mass between projections closer than the "
                        "temperature, and trained features cluster. The error vanishes as "
                        "the temperature falls (tests/nn/test_attention.py), at the cost of "
                        "vanishing gradients.")

    # 2. efficiency against Sinkhorn attention, paired timing rounds
    n = settings.time_lengths[-1]
    res.compare("esp_faster_than_sinkhorn", np.log(times[n]["esp"]),
                np.log(times[n]["sinkhorn"]), better="lower",
                claim="more_efficient_than_sinkhorn",
                description=f"log seconds of one forward + backward pass at n = {n}, ESP "
                            "(4 slices) vs Sinkhorn attention (5 sweeps), paired rounds",
                known_gap="ESP is slower on this CPU: log(t_ESP / t_Sinkhorn) = {diff:.2f}, "
                          "interval [{low:.2f}, {high:.2f}]. ESP builds two n x n SoftSort "
                          "matrices per slice and head and applies them in O(n^2 d); with 4 "
                          "slices that is more arithmetic than 5 log-domain Sinkhorn sweeps "
                          "over one n x n matrix. The paper's gain is on GPUs, where the "
                          "sweeps' sequential dependency costs more than the arithmetic.")

    # 3. accuracy against softmax attention, each task, paired test items
    for task in TASKS:
        res.compare(f"esp_more_accurate_than_softmax_{task}", correct[(task, "esp")],
                    correct[(task, "softmax")], better="higher", claim="improves_accuracy",
                    description=f"{task} task: per-test-item correctness, ESP vs softmax "
                                "attention (same items, same training recipe)",
                    known_gap=_ACCURACY_GAP[task])
    res.figures["espformer_accuracy"] = accuracy_figure(correct, names, "espformer")
    return res


_ACCURACY_GAP = {
    "needle": "ESP {ours:.3f} vs softmax {baseline:.3f} (difference interval [{low:.3f}, "
              "{high:.3f}]): a doubly-stochastic map lets the single signal token pass at most "
              "one query's worth of attention mass, so after mean pooling it is diluted as in "
              "an average; softmax attention can send every query to it.",
    "points": "ESP {ours:.3f} vs softmax {baseline:.3f} (difference interval [{low:.3f}, "
              "{high:.3f}]): ESP trails softmax on the point clouds also with four times the "
              "training clouds or three times the epochs, as Sinkhorn attention does; in a "
              "one-block model the balancing constraint costs accuracy here. The paper's gains "
              "are with deeper models on ModelNet40.",
}


EXPERIMENT = register(Experiment(
    "espformer", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="synthetic: needle-in-noise token sequences and procedural 3D point-cloud shapes",
    full_scale="the paper's ViT image classification, ModelNet40 point clouds, IMDb sentiment "
               "and IWSLT translation, with timings on a GPU against Sinkformer",
))
