"""``constrained-swe``: slicers trained under a transport-plan constraint, at few slices.

A frozen encoder (a PointNet-style MLP of width 32 pretrained with max
pooling on separate clouds: the stand-in for a foundation model's token
embeddings) maps each point cloud of the eight procedural shapes to a set of
32-dimensional features. On top of it only a sliced-Wasserstein embedding
pooling and the classifier head are trained, with few slices (2 and 4) and
a 16-point reference:

* random: slicing directions drawn once and kept fixed;
* unconstrained: directions learned by the task loss alone;
* constrained: directions learned under the paper's constraint that each
  slice's lifted 1D plan (set -> reference) costs at most (1 + slack) times
  the optimal plan, by the primal-dual method of
  :class:`mintlab.nn.ConstrainedSWEPooling`. Random slices' plans are
  within about 5% of the optimum here, so the constraint asks for 2%.

Claims: constrained slicers classify better than unconstrained and random
ones at few slices, and their 1D plans are closer to the optimal plan.
"""

from __future__ import annotations

import numpy as np
import ot
import torch

from mintlab.nn import ConstrainedSWEPooling, MaxPooling, SWEPooling
from mintlab.transport.plans import _uniform_monotone

from ._core import Experiment, Result
from ._sets_common import backbone, one_torch_thread, point_cloud_split, train_and_score
from .registry import register

CLAIM = (
    "Constraining each slice's 1D transport plan to approximate the optimal plan learns "
    "more informative slicers: better accuracy than unconstrained or random slicers at few "
    "slices."
)

WIDTH = 32
M = 16


@torch.no_grad()
def _plan_ratio(pool, encoder, data):
    """Mean over sets and slices of (hard lifted-plan cost / optimal cost) against the reference."""
    x, mask, _ = data
    f = encoder(x, mask)
    theta = pool.unit_directions()
    R = pool.reference
    pr = R @ theta
    ratios = []
    for b in range(min(64, f.shape[0])):
        fb = f[b][mask[b]]
        C = torch.cdist(fb, R) ** 2
        a = np.full(fb.shape[0], 1.0 / fb.shape[0])
        opt = ot.emd2(a, np.full(M, 1.0 / M), C.double().numpy())
        P = fb @ theta
        for s in range(theta.shape[1]):
            i, j = torch.argsort(P[:, s]), torch.argsort(pr[:, s])
            Q = _uniform_monotone(fb.shape[0], M, torch.float64, "cpu")
            cost = float((Q * C[i][:, j].double()).sum())
            ratios.append(cost / max(opt, 1e-12))
    return float(np.mean(ratios))


def run(quick: bool = True, seed: int = 0) -> Result:
    import matplotlib.pyplot as plt

    with one_torch_thread():
        return _run(quick, seed, plt)


def _run(quick, seed, plt):
    res = Result()
    seeds = [seed, seed + 1] if quick else [seed + i for i in range(5)]
    slices = (2, 4)
    acc = {}
    ratio = {}
    for s in seeds:
        pre, _ = point_cloud_split(24, 1, seed=100 + s)
        train, test = point_cloud_split(12, 40, seed=s)
        torch.manual_seed(s)
        encoder = backbone("pointnet", WIDTH)
        train_and_score(encoder, MaxPooling(WIDTH), pre, pre, n_classes=8, epochs=30, seed=s)
        for p in encoder.parameters():
            p.requires_grad_(False)
        encoder.eval()
        for L in slices:
            variants = {
                "random": SWEPooling(WIDTH, L, M, learn_slices=False, seed=s),
                "unconstrained": SWEPooling(WIDTH, L, M, seed=s),
                "constrained": ConstrainedSWEPooling(WIDTH, L, M, slack=0.02, dual_lr=0.1,
                                                     seed=s),
            }
            for name, pool in variants.items():
                torch.manual_seed(s)
                a, _ = train_and_score(encoder, pool, train, test, n_classes=8, epochs=40,
                                       lr=1e-2, seed=s)
                acc.setdefault((L, name), []).append(a)
                ratio.setdefault((L, name), []).append(_plan_ratio(pool, encoder, test))
    acc = {k: float(np.mean(v)) for k, v in acc.items()}
    ratio = {k: float(np.mean(v)) for k, v in ratio.items()}
    for (L, name), a in acc.items():
        res.metrics[f"accuracy_L{L}_{name}"] = a
        res.metrics[f"plan_ratio_L{L}_{name}"] = ratio[(L, name)]
    d_unc = float(np.mean([acc[(L, "constrained")] - acc[(L, "unconstrained")] for L in slices]))
    d_rand = float(np.mean([acc[(L, "constrained")] - acc[(L, "random")] for L in slices]))
    res.check("constrained_beats_unconstrained", d_unc, 0.0, ">=",
              description=f"test accuracy, constrained minus unconstrained slicers, mean over "
                          f"L in {slices} and {len(seeds)} seeds",
              known_gap="Not seen at our scale (quick run: -0.035; L = 2: 0.62 vs 0.67, L = 4: "
                        "0.73 vs 0.75). With a 16-point reference and 24-32 points per set, "
                        "random 1D plans are already within ~5% of the optimal plan's cost, "
                        "so the constraint (2% slack) has little to correct, and its penalty "
                        "competes with the task loss for the few slices.")
    res.check("constrained_beats_random", d_rand, 0.0, ">=",
              description="test accuracy, constrained minus fixed random slicers")
    r_gap = float(np.mean([ratio[(L, "unconstrained")] - ratio[(L, "constrained")]
                           for L in slices]))
    res.check("constrained_plans_closer_to_optimal", r_gap, 0.0, ">=",
              description="(1D-plan cost / optimal cost) of unconstrained minus constrained "
                          "slicers on test sets")

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    names = ("random", "unconstrained", "constrained")
    xs = np.arange(len(slices))
    for j, name in enumerate(names):
        axes[0].bar(xs + 0.27 * (j - 1), [acc[(L, name)] for L in slices], 0.27, label=name)
        axes[1].bar(xs + 0.27 * (j - 1), [ratio[(L, name)] for L in slices], 0.27, label=name)
    for ax, lab in zip(axes, ("test accuracy", "1D plan cost / OT cost"), strict=True):
        ax.set_xticks(xs, [f"L = {L}" for L in slices])
        ax.set_ylabel(lab)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    res.figures["constrained_swe"] = fig
    return res


EXPERIMENT = register(Experiment("constrained-swe", CLAIM, run))
