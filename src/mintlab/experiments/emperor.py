"""``emperor``: sliced Gaussian-mixture descriptors vs other set descriptors.

Four families of distributions in R^4 with the *same* mean and covariance
(whitened): Gaussian, uniform on a cube, a two-component mixture, and a
heavy-tailed Laplace, each set randomly rotated. A logistic regression is
trained on each descriptor; accuracy is out-of-fold (4-fold), one item per
set, so comparisons are paired over sets and seeds.

Mean and covariance pooling cannot tell these families apart by
construction (that EMPEROR can is a unit test,
``tests/embed/test_emperor_claims.py``); their accuracies are reported as
metrics. The claims are judged against descriptors that can see past the
second moment:

1. ``richer_than_pooling``: EMPEROR classifies more sets correctly than
   the sliced Wasserstein embedding (same slices) and than FSPool-style
   sorted pooling (two comparisons, both must hold).
2. ``efficient``: EMPEROR costs at most ten times the sliced Wasserstein
   embedding (one sort per slice): CPU seconds per chunk of sets, paired by
   chunk, on a log scale with ``log(10)`` added to the baseline.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mintlab.embed import EMPEROR, PoolingEmbedding, SlicedWassersteinEmbedding

from ._core import Experiment, Result, Settings
from ._sets_common import one_thread
from .registry import register

CLAIMS = {
    "richer_than_pooling": "EMPEROR captures richer distributional information than common "
                           "pooling schemes.",
    "efficient": "Projecting features on multiple directions and fitting lightweight "
                 "univariate Gaussian mixtures to each projection gives a representation that "
                 "remains computationally efficient.",
}


@dataclass(frozen=True, kw_only=True)
class EmperorSettings(Settings):
    per_class: int  # sets per family (4 families)
    n_points: int  # points per set
    n_projections: int  # slices of EMPEROR and of the sliced Wasserstein embedding
    n_chunks: int  # chunks of sets timed separately for the cost comparison


QUICK = EmperorSettings(seeds=3, per_class=40, n_points=300, n_projections=32, n_chunks=8)
FULL = EmperorSettings(seeds=5, per_class=150, n_points=300, n_projections=32, n_chunks=20)
EXPECTED = "not reproduced at this scale"

D = 4
FAMILIES = ("gaussian", "uniform", "bimodal", "laplace")


def _whiten(X):
    X = X - X.mean(0)
    C = np.cov(X.T, bias=True)
    w, V = np.linalg.eigh(C)
    return X @ V @ np.diag(w ** -0.5) @ V.T


def _family(rng, label, n):
    if label == 0:
        X = rng.normal(size=(n, D))
    elif label == 1:
        X = rng.uniform(-1, 1, size=(n, D))
    elif label == 2:
        X = rng.normal(size=(n, D)) * 0.5
        X[:, 0] += rng.choice([-2.0, 2.0], n)
    else:
        X = rng.laplace(size=(n, D))
    q, r = np.linalg.qr(rng.normal(size=(D, D)))
    return _whiten(X) @ (q * np.sign(np.diag(r))).T


def make_sets(per_class: int, n_points: int, seed: int):
    """``(sets, y)``: ``per_class`` whitened, randomly rotated sets of each family."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(FAMILIES)), per_class)
    return np.stack([_family(rng, c, n_points) for c in y]), y


def _descriptors(settings, seed):
    L = settings.n_projections
    return {
        "emperor": EMPEROR(n_projections=L, n_components=3, seed=seed),
        "swe": SlicedWassersteinEmbedding(n_projections=L, n_quantiles=16, seed=seed),
        "sorted": PoolingEmbedding("sorted"),
        "mean": PoolingEmbedding("mean"),
        "covariance": PoolingEmbedding("covariance"),
    }


def run(settings: EmperorSettings = QUICK, seed: int = 0) -> Result:
    with one_thread():
        return _run(settings, seed)


