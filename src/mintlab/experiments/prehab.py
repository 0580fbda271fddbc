"""``prehab``: a low-rank pre-conditioning fine-tune before SVD compression, on the testbed LM.

From the trained testbed GPT (``tiny`` in quick mode), two copies get the
same short fine-tune on the train split (150 Adam steps, learning rate
3e-4, batches of 16 x 128 bytes): *prehab* adds the nuclear-norm rank
surrogate ``||W S||_* / ||W S||_F`` of every block layer in the whitened
space (lambda ramped to 0.3), the *control* has lambda = 0 (so the extra
training itself is not credited to prehab). Both are compressed by SVD-LLM
(uniform ranks) at 40 / 60 % parameter reduction, then recovered by the
same 100-step fine-tune of the factors. Reported: the immediate perplexity
increase caused by the SVD (relative to each model before compression) and
the perplexity after recovery.

Scaled down from the paper's BERT / ViT / LLaMA settings.
"""

from __future__ import annotations

import copy

from mintlab.compress.svd import compress_model, finetune, prehab
from mintlab.compress.testbed import lm_batches

from ._core import Experiment, Result
from ._llm_common import single_threaded, start
from .registry import register

CLAIM = (
    "A pre-compression fine-tune that promotes low-rank whitened weights reduces the immediate "
    "loss increase caused by SVD truncation and improves the model after recovery fine-tuning."
)

RATIOS = (0.4, 0.6)
LAM = 0.3


@single_threaded
def run(quick: bool, seed: int) -> Result:
    import matplotlib.pyplot as plt

    res, model, calib, ppl, size = start(quick, seed)
    steps = 150 if quick else 600
    train = lm_batches("train", n_batches=200, batch_size=16, seq_len=model.config.context,
                       seed=seed + 11)
    recover = lm_batches("train", n_batches=100, batch_size=16, seq_len=model.config.context,
                         seed=seed + 12)
    out = {}
    for arm, lam in (("control", 0.0), ("prehab", LAM)):
        m = copy.deepcopy(model)
        log = prehab(m, train, calibration=calib, steps=steps, lr=3e-4, lam=lam,
                     surrogate="nuclear", exclude="head")
        res.metrics[f"surrogate_before_{arm}"] = log["surrogate_before"]
        res.metrics[f"surrogate_after_{arm}"] = log["surrogate_after"]
        before = ppl(m)
        res.metrics[f"ppl_before_svd_{arm}"] = before
        for ratio in RATIOS:
            pct = int(round(100 * ratio))
            cm, _ = compress_model(m, "svd-llm", ratio, calib, exclude="head", seed=seed)
            after = ppl(cm)
            finetune(cm, recover, steps=100 if quick else 300, lr=3e-4)
            recovered = ppl(cm)
            out[(arm, ratio)] = (after - before, after, recovered)
            res.metrics[f"ppl_after_svd_{arm}_{pct}"] = after
            res.metrics[f"immediate_drop_{arm}_{pct}"] = after - before
            res.metrics[f"ppl_recovered_{arm}_{pct}"] = recovered
    for ratio in RATIOS:
        pct = int(round(100 * ratio))
        res.check(f"prehab_smaller_immediate_drop_{pct}", out[("prehab", ratio)][0],
                  out[("control", ratio)][0], "<",
                  description=f"{pct}%: perplexity increase caused by SVD, prehab vs control")
        res.check(f"prehab_better_after_recovery_{pct}", out[("prehab", ratio)][2],
                  out[("control", ratio)][2], "<=",
                  known_gap="Not at our scale: the surrogate does shrink the SVD's immediate "
                            "damage (the check above: 0.071 vs 0.080 at 40%, 0.334 vs 0.361 at "
                            "60% in the quick run), but it costs perplexity before compression "
                            "(4.000 vs 3.967) that the 100-step recovery does not make up (40%: "
                            "3.944 vs 3.933, 60%: 4.039 vs 4.033); a 0.5 M-parameter byte-level "
                            "model has little spare capacity to trade.",
                  description=f"{pct}%: perplexity after recovery fine-tune, prehab vs control")

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for i, arm in enumerate(("control", "prehab")):
        xs = [100 * r + (i - 0.5) * 4 for r in RATIOS]
        ax.bar(xs, [out[(arm, r)][1] for r in RATIOS], width=4, alpha=0.5,
               label=f"{arm}: after SVD")
        ax.scatter(xs, [out[(arm, r)][2] for r in RATIOS], marker="v", zorder=3,
                   label=f"{arm}: after recovery")
    ax.set_xlabel("parameters removed (%)")
    ax.set_ylabel("test perplexity (per byte)")
    ax.set_ylim(bottom=min(v[2] for v in out.values()) * 0.98)
    ax.legend(fontsize=7)
    ax.set_title(f"Low-rank prehab ({size} testbed)")
    fig.tight_layout()
    res.figures["prehab"] = fig
    return res


EXPERIMENT = register(Experiment(slug="prehab", claim=CLAIM, run=run))
