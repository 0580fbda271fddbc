"""``wegl``: Wasserstein embedding for graph learning, reproduced at small scale.

Graph classification on four random-graph families with the same mean
degree (Erdős–Rényi, Barabási–Albert, Watts–Strogatz, two communities):
WEGL (diffusion + linear OT embedding, no training; the LOT reference is
fitted on the training folds only) followed by a logistic regression,
against the Weisfeiler–Lehman subtree features of networkx (bag of WL
hashes) with the same classifier. Accuracy is out-of-fold over 5 folds, one
item per graph, paired over graphs and seeds.

Claims and how each is judged:

1. ``competitive_accuracy``: WEGL's out-of-fold correctness is within 0.05
   of the WL subtree features' (the per-graph difference, whose whole
   interval must lie above -0.05; the paper reports WEGL within a few points
   of the best kernel or GNN on each benchmark, "state-of-the-art" rather
   than best everywhere).
2. ``linear_not_quadratic``: embedding every graph (fit and transform)
   takes less CPU time than the pairwise Wasserstein distances between the
   graphs' node-embedding distributions that WEGL replaces (the distance
   matrix behind Wasserstein graph kernels), on the same diffused features.
   The pairwise time is measured on a random sample of pairs and scaled to
   all ``n (n - 1) / 2`` pairs; log-times, one pair per seed, t interval.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass

import numpy as np
import ot
from sklearn.feature_extraction import FeatureHasher
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mintlab.datasets import make_graph_classes
from mintlab.embed import WEGL
from mintlab.embed.graphs import node_embeddings

from ._core import Experiment, Result, Settings
from ._sets_common import one_thread
from .registry import register

CLAIMS = {
    "competitive_accuracy": "Embedding entire graphs through linear optimal transport of their "
                            "node embedding distributions (WEGL) gives a vector representation "
                            "on which classifiers reach state-of-the-art graph classification "
                            "performance.",
    "linear_not_quadratic": "WEGL avoids pairwise calculation of distances between graphs, "
                            "reducing the computational complexity from quadratic to linear in "
                            "the number of graphs, for superior computational efficiency.",
}


@dataclass(frozen=True, kw_only=True)
class WeglSettings(Settings):
    per_class: int  # graphs per family (4 families, 20-40 nodes each)
    n_references: int = 32  # support of the LOT reference (k-means of training nodes)
    n_timed_pairs: int  # graph pairs whose exact W2 is timed for the pairwise baseline


QUICK = WeglSettings(seeds=3, per_class=40, n_timed_pairs=400)
FULL = WeglSettings(seeds=5, per_class=150, n_timed_pairs=2000)
EXPECTED = "partly reproduced (1 of 2)"

N_LAYERS = 3
TOLERANCE = 0.05  # accuracy WEGL may trail the baseline by and still be "competitive"


def _wl_features(graphs, iterations=3):
    import warnings

    import networkx as nx

    bags = []
    with warnings.catch_warnings():  # a note about hash values changing across versions
        warnings.simplefilter("ignore", UserWarning)
        for g in graphs:
            h = nx.weisfeiler_lehman_subgraph_hashes(g, iterations=iterations)
            bags.append(Counter(x for hashes in h.values() for x in hashes))
    return FeatureHasher(n_features=2**12, input_type="dict").transform(bags)


def _classifier():
    return [StandardScaler(with_mean=False), LogisticRegression(max_iter=5000)]


def _pairwise_seconds(graphs, n_pairs, rng):
    """CPU seconds for exact W2 between every pair of node-embedding distributions.

    Measured on ``n_pairs`` random pairs (POT's network simplex on the
    standardised diffused node features WEGL uses) and scaled to all pairs.
    """
    nodes = [node_embeddings(g, N_LAYERS) for g in graphs]
    pooled = np.concatenate(nodes)
    mean, scale = pooled.mean(0), np.where(pooled.std(0) > 0, pooled.std(0), 1.0)
    nodes = [(z - mean) / scale for z in nodes]
    n = len(graphs)
    i = rng.integers(0, n, n_pairs)
    j = (i + rng.integers(1, n, n_pairs)) % n
    t0 = time.process_time()
    for a, b in zip(i, j, strict=True):
        ot.emd2([], [], ot.dist(nodes[a], nodes[b]))
    per_pair = (time.process_time() - t0) / n_pairs
    return per_pair * n * (n - 1) / 2


def run(settings: WeglSettings = QUICK, seed: int = 0) -> Result:
    with one_thread():
        return _run(settings, seed)


def _run(settings: WeglSettings, seed: int) -> Result:
    import matplotlib.pyplot as plt

    res = Result(seed=seed)
    rng = np.random.default_rng(seed)
    graphs, y = make_graph_classes(settings.per_class, seed=seed)
    cv = StratifiedKFold(5, shuffle=True, random_state=seed)

    wegl = make_pipeline(WEGL(n_layers=N_LAYERS, n_references=settings.n_references, seed=seed),
                         *_classifier())
    correct_wegl = (cross_val_predict(wegl, graphs, y, cv=cv) == y).astype(float)
    correct_wl = (cross_val_predict(make_pipeline(*_classifier()), _wl_features(graphs), y,
                                    cv=cv) == y).astype(float)

    t0 = time.process_time()
    WEGL(n_layers=N_LAYERS, n_references=settings.n_references, seed=seed).fit_transform(graphs)
    t_wegl = time.process_time() - t0
    t0 = time.process_time()
    _wl_features(graphs)
    t_wl = time.process_time() - t0
    t_pairs = _pairwise_seconds(graphs, settings.n_timed_pairs, rng)
    acc_wegl, acc_wl = float(correct_wegl.mean()), float(correct_wl.mean())
    res.metrics.update({"accuracy_wegl": acc_wegl, "accuracy_wl": acc_wl,
                        "seconds_wegl_embedding": t_wegl, "seconds_wl_features": t_wl,
                        "seconds_pairwise_w2_scaled": t_pairs, "n_graphs": len(graphs)})

    res.check("wegl_competitive_with_wl", correct_wegl - correct_wl, -TOLERANCE, ">=",
              claim="competitive_accuracy",
              description="out-of-fold correctness per graph, WEGL minus WL subtree features "
                          f"(same logistic regression); the interval of the mean must lie above "
                          f"-{TOLERANCE}",
              known_gap="Accuracy difference WEGL minus WL {measured:+.3f}, interval "
                        "[{low:.3f}, {high:.3f}] over {n} graphs, which reaches below "
                        "{threshold:.2f}: with {per} graphs per family and 5-fold "
                        "cross-validation, the two feature sets' accuracies are not pinned "
                        "down to within {tol} of each other.".replace(
                            "{tol}", str(TOLERANCE)).replace("{per}", str(settings.per_class)))
    res.compare("wegl_faster_than_pairwise_w2", math.log(t_wegl), math.log(t_pairs),
                better="lower", claim="linear_not_quadratic",
                description=f"log CPU seconds: WEGL embedding of all {len(graphs)} graphs vs "
                            "exact W2 between all pairs of their node-embedding distributions "
                            f"({settings.n_timed_pairs} pairs timed, scaled to all pairs); one "
                            "pair per seed, t interval")

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    axes[0].bar(["WEGL", "WL subtree"], [acc_wegl, acc_wl])
    axes[0].set_ylim(0, 1)
    axes[0].set_ylabel("5-fold accuracy")
    axes[1].bar(["WEGL", "WL subtree", "pairwise W2"], [t_wegl, t_wl, t_pairs])
    axes[1].set_ylabel("CPU seconds for all graphs")
    axes[1].set_yscale("log")
    fig.tight_layout()
    res.figures["wegl"] = fig
    return res


EXPERIMENT = register(Experiment(
    "wegl", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="synthetic: four random-graph families with equal mean degree (networkx generators)",
    full_scale="the TU and OGB graph-property benchmarks (needs downloads) against GNNs and "
               "graph kernels, with thousands of graphs per dataset",
))
