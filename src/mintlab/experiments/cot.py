"""``cot``: predicting a digits classifier's accuracy under shift with confidence OT.

Testbed: :mod:`mintlab.experiments._ood_common` (an MLP on 8x8 digits,
target sets under noise, rotation, blur and contrast shifts of growing
severity, and under class-proportion shift). Scaled down from the paper's
CIFAR / ImageNet / WILDS shifts.

Claims checked against the baselines computed in the same run (AC, DoC,
ATC): COT's mean absolute error over the covariate-shifted targets is lower
than each baseline's, and it stays lower on the targets with the largest
pseudo-label shift, where confidence-based estimates are most optimistic.
COT assumes the target's label proportions are the source's; under true
class-proportion shift it is given the target's proportions (reported
separately, with the estimate that wrongly keeps the source's).
"""

from __future__ import annotations

import numpy as np

from ._core import Experiment, Result
from ._ood_common import figure, mae_metrics, run_testbed
from .registry import register

CLAIM = (
    "Treating a model's softmax outputs on unlabelled target data as samples and transporting "
    "them to the source label distribution (COT) predicts the model's target accuracy more "
    "accurately than confidence-based baselines."
)


def run(quick: bool = True, seed: int = 0) -> Result:
    res = Result()
    targets = run_testbed(quick, seed)
    res.metrics.update(mae_metrics(targets, "COT"))
    for t in targets:
        res.metrics[f"accuracy[{t.name}]"] = t.accuracy
        res.metrics[f"cot_estimate[{t.name}]"] = t.estimates["COT"]
    cot = res.metrics["mae_covariate_COT"]
    for m in ("AC", "DoC", "ATC"):
        res.check(f"cot_beats_{m.lower()}", cot, res.metrics[f"mae_covariate_{m}"], "<",
                  description=f"MAE of predicted accuracy over the covariate shifts: COT vs {m}")
    cov = sorted((t for t in targets if t.kind == "covariate"),
                 key=lambda t: t.pseudo_label_shift)
    worst = cov[-3:]
    gap = [abs(t.estimates["COT"] - t.accuracy) - abs(t.estimates["ATC"] - t.accuracy)
           for t in worst]
    res.metrics["worst3_pseudo_label_shift"] = float(np.mean([t.pseudo_label_shift
                                                               for t in worst]))
    res.check("cot_robust_to_pseudo_label_shift", float(np.mean(gap)), 0.0, "<",
              description="mean (COT abs error - ATC abs error) on the three targets with the "
                          "largest pseudo-label shift")
    res.figures["cot_predicted_vs_true"] = figure(targets, ["AC", "ATC", "COT"],
                                                  "COT vs confidence baselines on shifted digits")
    return res


EXPERIMENT = register(Experiment("cot", CLAIM, run))
