"""The shared testbed of the ``cot`` and ``cott`` experiments: a digits classifier under shift.

An MLP is trained on 8x8 digits; its probabilities on a held-out source
split calibrate every estimator. Target sets are the test split under
covariate shifts of growing severity (pixel noise, rotation, blur, contrast
loss), which make the model's predicted label distribution drift away from
the true one (pseudo-label shift), and under true label-proportion shift
(class-resampled test sets).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from mintlab.compress import fit_classifier
from mintlab.datasets import load_digits_split
from mintlab.ood import (
    COT,
    COTT,
    AverageConfidence,
    AverageThresholdedConfidence,
    DifferenceOfConfidences,
)

from ._compress_common import mlp
from ._core import Settings

METHODS = ("AC", "DoC", "ATC", "COT", "COTT")


@dataclass
class Target:
    name: str
    kind: str  # "covariate" or "label"
    accuracy: float
    pseudo_label_shift: float  # TV(predicted label histogram, true label histogram)
    estimates: dict = field(default_factory=dict)


def _rotate(X, angle):
    from scipy.ndimage import rotate

    imgs = X.reshape(-1, 8, 8)
    out = np.stack([rotate(im, angle, reshape=False, order=1, mode="constant") for im in imgs])
    return np.clip(out.reshape(-1, 64), 0, 1)


def _blur(X, sigma):
    from scipy.ndimage import gaussian_filter

    return np.stack([gaussian_filter(im, sigma) for im in X.reshape(-1, 8, 8)]).reshape(-1, 64)


@dataclass(frozen=True, kw_only=True)
class ShiftSettings(Settings):
    """The testbed's knobs shared by ``cot`` and ``cott`` (both define QUICK and FULL from it)."""

    epochs: int = 40  # training epochs of the digits MLP
    noise: tuple[float, ...]  # std of the added pixel noise, one target per value
    angles: tuple[float, ...]  # rotation angles in degrees, one target per value
    blurs: tuple[float, ...]  # Gaussian blur sigmas in pixels, one target per value
    contrast: tuple[float, ...]  # contrast factors (pixels scaled towards 0), one target each
    n_label_shifts: int  # class-resampled targets (Dirichlet(0.5) proportions, 400 samples)


def run_testbed(settings: ShiftSettings, seed: int) -> list[Target]:
    """Train the digits MLP and evaluate every estimator on every shifted target of ``settings``."""
    rng = np.random.default_rng(seed)
    d = load_digits_split(seed=seed, val_fraction=0.2, test_fraction=0.35)
    model = mlp([64, 64, 10], seed)
    fit_classifier(model, torch.tensor(d["X_train"], dtype=torch.float32),
                   torch.tensor(d["y_train"]), epochs=settings.epochs, lr=1e-2, seed=seed)
    model.eval()

    def probs(X):
        with torch.no_grad():
            return torch.softmax(model(torch.tensor(X, dtype=torch.float32)), 1).numpy()

    estimators = {"AC": AverageConfidence(), "DoC": DifferenceOfConfidences(),
                  "ATC": AverageThresholdedConfidence(), "COT": COT(), "COTT": COTT()}
    P_val = probs(d["X_val"])
    for est in estimators.values():
        est.fit(P_val, d["y_val"])

    Xt, yt = d["X_test"], d["y_test"]
    shifts = []
    for s in settings.noise:
        shifts.append((f"noise {s}", np.clip(Xt + rng.normal(scale=s, size=Xt.shape), 0, 1), yt))
    for a in settings.angles:
        shifts.append((f"rotate {a}", _rotate(Xt, a), yt))
    for s in settings.blurs:
        shifts.append((f"blur {s}", _blur(Xt, s), yt))
    for c in settings.contrast:
        shifts.append((f"contrast {c}", Xt * c, yt))
    targets = []
    for name, X, y in shifts:
        targets.append(_evaluate(name, "covariate", probs(X), y, estimators))
    for r in range(settings.n_label_shifts):
        p = rng.dirichlet(np.full(10, 0.5))
        idx = np.concatenate([rng.choice(np.flatnonzero(yt == c), int(round(p[c] * 400)))
                              for c in range(10) if round(p[c] * 400) > 0])
        X = Xt[idx] if r % 2 == 0 else np.clip(Xt[idx] + rng.normal(scale=0.3, size=(len(idx),
                                                                                  64)), 0, 1)
        t = _evaluate(f"label shift {r}", "label", probs(X), yt[idx], estimators)
        true_pi = np.bincount(yt[idx], minlength=10) / len(idx)
        t.estimates["COT (known target labels)"] = estimators["COT"].predict_accuracy(
            probs(X), label_proportions=true_pi)
        t.estimates["COTT (known target labels)"] = estimators["COTT"].predict_accuracy(
            probs(X), label_proportions=true_pi)
        targets.append(t)
    return targets


def _evaluate(name, kind, P, y, estimators) -> Target:
    pred = P.argmax(1)
    hist_pred = np.bincount(pred, minlength=P.shape[1]) / len(y)
    hist_true = np.bincount(y, minlength=P.shape[1]) / len(y)
    t = Target(name, kind, float((pred == y).mean()),
               float(0.5 * np.abs(hist_pred - hist_true).sum()))
    for k, est in estimators.items():
        t.estimates[k] = est.predict_accuracy(P)
    return t


def covariate(targets):
    """The covariate-shift targets, in the order they were made."""
    return [t for t in targets if t.kind == "covariate"]


def abs_errors(targets, method):
    """Per-target absolute error of ``method``'s predicted accuracy (one item per target)."""
    return np.array([abs(t.estimates[method] - t.accuracy) for t in targets])


def over_estimates(targets, method):
    """Per-target predicted minus true accuracy (positive: the error is underestimated)."""
    return np.array([t.estimates[method] - t.accuracy for t in targets])


def mae(targets, method, kind=None):
    sel = [t for t in targets if kind is None or t.kind == kind]
    return float(np.mean([abs(t.estimates[method] - t.accuracy) for t in sel]))


def mae_metrics(targets, known_labels_method):
    """MAE of every method on the covariate and the label shifts, and of
    ``known_labels_method`` given the targets' true label proportions."""
    out = {}
    for m in METHODS:
        out[f"mae_covariate_{m}"] = mae(targets, m, "covariate")
        out[f"mae_label_shift_{m}"] = mae(targets, m, "label")
    out[f"mae_label_shift_{known_labels_method}_known_target_labels"] = mae(
        targets, f"{known_labels_method} (known target labels)", "label")
    return out


def figure(targets, methods, title):
    import matplotlib.pyplot as plt

    cov = [t for t in targets if t.kind == "covariate"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for m in methods:
        axes[0].scatter([t.accuracy for t in cov], [t.estimates[m] for t in cov], s=18, label=m)
        axes[1].scatter([t.pseudo_label_shift for t in cov],
                        [t.estimates[m] - t.accuracy for t in cov], s=18, label=m)
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
