"""``constrained-swe``: slicers trained under a transport-plan constraint, at few slices.

The "foundation model" setting of the paper, on real images: a frozen
pretrained EfficientNet-Lite0 (ImageNet) maps every Fashion-MNIST image
(resized to 96 x 96) to its block-10 feature map, 6 x 6 positions of 112
features, and the 36 positions are the set (:func:`mintlab.models.image_encoder.image_tokens`,
cached on disk). Features are standardised with the training tokens' mean
and standard deviation. Only a sliced-Wasserstein embedding pooling (a
learned 16-point reference) and an MLP head are trained on the frozen
tokens, at few slices (L = 2 and 4), with the same head, optimiser, epochs
and initial slices for every variant:

* unconstrained: the slicing directions learned by the task loss alone (the
  paper's baseline);
* constrained: the directions learned under the paper's constraint that each
  slice's 1D plan from the set to the reference, lifted to the tokens, costs
  at most ``1 + slack`` times the optimal plan (``slack = 0.1``, the
  library's default), by the primal-dual method of
  :class:`mintlab.nn.ConstrainedSWEPooling`;
* random: the initial directions kept fixed (full mode only; reported, not
  judged: a frozen slicer is not the paper's baseline).

Claim and how it is judged (one item per (slice count, test image), paired
between the two learned variants over items and seeds; the images and their
tokens are the same for every seed, the seeds draw the initial slices,
reference, head and mini-batches):

``more_informative_slices``: constrained slicers classify more test images
correctly than unconstrained ones. The held-out 1D plan cost over the
optimal cost (mean over slices, per test image) is reported for all three
variants (metrics ``plan_ratio_*``); that training under the constraint
lowers it is a unit test (``tests/nn/test_constrained_swe_claims.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import ot
import torch

from mintlab.datasets import load_fashion_mnist
from mintlab.models.image_encoder import image_tokens
from mintlab.nn import ConstrainedSWEPooling, SWEPooling
from mintlab.transport.plans import _uniform_monotone

from ._core import Experiment, Result, Settings
from ._pixel_sets import train_set_classifier
from ._sets_common import one_thread
from .registry import register

CLAIMS = {
    "more_informative_slices": "Constraining the 1D transport plans of the slices to "
                               "approximate the optimal plan in the original space, trained by "
                               "a primal-dual method alongside the model, learns more "
                               "informative slicing directions for pooling embeddings of "
                               "foundation models into fixed-length representations.",
}


@dataclass(frozen=True, kw_only=True)
class ConstrainedSweSettings(Settings):
    slices: tuple[int, ...] = (2, 4)  # slice counts compared (few slices)
    train_per_class: int  # training images per class (Fashion-MNIST train split)
    test_per_class: int  # test images per class (Fashion-MNIST test split), one item each
    epochs: int  # epochs of each pooling + head training
    n_plan_sets: int  # test sets whose 1D plans are compared with the optimal plan
    with_random: bool  # also train the head on fixed random slices (reported, not judged)


QUICK = ConstrainedSweSettings(seeds=3, train_per_class=16, test_per_class=16, epochs=10,
                               n_plan_sets=40, with_random=False)
FULL = ConstrainedSweSettings(seeds=3, train_per_class=100, test_per_class=100, epochs=30,
                              n_plan_sets=200, with_random=True)
EXPECTED = "not reproduced at this scale"

SIZE, BLOCK = 96, 10  # images resized to 96 px; block 10: 112 features at stride 16 (6 x 6)
M = 16  # reference points
SLACK = 0.1  # allowed excess of each slice's lifted plan over the optimal plan (the default)
LR = 1e-2
N_CLASSES = 10


def token_sets(per_class_train: int, per_class_test: int):
    """Standardised frozen tokens: ``(train, test)`` as ``(sets (n, 36, 112), labels)``."""
    Xtr, ytr = load_fashion_mnist("train", N_CLASSES * per_class_train, seed=0, source="subset")
    Xte, yte = load_fashion_mnist("test", N_CLASSES * per_class_test, seed=0, source="subset")
    Ttr = image_tokens(Xtr, size=SIZE, block=BLOCK)
    Tte = image_tokens(Xte, size=SIZE, block=BLOCK)
    mu = Ttr.reshape(-1, Ttr.shape[-1]).mean(0)
    sd = Ttr.reshape(-1, Ttr.shape[-1]).std(0) + 1e-6
    return ((Ttr - mu) / sd, ytr), ((Tte - mu) / sd, yte)


@torch.no_grad()
def plan_ratios(pool, sets, n_sets, independent=False):
    """Per set: mean over slices of (lifted 1D plan cost / optimal cost) to the reference.

    ``independent=True``: the cost of the independent coupling (every token
    sent evenly to every reference point) over the optimal cost instead, the
    worst a plan can reasonably do.
    """
    theta = pool.unit_directions().double()
    R = pool.reference.double()
    pr = R @ theta
    m = R.shape[0]
    out = []
    for b in range(min(n_sets, len(sets))):
        fb = torch.as_tensor(sets[b], dtype=torch.float64)
        C = torch.cdist(fb, R) ** 2
        n = fb.shape[0]
        opt = ot.emd2(np.full(n, 1.0 / n), np.full(m, 1.0 / m), C.numpy())
        if independent:
            out.append(float(C.mean()) / max(opt, 1e-12))
            continue
        P = fb @ theta
        Q = _uniform_monotone(n, m, torch.float64, "cpu")
        ratios = [float((Q * C[torch.argsort(P[:, s])][:, torch.argsort(pr[:, s])]).sum())
                  / max(opt, 1e-12) for s in range(theta.shape[1])]
        out.append(float(np.mean(ratios)))
    return np.asarray(out)


def run(settings: ConstrainedSweSettings = QUICK, seed: int = 0) -> Result:
    with one_thread():
        return _run(settings, seed)


def _run(settings: ConstrainedSweSettings, seed: int) -> Result:
    import matplotlib.pyplot as plt

    res = Result(seed=seed)
    train, test = token_sets(settings.train_per_class, settings.test_per_class)
    d = train[0].shape[-1]
    res.metrics["tokens_per_set"] = int(train[0].shape[1])
    res.metrics["token_dim"] = int(d)

    names = ("random",) * settings.with_random + ("unconstrained", "constrained")
    correct: dict[str, Any] = {name: [] for name in names}
    acc, mean_ratio = {}, {}
    for L in settings.slices:
        pool_seed = 1000 * seed + L  # the same initial slices and reference for every variant
        variants = {
            "random": SWEPooling(d, L, M, learn_slices=False, seed=pool_seed),
            "unconstrained": SWEPooling(d, L, M, seed=pool_seed),
            "constrained": ConstrainedSWEPooling(d, L, M, slack=SLACK, seed=pool_seed),
        }
        variants = {name: variants[name] for name in names}
        for kind in ("initial", "independent"):  # the untrained slices; no plan at all
            res.metrics[f"plan_ratio_L{L}_{kind}"] = float(plan_ratios(
                variants["unconstrained"], test[0], settings.n_plan_sets,
                independent=kind == "independent").mean())
        for name, pool in variants.items():
            c, _ = train_set_classifier(pool, train, test, n_classes=N_CLASSES,
                                        epochs=settings.epochs, lr=LR, seed=seed)
            r = plan_ratios(pool, test[0], settings.n_plan_sets)
            correct[name].append(c)
            acc[(L, name)], mean_ratio[(L, name)] = float(c.mean()), float(r.mean())
            res.metrics[f"accuracy_L{L}_{name}"] = acc[(L, name)]
            res.metrics[f"plan_ratio_L{L}_{name}"] = mean_ratio[(L, name)]
            if name == "constrained":
                res.metrics[f"max_multiplier_L{L}"] = float(
                    cast(ConstrainedSWEPooling, pool).lambdas.max())
    # one item per test image: its correctness averaged over the slice counts L (the same
    # images are classified at every L, so (L, image) pairs are not independent items)
    correct = {k: np.mean(np.stack(v), 0) for k, v in correct.items()}
    for name in names:
        res.metrics[f"accuracy_{name}"] = float(correct[name].mean())

    res.compare("constrained_beats_unconstrained", correct["constrained"],
                correct["unconstrained"], better="higher", claim="more_informative_slices",
                description="test correctness per Fashion-MNIST test image (averaged over "
                            "L), constrained vs "
                            f"unconstrained learned slicers on frozen EfficientNet-Lite0 tokens "
                            f"(36 x 112 per image), L in {settings.slices}, {M}-point reference",
                known_gap="Not seen at our scale: accuracy {ours:.3f} vs {baseline:.3f}, "
                          "difference interval [{low:.3f}, {high:.3f}] over {n} items. The "
                          "constraint does its part: on held-out images the constrained "
                          "slices' 1D plans are closer to the optimal plan than the "
                          "unconstrained ones' (metrics plan_ratio_L*_constrained vs "
                          "plan_ratio_L*_unconstrained; 1 is optimal, the bound is 1.1). But "
                          "on these 112-dimensional tokens the optimal plan to the reference "
                          "is only slightly cheaper than sending every token evenly to every "
                          "reference point (plan_ratio_L*_independent), and following it more "
                          "closely does not make the slices more useful to the classifier: "
                          "the sign of the accuracy difference changes with L (metrics "
                          "accuracy_L*_*), and the task loss alone finds slices as good.")

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    xs = np.arange(len(settings.slices))
    for j, name in enumerate(names):
        off = 0.27 * (j - (len(names) - 1) / 2)
        axes[0].bar(xs + off, [acc[(L, name)] for L in settings.slices], 0.27, label=name)
        axes[1].bar(xs + off, [mean_ratio[(L, name)] for L in settings.slices], 0.27,
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
    data="Fashion-MNIST (shipped subset) through frozen EfficientNet-Lite0 (ImageNet): 36 "
         "block-10 tokens of 112 features per 96 x 96 image",
    full_scale="the paper pools ViT / point-cloud / protein foundation-model tokens (hundreds "
               "of tokens of 384-1280 features) from full datasets; here 36 mid-level CNN "
               "tokens per image, 1,000 training images at most, L = 2 and 4",
))
