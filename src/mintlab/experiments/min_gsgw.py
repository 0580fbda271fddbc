"""``min-gsgw``: min generalized sliced Gromov-Wasserstein, reproduced at small scale.

Pairs of 3D point clouds: a surface (ellipsoid or torus, random aspect) and
a rigidly moved, noisy resampling of it (a different sample, so there is no
exact isometry). We compare the GW objective of the plans found by

- min-GSGW (ours: two linear slicers, optimised),
- POT's ``gromov_wasserstein`` (Frank-Wolfe with exact LP steps),
- POT's ``entropic_gromov_wasserstein`` (full mode only: about 25 s per pair
  at n = 400),

and their run times; then apply the slicers trained on one pair to new
samples of the same pair of shapes (amortised slicer), and measure how much
a rigid motion of one cloud changes the min-GSGW objective.

Claims and how each is judged (samples pooled over seeds):

1. ``efficient_gw``: the GW objective of min-GSGW's plan is within a factor
   1.5 of POT Frank-Wolfe's (log objectives per shape pair, paired), and
   min-GSGW takes less time than POT's Frank-Wolfe (log seconds per shape
   pair, margin 0);
2. ``rigid_invariant``: rotating and translating one cloud changes the
   min-GSGW objective by at most 20% (worst pair, every seed);
3. ``amortized``: slicers trained on one pair, applied without training to
   fresh samples of the same shapes, reach at most 1.5 times the objective of
   slicers optimised on those samples (worst pair, every seed).

The slicers are linear (the library's default), not the paper's nonlinear
ones, and the amortised variant reuses a pair's slicers rather than a slicer
network trained across pairs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import ot

from mintlab.datasets import sample_shape
from mintlab.transport import gromov_cost_matrix, min_generalized_sliced_gromov_wasserstein

from ._core import Experiment, Result, Settings
from .registry import register

CLAIMS = {
    "efficient_gw": "min-GSGW produces GW objective values at substantially lower "
                    "computational cost than existing GW solvers.",
    "rigid_invariant": "We further show that min-GSGW is rigid-motion invariant.",
    "amortized": "We develop an amortized variant that replaces per-instance optimization "
                 "with a learned slicer for unseen input pairs.",
}


@dataclass(frozen=True, kw_only=True)
class MinGsgwSettings(Settings):
    n: int  # points per cloud
    entropic_baseline: bool  # also run POT's entropic GW (reported, not judged; slow)


QUICK = MinGsgwSettings(seeds=3, n=400, entropic_baseline=False)
FULL = MinGsgwSettings(seeds=3, n=1000, entropic_baseline=True)
EXPECTED = "partly reproduced (2 of 3)"

SHAPES = ("ellipsoid", "torus")
N_ITER = 100  # Adam steps of min-GSGW's slicer search
#: GW objective ratio to POT's Frank-Wolfe that still counts as a good plan
MAX_OBJECTIVE_RATIO = 1.5
#: relative change of the objective under a rigid motion that counts as invariant
MAX_RIGID_CHANGE = 0.2
#: objective ratio of transferred to per-pair optimised slicers that counts as transferring
MAX_TRANSFER_RATIO = 1.5


def _rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return q


def _pair(rng, shape, n, R, t, aspect):
    X = sample_shape(shape, n, rng, aspect=aspect)
    Y = sample_shape(shape, n, rng, aspect=aspect) @ R.T + t + 0.02 * rng.normal(size=(n, 3))
    return X, Y


def _gw(X, Y, G):
    C1, C2 = gromov_cost_matrix(X), gromov_cost_matrix(Y)
    r, c = G.sum(1), G.sum(0)
    tens = (C1**2 @ r)[:, None] + (C2**2 @ c)[None, :] - 2 * C1 @ G @ C2.T
    return float((tens * G).sum())


def run(settings: MinGsgwSettings = QUICK, seed: int = 0) -> Result:
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    res = Result(seed=seed)
    n = settings.n
    rows = []
    for shape in SHAPES:
        opt_seed = int(rng.integers(2**31))  # the slicer search's own stream for this pair
        R, t, aspect = _rotation(rng), rng.normal(size=3), rng.uniform(0.8, 1.25)
        X, Y = _pair(rng, shape, n, R, t, aspect)
        p = np.full(n, 1.0 / n)
        t0 = time.perf_counter()
        ours = min_generalized_sliced_gromov_wasserstein(X, Y, n_iter=N_ITER, seed=opt_seed)
        t_ours = time.perf_counter() - t0
        C1, C2 = gromov_cost_matrix(X), gromov_cost_matrix(Y)
        t0 = time.perf_counter()
        G_fw = ot.gromov.gromov_wasserstein(C1, C2, p, p)
        t_fw = time.perf_counter() - t0
        row = dict(ours=float(ours.cost), fw=_gw(X, Y, G_fw), t_ours=t_ours, t_fw=t_fw)
        if settings.entropic_baseline:
            t0 = time.perf_counter()
            G_ent = ot.gromov.entropic_gromov_wasserstein(C1, C2, p, p, epsilon=5e-3,
                                                          max_iter=200)
            row.update(ent=_gw(X, Y, G_ent), t_ent=time.perf_counter() - t0)
        # amortised: the same slicers on a fresh sample of the same pair of shapes
        X2, Y2 = _pair(rng, shape, n, R, t, aspect)
        row["moved"] = float(ours.transfer(X2, Y2).cost)
        row["own"] = float(min_generalized_sliced_gromov_wasserstein(
            X2, Y2, n_iter=N_ITER, seed=opt_seed).cost)
        # a rigid motion of Y: the objective should barely move
        R2 = _rotation(rng)
        row["rotated"] = float(min_generalized_sliced_gromov_wasserstein(
            X, Y @ R2.T + 1.0, n_iter=N_ITER, seed=opt_seed).cost)
        rows.append(row)
        for key, v in row.items():
            res.metrics[f"{shape}_{key}"] = v
    col = {k: np.asarray([r[k] for r in rows]) for k in rows[0]}
    res.metrics["objective_ratio_to_pot_fw_worst"] = float((col["ours"] / col["fw"]).max())
    res.metrics["pot_fw_time_over_ours_worst"] = float((col["t_fw"] / col["t_ours"]).min())

    res.compare("gw_objective_close_to_pot_fw", np.log(col["ours"]),
                np.log(MAX_OBJECTIVE_RATIO * col["fw"]), claim="efficient_gw", better="lower",
                description=f"log GW objective of the plan per shape pair (n={n}): min-GSGW vs "
                            f"POT Frank-Wolfe's + log {MAX_OBJECTIVE_RATIO:g}",
                known_gap="A min-GSGW plan is a monotone coupling along one learned ordering "
                          "of each cloud (linear slicers here); on these 3D surfaces its mean "
                          "log GW objective {ours:.2f} stays above POT Frank-Wolfe's plus "
                          "log 1.5, {baseline:.2f} (difference interval [{low:.2f}, "
                          "{high:.2f}]).")
    res.compare("faster_than_pot_fw", np.log(col["t_ours"]), np.log(col["t_fw"]),
                claim="efficient_gw", better="lower",
                description=f"log seconds per shape pair (n={n}): min-GSGW ({N_ITER} Adam "
                            "steps) vs POT Frank-Wolfe; margin 0",
                known_gap="At n = " + str(n) + " POT's Frank-Wolfe converges in a few LP steps "
                          "while min-GSGW runs " + str(N_ITER) + " Adam steps with periodic "
                          "full evaluations: mean log seconds {ours:.2f} vs {baseline:.2f} "
                          "(difference interval [{low:.2f}, {high:.2f}]); the advantage the "
                          "paper reports is at thousands of points, beyond quick mode.")
    res.check("rigid_motion_changes_little",
              float((np.abs(col["rotated"] - col["ours"]) / col["ours"]).max()),
              MAX_RIGID_CHANGE, "<=", claim="rigid_invariant",
              description="worst relative change of the min-GSGW objective over the shape "
                          "pairs when one cloud is rotated and translated, every seed")
    res.check("amortised_slicer_transfers", float((col["moved"] / col["own"]).max()),
              MAX_TRANSFER_RATIO, "<=", claim="amortized",
              description="worst over the shape pairs of the transferred-slicer objective / "
                          "the per-pair optimised objective on fresh samples, every seed")

    fig, ax = plt.subplots(figsize=(7, 3.8))
    labels = ["min-GSGW", "POT FW"] + (["POT entropic"] if settings.entropic_baseline else [])
    keys = ["ours", "fw"] + (["ent"] if settings.entropic_baseline else [])
    for i, r in enumerate(rows):
        ax.bar(np.arange(len(keys)) + 0.4 * i, [r[k] for k in keys], 0.4, label=SHAPES[i])
    ax.set_xticks(np.arange(len(keys)) + 0.2, labels)
    ax.set_ylabel("GW objective of the plan")
    ax.set_title(f"n = {n}; time ours / FW: "
                 + ", ".join(f"{r['t_ours'] / r['t_fw']:.1f}x" for r in rows))
    ax.legend(fontsize=7)
    fig.tight_layout()
    res.figures["min_gsgw"] = fig
    return res


EXPERIMENT = register(Experiment(
    "min-gsgw", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="synthetic: procedural 3D surfaces (ellipsoid, torus) and rigidly moved, noisy "
         "resamplings",
    full_scale="the paper's animal and horse meshes and ShapeNet parts (not available "
               "offline) at thousands of points, nonlinear slicers, and an amortised slicer "
               "network trained across shape pairs; a GPU",
))
