"""``covarnav``: unlearning one class by inversion, wrong-label targets and projected training.

A 64-100-100-10 MLP trained on 8x8 digits forgets one class (all of its
training samples are the forget set). CovarNav inverts the model for the
nine retained classes (no retained data used), relabels each forget sample
to its most probable wrong class and trains on them with gradients
projected away from the inverted samples' layer-input subspaces.
Baselines, each with the same epochs and the best learning rate of a small
sweep (chosen on the validation split by the score below): fine-tuning on
the retained data, gradient ascent on the forget set, random wrong labels.
A model retrained from scratch without the forget class is reported as the
reference an exact unlearner would match. Scaled down from the paper's
CIFAR-10 / VGGFace2 ResNets.

Claims and how each is judged (per test item, pooled over seeds and forget
classes, 95% bootstrap intervals):

1. ``forgets_forget_set``: the forgotten class's test accuracy after
   CovarNav is at most chance (1/10): the whole interval of the mean
   per-item correctness on that class must lie at or below 0.1;
2. ``preserves_rest``: the retained classes' test accuracy stays within 3
   points of the original model: the interval of the per-item drop
   (original correct minus CovarNav correct) must lie at or below 0.03;
3. ``beats_baselines``: CovarNav beats every baseline on the unlearning
   score, the mean of the forgotten-class error rate and the retained-class
   accuracy (1 for an exact unlearner, 0.5 for the untouched model): one
   paired comparison per baseline, per test item (each item weighted so that
   the two groups count half each).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from mintlab.continual import ContinualMLP
from mintlab.continual.unlearning import (
    _train,
    covarnav,
    finetune_retain,
    gradient_ascent,
    random_relabel,
)
from mintlab.datasets import load_digits_split

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
    forget_classes: tuple[int, ...]  # classes unlearned one at a time (each from the original)
    train_epochs: int  # epochs of the original model (and of the retrained reference)
    unlearn_epochs: int  # epochs of CovarNav and of every baseline
    n_inverted_per_class: int  # inverted samples per retained class (CovarNav's proxy data)
    inversion_steps: int  # optimisation steps of the model inversion
    baseline_lrs: tuple[float, ...]  # learning rates swept for each baseline (best on validation)


QUICK = CovarNavSettings(seeds=3, forget_classes=(3,), train_epochs=30, unlearn_epochs=10,
                         n_inverted_per_class=50, inversion_steps=200,
                         baseline_lrs=(0.003, 0.01, 0.03))
FULL = CovarNavSettings(seeds=5, forget_classes=(1, 3, 5, 8), train_epochs=30,
                        unlearn_epochs=10, n_inverted_per_class=100, inversion_steps=400,
                        baseline_lrs=(0.001, 0.003, 0.01, 0.03, 0.1))
EXPECTED = "partly reproduced (2 of 3)"

CHANCE = 0.1  # ten classes
MAX_DROP = 0.03  # retained-accuracy loss allowed: the paper keeps it within a few points
BASELINES = ("fine-tune on retain", "gradient ascent", "random relabel")


def _unlearning_score(correct: np.ndarray, forget: np.ndarray) -> np.ndarray:
    """Per-item unlearning score whose mean is (forget error + retained accuracy) / 2."""
    n, n_f = len(correct), int(forget.sum())
    w = np.where(forget, n / (2 * n_f), n / (2 * (n - n_f)))
    return w * np.where(forget, 1.0 - correct, correct)


def _baseline(name, net, T, f, epochs, lr, seed):
    if name == "fine-tune on retain":
        return finetune_retain(net, T["X_train"][~f], T["y_train"][~f], epochs=epochs, lr=lr,
                               seed=seed).model
    if name == "gradient ascent":
        return gradient_ascent(net, T["X_train"][f], T["y_train"][f], epochs=epochs, lr=lr,
                               seed=seed).model
    return random_relabel(net, T["X_train"][f], T["y_train"][f], 10, epochs=epochs, lr=lr,
                          seed=seed).model


def run(settings: CovarNavSettings = QUICK, seed: int = 0) -> Result:
    import matplotlib.pyplot as plt

    res = Result(seed=seed)
    d = load_digits_split(seed=seed)
    T = {k: torch.as_tensor(v, dtype=torch.float32 if k[0] == "X" else torch.int64)
         for k, v in d.items()}
    with one_torch_thread():
        net = ContinualMLP(64, [100, 100], [10], seed=seed)
        _train(net, T["X_train"], T["y_train"], epochs=settings.train_epochs, lr=0.05,
               batch_size=32, seed=seed)
        forget_acc: dict[str, list[Any]] = {
            k: [] for k in ("original", "retrained", "CovarNav", *BASELINES)}
        retain_acc: dict[str, list[Any]] = {k: [] for k in forget_acc}
        items: dict[str, list[Any]] = {k: [] for k in forget_acc}  # per-item test correctness
        chosen_lr: dict[str, list[Any]] = {k: [] for k in BASELINES}
        forget_items: list[Any] = []
        inv_ok: list[float] = []
        for fc in settings.forget_classes:
            f, fv, ft = (T[y] == fc for y in ("y_train", "y_val", "y_test"))
            retrained = ContinualMLP(64, [100, 100], [10], seed=seed + 1)
            _train(retrained, T["X_train"][~f], T["y_train"][~f], epochs=settings.train_epochs,
                   lr=0.05, batch_size=32, seed=seed)
            cov = covarnav(net, T["X_train"][f], T["y_train"][f], 10,
                           epochs=settings.unlearn_epochs, lr=0.01,
                           n_inverted_per_class=settings.n_inverted_per_class,
                           inversion_steps=settings.inversion_steps, seed=seed)
            assert cov.inverted is not None  # CovarNav always returns its inverted proxy
            inv_ok.append(float(np.mean(item_correct(net, cov.inverted.X, cov.inverted.y))))
            models = {"original": net, "retrained": retrained, "CovarNav": cov.model}
            for name in BASELINES:  # best learning rate on the validation split
                best: tuple[Any, float, Any] | None = None
                for lr in settings.baseline_lrs:
                    m = _baseline(name, net, T, f, settings.unlearn_epochs, lr, seed)
                    score = _unlearning_score(item_correct(m, T["X_val"], T["y_val"]),
                                              fv.numpy()).mean()
                    if best is None or score > best[0]:
                        best = (score, lr, m)
                assert best is not None  # baseline_lrs is never empty
                models[name] = best[2]
                chosen_lr[name].append(best[1])
            for name, m in models.items():
                c = item_correct(m, T["X_test"], T["y_test"])
                items[name].append(c)
                forget_acc[name].append(float(c[ft.numpy()].mean()))
                retain_acc[name].append(float(c[~ft.numpy()].mean()))
            forget_items.append(ft.numpy())

    correct = {k: np.concatenate(v) for k, v in items.items()}
    forget = np.concatenate(forget_items)
    for k in forget_acc:
        res.metrics[f"{k}_forget_class_test_accuracy"] = float(np.mean(forget_acc[k]))
        res.metrics[f"{k}_retained_test_accuracy"] = float(np.mean(retain_acc[k]))
    for k in BASELINES:
        res.metrics[f"{k}_chosen_lr"] = float(np.mean(chosen_lr[k]))
    res.metrics["inverted_samples_with_target_label"] = float(np.mean(inv_ok))

    res.check("forget_accuracy_at_chance", correct["CovarNav"][forget], CHANCE, "<=",
              claim="forgets_forget_set",
              description="CovarNav: per-item correctness on the forgotten class's test images "
                          "(chance = 1/10); the interval of the mean must lie at or below it")
    drop = correct["original"][~forget] - correct["CovarNav"][~forget]
    res.check("retained_accuracy_kept", drop, MAX_DROP, "<=", claim="preserves_rest",
              known_gap="the mean drop of the retained classes' accuracy is {measured:.3f}, "
                        "but its interval [{low:.3f}, {high:.3f}] over {n} test items still "
                        "reaches above {threshold:.2f}: the drop varies between seeds, "
                        "and a few hundred retained test images per seed cannot bound it "
                        "more tightly at this scale",
              description="per-item drop on the retained classes' test images, original minus "
                          "CovarNav; the interval of the mean drop must lie at or below 0.03")
    segments = np.cumsum([0] + [len(x) for x in forget_items])
    ours = np.concatenate([_unlearning_score(correct["CovarNav"][a:b], forget[a:b])
                           for a, b in zip(segments[:-1], segments[1:], strict=True)])
    for name in BASELINES:
        theirs = np.concatenate([_unlearning_score(correct[name][a:b], forget[a:b])
                                 for a, b in zip(segments[:-1], segments[1:], strict=True)])
        key = name.replace("-", "_").replace(" ", "_")
        res.compare(f"beats_{key}", ours, theirs, better="higher", claim="beats_baselines",
                    description=f"unlearning score (mean of forgotten-class error and retained "
                                f"accuracy) per test item, CovarNav vs {name} at its best "
                                f"learning rate of {list(settings.baseline_lrs)} (validation)")

    fig, ax = plt.subplots(figsize=(7, 3.5))
    names = list(forget_acc)
    ax.bar([i - 0.2 for i in range(len(names))], [np.mean(forget_acc[k]) for k in names], 0.4,
           label="forgotten class")
    ax.bar([i + 0.2 for i in range(len(names))], [np.mean(retain_acc[k]) for k in names], 0.4,
           label="retained classes")
    ax.axhline(CHANCE, color="k", ls=":", lw=1)
    ax.set_xticks(range(len(names)), names, rotation=20, fontsize=8)
    ax.set_ylabel("test accuracy")
    ax.legend(fontsize=8)
    fig.tight_layout()
    res.figures["unlearning"] = fig
    return res


EXPERIMENT = register(Experiment(
    "covarnav", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="sklearn digits 8x8 (real)",
    full_scale="CIFAR-10 and VGGFace2 ResNet-18s with class and identity (sample) forget sets, "
               "membership-inference scores and SCRUB / Boundary-style baselines; a few GPU "
               "hours",
))
