"""``min-stp``: transferable min-sliced transport plans, reproduced at small scale.

A slicer (a small MLP) is trained once (``min_sliced_plan``, on all points)
on a pair of 3D point clouds (a source shape and a rotated, shifted copy). We then draw
perturbed pairs: fresh samples of both shapes, with the source clusters moved
a little and the rotation angle changed by a few degrees. On each new pair:

- *transfer*: the trained slicer applied as is (one sort, no training),
- *per-pair*: a slicer optimised from scratch on that pair, same steps and
  batch,
- *random search*: POT's ``ot.sliced.min_sliced_transport_plan``, the best
  lifted plan among random directions drawn for that pair,
- the exact OT cost (``ot.emd2``), reported.

Two claims of the abstract, judged on the plan cost of each perturbed pair
(paired samples, pooled over seeds):

1. ``transfer``: the transferred slicer's plan costs less than POT's
   random-search min-sliced plan computed on the pair itself, and at most
   ``delta = 5%`` more than a slicer optimised on that pair (the compare is
   ``transfer`` vs ``1.05 * per-pair``, lower is better);
2. ``minibatch``: a slicer trained on minibatches of 64 points gives plans
   that cost at most 5% more than one trained on all points (evaluated by
   transfer on the reference pair and every perturbed pair).

That a transfer needs no training (it is one forward pass and one sort,
never an optimisation step) holds by construction and is tested in
``tests/transport/test_min_stp_claims.py``; the times are reported.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import ot

from mintlab.transport import MLPSlicer, min_sliced_plan

from ._core import Experiment, Result, Settings
from .registry import register

CLAIMS = {
    "transfer": "A slicer trained on one distribution pair yields effective transport plans "
                "for new, unseen pairs: optimized slicers remain close under slight "
                "perturbations of the data distributions, enabling efficient transfer.",
    "minibatch": "A minibatch formulation of min-STP improves scalability, with statistical "
                 "guarantees on its accuracy.",
}

DELTA = 0.05  # "close": at most 5% more plan cost than the reference it is held to


@dataclass(frozen=True, kw_only=True)
class MinStpSettings(Settings):
    n_points: int  # points per cloud
    n_iter: int  # optimisation steps of every trained slicer
    n_pairs: int  # perturbed test pairs per seed
    n_search: int  # random directions of POT's min-sliced baseline on each pair
    hidden: int  # width of the MLP slicer


QUICK = MinStpSettings(seeds=3, n_points=256, n_iter=60, n_pairs=4, n_search=64, hidden=32)
FULL = MinStpSettings(seeds=5, n_points=1000, n_iter=400, n_pairs=20, n_search=256, hidden=32)
EXPECTED = "partly reproduced (1 of 2)"

_CENTRES = np.array([[0.0, 0.0, 0.0], [3.0, 0.0, 1.0], [0.0, 3.0, -1.0]])
_SCALES = np.array([[1.0, 0.3, 0.3], [0.3, 1.0, 0.3], [0.3, 0.3, 1.0]])


def _rotation_z(angle):
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _shape(rng, n, centre_shift=0.0):
    k = rng.integers(0, 3, n)
    centres = _CENTRES + centre_shift * rng.normal(size=_CENTRES.shape)
    return centres[k] + _SCALES[k] * rng.normal(size=(n, 3))


def _pair(rng, n, angle_deg, centre_shift=0.0):
    X = _shape(rng, n, centre_shift)
    Y = _shape(rng, n, centre_shift) @ _rotation_z(np.deg2rad(angle_deg)).T + np.array(
        [4.0, 1.0, 0.5])
    return X, Y


def run(settings: MinStpSettings = QUICK, seed: int = 0) -> Result:
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    res = Result(seed=seed)
    n = settings.n_points

    def slicer(s):
        return MLPSlicer(3, n_projections=1, hidden=settings.hidden, seed=s)

    opts = dict(n_iter=settings.n_iter, lr=0.01, temperature=0.05)

    X0, Y0 = _pair(rng, n, 30.0)
    # the transferred slicer is trained on the whole reference pair (full batch)
    trained = full = min_sliced_plan(X0, Y0, slicer=slicer(seed), seed=seed, batch_size=None,
                                     **opts)
    small = min_sliced_plan(X0, Y0, slicer=slicer(seed), seed=seed, batch_size=64, **opts)

    rows = []
    mb_rows = [(float(small.cost), float(full.cost))]
    for i in range(settings.n_pairs):
        X, Y = _pair(rng, n, 30.0 + rng.uniform(-5, 5), centre_shift=0.15)
        t0 = time.perf_counter()
        transfer = trained.transfer(X, Y)
        t_transfer = time.perf_counter() - t0
        t0 = time.perf_counter()
        own = min_sliced_plan(X, Y, slicer=slicer(seed + 1 + i), seed=seed + 1 + i,
                              batch_size=None, **opts)
        t_own = time.perf_counter() - t0
        _, search = ot.sliced.min_sliced_transport_plan(X, Y, n_projections=settings.n_search,
                                                        seed=seed + 1 + i)
        exact = float(ot.emd2([], [], ot.dist(X, Y)))
        rows.append((float(transfer.cost), float(own.cost), float(search), exact,
                     t_transfer, t_own))
        mb_rows.append((float(small.transfer(X, Y).cost), float(transfer.cost)))
    arr = np.array(rows)
    mb = np.array(mb_rows)
    res.metrics.update({
        "median_transfer_over_per_pair_cost": float(np.median(arr[:, 0] / arr[:, 1])),
        "median_transfer_over_exact_cost": float(np.median(arr[:, 0] / arr[:, 3])),
        "median_per_pair_over_exact_cost": float(np.median(arr[:, 1] / arr[:, 3])),
        "median_random_search_over_exact_cost": float(np.median(arr[:, 2] / arr[:, 3])),
        "median_per_pair_seconds": float(np.median(arr[:, 5])),
        "median_transfer_seconds": float(np.median(arr[:, 4])),
        "full_batch_cost": float(full.cost), "minibatch64_cost": float(small.cost),
        "exact_cost_reference_pair": float(ot.emd2([], [], ot.dist(X0, Y0))),
    })

    res.compare("transfer_beats_random_search", arr[:, 0], arr[:, 2], better="lower",
                claim="transfer",
                description=f"plan cost on each perturbed pair: transferred slicer (no "
                            f"training) vs POT min_sliced_transport_plan ({settings.n_search} "
                            "random directions searched on the pair itself)",
                known_gap="The transferred slicer's plans cost {ours:.3f} on average, POT's "
                          "random search on each pair {baseline:.3f} (difference interval "
                          "[{low:.3f}, {high:.3f}], n={n} pairs): no better. On these "
                          "three-blob clouds the best of a few dozen random directions is "
                          "already about as good a slice as the trained MLP slicer, so "
                          "transfer saves the per-pair search but does not beat it here.")
    res.compare("transfer_close_to_per_pair", arr[:, 0], (1 + DELTA) * arr[:, 1],
                better="lower", claim="transfer",
                description=f"plan cost on each perturbed pair: transferred slicer vs "
                            f"(1 + {DELTA:g}) x a slicer optimised on that pair with the same "
                            f"budget ({settings.n_iter} steps)")
    res.compare("minibatch_close_to_full_batch", mb[:, 0], (1 + DELTA) * mb[:, 1],
                better="lower", claim="minibatch",
                description=f"plan cost of a slicer trained on minibatches of 64 vs (1 + "
                            f"{DELTA:g}) x one trained on all {n} points, on the reference "
                            "pair and each perturbed pair")

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
    data="synthetic: three-blob 3D point clouds, a rotated and shifted copy, perturbed pairs",
    full_scale="the paper's point-cloud alignment (ModelNet/ShapeNet shapes) and amortised "
               "flow-matching training, with thousands of points per cloud",
))
