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

Claims and how each is judged (samples pooled over trials and seeds):

1. ``graph_matching``: FPGW (Frank-Wolfe) matches more source nodes to their
   true copy than FGW (per-node correctness, paired bootstrap, margin 0), and
   sends at most 10% of its transported mass to the extra nodes (per trial,
   interval of the mean);
2. ``solvers``: the Sinkhorn solver matches at most delta = 0.1 fewer nodes
   than Frank-Wolfe (per node), and its FPGW objective is at most 10% above
   Frank-Wolfe's (per trial).
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
}


@dataclass(frozen=True, kw_only=True)
class FpgwSettings(Settings):
    trials: int  # graph pairs per seed


QUICK = FpgwSettings(seeds=3, trials=10)
FULL = FpgwSettings(seeds=5, trials=40)
EXPECTED = "partly reproduced (1 of 2)"

N = 20
EXTRA = 8
ALPHA = 0.5
#: entropic regularisation of the Sinkhorn solver (relative to the linearised cost's spread)
EPSILON = 0.02
#: most of FPGW's transported mass that may reach extra nodes
MAX_EXTRA_MASS = 0.1
#: matching accuracy the Sinkhorn solver may lose against Frank-Wolfe: two nodes in twenty
DELTA = 0.1
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


def run(settings: FpgwSettings = QUICK, seed: int = 0) -> Result:
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    res = Result(seed=seed)
    names = ("fpgw_fw", "fpgw_sinkhorn", "fgw", "mpfgw_mass_told")
    correct = {k: [] for k in names}
    extra_mass, cost_fw, cost_sk, mass_fw, mass_sk = [], [], [], [], []
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
        for k, plan in zip(names, (fw.plan, sk.plan, G, Gm), strict=True):
            correct[k].append(np.asarray(plan).argmax(1) == truth)
        extra = np.isin(np.arange(N + EXTRA), truth, invert=True)
        extra_mass.append(float(fw.plan[:, extra].sum() / max(float(fw.transported), 1e-12)))
        cost_fw.append(float(fw.cost))
        cost_sk.append(float(sk.cost))
        mass_fw.append(float(fw.transported))
        mass_sk.append(float(sk.transported))
    correct = {k: np.concatenate(v).astype(float) for k, v in correct.items()}
    cost_fw, cost_sk = np.asarray(cost_fw), np.asarray(cost_sk)
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
                          "10% of Frank-Wolfe's (1.1 x FW = {baseline:.4f}; difference "
                          "interval [{low:.4f}, {high:.4f}]). In our implementation each "
                          "entropic step jumps to the entropic partial plan of the linearised "
                          "cost, and the iteration settles at a plan that sends most of the "
                          "mass to the dummy points (transported_mass_sinkhorn against "
                          "transported_mass_fw in the metrics): another stationary point, with "
                          "a higher objective, although the argmax of its rows still matches "
                          "nodes well.")

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
    data="synthetic: two-community stochastic block model graphs (20 nodes, 2D features) and "
         "noisy permuted copies with 40% extra nodes",
    full_scale="the paper's graph matching, classification and clustering benchmarks (TU "
               "datasets, not available offline) with hundreds of graph pairs",
))
