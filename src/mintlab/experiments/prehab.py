"""``prehab``: a low-rank pre-conditioning fine-tune before SVD compression, on the testbed LM.

From the trained testbed GPT (``tiny`` in quick mode), two copies get the
same short fine-tune on the train split (Adam, learning rate 3e-4, the same
batches in the same order): *prehab* adds the nuclear-norm rank surrogate
``||W S||_* / ||W S||_F`` of every block layer in the whitened space (lambda
ramped to 0.3 over the first half), the *control* has lambda = 0, so the
extra training itself is not credited to prehab. Both are compressed by
SVD-LLM (uniform ranks, the same number of kept entries) at each ratio, then
recovered by the same fine-tune of the factors.

Claims and how each is judged, on *absolute* outcomes (per-window test NLL,
paired bootstrap over the test windows, margin 0; each arm's drop from its
own starting point is only a metric, since prehab starts from a different
model than the control):

1. ``smaller_immediate_drop``: right after the SVD, the prehab model is
   better than the control model at every ratio;
2. ``better_after_recovery``: after the recovery fine-tune, the prehab model
   is better than the control model at every ratio.

Scaled down from the paper's BERT / ViT / LLaMA settings.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from mintlab.compress.svd import compress_model, finetune, prehab
from mintlab.compress.testbed import lm_batches

from ._core import Experiment, Result
from ._llm_common import LMSettings, perplexity_of, single_threaded, start
from .registry import register

CLAIMS = {
    "smaller_immediate_drop": "Prehab substantially reduces the immediate accuracy drop after "
                              "compression, outperforming SVD-based techniques such as SVD-LLM.",
    "better_after_recovery": "Prehab consistently improves post-finetuning performance across a "
                             "wide range of compression ratios.",
}

LAM = 0.3  # final weight of the rank surrogate
LR = 3e-4  # Adam learning rate of both fine-tunes


@dataclass(frozen=True, kw_only=True)
class PrehabSettings(LMSettings):
    ratios: tuple[float, ...]  # fractions of the block weights removed by SVD-LLM
    prehab_steps: int  # steps of the pre-compression fine-tune (both arms)
    recovery_steps: int  # steps of the recovery fine-tune after compression
    batch_size: int  # windows of 128 bytes per fine-tuning step


QUICK = PrehabSettings(seeds=1, size="tiny", calibration_batches=16, eval_bytes=32768,
                       ratios=(0.6,), prehab_steps=60, recovery_steps=30, batch_size=16)
FULL = PrehabSettings(seeds=3, size="small", calibration_batches=32, eval_bytes=None,
                      ratios=(0.2, 0.4, 0.6), prehab_steps=600, recovery_steps=300,
                      batch_size=16)
EXPECTED = "not reproduced at this scale"

_GAP_SVD = ("right after the SVD prehab's per-window NLL is {ours:.4f} vs {baseline:.4f} for the "
            "control (difference interval [{low:.4f}, {high:.4f}] nats/byte over {n} test "
            "windows): at our scale (a 0.5 M-parameter byte-level model, tens of fine-tuning "
            "steps) the surrogate costs perplexity before compression (ppl_before_svd_*) that "
            "the better-conditioned spectrum does not buy back")
_GAP_RECOVERY = ("after recovery prehab's per-window NLL is {ours:.4f} vs {baseline:.4f} for the "
                 "control (difference interval [{low:.4f}, {high:.4f}] nats/byte over {n} test "
                 "windows): at our scale the recovery fine-tune does not turn the "
                 "pre-conditioning into an advantage over the same fine-tune without it")


def _surrogate(model, calib, exclude="head") -> float:
    """Mean nuclear-norm surrogate of the whitened block weights of ``model`` (left unchanged)."""
    log = prehab(copy.deepcopy(model), calib[:1], calibration=calib, steps=1, lr=1e-12, lam=0.0,
                 surrogate="nuclear", exclude=exclude)
    return log["surrogate_before"]


@single_threaded
def run(settings: PrehabSettings = QUICK, seed: int = 0) -> Result:
    import matplotlib.pyplot as plt

    res, model, calib, score = start(settings, seed)
    ctx = model.config.context
    train = lm_batches("train", n_batches=200, batch_size=settings.batch_size, seq_len=ctx,
                       seed=seed + 11)
    recover = lm_batches("train", n_batches=100, batch_size=settings.batch_size, seq_len=ctx,
                         seed=seed + 12)
    out, nll = {}, {}
    for arm in ("control", "prehab"):
        m = copy.deepcopy(model)
        if arm == "prehab":
            log = prehab(m, train, calibration=calib, steps=settings.prehab_steps, lr=LR,
                         lam=LAM, surrogate="nuclear", exclude="head")
            res.metrics["surrogate_start"] = log["surrogate_before"]
            res.metrics["surrogate_after_prehab"] = log["surrogate_after"]
        else:
            # lambda = 0: the same Adam steps on the same batches, without the surrogate
            finetune(m, train, steps=settings.prehab_steps, lr=LR)
            res.metrics["surrogate_after_control"] = _surrogate(m, calib)
        before = perplexity_of(score(m))
        res.metrics[f"ppl_before_svd_{arm}"] = before
        for ratio in settings.ratios:
            pct = int(round(100 * ratio))
            cm, rep = compress_model(m, "svd-llm", ratio, calib, exclude="head", seed=seed)
            res.metrics[f"kept_entries_{arm}_{pct}"] = float(rep.params_after)
            nll[(arm, "svd", ratio)] = score(cm)
            after = perplexity_of(nll[(arm, "svd", ratio)])
            finetune(cm, recover, steps=settings.recovery_steps, lr=LR)
            nll[(arm, "recovered", ratio)] = score(cm)
            recovered = perplexity_of(nll[(arm, "recovered", ratio)])
            out[(arm, ratio)] = (after - before, after, recovered)
            res.metrics[f"ppl_after_svd_{arm}_{pct}"] = after
            res.metrics[f"immediate_drop_{arm}_{pct}"] = after - before
            res.metrics[f"ppl_recovered_{arm}_{pct}"] = recovered
    for ratio in settings.ratios:
        pct = int(round(100 * ratio))
        res.compare(f"prehab_better_after_svd_{pct}", nll[("prehab", "svd", ratio)],
                    nll[("control", "svd", ratio)], better="lower",
                    claim="smaller_immediate_drop", known_gap=_GAP_SVD,
                    description=f"{pct}% removed by SVD-LLM: per-window test NLL right after "
                                "compression, prehab vs control (same fine-tune without the "
                                "surrogate)")
        res.compare(f"prehab_better_after_recovery_{pct}", nll[("prehab", "recovered", ratio)],
                    nll[("control", "recovered", ratio)], better="lower",
                    claim="better_after_recovery", known_gap=_GAP_RECOVERY,
                    description=f"{pct}%: per-window test NLL after the recovery fine-tune, "
                                "prehab vs control")

    fig, ax = plt.subplots(figsize=(6, 3.6))
    width = 4
    for i, arm in enumerate(("control", "prehab")):
        xs = [100 * r + (i - 0.5) * width for r in settings.ratios]
        ax.bar(xs, [out[(arm, r)][1] for r in settings.ratios], width=width, alpha=0.5,
               color=f"C{i}", label=f"{arm}: after SVD")
        ax.scatter(xs, [out[(arm, r)][2] for r in settings.ratios], marker="v", zorder=3,
                   color=f"C{i}", label=f"{arm}: after recovery")
        ax.axhline(res.metrics[f"ppl_before_svd_{arm}"], ls=":", lw=0.8,
                   color=f"C{i}", label=f"{arm}: before SVD")
    ax.set_xlabel("parameters removed (%)")
    ax.set_ylabel("test perplexity (per byte)")
    ax.set_ylim(bottom=min(min(v[2] for v in out.values()),
                           res.metrics["ppl_before_svd_control"]) * 0.98)
    ax.legend(fontsize=7)
    ax.set_title(f"Low-rank prehab ({settings.size} testbed)")
    fig.tight_layout()
    res.figures["prehab"] = fig
    return res


EXPERIMENT = register(Experiment(
    "prehab", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="real text: King James Version bytes (train/calibration/test chapters) on mintlab's "
         "byte-level testbed GPT (0.48 M parameters quick, 3.2 M full)",
    full_scale="BERT on GLUE, ViT on ImageNet and LLaMA-7B with full prehab and recovery "
               "fine-tunes (thousands of steps on GPUs) at 20-80% compression",
))
