"""The shared testbed of the ``cot`` and ``cott`` experiments: Fashion-MNIST CNNs under shift.

Two small CNNs are trained per seed on the shipped Fashion-MNIST subset:

* a 10-class classifier; its targets are the test split under the corruption
  suite (:mod:`mintlab.datasets.corruptions`: noise, blur, contrast,
  brightness, rotation, elastic, pixelation, occlusion at several
  severities), the synthetic shifts of CIFAR-10-C in small;
* a 3-superclass classifier in the manner of BREEDS (tops, footwear, other),
  trained on two subclasses of each superclass drawn per seed; its targets
  mix growing shares of the unseen subclasses into the test split (novel
  subpopulation shift, superclass proportions unchanged).

Each model's probabilities on a held-out split of its source data fit every
estimator (AC, DoC, ATC, COT, COTT, with temperature scaling). Both
experiments ask for the same testbed, which is built once per process and
seed (an in-memory cache keyed by the testbed settings).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, fields

import numpy as np
import torch
from torch import nn

from mintlab._training import fit_classifier
from mintlab.datasets import load_fashion_mnist
from mintlab.datasets.corruptions import CORRUPTIONS, corrupt
from mintlab.ood import (
    COT,
    COTT,
    AverageConfidence,
    AverageThresholdedConfidence,
    DifferenceOfConfidences,
)

from ._core import Settings

METHODS = ("AC", "DoC", "ATC", "COT", "COTT")
BASELINES = ("AC", "DoC", "ATC")

#: BREEDS-style superclasses of Fashion-MNIST's ten classes.
SUPERCLASSES = {"top": (0, 2, 4, 6), "footwear": (5, 7, 9), "other": (1, 3, 8)}


@dataclass
class Target:
    name: str
    kind: str  # "corruption" or "subpopulation"
    accuracy: float
    pseudo_label_shift: float  # TV(predicted label histogram, true label histogram)
    estimates: dict = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ShiftSettings(Settings):
    """The testbed's knobs shared by ``cot`` and ``cott`` (both define QUICK and FULL from it)."""

    n_train: int  # Fashion-MNIST training images (class-balanced) for the 10-class CNN
    n_val: int  # held-out source images (class-balanced) that fit the estimators
    n_test: int  # test images (class-balanced) each corruption target is made from
    epochs: int = 3  # training epochs of both CNNs
    width: int = 8  # channels of the first conv layer (the second has twice as many)
    corruptions: tuple[str, ...] = CORRUPTIONS  # one target per corruption and severity
    severities: tuple[int, ...] = (1, 2, 3, 4, 5)
    novel_shares: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)  # share of unseen subclasses
    per_superclass: int = 200  # images per superclass in each subpopulation target


def _key(settings: ShiftSettings) -> tuple:
    return tuple((f.name, getattr(settings, f.name)) for f in fields(ShiftSettings)
                 if f.name != "seeds")


def cnn(n_classes: int, width: int, seed: int) -> nn.Sequential:
    """Two 3x3 conv layers (``width``, ``2 width`` channels) with max pooling, then a linear
    layer; parameters drawn from a generator seeded with ``seed`` (PyTorch's default rules)."""
    model = nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(2 * width * 49, n_classes))
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model:
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=g)
                bound = 1.0 / math.sqrt(m.weight[0].numel())
                assert m.bias is not None  # built with bias=True above
                m.bias.uniform_(-bound, bound, generator=g)
    return model


