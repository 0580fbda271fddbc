"""``lcot``: Linear Circular Optimal Transport, on gradient orientations of real images.

Data: Fashion-MNIST images (the shipped subset, class-balanced draws). Each
image becomes a circular measure: the orientation of its Sobel gradient at
every pixel, as a fraction of a turn, weighted by the gradient magnitude and
binned into ``n_bins`` atoms at the bin centres (a gradient-orientation
histogram, the classic circular descriptor of an image). K such measures
(K/10 per class) are embedded with LCOT (reference: the uniform measure,
grid of ``n_references`` points) and compared with the exact circular
Wasserstein-2 distance (COT: :func:`~mintlab.transport.circle_wasserstein`).
The exact COT values are checked against POT's independent
``ot.wasserstein_circle`` on a sample of pairs.

Three claims of the abstract:

1. ``efficient_metric``: LCOT makes comparing many circular measures cheap.
   The measures are split into ``n_groups`` groups of new queries; each
   group is compared with all K measures, by LCOT (embed the group, then
   Euclidean-type distances to the stored embeddings) and by exact COT (one
   batched solve per pair), timed back to back. Compare: log CPU seconds per
   group, paired by group; the interval must lie below ``-log(10)``: at
   least ten times faster, the order of magnitude the paper's complexity
   analysis (one embedding per measure against one solve per pair) predicts.
2. ``linearization_of_cot``: LCOT is the linearisation of COT. Checks: the
   Spearman correlation of LCOT with exact COT over all pairs is at least
   0.9 in every seed, and the exact COT we judge against agrees with POT's
   ``ot.wasserstein_circle`` (largest relative difference at most 1e-6).
3. ``learning``: LCOT serves learning on circular measures (the measures are
   labelled by the image's class). Compare (a): leave-one-out 1-NN
   correctness per measure with LCOT vs with exact COT minus
   ``delta = 0.05``, paired by measure: the cheap metric does as well as
   the exact one to within 5 accuracy points. Compare (b): a linear
   classifier (ridge classifier on standardised features, strength picked
   by leave-one-out inside each training fold; 5-fold cross-validated
   predictions, the same protocol for both) on the LCOT embedding vs on the
   raw histogram vectors (the Euclidean embedding of the measures, the
   paper's baseline for linear learning), paired by measure. This one is a
   known gap: these measures lie close to the uniform reference, where the
   embedding is nearly a linear map of the histogram (reported), so the two
   tie; at quick scale the interval falls on either side of zero.

Timings are CPU seconds of the computing thread (runs are single-threaded),
after both paths have been warmed up on one group.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from scipy.stats import spearmanr

from mintlab.embed import LinearCircularOT
from mintlab.transport import circle_wasserstein

from ._core import Experiment, Result, Settings
from .registry import register

CLAIMS = {
    "efficient_metric": "We introduce a new computationally efficient metric for circular "
                        "probability measures, Linear Circular Optimal Transport (LCOT).",
    "linearization_of_cot": "The proposed metric is rooted in the Circular Optimal Transport "
                            "(COT) and can be considered the linearization of the COT metric "
                            "with respect to a fixed reference measure.",
    "learning": "Through a set of numerical experiments, we demonstrate the benefits of LCOT in "
                "learning representations of circular measures.",
}

DELTA = 0.05  # "as well as": LCOT's 1-NN accuracy may trail exact COT's by 5 points at most
SPEED_MARGIN = math.log(10.0)  # "efficient": at least ten times faster per query group
POT_PAIRS = 50  # pairs whose exact COT is recomputed with POT
ALPHAS = (0.1, 1.0, 10.0, 100.0, 1000.0)  # ridge strengths, chosen by leave-one-out for both


@dataclass(frozen=True, kw_only=True)
class LcotSettings(Settings):
    n_measures: int  # K images (K/10 per class)
    n_bins: int  # orientation bins: atoms of every circular measure
    n_references: int  # LCOT grid size
    n_groups: int  # timed query groups: each group of K / n_groups measures against all K


QUICK = LcotSettings(seeds=3, n_measures=120, n_bins=64, n_references=100, n_groups=10)
FULL = LcotSettings(seeds=5, n_measures=400, n_bins=64, n_references=100, n_groups=20)
EXPECTED = "partly reproduced (2 of 3)"


def orientation_histograms(images, n_bins):
    """Gradient-orientation measures of grey images: ``(K, n_bins)`` weights on bin centres.

    Orientation ``atan2(g_y, g_x)`` of the Sobel gradient as a fraction of a
    turn, weighted by the gradient magnitude; every row sums to one.
    """
    from scipy import ndimage

    f = np.asarray(images, dtype=np.float64) / 255.0
    gx = ndimage.sobel(f, axis=2)
    gy = ndimage.sobel(f, axis=1)
    turn = np.remainder(np.arctan2(gy, gx) / (2 * np.pi), 1.0)
    mag = np.hypot(gx, gy)
    idx = np.minimum((turn * n_bins).astype(np.int64), n_bins - 1)
    H = np.stack([np.bincount(i.ravel(), weights=m.ravel(), minlength=n_bins)
                  for i, m in zip(idx, mag, strict=True)])
    return H / H.sum(1, keepdims=True)


def _nearest_other(D):
    """Leave-one-out 1-NN: per measure, 1 if its nearest other measure has its label."""
    return np.argmin(D + np.diag(np.full(len(D), np.inf)), axis=1)


def _linear_probe_correct(F, y, seed):
    """Per measure: correctness of a ridge classifier on standardised ``F`` (5-fold CV).

    Every measure is predicted by the model fitted on the other folds; the
    ridge strength is picked from ``ALPHAS`` by leave-one-out inside each
    training fold (the same protocol for every input).
    """
    from sklearn.linear_model import RidgeClassifierCV
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(), RidgeClassifierCV(alphas=ALPHAS))
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    return (cross_val_predict(probe, F, y, cv=folds) == y).astype(float)


def _linear_fit_r2(H, E, seed):
    """Cross-validated R^2 of a ridge fit of the embeddings ``E`` from the histograms ``H``."""
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import KFold, cross_val_predict

    folds = KFold(5, shuffle=True, random_state=seed)
    pred = cross_val_predict(RidgeCV(alphas=(1e-6, 1e-4, 1e-2)), H, E, cv=folds)
    return 1.0 - float(((E - pred) ** 2).sum() / ((E - E.mean(0)) ** 2).sum())


def _cot_rows(H, rows, centres):
    """Exact circular W2 from the measures ``rows`` to every row of ``H``: ``(len(rows), K)``."""
    K, B = H.shape
    i, j = np.repeat(rows, K), np.tile(np.arange(K), len(rows))
    pos = np.broadcast_to(centres, (len(i), B))
    w2 = np.asarray(circle_wasserstein(pos, pos, H[i], H[j], p=2))
    return np.sqrt(np.maximum(w2, 0.0)).reshape(len(rows), K)


def run(settings: LcotSettings = QUICK, seed: int = 0) -> Result:
    import matplotlib.pyplot as plt
    import ot

    from mintlab.datasets import load_fashion_mnist

    rng = np.random.default_rng(seed)
    res = Result(seed=seed)
    K, B, N = settings.n_measures, settings.n_bins, settings.n_references
    images, y = load_fashion_mnist("train", K, seed=seed, source="subset")
    H = orientation_histograms(images, B)  # (K, B)
    centres = (np.arange(B) + 0.5) / B
    measures = [(centres[:, None], h) for h in H]

    # 1. queries: a group of measures compared with all K, LCOT vs exact COT, timed back to
    # back per group (paths warmed up first)
    lcot = LinearCircularOT(n_references=N).fit(measures[:2])
    E = np.asarray(lcot.transform(measures))  # (K, N), stored embeddings
    groups = np.array_split(rng.permutation(K), settings.n_groups)
    lcot.pairwise_distances(lcot.transform(measures[:10]), E)
    _cot_rows(H, groups[0], centres)
    D_lcot, D_cot = np.zeros((K, K)), np.zeros((K, K))
    t_lcot_list, t_cot_list = [], []
    for g in groups:
        t0 = time.thread_time()
        Eg = lcot.transform([measures[k] for k in g])
        D_lcot[g] = np.asarray(lcot.pairwise_distances(Eg, E))
        t_lcot_list.append(time.thread_time() - t0)
        t0 = time.thread_time()
        D_cot[g] = _cot_rows(H, g, centres)
        t_cot_list.append(time.thread_time() - t0)
    t_lcot, t_cot = np.asarray(t_lcot_list), np.asarray(t_cot_list)
    np.fill_diagonal(D_cot, 0.0)
    res.metrics.update({"cpu_seconds_lcot_all_queries": float(t_lcot.sum()),
                        "cpu_seconds_cot_all_queries": float(t_cot.sum()),
                        "cot_over_lcot_time": float(t_cot.sum() / t_lcot.sum())})
    res.compare("lcot_queries_10x_faster_than_cot", np.log(t_lcot), np.log(t_cot),
                better="lower", margin=SPEED_MARGIN, claim="efficient_metric",
                description=f"log CPU seconds per group of {K // settings.n_groups} new "
                            f"measures compared with all {K} ({B} atoms each): LCOT (embed the "
                            "group, then compare with the stored embeddings) vs exact COT on "
                            "every pair; must be at least 10x faster")

    # 2. linearisation: rank agreement with exact COT; exact COT against POT
    iu = np.triu_indices(K, 1)
    rho = float(spearmanr(D_lcot[iu], D_cot[iu]).statistic)
    res.metrics.update({"spearman_lcot_vs_cot": rho,
                        "median_lcot_over_cot": float(np.median(D_lcot[iu] / D_cot[iu]))})
    res.check("lcot_ranks_like_cot", rho, 0.9, ">=", claim="linearization_of_cot",
              description=f"Spearman correlation of LCOT with exact COT over {len(iu[0])} "
                          "pairs of orientation measures, every seed")
    pick = rng.choice(len(iu[0]), size=min(POT_PAIRS, len(iu[0])), replace=False)
    i, j = iu[0][pick], iu[1][pick]
    pos = np.repeat(centres[:, None], len(pick), 1)
    pot = np.sqrt(np.asarray(ot.wasserstein_circle(pos, pos, H[i].T, H[j].T, p=2)))
    rel = float(np.max(np.abs(D_cot[i, j] - pot) / pot))
    res.metrics["max_relative_difference_cot_vs_pot"] = rel
    res.check("exact_cot_agrees_with_pot", rel, 1e-6, "<=", claim="linearization_of_cot",
              description=f"largest relative difference of our exact COT and POT's "
                          f"ot.wasserstein_circle over {len(pick)} random pairs, every seed")

    # 3. learning: 1-NN with LCOT vs exact COT; linear probe on LCOT vs raw histograms
    ok_lcot = (y[_nearest_other(D_lcot)] == y).astype(float)
    ok_cot = (y[_nearest_other(D_cot)] == y).astype(float)
    ok_euc = (y[_nearest_other(np.linalg.norm(H[:, None] - H[None], axis=-1))] == y).astype(float)
    lin_lcot = _linear_probe_correct(E, y, seed)
    lin_hist = _linear_probe_correct(H, y, seed)
    res.metrics.update({"nn_accuracy_lcot": float(ok_lcot.mean()),
                        "nn_accuracy_cot": float(ok_cot.mean()),
                        "nn_accuracy_histogram_l2": float(ok_euc.mean()),
                        "linear_accuracy_lcot_embedding": float(lin_lcot.mean()),
                        "linear_accuracy_histogram": float(lin_hist.mean())})
    res.compare("lcot_nn_as_good_as_cot", ok_lcot, ok_cot - DELTA, better="higher",
                claim="learning",
                description="leave-one-out 1-NN correctness (10 classes) per measure, LCOT vs "
                            f"exact COT minus {DELTA:g} (as well as COT to within {DELTA:g})")
    res.compare("lcot_embedding_beats_histogram", lin_lcot, lin_hist, better="higher",
                claim="learning",
                description="linear (ridge) classifier correctness per measure (5-fold "
                            "cross-validated predictions): on the LCOT embedding vs on the raw "
                            "orientation histogram (same protocol)",
                known_gap="A linear classifier on the LCOT embedding scores {ours:.3f}, on the "
                          "raw histogram {baseline:.3f} (difference interval [{low:.3f}, "
                          "{high:.3f}] over {n} measures): no benefit here. Gradient-"
                          "orientation measures of these images lie close to the uniform "
                          "reference (median LCOT to it in metric median_lcot_to_uniform, in "
                          "turns), where the embedding is nearly a linear map of the "
                          "histogram (cross-validated R^2 of a linear fit in metric "
                          "r2_lcot_embedding_from_histogram), so a linear classifier sees the "
                          "same information in both; the separability the paper shows needs "
                          "measures far from the reference.")
    res.metrics["median_lcot_to_uniform"] = float(np.median(np.linalg.norm(E, axis=1)))
    res.metrics["r2_lcot_embedding_from_histogram"] = _linear_fit_r2(H, E, seed)

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    grid = np.arange(N) / N
    for k in range(3):
        axes[0].plot(grid, E[k] * np.sqrt(N), label=f"class {y[k]}")
    axes[0].set_xlabel("t (reference: uniform)")
    axes[0].set_ylabel("centred LCOT embedding")
    axes[0].legend(fontsize=7)
    axes[1].scatter(D_cot[iu], D_lcot[iu], s=3)
    axes[1].set_xlabel("exact COT (circular W2)")
    axes[1].set_ylabel("LCOT")
    axes[1].set_title(f"Spearman {rho:.3f}; {t_cot.sum() / t_lcot.sum():.0f}x faster")
    fig.tight_layout()
    res.figures["lcot"] = fig
    return res


EXPERIMENT = register(Experiment(
    "lcot", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="Fashion-MNIST (shipped subset): gradient-orientation measures of real images, "
         "64 atoms on the circle weighted by gradient magnitude, labelled by class",
    full_scale="the paper's sizes: thousands of circular measures and LCOT-based PCA / "
               "classification; here K = 400 measures (160,000 exact COT solves) per seed",
))
