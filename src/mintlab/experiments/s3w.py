"""``s3w``: Stereographic Spherical Sliced Wasserstein, reproduced at small scale.

On pairs of distributions on the sphere S^2 (projected normals with random
centres and concentrations) we compare, against the exact Wasserstein-2
distance with the geodesic ground cost (``ot.emd2``):

- S3W, RI-S3W and ARI-S3W (ours), and S3W without the distortion correction
  ``h`` (the bare stereographic projection),
- POT's spherical sliced Wasserstein (``ot.sliced_wasserstein_sphere``, SSW),
- plain sliced Wasserstein on the ambient coordinates (reported).

Ranking accuracy is measured per pair: the error of the pair's rank among
all pairs against its rank under the exact distance, divided by the number
of pairs (0 = ranked exactly). Three claims of the abstract:

1. ``fast``: S3W is a high-speed distance. Compare: log seconds per pair,
   S3W vs SSW and RI-S3W (20 rotations) vs SSW, same number of slices,
   paired by pair; lower is better (the speed-ups are reported).
2. ``distortion_addressed``: the correction ``h`` addresses the distortion
   of the stereographic projection. Compare: per-pair rank error of S3W with
   ``h`` vs the bare projection, paired by pair.
3. ``accurate_vs_baselines``: RI-S3W tracks the spherical Wasserstein
   distance as well as SSW. Compare: per-pair rank error of RI-S3W vs SSW's
   plus ``delta = 0.02`` (2% of the ranking), lower is better.

That RI-S3W is invariant to rotating both measures (it averages over Haar
rotations) holds by construction up to Monte Carlo error, and is tested in
``tests/transport/test_s3w_claims.py``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import ot
from scipy.stats import rankdata, spearmanr

from mintlab.transport import s3w_distance, sliced_wasserstein_distance

from ._core import Experiment, Result, Settings
from .registry import register

CLAIMS = {
    "fast": "The Stereographic Spherical Sliced Wasserstein (S3W) distance, built on the "
            "stereographic projection and the generalized Radon transform, is a high-speed and "
            "highly parallelizable distance for comparing spherical measures.",
    "distortion_addressed": "We carefully address the distance distortion caused by the "
                            "stereographic projection.",
    "accurate_vs_baselines": "We compare the proposed metrics with recent baselines in terms of "
                             "both speed and accuracy.",
}

DELTA = 0.02  # "as accurate": RI-S3W may misplace pairs by 2% of the ranking more than SSW
N_ROTATIONS = 20  # rotations of RI-S3W and ARI-S3W in the accuracy and speed comparisons


@dataclass(frozen=True, kw_only=True)
class S3wSettings(Settings):
    n_points: int  # samples per measure
    n_pairs: int  # pairs of measures ranked against the exact distance
    n_projections: int  # slices of every sliced distance


QUICK = S3wSettings(seeds=3, n_points=150, n_pairs=16, n_projections=200)
FULL = S3wSettings(seeds=5, n_points=800, n_pairs=100, n_projections=200)
EXPECTED = "partly reproduced (2 of 3)"


def _projected_normal(rng, n, centre, kappa):
    X = kappa * centre + rng.normal(size=(n, 3))
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def _unit(rng):
    v = rng.normal(size=3)
    return v / np.linalg.norm(v)


def _geodesic_w2(X, Y):
    M = np.arccos(np.clip(X @ Y.T, -1.0, 1.0)) ** 2
    return float(np.sqrt(ot.emd2([], [], M)))


def _identity(z):
    return z


def run(settings: S3wSettings = QUICK, seed: int = 0) -> Result:
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    res = Result(seed=seed)
    n, L = settings.n_points, settings.n_projections
    methods = {
        "s3w": lambda X, Y, s: s3w_distance(X, Y, n_projections=L, seed=s),
        "s3w_no_h": lambda X, Y, s: s3w_distance(X, Y, n_projections=L, seed=s, h=_identity),
        "ri_s3w": lambda X, Y, s: s3w_distance(X, Y, variant="ri", n_rotations=N_ROTATIONS,
                                               n_projections=L, seed=s),
        "ari_s3w": lambda X, Y, s: s3w_distance(X, Y, variant="ari", n_rotations=N_ROTATIONS,
                                                n_projections=L, seed=s),
        "ssw_pot": lambda X, Y, s: ot.sliced_wasserstein_sphere(X, Y, n_projections=L, seed=s),
        "sw_ambient": lambda X, Y, s: sliced_wasserstein_distance(X, Y, n_projections=L, seed=s),
    }
    warm = _projected_normal(rng, 20, _unit(rng), 2.0)
    for f in methods.values():  # warm up every path once
        f(warm, warm[::-1], 0)
    values = {k: [] for k in methods}
    seconds = {k: [] for k in methods}
    ref = []
    for i in range(settings.n_pairs):
        X = _projected_normal(rng, n, _unit(rng), rng.uniform(1.0, 6.0))
        Y = _projected_normal(rng, n, _unit(rng), rng.uniform(1.0, 6.0))
        ref.append(_geodesic_w2(X, Y))
        for k, f in methods.items():
            t0 = time.perf_counter()
            values[k].append(float(f(X, Y, seed + i)))
            seconds[k].append(time.perf_counter() - t0)
    ref = np.asarray(ref)
    P = len(ref)
    rank_ref = rankdata(ref) / P
    err = {k: np.abs(rankdata(v) / P - rank_ref) for k, v in values.items()}
    for k, v in values.items():
        res.metrics[f"spearman_{k}_vs_w2"] = float(spearmanr(v, ref).statistic)
        res.metrics[f"mean_rank_error_{k}"] = float(err[k].mean())
        res.metrics[f"ms_per_pair_{k}"] = 1e3 * float(np.median(seconds[k]))
    logt = {k: np.log(np.asarray(v)) for k, v in seconds.items()}
    for k in ("s3w", "ri_s3w"):
        res.metrics[f"ssw_over_{k}_time"] = float(np.exp(np.median(logt["ssw_pot"] - logt[k])))

    # 1. speed, same slices, paired by pair
    res.compare("s3w_faster_than_ssw", logt["s3w"], logt["ssw_pot"], better="lower",
                claim="fast",
                description=f"log seconds per pair (n={n} points, L={L} slices), S3W vs POT SSW")
    res.compare("ri_s3w_faster_than_ssw", logt["ri_s3w"], logt["ssw_pot"], better="lower",
                claim="fast",
                description=f"log seconds per pair (n={n}, L={L}), RI-S3W ({N_ROTATIONS} "
                            "rotations) vs POT SSW")

    # 2. the distortion correction
    res.compare("h_correction_improves_ranking", err["s3w"], err["s3w_no_h"], better="lower",
                claim="distortion_addressed",
                description="per-pair rank error against exact geodesic W2, S3W with the "
                            "correction h vs the bare stereographic projection")

    # 3. accuracy against the spherical baseline
    res.compare("ri_s3w_as_accurate_as_ssw", err["ri_s3w"], err["ssw_pot"] + DELTA,
                better="lower", claim="accurate_vs_baselines",
                description=f"per-pair rank error against exact geodesic W2 over {P} pairs, "
                            f"RI-S3W ({N_ROTATIONS} rotations) vs SSW (POT) plus {DELTA:g}",
                known_gap="RI-S3W's mean rank error is {ours:.3f}; SSW's plus "
                          f"{DELTA:g} " + "is {baseline:.3f} (difference interval "
                          "[{low:.3f}, {high:.3f}], {n} pairs): RI-S3W does not rank pairs "
                          "as well as SSW here. SSW and even ambient SW rank these projected "
                          "normals almost exactly, plain S3W (one pole) ranks worse than "
                          "RI-S3W (both reported), and averaging over " + f"{N_ROTATIONS} " +
                          "rotations closes only part of that gap.")

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for k, v in values.items():
        axes[0].scatter(ref, np.asarray(v) / np.max(v), s=12,
                        label=f"{k} (rho={res.metrics[f'spearman_{k}_vs_w2']:.2f})")
    axes[0].set_xlabel("geodesic W2 (exact)")
    axes[0].set_ylabel("distance / max")
    axes[0].legend(fontsize=7)
    names = list(methods)
    axes[1].bar(names, [res.metrics[f"ms_per_pair_{k}"] for k in names])
    axes[1].set_yscale("log")
    axes[1].set_ylabel(f"ms per pair (n={n}, L={L})")
    axes[1].tick_params(axis="x", labelsize=7, rotation=30)
    fig.tight_layout()
    res.figures["s3w"] = fig
    return res


EXPERIMENT = register(Experiment(
    "s3w", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="synthetic: projected normal distributions on S^2",
    full_scale="the paper's gradient flows on S^2, earth-science data sets and self-supervised "
               "learning on the sphere, with timings up to n = 1e5 points",
))