def _tensor(images: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(images[:, None] / 255.0, dtype=torch.float32)


def _train(images, labels, n_classes, settings, seed):
    model = cnn(n_classes, settings.width, seed)
    fit_classifier(model, _tensor(images), torch.as_tensor(labels), epochs=settings.epochs,
                   lr=3e-3, batch_size=128, seed=seed)
    model.eval()

    @torch.no_grad()
    def probs(imgs):
        X = _tensor(imgs)
        return torch.cat([torch.softmax(model(X[i:i + 1000]), 1)
                          for i in range(0, len(X), 1000)]).double().numpy()

    return probs


def _estimators(P_val, y_val):
    est = {"AC": AverageConfidence(), "DoC": DifferenceOfConfidences(),
           "ATC": AverageThresholdedConfidence(), "COT": COT(), "COTT": COTT()}
    for e in est.values():
        e.fit(P_val, y_val)
    return est


def _evaluate(name, kind, P, y, estimators) -> Target:
    pred = P.argmax(1)
    hist_pred = np.bincount(pred, minlength=P.shape[1]) / len(y)
    hist_true = np.bincount(y, minlength=P.shape[1]) / len(y)
    t = Target(name, kind, float((pred == y).mean()),
               float(0.5 * np.abs(hist_pred - hist_true).sum()))
    for k, e in estimators.items():
        t.estimates[k] = e.predict_accuracy(P)
    return t


def _split(n_train, n_val, seed):
    """Disjoint class-balanced training and validation indices into the shipped train split."""
    X, y = load_fashion_mnist("train", source="subset")
    rng = np.random.default_rng([seed, 1])
    tr, va = [], []
    for c in range(10):
        idx = rng.permutation(np.flatnonzero(y == c))
        tr.append(idx[:n_train // 10])
        va.append(idx[n_train // 10:n_train // 10 + n_val // 10])
    return X, y, np.concatenate(tr), np.concatenate(va)


def run_testbed(settings: ShiftSettings, seed: int) -> list[Target]:
    """Train both CNNs and evaluate every estimator on every shifted target of ``settings``.

    Cached per process: ``cot`` and ``cott`` with the same testbed settings share one build.
    The returned targets must not be modified.
    """
    return _build(_key(settings), seed)


@functools.lru_cache(maxsize=16)
def _build(key: tuple, seed: int) -> list[Target]:
    s = _Knobs(**dict(key))
    targets = _corruption_targets(s, seed) + _subpopulation_targets(s, seed)
    return targets


@dataclass(frozen=True)
class _Knobs:
    n_train: int
    n_val: int
    n_test: int
    epochs: int
    width: int
    corruptions: tuple
    severities: tuple
    novel_shares: tuple
    per_superclass: int


def _corruption_targets(s, seed) -> list[Target]:
    X, y, tr, va = _split(s.n_train, s.n_val, seed)
    probs = _train(X[tr], y[tr], 10, s, seed)
    est = _estimators(probs(X[va]), y[va])
    Xt, yt = load_fashion_mnist("test", n=s.n_test, seed=seed, source="subset")
    targets = [_evaluate("clean test", "corruption", probs(Xt), yt, est)]
    for name in s.corruptions:
        for sev in s.severities:
            Xc = corrupt(Xt, name, sev, seed=[seed, CORRUPTIONS.index(name), sev])
            targets.append(_evaluate(f"{name} {sev}", "corruption", probs(Xc), yt, est))
    return targets


def superclass_split(rng):
    """``(superclass of each class, seen subclasses, novel subclasses)``: two subclasses of
    each superclass are seen in training, the others are novel."""
    sup = np.zeros(10, dtype=np.int64)
    seen, novel = [], []
    for k, members in enumerate(SUPERCLASSES.values()):
        sup[list(members)] = k
        order = rng.permutation(members)
        seen.append(order[:2])
        novel.append(order[2:])
    return sup, seen, novel


def subpopulation_index(labels, seen, novel, share, per_superclass, rng):
    """Indices of a target set: ``per_superclass`` images of each superclass, a ``share`` of
    them from its novel subclasses and the rest from its seen ones (no repeats)."""
    idx = []
    for k in range(len(seen)):
        n_novel = int(round(share * per_superclass))
        idx.append(rng.choice(np.flatnonzero(np.isin(labels, novel[k])), n_novel,
                              replace=False))
        idx.append(rng.choice(np.flatnonzero(np.isin(labels, seen[k])),
                              per_superclass - n_novel, replace=False))
    return np.concatenate(idx)


def _subpopulation_targets(s, seed) -> list[Target]:
    rng = np.random.default_rng([seed, 2])
    sup, seen, novel = superclass_split(rng)
    seen_classes = np.concatenate(seen)
    X, y, tr, va = _split(s.n_train, s.n_val, seed + 1000)
    tr = tr[np.isin(y[tr], seen_classes)]
    va = va[np.isin(y[va], seen_classes)]
    probs = _train(X[tr], sup[y[tr]], len(SUPERCLASSES), s, seed + 1000)
    est = _estimators(probs(X[va]), sup[y[va]])
    Xt, yt = load_fashion_mnist("test", source="subset")
    targets = []
    for share in s.novel_shares:
        idx = subpopulation_index(yt, seen, novel, share, s.per_superclass, rng)
        targets.append(_evaluate(f"novel subclasses {share:g}", "subpopulation",
                                 probs(Xt[idx]), sup[yt[idx]], est))
    return targets


def shifted(targets, kind=None):
    """The shifted targets (all but the clean test set), of one kind if given."""
    return [t for t in targets if t.name != "clean test" and (kind is None or t.kind == kind)]


def abs_errors(targets, method):
    """Per-target absolute error of ``method``'s predicted accuracy (one item per target)."""
    return np.array([abs(t.estimates[method] - t.accuracy) for t in targets])


def over_estimates(targets, method):
    """Per-target predicted minus true accuracy (positive: the error is underestimated)."""
    return np.array([t.estimates[method] - t.accuracy for t in targets])


def top_pseudo_label_shift(targets, share=0.25):
    """The ``share`` of ``targets`` with the largest pseudo-label shift (at least one)."""
    k = max(1, int(math.ceil(share * len(targets))))
    return sorted(targets, key=lambda t: t.pseudo_label_shift)[-k:]


def mae_metrics(targets):
    """MAE of every method over all shifted targets and per kind, accuracy ranges, and the
    clean test accuracy."""
    out = {}
    for kind in (None, "corruption", "subpopulation"):
        sel = shifted(targets, kind)
        tag = kind or "all"
        for m in METHODS:
            out[f"mae_{tag}_{m}"] = float(abs_errors(sel, m).mean())
        out[f"n_targets_{tag}"] = len(sel)
        out[f"mean_accuracy_{tag}"] = float(np.mean([t.accuracy for t in sel]))
    clean = [t for t in targets if t.name == "clean test"]
    if clean:
        out["clean_test_accuracy"] = clean[0].accuracy
    return out


def cot_pot_agreement(seed: int = 0) -> float:
    """Largest gap between COT's error and POT's ``ot.emd2`` on the same transport problems
    (random probability vectors vs random label proportions), an external cross-check."""
    import ot

    from mintlab.ood import confidence_transport

    rng = np.random.default_rng(seed)
    worst = 0.0
    for n, K in ((50, 3), (200, 10), (500, 10)):
        P = rng.dirichlet(np.full(K, 0.3), size=n)
        b = rng.dirichlet(np.ones(K))
        ours = confidence_transport(P, b)[0]
        ref = ot.emd2(np.full(n, 1.0 / n), b, 1.0 - P)
        worst = max(worst, abs(ours - float(ref)))
    return worst


def figure(targets, methods, title):
    import matplotlib.pyplot as plt

    sel = shifted(targets)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for m in methods:
        axes[0].scatter([t.accuracy for t in sel], [t.estimates[m] for t in sel], s=14, label=m)
        axes[1].scatter([t.pseudo_label_shift for t in sel],
                        [t.estimates[m] - t.accuracy for t in sel], s=14, label=m)
    axes[0].plot([0, 1], [0, 1], "k--", lw=0.8)
    axes[0].set_xlabel("true accuracy")
    axes[0].set_ylabel("predicted accuracy")
    axes[0].legend(fontsize=8)
    axes[1].axhline(0, color="k", lw=0.8)
    axes[1].set_xlabel("pseudo-label shift (TV of predicted vs true labels)")
    axes[1].set_ylabel("predicted - true accuracy")
    fig.suptitle(title)
    fig.tight_layout()
    return fig
