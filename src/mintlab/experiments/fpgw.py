"""``fpgw``: fused partial Gromov-Wasserstein for matching graphs with extra nodes.

Each trial: a random graph (two communities, 20 nodes) with 2D node
features; its copy with the nodes permuted, features perturbed, 10% of
edges rewired, and 40% extra nodes (random features, attached at random).
Structure: shortest-path distances; features: squared Euclidean distances.
Every node weighs 1/20. A source node counts as matched when its largest
plan entry is its true copy. FPGW (ours; Frank-Wolfe and Sinkhorn solvers)
against POT's fused GW on the same costs with the masses normalised (it has
to transport the extra nodes too); POT's mass-constrained partial fused GW
told the true mass is reported alongside. alpha = 0.5; the penalty follows
the scale rule of :func:`._gromov_common.penalty_rule` on the source's
structure distances.

Classification: graphs of four networkx families (Erdos-Renyi,
Barabasi-Albert, Watts-Strogatz, two communities; 16-24 nodes) with node
features (degree / 4 and twice the local clustering, plus noise) and
shortest-path structure; the database holds clean graphs, the queries other
graphs with 30% extra nodes attached at random. Every node weighs 1/20 (a
graph's mass is its size; FGW normalises), and one penalty serves all pairs
(half the median fused cost of a node pair: see ``_classify``).
Each query takes the family of the database graph at the smallest FPGW
(ours, FW), FGW (POT) or POT's partial fused GW told the clean graph's mass.

Claims and how each is judged (samples pooled over trials and seeds):

1. ``graph_matching``: FPGW (Frank-Wolfe) matches more source nodes to their
   true copy than FGW (per-node correctness, paired bootstrap, margin 0),
   sends at most 10% of its transported mass to the extra nodes (per trial,
   interval of the mean), and matches at most delta = 0.1 fewer nodes than
   POT's ``partial_fused_gromov_wasserstein`` told the true mass;
2. ``solvers``: the Sinkhorn solver matches at most delta = 0.1 fewer nodes
   than Frank-Wolfe (per node), and its FPGW objective is at most 10% above
   Frank-Wolfe's (per trial; the objective gap is in the metrics); as an
   independent oracle, POT's partial fused GW at the mass of our FW plan,
   started from it, lowers the fused objective by at most 1e-6 (relative,
   every seed: a stationary point of FPGW is one at its own mass);
3. ``graph_classification``: 1-NN family retrieval of graphs with extra nodes
   is more accurate with FPGW than with FGW (per query, margin 0) and at most
   delta = 0.1 less accurate than with the mass-told partial FGW.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import ot

from mintlab.transport import fused_partial_gromov_wasserstein

from ._core import Experiment, Result, Settings
from ._gromov_common import penalty_rule
from .registry import register

CLAIMS = {
    "graph_matching": "We evaluate the FPGW distance through graph matching experiments, "
                      "demonstrating its robust performance.",
    "solvers": "Numerically, we introduce Frank-Wolfe solvers and Sinkhorn solvers for the "
               "proposed FPGW framework.",
    "graph_classification": "We evaluate the FPGW distance through graph classification "
                            "experiments, demonstrating its robust performance.",
}


@dataclass(frozen=True, kw_only=True)
class FpgwSettings(Settings):
    trials: int  # graph pairs per seed (matching)
    db_per_class: int  # clean database graphs per family (classification)
    queries_per_class: int  # graphs with extra nodes per family to classify


QUICK = FpgwSettings(seeds=3, trials=6, db_per_class=3, queries_per_class=3)
FULL = FpgwSettings(seeds=5, trials=30, db_per_class=5, queries_per_class=8)
EXPECTED = "not reproduced at this scale"

N = 20
EXTRA = 8
ALPHA = 0.5
#: entropic regularisation of the Sinkhorn solver (relative to the linearised cost's spread)
EPSILON = 0.02
#: most of FPGW's transported mass that may reach extra nodes
MAX_EXTRA_MASS = 0.1
#: matching accuracy the Sinkhorn solver may lose against Frank-Wolfe: two nodes in twenty
DELTA = 0.1
#: extra nodes added to a query graph in the classification task, as a fraction of its nodes
EXTRA_FRACTION = 0.3
#: relative excess of the Sinkhorn solver's objective over Frank-Wolfe's that still agrees
OBJECTIVE_TOL = 0.1


def _pair(rng):
    import networkx as nx

    G = nx.stochastic_block_model([N // 2, N - N // 2], [[0.4, 0.05], [0.05, 0.4]],
                                  seed=int(rng.integers(2**31)))
    while not nx.is_connected(G):
        G = nx.stochastic_block_model([N // 2, N - N // 2], [[0.4, 0.05], [0.05, 0.4]],
                                      seed=int(rng.integers(2**31)))
    f = rng.normal(size=(N, 2)) + np.repeat([[1.5, 0.0], [-1.5, 0.0]], [N // 2, N - N // 2], 0)
    H = G.copy()
    edges = list(H.edges())
    for k in rng.choice(len(edges), size=max(1, len(edges) // 10), replace=False):
        u, v = edges[k]
        H.remove_edge(u, v)
        a, b = rng.choice(N, 2, replace=False)
        H.add_edge(int(a), int(b))
    for e in range(EXTRA):
        node = N + e
        for t in rng.choice(N + e, size=2, replace=False):
            H.add_edge(node, int(t))
    g = np.r_[f + 0.2 * rng.normal(size=f.shape), rng.normal(scale=2.5, size=(EXTRA, 2))]
    perm = rng.permutation(N + EXTRA)
    truth = np.argsort(perm)[:N]  # position of source node i in the permuted target
    n2 = N + EXTRA
    C1 = _spd(G, N)
    C2 = _spd(H, n2)[np.ix_(perm, perm)]
    M = ot.dist(f, g[perm])
    return M, C1, C2, truth, perm


def _spd(G, n):
    import networkx as nx

    D = np.full((n, n), float(n))
    for u, row in nx.all_pairs_shortest_path_length(G):
        for v, d in row.items():
            D[u, v] = d
    return D / max(D.max(), 1.0)


def _fused(M, C1, C2, G):
    """``(1 - ALPHA) <M, G> + ALPHA sum (C1_ik - C2_jl)^2 G_ij G_kl``, written out here."""
    r, c = G.sum(1), G.sum(0)
    tens = (C1 * C1 @ r)[:, None] + (C2 * C2 @ c)[None, :] - 2 * C1 @ G @ C2.T
    return float((1 - ALPHA) * (M * G).sum() + ALPHA * (tens * G).sum())


def _featured(G, rng):
    """Shortest-path structure and node features (degree / 4, local clustering) plus noise."""
    import networkx as nx

    n = G.number_of_nodes()
    deg = np.array([d for _, d in G.degree()], dtype=float) / 4.0
    clus = np.array([nx.clustering(G, v) for v in G.nodes()])
    F = np.c_[deg, 2.0 * clus] + 0.05 * rng.normal(size=(n, 2))
    return _spd(G, n), F


def _with_extra(G, rng):
    """``G`` plus ``EXTRA_FRACTION`` of new nodes, each attached to two random nodes."""
    H = G.copy()
    n = G.number_of_nodes()
    for e in range(max(1, int(round(EXTRA_FRACTION * n)))):
        for t in rng.choice(n + e, size=2, replace=False):
            H.add_edge(n + e, int(t))
    return H


def _classify(settings, rng):
    """1-NN family of query graphs with extra nodes against clean graphs: FPGW, FGW, MPFGW."""
    from mintlab.datasets import make_graph_classes

    per_db, per_q = settings.db_per_class, settings.queries_per_class
    graphs, labels = make_graph_classes(per_db + per_q, n_nodes=(16, 24),
                                        seed=int(rng.integers(2**31)))
    db, db_y, qs, q_y = [], [], [], []
    for c in range(len(set(labels.tolist()))):
        idx = np.nonzero(labels == c)[0]
        for i in idx[:per_db]:
            db.append(_featured(graphs[i], rng))
            db_y.append(c)
        for i in idx[per_db:]:
            qs.append(_featured(_with_extra(graphs[i], rng), rng))
            q_y.append(c)
    db_y, q_y = np.asarray(db_y), np.asarray(q_y)
    D = {k: np.zeros((len(qs), len(db))) for k in ("fpgw", "fgw", "mpfgw")}
    # one penalty for every pair, so that distances compare, weighed against the fused cost
    # per pair: 2 lam = (1 - alpha) median feature cost + alpha (median distance / 2)^2
    # (structure alone: disconnected graphs shrink the normalised distances, the penalty
    # falls below most feature costs and FPGW transports almost nothing)
    (Ca, Fa), (_, Fb) = db[0], db[1]
    lam = 0.5 * ((1 - ALPHA) * float(np.median(ot.dist(Fa, Fb)))
                 + ALPHA * (0.5 * float(np.median(Ca[Ca > 0]))) ** 2)
    for i, (C2, F2) in enumerate(qs):
        for j, (C1, F1) in enumerate(db):
            # every node weighs 1 / 20: a graph's mass is its size
            p, q = np.full(len(C1), 1.0 / N), np.full(len(C2), 1.0 / N)
            M = ot.dist(F1, F2)
            D["fpgw"][i, j] = float(fused_partial_gromov_wasserstein(
                M, C1, C2, p, q, alpha=ALPHA, penalty=lam, n_masses=3).cost)
            D["fgw"][i, j] = float(ot.gromov.fused_gromov_wasserstein2(
                M, C1, C2, p / p.sum(), q / q.sum(), alpha=ALPHA))
            D["mpfgw"][i, j] = float(ot.gromov.partial_fused_gromov_wasserstein2(
                M, C1, C2, p, q, m=min(p.sum(), q.sum()), alpha=ALPHA))
    return {k: (db_y[v.argmin(1)] == q_y).astype(float) for k, v in D.items()}


def run(settings: FpgwSettings = QUICK, seed: int = 0) -> Result:
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    res = Result(seed=seed)
    names = ("fpgw_fw", "fpgw_sinkhorn", "fgw", "mpfgw_mass_told")
    correct_lists: dict[str, list[np.ndarray]] = {k: [] for k in names}
    extra_mass, cost_fw_list, cost_sk_list, mass_fw, mass_sk, pot_gain_list = ([], [], [], [], [],
                                                                               [])
    p, q = np.full(N, 1.0 / N), np.full(N + EXTRA, 1.0 / N)
    for _ in range(settings.trials):
        M, C1, C2, truth, perm = _pair(rng)
        lam = penalty_rule(C1)
        fw = fused_partial_gromov_wasserstein(M, C1, C2, p, q, alpha=ALPHA, penalty=lam)
        sk = fused_partial_gromov_wasserstein(M, C1, C2, p, q, alpha=ALPHA, penalty=lam,
                                              solver="sinkhorn", epsilon=EPSILON)
        G = ot.gromov.fused_gromov_wasserstein(M, C1, C2, p, q / q.sum(), alpha=ALPHA)
        Gm = ot.gromov.partial_fused_gromov_wasserstein(M, C1, C2, p, q, m=p.sum(),
                                                        alpha=ALPHA, nb_dummies=10)
        # the oracle: POT's partial FGW at our plan's mass, started from our plan
        plan = np.asarray(fw.plan)
        mass = min(float(plan.sum()), float(p.sum()))
        Gp = ot.gromov.partial_fused_gromov_wasserstein(M, C1, C2, p, q, m=mass, alpha=ALPHA,
                                                        G0=plan, warn=False)
        f_ours = _fused(M, C1, C2, plan)
        pot_gain_list.append((f_ours - _fused(M, C1, C2, Gp)) / max(f_ours, 1e-12))
        for k, plan in zip(names, (fw.plan, sk.plan, G, Gm), strict=True):
            correct_lists[k].append(np.asarray(plan).argmax(1) == truth)
        extra = np.isin(np.arange(N + EXTRA), truth, invert=True)
        extra_mass.append(float(fw.plan[:, extra].sum() / max(float(fw.transported), 1e-12)))
        cost_fw_list.append(float(fw.cost))
        cost_sk_list.append(float(sk.cost))
        mass_fw.append(float(fw.transported))
        mass_sk.append(float(sk.transported))
    correct = {k: np.concatenate(v).astype(float) for k, v in correct_lists.items()}
    cost_fw, cost_sk = np.asarray(cost_fw_list), np.asarray(cost_sk_list)
    acc = {k: float(v.mean()) for k, v in correct.items()}
    for k, v in acc.items():
        res.metrics[f"matching_accuracy_{k}"] = v
    res.metrics["extra_node_mass_fraction_fpgw"] = float(np.mean(extra_mass))
    res.metrics["sinkhorn_vs_fw_relative_objective_gap"] = float(np.median(
        (cost_sk - cost_fw) / np.maximum(np.abs(cost_fw), 1e-12)))
    res.metrics["transported_mass_fw"] = float(np.mean(mass_fw))
    res.metrics["transported_mass_sinkhorn"] = float(np.mean(mass_sk))

    res.compare("fpgw_matches_better_than_fgw", correct["fpgw_fw"], correct["fgw"],
                claim="graph_matching", better="higher",
                description=f"per source node, matched to its true copy (1/0): FPGW vs FGW, "
                            f"{settings.trials} graph pairs with 40% extra nodes; margin 0")
    res.check("fpgw_leaves_extra_nodes", np.asarray(extra_mass), MAX_EXTRA_MASS, "<=",
              claim="graph_matching",
              description="fraction of FPGW's transported mass that reaches extra nodes, one "
                          "value per graph pair; interval of the mean")
    res.compare("sinkhorn_matches_like_frank_wolfe", correct["fpgw_sinkhorn"],
                correct["fpgw_fw"] - DELTA, claim="solvers", better="higher",
                description=f"per source node matched: Sinkhorn solver vs Frank-Wolfe minus "
                            f"delta = {DELTA} (two nodes in twenty)")
    res.compare("sinkhorn_objective_close_to_frank_wolfe", cost_sk,
                (1.0 + OBJECTIVE_TOL) * cost_fw, claim="solvers", better="lower",
                description=f"FPGW objective per graph pair: Sinkhorn solver vs "
                            f"{1 + OBJECTIVE_TOL:g} x Frank-Wolfe's",
                known_gap="The Sinkhorn solver's FPGW objective ({ours:.4f}) is not within "
                          f"{OBJECTIVE_TOL:.0%} of Frank-Wolfe's ({1 + OBJECTIVE_TOL:g} x FW = "
                          "{baseline:.4f}; difference "
                          "interval [{low:.4f}, {high:.4f}]). In our implementation each "
                          "entropic step jumps to the entropic partial plan of the linearised "
                          "cost, and the iteration settles at a plan that sends most of the "
                          "mass to the dummy points (transported_mass_sinkhorn against "
                          "transported_mass_fw in the metrics): another stationary point, with "
                          "a higher objective, although the argmax of its rows still matches "
                          "nodes well.")

    res.compare("fpgw_close_to_mass_oracle", correct["fpgw_fw"],
                correct["mpfgw_mass_told"] - DELTA, claim="graph_matching", better="higher",
                description="per source node matched: FPGW vs POT's partial fused GW told the "
                            f"true mass (partial_fused_gromov_wasserstein, m = |p|) minus delta "
                            f"= {DELTA}",
                known_gap="FPGW matches {ours:.2f} of the source nodes and POT's partial FGW "
                          "told the true mass, minus " + f"{DELTA:g}" + ", {baseline:.2f} "
                          "(interval [{low:.2f}, "
                          "{high:.2f}]): with the penalty of the scale rule FPGW transports "
                          "about three quarters of the source mass (transported_mass_fw): the "
                          "rewired edges and the extra nodes shorten shortest paths, so some "
                          "true pairs disagree in structure by more than the penalty pays for, "
                          "and a node left unmatched counts as wrong; told the mass, POT must "
                          "match them all.")
    pot_gain = np.asarray(pot_gain_list)
    res.metrics["pot_mpfgw_from_our_plan_worst_relative_gain"] = float(pot_gain.max())
    res.check("pot_mpfgw_cannot_improve_our_plan", float(pot_gain.max()), 1e-6, "<=",
              claim="solvers",
              description="POT's partial_fused_gromov_wasserstein at our FW plan's mass, "
                          "started from it: worst relative decrease of the fused objective "
                          "over the graph pairs, every seed within 1e-6")

    # graph classification: clean database, queries with extra nodes
    cls = _classify(settings, rng)
    for k, v in cls.items():
        res.metrics[f"classification_accuracy_{k}"] = float(v.mean())
    res.compare("fpgw_classifies_better_than_fgw", cls["fpgw"], cls["fgw"],
                claim="graph_classification", better="higher",
                description=f"1-NN family correctness per query graph (four networkx families, "
                            f"{4 * settings.queries_per_class} queries with {EXTRA_FRACTION:.0%} "
                            f"extra nodes against {4 * settings.db_per_class} clean graphs per "
                            "seed), FPGW vs FGW; margin 0",
                known_gap="FPGW classifies {ours:.2f} of the query graphs and FGW {baseline:.2f}"
                          " (difference interval [{low:.2f}, {high:.2f}] over {n}): no "
                          "advantage. The family of a graph shows in its degree and clustering "
                          "profile, which 30% randomly attached extra nodes shift little, so "
                          "FGW's forced transport of the extra nodes costs it no accuracy "
                          "here.")
    res.compare("fpgw_classifies_close_to_mass_oracle", cls["fpgw"], cls["mpfgw"] - DELTA,
                claim="graph_classification", better="higher",
                description="1-NN family correctness per query graph, FPGW vs POT's partial "
                            f"fused GW told the clean graph's mass, minus delta = {DELTA}",
                known_gap="FPGW classifies {ours:.2f} of the query graphs and the mass-told "
                          "partial FGW, minus " + f"{DELTA:g}" + ", {baseline:.2f} (difference "
                          "interval "
                          "[{low:.2f}, {high:.2f}] over {n}): too few queries to bound the "
                          "difference.")

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    axes[0].bar(["FPGW FW", "FPGW Sinkhorn", "FGW", "MPFGW\n(mass told)"], list(acc.values()))
    axes[0].set_ylabel("node-matching accuracy")
    axes[0].set_ylim(0, 1)
    axes[1].scatter(cost_fw, cost_sk, s=10)
    lim = [0, 1.05 * max(cost_fw.max(), cost_sk.max())]
    axes[1].plot(lim, lim, "k--", lw=0.8)
    axes[1].set_xlabel("FPGW objective, Frank-Wolfe")
    axes[1].set_ylabel("FPGW objective, Sinkhorn")
    fig.tight_layout()
    res.figures["fpgw"] = fig
    return res


EXPERIMENT = register(Experiment(
    "fpgw", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="synthetic graphs, the paper's own kind of setting without its TU datasets: "
         "networkx two-community SBM graphs (20 nodes, 2D features) and noisy permuted copies "
         "with 40% extra nodes (matching); four networkx families with degree/clustering "
         "features, queries with 30% extra nodes (classification)",
    full_scale="the paper's graph matching, classification and clustering benchmarks (TU "
               "datasets, not available offline) with hundreds of graph pairs",
))
