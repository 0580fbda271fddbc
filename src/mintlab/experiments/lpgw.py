"""``lpgw``: the linear partial Gromov-Wasserstein embedding on a collection of K digits.

Data: K = 10 * ``per_class`` real MNIST digits as 2D point clouds
(``n_points`` intensity-drawn pixels, :func:`._gromov_common.digit_clouds`);
a third of them with 20% of the points cut away by a random line, a third
with 25% uniform clutter points, a third clean. Every point weighs
``1 / n_points``. LPGW embeds every digit with one PGW solve against a
reference: a PGW barycenter of ``n_bary`` clean digits (of different classes,
the paper's barycentric reference), and, as a second reference,
the first clean digit. Distances between embeddings are closed-form. The
baseline is PGW itself between every pair (the library's Frank-Wolfe, the
same penalty).

Pairwise PGW needs K (K - 1) / 2 solves; it is run for ``n_queries`` query
digits against all K - 1 others (the retrieval and correlation samples), and
its all-pairs time is the measured mean time per solve times K (K - 1) / 2.

Claims and how each is judged (samples pooled over seeds):

1. ``linear_in_k``: LPGW's all-pairs distances (reference, K embeddings,
   K^2 closed-form distances) take at least ten times less CPU time than
   pairwise PGW (log-times, one pair per seed, t interval, margin log 10).
2. ``preserves_pgw``: LPGW's distances rank the (query, digit) pairs like
   PGW's: Spearman correlation >= 0.7 in every seed, for the barycentric
   reference.
3. ``shape_retrieval``: leave-one-out 1-NN class retrieval for the query
   digits with LPGW (barycentric reference) is at most delta = 0.1 less
   accurate than with PGW (per-query correctness, paired bootstrap).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from scipy.stats import spearmanr

from mintlab.embed import LinearPartialGromovWasserstein
from mintlab.transport import gromov_cost_matrix, partial_gromov_wasserstein

from ._core import Experiment, Result, Settings
from ._gromov_common import clutter, digit_clouds, occlude, penalty_rule
from .registry import register

CLAIMS = {
    "linear_in_k": "For K metric measure spaces, the pairwise computation of PGW requires "
                   "solving the PGW problem O(K^2) times; the linearization reduces this to "
                   "O(K) times, significantly enhancing computational efficiency.",
    "preserves_pgw": "LPGW preserves the advantages of PGW in partial matching.",
    "shape_retrieval": "We demonstrate the effectiveness of LPGW in practical applications "
                       "such as shape retrieval.",
}


@dataclass(frozen=True, kw_only=True)
class LpgwSettings(Settings):
    per_class: int  # digits per class (ten classes): K = 10 * per_class spaces
    n_points: int  # points per digit (each weighs 1 / n_points)
    n_queries: int  # query digits solved by pairwise PGW against all the others
    n_bary: int  # digits the barycentric reference is fitted on


QUICK = LpgwSettings(seeds=3, per_class=10, n_points=30, n_queries=5, n_bary=5)
FULL = LpgwSettings(seeds=3, per_class=20, n_points=30, n_queries=30, n_bary=10)
EXPECTED = "partly reproduced (2 of 3)"

#: least speed-up that counts as "significant": an order of magnitude
MIN_SPEEDUP = 10.0
#: least Spearman correlation of LPGW and PGW distances that counts as preserving them
MIN_SPEARMAN = 0.7
#: retrieval accuracy LPGW may lose against PGW: a tenth of the queries
DELTA = 0.1
#: candidate masses of PGW's default start (the library default is 6)
N_MASSES = 3


def run(settings: LpgwSettings = QUICK, seed: int = 0) -> Result:
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    res = Result(seed=seed)
    N = settings.n_points
    clouds, y = digit_clouds(settings.per_class, N, seed)
    K = len(clouds)
    kinds = rng.permutation(np.arange(K) % 3)  # 0 clean, 1 occluded, 2 cluttered
    spaces = []
    for P, kind in zip(clouds, kinds, strict=True):
        if kind == 1:
            P = occlude(P, 0.2, rng)
        elif kind == 2:
            P = clutter(P, N // 4, rng)
        spaces.append((gromov_cost_matrix(P), np.full(len(P), 1.0 / N)))
    clean = np.nonzero(kinds == 0)[0]
    lam = penalty_rule(spaces[int(clean[0])][0])

    # LPGW, barycentric reference fitted on one clean digit of each class
    # (digits with all n_points points: the barycenter's points then carry 1 / n_points too)
    full = [int(i) for i in clean if len(spaces[i][1]) == N]
    bary_idx = []
    for c in range(10):
        bary_idx += [i for i in full if y[i] == c][:1]
    bary_idx = bary_idx[:settings.n_bary]
    t0 = time.process_time()
    est = LinearPartialGromovWasserstein(penalty=lam, reference="barycenter", n_reference=N,
                                         metric="precomputed", n_masses=N_MASSES, seed=seed)
    est.fit([spaces[i] for i in bary_idx])
    E = est.transform(spaces)
    D_lin = est.pairwise_distances(E)
    t_lin = time.process_time() - t0
    # a second reference: the first clean digit
    t0 = time.process_time()
    est1 = LinearPartialGromovWasserstein(penalty=lam, reference=spaces[int(clean[0])],
                                          metric="precomputed", n_masses=N_MASSES)
    E1 = est1.fit(spaces).transform(spaces)
    D_lin1 = est1.pairwise_distances(E1)
    t_lin1 = time.process_time() - t0

    # pairwise PGW for the queries against every other digit
    queries = rng.choice(K, size=min(settings.n_queries, K), replace=False)
    D_pgw = np.full((len(queries), K), np.inf)
    t0 = time.process_time()
    for r, i in enumerate(queries):
        for j in range(K):
            if j != i:
                D_pgw[r, j] = float(partial_gromov_wasserstein(
                    spaces[i][0], spaces[j][0], spaces[i][1], spaces[j][1], penalty=lam,
                    n_masses=N_MASSES).cost)
    n_solves = len(queries) * (K - 1)
    per_solve = (time.process_time() - t0) / n_solves
    t_pgw = per_solve * K * (K - 1) / 2

    off = np.ones_like(D_pgw, dtype=bool)
    off[np.arange(len(queries)), queries] = False
    rho = float(spearmanr(D_lin[queries][off], D_pgw[off]).statistic)
    rho1 = float(spearmanr(D_lin1[queries][off], D_pgw[off]).statistic)

    def loo(Dq):
        Dq = Dq.copy()
        Dq[np.arange(len(queries)), queries] = np.inf
        return (y[Dq.argmin(1)] == y[queries]).astype(float)

    c_lin, c_lin1, c_pgw = loo(D_lin[queries]), loo(D_lin1[queries]), loo(D_pgw)
    res.metrics.update({
        "K": K, "penalty": lam, "pgw_solves_run": n_solves,
        "seconds_lpgw_all_pairs": t_lin, "seconds_lpgw_first_reference_all_pairs": t_lin1,
        "seconds_pgw_all_pairs_estimated": t_pgw, "seconds_per_pgw_solve": per_solve,
        "speedup": t_pgw / t_lin, "spearman_lpgw_pgw": rho,
        "spearman_lpgw_first_reference_pgw": rho1,
        "accuracy_lpgw": float(c_lin.mean()), "accuracy_lpgw_first_reference":
            float(c_lin1.mean()), "accuracy_pgw": float(c_pgw.mean()),
        "lpgw_self_distance_max": float(np.diag(D_lin).max()),
    })

    res.compare("lpgw_faster_than_pairwise", math.log(t_lin), math.log(t_pgw),
                claim="linear_in_k", better="lower", margin=math.log(MIN_SPEEDUP),
                description=f"log CPU seconds for all {K * (K - 1) // 2} pairwise distances "
                            f"of K = {K} digits: LPGW (barycenter + {K} PGW solves) vs "
                            f"pairwise PGW (mean time of {n_solves} solves x "
                            f"{K * (K - 1) // 2}); margin log({MIN_SPEEDUP:g}), one pair "
                            "per seed",
                known_gap="LPGW's log CPU time {ours:.2f} against pairwise PGW's {baseline:.2f} "
                          "(difference interval [{low:.2f}, {high:.2f}], margin {margin:.2f}): "
                          "the speed-up (metrics: speedup) varies from seed to seed with the "
                          "cost of fitting the barycenter (the number of its iterations), and "
                          "at K = 100 the K embeddings plus the barycenter are not yet an order "
                          "of magnitude below K^2 / 2 solves in every seed.")
    res.check("lpgw_tracks_pgw", rho, MIN_SPEARMAN, ">=", claim="preserves_pgw",
              description=f"Spearman correlation of LPGW (barycentric reference) and PGW "
                          f"distances over {int(off.sum())} (query, digit) pairs, every seed "
                          f">= {MIN_SPEARMAN}",
              known_gap="The Spearman correlation of LPGW and PGW distances averages "
                        "{measured:.2f} but its worst seed is {worst:.2f}, under {threshold}: "
                        "with a reference of a few clean digits, the occluded and cluttered "
                        "digits embed through partial plans, and the linearisation (a "
                        "barycentric projection on the reference) loses the order of close "
                        "pairs.")
    res.compare("lpgw_retrieval_close_to_pgw", c_lin, c_pgw - DELTA, claim="shape_retrieval",
                better="higher",
                description=f"leave-one-out 1-NN class correctness per query digit among "
                            f"K = {K}, LPGW (barycentric reference) vs PGW minus delta = "
                            f"{DELTA} (a tenth of the queries)",
                known_gap="LPGW retrieves {ours:.2f} of the query digits and PGW minus "
                          f"{DELTA:g} "
                          "{baseline:.2f} (difference interval [{low:.2f}, {high:.2f}] over {n} "
                          "queries): the interval is too wide to show LPGW within "
                          f"{DELTA:g} of PGW; "
                          "1-NN over ten digit classes with 30-point partial clouds is close to "
                          "chance for both (metrics: accuracy_pgw, accuracy_lpgw).")

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    axes[0].scatter(D_pgw[off], D_lin[queries][off], s=5, label="barycenter ref.")
    axes[0].scatter(D_pgw[off], D_lin1[queries][off], s=5, alpha=0.5, label="one digit ref.")
    axes[0].set_xlabel("PGW")
    axes[0].set_ylabel("LPGW")
    axes[0].legend(fontsize=7)
    axes[0].set_title(f"Spearman {rho:.2f} / {rho1:.2f}")
    axes[1].bar(["PGW", "LPGW bary", "LPGW digit"],
                [c_pgw.mean(), c_lin.mean(), c_lin1.mean()])
    axes[1].set_ylabel("1-NN accuracy (queries)")
    axes[1].set_title(f"{t_pgw / t_lin:.0f}x faster (all pairs, K = {K})")
    fig.tight_layout()
    res.figures["lpgw"] = fig
    return res


EXPERIMENT = register(Experiment(
    "lpgw", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="MNIST digits (real, load_mnist) as 2D point clouds of 30 intensity-drawn pixels, "
         "a third with 20% cut away by a random line, a third with 25% uniform clutter",
    full_scale="K in the thousands, where K vs K^2 PGW solves dominates, on the paper's "
               "2D/3D shape-retrieval sets, with measured (not extrapolated) all-pairs PGW",
))
