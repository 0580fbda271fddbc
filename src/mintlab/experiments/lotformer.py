"""``lotformer``: linear-time doubly-stochastic attention through a learned pivot measure.

The shared harness of :mod:`._attention_common` (one-block transformer; the
needle task with 128 tokens and point-cloud classification) with softmax,
Sinkhorn (5 sweeps) and LOT attention (8 pivots, 10 Sinkhorn sweeps per
problem). Checks: the glued plan's rows sum to one exactly and its columns
nearly, time grows linearly with the sequence (against softmax's
quadratic growth), and accuracy stays close to softmax.
"""

from __future__ import annotations

import numpy as np

from ._attention_common import accuracy_figure, run_tasks, step_seconds, stochasticity
from ._core import Experiment, Result
from ._sets_common import one_torch_thread
from .registry import register

CLAIM = (
    "Composing query->pivot and pivot->key entropic plans gives attention that is "
    "doubly stochastic, low rank and linear in the sequence length, as accurate as softmax."
)
NAMES = ("softmax", "sinkhorn", "lot")


def run(quick: bool = True, seed: int = 0) -> Result:
    with one_torch_thread():
        return _run(quick, seed)


def growth(secs, name, n0, n1):
    return secs[(name, n1)] / secs[(name, n0)]


def _run(quick, seed):
    res = Result()
    acc, models, inputs = run_tasks(NAMES, quick, seed)
    for (task, name), a in acc.items():
        res.metrics[f"accuracy_{task}_{name}"] = a
    lot = models[("points", "lot")]
    rows, cols = stochasticity(lot, inputs["points"])
    res.metrics["row_error_lot"], res.metrics["column_error_lot"] = rows, cols
    res.metrics["column_error_lot_needle"] = stochasticity(models[("needle", "lot")],
                                                           inputs["needle"])[1]
    soft_cols = stochasticity(models[("points", "softmax")], inputs["points"])[1]
    res.metrics["column_error_softmax"] = soft_cols
    trained_iter = lot.attn.n_iter
    lot.attn.n_iter = 300
    rows300, cols300 = stochasticity(lot, inputs["points"])
    lot.attn.n_iter = trained_iter
    res.metrics["column_error_lot_300_sweeps"] = cols300
    n0, n1 = (512, 2048) if quick else (512, 4096)
    secs = {(name, n): step_seconds(name, n) for name in ("softmax", "lot") for n in (n0, n1)}
    for (name, n), t in secs.items():
        res.metrics[f"seconds_{name}_n{n}"] = t
    g_lot, g_soft = growth(secs, "lot", n0, n1), growth(secs, "softmax", n0, n1)
    res.metrics["time_growth_lot"], res.metrics["time_growth_softmax"] = g_lot, g_soft

    res.check("lot_rows_sum_to_one", rows, 1e-5, "<=",
              description="largest row-sum error of the trained LOT attention")
    res.check("lot_columns_nearly_balanced", cols, 0.1, "<=",
              description=f"largest column-sum error with the {trained_iter} sweeps it was "
                          f"trained with, point-cloud inputs (softmax: {soft_cols:.2f})",
              known_gap="10 Sinkhorn sweeps per problem leave the key marginals off on trained "
                        "layers (quick run: 0.28 on point clouds, 3.9 on the token task, "
                        "whose costs are peaky); the error falls to 0.004 with 30 sweeps and "
                        "to 1e-6 with 100 on point clouds (each sweep is O(n r)).")
    res.check("lot_doubly_stochastic_when_converged", max(rows300, cols300), 1e-3, "<=",
              description="largest row/column error of the same trained layer with 300 sweeps")
    ratio = n1 / n0
    res.check("lot_time_linear", g_lot, ratio * np.sqrt(ratio), "<=",
              description=f"time growth from n = {n0} to {n1} (linear: {ratio:.0f}, quadratic: "
                          f"{ratio ** 2:.0f}; softmax measured {g_soft:.1f})")
    gap = float(np.mean([acc[(t, "lot")] - acc[(t, "softmax")] for t in ("needle", "points")]))
    res.check("lot_accuracy_close_to_softmax", gap, -0.05, ">=",
              description="test accuracy LOT minus softmax, mean of the two tasks "
                          f"(needle {acc[('needle', 'lot')]:.2f} vs "
                          f"{acc[('needle', 'softmax')]:.2f}, points "
                          f"{acc[('points', 'lot')]:.2f} vs {acc[('points', 'softmax')]:.2f})",
              known_gap="Just outside at quick scale (one seed: -0.055; both reach 1.00 on the "
                        "token task, point clouds 0.67 vs 0.78): a rank-8 plan through 8 "
                        "pivots mixes the 24-32 points of a cloud more coarsely than softmax "
                        "attention does.")
    res.figures["lotformer_accuracy"] = accuracy_figure(acc, NAMES, "lotformer")
    return res


EXPERIMENT = register(Experiment("lotformer", CLAIM, run))
