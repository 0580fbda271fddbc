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
  :class:`mintlab.nn.ConstrainedSWEPooling`, with slack 2%.

Claims and how each is judged (one item per (slice count, test set), paired
over items and seeds, the same frozen encoder and test sets for every
variant):

1. ``more_informative_slices``: constrained slicers classify more test sets
   correctly than unconstrained ones, and than fixed random ones (two
   comparisons, both must hold).
2. ``plans_approximate_optimal``: on held-out sets, the constrained slices'
   1D plans are closer to the optimal plan than the unconstrained slices'
   (lifted-plan cost / optimal cost, averaged over slices, per test set).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import ot
import torch

from mintlab.nn import ConstrainedSWEPooling, MaxPooling, SWEPooling
from mintlab.transport.plans import _uniform_monotone

from ._core import Experiment, Result, Settings
from ._sets_common import backbone, one_thread, point_cloud_split, train_and_predict
from .registry import register

CLAIMS = {
    "more_informative_slices": "Constraining the 1D transport plans of the slices to "
                               "approximate the optimal plan in the original space, trained by "
                               "a primal-dual method alongside the model, learns more "
                               "informative slicing directions for pooling embeddings into "
                               "fixed-length representations.",
    "plans_approximate_optimal": "The constraint makes each slice's 1D transport plan "
                                 "approximate the optimal plan in the original space.",
}


@dataclass(frozen=True, kw_only=True)
class ConstrainedSweSettings(Settings):
    slices: tuple[int, ...] = (2, 4)  # slice counts compared (few slices)
    pretrain_per_class: int  # clouds per class that pretrain the frozen encoder
    train_per_class: int  # training clouds per class for the pooling and head
    test_per_class: int  # test clouds per class (one item each)
    pretrain_epochs: int  # epochs of the encoder's pretraining (max pooling)
    epochs: int  # epochs of each pooling + head training
    n_plan_sets: int  # test sets whose 1D plans are compared with the optimal plan


QUICK = ConstrainedSweSettings(seeds=2, pretrain_per_class=24, train_per_class=12,
                               test_per_class=40, pretrain_epochs=30, epochs=40, n_plan_sets=64)
# (two quick seeds: one takes over 10 s; the comparisons are per test set, so they can pass)
FULL = ConstrainedSweSettings(seeds=5, pretrain_per_class=48, train_per_class=24,
                              test_per_class=80, pretrain_epochs=40, epochs=60, n_plan_sets=160)
EXPECTED = "partly reproduced (1 of 2)"

WIDTH = 32
M = 16  # reference points
SLACK = 0.02  # allowed excess of each slice's lifted plan over the optimal plan


@torch.no_grad()
def _plan_ratios(pool, encoder, data, n_sets):
    """Per test set: mean over slices of (hard lifted-plan cost / optimal cost) to the reference."""
    x, mask, _ = data
    f = encoder(x, mask)
    theta = pool.unit_directions()
    R = pool.reference
    pr = R @ theta
    out = []
    for b in range(min(n_sets, f.shape[0])):
        fb = f[b][mask[b]]
        C = torch.cdist(fb, R) ** 2
        a = np.full(fb.shape[0], 1.0 / fb.shape[0])
        opt = ot.emd2(a, np.full(M, 1.0 / M), C.double().numpy())
        P = fb @ theta
        Q = _uniform_monotone(fb.shape[0], M, torch.float64, "cpu")
        ratios = []
        for s in range(theta.shape[1]):
            i, j = torch.argsort(P[:, s]), torch.argsort(pr[:, s])
            cost = float((Q * C[i][:, j].double()).sum())
            ratios.append(cost / max(opt, 1e-12))
        out.append(float(np.mean(ratios)))
    return np.asarray(out)


def run(settings: ConstrainedSweSettings = QUICK, seed: int = 0) -> Result:
    with one_thread():
        return _run(settings, seed)


