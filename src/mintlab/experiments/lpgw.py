"""``lpgw``: the linear partial Gromov-Wasserstein embedding.

K shapes (five procedural 3D classes, 30-45 points, random poses; a third
of them with 30% of the surface cut away and a third with 20% outlier
points) are compared all against all by pairwise PGW (K (K - 1) / 2
solves) and by LPGW (K solves against one reference, the first shape, then
closed-form distances between embeddings). Every point weighs 1/40.

Claims: LPGW needs K instead of K^2 PGW solves (time), its distances track
PGW's (Spearman correlation), and leave-one-out 1-NN retrieval is about as
accurate.
"""

from __future__ import annotations

import time

import numpy as np
from scipy.stats import spearmanr

from mintlab.embed import LinearPartialGromovWasserstein
from mintlab.transport import gromov_cost_matrix, partial_gromov_wasserstein

from ._core import Experiment, Result
from ._gromov_common import SHAPES5, penalty_rule, shape_instance
from .registry import register

CLAIM = (
    "Linearising partial GW against one reference replaces K^2 PGW problems by K while "
    "keeping PGW's distances and retrieval accuracy."
)


def _loo_accuracy(D, y):
    D = D.copy()
    np.fill_diagonal(D, np.inf)
    return float(np.mean(y[D.argmin(1)] == y))


def run(quick: bool = True, seed: int = 0) -> Result:
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    res = Result()
    per_class = 5 if quick else 12
    spaces, y = [], []
    for c, s in enumerate(SHAPES5):
        for k in range(per_class):
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
    acc_lin, acc_pgw = _loo_accuracy(D_lin, y), _loo_accuracy(D_pgw, y)
    res.metrics.update({"seconds_lpgw": t_lin, "seconds_pairwise_pgw": t_pgw,
                        "speedup": t_pgw / t_lin, "spearman_lpgw_pgw": rho,
                        "accuracy_lpgw": acc_lin, "accuracy_pgw": acc_pgw, "n_spaces": K,
                        "penalty": lam,
                        "lpgw_self_distance_max": float(np.diag(D_lin).max())})
    res.check("lpgw_faster_than_pairwise", t_pgw / t_lin, 5.0, ">=",
              description=f"pairwise PGW time / LPGW time for K = {K} spaces "
                          f"({K * (K - 1) // 2} vs {K} PGW solves)")
    res.check("lpgw_tracks_pgw", rho, 0.7, ">=",
              description="Spearman correlation of LPGW and PGW distances over all pairs")
    res.check("lpgw_retrieval_close_to_pgw", acc_lin - acc_pgw, -0.1, ">=",
              description=f"leave-one-out 1-NN accuracy, LPGW ({acc_lin:.2f}) minus PGW "
                          f"({acc_pgw:.2f})",
              known_gap="Not at our scale (quick run: LPGW 0.40 vs PGW 0.56 with one shape as "
                        "the reference). The authors' embedding distance adds lambda times "
                        "each space's mass that misses the reference (|p|^2 - |pt|^2) to "
                        "every distance of that space, so neighbours that match the reference "
                        "well are favoured; the distances still rank pairs like PGW (Spearman "
                        "0.91).")

    fig, ax = plt.subplots(figsize=(4.4, 3.8))
    ax.scatter(D_pgw[iu], D_lin[iu], s=6)
    ax.set_xlabel("PGW")
    ax.set_ylabel("LPGW")
    ax.set_title(f"Spearman {rho:.2f}, {t_pgw / t_lin:.0f}x faster")
    fig.tight_layout()
    res.figures["lpgw"] = fig
    return res


EXPERIMENT = register(Experiment("lpgw", CLAIM, run))
