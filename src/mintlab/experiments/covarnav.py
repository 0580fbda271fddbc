"""``covarnav``: unlearning by inversion, wrong-label targets and projected training.

A small ConvNet (two conv-ReLU-pool blocks, a hidden layer, one 10-way
head) is trained on Fashion-MNIST (a CIFAR-10 stand-in), then asked to
forget, in two settings:

* **class**: every training image of one class (the paper's CIFAR-10 and
  VGGFace2-identity setting);
* **subset** (``forget_fraction > 0``): a random fraction of the training
  images, of every class (sample unlearning).

CovarNav inverts the model (synthetic images per class, total-variation
prior; no training data used), relabels each forget image to its most
probable wrong class and trains on them with the gradients of every
convolution and linear layer projected away from the inverted images'
layer-input subspaces. Baselines: fine-tuning on the retained training
data (``finetune_epochs`` epochs of it), gradient ascent on the forget set
and random wrong labels (``unlearn_epochs``, as CovarNav). Every method,
CovarNav included, takes the best learning rate of a small sweep on a
held-out validation split (never on test data, never on the reference).
A model **retrained from scratch** without the forget set is the gold
standard: it is reported as the distance each method leaves to it, not as a
competitor.

Membership inference: a loss-threshold attack, members = the forget set's
training images, non-members = unseen test images (of the forgotten class
in the class setting, of all classes in the subset setting). Its AUC is 0.5
when the forget images look unseen; the retrained model's AUC is the target
(:func:`~mintlab.continual.unlearning.loss_membership_scores`, per member,
so the difference to the reference has a paired interval).

Claims and how each is judged (per test item, pooled over seeds and forget
classes, 95% group-bootstrap intervals):

1. ``forgets_forget_set``: (class) the forgotten class's test accuracy after
   CovarNav is at most chance, 1/10; the membership AUC on the forget set
   is within ``MIA_TOL`` of the retrained model's (two one-sided checks).
   (subset) the forget set's accuracy is within ``SUBSET_TOL`` of the
   retrained model's (which still classifies most of them, as unseen
   images) and the membership AUC within ``MIA_TOL`` of its own.
2. ``preserves_rest``: the retained classes' test accuracy (class) and the
   test accuracy (subset) drop by at most 3 points from the original model.
3. ``beats_baselines``: (class) CovarNav beats every baseline on the
   unlearning score, the mean of the forgotten-class error rate and the
   retained-class accuracy (1 for an exact unlearner, 0.5 for the untouched
   model), one paired comparison per baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from mintlab._random import stream_seed
from mintlab.continual import ContinualConvNet
from mintlab.continual.inversion import InvertedSet, invert_model
from mintlab.continual.unlearning import (
    _train,
    covarnav,
    finetune_retain,
    gradient_ascent,
    loss_membership_scores,
    random_relabel,
)
from mintlab.datasets import load_fashion_mnist

from ._continual_common import item_correct
from ._core import Experiment, Result, Settings
from ._sets_common import one_torch_thread
from .registry import register

CLAIMS = {
    "forgets_forget_set": "Given a trained model and a forget set, the three-step process "
                          "CovarNav makes the model forget the forget set.",
    "preserves_rest": "Learning incorrect labels for the forget set with gradient projection "
                      "prevents forgetting of the inverted samples, a proxy of the model's "
                      "training data, so the rest of its performance is kept.",
    "beats_baselines": "Compared with recent benchmarks in the field, the results demonstrate "
                       "the efficacy of the approach.",
}


@dataclass(frozen=True, kw_only=True)
class CovarNavSettings(Settings):
    n_train: int  # Fashion-MNIST training images (class-balanced)
    n_val: int  # held-out training-split images for choosing learning rates
    n_test: int  # test images
    channels: tuple[int, ...]  # ConvNet blocks
    hidden: int  # ConvNet hidden width
    train_epochs: int  # epochs of the original model (and of the retrained reference)
    train_lr: float  # SGD (momentum 0.9) learning rate of the original and the reference
    forget_classes: tuple[int, ...]  # classes unlearned one at a time (each from the original)
    forget_fraction: float  # random fraction of the training set forgotten (0: no subset setting)
    unlearn_epochs: int  # epochs on the forget set: CovarNav, gradient ascent, random relabel
    finetune_epochs: int  # epochs of the fine-tune-on-retain baseline (on the retained data)
    n_inverted_per_class: int  # inverted images per class (CovarNav's proxy data)
    inversion_steps: int  # Adam steps of the model inversion
    inversion_tv: float  # total-variation prior of the inversion
    lrs: tuple[float, ...]  # learning rates swept for every method (best on validation)


QUICK = CovarNavSettings(seeds=3, n_train=1200, n_val=500, n_test=2000, channels=(8, 16),
                         hidden=64, train_epochs=5, train_lr=0.05, forget_classes=(3,),
                         forget_fraction=0.0, unlearn_epochs=5, finetune_epochs=1,
                         n_inverted_per_class=10, inversion_steps=50, inversion_tv=0.1,
                         lrs=(0.0003, 0.001, 0.003, 0.01))
FULL = CovarNavSettings(seeds=5, n_train=2000, n_val=1000, n_test=2000, channels=(8, 16),
                        hidden=64, train_epochs=12, train_lr=0.05, forget_classes=(0, 3, 8),
                        forget_fraction=0.1, unlearn_epochs=5, finetune_epochs=1,
                        n_inverted_per_class=20, inversion_steps=80, inversion_tv=0.1,
                        lrs=(0.0003, 0.001, 0.003, 0.01))
EXPECTED = "partly reproduced (2 of 3)"

CHANCE = 0.1  # ten classes
MAX_DROP = 0.03  # retained-accuracy loss allowed: the paper keeps it within a few points
MIA_TOL = 0.05  # membership AUC allowed from the retrained model's
SUBSET_TOL = 0.05  # forget-set accuracy allowed from the retrained model's (subset setting)
BASELINES = ("fine-tune on retain", "gradient ascent", "random relabel")
METHODS = ("CovarNav", *BASELINES)


def _unlearning_score(correct: np.ndarray, forget: np.ndarray) -> np.ndarray:
    """Per-item unlearning score whose mean is (forget error + retained accuracy) / 2."""
    n, n_f = len(correct), int(forget.sum())
    w = np.where(forget, n / (2 * n_f), n / (2 * (n - n_f)))
    return w * np.where(forget, 1.0 - correct, correct)


def _subset_score(net, T, Xf, yf) -> float:
    """Validation accuracy minus the gap between forget-set and validation accuracy.

    A sample unlearner should leave the forget set looking unseen (its
    accuracy that of held-out images) and keep the validation accuracy.
    """
    val = float(item_correct(net, T["X_val"], T["y_val"]).mean())
    return val - abs(float(item_correct(net, Xf, yf).mean()) - val)


def _data(settings: CovarNavSettings, seed: int) -> dict[str, torch.Tensor]:
    X, y = load_fashion_mnist("train", n=settings.n_train + settings.n_val, seed=seed,
                              source="subset")
    Xt, yt = load_fashion_mnist("test", n=settings.n_test, seed=seed, source="subset")
    perm = np.random.default_rng(stream_seed(seed, "covarnav", "split")).permutation(len(y))
    tr, va = perm[:settings.n_train], perm[settings.n_train:]

    def flat(a):
        return torch.as_tensor(a.reshape(len(a), -1) / 255.0, dtype=torch.float32)

    return {"X_train": flat(X[tr]), "y_train": torch.as_tensor(y[tr]),
            "X_val": flat(X[va]), "y_val": torch.as_tensor(y[va]),
            "X_test": flat(Xt), "y_test": torch.as_tensor(yt)}


def run(settings: CovarNavSettings = QUICK, seed: int = 0) -> Result:
    import matplotlib.pyplot as plt

    res = Result(seed=seed)
    T = _data(settings, seed)
    s = settings

    def make(key: str) -> ContinualConvNet:
        return ContinualConvNet((1, 28, 28), s.channels, s.hidden, [10],
                                seed=stream_seed(seed, "covarnav", key) % 2**31)

    def fit(X, y, key):
        return _train(make(key), X, y, epochs=s.train_epochs, lr=s.train_lr, batch_size=32,
                      seed=stream_seed(seed, "covarnav", "train", key))

    def unlearn(name, X_f, y_f, X_r, y_r, lr, inv, useed):
        if name == "CovarNav":
            return covarnav(net, X_f, y_f, 10, retain_classes=sorted(set(inv.y.tolist())),
                            epochs=s.unlearn_epochs, lr=lr, seed=useed, inverted=inv).model
        if name == "fine-tune on retain":
            return finetune_retain(net, X_r, y_r, epochs=s.finetune_epochs, lr=lr,
                                   seed=useed).model
        if name == "gradient ascent":
            return gradient_ascent(net, X_f, y_f, epochs=s.unlearn_epochs, lr=lr,
                                   seed=useed).model
        return random_relabel(net, X_f, y_f, 10, epochs=s.unlearn_epochs, lr=lr,
                              seed=useed).model

    def best(name, X_f, y_f, X_r, y_r, inv, useed, score):
        out = None
        for lr in s.lrs:
            m = unlearn(name, X_f, y_f, X_r, y_r, lr, inv, useed)
            v = score(m)
            if out is None or v > out[0]:
                out = (v, lr, m)
        assert out is not None  # lrs is never empty
        return out[1], out[2]

    yte = T["y_test"].numpy()
    with one_torch_thread():
        net = fit(T["X_train"], T["y_train"], "original")
        inv_all = invert_model(net, list(range(10)), s.n_inverted_per_class, 784,
                               steps=s.inversion_steps, tv=s.inversion_tv,
                               image_shape=(1, 28, 28), seed=stream_seed(seed, "covarnav", "inv"))
        res.metrics["inverted_images_with_target_label"] = float(
            np.mean(item_correct(net, inv_all.X, inv_all.y)))
        orig_test = item_correct(net, T["X_test"], T["y_test"])
        res.metrics["original_test_accuracy"] = float(orig_test.mean())

        # ---------------------------------------------------------------- class setting
        names = ("original", "retrained", *METHODS)
        items: dict[str, list[np.ndarray]] = {k: [] for k in names}
        mia: dict[str, list[np.ndarray]] = {k: [] for k in names}
        chosen: dict[str, list[float]] = {k: [] for k in METHODS}
        forget_items: list[np.ndarray] = []
        for fc in s.forget_classes:
            f = T["y_train"] == fc
            fv, ft = (T["y_val"] == fc).numpy(), yte == fc
            Xf, yf, Xr, yr = T["X_train"][f], T["y_train"][f], T["X_train"][~f], T["y_train"][~f]
            keep = inv_all.y != fc  # the proxy of the retained classes only
            inv = InvertedSet(inv_all.X[keep], inv_all.y[keep], 0, inv_all.final_loss)
            useed = stream_seed(seed, "covarnav", "unlearn", fc)
            models = {"original": net, "retrained": fit(Xr, yr, f"retrained-{fc}")}
            for name in METHODS:
                lr, models[name] = best(
                    name, Xf, yf, Xr, yr, inv, useed,
                    lambda m, fv=fv: _unlearning_score(
                        item_correct(m, T["X_val"], T["y_val"]), fv).mean())
                chosen[name].append(lr)
            for name, m in models.items():
                items[name].append(item_correct(m, T["X_test"], T["y_test"]))
                mia[name].append(loss_membership_scores(m, Xf, yf, T["X_test"][ft],
                                                        T["y_test"][ft]))
            forget_items.append(ft)

        correct = {k: np.concatenate(v) for k, v in items.items()}
        auc = {k: np.concatenate(v) for k, v in mia.items()}
        forget = np.concatenate(forget_items)
        for k in names:
            res.metrics[f"class_{k}_forget_class_test_accuracy"] = float(correct[k][forget].mean())
            res.metrics[f"class_{k}_retained_test_accuracy"] = float(correct[k][~forget].mean())
            res.metrics[f"class_{k}_membership_auc"] = float(auc[k].mean())
        for k in METHODS:
            res.metrics[f"class_{k}_chosen_lr"] = float(np.mean(chosen[k]))
            res.metrics[f"class_{k}_retained_gap_to_retrained"] = float(
                correct[k][~forget].mean() - correct["retrained"][~forget].mean())

        res.check("forget_accuracy_at_chance", correct["CovarNav"][forget], CHANCE, "<=",
                  claim="forgets_forget_set",
                  known_gap="the forgotten class's test accuracy after CovarNav is {measured:.3f} "
                            "[{low:.3f}, {high:.3f}], above chance",
                  description="class setting, CovarNav: per-item correctness on the forgotten "
                              "class's test images (chance = 1/10); the interval of the mean "
                              "must lie at or below it")
        d_mia = auc["CovarNav"] - auc["retrained"]
        gap_mia = ("the membership AUC of CovarNav minus the retrained model's is "
                   "{measured:.3f} [{low:.3f}, {high:.3f}] over {n} forget images (seeds "
                   "resampled), not within the tolerance: compare the original model's AUC in "
                   "the metrics, which bounds how much membership there is to hide")
        res.check("class_membership_not_above_retrained", d_mia, MIA_TOL, "<=",
                  claim="forgets_forget_set", known_gap=gap_mia,
                  description="class setting: per forget image, the loss-threshold attack's "
                              "AUC contribution under CovarNav minus under the retrained model; "
                              f"the interval of the mean must lie at or below {MIA_TOL}")
        res.check("class_membership_not_below_retrained", d_mia, -MIA_TOL, ">=",
                  claim="forgets_forget_set", known_gap=gap_mia,
                  description="class setting: as above; the interval of the mean must lie at "
                              f"or above -{MIA_TOL}")
        drop = correct["original"][~forget] - correct["CovarNav"][~forget]
        res.check("retained_accuracy_kept", drop, MAX_DROP, "<=", claim="preserves_rest",
                  known_gap="the retained classes' accuracy drops by {measured:.3f} "
                            "[{low:.3f}, {high:.3f}] over {n} test items, above {threshold:.2f}",
                  description="class setting: per-item drop on the retained classes' test "
                              "images, original minus CovarNav; the interval of the mean drop "
                              f"must lie at or below {MAX_DROP}")
        segments = np.cumsum([0] + [len(x) for x in forget_items])

        def score(k):
            return np.concatenate([_unlearning_score(correct[k][a:b], forget[a:b])
                                   for a, b in zip(segments[:-1], segments[1:], strict=True)])

        for name in BASELINES:
            key = name.replace("-", "_").replace(" ", "_")
            res.compare(f"beats_{key}", score("CovarNav"), score(name), better="higher",
                        claim="beats_baselines",
                        known_gap="CovarNav's unlearning score is {ours:.3f} vs {baseline:.3f}: "
                                  "difference {diff:.3f} [{low:.3f}, {high:.3f}] over {n} test "
                                  "items, an interval that reaches 0",
                        description=f"class setting: unlearning score (mean of forgotten-class "
                                    f"error and retained accuracy) per test item, CovarNav vs "
                                    f"{name}, each at its best learning rate of {list(s.lrs)} "
                                    f"on validation")
        res.metrics["class_retrained_score"] = float(score("retrained").mean())
        for k in METHODS:
            res.metrics[f"class_{k}_score"] = float(score(k).mean())

        # --------------------------------------------------------------- subset setting
        sub: dict[str, dict[str, float]] = {}
        if s.forget_fraction > 0:
            n_f = max(1, int(round(s.forget_fraction * s.n_train)))
            pick = np.random.default_rng(stream_seed(seed, "covarnav", "subset")).permutation(
                s.n_train)[:n_f]
            f = torch.zeros(s.n_train, dtype=torch.bool)
            f[pick] = True
            Xf, yf, Xr, yr = T["X_train"][f], T["y_train"][f], T["X_train"][~f], T["y_train"][~f]
            useed = stream_seed(seed, "covarnav", "unlearn", "subset")
            models = {"original": net, "retrained": fit(Xr, yr, "retrained-subset")}
            for name in METHODS:
                lr, models[name] = best(name, Xf, yf, Xr, yr, inv_all, useed,
                                        lambda m: _subset_score(m, T, Xf, yf))
                res.metrics[f"subset_{name}_chosen_lr"] = lr
            fc_items = {k: item_correct(m, Xf, yf) for k, m in models.items()}
            te_items = {k: item_correct(m, T["X_test"], T["y_test"]) for k, m in models.items()}
            au = {k: loss_membership_scores(m, Xf, yf, T["X_test"], T["y_test"])
                  for k, m in models.items()}
            for k in models:
                sub[k] = {"forget": float(fc_items[k].mean()), "test": float(te_items[k].mean()),
                          "auc": float(au[k].mean())}
                res.metrics[f"subset_{k}_forget_set_accuracy"] = sub[k]["forget"]
                res.metrics[f"subset_{k}_test_accuracy"] = sub[k]["test"]
                res.metrics[f"subset_{k}_membership_auc"] = sub[k]["auc"]
            d = fc_items["CovarNav"] - fc_items["retrained"]
            res.check("subset_forget_accuracy_not_below_retrained", d, -SUBSET_TOL, ">=",
                      claim="forgets_forget_set",
                      known_gap="CovarNav's forget-set accuracy minus the retrained model's is "
                                "{measured:.3f} [{low:.3f}, {high:.3f}]: relabelling every "
                                "forget image to a wrong class drives its accuracy far below "
                                "that of images the model never saw",
                      description="subset setting: per forget image, correct under CovarNav "
                                  "minus correct under the retrained model; the interval of the "
                                  f"mean must lie at or above -{SUBSET_TOL}")
            res.check("subset_forget_accuracy_not_above_retrained", d, SUBSET_TOL, "<=",
                      claim="forgets_forget_set",
                      known_gap="CovarNav's forget-set accuracy minus the retrained model's is "
                                "{measured:.3f} [{low:.3f}, {high:.3f}]: the forget images stay "
                                "better classified than images the model never saw",
                      description="subset setting: as above; the interval of the mean must lie "
                                  f"at or below {SUBSET_TOL}")
            d_mia = au["CovarNav"] - au["retrained"]
            res.check("subset_membership_not_below_retrained", d_mia, -MIA_TOL, ">=",
                      claim="forgets_forget_set",
                      known_gap=gap_mia,
                      description="subset setting: per forget image, the attack's AUC "
                                  "contribution under CovarNav minus under the retrained model "
                                  f"(non-members: all test images); at or above -{MIA_TOL}")
            res.check("subset_membership_not_above_retrained", d_mia, MIA_TOL, "<=",
                      claim="forgets_forget_set", known_gap=gap_mia,
                      description=f"subset setting: as above; at or below {MIA_TOL}")
            res.check("subset_test_accuracy_kept", orig_test - te_items["CovarNav"], MAX_DROP,
                      "<=", claim="preserves_rest",
                      known_gap="the test accuracy drops by {measured:.3f} [{low:.3f}, "
                                "{high:.3f}], above {threshold:.2f}",
                      description="subset setting: per-item test accuracy drop, original minus "
                                  f"CovarNav; the interval of the mean must lie at or below "
                                  f"{MAX_DROP}")

    fig, axes = plt.subplots(1, 2 if sub else 1, figsize=(11 if sub else 7, 3.5), squeeze=False)
    ax = axes[0, 0]
    ax.bar([i - 0.2 for i in range(len(names))],
           [correct[k][forget].mean() for k in names], 0.4, label="forgotten class")
    ax.bar([i + 0.2 for i in range(len(names))],
           [correct[k][~forget].mean() for k in names], 0.4, label="retained classes")
    ax.plot(range(len(names)), [auc[k].mean() for k in names], "k^", label="membership AUC")
    ax.axhline(CHANCE, color="k", ls=":", lw=1)
    ax.set_xticks(range(len(names)), names, rotation=20, fontsize=8)
    ax.set_ylabel("test accuracy / AUC")
    ax.set_title("forget one class", fontsize=9)
    ax.legend(fontsize=7)
    if sub:
        ax = axes[0, 1]
        ks = list(sub)
        ax.bar([i - 0.2 for i in range(len(ks))], [sub[k]["forget"] for k in ks], 0.4,
               label="forget set")
        ax.bar([i + 0.2 for i in range(len(ks))], [sub[k]["test"] for k in ks], 0.4,
               label="test set")
        ax.plot(range(len(ks)), [sub[k]["auc"] for k in ks], "k^", label="membership AUC")
        ax.set_xticks(range(len(ks)), ks, rotation=20, fontsize=8)
        ax.set_title(f"forget a random {s.forget_fraction:.0%} of the training set", fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    res.figures["unlearning"] = fig
    return res


EXPERIMENT = register(Experiment(
    "covarnav", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="Fashion-MNIST (real, shipped subset), small ConvNet",
    full_scale="CIFAR-10 and VGGFace2 ResNet-18s with class and identity forget sets, "
               "SCRUB / Boundary-style baselines; a few GPU hours",
))