def _run(settings: ConstrainedSweSettings, seed: int) -> Result:
    import matplotlib.pyplot as plt

    res = Result(seed=seed)
    pre, _ = point_cloud_split(settings.pretrain_per_class, 1, seed=100 + seed)
    train, test = point_cloud_split(settings.train_per_class, settings.test_per_class, seed=seed)
    torch.manual_seed(seed)
    encoder = backbone("pointnet", WIDTH)
    train_and_predict(encoder, MaxPooling(WIDTH), pre, pre, n_classes=8,
                      epochs=settings.pretrain_epochs, seed=seed)
    for p in encoder.parameters():
        p.requires_grad_(False)
    encoder.eval()

    names = ("random", "unconstrained", "constrained")
    correct = {name: [] for name in names}
    ratio = {name: [] for name in names}
    acc, mean_ratio = {}, {}
    for L in settings.slices:
        variants = {
            "random": SWEPooling(WIDTH, L, M, learn_slices=False, seed=seed),
            "unconstrained": SWEPooling(WIDTH, L, M, seed=seed),
            "constrained": ConstrainedSWEPooling(WIDTH, L, M, slack=SLACK, dual_lr=0.1,
                                                 seed=seed),
        }
        for name, pool in variants.items():
            torch.manual_seed(seed)
            c, _, _ = train_and_predict(encoder, pool, train, test, n_classes=8,
                                        epochs=settings.epochs, lr=1e-2, seed=seed)
            r = _plan_ratios(pool, encoder, test, settings.n_plan_sets)
            correct[name].append(c)
            ratio[name].append(r)
            acc[(L, name)], mean_ratio[(L, name)] = float(c.mean()), float(r.mean())
            res.metrics[f"accuracy_L{L}_{name}"] = acc[(L, name)]
            res.metrics[f"plan_ratio_L{L}_{name}"] = mean_ratio[(L, name)]
    correct = {k: np.concatenate(v) for k, v in correct.items()}
    ratio = {k: np.concatenate(v) for k, v in ratio.items()}

    items = f"one item per (L, test set), L in {settings.slices}"
    res.compare("constrained_beats_unconstrained", correct["constrained"],
                correct["unconstrained"], better="higher", claim="more_informative_slices",
                description=f"test correctness, constrained vs unconstrained learned slicers; "
                            f"{items}",
                known_gap="Not seen at our scale: accuracy {ours:.3f} vs {baseline:.3f}, "
                          "difference interval [{low:.3f}, {high:.3f}] over {n} items. With a "
                          "16-point reference and 24-32 points per set, even random slices' 1D "
                          "plans cost only a few percent more than the optimal plan (metrics "
                          "plan_ratio_L*_random), so the constraint has little to correct.")
    res.compare("constrained_beats_random", correct["constrained"], correct["random"],
                better="higher", claim="more_informative_slices",
                description=f"test correctness, constrained vs fixed random slicers; {items}")
    res.compare("constrained_plans_closer_to_optimal", ratio["constrained"],
                ratio["unconstrained"], better="lower", claim="plans_approximate_optimal",
                description="lifted 1D plan cost / optimal transport cost to the reference, mean "
                            f"over slices, per test set (first {settings.n_plan_sets} test sets, "
                            f"each L in {settings.slices})")

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    xs = np.arange(len(settings.slices))
    for j, name in enumerate(names):
        axes[0].bar(xs + 0.27 * (j - 1), [acc[(L, name)] for L in settings.slices], 0.27,
                    label=name)
        axes[1].bar(xs + 0.27 * (j - 1), [mean_ratio[(L, name)] for L in settings.slices], 0.27,
                    label=name)
    for ax, lab in zip(axes, ("test accuracy", "1D plan cost / OT cost"), strict=True):
        ax.set_xticks(xs, [f"L = {L}" for L in settings.slices])
        ax.set_ylabel(lab)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    res.figures["constrained_swe"] = fig
    return res


EXPERIMENT = register(Experiment(
    "constrained-swe", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="synthetic: procedural 3D point clouds (8 shapes) through a frozen pretrained "
         "PointNet-style encoder",
    full_scale="frozen foundation-model tokens (image ViT, point-cloud and protein models) with "
               "hundreds of tokens per set, several slice counts and seeds",
))
