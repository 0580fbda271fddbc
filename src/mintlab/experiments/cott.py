"""``cott``: thresholded confidence OT (COTT) vs COT and the baselines, on shifted digits.

Same testbed as ``cot`` (:mod:`mintlab.experiments._ood_common`). Claims
checked: confidence-based estimates (ATC) grow more optimistic as the
pseudo-label shift grows, COT's much less; COTT's error is no larger than
COT's and lower than every baseline's over the covariate shifts.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr

from ._core import Experiment, Result
from ._ood_common import figure, mae_metrics, run_testbed
from .registry import register

CLAIM = (
    "Pseudo-label shift drives the underestimation of error by existing estimators; COT is "
    "robust to it, and thresholding the per-sample transport costs (COTT) lowers the error "
    "further."
)


def run(quick: bool = True, seed: int = 0) -> Result:
    res = Result()
    targets = run_testbed(quick, seed)
    res.metrics.update(mae_metrics(targets, "COTT"))
    cov = [t for t in targets if t.kind == "covariate"]
    shift = [t.pseudo_label_shift for t in cov]
    over = {m: [t.estimates[m] - t.accuracy for t in cov] for m in ("ATC", "COT", "COTT")}
    for m, v in over.items():
        res.metrics[f"spearman_pseudo_shift_vs_overestimate_{m}"] = float(
            spearmanr(shift, v).statistic)
        res.metrics[f"mean_overestimate_{m}"] = float(np.mean(v))
    res.check("atc_optimism_grows_with_pseudo_label_shift",
              res.metrics["spearman_pseudo_shift_vs_overestimate_ATC"], 0.5, ">=",
              description="Spearman correlation, over the covariate shifts, between the "
                          "pseudo-label shift and ATC's over-estimate of accuracy")
    res.check("cot_less_optimistic_than_atc", res.metrics["mean_overestimate_COT"],
              res.metrics["mean_overestimate_ATC"], "<",
              description="mean over-estimate of accuracy over the covariate shifts: COT vs ATC")
    res.check("cott_at_most_cot", res.metrics["mae_covariate_COTT"],
              res.metrics["mae_covariate_COT"], "<=",
              description="MAE over the covariate shifts: COTT vs COT")
    best_baseline = min(res.metrics[f"mae_covariate_{m}"] for m in ("AC", "DoC", "ATC"))
    res.check("cott_beats_baselines", res.metrics["mae_covariate_COTT"], best_baseline, "<",
              description="MAE over the covariate shifts: COTT vs the best of AC, DoC, ATC")
    res.figures["cott_predicted_vs_true"] = figure(targets, ["ATC", "COT", "COTT"],
                                                   "COTT vs COT and ATC on shifted digits")
    return res


EXPERIMENT = register(Experiment("cott", CLAIM, run))
