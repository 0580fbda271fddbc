"""``cott``: thresholded confidence OT (COTT) vs COT and the baselines, on shifted digits.

Same testbed as ``cot`` (:mod:`mintlab.experiments._ood_common`): an MLP on
sklearn's 8x8 digits, target sets under covariate shifts of growing
severity. One item per covariate-shifted target set; comparisons are paired
over targets and seeds.

Claims and how each is judged:

1. ``pseudo_label_shift_drives_underestimation``: the confidence baseline
   ATC over-estimates accuracy (under-estimates the error) on shifted
   targets, and the more so the larger the pseudo-label shift: its mean
   over-estimate is above 0 (interval over targets), and the Spearman
   correlation between pseudo-label shift and its over-estimate is above 0
   (t interval over seeds).
2. ``cot_robust``: COT's absolute error is lower than ATC's.
3. ``cott_lowers_error``: COTT's absolute error is lower than COT's.
4. ``outperforms_sota``: COTT's absolute error is lower than each of AC,
   DoC and ATC (three comparisons, all must hold).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import spearmanr

from ._core import Experiment, Result
from ._ood_common import (
    ShiftSettings,
    abs_errors,
    covariate,
    figure,
    mae_metrics,
    over_estimates,
    run_testbed,
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
    """The shared testbed's knobs (:class:`~._ood_common.ShiftSettings`); nothing else varies."""


QUICK = CottSettings(seeds=3, epochs=40, noise=(0.1, 0.3, 0.5), angles=(10, 25, 40),
                     blurs=(0.6, 1.0), contrast=(0.5,), n_label_shifts=4)
FULL = CottSettings(seeds=5, epochs=40, noise=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6),
                    angles=(10, 20, 30, 40, 50), blurs=(0.5, 0.75, 1.0, 1.25),
                    contrast=(0.6, 0.4, 0.25), n_label_shifts=10)
EXPECTED = "partly reproduced (3 of 4)"

BASELINES = ("AC", "DoC", "ATC")


def run(settings: CottSettings = QUICK, seed: int = 0) -> Result:
    with one_thread():
        return _run(settings, seed)


def _run(settings: CottSettings, seed: int) -> Result:
    res = Result(seed=seed)
    targets = run_testbed(settings, seed)
    res.metrics.update(mae_metrics(targets, "COTT"))
    cov = covariate(targets)
    shift = [t.pseudo_label_shift for t in cov]
    for m in ("ATC", "COT", "COTT"):
        res.metrics[f"spearman_pseudo_shift_vs_overestimate_{m}"] = float(
            spearmanr(shift, over_estimates(cov, m)).statistic)
        res.metrics[f"mean_overestimate_{m}"] = float(np.mean(over_estimates(cov, m)))

    res.check("atc_overestimates_accuracy", over_estimates(cov, "ATC"), 0.0, ">",
              claim="pseudo_label_shift_drives_underestimation",
              description="ATC's predicted minus true accuracy, one item per covariate-shifted "
                          "target; the interval of the mean must be above 0")
    res.check("atc_optimism_grows_with_pseudo_label_shift",
              res.metrics["spearman_pseudo_shift_vs_overestimate_ATC"], 0.0, ">", reduce="mean",
              claim="pseudo_label_shift_drives_underestimation",
              description=f"Spearman correlation over the {len(cov)} covariate targets of a seed "
                          "between pseudo-label shift and ATC's over-estimate; t interval over "
                          "seeds above 0")
    err = {m: abs_errors(cov, m) for m in ("AC", "DoC", "ATC", "COT", "COTT")}
    res.compare("cot_more_accurate_than_atc", err["COT"], err["ATC"], better="lower",
                claim="cot_robust",
                description="absolute error of predicted accuracy, COT vs ATC, one item per "
                            "covariate-shifted target")
    res.compare("cott_more_accurate_than_cot", err["COTT"], err["COT"], better="lower",
                claim="cott_lowers_error",
                description="absolute error of predicted accuracy, COTT vs COT, paired per "
                            "covariate-shifted target",
                known_gap="COTT's error is lower on average, {ours:.4f} vs {baseline:.4f}, "
                          "but the paired difference's interval [{low:.4f}, {high:.4f}] over "
                          "{n} targets includes 0: the gain is small next to the spread between "
                          "target sets and seeds at this scale (the paper measures it over "
                          "hundreds of shifted sets).")
    for m in BASELINES:
        res.compare(f"cott_beats_{m.lower()}", err["COTT"], err[m], better="lower",
                    claim="outperforms_sota",
                    description=f"absolute error of predicted accuracy, COTT vs {m}, paired per "
                                "covariate-shifted target")
    res.figures["cott_predicted_vs_true"] = figure(targets, ["ATC", "COT", "COTT"],
                                                   "COTT vs COT and ATC on shifted digits")
    return res


EXPERIMENT = register(Experiment(
    "cott", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="sklearn digits 8x8 (real) with synthetic covariate shifts",
    full_scale="CIFAR-10/100-C, ImageNet-C, BREEDS subpopulation and WILDS shifts with "
               "ResNet-scale models, and a few hundred target sets",
))
