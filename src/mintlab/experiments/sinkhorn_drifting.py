"""``sinkhorn-drifting``: one-step generators trained by drifting, one-sided vs Sinkhorn.

Two offline datasets: a ring of eight Gaussians in the plane and the 8x8
digits (64 dimensions). For each kernel temperature of a sweep, a small MLP
generator is trained with the one-sided kernel drift and with the Sinkhorn
drift (same steps, batch, learning rate and seed), then sampled in one
pass. Quality: exact W2 (POT's ``emd2``) between each of several batches of
generated samples and a held-out data batch of the same size, so the two
methods are compared on paired evaluation batches (bootstrap over batches
and seeds); modes covered on the ring; digit classes covered (a
logistic-regression digit classifier; a class counts when it gets at least 2%
of the samples). Scaled down from the paper's FFHQ-ALAE and MNIST runs.

Three claims of the abstract:

1. ``less_temperature_sensitive``: over the temperature sweep on the ring,
   the W2 of Sinkhorn drifting varies less (max minus min, per evaluation
   batch) than that of kernel drifting, and Sinkhorn drifting covers all
   eight modes at every temperature;
2. ``low_temperature_quality``: at the lowest temperature, Sinkhorn drifting
   has lower W2 than kernel drifting, on the ring and on the digits;
3. ``full_class_coverage``: Sinkhorn drifting covers all ten digit classes at
   every temperature of the sweep, and more classes than kernel drifting at
   the lowest one (per-class coverage, paired).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import ot

from mintlab.generative import DriftingGenerator

from ._core import Experiment, Result, Settings
from ._sets_common import one_thread
from .registry import register

CLAIMS = {
    "less_temperature_sensitive": "Experiments show that Sinkhorn drifting reduces sensitivity "
                                  "to kernel temperature and improves one-step generative "
                                  "quality.",
    "low_temperature_quality": "These theoretical gains translate to strong low-temperature "
                               "improvements in practice: at the lowest temperature setting we "
                               "evaluate, Sinkhorn drifting reduces mean FID and mean latent "
                               "EMD.",
    "full_class_coverage": "On MNIST, Sinkhorn drifting preserves full class coverage across "
                           "the temperature sweep.",
}


@dataclass(frozen=True, kw_only=True)
class SinkhornDriftingSettings(Settings):
    steps: int  # training steps per generator
    batch: int  # generated and data samples per training step
    ring_temperatures: tuple[float, ...]  # ring temperature sweep (absolute)
    digits_factors: tuple[float, ...]  # digits temperatures, times the median pairwise distance
    eval_batches: int  # evaluation batches per generator (paired items)
    eval_size: int  # samples per evaluation batch and per held-out data batch


QUICK = SinkhornDriftingSettings(
    seeds=3, steps=200, batch=64, ring_temperatures=(0.02, 0.1, 0.5),
    digits_factors=(0.02, 0.2), eval_batches=5, eval_size=120)
FULL = SinkhornDriftingSettings(
    seeds=3, steps=1500, batch=256, ring_temperatures=(0.01, 0.02, 0.05, 0.1, 0.2, 0.5),
    digits_factors=(0.01, 0.02, 0.05, 0.1, 0.2), eval_batches=8, eval_size=100)
EXPECTED = "partly reproduced (2 of 3)"

METHODS = ("kernel", "sinkhorn")
MIN_SHARE = 0.02  # share of samples a digit class needs to count as covered


def _ring(n, rng):
    k = rng.integers(0, 8, n)
    ang = 2 * np.pi * k / 8
    return np.c_[2 * np.cos(ang), 2 * np.sin(ang)] + 0.1 * rng.normal(size=(n, 2))


def _ring_modes(S):
    ang = np.arctan2(S[:, 1], S[:, 0])
    k = np.round(ang / (2 * np.pi / 8)).astype(int) % 8
    near = np.abs(np.linalg.norm(S, axis=1) - 2) < 0.5
    return len(np.unique(k[near]))


def _w2(A, B):
    return float(np.sqrt(ot.emd2([], [], ot.dist(A, B))))


def _batch_w2(S, held, k):
    """W2 of each of ``k`` sample batches to the matching held-out batch."""
    return np.array([_w2(a, b) for a, b in zip(np.array_split(S, k), np.array_split(held, k),
                                                strict=True)])


@functools.cache
def _digits():
    """The 8x8 digits scaled to [0, 1], their labels, and a logistic-regression classifier of
    them (the class-coverage instrument: fitted once, the same for every seed)."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    return X, y, LogisticRegression(max_iter=2000).fit(X, y)


def run(settings: SinkhornDriftingSettings = QUICK, seed: int = 0) -> Result:
    with one_thread():
        return _run(settings, seed)


