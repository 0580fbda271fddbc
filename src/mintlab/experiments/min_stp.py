"""``min-stp``: transferable min-sliced transport plans on mesh point clouds.

Data: area-uniform samples of trimesh's cone (an asymmetric primitive),
stretched to a long axis. A slicer (a small MLP) is trained once
(``min_sliced_plan``, on all points) on a reference pair: the cloud and a
fresh sample of it rotated by 30 degrees about z and shifted. We then draw
perturbed pairs, fresh samples with the rotation changed by up to +-10
degrees and the stretch and offset jittered by 10% (judged), and pairs with
a +-30 degree change and 30% jitter (larger shifts, reported). On each pair:

- *transfer*: the trained slicer applied as is (one sort, no training),
- *per-pair*: a slicer optimised from scratch on that pair, same steps and
  batch (judged pairs only),
- *random search*: POT's ``ot.sliced.min_sliced_transport_plan``, the best
  lifted plan among random directions drawn for that pair (POT's
  implementation of the min-sliced plan, computed on the pair itself),
- exact OT (``ot.emd2``).

Three claims of the abstract, judged on the plan cost of each perturbed pair
(paired samples, pooled over seeds):

1. ``transfer``: the transferred slicer's plan costs at most 25% more than
   exact OT, less than POT's random-search min-sliced plan computed on the
   pair itself, and at most ``delta = 5%`` more than a slicer optimised on
   that pair (the compares are ``transfer`` vs ``1.25 * exact``, vs
   ``search`` and vs ``1.05 * per-pair``, lower is better);
2. ``minibatch``: a slicer trained on minibatches of 64 points gives plans
   that cost at most 5% more than one trained on all points (evaluated by
   transfer on the reference pair and every perturbed pair).

3. ``alignment``: rigid point-cloud alignment by OT-ICP (each step: a plan,
   the barycentric targets of the source points, a Kabsch fit). A slicer
   trained across poses (min-STP warm-started on pairs rotated by 0 to 40
   degrees) is used without training on unseen pairs (rotated by 20 to 40
   degrees); its final rotation error must be lower than with POT's
   min-sliced random search at every step and at most 2 degrees above exact
   OT's.

That a transfer needs no training (it is one forward pass and one sort,
never an optimisation step) holds by construction and is tested in
``tests/transport/test_min_stp_claims.py``; the times are reported.

What we found: our per-pair optimisation (60 Adam steps on the soft-sorted
surrogate, MLP slicer) ends about where POT's best of 64 random directions
is (both about 1.23 times exact OT in quick mode), so a transferred slicer,
which loses a few percent to the shift, does not beat the random search on
the new pair; the paper's transfer advantage needs a per-pair optimum
clearly better than random search, which our optimiser does not reach here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import ot

from mintlab.datasets import sample_mesh_surface
from mintlab.transport import MLPSlicer, min_sliced_plan, random_directions

from ._core import Experiment, Result, Settings
from .registry import register

CLAIMS = {
    "transfer": "A slicer trained on one distribution pair yields effective transport plans "
                "for new, unseen pairs: optimized slicers remain close under slight "
                "perturbations of the data distributions, enabling efficient transfer.",
    "minibatch": "A minibatch formulation of min-STP improves scalability, with statistical "
                 "guarantees on its accuracy.",
    "alignment": "The transferable min-STP facilitates amortized training for point cloud "
                 "alignment.",
}

DELTA = 0.05  # "close": at most 5% more plan cost than the reference it is held to
DELTA_EXACT = 0.25  # "effective": at most 25% more than exact OT (a one-slice plan's price)
SMALL_ANGLE, SMALL_SHIFT = 10.0, 0.1  # judged perturbations: rotation (degrees), stretch
LARGE_ANGLE, LARGE_SHIFT = 30.0, 0.3  # reported perturbations
ICP_STEPS = 10  # rigid-alignment iterations (plan, barycentric targets, Kabsch)
TRAIN_POSES = (0.0, 5.0, 10.0, 20.0, 30.0, 40.0)  # rotations of the amortised training pairs
MAX_EXTRA_DEGREES = 2.0  # alignment "as good as exact OT": at most 2 degrees more error


@dataclass(frozen=True, kw_only=True)
class MinStpSettings(Settings):
    n_points: int  # points per cloud
    n_iter: int  # optimisation steps of every trained slicer
    n_pairs: int  # perturbed test pairs per seed
    n_search: int  # random directions of POT's min-sliced baseline on each pair
    hidden: int  # width of the MLP slicer


QUICK = MinStpSettings(seeds=3, n_points=256, n_iter=60, n_pairs=4, n_search=64, hidden=32)
FULL = MinStpSettings(seeds=3, n_points=512, n_iter=150, n_pairs=8, n_search=256, hidden=32)
EXPECTED = "partly reproduced (1 of 3)"

SHAPE = "cone"  # an asymmetric primitive: a slice can tell its tip from its base
_STRETCH = np.array([2.0, 1.0, 0.6])  # source anisotropy, so the clouds have a long axis


def _rotation_z(angle):
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _shape(rng, n, shift=0.0):
    """A fresh sample of the stretched cone; ``shift`` jitters its stretch (relative)."""
    stretch = _STRETCH * (1 + shift * rng.uniform(-1, 1, 3))
    return sample_mesh_surface(SHAPE, n, rng) * stretch


def _pair(rng, n, angle_deg, shift=0.0):
    X = _shape(rng, n, shift)
    offset = np.array([1.0, 0.5, 0.2]) + shift * rng.normal(size=3)
    Y = _shape(rng, n, shift) @ _rotation_z(np.deg2rad(angle_deg)).T + offset
    return X, Y


def _pot_search(X, Y, L, seed):
    """POT's min-sliced plan over ``L`` seeded random directions: (plan, cost, directions).

    Uniform weights are passed explicitly: with ``a = b = None`` POT 0.9.7 takes its
    weighted path, whose per-slice costs weight each plan entry by the mass of another
    entry (``ot.utils.sparse_ot_dist`` indexes the weights by row), so its choice of slice
    and its reported cost are not those of its plan. The cost returned here is the plan's.
    """
    theta = random_directions(X.shape[1], L, seed=seed).numpy()
    u, v = np.full(len(X), 1.0 / len(X)), np.full(len(Y), 1.0 / len(Y))
    P, _ = ot.sliced.min_sliced_transport_plan(X, Y, u, v, projections=theta)
    return P, float((P * ot.dist(X, Y)).sum()), theta


def _kabsch(A, B):
    """Rotation R and shift t minimising ||A R^T + t - B||."""
    ca, cb = A.mean(0), B.mean(0)
    U, _, Vt = np.linalg.svd((A - ca).T @ (B - cb))
    D = np.diag([1.0, 1.0, np.sign(np.linalg.det(U @ Vt))])
    R = (U @ D @ Vt).T
    return R, cb - ca @ R.T


def _align(X, Y, plan_fn):
    """OT-ICP from X towards Y; returns the final rotation of the rigid fit."""
    Xk = X
    for k in range(ICP_STEPS):
        P = np.asarray(plan_fn(Xk, Y, k))
        R, t = _kabsch(X, (P @ Y) / P.sum(1, keepdims=True))
        Xk = X @ R.T + t
    return R


def _angle_deg(R):
    return float(np.degrees(np.arccos(np.clip((np.trace(R) - 1) / 2, -1.0, 1.0))))


def run(settings: MinStpSettings = QUICK, seed: int = 0) -> Result:
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    res = Result(seed=seed)
    n = settings.n_points

    def slicer(s):
        return MLPSlicer(3, n_projections=1, hidden=settings.hidden, seed=s)

    opts: dict[str, Any] = dict(n_iter=settings.n_iter, lr=0.01, temperature=0.05)

    X0, Y0 = _pair(rng, n, 30.0)
    # the transferred slicer is trained on the whole reference pair (full batch)
    trained = full = min_sliced_plan(X0, Y0, slicer=slicer(seed), seed=seed, batch_size=None,
                                     **opts)
    small = min_sliced_plan(X0, Y0, slicer=slicer(seed), seed=seed, batch_size=64, **opts)

    rows, large, agree, pot_none = [], [], 0.0, 0.0
    mb_rows = [(float(small.cost), float(full.cost))]
    for i in range(settings.n_pairs):
        X, Y = _pair(rng, n, 30.0 + rng.uniform(-SMALL_ANGLE, SMALL_ANGLE), SMALL_SHIFT)
        t0 = time.process_time()
        transfer = trained.transfer(X, Y)
        t_transfer = time.process_time() - t0
        t0 = time.process_time()
        own = min_sliced_plan(X, Y, slicer=slicer(seed + 1 + i), seed=seed + 1 + i,
                              batch_size=None, **opts)
        t_own = time.process_time() - t0
        _, search, _ = _pot_search(X, Y, settings.n_search, seed + 1 + i)
        # oracle: our min-sliced start (best of the same directions) is POT's plan
        start = float(min_sliced_plan(X, Y, n_iter=0, n_projections=settings.n_search,
                                      seed=seed + 1 + i).cost)
        agree = max(agree, abs(start - search) / search)
        _, reported = ot.sliced.min_sliced_transport_plan(
            X, Y, n_projections=settings.n_search, seed=seed + 1 + i)
        pot_none = max(pot_none, abs(float(reported) - search) / search)
        exact = float(ot.emd2([], [], ot.dist(X, Y)))
        rows.append((float(transfer.cost), float(own.cost), float(search), exact,
                     t_transfer, t_own))
        mb_rows.append((float(small.transfer(X, Y).cost), float(transfer.cost)))
        # a larger shift: reported, not judged (the claim is about slight perturbations)
        X, Y = _pair(rng, n, 30.0 + rng.choice([-1, 1]) * LARGE_ANGLE, LARGE_SHIFT)
        _, search, _ = _pot_search(X, Y, settings.n_search, seed + 101 + i)
        large.append((float(trained.transfer(X, Y).cost), float(search),
                      float(ot.emd2([], [], ot.dist(X, Y)))))
    # alignment: a slicer trained across poses (warm-started min-STP on a series of pairs at
    # 0-40 degrees), then used without training inside OT-ICP on unseen pairs
    amort = slicer(seed + 1000)
    for rnd in range(3):
        for a in rng.permutation(TRAIN_POSES):
            A = _shape(rng, n)
            B = _shape(rng, n) @ _rotation_z(np.deg2rad(a)).T + np.array([1.0, 0.5, 0.2]) * a / 30
            amort = min_sliced_plan(A, B, slicer=amort, seed=seed + rnd, n_iter=20, lr=0.01,
                                    temperature=0.05, batch_size=None).slicer
    fitted = min_sliced_plan(X0, Y0, slicer=amort, n_iter=0)
    align = []
    for i in range(settings.n_pairs):
        angle = 30.0 + rng.uniform(-SMALL_ANGLE, SMALL_ANGLE)
        Rt = _rotation_z(np.deg2rad(angle))
        X, Y = _shape(rng, n), _shape(rng, n) @ Rt.T + np.array([1.0, 0.5, 0.2])
        errs = [_angle_deg(_align(X, Y, fn) @ Rt.T) for fn in (
            lambda A, B, k: fitted.transfer(A, B).plan,
            lambda A, B, k, i=i: _pot_search(A, B, settings.n_search, seed + 1000 * i + k)[0],
            lambda A, B, k: ot.emd([], [], ot.dist(A, B)))]
        align.append(errs)
    al = np.array(align)
    res.metrics.update({"alignment_median_degrees_amortized": float(np.median(al[:, 0])),
                        "alignment_median_degrees_random_search": float(np.median(al[:, 1])),
                        "alignment_median_degrees_exact_ot": float(np.median(al[:, 2]))})
    arr = np.array(rows)
    big = np.array(large)
    mb = np.array(mb_rows)
    res.metrics.update({
        "median_transfer_over_per_pair_cost": float(np.median(arr[:, 0] / arr[:, 1])),
        "median_transfer_over_exact_cost": float(np.median(arr[:, 0] / arr[:, 3])),
        "median_per_pair_over_exact_cost": float(np.median(arr[:, 1] / arr[:, 3])),
        "median_random_search_over_exact_cost": float(np.median(arr[:, 2] / arr[:, 3])),
        "large_shift_median_transfer_over_exact_cost": float(np.median(big[:, 0] / big[:, 2])),
        "large_shift_median_random_search_over_exact_cost": float(
            np.median(big[:, 1] / big[:, 2])),
        "median_per_pair_seconds": float(np.median(arr[:, 5])),
        "median_transfer_seconds": float(np.median(arr[:, 4])),
        "full_batch_cost": float(full.cost), "minibatch64_cost": float(small.cost),
        "exact_cost_reference_pair": float(ot.emd2([], [], ot.dist(X0, Y0))),
    })

    res.metrics["max_relative_difference_start_to_pot_min_sliced"] = agree
    res.metrics["pot_default_weights_reported_cost_relative_error"] = pot_none
    res.check("start_agrees_with_pot_min_sliced_plan", agree, 1e-10, "<=", claim="transfer",
              description="largest relative difference between our min-sliced plan before "
                          f"optimisation (best of {settings.n_search} seeded directions) and "
                          "POT's min_sliced_transport_plan on the same directions (the cost of "
                          "its plan), on every perturbed pair; every seed")
    res.compare("transfer_close_to_exact_ot", arr[:, 0], (1 + DELTA_EXACT) * arr[:, 3],
                better="lower", claim="transfer",
                description="plan cost on each perturbed pair: transferred slicer (no "
                            f"training) vs (1 + {DELTA_EXACT:g}) x the exact OT cost (ot.emd2)",
                known_gap="The transferred plans cost {ours:.3f} on average against "
                          f"{1 + DELTA_EXACT:g} x " + "exact OT, {baseline:.3f} (difference "
                          "interval [{low:.3f}, {high:.3f}], n={n} pairs): a one-slice plan "
                          "of a slicer optimised to about random-search quality sits near "
                          f"the {DELTA_EXACT:.0%} margin.")
    res.compare("transfer_beats_random_search", arr[:, 0], arr[:, 2], better="lower",
                claim="transfer",
                description=f"plan cost on each perturbed pair: transferred slicer (no "
                            f"training) vs POT min_sliced_transport_plan ({settings.n_search} "
                            "random directions searched on the pair itself)",
                known_gap="The transferred slicer's plans cost {ours:.3f} on average, POT's "
                          "random search on each pair {baseline:.3f} (difference interval "
                          "[{low:.3f}, {high:.3f}], n={n} pairs): no better. Our per-pair "
                          "optimised MLP slicer ends about where the best of the random "
                          "directions is, so a transferred slicer, which loses a few percent "
                          "to the shift, cannot beat the search on the new pair.")
    res.compare("transfer_close_to_per_pair", arr[:, 0], (1 + DELTA) * arr[:, 1],
                better="lower", claim="transfer",
                description=f"plan cost on each perturbed pair: transferred slicer vs "
                            f"(1 + {DELTA:g}) x a slicer optimised on that pair with the same "
                            f"budget ({settings.n_iter} steps)",
                known_gap="Transferred {ours:.3f} vs " + f"{1 + DELTA:g}" + " x per-pair "
                          "{baseline:.3f} (difference interval [{low:.3f}, {high:.3f}], "
                          "n={n} pairs): the shifts cost the transferred slicer about as much "
                          f"as the {DELTA:.0%} margin.")
    res.compare("minibatch_close_to_full_batch", mb[:, 0], (1 + DELTA) * mb[:, 1],
                better="lower", claim="minibatch",
                description=f"plan cost of a slicer trained on minibatches of 64 vs (1 + "
                            f"{DELTA:g}) x one trained on all {n} points, on the reference "
                            "pair and each perturbed pair")

    res.compare("alignment_beats_random_search", al[:, 0], al[:, 1], better="lower",
                claim="alignment",
                description=f"rotation error (degrees) after {ICP_STEPS} OT-ICP steps on unseen "
                            "pairs: the amortised slicer (no training at alignment time) vs "
                            f"POT's min-sliced plan ({settings.n_search} random directions) "
                            "searched at every step",
                known_gap="Amortised slicer {ours:.1f} degrees vs random search {baseline:.1f} "
                          "(difference interval [{low:.1f}, {high:.1f}], n={n} pairs): a "
                          "one-slice plan's barycentric targets are noisy across the slice, "
                          "so the rigid fit is biased whichever slice is used.")
    res.compare("alignment_close_to_exact_ot", al[:, 0], al[:, 2] + MAX_EXTRA_DEGREES,
                better="lower", claim="alignment",
                description=f"rotation error (degrees) after {ICP_STEPS} OT-ICP steps: the "
                            f"amortised slicer vs exact OT (ot.emd) + {MAX_EXTRA_DEGREES:g} "
                            "degrees",
                known_gap="Amortised slicer {ours:.1f} degrees vs exact OT + 2, "
                          "{baseline:.1f} (difference interval [{low:.1f}, {high:.1f}], "
                          "n={n} pairs): exact OT's matching aligns the clouds, a single "
                          "learned slice does not at this scale.")

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    P = trained.plan
    ax = axes[0]
    ax.scatter(X0[:, 0], X0[:, 1], s=4, label="source")
    ax.scatter(Y0[:, 0], Y0[:, 1], s=4, label="target")
    for i in range(0, n, max(1, n // 60)):
        j = int(np.argmax(P[i]))
        ax.plot([X0[i, 0], Y0[j, 0]], [X0[i, 1], Y0[j, 1]], "k-", lw=0.4, alpha=0.5)
    ax.set_title("min-STP plan (reference pair, x-y view)")
    ax.legend(fontsize=7)
    axes[1].bar(["transfer", "per-pair", "random search"],
                np.median(arr[:, :3] / arr[:, 3:4], axis=0))
    axes[1].axhline(1.0, color="k", ls=":")
    axes[1].set_ylabel("plan cost / exact OT (median)")
    fig.tight_layout()
    res.figures["min_stp"] = fig
    return res


EXPERIMENT = register(Experiment(
    "min-stp", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="meshes: area-uniform samples of trimesh's cone, stretched, a rotated and shifted "
         "fresh sample, and perturbed pairs (rotation, stretch and offset jitter)",
    full_scale="the paper's point-cloud alignment (ModelNet/ShapeNet shapes) and amortised "
               "flow-matching training, with thousands of points per cloud",
))
