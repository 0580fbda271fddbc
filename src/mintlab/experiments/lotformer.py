"""``lotformer``: linear-time doubly-stochastic attention through a learned pivot measure.

The shared harness of :mod:`._attention_common` (one-block transformer; the
needle task and point-cloud classification) with LOT attention (8 pivots, 10
Sinkhorn sweeps per problem), the transport-based baseline Sinkhorn
attention (Sinkformer, 5 sweeps) and the linear baseline with fixed positive
random features (Performer-style), all trained alike; the full run trains
softmax attention too. Three claims of the abstract:

1. ``doubly_stochastic``: the trained LOT layer, with the sweeps it was
   trained with, gives every real key a column sum within 0.1 of ``n / m`` on
   its own point-cloud inputs, in every seed (the rows sum to one by
   construction: a unit test, ``tests/nn/test_lotformer_claims.py``);
2. ``linear_time``: the time of one forward and backward pass grows with the
   sequence length like ``n^a`` with ``a <= 1.5`` (linear: 1, softmax: 2),
   judged on the exponents of paired timing rounds;
3. ``beats_prior_attention``: LOT is more accurate than Sinkhorn attention
   and than the fixed-feature linear attention (per-test-item correctness over
   both tasks, paired), and faster than both (log seconds of paired timing
   rounds: against Sinkhorn at the short length, where its quadratic cost
   weighs least, against the linear baseline at the long one).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._attention_common import (
    AttentionSettings,
    accuracy_figure,
    both_tasks,
    growth_exponents,
    run_tasks,
    step_times,
    stochasticity,
)
from ._core import Experiment, Result
from ._sets_common import one_thread
from .registry import register

CLAIMS = {
    "doubly_stochastic": "We solve two entropic optimal transport problems (queries to pivot "
                         "and pivot to keys) and compose them into a conditional (glued) "
                         "coupling; this yields an attention matrix that is provably "
                         "doubly-stochastic.",
    "linear_time": "The attention matrix has rank at most r << n and applies to values in "
                   "O(nr) time without forming the full n x n map.",
    "beats_prior_attention": "Empirically, LOTFormer achieves state-of-the-art results on the "
                             "Long Range Arena benchmark, surpassing prior linear and "
                             "transport-based attention methods in both accuracy and "
                             "efficiency.",
}


@dataclass(frozen=True, kw_only=True)
class LotformerSettings(AttentionSettings):
    time_short: int  # shorter timed sequence length (also LOT vs Sinkhorn)
    time_long: int  # longer timed sequence length (also LOT vs the linear baseline)


QUICK = LotformerSettings(
    seeds=3, needle_length=48, needle_train=384, needle_test=300, needle_epochs=8,
    clouds_train=12, clouds_test=30, clouds_epochs=30, extra_attentions=(),
    time_repeats=4, time_short=256, time_long=1024)
FULL = LotformerSettings(
    seeds=3, needle_length=256, needle_train=2000, needle_test=1000, needle_epochs=15,
    clouds_train=48, clouds_test=40, clouds_epochs=30, extra_attentions=("softmax",),
    time_repeats=7, time_short=512, time_long=4096)
EXPECTED = "partly reproduced (1 of 3)"

DS_TOLERANCE = 0.1  # largest column error called doubly stochastic
MAX_EXPONENT = 1.5  # growth exponent still called linear (softmax's is 2)
BASELINES = {"sinkhorn": "Sinkhorn attention", "luna_fixed": "fixed-feature linear attention"}


def run(settings: LotformerSettings = QUICK, seed: int = 0) -> Result:
    with one_thread():
        return _run(settings, seed)


def _run(settings, seed):
    res = Result(seed=seed)
    names = ("lot", "sinkhorn", "luna_fixed", *settings.extra_attentions)
    correct, models, inputs = run_tasks(names, settings, seed)
    for (task, name), c in correct.items():
        res.metrics[f"accuracy_{task}_{name}"] = float(c.mean())
    lot = models[("points", "lot")]
    rows, cols = stochasticity(lot, inputs["points"])
    res.metrics["row_error_lot"], res.metrics["column_error_lot"] = rows, cols
    res.metrics["column_error_lot_needle"] = stochasticity(models[("needle", "lot")],
                                                           inputs["needle"])[1]
    base_cols = stochasticity(models[("points", "sinkhorn")], inputs["points"])[1]
    res.metrics["column_error_sinkhorn"] = base_cols
    trained_iter = lot.attn.n_iter
    lot.attn.n_iter = 300
    res.metrics["column_error_lot_300_sweeps"] = stochasticity(lot, inputs["points"])[1]
    lot.attn.n_iter = trained_iter

    n0, n1 = settings.time_short, settings.time_long
    t0 = step_times(("lot", "luna_fixed", "sinkhorn"), n0, settings.time_repeats)
    t1 = step_times(("lot", "luna_fixed"), n1, settings.time_repeats)
    for n, times in ((n0, t0), (n1, t1)):
        for name, t in times.items():
            res.metrics[f"seconds_{name}_n{n}"] = float(np.median(t))
    expo = growth_exponents(t0["lot"], t1["lot"], n0, n1)
    res.metrics["time_exponent_lot"] = float(expo.mean())
    res.metrics["time_exponent_luna_fixed"] = float(
        growth_exponents(t0["luna_fixed"], t1["luna_fixed"], n0, n1).mean())

    # 1. columns balanced with the sweeps the layer was trained with
    res.check("lot_columns_balanced", cols, DS_TOLERANCE, "<=", claim="doubly_stochastic",
              description=f"largest column-sum error of the trained LOT attention ({trained_iter} "
                          "sweeps per problem) on 16 test point clouds, every seed (Sinkhorn "
                          f"attention, 5 sweeps: {base_cols:.2f} in this seed)",
              known_gap="Largest column error {worst:.3f} (mean over seeds {measured:.3f}) "
                        "above {threshold}: 10 Sinkhorn sweeps per problem leave the key "
                        "marginals off on trained layers, whose costs are peaky; the same "
                        "layers with 300 sweeps are balanced to about 1e-6 (metric "
                        "column_error_lot_300_sweeps), each sweep costing O(n r).")

    # 2. linear time
    res.check("lot_time_linear", expo, MAX_EXPONENT, "<=", claim="linear_time",
              description=f"exponent a of time ~ n^a from n = {n0} to {n1}, one per timing "
                          "round (the fixed-feature linear attention's "
                          f"{res.metrics['time_exponent_luna_fixed']:.2f} in this seed)")

    # 3. accuracy and efficiency against the prior linear and transport-based attentions
    ours = both_tasks(correct, "lot")
    for name, label in BASELINES.items():
        res.compare(f"lot_more_accurate_than_{name}", ours, both_tasks(correct, name),
                    better="higher", claim="beats_prior_attention",
                    description=f"per-test-item correctness over both tasks, LOT vs {label}",
                    known_gap=_ACCURACY_GAP.get(name))
    res.compare("lot_faster_than_sinkhorn", np.log(t0["lot"]), np.log(t0["sinkhorn"]),
                better="lower", claim="beats_prior_attention",
                description=f"log seconds of one forward + backward pass at n = {n0}, LOT vs "
                            "Sinkhorn attention, paired rounds")
    res.compare("lot_faster_than_linear_baseline", np.log(t1["lot"]), np.log(t1["luna_fixed"]),
                better="lower", claim="beats_prior_attention",
                description=f"log seconds of one forward + backward pass at n = {n1}, LOT vs "
                            "fixed-feature linear attention, paired rounds",
                known_gap="LOT is slower than the fixed-feature linear attention: "
                          "log(t_LOT / t_linear) = {diff:.2f}, interval [{low:.2f}, "
                          "{high:.2f}]; both are linear in n, and LOT's 2 x 10 Sinkhorn "
                          "sweeps over n x r costs outweigh one feature map of the same size.")
    res.figures["lotformer_accuracy"] = accuracy_figure(correct, names, "lotformer")
    return res


_ACCURACY_GAP = {
    "sinkhorn": "LOT {ours:.3f} vs Sinkhorn attention {baseline:.3f} (difference interval "
                "[{low:.3f}, {high:.3f}]; per task in the metrics): no better. Both nearly solve "
                "the needle task, and on the point clouds LOT's plan of rank at most 8 (8 "
                "pivots) mixes the 24-32 points of a cloud more coarsely than Sinkhorn "
                "attention's full-rank plan.",
    "luna_fixed": "LOT {ours:.3f} vs the fixed-feature linear attention {baseline:.3f} "
                  "(difference interval [{low:.3f}, {high:.3f}]; per task in the metrics): "
                  "LOT's plan has rank at most 8 (8 pivots) and mixes the 24-32 points of a "
                  "cloud coarsely, while the linear baseline's kernel has 32 features per head.",
}


EXPERIMENT = register(Experiment(
    "lotformer", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="synthetic: needle-in-noise token sequences and procedural 3D point-cloud shapes",
    full_scale="the Long Range Arena tasks (ListOps, text, retrieval, image, pathfinder) at "
               "1k-16k tokens against Sinkformer, Performer and other efficient attentions, "
               "timed on a GPU",
))
