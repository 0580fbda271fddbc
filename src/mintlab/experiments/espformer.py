"""``espformer``: doubly-stochastic attention from expected sliced transport plans.

The shared harness of :mod:`._attention_common`: a one-block transformer on
an offline long-range sequence task (find the single signal token among 128
noise tokens) and on point-cloud classification, with softmax, Sinkhorn
(5 sweeps) and ESP attention (4 slices, SoftSort temperature 0.05).
Double stochasticity is measured on the trained ESP layer's own inputs;
time is one forward and backward pass of the layer alone.
"""

from __future__ import annotations

import numpy as np

from ._attention_common import accuracy_figure, run_tasks, step_seconds, stochasticity
from ._core import Experiment, Result
from ._sets_common import one_torch_thread
from .registry import register

CLAIM = (
    "Averaging soft sliced transport plans gives doubly-stochastic attention without "
    "Sinkhorn iterations, cheaper than Sinkhorn attention and at least as accurate as softmax."
)
NAMES = ("softmax", "sinkhorn", "esp")


def run(quick: bool = True, seed: int = 0) -> Result:
    with one_torch_thread():
        return _run(quick, seed)


def _run(quick, seed):
    res = Result()
    acc, models, inputs = run_tasks(NAMES, quick, seed)
    for (task, name), a in acc.items():
        res.metrics[f"accuracy_{task}_{name}"] = a
    err = {}
    for task in ("points", "needle"):
        for name in NAMES:
            err[(task, name)] = stochasticity(models[(task, name)], inputs[task])
            r, c = err[(task, name)]
            res.metrics[f"row_error_{task}_{name}"] = r
            res.metrics[f"column_error_{task}_{name}"] = c
    lengths = (256, 512) if quick else (256, 512, 1024)
    secs = {(name, n): step_seconds(name, n) for name in NAMES for n in lengths}
    for (name, n), t in secs.items():
        res.metrics[f"seconds_{name}_n{n}"] = t

    res.check("esp_doubly_stochastic", max(err[("points", "esp")]), 0.1, "<=",
              description="largest row- or column-sum error of the trained ESP attention on "
                          "point-cloud inputs (softmax: column error "
                          f"{err[('points', 'softmax')][1]:.2f}; Sinkhorn, 5 sweeps: "
                          f"{err[('points', 'sinkhorn')][1]:.2f})",
              known_gap="Within 0.2, not 0.1, at temperature 0.05 (quick run: rows 0.19, "
                        "columns 0.09 on point clouds; 0.42 / 0.34 on the token task, whose "
                        "projections take few distinct values): SoftSort leaks mass between "
                        "projections closer than about the temperature, and trained features "
                        "cluster. The error vanishes as the temperature falls (tested), at "
                        "the cost of vanishing gradients.")
    gain = float(np.mean([acc[(t, "esp")] - acc[(t, "softmax")] for t in ("needle", "points")]))
    res.check("esp_as_accurate_as_softmax", gain, 0.0, ">=",
              description="test accuracy ESP minus softmax, mean of the two tasks "
                          f"(needle {acc[('needle', 'esp')]:.2f} vs "
                          f"{acc[('needle', 'softmax')]:.2f}, points "
                          f"{acc[('points', 'esp')]:.2f} vs {acc[('points', 'softmax')]:.2f})",
              known_gap="Not at our scale. On the needle task a doubly-stochastic map lets the "
                        "single signal token pass at most one query's worth of attention "
                        "mass, so after mean pooling it is diluted as in an average (quick "
                        "run: ESP 0.57 vs softmax 1.00; Sinkhorn with 5 sweeps, only partly "
                        "balanced, still reaches 1.00). On point clouds ESP 0.66 vs 0.78.")
    n = lengths[-1]
    res.check("esp_faster_than_sinkhorn", secs[("sinkhorn", n)] / secs[("esp", n)], 1.0, ">=",
              description=f"Sinkhorn (5 sweeps) / ESP (4 slices) time at n = {n}",
              known_gap="ESP builds two SoftSort matrices (n x n) per slice and head and "
                        "applies them in O(n^2 d); with 4 slices that is more work than 5 "
                        "log-domain Sinkhorn sweeps over one n x n matrix on this CPU (the "
                        "paper's gain is on GPUs, where the sweeps' sequential dependency "
                        "matters more than the arithmetic).")
    res.figures["espformer_accuracy"] = accuracy_figure(acc, NAMES, "espformer")
    return res


EXPERIMENT = register(Experiment("espformer", CLAIM, run))
