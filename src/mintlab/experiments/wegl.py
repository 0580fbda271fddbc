"""``wegl``: Wasserstein embedding for graph learning, on MUTAG and on feature-coupled graphs.

Two graph-classification tasks (quick mode: MUTAG only, 3 folds, no GIN;
full mode: both tasks, 10 folds, with the GIN), each with stratified k-fold
cross-validation (folds reshuffled per seed; every method sees the same
folds; everything fitted on the training folds only, the WEGL reference and
scaling included):

* **MUTAG**, the TU benchmark of the paper's table (188 molecules, atom
  types as one-hot node features), read from the files the ``grakel``
  package ships (nothing is downloaded; without ``grakel`` the generated
  task below takes its place, see ``metrics["mutag_available"]``; the quick
  verdict assumes ``grakel`` is installed);
* **feature-coupled regular graphs** (:func:`mintlab.datasets.graphs.
  make_featured_graph_classes`): every graph is a random 4-regular graph, so
  structure says nothing and 1-WL cannot separate graphs; node features have
  the same marginal in every class, and classes differ only in whether
  neighbours' features are alike, unlike or independent. Graph kernels see
  the features only through discrete labels (the sign pattern of the two
  features).

Methods: WEGL (diffusion of node features over 3 layers, linear optimal
transport embedding against a k-means reference of training nodes) with a
random forest of 100 trees, one of the paper's classifiers (a linear SVM on
the same embedding is reported in the metrics as ``wegl_linear_svm``); the
graph kernels of ``grakel`` (WL subtree with 4 iterations and shortest path,
on node labels) with an SVM on the precomputed kernel (C from an inner
3-fold search over 0.01-10); without
``grakel``, networkx WL subtree hash features with a logistic regression
(same C search); and a GIN
(3 layers of width 32, sum readout of every layer, full-batch Adam at lr
0.01 for 200 epochs), the paper's GNN baseline. Its epochs come from a
sweep on MUTAG (5 folds, two seeds: out-of-fold 0.74, 0.77, 0.82, 0.84 at
50, 100, 200, 400 epochs); 200 is the cheaper of the two near-best
settings, which favours the GIN in the speed comparison.

Claims and how each is judged:

1. ``competitive_accuracy``: per graph, WEGL's out-of-fold correctness minus
   that of the best baseline of the seed (the baseline with the highest
   out-of-fold accuracy, chosen on the same folds, which favours it): the
   bootstrap interval of the mean (over seeds and graphs) must lie above
   -0.05 ("state-of-the-art" in the paper means within a few points of the
   best kernel or GNN on each benchmark). One check per task.
2. ``linear_not_quadratic``: on MUTAG (or the generated task without
   ``grakel``), CPU seconds of (a) the WEGL embedding of every graph, once
   (the reference fitted on all graphs: label-free, like the distance
   matrix it replaces) against exact Wasserstein distances between all
   pairs of graphs' node-embedding distributions (the quadratic computation
   WEGL replaces; timed on a random sample of pairs, scaled to all pairs),
   and (b) the whole WEGL pipeline over all folds (embedding refitted per
   fold plus random forest) against training and applying the GIN on the
   same folds. The embedding cost over all folds of the cross-validation
   (one reference fit per fold) is reported as ``*_cpu_seconds_wegl_embedding``.
   Log-times, one pair per seed, t interval, margin 0. The WL kernel, which
   is faster still, is reported in the metrics, not claimed against.

Agreement with POT: on the timed pairs, the Spearman correlation between
the embedding's Euclidean distances and POT's exact W2, and their median
ratio, are reported in the metrics (the embedding fitted on all graphs of
the task for this comparison only).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass

import numpy as np
import ot
import torch
from scipy.stats import spearmanr
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_extraction import FeatureHasher
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from mintlab.datasets import MissingAssetError
from mintlab.datasets.graphs import load_mutag, make_featured_graph_classes
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
    tasks: tuple[str, ...]  # "mutag" (needs grakel's files) and / or "featured" (generated)
    folds: int  # stratified cross-validation folds
    featured_per_class: int  # generated graphs per class (3 classes, 20-40 nodes)
    n_references: int = 32  # support of the LOT reference (k-means of training nodes)
    gin_epochs: int  # full-batch Adam epochs of the GIN; 0 leaves the GIN out
    n_timed_pairs: int  # graph pairs whose exact W2 is timed for the pairwise baseline


QUICK = WeglSettings(seeds=3, tasks=("mutag",), folds=3, featured_per_class=40, gin_epochs=0,
                     n_timed_pairs=200)
FULL = WeglSettings(seeds=3, tasks=("mutag", "featured"), folds=10, featured_per_class=80,
                    gin_epochs=200, n_timed_pairs=1000)
EXPECTED = "partly reproduced (1 of 2)"

N_LAYERS = 3
TOLERANCE = 0.05  # accuracy WEGL may trail the best baseline by and still be "competitive"
C_GRID = (0.01, 0.1, 1.0, 10.0)


def _grakel():
    try:
        import grakel
    except ImportError:
        return None
    return grakel


def _labels(g):
    """Discrete node labels: the atom type, or the sign pattern of continuous features."""
    out = {}
    for v, data in g.nodes(data=True):
        out[v] = data["label"] if "label" in data else int(
            sum(2**i for i, f in enumerate(np.asarray(data["x"])) if f > 0))
    return out


def _search(estimator, param):
    return GridSearchCV(estimator, {param: list(C_GRID)}, cv=3)


def _wegl_fold(graphs, y, tr, te, n_references, seed):
    """WEGL on one fold: predictions on ``te`` of the random forest and of the linear SVM,
    and CPU seconds of the embedding alone and of embedding plus forest."""
    t0 = time.process_time()
    emb = WEGL(n_layers=N_LAYERS, n_references=n_references, seed=seed)
    Z_tr = emb.fit_transform([graphs[i] for i in tr])
    Z_te = emb.transform([graphs[i] for i in te])
    t_embed = time.process_time() - t0
    forest = RandomForestClassifier(n_estimators=100, random_state=seed).fit(Z_tr, y[tr])
    pred = forest.predict(Z_te)
    t_pipeline = time.process_time() - t0
    scaler = StandardScaler().fit(Z_tr)
    svm = _search(SVC(kernel="linear"), "C").fit(scaler.transform(Z_tr), y[tr])
    return pred, svm.predict(scaler.transform(Z_te)), t_embed, t_pipeline


def _kernel_fold(grakel, kernel, graphs_gk, y, tr, te):
    K_tr = kernel.fit_transform([graphs_gk[i] for i in tr])
    K_te = kernel.transform([graphs_gk[i] for i in te])
    svm = _search(SVC(kernel="precomputed"), "C").fit(K_tr, y[tr])
    return svm.predict(K_te)


def _wl_hash_features(graphs, iterations=4):
    import warnings

    import networkx as nx

    bags = []
    with warnings.catch_warnings():  # a note about hash values changing across versions
        warnings.simplefilter("ignore", UserWarning)
        for g in graphs:
            nx.set_node_attributes(g, {v: str(c) for v, c in _labels(g).items()}, "wl")
            h = nx.weisfeiler_lehman_subgraph_hashes(g, iterations=iterations, node_attr="wl")
            bags.append(Counter(x for hashes in h.values() for x in hashes))
    return FeatureHasher(n_features=2**12, input_type="dict").transform(bags)


class _GIN(torch.nn.Module):
    def __init__(self, d_in, n_classes, width=32, layers=3):
        super().__init__()
        dims = [d_in] + [width] * layers
        self.mlps = torch.nn.ModuleList(
            torch.nn.Sequential(torch.nn.Linear(a, b), torch.nn.ReLU(), torch.nn.Linear(b, b),
                                torch.nn.ReLU()) for a, b in zip(dims[:-1], dims[1:], strict=True))
        self.head = torch.nn.Linear(sum(dims), n_classes)

    def forward(self, x, adj, pool):
        hs = [x]
        for mlp in self.mlps:
            hs.append(mlp(hs[-1] + torch.sparse.mm(adj, hs[-1])))
        return self.head(torch.sparse.mm(pool, torch.cat(hs, 1)))


def _batch(graphs):
    """Node features, sparse adjacency (block diagonal) and sparse sum-readout of graphs."""
    xs, rows, cols, owner, offset = [], [], [], [], 0
    for k, g in enumerate(graphs):
        nodes = list(g.nodes())
        pos = {v: i + offset for i, v in enumerate(nodes)}
        feats = [g.nodes[v].get("x") for v in nodes]
        if any(f is None for f in feats):
            feats = [[1.0, g.degree(v)] for v in nodes]
        xs.append(np.asarray(feats, dtype=np.float32))
        for u, v in g.edges():
            rows += [pos[u], pos[v]]
            cols += [pos[v], pos[u]]
        owner += [k] * len(nodes)
        offset += len(nodes)
    n = offset
    adj = torch.sparse_coo_tensor(torch.tensor([rows, cols]), torch.ones(len(rows)), (n, n),
                                  check_invariants=False)
    pool = torch.sparse_coo_tensor(torch.tensor([owner, list(range(n))]), torch.ones(n),
                                   (len(graphs), n), check_invariants=False)
    return torch.as_tensor(np.concatenate(xs)), adj.coalesce(), pool.coalesce()


def _gin_fold(graphs, y, tr, te, epochs, seed):
    g = torch.Generator().manual_seed(seed)
    x, adj, pool = _batch([graphs[i] for i in tr])
    model = _GIN(x.shape[1], int(y.max()) + 1)
    with torch.no_grad():  # seeded initialisation, no global generator
        for p in model.parameters():
            bound = 1.0 / math.sqrt(p.shape[-1] if p.ndim > 1 else p.shape[0])
            p.copy_((torch.rand(p.shape, generator=g) * 2 - 1) * bound)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    target = torch.as_tensor(y[tr])
    for _ in range(epochs):
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x, adj, pool), target).backward()
        opt.step()
    xt, adjt, poolt = _batch([graphs[i] for i in te])
    with torch.no_grad():
        return model(xt, adjt, poolt).argmax(1).numpy()


def _pairwise_seconds(graphs, n_pairs, rng):
    """CPU seconds for exact W2 between every pair of node-embedding distributions.

    Measured on ``n_pairs`` random pairs (POT's network simplex on the
    standardised diffused node features WEGL uses) and scaled to all pairs.
    Also returns the timed pairs ``(i, j)`` and their exact W2 distances.
    """
    nodes = [node_embeddings(g, N_LAYERS) for g in graphs]
    pooled = np.concatenate(nodes)
    mean, scale = pooled.mean(0), np.where(pooled.std(0) > 0, pooled.std(0), 1.0)
    nodes = [(z - mean) / scale for z in nodes]
    n = len(graphs)
    i = rng.integers(0, n, n_pairs)
    j = (i + rng.integers(1, n, n_pairs)) % n
    t0 = time.process_time()
    w2 = [ot.emd2([], [], ot.dist(nodes[a], nodes[b])) for a, b in zip(i, j, strict=True)]
    per_pair = (time.process_time() - t0) / n_pairs
    return per_pair * n * (n - 1) / 2, i, j, np.sqrt(np.maximum(w2, 0.0))


def _evaluate(graphs, y, settings, seed):
    """Out-of-fold predictions and CPU seconds (all folds) of every method on one task."""
    grakel = _grakel()
    cv = StratifiedKFold(settings.folds, shuffle=True, random_state=seed)
    methods = ["wegl"] + (["gin"] if settings.gin_epochs else [])
    if grakel is not None:
        from grakel.kernels import ShortestPath, WeisfeilerLehman

        def gk_graph(gr):
            edges = {v: list(gr.neighbors(v)) for v in gr.nodes()}
            return grakel.Graph(edges, node_labels=_labels(gr))

        gk = [gk_graph(gr) for gr in graphs]
        kernels = {"wl_kernel": lambda: WeisfeilerLehman(n_iter=4, normalize=True),
                   "sp_kernel": lambda: ShortestPath(normalize=True)}
        methods += list(kernels)
    else:
        wl = _wl_hash_features(graphs)
        methods.append("wl_features")
    # first calls pay one-off costs (lazy imports, allocator warm-up): keep them out of the timing
    few = np.concatenate([np.flatnonzero(y == c)[:3] for c in np.unique(y)])
    if settings.gin_epochs:
        _gin_fold(graphs, y, few, few, 1, 0)
    WEGL(n_layers=N_LAYERS, n_references=4, seed=0).fit_transform([graphs[i] for i in few])
    pred = {m: np.zeros(len(y), dtype=np.int64) for m in methods + ["wegl_linear_svm"]}
    sec = dict.fromkeys(methods + ["wegl_embedding"], 0.0)
    for fold, (tr, te) in enumerate(cv.split(np.zeros(len(y)), y)):
        pred["wegl"][te], pred["wegl_linear_svm"][te], t_embed, t_pipeline = _wegl_fold(
            graphs, y, tr, te, settings.n_references, seed)
        sec["wegl"] += t_pipeline
        sec["wegl_embedding"] += t_embed
        if settings.gin_epochs:
            t0 = time.process_time()
            pred["gin"][te] = _gin_fold(graphs, y, tr, te, settings.gin_epochs,
                                        1000 * seed + fold)
            sec["gin"] += time.process_time() - t0
        if grakel is not None:
            for name, make in kernels.items():
                t0 = time.process_time()
                pred[name][te] = _kernel_fold(grakel, make(), gk, y, tr, te)
                sec[name] += time.process_time() - t0
        else:
            t0 = time.process_time()
            clf = _search(LogisticRegression(max_iter=3000), "C").fit(wl[tr], y[tr])
            pred["wl_features"][te] = clf.predict(wl[te])
            sec["wl_features"] += time.process_time() - t0
    return {m: (p == y).astype(float) for m, p in pred.items()}, sec


def run(settings: WeglSettings = QUICK, seed: int = 0) -> Result:
    with one_thread():
        return _run(settings, seed)


def _run(settings: WeglSettings, seed: int) -> Result:
    import matplotlib.pyplot as plt

    res = Result(seed=seed)
    rng = np.random.default_rng(seed)
    tasks = {}
    res.metrics["mutag_available"] = 0.0
    if "mutag" in settings.tasks:
        try:
            tasks["mutag"] = load_mutag()
            res.metrics["mutag_available"] = 1.0
        except (MissingAssetError, FileNotFoundError):  # no grakel: the generated task stands in
            pass
    if "featured" in settings.tasks or not tasks:
        tasks["featured"] = make_featured_graph_classes(settings.featured_per_class, seed=seed)

    results = {}
    for task, (graphs, y) in tasks.items():
        correct, sec = _evaluate(graphs, y, settings, seed)
        results[task] = (correct, sec)
        for m in correct:
            res.metrics[f"{task}_accuracy_{m}"] = float(correct[m].mean())
        for m in sec:
            res.metrics[f"{task}_cpu_seconds_{m}"] = sec[m]
        baselines = [m for m in correct if not m.startswith("wegl")]
        best = max(baselines, key=lambda m: correct[m].mean())
        for m in baselines:
            res.metrics[f"{task}_best_baseline_is_{m}"] = float(m == best)
        res.check(f"{task}_wegl_competitive", correct["wegl"] - correct[best], -TOLERANCE, ">=",
                  claim="competitive_accuracy",
                  description=f"{task}: out-of-fold correctness per graph, WEGL minus the best "
                              f"baseline among {baselines} (chosen per seed on the same folds); "
                              f"the interval of the mean must lie above -{TOLERANCE}",
                  known_gap=KNOWN_GAPS.get(f"{task}_competitive"))

    timed = "mutag" if "mutag" in tasks else "featured"
    graphs, _ = tasks[timed]
    correct, sec = results[timed]
    t_pairs, i, j, w2 = _pairwise_seconds(graphs, settings.n_timed_pairs, rng)
    res.metrics[f"{timed}_cpu_seconds_pairwise_w2_scaled"] = t_pairs
    # the representation of every graph, computed once (label-free, like the pairwise matrix);
    # also the agreement with POT: the embedding's Euclidean distances against exact W2 (same
    # graphs, same standardisation)
    t0 = time.process_time()
    Z = WEGL(n_layers=N_LAYERS, n_references=settings.n_references,
             seed=seed).fit_transform(graphs)
    t_embed_all = time.process_time() - t0
    res.metrics[f"{timed}_cpu_seconds_wegl_embed_all_once"] = t_embed_all
    lot = np.linalg.norm(Z[i] - Z[j], axis=1)
    res.metrics[f"{timed}_spearman_lot_vs_pot_w2"] = float(spearmanr(lot, w2).statistic)
    res.metrics[f"{timed}_lot_over_pot_w2_median"] = float(np.median(lot / np.maximum(w2,
                                                                                      1e-12)))
    res.compare("wegl_faster_than_pairwise_w2", math.log(t_embed_all), math.log(t_pairs),
                better="lower", claim="linear_not_quadratic",
                description=f"{timed}: log CPU seconds to represent all {len(graphs)} graphs "
                            "once: the WEGL embedding (reference fitted on all of them, every "
                            "graph embedded) vs exact W2 between all pairs of node-embedding "
                            f"distributions ({settings.n_timed_pairs} pairs timed, scaled to "
                            "all pairs); one pair per seed, t interval")
    if settings.gin_epochs:
        res.compare("wegl_faster_than_gin", math.log(sec["wegl"]), math.log(sec["gin"]),
                    better="lower", claim="linear_not_quadratic",
                    description=f"{timed}: log CPU seconds over all folds, the WEGL pipeline vs "
                                f"training and applying the GIN ({settings.gin_epochs} epochs); "
                                "one pair per seed, t interval")

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for k, (task, (correct, _)) in enumerate(results.items()):
        names = list(correct)
        axes[0].bar(np.arange(len(names)) + 0.4 * k - 0.2, [correct[m].mean() for m in names],
                    0.4, label=task)
        axes[0].set_xticks(np.arange(len(names)), names, fontsize=7)
    axes[0].set_ylim(0, 1)
    axes[0].set_ylabel(f"{settings.folds}-fold accuracy")
    axes[0].legend(fontsize=7)
    names = [m for m in results[timed][1] if m != "wegl_embedding"] + ["pairwise W2"]
    axes[1].bar(names, [results[timed][1][m] for m in names[:-1]] + [t_pairs])
    axes[1].set_ylabel(f"CPU seconds, {timed}, all folds")
    axes[1].set_yscale("log")
    axes[1].tick_params(axis="x", labelsize=7)
    fig.tight_layout()
    res.figures["wegl"] = fig
    return res


KNOWN_GAPS = {
    "mutag_competitive": (
        "WEGL with a random forest trails the best baseline (metrics mutag_best_baseline_is_*: "
        "grakel's WL subtree kernel) by {measured:+.3f} per graph, interval [{low:.3f}, "
        "{high:.3f}] over {n} graph-seed items, which reaches below {threshold:.2f}: the two are "
        "close but MUTAG's 188 molecules cannot pin the difference down to within 0.05. The "
        "classifier on top matters as much as the embedding: a linear SVM on the same "
        "embedding is several points lower (metrics mutag_accuracy_wegl_linear_svm). Our node "
        "embeddings diffuse atom types only; the paper's also use bond (edge) labels, which we "
        "drop."),
}

EXPERIMENT = register(Experiment(
    "wegl", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="real: MUTAG (188 molecules, the TU benchmark files shipped by the grakel package); "
         "synthetic: random 4-regular graphs whose classes differ only in how node features "
         "correlate across edges",
    full_scale="the paper's TU benchmarks (MUTAG, PTC-MR, PROTEINS, D&D, IMDB) and OGB "
               "molhiv with 10-fold cross-validation against GNNs and graph kernels; here "
               "MUTAG with 10 folds (full) and a generated task, against grakel's WL and "
               "shortest-path kernels and a small GIN",
))
