"""``pranc``: a network stored as a seed and k coefficients, reproduced on 8x8 digits.

An MLP (64-64-10, 4,810 weights) is trained three ways on the same split:

(a) normally (every weight trained and stored);
(b) as PRANC with k coefficients over k seeded random networks;
(c) as a dense MLP ``64-h-10`` shrunk until it has at most k weights (the
    "same stored size" baseline of the paper), given the care of a small
    baseline: the best of several initialisations, each at every learning
    rate (a tiny ReLU net often starts with dead units).

(a) and (b) get the learning-rate grid; every choice is made on the
validation split, and all arms train for the same epochs.

Claims and how each is judged (per-test-image correctness, paired
bootstrap over the test images and the seeds):

1. ``beats_same_size_dense``: PRANC with k coefficients beats (c) by a large
   margin (at least 5 accuracy points) at every budget k;
2. ``compaction``: with k = 300 (16x fewer stored numbers than the MLP)
   PRANC stays within 5 points of (a).

That the stored (seed, coefficients) rebuild the trained network exactly is
a unit test (``tests/compress/test_pranc_claims.py``).

Scaled down from the paper's CIFAR/ImageNet ResNets to what trains in
seconds on a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

from mintlab.compress import PRANC

from ._compress_common import digits_tensors, fit_best_lr, fit_best_of, mlp, n_trainable
from ._core import Experiment, Result, Settings
from .registry import register

CLAIMS = {
    "beats_same_size_dense": "PRANC outperforms baselines with a large margin on image "
                             "classification when compressing a deep model almost 100 times.",
    "compaction": "A deep model reparametrized as a linear combination of several randomly "
                  "initialized and frozen deep models, reconstructed from a single seed and the "
                  "learned mixture coefficients, enables significant compaction of the model.",
}

WIDTHS = [64, 64, 10]
LRS = (3e-3, 1e-2, 3e-2)  # learning-rate grid of every arm
MARGIN = 0.05  # "a large margin": at least 5 accuracy points over the same-size network
TOLERANCE = 0.05  # "compaction": at most 5 points below the uncompressed network

_GAP_COMPACTION = ("PRANC with 16x fewer stored numbers reaches {ours:.3f} test accuracy against "
                   "{baseline:.3f} for the full MLP less 5 points (difference interval "
                   "[{low:.3f}, {high:.3f}] over {n} test images): on some seeds' splits the "
                   "span of 300 random networks of a 4,810-weight MLP loses more than 5 points "
                   "(per-seed pranc_k300_accuracy vs dense_accuracy)")


@dataclass(frozen=True, kw_only=True)
class PrancSettings(Settings):
    epochs: int  # training epochs of every arm
    budgets: tuple[int, ...]  # numbers of PRANC coefficients (= same-size dense weight limits)
    compaction_k: int  # the budget at which PRANC is compared with the full MLP
    dense_inits: int  # initialisations tried for the same-size dense network


QUICK = PrancSettings(seeds=3, epochs=40, budgets=(300,), compaction_k=300, dense_inits=3)
FULL = PrancSettings(seeds=5, epochs=100, budgets=(50, 100, 200, 300, 600, 1200),
                     compaction_k=300, dense_inits=5)
EXPECTED = "partly reproduced (1 of 2)"


def _small_width(budget: int) -> int:
    # a 64-h-10 MLP has 75 h + 10 weights
    return (budget - 10) // 75


def run(settings: PrancSettings = QUICK, seed: int = 0) -> Result:
    import matplotlib.pyplot as plt

    res = Result(seed=seed)
    data = digits_tensors(seed)
    epochs = settings.epochs

    dense = fit_best_lr(lambda: mlp(WIDTHS, seed), data, LRS, epochs, seed)
    n_dense = n_trainable(dense.model)
    res.metrics["dense_accuracy"] = dense.test_accuracy
    res.metrics["dense_parameters"] = n_dense

    pranc_acc, small_acc, small_params = {}, {}, {}
    for k in settings.budgets:
        def make_pranc(k: int = k) -> PRANC:
            return PRANC(mlp(WIDTHS, seed), n_coefficients=k, seed=seed)

        fit = fit_best_lr(make_pranc, data, LRS, epochs, seed)
        pranc_acc[k] = fit.test_accuracy
        res.metrics[f"pranc_k{k}_accuracy"] = fit.test_accuracy
        res.metrics[f"pranc_k{k}_compression"] = fit.model.compression_ratio()
        res.metrics[f"pranc_k{k}_stored_bytes"] = fit.model.stored_bytes()
        res.metrics[f"pranc_k{k}_seconds"] = fit.seconds
        h = _small_width(k)
        if h < 1:  # no 64-h-10 network fits in k weights
            continue
        inits = [lambda h=h, i=i: mlp([64, h, 10], 1000 * seed + i)
                 for i in range(settings.dense_inits)]
        small = fit_best_of(inits, data, LRS, epochs, seed)
        small_acc[k], small_params[k] = small.test_accuracy, n_trainable(small.model)
        res.metrics[f"small_dense_k{k}_accuracy"] = small.test_accuracy
        res.metrics[f"small_dense_k{k}_parameters"] = small_params[k]
        res.metrics[f"small_dense_k{k}_lr"] = small.lr
        res.compare(f"pranc_beats_dense_of_same_size_k{k}", fit.test_correct,
                    small.test_correct, better="higher", margin=MARGIN,
                    claim="beats_same_size_dense",
                    description=f"per-test-image correctness: PRANC with k={k} coefficients "
                                f"({fit.model.compression_ratio():.0f}x smaller than the MLP) vs "
                                f"a 64-{h}-10 MLP ({small_params[k]} weights), best of "
                                f"{settings.dense_inits} initialisations x {len(LRS)} learning "
                                f"rates on validation; margin {MARGIN} (a large margin)")
        if k == settings.compaction_k:
            res.compare("pranc_close_to_dense", fit.test_correct,
                        dense.test_correct - TOLERANCE, better="higher", claim="compaction",
                        known_gap=_GAP_COMPACTION,
                        description=f"per-test-image correctness: PRANC (k={k}, "
                                    f"{fit.model.compression_ratio():.0f}x fewer stored bytes) "
                                    f"vs the normally trained MLP minus {TOLERANCE} (at most "
                                    f"{TOLERANCE:.0%} accuracy lost)")

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    ks = list(settings.budgets)
    ax.plot([4 * k + 8 for k in ks], [pranc_acc[k] for k in ks], "o-",
            label="PRANC (seed + k coefficients)")
    ks_small = [k for k in ks if k in small_acc]
    ax.plot([4 * small_params[k] for k in ks_small], [small_acc[k] for k in ks_small], "s-",
            label="dense MLP of the same size (best init)")
    if len(ks) > 2:
        ax.set_xscale("log")
    ax.axhline(dense.test_accuracy, color="k", ls="--",
               label=f"trained MLP ({4 * n_dense} bytes)")
    ax.set_xlabel("bytes stored")
    ax.set_ylabel("test accuracy (digits)")
    ax.legend(fontsize=8)
    ax.set_title("PRANC on 8x8 digits")
    fig.tight_layout()
    res.figures["pranc_accuracy_vs_bytes"] = fig
    return res


EXPERIMENT = register(Experiment(
    "pranc", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="sklearn digits 8x8 (real), stratified train/validation/test split per seed",
    full_scale="ResNet-20/56 on CIFAR-10/100 and ResNet-18 on ImageNet at about 100x "
               "compression, plus image compression with implicit networks, on GPUs",
))