def _run(settings: EmperorSettings, seed: int) -> Result:
    import matplotlib.pyplot as plt

    res = Result(seed=seed)
    sets, y = make_sets(settings.per_class, settings.n_points, seed)
    descriptors = _descriptors(settings, seed)
    chunks = np.array_split(np.arange(len(y)), settings.n_chunks)
    # EMPEROR and the sliced Wasserstein embedding describe the same chunks of sets one after
    # the other; each chunk's CPU time is one paired timing sample
    seconds = {"emperor": [], "swe": []}
    features = {name: [] for name in seconds}
    for name in seconds:
        descriptors[name].fit(sets)  # directions (and SWE's reference quantiles)
    for chunk in chunks:
        for name in seconds:
            t0 = time.process_time()
            features[name].append(descriptors[name].transform(sets[chunk]))
            seconds[name].append(time.process_time() - t0)
    features = {name: np.concatenate(f) for name, f in features.items()}
    for name in ("sorted", "mean", "covariance"):
        features[name] = descriptors[name].fit_transform(sets)
    predicted, correct, acc = {}, {}, {}
    cv = StratifiedKFold(4)
    for name, F in features.items():  # unsupervised descriptors: no fold leaks into another
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
        predicted[name] = cross_val_predict(clf, F, y, cv=cv)
        correct[name] = (predicted[name] == y).astype(float)
        acc[name] = float(correct[name].mean())
        res.metrics[f"accuracy_{name}"] = acc[name]
    wrong = correct["emperor"] == 0
    pair = np.isin(y, (0, 2)) & np.isin(predicted["emperor"], (0, 2))
    res.metrics["emperor_gaussian_bimodal_error_share"] = float(
        (wrong & pair).sum() / max(wrong.sum(), 1))
    t_emp = np.maximum(seconds["emperor"], 1e-6)
    t_swe = np.maximum(seconds["swe"], 1e-6)
    res.metrics["emperor_over_swe_time"] = float(t_emp.sum() / t_swe.sum())
    res.metrics["seconds_per_set_emperor"] = float(t_emp.sum() / len(y))
    res.metrics["seconds_per_set_swe"] = float(t_swe.sum() / len(y))

    for base in ("swe", "sorted"):
        label = {"swe": "the sliced Wasserstein embedding", "sorted": "FSPool-style sorted pooling"}
        res.compare(f"emperor_beats_{base}", correct["emperor"], correct[base], better="higher",
                    claim="richer_than_pooling",
                    description=f"out-of-fold correctness per set, EMPEROR vs {label[base]}; 4 "
                                "families with equal mean and covariance (mean and covariance "
                                "pooling: metrics accuracy_mean, accuracy_covariance; chance "
                                "0.25)",
                    known_gap=(None if base == "sorted" else
                               "EMPEROR is not more accurate than the sliced Wasserstein "
                               "embedding on the same slices: {ours:.3f} vs {baseline:.3f}, "
                               "difference interval [{low:.3f}, {high:.3f}] over {n} sets. "
                               "Most of its errors confuse the Gaussian and the two-component "
                               "family (metric emperor_gaussian_bimodal_error_share), whose "
                               "bimodality shows only on slices near its mixture axis; 16 "
                               "quantiles per slice separate these at least as well as a "
                               "3-component fit."))
    res.compare("emperor_within_10x_swe_cost", np.log(t_emp), np.log(t_swe) + math.log(10.0),
                better="lower", claim="efficient",
                description=f"log CPU seconds to describe each of {settings.n_chunks} chunks of "
                            "sets, EMPEROR vs the sliced Wasserstein embedding + log(10)",
                known_gap="EMPEROR costs more than ten times the sliced Wasserstein "
                          "embedding: log-time difference {diff:.2f} above the 10x line "
                          "(interval [{low:.2f}, {high:.2f}] over {n} chunks). EM iterates "
                          "until the mean log-likelihood of every slice changes by less than "
                          "1e-3 (tens of iterations), each several batched passes over all "
                          "slices, while the embedding is one sort per slice.")

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for c, name in enumerate(FAMILIES):
        axes[0].hist(sets[y == c][0] @ np.ones(D) / 2, bins=40, histtype="step", label=name,
                     density=True)
    axes[0].set_title("one slice of one set per family")
    axes[0].legend(fontsize=7)
    axes[1].bar(list(acc), list(acc.values()))
    axes[1].axhline(0.25, color="k", ls=":")
    axes[1].set_ylabel("out-of-fold accuracy")
    fig.tight_layout()
    res.figures["emperor"] = fig
    return res


EXPERIMENT = register(Experiment(
    "emperor", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="synthetic: four whitened, randomly rotated families of point sets in R^4",
    full_scale="frozen image / point-cloud / text network features (the paper's modalities) "
               "pooled by EMPEROR inside trained models, against GeM, covariance and attention "
               "pooling",
))
