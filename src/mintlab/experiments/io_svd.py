"""``io-svd``: input-output whitened SVD with loss-aware heterogeneous ranks, on the testbed LM.

The testbed GPT (``tiny`` in quick mode, ``small`` in full mode; head kept)
is compressed at 20 / 40 / 60 % parameter reduction by plain SVD,
ASVD-style scaling, SVD-LLM (input whitening, uniform ranks) and IO-SVD
(input whitening plus the output metric of the second-order KL expansion
over the top-32 next-byte probabilities, global allocation by predicted
loss change). The hybrid path is compared at 70 / 80 % *byte* reduction:
IO-SVD low-rank only, every kept component in 8 bits (uniform remapping),
and loss-aware remapping. Full mode adds all-MiniLM-L6-v2's embedding
fidelity at the same ratios (its output metric: the Fisher of the in-batch
contrastive softmax).

Scaled down from the paper's LLM and VLM families.
"""

from __future__ import annotations

from mintlab.compress.svd import compress_model

from ._core import Experiment, Result
from ._llm_common import minilm_sweep, plot_sweep, single_threaded, start
from .registry import register

CLAIM = (
    "Whitening on both the input and the KL-aware output side, with ranks allocated globally by "
    "first-order loss estimates, gives lower perplexity than uniform-rank input-whitened SVD at "
    "equal budget, and loss-aware 8-bit remapping improves the hybrid low-rank + quantised path."
)

RATIOS = (0.2, 0.4, 0.6)
BYTE_RATIOS = (0.7, 0.8)
METHODS = ("svd", "asvd", "svd-llm", "io-svd")


@single_threaded
def run(quick: bool, seed: int) -> Result:
    res, model, calib, ppl, size = start(quick, seed)
    table, ranks40 = {}, None
    for ratio in RATIOS:
        pct = int(round(100 * ratio))
        for method in METHODS:
            cm, rep = compress_model(model, method, ratio, calib, exclude="head", seed=seed)
            table[(method, ratio)] = ppl(cm)
            res.metrics[f"ppl_{method}_{pct}"] = table[(method, ratio)]
            if method == "io-svd":
                res.metrics[f"io_svd_calibration_s_{pct}"] = rep.calibration_seconds
                if ratio == 0.4:
                    ranks40 = rep.ranks
        res.check(f"io_beats_uniform_whitening_{pct}", table[("io-svd", ratio)],
                  table[("svd-llm", ratio)], "<",
                  description=f"{pct}% reduction: IO-SVD perplexity vs SVD-LLM uniform ranks")
    hybrid = {}
    for ratio in BYTE_RATIOS:
        pct = int(round(100 * ratio))
        for q in (None, "all", "loss-aware"):
            cm, rep = compress_model(model, "io-svd", ratio, calib, exclude="head", seed=seed,
                                     quantize=q)
            key = q or "low-rank"
            hybrid[(key, ratio)] = ppl(cm)
            res.metrics[f"ppl_hybrid_{key}_{pct}"] = hybrid[(key, ratio)]
            res.metrics[f"byte_ratio_hybrid_{key}_{pct}"] = rep.achieved_byte_ratio
        res.check(f"loss_aware_remap_beats_uniform_remap_{pct}", hybrid[("loss-aware", ratio)],
                  hybrid[("all", ratio)], "<=",
                  description=f"{pct}% byte reduction: loss-aware vs all-8-bit remapping")
        res.check(f"hybrid_beats_low_rank_only_{pct}", hybrid[("loss-aware", ratio)],
                  hybrid[("low-rank", ratio)], "<",
                  description=f"{pct}% byte reduction: hybrid low-rank + 8-bit vs low-rank only")

    if not quick:
        minilm_sweep(res, ("svd-llm", "io-svd"), RATIOS, seed)

    res.figures["io_svd"] = plot_sweep(table, METHODS, RATIOS,
                                       res.metrics["dense_perplexity"], ranks40,
                                       f"IO-SVD rank profile ({size} testbed)")
    return res


EXPERIMENT = register(Experiment(slug="io-svd", claim=CLAIM, run=run))
