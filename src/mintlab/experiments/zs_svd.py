"""``zs-svd``: global, loss-balanced singular-component selection on the byte-level testbed LM.

The testbed GPT (``tiny`` in quick mode: 0.48 M parameters, trained by
mintlab on the King James text; ``small`` in full mode) has every linear
layer of its blocks compressed (the output head is kept) at 20 / 40 / 60 %
parameter reduction by plain SVD, ASVD-style scaling, SVD-LLM whitening with
uniform ranks, and ZS-SVD (the same whitening, global zero-sum selection;
with and without the one-step correction). Calibration: 16 x 8 windows of
128 bytes from the calibration split; test perplexity per byte on the test
split. Full mode adds all-MiniLM-L6-v2's embedding fidelity (cosine of
compressed vs original sentence embeddings on held-out verses).

Scaled down from the paper's 7B-70B LLMs on WikiText-2.
"""

from __future__ import annotations

from mintlab.compress.svd import compress_model

from ._core import Experiment, Result
from ._llm_common import minilm_sweep, plot_sweep, single_threaded, start
from .registry import register

CLAIM = (
    "Selecting whitened singular components globally by first-order loss estimates under a "
    "zero-sum rule gives lower perplexity than uniform-rank whitened SVD at equal parameter "
    "budget, and the one-step correction lowers it further."
)

RATIOS = (0.2, 0.4, 0.6)
BASELINES = ("svd", "asvd", "svd-llm")


@single_threaded
def run(quick: bool, seed: int) -> Result:
    res, model, calib, ppl, size = start(quick, seed)
    ranks_at = {}
    table = {}
    for ratio in RATIOS:
        pct = int(round(100 * ratio))
        for method, kw, key in [*[(b, {}, b) for b in BASELINES], ("zs-svd", {}, "zs-svd"),
                                ("zs-svd", {"correction": True}, "zs-svd+correction")]:
            cm, rep = compress_model(model, method, ratio, calib, exclude="head", seed=seed, **kw)
            p = ppl(cm)
            table[(key, ratio)] = p
            res.metrics[f"ppl_{key}_{pct}"] = p
            res.metrics[f"achieved_ratio_{key}_{pct}"] = rep.achieved_ratio
            if key == "zs-svd":
                ranks_at[ratio] = rep.ranks
        res.check(f"zs_beats_uniform_whitening_{pct}", table[("zs-svd", ratio)],
                  table[("svd-llm", ratio)], "<",
                  description=f"{pct}% reduction: ZS-SVD perplexity vs SVD-LLM uniform ranks")
    res.check("correction_helps_at_60", table[("zs-svd+correction", 0.6)],
              table[("zs-svd", 0.6)], "<=",
              description="60% reduction: ZS-SVD with the one-step correction vs without")
    res.check("ranks_are_heterogeneous", len(set(ranks_at[0.4].values())), 1, ">",
              description="distinct ranks ZS-SVD chose at 40% (uniform would give 2 shapes)")

    if not quick:
        minilm_sweep(res, ("svd-llm", "zs-svd"), RATIOS, seed)

    methods = [*BASELINES, "zs-svd", "zs-svd+correction"]
    res.figures["zs_svd"] = plot_sweep(table, methods, RATIOS,
                                       res.metrics["dense_perplexity"], ranks_at[0.4],
                                       f"ZS-SVD rank profile ({size} testbed)")
    return res


EXPERIMENT = register(Experiment(slug="zs-svd", claim=CLAIM, run=run))
