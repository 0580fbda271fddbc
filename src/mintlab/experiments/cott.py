"""``cott``: thresholded confidence OT (COTT) vs COT and the baselines, on shifted Fashion-MNIST.

Same testbed as ``cot`` (:mod:`mintlab.experiments._ood_common`): per seed a
small CNN on Fashion-MNIST under a ten-corruption suite at several
severities (synthetic shift), and a BREEDS-style superclass CNN on test sets
mixing in unseen subclasses (novel subpopulation shift). One item per
shifted target set; comparisons are paired over targets and seeds (the
bootstrap resamples seeds, then targets).

Claims and how each is judged:

1. ``pseudo_label_shift_drives_underestimation``: the confidence baselines
   over-estimate accuracy (under-estimate the error) on shifted targets:
   for each of AC, DoC and ATC the interval of the mean over-estimate is
   above 0; and the more so the larger the pseudo-label shift: the
   Spearman correlation between pseudo-label shift and ATC's over-estimate
   is above 0 (t interval over seeds).
2. ``cot_robust``: on the quarter of targets with the largest pseudo-label
   shift, COT's absolute error is lower than each baseline's.
3. ``cott_lowers_error``: COTT's absolute error is lower than COT's, paired
   over all shifted targets and seeds.
4. ``outperforms_sota``: COTT's absolute error is lower than each of AC,
   DoC and ATC by more than one accuracy point (margin 0.01).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from ._core import Experiment, Result
from ._ood_common import (
    BASELINES,
    METHODS,
    ShiftSettings,
    abs_errors,
    figure,
    mae_metrics,
    over_estimates,
    run_testbed,
    shifted,
    top_pseudo_label_shift,
)
from ._sets_common import one_thread
from .registry import register

CLAIMS = {
    "pseudo_label_shift_drives_underestimation":
        "Existing methods often underestimate the actual error, and pseudo-label shift, the "
        "difference between the predicted and true OOD label distributions, is a key "
        "indicator of this underestimation.",
    "cot_robust": "Confidence Optimal Transport (COT) provably provides more robust error "
                  "estimates in the presence of pseudo-label shift.",
    "cott_lowers_error": "Thresholding the individual transport costs (COTT) further improves "
                         "the accuracy of COT's error estimates.",
    "outperforms_sota": "Our approaches significantly outperform existing state-of-the-art "
                        "methods, with an up to 3x lower prediction error.",
}


@dataclass(frozen=True, kw_only=True)
class CottSettings(ShiftSettings):
    large_margin: float = 0.01  # how much lower COTT's absolute error must be than a baseline's
    top_share: float = 0.25  # share of targets with the largest pseudo-label shift


QUICK = CottSettings(seeds=3, n_train=3000, n_val=1000, n_test=500, epochs=2,
                     severities=(2, 4), per_superclass=150)
FULL = CottSettings(seeds=5, n_train=10000, n_val=2000, n_test=2000, epochs=4,
                    severities=(1, 2, 3, 4, 5), novel_shares=(0.2, 0.4, 0.6, 0.8, 1.0))
EXPECTED = "partly reproduced (1 of 4)"


ATC_GAP = ("ATC's mean over-estimate of accuracy is {measured:.3f} (interval [{low:.3f}, "
           "{high:.3f}] over {n} targets), not clearly above 0. ATC over-estimates on noise, "
           "occlusion, rotation and novel subclasses but under-estimates on blur, contrast and "
           "pixelation (metrics overestimate_ATC[family]): those shifts shrink the logits, so "
           "correct samples fall below the confidence threshold fitted on the source and are "
           "counted as errors. AC and DoC, which do not threshold, over-estimate on average "
           "as the paper says (checks ac_/doc_overestimates_accuracy).")


def run(settings: CottSettings = QUICK, seed: int = 0) -> Result:
    with one_thread():
        return _run(settings, seed)


def _run(settings: CottSettings, seed: int) -> Result:
    res = Result(seed=seed)
    targets = run_testbed(settings, seed)
    res.metrics.update(mae_metrics(targets))
    sel = shifted(targets)
    shift = [t.pseudo_label_shift for t in sel]
    for m in METHODS:
        res.metrics[f"spearman_pseudo_shift_vs_overestimate_{m}"] = float(
            spearmanr(shift, over_estimates(sel, m)).statistic)
        res.metrics[f"mean_overestimate_{m}"] = float(np.mean(over_estimates(sel, m)))
    err = {m: abs_errors(sel, m) for m in METHODS}
    best = min(BASELINES, key=lambda m: err[m].mean())
    res.metrics["best_baseline_mae_over_cott_mae"] = float(err[best].mean()
                                                           / err["COTT"].mean())
    families: dict[str, Any] = {}
    for t in sel:
        families.setdefault(t.name.rsplit(" ", 1)[0] if t.kind == "corruption"
                            else "novel_subclasses", []).append(t)
    for fam, part in families.items():
        for m in ("AC", "ATC", "COT", "COTT"):
            res.metrics[f"overestimate_{m}[{fam}]"] = float(over_estimates(part, m).mean())
    for kind in ("corruption", "subpopulation"):
        part = shifted(targets, kind)
        res.metrics[f"cott_minus_cot_mae_{kind}"] = float(
            abs_errors(part, "COTT").mean() - abs_errors(part, "COT").mean())

    for m in BASELINES:
        res.check(f"{m.lower()}_overestimates_accuracy", over_estimates(sel, m), 0.0, ">",
                  claim="pseudo_label_shift_drives_underestimation",
                  description=f"{m}'s predicted minus true accuracy, one item per shifted "
                              "target; the interval of the mean must be above 0",
                  known_gap=None if m != "ATC" else ATC_GAP)
    res.check("atc_optimism_grows_with_pseudo_label_shift",
              res.metrics["spearman_pseudo_shift_vs_overestimate_ATC"], 0.0, ">", reduce="mean",
              claim="pseudo_label_shift_drives_underestimation",
              description=f"Spearman correlation over the {len(sel)} shifted targets of a seed "
                          "between pseudo-label shift and ATC's over-estimate; t interval over "
                          "seeds above 0",
              known_gap="ATC's optimism grows with pseudo-label shift only weakly here: mean "
                        "Spearman {measured:.3f} (interval [{low:.3f}, {high:.3f}] over {n} "
                        "seeds). Contrast loss, one of the shifts with the largest "
                        "pseudo-label shift, makes ATC under-estimate accuracy (it lowers every "
                        "confidence below the source threshold, see "
                        "overestimate_ATC[contrast]) while rotation makes it over-estimate; "
                        "the non-thresholded AC and DoC correlate clearly (metrics "
                        "spearman_pseudo_shift_vs_overestimate_AC / _DoC), so the mechanism "
                        "the paper describes is there, masked in ATC by thresholding under "
                        "this small CNN's logit shrinkage.")
    worst = top_pseudo_label_shift(sel, settings.top_share)
    for m in BASELINES:
        res.compare(f"cot_robust_vs_{m.lower()}", abs_errors(worst, "COT"),
                    abs_errors(worst, m), better="lower", claim="cot_robust",
                    description=f"absolute error, COT vs {m}, on the {len(worst)} targets per "
                                "seed with the largest pseudo-label shift")
    res.compare("cott_more_accurate_than_cot", err["COTT"], err["COT"], better="lower",
                claim="cott_lowers_error",
                description="absolute error of predicted accuracy, COTT vs COT, paired per "
                            f"shifted target ({len(sel)} per seed) and seed",
                known_gap="COTT is not more accurate than COT here: {ours:.4f} vs "
                          "{baseline:.4f}, difference interval [{low:.4f}, {high:.4f}] over "
                          "{n} targets (per kind: metrics cott_minus_cot_mae_corruption and "
                          "cott_minus_cot_mae_subpopulation). On blur, contrast and brightness "
                          "COTT under-estimates accuracy more than COT (metrics "
                          "overestimate_COTT[family] vs overestimate_COT[family]): thresholding "
                          "counts as errors the correct samples whose transport cost rises "
                          "under the shift (blur and contrast shrink this small CNN's logits). "
                          "The paper's ResNets stay over-confident under shift, where "
                          "thresholding helps.")
    for m in BASELINES:
        res.compare(f"cott_beats_{m.lower()}", err["COTT"], err[m], better="lower",
                    margin=settings.large_margin, claim="outperforms_sota",
                    description=f"absolute error of predicted accuracy, COTT vs {m}, paired per "
                                f"shifted target; margin {settings.large_margin:g}")
    res.figures["cott_predicted_vs_true"] = figure(
        targets, ["ATC", "COT", "COTT"], "COTT vs COT and ATC on shifted Fashion-MNIST")
    return res


EXPERIMENT = register(Experiment(
    "cott", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="Fashion-MNIST (real, shipped subset): a small CNN under a 10-corruption suite at "
         "several severities, and a BREEDS-style superclass CNN under novel-subclass shift",
    full_scale="CIFAR-10/100-C, ImageNet-C, BREEDS subpopulation and WILDS shifts with "
               "ResNet-scale models and a few hundred target sets; here a 2-layer CNN on "
               "10,000 Fashion-MNIST images and 55 target sets per seed",
))
