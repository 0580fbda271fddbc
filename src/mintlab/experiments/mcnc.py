"""``mcnc``: weights on a frozen random manifold vs PRANC's random linear span, on digits.

At equal numbers of trained (and stored) values:

* accuracy: an MLP (64-64-10) on 8x8 digits trained as MCNC (chunks of
  128 weights on a 7-dimensional sinusoidal manifold, plus one amplitude
  each) and as PRANC with as many coefficients; both with the same
  learning-rate grid (best on the validation split);
* reconstruction time: rebuilding a wider MLP's weights from the stored
  numbers and the seed, MCNC (one pass of a small generator over the
  chunks) vs PRANC (regenerating its ``weights x k`` basis).

Scaled down from the paper's ViT / ResNet / LLaMA compression.
"""

from __future__ import annotations

import time

import torch

from mintlab.compress import MCNC, PRANC

from ._compress_common import digits_tensors, fit_best_lr, mlp, n_trainable
from ._core import Experiment, Result
from .registry import register

CLAIM = (
    "Constraining weights to a frozen low-dimensional nonlinear manifold compresses a network "
    "better than a random linear subspace (PRANC) at the same number of stored parameters, "
    "and rebuilds the weights faster."
)

WIDTHS = [64, 64, 10]

ACCURACY_GAP = (
    "On a 4,810-weight MLP for 8x8 digits, PRANC is as accurate or more at every budget we "
    "tried: quick run (seed 0) 0.944 vs 0.949 at 312 trained numbers (2 of 450 test images); "
    "full run 0.873 vs 0.922 at 156, 0.942 vs 0.947 at 312, 0.960 vs 0.964 at 624, 0.936 vs "
    "0.969 at 608 (chunks of 64). The paper's accuracy advantage is reported at far higher "
    "compression of ViTs, ResNets and LLMs, which we cannot train here; the reconstruction-time "
    "advantage holds."
)


def _best_time(fn, repeats=3):
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def run(quick: bool = True, seed: int = 0) -> Result:
    import matplotlib.pyplot as plt

    res = Result()
    data = digits_tensors(seed)
    lrs = [3e-3, 1e-2, 3e-2]
    epochs = 60 if quick else 150
    settings = [(7, 128)] if quick else [(3, 128), (7, 128), (15, 128), (7, 64)]

    mc_acc, pr_acc, budgets = [], [], []
    for code_dim, chunk in settings:
        mc = fit_best_lr(lambda k=code_dim, d=chunk: MCNC(mlp(WIDTHS, seed), code_dim=k,
                                                          chunk_size=d, frequency=10.0,
                                                          seed=seed),
                         data, lrs, epochs, seed)
        budget = n_trainable(mc.model)
        pr = fit_best_lr(lambda b=budget: PRANC(mlp(WIDTHS, seed), n_coefficients=b, seed=seed),
                         data, lrs, epochs, seed)
        budgets.append(budget)
        mc_acc.append(mc.test_accuracy)
        pr_acc.append(pr.test_accuracy)
        tag = f"k{code_dim}_d{chunk}"
        res.metrics.update({f"budget_{tag}": budget, f"mcnc_accuracy_{tag}": mc.test_accuracy,
                            f"pranc_accuracy_{tag}": pr.test_accuracy,
                            f"mcnc_train_seconds_{tag}": mc.seconds,
                            f"pranc_train_seconds_{tag}": pr.seconds})
    main = settings.index((7, 128))
    res.check("mcnc_at_least_as_accurate_as_pranc", mc_acc[main] - pr_acc[main], 0.0, ">=",
              known_gap=ACCURACY_GAP,
              description=f"test accuracy of MCNC minus PRANC, both with {budgets[main]} "
                          "trained numbers")

    # reconstruction from (seed, stored numbers) of a wider network
    wide = [64, 256, 256, 10] if quick else [64, 512, 512, 10]
    chunk = 512 if quick else 1024
    mc_w = MCNC(mlp(wide, seed), code_dim=7, chunk_size=chunk, frequency=10.0, seed=seed)
    n_stored = n_trainable(mc_w)
    pr_w = PRANC(mlp(wide, seed), n_coefficients=n_stored, seed=seed, cache_basis=False)
    with torch.no_grad():
        t_mc = _best_time(mc_w.generate)
        t_pr = _best_time(pr_w.generate, repeats=2)
    n_weights = sum(p.numel() for p in mc_w.model.parameters())
    res.metrics.update({"reconstruction_weights": n_weights, "reconstruction_stored": n_stored,
                        "mcnc_reconstruction_seconds": t_mc,
                        "pranc_reconstruction_seconds": t_pr})
    res.check("mcnc_rebuilds_faster_than_pranc", t_pr / t_mc, 10.0, ">=",
              description=f"PRANC / MCNC time to rebuild {n_weights} weights from "
                          f"{n_stored} stored numbers and the seed")

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    order = sorted(range(len(budgets)), key=lambda i: budgets[i])
    axes[0].plot([budgets[i] for i in order], [mc_acc[i] for i in order], "o-", label="MCNC")
    axes[0].plot([budgets[i] for i in order], [pr_acc[i] for i in order], "s-", label="PRANC")
    axes[0].set_xlabel("trained numbers")
    axes[0].set_ylabel("test accuracy (digits)")
    axes[0].legend()
    axes[1].bar(["MCNC", "PRANC"], [t_mc, t_pr])
    axes[1].set_yscale("log")
    axes[1].set_ylabel("seconds")
    axes[1].set_title(f"rebuild {n_weights} weights from {n_stored} numbers")
    fig.tight_layout()
    res.figures["mcnc_vs_pranc"] = fig
    return res


EXPERIMENT = register(Experiment("mcnc", CLAIM, run))
