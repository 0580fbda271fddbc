"""``min-gsgw``: min generalized sliced Gromov-Wasserstein on mesh surfaces.

Data: surfaces of trimesh's watertight primitives (capsule, torus, cylinder,
cone, annulus, box). A test pair is two independent area-uniform samples of
one primitive, each stretched by its own random anisotropic scaling (factors
in [0.85, 1.15] per axis: a non-isometric pair, as two animals of one kind),
the second rigidly moved. On each test pair we compare

- min-GSGW (ours): two generalized slicers (a direction plus an MLP
  correction, started at the best of 32 random direction pairs, 100 Adam
  steps on the soft-sorted GW objective);
- POT's Frank-Wolfe ``ot.gromov.gromov_wasserstein`` (exact LP steps), the
  paper's GW-solver baseline; POT's ``entropic_gromov_wasserstein`` is
  reported in full mode only (tens of seconds per pair);
- the amortised slicer network (:class:`AmortizedGSGWSlicer`: PCA-frame
  coordinates, a mean-pooled encoder of both clouds, a shared head giving
  every point its value), trained once per seed across other pairs of the
  same primitives and applied to the test pair in one forward pass;
- a fresh random start: the best of 32 random direction pairs, no training
  (what min-GSGW starts from).

The GW objective of every plan is computed by our sparse evaluation and
cross-checked with POT's ``gwloss`` on the same plan. Times are CPU seconds
of one thread.

Claims and how each is judged (samples pooled over seeds and test pairs):

1. ``efficient_gw``: the GW objective of min-GSGW's plan is within a factor
   1.5 of POT Frank-Wolfe's (log objectives, paired); min-GSGW takes at most
   half of Frank-Wolfe's time (log CPU seconds, margin log 2: "substantially
   lower cost"); our objective agrees with POT's ``gwloss`` (relative 1e-9).
2. ``rigid_invariant``: rotating and translating one cloud changes the
   min-GSGW objective by at most 20% (worst pair, every seed).
3. ``amortized``: on unseen pairs the amortised network's plan beats a fresh
   random start (log objectives, paired) and reaches at most 1.25 times the
   objective of per-pair optimised slicers (log objectives, margin
   log 1.25).

What we found about the objective gap: the per-pair search reaches the best
linear slicer (the principal-axis ordering gives the same objective), and the
MLP correction changes it by well under 1% (metric
``mlp_gain_over_linear_slicers_median``). A monotone plan between two
*independent* samples matches points of equal rank, and ranks of n samples
fluctuate by about sqrt(n): points matched along a level set of the slicer
are far apart on a surface, whereas Frank-Wolfe matches nearest neighbours.
A slicer whose level sets are short (a space-filling ordering) shrinks that
error only as n^(-1/4), so at n in the hundreds or thousands the plans stay
several times costlier than Frank-Wolfe's.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import ot

from mintlab.datasets import sample_mesh_surface
from mintlab.transport import gromov_cost_matrix, min_generalized_sliced_gromov_wasserstein
from mintlab.transport.sliced_gromov import (
    AmortizedGSGWSlicer,
    amortized_gsgw_plan,
    fit_amortized_gsgw,
)

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
    test_shapes: tuple[str, ...]  # one test pair per primitive and seed
    train_pairs: int  # training pairs per primitive for the amortised network
    train_steps: int  # Adam steps of the amortised network
    entropic_baseline: bool  # also run POT's entropic GW on the first test pair (reported)


QUICK = MinGsgwSettings(seeds=3, n=500, test_shapes=("capsule", "torus", "cylinder"),
                        train_pairs=2, train_steps=300, entropic_baseline=False)
FULL = MinGsgwSettings(seeds=3, n=2000, test_shapes=("capsule", "torus"), train_pairs=2,
                       train_steps=400, entropic_baseline=True)
EXPECTED = "partly reproduced (2 of 3)"

TRAIN_SHAPES = ("capsule", "torus", "cylinder", "cone", "annulus", "box")
N_ITER = 100  # Adam steps of min-GSGW's per-pair slicer search
#: GW objective ratio to POT's Frank-Wolfe that still counts as a good plan
MAX_OBJECTIVE_RATIO = 1.5
#: time ratio to POT's Frank-Wolfe that counts as "substantially lower cost"
MIN_SPEEDUP = 2.0
#: relative change of the objective under a rigid motion that counts as invariant
MAX_RIGID_CHANGE = 0.2
#: objective ratio of the amortised network to per-pair optimised slicers
MAX_AMORTIZED_RATIO = 1.25
ENTROPIC = dict(epsilon=5e-3, max_iter=10)


def _rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return q


def _pair(rng, shape, n):
    """Two independent samples of one primitive, each anisotropically stretched, one moved."""
    X = sample_mesh_surface(shape, n, rng) * rng.uniform(0.85, 1.15, 3)
    Y = sample_mesh_surface(shape, n, rng) * rng.uniform(0.85, 1.15, 3)
    return X, Y @ _rotation(rng).T + rng.normal(size=3)


def _pot_gw(C1, C2, G):
    """GW objective of plan G by POT (square loss)."""
    p, q = G.sum(1), G.sum(0)
    constC, hC1, hC2 = ot.gromov.init_matrix(C1, C2, p, q, "square_loss")
    return float(ot.gromov.gwloss(constC, hC1, hC2, G))


def _cpu(fn):
    t0 = time.process_time()
    out = fn()
    return out, time.process_time() - t0


def run(settings: MinGsgwSettings = QUICK, seed: int = 0) -> Result:
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    res = Result(seed=seed)
    n = settings.n

    # the amortised network, trained across pairs of the primitives (never the test pairs)
    train = [_pair(rng, s, n) for s in TRAIN_SHAPES for _ in range(settings.train_pairs)]
    net = AmortizedGSGWSlicer(3, hidden=32, embed=8, seed=seed)
    _, t_train = _cpu(lambda: fit_amortized_gsgw(net, train, n_steps=settings.train_steps,
                                                 seed=seed))
    res.metrics["amortized_training_seconds"] = t_train

    rows = []
    p = np.full(n, 1.0 / n)
    for k, shape in enumerate(settings.test_shapes):
        opt_seed = int(rng.integers(2**31))
        X, Y = _pair(rng, shape, n)
        ours, t_ours = _cpu(lambda X=X, Y=Y, s=opt_seed: min_generalized_sliced_gromov_wasserstein(
            X, Y, slicers="mlp", n_iter=N_ITER, seed=s))
        C1, C2 = gromov_cost_matrix(X), gromov_cost_matrix(Y)
        G_fw, t_fw = _cpu(lambda C1=C1, C2=C2: ot.gromov.gromov_wasserstein(C1, C2, p, p))
        row = dict(ours=float(ours.cost), fw=_pot_gw(C1, C2, G_fw), t_ours=t_ours, t_fw=t_fw,
                   start=float(ours.history[0]))
        row["pot_gwloss_of_ours"] = _pot_gw(C1, C2, ours.plan)
        if settings.entropic_baseline and k == 0:
            G_ent, t_ent = _cpu(lambda C1=C1, C2=C2: ot.gromov.entropic_gromov_wasserstein(
                C1, C2, p, p, **ENTROPIC))
            row.update(entropic=_pot_gw(C1, C2, G_ent), t_entropic=t_ent)
        amort, t_amort = _cpu(lambda X=X, Y=Y: amortized_gsgw_plan(net, X, Y))
        row.update(amortized=float(amort.cost), t_amortized=t_amort)
        fresh = min_generalized_sliced_gromov_wasserstein(X, Y, n_iter=0, seed=opt_seed + 1)
        row["fresh_start"] = float(fresh.cost)
        row["linear"] = float(min_generalized_sliced_gromov_wasserstein(
            X, Y, n_iter=N_ITER, seed=opt_seed).cost)
        # a rigid motion of Y: the objective should barely move
        R2 = _rotation(rng)
        row["rotated"] = float(min_generalized_sliced_gromov_wasserstein(
            X, Y @ R2.T + 1.0, slicers="mlp", n_iter=N_ITER, seed=opt_seed).cost)
        rows.append(row)
        for key, v in row.items():
            res.metrics[f"{shape}_{key}"] = v
    col = {k: np.asarray([r[k] for r in rows]) for k in rows[0] if k not in ("entropic",
                                                                               "t_entropic")}
    res.metrics["objective_ratio_to_pot_fw_median"] = float(np.median(col["ours"] / col["fw"]))
    res.metrics["pot_fw_time_over_ours_median"] = float(np.median(col["t_fw"] / col["t_ours"]))
    res.metrics["search_gain_over_random_start_median"] = float(
        np.median(1 - col["ours"] / col["start"]))
    res.metrics["mlp_gain_over_linear_slicers_median"] = float(
        np.median(1 - col["ours"] / col["linear"]))
    res.metrics["amortized_over_per_pair_median"] = float(
        np.median(col["amortized"] / col["ours"]))
    pot = col["pot_gwloss_of_ours"]
    agree = float(np.max(np.abs(col["ours"] - pot) / pot))
    res.metrics["max_relative_difference_to_pot_gwloss"] = agree

    res.compare("gw_objective_close_to_pot_fw", np.log(col["ours"]),
                np.log(MAX_OBJECTIVE_RATIO * col["fw"]), claim="efficient_gw", better="lower",
                description=f"log GW objective of the plan per test pair (n={n}): min-GSGW (MLP "
                            f"slicers) vs POT Frank-Wolfe's + log {MAX_OBJECTIVE_RATIO:g}",
                known_gap="A min-GSGW plan matches points of equal rank along the two slicers; "
                          "between independent samples ranks fluctuate by about sqrt(n), so "
                          "matched points lie far apart along a level set, while Frank-Wolfe "
                          "matches near neighbours. Mean log objective {ours:.2f} vs POT "
                          f"Frank-Wolfe's plus log {MAX_OBJECTIVE_RATIO:g}, " + "{baseline:.2f} "
                          "(difference interval "
                          "[{low:.2f}, {high:.2f}], n={n} pairs); the search does reach the "
                          "best linear slicer (the principal-axis ordering costs the same) and "
                          "the MLP correction gains well under 1% over linear slicers.")
    res.compare("faster_than_pot_fw", np.log(col["t_ours"]), np.log(col["t_fw"]),
                claim="efficient_gw", better="lower", margin=math.log(MIN_SPEEDUP),
                description=f"log CPU seconds per test pair (n={n}): min-GSGW ({N_ITER} Adam "
                            f"steps) vs POT Frank-Wolfe; margin log {MIN_SPEEDUP:g}",
                known_gap="At n = " + str(n) + " POT's Frank-Wolfe converges in a few exact LP "
                          "steps of O(n^3) and min-GSGW's O(n^2) evaluations do not yet pay "
                          "off: mean log seconds {ours:.2f} vs {baseline:.2f} (difference "
                          "interval [{low:.2f}, {high:.2f}], margin {margin:.2f}); the full "
                          "mode (n = 2000) is where the paper's speed claim is tested.")
    res.check("objective_agrees_with_pot_gwloss", agree, 1e-9, "<=", claim="efficient_gw",
              description="largest relative difference between our GW objective of the "
                          "min-GSGW plan (sparse, distances on the fly) and POT's gwloss of "
                          "the same dense plan, every seed")
    res.check("rigid_motion_changes_little",
              float((np.abs(col["rotated"] - col["ours"]) / col["ours"]).max()),
              MAX_RIGID_CHANGE, "<=", claim="rigid_invariant",
              description="worst relative change of the min-GSGW objective over the test "
                          "pairs when one cloud is rotated and translated, every seed")
    res.compare("amortized_beats_fresh_start", np.log(col["amortized"]),
                np.log(col["fresh_start"]), claim="amortized", better="lower",
                description="log GW objective on unseen test pairs: the amortised network (one "
                            "forward pass) vs a fresh start (best of 32 random direction "
                            "pairs, no training)")
    res.compare("amortized_close_to_per_pair", np.log(col["amortized"]),
                np.log(MAX_AMORTIZED_RATIO * col["ours"]), claim="amortized", better="lower",
                description="log GW objective on unseen test pairs: amortised network vs "
                            f"{MAX_AMORTIZED_RATIO:g} x per-pair optimised min-GSGW")

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    keys = ["ours", "fw", "amortized", "fresh_start"]
    labels = ["min-GSGW", "POT FW", "amortised", "fresh start"]
    for i, r in enumerate(rows):
        w = 0.8 / len(rows)
        axes[0].bar(np.arange(len(keys)) + w * i, [r[k] for k in keys], w,
                    label=settings.test_shapes[i])
    axes[0].set_xticks(np.arange(len(keys)) + 0.4 - 0.4 / len(rows), labels)
    axes[0].set_ylabel("GW objective of the plan")
    axes[0].legend(fontsize=7)
    axes[1].bar(["min-GSGW", "POT FW", "amortised"],
                [np.median(col["t_ours"]), np.median(col["t_fw"]),
                 np.median(col["t_amortized"])])
    axes[1].set_yscale("log")
    axes[1].set_ylabel(f"CPU seconds per pair (n = {n})")
    fig.tight_layout()
    res.figures["min_gsgw"] = fig
    return res


EXPERIMENT = register(Experiment(
    "min-gsgw", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="meshes: trimesh primitives (capsule, torus, cylinder, cone, annulus, box), "
         "area-uniform surface samples, anisotropically stretched (non-isometric pairs) and "
         "rigidly moved",
    full_scale="the paper's animal and horse meshes and ShapeNet parts (not available "
               "offline) at tens of thousands of points on a GPU; here n = 2000 on one CPU "
               "thread, where POT's Frank-Wolfe takes tens of seconds",
))
