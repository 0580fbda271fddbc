"""``lotformer``: linear-time doubly-stochastic attention through a learned pivot measure.

Long-sequence classification in the spirit of Long Range Arena, generated
offline (:mod:`._long_tasks`): nested ListOps expressions as token
sequences and byte windows of Jane Austen's novels (which of the six
novels). A one-block transformer (classifying from a class token, see
:mod:`._long_tasks` for why not mean pooling) is trained with LOT attention (16 pivots,
10 Sinkhorn sweeps per problem), with the transport-based baseline Sinkhorn
attention (Sinkformer, 5 sweeps) and with the linear-attention baseline of
fixed positive random features (Performer-style, 32 features per head): the
same model around the attention, the same initial weights, mini-batches,
optimiser and number of steps, scored on the same test items (paired). The
full run trains softmax attention too, for the record. Two claims of the
abstract:

1. ``doubly_stochastic``: the trained LOT attention, with the 10 sweeps it
   was trained with, gives every real key a column sum within 10 % of
   ``n / m`` on its own test inputs (mean over test items of the worst
   relative column error). Its rows sum to one by construction, its rank is
   at most the number of pivots and it converges to doubly stochastic with
   more sweeps: unit tests (``tests/nn/test_lotformer_claims.py``), not
   claims.
2. ``beats_prior_attention``: LOT is more accurate than Sinkhorn attention
   and than the fixed-feature linear attention (per-test-item correctness
   over both tasks, paired, bootstrap over items and seeds), and faster
   than both (log CPU seconds of one forward and backward pass of the layer,
   paired rounds: against Sinkhorn at ``time_sinkhorn`` tokens, against the
   linear baseline at ``time_long``).

That LOT applies the plan in ``O(n r)`` without forming the ``n x n`` map
is structural and tested in ``tests/nn/test_attention.py``.

Scale: the paper trains on the Long Range Arena (1k-16k tokens, ten-level
ListOps, pathfinder, 4k-byte text). Here training runs at 256 tokens in the
full mode (128 in the quick one, on the text task only): Sinkhorn attention costs about 5 CPU
seconds per step of 16 sequences at 1,024 tokens, so training it at 1k-4k
does not fit the budget; the timings go to 1,024 (against Sinkhorn) and
4,096 tokens. ListOps nests three levels instead of ten, and pathfinder is
left out: at these budgets a one-block model of any attention stays at
chance on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._core import Experiment, Result, Settings
from ._long_tasks import (
    accuracy_figure,
    column_errors,
    pooled,
    run_attentions,
    step_seconds,
)
from ._sets_common import one_thread
from .registry import register

CLAIMS = {
    "doubly_stochastic": "We solve two entropic optimal transport problems (queries to pivot "
                         "and pivot to keys) and compose them into a conditional (glued) "
                         "coupling; this yields an attention matrix that is provably "
                         "doubly-stochastic.",
    "beats_prior_attention": "Empirically, LOTFormer achieves state-of-the-art results on the "
                             "Long Range Arena benchmark, surpassing prior linear and "
                             "transport-based attention methods in both accuracy and "
                             "efficiency.",
}


@dataclass(frozen=True, kw_only=True)
class LotformerSettings(Settings):
    tasks: tuple[str, ...]  # long-sequence tasks of _long_tasks
    length: int  # tokens per training and test sequence
    n_train: int  # training sequences per task
    n_test: int  # test sequences per task (one paired item each)
    steps: int  # training steps of 16 sequences, every attention
    extra_attentions: tuple[str, ...]  # trained for the record only (metrics)
    balance_items: int  # test items whose LOT attention maps are checked for balance
    time_repeats: int  # timed forward + backward passes per attention and length
    time_sinkhorn: int  # length at which LOT is timed against Sinkhorn attention
    time_long: int  # length at which LOT is timed against the linear baseline


QUICK = LotformerSettings(
    seeds=3, tasks=("text",), length=128, n_train=1000, n_test=200, steps=40,
    extra_attentions=(), balance_items=16, time_repeats=3, time_sinkhorn=512,
    time_long=1024)
FULL = LotformerSettings(
    seeds=3, tasks=("listops", "text"), length=256, n_train=2000, n_test=400, steps=125,
    extra_attentions=("softmax",), balance_items=32, time_repeats=5, time_sinkhorn=1024,
    time_long=4096)
EXPECTED = "partly reproduced (1 of 2)"

DS_TOLERANCE = 0.1  # largest relative column error still called doubly stochastic
MORE_SWEEPS = (30, 100)  # sweeps at which the trained LOT maps' balance is also recorded
NAMES = ("lot", "sinkhorn", "luna_fixed")
BASELINES = {"sinkhorn": "Sinkhorn attention (Sinkformer)",
             "luna_fixed": "fixed-feature linear attention (Performer-style)"}


def run(settings: LotformerSettings = QUICK, seed: int = 0) -> Result:
    with one_thread():
        return _run(settings, seed)


def _run(s: LotformerSettings, seed: int) -> Result:
    res = Result(seed=seed)
    names = (*NAMES, *s.extra_attentions)
    correct, models, data = run_attentions(names, s.tasks, s, seed)
    acc = {k: float(c.mean()) for k, c in correct.items()}
    for (task, name), a in acc.items():
        res.metrics[f"accuracy_{task}_{name}"] = a
    for task in s.tasks:
        y = data[task]["yte"].numpy()
        res.metrics[f"majority_rate_{task}"] = float(np.bincount(y).max() / len(y))

    # 1. balance of the trained maps, with the sweeps used in training
    cols = np.concatenate([column_errors(models[(t, "lot")], data[t], s.balance_items)
                           for t in s.tasks])
    res.metrics["column_error_lot"] = float(cols.mean())
    for name in names[1:]:
        res.metrics[f"column_error_{name}"] = float(np.mean(np.concatenate(
            [column_errors(models[(t, name)], data[t], s.balance_items) for t in s.tasks])))
    lot_iter = models[(s.tasks[0], "lot")].attn.n_iter
    for sweeps in MORE_SWEEPS:  # the same trained layers, solved further (not trained so)
        errs = []
        for t in s.tasks:
            att = models[(t, "lot")].attn
            att.n_iter = sweeps
            errs.append(column_errors(models[(t, "lot")], data[t], s.balance_items))
            att.n_iter = lot_iter
        res.metrics[f"column_error_lot_{sweeps}_sweeps"] = float(np.concatenate(errs).mean())
    res.check("lot_columns_balanced", cols, DS_TOLERANCE, "<=", claim="doubly_stochastic",
              description=f"worst relative column-sum error |c_j / (n / m) - 1| of the trained "
                          f"LOT attention ({lot_iter} sweeps per problem, as trained) on each "
                          f"of {s.balance_items} test items per task; mean over items",
              known_gap="Mean worst column error {measured:.3f}, interval [{low:.3f}, "
                        "{high:.3f}], not entirely below {threshold}: with the 10 sweeps LOT "
                        "is trained with, the key marginals of the pivot-to-key plans are not "
                        "met on trained layers (rows are exact by construction, columns only "
                        "at convergence: the same trained layers solved with 30 and 100 "
                        "sweeps are in column_error_lot_30_sweeps and _100_sweeps). The "
                        "errors grow with training (the costs get peakier). Sinkhorn attention "
                        "with 5 sweeps and softmax (full run) are in column_error_*.")

    # 2. accuracy and efficiency against prior transport-based and linear attention
    ours = pooled(correct, s.tasks, "lot")
    for name, label in BASELINES.items():
        res.compare(f"lot_more_accurate_than_{name}", ours, pooled(correct, s.tasks, name),
                    better="higher", claim="beats_prior_attention",
                    description=f"per-test-item correctness over {', '.join(s.tasks)} "
                                f"({s.length} tokens, {s.steps} steps), LOT vs {label}",
                    known_gap=_ACCURACY_GAP[name])
    t_sk = step_seconds(("lot", "sinkhorn"), s.time_sinkhorn, s.time_repeats, seed=seed)
    t_lin = step_seconds(("lot", "luna_fixed"), s.time_long, s.time_repeats, seed=seed)
    for n, times in ((s.time_sinkhorn, t_sk), (s.time_long, t_lin)):
        for name, t in times.items():
            res.metrics[f"seconds_{name}_n{n}"] = float(np.median(t))
    res.compare("lot_faster_than_sinkhorn", np.log(t_sk["lot"]), np.log(t_sk["sinkhorn"]),
                better="lower", claim="beats_prior_attention",
                description=f"log CPU seconds of one forward + backward pass of the layer at "
                            f"n = {s.time_sinkhorn} (batch 4), LOT vs Sinkhorn attention, "
                            "paired rounds",
                known_gap="log(t_LOT / t_Sinkhorn) = {diff:.2f}, interval [{low:.2f}, "
                          "{high:.2f}]: LOT is not faster at this length.")
    res.compare("lot_faster_than_linear_baseline", np.log(t_lin["lot"]),
                np.log(t_lin["luna_fixed"]), better="lower", claim="beats_prior_attention",
                description=f"log CPU seconds of one forward + backward pass of the layer at "
                            f"n = {s.time_long} (batch 4), LOT vs fixed-feature linear "
                            "attention, paired rounds",
                known_gap="LOT is slower than the fixed-feature linear attention: "
                          "log(t_LOT / t_linear) = {diff:.2f}, interval [{low:.2f}, "
                          "{high:.2f}]. Both are linear in n; LOT's 2 x 10 log-domain Sinkhorn "
                          "sweeps over n x r costs (r = 16) cost more than one positive "
                          "feature map of 32 features.")
    res.figures["lotformer_accuracy"] = accuracy_figure(acc, names, s.tasks, "lotformer")
    return res


_ACCURACY_GAP = {
    "sinkhorn": "LOT {ours:.3f} vs Sinkhorn attention {baseline:.3f} (difference {diff:.3f}, "
                "interval [{low:.3f}, {high:.3f}]; per task, softmax and the majority rates "
                "in the metrics): LOT is not more accurate at our budget (one block, a few "
                "hundred steps). A likely factor, not isolated here: LOT's map has rank at "
                "most 16 (the pivots) where Sinkhorn attention's is full rank.",
    "luna_fixed": "LOT {ours:.3f} vs the fixed-feature linear attention {baseline:.3f} "
                  "(difference {diff:.3f}, interval [{low:.3f}, {high:.3f}]; per task in the "
                  "metrics): LOT is not more accurate at our budget. A likely factor, not "
                  "isolated here: the row-normalised linear attention may focus a query on "
                  "a few keys, while LOT's balanced, rank-16 map must spread every key's "
                  "mass over the queries.",
}


EXPERIMENT = register(Experiment(
    "lotformer", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="synthetic and real long sequences generated offline in the spirit of Long Range "
         "Arena: ListOps expressions (3 levels, up to 10 arguments) as tokens, and byte "
         "windows of Jane Austen's six novels (shipped corpus, held-out chapters for test)",
    full_scale="the Long Range Arena tasks (ListOps, text, retrieval, image, pathfinder) at "
               "1k-16k tokens with multi-layer models trained for thousands of steps, against "
               "Sinkformer, Performer and other efficient attentions, timed on a GPU; here "
               "256 training tokens and 125 steps, timings to 4,096 tokens on one CPU thread",
))