def _run(settings, seed):
    import matplotlib.pyplot as plt

    s = settings
    res = Result(seed=seed)
    rng = np.random.default_rng(seed)
    n_eval = s.eval_batches * s.eval_size
    ring_temps = list(s.ring_temperatures)

    # ring of eight Gaussians
    Y, Y_held = _ring(4000, rng), _ring(n_eval, rng)
    ring_w2 = {m: {} for m in METHODS}
    modes = {m: {} for m in METHODS}
    samples = {}
    for tau in ring_temps:
        for m in METHODS:
            g = DriftingGenerator(2, temperature=tau, method=m, seed=seed)
            g.fit(Y, steps=s.steps, batch_size=s.batch, lr=2e-3)
            S = g.sample(n_eval, seed=seed + 1).numpy()
            ring_w2[m][tau] = _batch_w2(S, Y_held, s.eval_batches)
            modes[m][tau] = _ring_modes(S)
            samples[(m, tau)] = S
            res.metrics[f"ring_w2_{m}_tau{tau}"] = float(ring_w2[m][tau].mean())
            res.metrics[f"ring_modes_{m}_tau{tau}"] = modes[m][tau]
    spread = {m: np.ptp(np.stack([ring_w2[m][t] for t in ring_temps]), axis=0) for m in METHODS}
    for m in METHODS:
        res.metrics[f"ring_w2_spread_{m}"] = float(spread[m].mean())

    # 8x8 digits
    X, _, clf = _digits()
    perm = rng.permutation(len(X))
    X_held, X_train = X[perm[:n_eval]], X[perm[n_eval:]]  # held-out digits are not trained on
    sub = X[rng.choice(len(X), 300, replace=False)]
    med = float(np.median(np.linalg.norm(sub[:, None] - sub[None], axis=-1)))
    classes, covered, digits_w2 = ({m: {} for m in METHODS} for _ in range(3))
    for f in s.digits_factors:
        for m in METHODS:
            g = DriftingGenerator(64, noise_dim=16, temperature=f * med, method=m, seed=seed)
            g.fit(X_train, steps=s.steps, batch_size=s.batch, lr=2e-3)
            S = g.sample(n_eval, seed=seed + 1).numpy()
            share = np.bincount(clf.predict(S), minlength=10) / len(S)
            covered[m][f] = (share >= MIN_SHARE).astype(float)
            classes[m][f] = int(covered[m][f].sum())
            digits_w2[m][f] = _batch_w2(S, X_held, s.eval_batches)
            res.metrics[f"digits_classes_{m}_tau{f}xmedian"] = classes[m][f]
            res.metrics[f"digits_w2_{m}_tau{f}xmedian"] = float(digits_w2[m][f].mean())

    # 1. temperature sensitivity on the ring
    res.compare("sinkhorn_less_temperature_sensitive", spread["sinkhorn"], spread["kernel"],
                better="lower", claim="less_temperature_sensitive",
                description="ring: max - min W2 over the temperature sweep "
                            f"{tuple(ring_temps)}, per evaluation batch, Sinkhorn vs kernel "
                            "drifting")
    res.check("sinkhorn_covers_all_ring_modes", min(modes["sinkhorn"].values()), 8, ">=",
              claim="less_temperature_sensitive",
              description="ring: fewest modes (of 8) covered by Sinkhorn drifting over the "
                          "temperature sweep, every seed")

    # 2. quality at the lowest temperature
    low, lowf = min(ring_temps), min(s.digits_factors)
    res.compare("sinkhorn_better_at_low_temperature_ring", ring_w2["sinkhorn"][low],
                ring_w2["kernel"][low], better="lower", claim="low_temperature_quality",
                description=f"ring: W2 to held-out data at temperature {low}, per evaluation "
                            "batch, Sinkhorn vs kernel drifting")
    res.compare("sinkhorn_better_at_low_temperature_digits", digits_w2["sinkhorn"][lowf],
                digits_w2["kernel"][lowf], better="lower", claim="low_temperature_quality",
                description=f"digits: W2 to held-out digits at temperature {lowf} x median "
                            "distance, per evaluation batch, Sinkhorn vs kernel drifting")

    # 3. class coverage on the digits
    res.compare("sinkhorn_covers_more_classes_at_low_temperature", covered["sinkhorn"][lowf],
                covered["kernel"][lowf], better="higher", claim="full_class_coverage",
                description=f"digits: per-class coverage (share >= {MIN_SHARE:.0%}) at "
                            f"temperature {lowf} x median distance, Sinkhorn vs kernel "
                            "drifting, paired by class")
    res.check("sinkhorn_full_class_coverage_across_sweep", min(classes["sinkhorn"].values()),
              10, ">=", claim="full_class_coverage",
              description="fewest digit classes (of 10) covered by Sinkhorn drifting over the "
                          f"temperature sweep {tuple(s.digits_factors)} x median distance, "
                          "every seed",
              known_gap="Sinkhorn drifting covers as few as {worst:.0f} of 10 classes at the "
                        "top of the sweep (mean over seeds {measured:.1f}): at 0.2 x the "
                        "median distance the Sinkhorn coupling is close to the independent one "
                        "and samples blur towards class means within our few hundred training "
                        "steps; the paper's MNIST sweep trains far longer.")

    fig, axes = plt.subplots(2, len(ring_temps), figsize=(3.2 * len(ring_temps), 6.2),
                             squeeze=False)
    for j, tau in enumerate(ring_temps):
        for i, m in enumerate(METHODS):
            ax = axes[i, j]
            ax.scatter(*Y_held[:500].T, s=2, c="0.8")
            ax.scatter(*samples[(m, tau)][:1000].T, s=2)
            ax.set_title(f"{m}, tau={tau}: W2 {ring_w2[m][tau].mean():.2f}", fontsize=9)
            ax.set_xlim(-3, 3)
            ax.set_ylim(-3, 3)
            ax.set_aspect("equal")
    fig.tight_layout()
    res.figures["sinkhorn_drifting_ring"] = fig
    return res


EXPERIMENT = register(Experiment(
    "sinkhorn-drifting", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="synthetic ring of eight Gaussians; sklearn digits 8x8 (real)",
    full_scale="FFHQ-ALAE latents (FID, latent EMD) and MNIST at 28x28 over the paper's "
               "temperature sweep, trained for thousands of steps",
))
