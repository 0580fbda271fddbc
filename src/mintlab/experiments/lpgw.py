"""``lpgw``: the linear partial Gromov-Wasserstein embedding.

K shapes (five procedural 3D classes, 30-45 points, random poses; a third
of them with 30% of the surface cut away and a third with 20% outlier
points) are compared all against all by pairwise PGW (K (K - 1) / 2
solves) and by LPGW (K solves against one reference, the first shape, then
closed-form distances between embeddings). Every point weighs 1/40.

Claims and how each is judged (samples pooled over seeds):

1. ``linear_in_k``: LPGW's all-pairs distances take at least five times less
   time than pairwise PGW (log-times, one pair per seed, t interval, margin
   log 5);
2. ``preserves_pgw``: LPGW's distances rank the pairs like PGW's (Spearman
   correlation >= 0.7 in every seed);
3. ``shape_retrieval``: leave-one-out 1-NN retrieval with LPGW is at most
   delta = 0.1 less accurate than with PGW (per-shape correctness, paired
   bootstrap).
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
from ._gromov_common import SHAPES5, penalty_rule, shape_instance
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
    per_class: int  # shapes per class (five classes): K = 5 * per_class spaces


QUICK = LpgwSettings(seeds=3, per_class=5)
FULL = LpgwSettings(seeds=5, per_class=12)
EXPECTED = "partly reproduced (2 of 3)"

#: least speed-up that counts as "significant"
MIN_SPEEDUP = 5.0
#: least Spearman correlation of LPGW and PGW distances that counts as preserving them
MIN_SPEARMAN = 0.7
#: retrieval accuracy LPGW may lose against PGW: a tenth of the shapes
DELTA = 0.1


def _loo_correct(D, y):
    """Leave-one-out 1-NN correctness (1 / 0) of each space under the distances ``D``."""
    D = D.copy()
    np.fill_diagonal(D, np.inf)
    return (y[D.argmin(1)] == y).astype(float)


def run(settings: LpgwSettings = QUICK, seed: int = 0) -> Result:
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    res = Result(seed=seed)
    spaces, y = [], []
    for c, s in enumerate(SHAPES5):
        for k in range(settings.per_class):
            kind = k % 3
            P = shape_instance(s, int(rng.integers(30, 46)), rng,
                               missing=0.3 if kind == 1 else 0.0,
                               outliers=8 if kind == 2 else 0)
            spaces.append((gromov_cost_matrix(P), np.full(len(P), 1.0 / 40)))
            y.append(c)
    y = np.asarray(y)
    K = len(spaces)
    lam = penalty_rule(spaces[0][0])

    t0 = time.perf_counter()
    est = LinearPartialGromovWasserstein(penalty=lam, reference=spaces[0],
                                         metric="precomputed")
    E = est.fit(spaces).transform(spaces)
    D_lin = est.pairwise_distances(E)
    t_lin = time.perf_counter() - t0

    t0 = time.perf_counter()
    D_pgw = np.zeros((K, K))
    for i in range(K):
        for j in range(i + 1, K):
            D_pgw[i, j] = D_pgw[j, i] = float(partial_gromov_wasserstein(
                spaces[i][0], spaces[j][0], spaces[i][1], spaces[j][1], penalty=lam).cost)
    t_pgw = time.perf_counter() - t0

    iu = np.triu_indices(K, 1)
    rho = float(spearmanr(D_lin[iu], D_pgw[iu]).statistic)
    c_lin, c_pgw = _loo_correct(D_lin, y), _loo_correct(D_pgw, y)
    res.metrics.update({"seconds_lpgw": t_lin, "seconds_pairwise_pgw": t_pgw,
                        "speedup": t_pgw / t_lin, "spearman_lpgw_pgw": rho,
                        "accuracy_lpgw": float(c_lin.mean()),
                        "accuracy_pgw": float(c_pgw.mean()), "n_spaces": K, "penalty": lam,
                        "lpgw_self_distance_max": float(np.diag(D_lin).max())})

    res.compare("lpgw_faster_than_pairwise", math.log(t_lin), math.log(t_pgw),
                claim="linear_in_k", better="lower", margin=math.log(MIN_SPEEDUP),
                description=f"log seconds for all {K * (K - 1) // 2} pairwise distances of "
                            f"K = {K} spaces: LPGW ({K} PGW solves) vs pairwise PGW; margin "
                            f"log({MIN_SPEEDUP:g}), one pair of times per seed")
    res.check("lpgw_tracks_pgw", rho, MIN_SPEARMAN, ">=", claim="preserves_pgw",
              description="Spearman correlation of LPGW and PGW distances over all pairs, "
                          f"every seed >= {MIN_SPEARMAN}")
    res.compare("lpgw_retrieval_close_to_pgw", c_lin, c_pgw - DELTA, claim="shape_retrieval",
                better="higher",
                description=f"leave-one-out 1-NN correctness per shape, LPGW vs PGW minus "
                            f"delta = {DELTA} (a tenth of the shapes)",
                known_gap="LPGW's leave-one-out accuracy {ours:.2f} does not reach PGW's minus "
                          "0.1 ({baseline:.2f}; difference interval [{low:.2f}, {high:.2f}] "
                          "over {n} shapes). With one shape as the reference, the embedding "
                          "distance adds lambda times each space's mass that misses the "
                          "reference to every distance "
                          "of that space, so neighbours that match the reference well are "
                          "favoured; the distances still rank the pairs like PGW's (see "
                          "lpgw_tracks_pgw).")

    fig, ax = plt.subplots(figsize=(4.4, 3.8))
    ax.scatter(D_pgw[iu], D_lin[iu], s=6)
    ax.set_xlabel("PGW")
    ax.set_ylabel("LPGW")
    ax.set_title(f"Spearman {rho:.2f}, {t_pgw / t_lin:.0f}x faster")
    fig.tight_layout()
    res.figures["lpgw"] = fig
    return res


EXPERIMENT = register(Experiment(
    "lpgw", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="synthetic: procedural 3D shapes of 30-45 points (five classes), a third cut by a "
         "plane, a third with 20% uniform outliers",
    full_scale="K in the hundreds to thousands, where K vs K^2 PGW solves dominates, on the "
               "paper's 2D/3D shape-retrieval sets, with a barycentric reference",
))
