"""``pranc``: a network stored as a seed and k coefficients, reproduced on 8x8 digits.

An MLP (64-64-10, 4,810 weights) is trained three ways on the same split,
each with the same learning-rate grid (best on the validation split):

(a) normally (every weight trained and stored);
(b) as PRANC with k coefficients over k seeded random networks;
(c) as a dense MLP shrunk until it has at most k weights (the
    "same stored size" baseline of the paper).

Claims checked: PRANC beats (c) at the same stored size; with k = 300
(16x fewer stored bytes than the MLP) it stays within 5 accuracy points
of (a); the stored (seed, coefficients) rebuild the trained network
exactly. Scaled down from the paper's
CIFAR/ImageNet ResNets to what trains in seconds on a CPU.
"""

from __future__ import annotations

import torch

from mintlab.compress import PRANC, rebuild

from ._compress_common import digits_tensors, fit_best_lr, mlp, n_trainable
from ._core import Experiment, Result
from .registry import register

CLAIM = (
    "A network reparameterised as a linear combination of seeded random networks, trained in "
    "the span of those networks and stored as the seed plus the coefficients, is far more "
    "accurate than a dense network with the same number of stored parameters."
)

WIDTHS = [64, 64, 10]


def _small_width(budget: int) -> int:
    # a 64-h-10 MLP has 75 h + 10 weights
    return max(1, (budget - 10) // 75)


def run(quick: bool = True, seed: int = 0) -> Result:
    import matplotlib.pyplot as plt

    res = Result()
    data = digits_tensors(seed)
    lrs = [3e-3, 1e-2, 3e-2]
    epochs = 40 if quick else 100
    budgets = [100, 300] if quick else [50, 100, 200, 300, 600, 1200]
    check_k = 300

    dense = fit_best_lr(lambda: mlp(WIDTHS, seed), data, lrs, epochs, seed)
    n_dense = n_trainable(dense.model)
    res.metrics["dense_accuracy"] = dense.test_accuracy
    res.metrics["dense_parameters"] = n_dense

    pranc_acc, small_acc, small_params, ratios = {}, {}, {}, {}
    fitted_check = None
    for k in budgets:
        fit = fit_best_lr(lambda k=k: PRANC(mlp(WIDTHS, seed), n_coefficients=k, seed=seed),
                          data, lrs, epochs, seed)
        pranc_acc[k] = fit.test_accuracy
        ratios[k] = fit.model.compression_ratio()
        h = _small_width(k)
        small = fit_best_lr(lambda h=h: mlp([64, h, 10], seed), data, lrs, epochs, seed)
        small_acc[k], small_params[k] = small.test_accuracy, n_trainable(small.model)
        res.metrics[f"pranc_k{k}_accuracy"] = fit.test_accuracy
        res.metrics[f"pranc_k{k}_compression"] = ratios[k]
        res.metrics[f"pranc_k{k}_seconds"] = fit.seconds
        res.metrics[f"small_dense_{small_params[k]}params_accuracy"] = small.test_accuracy
        if k == check_k:
            fitted_check = fit

    res.check("pranc_beats_dense_of_same_size", pranc_acc[check_k] - small_acc[check_k], 0.0,
              ">", description=f"test accuracy of PRANC with k={check_k} minus that of a dense "
                               f"64-{_small_width(check_k)}-10 MLP ({small_params[check_k]} "
                               "weights)")
    res.check("pranc_close_to_dense", dense.test_accuracy - pranc_acc[check_k], 0.05, "<=",
              description=f"accuracy lost by PRANC (k={check_k}, {ratios[check_k]:.0f}x smaller "
                          "than the trained MLP) against the normally trained MLP")

    # rebuild from the stored seed + coefficients into a freshly initialised network
    exported = fitted_check.model.export()
    rebuilt = rebuild(mlp(WIDTHS, seed + 1), exported).eval()
    with torch.no_grad():
        diff = float((rebuilt(data["X_test"]) - fitted_check.model(data["X_test"])).abs().max())
    res.metrics["stored_bytes"] = exported.nbytes
    res.metrics["rebuild_max_abs_logit_difference"] = diff
    res.check("rebuild_is_exact", diff, 0.0, "<=",
              description="max |logit difference| between the trained PRANC model and the "
                          "network rebuilt from (seed, coefficients)")

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    ax.semilogx([4 * k + 8 for k in budgets], [pranc_acc[k] for k in budgets], "o-",
                label="PRANC (seed + k coefficients)")
    ax.semilogx([4 * small_params[k] for k in budgets], [small_acc[k] for k in budgets], "s-",
                label="dense MLP of the same size")
    ax.axhline(dense.test_accuracy, color="k", ls="--",
               label=f"trained MLP ({4 * n_dense} bytes)")
    ax.set_xlabel("bytes stored")
    ax.set_ylabel("test accuracy (digits)")
    ax.legend(fontsize=8)
    ax.set_title("PRANC on 8x8 digits")
    fig.tight_layout()
    res.figures["pranc_accuracy_vs_bytes"] = fig
    return res


EXPERIMENT = register(Experiment("pranc", CLAIM, run))
