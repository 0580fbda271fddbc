"""``cot``: predicting a digits classifier's accuracy under shift with confidence OT.

Testbed: :mod:`mintlab.experiments._ood_common` (an MLP on sklearn's 8x8
digits; target sets are the test split under noise, rotation, blur and
contrast shifts of growing severity, and under class-proportion shift).
Scaled down from the paper's CIFAR / ImageNet / WILDS shifts.

Claims and how each is judged (one item per covariate-shifted target set,
paired over targets and seeds):

1. ``outperforms_baselines``: COT's absolute error of predicted accuracy is
   lower than that of each confidence baseline the paper compares with
   (AC, DoC, ATC), computed in the same run on the same targets
   (three comparisons, all must hold).
2. ``robust_estimates``: on the targets with the largest pseudo-label shift
   (the shifts where confidence-based estimates are most optimistic), COT's
   absolute error is lower than ATC's.

COT assumes the target's label proportions are the source's; under true
class-proportion shift its error with the source proportions and with the
target's proportions is reported as metrics (not a claim of the abstract).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._core import Experiment, Result
from ._ood_common import ShiftSettings, abs_errors, covariate, figure, mae_metrics, run_testbed
from ._sets_common import one_thread
from .registry import register

CLAIMS = {
    "outperforms_baselines": "Viewing test samples' softmax scores as samples from an unknown "
                             "distribution, Confidence Optimal Transport (COT) predicts a "
                             "model's performance on a target domain without labels and "
                             "outperforms existing methods by a large margin.",
    "robust_estimates": "COT provides robust estimates of a model's performance on a target "
                        "domain.",
}


@dataclass(frozen=True, kw_only=True)
class CotSettings(ShiftSettings):
    n_worst: int  # targets per seed with the largest pseudo-label shift, for robust_estimates


QUICK = CotSettings(seeds=3, epochs=40, noise=(0.1, 0.3, 0.5), angles=(10, 25, 40),
                    blurs=(0.6, 1.0), contrast=(0.5,), n_label_shifts=4, n_worst=3)
FULL = CotSettings(seeds=5, epochs=40, noise=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6),
                   angles=(10, 20, 30, 40, 50), blurs=(0.5, 0.75, 1.0, 1.25),
                   contrast=(0.6, 0.4, 0.25), n_label_shifts=10, n_worst=5)
EXPECTED = "reproduced"

BASELINES = ("AC", "DoC", "ATC")


def run(settings: CotSettings = QUICK, seed: int = 0) -> Result:
    with one_thread():
        return _run(settings, seed)


def _run(settings: CotSettings, seed: int) -> Result:
    res = Result(seed=seed)
    targets = run_testbed(settings, seed)
    res.metrics.update(mae_metrics(targets, "COT"))
    for t in targets:
        res.metrics[f"accuracy[{t.name}]"] = t.accuracy
        res.metrics[f"cot_estimate[{t.name}]"] = t.estimates["COT"]

    cov = covariate(targets)
    err_cot = abs_errors(cov, "COT")
    for m in BASELINES:
        res.compare(f"cot_beats_{m.lower()}", err_cot, abs_errors(cov, m), better="lower",
                    claim="outperforms_baselines",
                    description=f"absolute error of predicted accuracy, COT vs {m}, one item per "
                                f"covariate-shifted target ({len(cov)} per seed)")

    worst = sorted(cov, key=lambda t: t.pseudo_label_shift)[-settings.n_worst:]
    res.metrics["worst_pseudo_label_shift_mean"] = float(np.mean([t.pseudo_label_shift
                                                                  for t in worst]))
    res.compare("cot_robust_to_pseudo_label_shift", abs_errors(worst, "COT"),
                abs_errors(worst, "ATC"), better="lower", claim="robust_estimates",
                description=f"absolute error, COT vs ATC, on the {settings.n_worst} targets per "
                            "seed with the largest pseudo-label shift (TV between predicted "
                            "and true label histograms)")
    res.figures["cot_predicted_vs_true"] = figure(targets, ["AC", "ATC", "COT"],
                                                  "COT vs confidence baselines on shifted digits")
    return res


EXPERIMENT = register(Experiment(
    "cot", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="sklearn digits 8x8 (real) with synthetic covariate and label-proportion shifts",
    full_scale="CIFAR-10/100-C, ImageNet-C and WILDS shifts with ResNet-scale models, and a "
               "few hundred target sets",
))
