"""``pgw``: the partial Gromov-Wasserstein metric, its two Frank-Wolfe solvers, and digit
retrieval from partial or cluttered views.

Data: real MNIST digits as 2D point clouds (``n_points`` pixel positions drawn
by intensity, :func:`._gromov_common.digit_clouds`); every point weighs
``1 / n_points``. The database holds ``db_per_class`` clean digits of each of
the ten classes. Each seed draws two kinds of queries, other digits of each
class: *cluttered* (``n_clutter`` uniform points added in the image square, so
the digit is a part of the query) and *occluded* (the ``occluded`` fraction of
the points beyond a random line removed, so the query is a part of a digit).
A query is assigned the class of the database digit at the smallest distance:
PGW (ours, Frank-Wolfe ``fw1``), balanced GW (POT, masses normalised) and
POT's mass-constrained partial GW (MPGW) told the mass the two share. The
penalty follows one scale rule (:func:`._gromov_common.penalty_rule`).

Claims and how each is judged (samples pooled over seeds):

1. ``metric``: ``sqrt(PGW)`` satisfies the triangle inequality on the
   solver's values over every (query, digit, digit) triple, digits one per class
   (worst relative violation within round-off in every seed; a non-convex
   solver can miss the minimiser and break it).
2. ``solvers``: the two Frank-Wolfe variants are equivalent. ``fw1`` iterates
   on the partial plan with a partial-transport step (inequality marginals,
   Hungarian algorithm); ``fw2`` on the balanced plan of the augmented spaces
   with a balanced-transport step (network simplex); they share no code
   beyond the objective's definition. From the paper's start (the product
   plan) on ``n_solver_pairs`` (database, query) pairs per seed: the worst
   relative objective gap is at most 1e-6 in every seed ("mathematically"),
   and the mean absolute log ratio of their CPU times is at most log 2
   ("computationally"). An independent oracle: POT's
   ``partial_gromov_wasserstein`` (MPGW) at the mass our plan carries, (a)
   started from our plan, finds no plan with a GW term lower by more than
   1e-6 (relative; a PGW minimiser minimises the GW term at its own mass).
   MPGW from its own start is reported beside it (metrics): both are local
   solvers, and which finds the lower GW term varies from pair to pair.
3. ``retrieval``: PGW retrieves the right class more often than GW on the
   partial queries (cluttered and occluded pooled; per-query correctness,
   paired bootstrap, margin 0; the accuracy of each kind is in the metrics).
   MPGW told the shared mass is reported beside it (metrics), not judged: at
   this penalty PGW transports the whole shared mass and answers exactly as
   MPGW does, so a non-inferiority check against it would hold by
   construction.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import ot

from mintlab.transport import gromov_cost_matrix, partial_gromov_wasserstein

from ._core import Experiment, Result, Settings
from ._gromov_common import clutter, digit_clouds, occlude, penalty_rule
from .registry import register

CLAIMS = {
    "metric": "PGW is a well-defined metric between metric measure spaces.",
    "solvers": "We propose two variants of the Frank-Wolfe algorithm for solving the PGW "
               "problem and show that they are mathematically and computationally "
               "equivalent.",
    "retrieval": "We validate the effectiveness of our PGW metric and related solvers in "
                 "applications such as shape matching, shape retrieval, comparing them "
                 "against existing baselines.",
}


@dataclass(frozen=True, kw_only=True)
class PgwSettings(Settings):
    db_per_class: int  # clean database digits per class (ten classes)
    n_points: int  # points per digit (each weighs 1 / n_points)
    n_clutter: int  # uniform points added to a cluttered query
    occluded: float  # fraction of an occluded query's points cut away
    n_solver_pairs: int  # (database, query) pairs per seed for the solver checks


QUICK = PgwSettings(seeds=3, db_per_class=2, n_points=32, n_clutter=8, occluded=0.2,
                    n_solver_pairs=6)
FULL = PgwSettings(seeds=5, db_per_class=3, n_points=40, n_clutter=10, occluded=0.2,
                   n_solver_pairs=20)
EXPECTED = "partly reproduced (2 of 3)"

#: tolerance of MPGW's retrieval advantage: a tenth of the queries (MPGW is told the shared
#: mass; PGW is not, and the paper presents the two as comparable)
#: relative violation of the triangle inequality accepted as round-off
TRIANGLE_TOL = 1e-6
#: relative objective gap between fw1 and fw2 accepted as round-off
SOLVER_TOL = 1e-6
#: CPU time ratio that still counts as "computationally equivalent"
TIME_RATIO = 2.0
#: candidate masses of PGW's default start (the library default is 6)
N_MASSES = 3


def _gw_term(A, B, G):
    r, c = G.sum(1), G.sum(0)
    return float(((A * A @ r)[:, None] + (B * B @ c)[None, :] - 2 * A @ G @ B.T).ravel()
                 @ G.ravel())


def _solver_checks(pairs, lam):
    """fw1 vs fw2 from the paper's start, and POT's MPGW at our mass, on (A, B, a, b)."""
    gap, logratio, pot_gain, pot_rel, masses = [], [], [], [], []
    for A, B, a, b in pairs:
        G0 = np.outer(a, b) / (a.sum() + b.sum())  # the n x m block of the augmented product
        t0 = time.process_time()
        r1 = partial_gromov_wasserstein(A, B, a, b, penalty=lam, solver="fw1", G0=G0)
        t1 = time.process_time() - t0
        t0 = time.process_time()
        r2 = partial_gromov_wasserstein(A, B, a, b, penalty=lam, solver="fw2", G0=G0)
        t2 = time.process_time() - t0
        c1, c2 = float(r1.cost), float(r2.cost)
        gap.append(abs(c1 - c2) / max(abs(c1), 1e-12))
        logratio.append(math.log(max(t2, 1e-6) / max(t1, 1e-6)))
        # the oracle, at the mass of our (default-start) PGW plan
        ours = partial_gromov_wasserstein(A, B, a, b, penalty=lam, n_masses=N_MASSES)
        G = np.asarray(ours.plan)
        m = min(float(G.sum()), float(min(a.sum(), b.sum())))
        masses.append(m)
        g_ours = _gw_term(A, B, G)
        from_ours = ot.gromov.partial_gromov_wasserstein(A, B, a, b, m=m, G0=G)
        pot_gain.append((g_ours - _gw_term(A, B, from_ours)) / max(g_ours, 1e-12))
        own = ot.gromov.partial_gromov_wasserstein(A, B, a, b, m=m)
        g_pot = _gw_term(A, B, own)
        pot_rel.append((g_ours - g_pot) / max(g_pot, 1e-12))
    return (np.asarray(gap), np.asarray(logratio), np.asarray(pot_gain), np.asarray(pot_rel),
            np.asarray(masses))


def run(settings: PgwSettings = QUICK, seed: int = 0) -> Result:
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    res = Result(seed=seed)
    N, per = settings.n_points, settings.db_per_class
    clouds, labels = digit_clouds(per + 2, N, seed)
    db, db_y_list, queries, q_y_list, q_kind_list = [], [], [], [], []
    for c in range(10):
        idx = np.nonzero(labels == c)[0]
        for k in idx[:per]:
            db.append(clouds[k])
            db_y_list.append(c)
        queries.append(clutter(clouds[idx[per]], settings.n_clutter, rng))
        queries.append(occlude(clouds[idx[per + 1]], settings.occluded, rng))
        q_y_list += [c, c]
        q_kind_list += ["clutter", "occluded"]
    db_y, q_y, q_kind = np.asarray(db_y_list), np.asarray(q_y_list), np.asarray(q_kind_list)
    Cd = [gromov_cost_matrix(P) for P in db]
    Cq = [gromov_cost_matrix(P) for P in queries]
    lam = penalty_rule(Cd[0])
    w = 1.0 / N
    D = {k: np.zeros((len(Cq), len(Cd))) for k in ("pgw", "gw", "pot_partial_gw")}
    secs = dict.fromkeys(D, 0.0)
    for i, B in enumerate(Cq):
        b = np.full(len(B), w)
        for j, A in enumerate(Cd):
            a = np.full(len(A), w)
            t0 = time.process_time()
            D["pgw"][i, j] = float(partial_gromov_wasserstein(A, B, a, b, penalty=lam,
                                                              n_masses=N_MASSES).cost)
            secs["pgw"] += time.process_time() - t0
            t0 = time.process_time()
            D["gw"][i, j] = float(ot.gromov.gromov_wasserstein2(A, B, a / a.sum(),
                                                                b / b.sum()))
            secs["gw"] += time.process_time() - t0
            t0 = time.process_time()
            # the shared mass: the digit's in a cluttered query, the query's when occluded
            D["pot_partial_gw"][i, j] = float(ot.gromov.partial_gromov_wasserstein2(
                A, B, a, b, m=min(a.sum(), b.sum())))
            secs["pot_partial_gw"] += time.process_time() - t0
    correct = {k: (db_y[D[k].argmin(1)] == q_y).astype(float) for k in D}
    for k in D:
        res.metrics[f"accuracy_{k}"] = float(correct[k].mean())
        for kind in ("clutter", "occluded"):
            res.metrics[f"accuracy_{k}_{kind}"] = float(correct[k][q_kind == kind].mean())
        res.metrics[f"seconds_{k}"] = secs[k]
    res.metrics["penalty"] = lam

    # 1. metric: triangle inequality of sqrt(PGW), d(q, j) <= d(q, k) + d(k, j)
    K = len(Cd)
    tri = np.arange(0, K, per)  # the first database digit of each class
    T = len(tri)
    D_db = np.zeros((T, T))
    for x in range(T):
        for z in range(x + 1, T):
            A, B = Cd[tri[x]], Cd[tri[z]]
            D_db[x, z] = D_db[z, x] = float(partial_gromov_wasserstein(
                A, B, np.full(len(A), w), np.full(len(B), w), penalty=lam,
                n_masses=N_MASSES).cost)
    d_q, d_db = np.sqrt(np.maximum(D["pgw"][:, tri], 0)), np.sqrt(np.maximum(D_db, 0))
    excess = d_q[:, :, None] - d_q[:, None, :] - d_db.T[None, :, :]  # (q, j, k)
    off = ~np.eye(T, dtype=bool)
    viol = (excess / np.maximum(d_q[:, :, None], 1e-12))[:, off]
    res.metrics["triangle_worst_relative_violation"] = float(viol.max())
    res.metrics["triangle_fraction_violated"] = float(np.mean(viol > TRIANGLE_TOL))
    res.check("pgw_triangle_inequality", float(viol.max()), TRIANGLE_TOL, "<=", claim="metric",
              description=f"worst relative violation (d(q,j) - d(q,k) - d(k,j)) / d(q,j) of "
                          f"sqrt(PGW) over {viol.size} (query, digit, digit) triples; every "
                          f"seed within {TRIANGLE_TOL:g}")

    # 2. the two Frank-Wolfe solvers, and POT's MPGW as an oracle
    pick = rng.choice(len(Cq) * K, size=min(settings.n_solver_pairs, len(Cq) * K),
                      replace=False)
    pairs = [(Cd[j], Cq[i], np.full(len(Cd[j]), w), np.full(len(Cq[i]), w))
             for i, j in (divmod(int(t), K) for t in pick)]
    gap, logratio, pot_gain, pot_rel, masses = _solver_checks(pairs, lam)
    res.metrics.update({
        "fw1_fw2_worst_relative_gap": float(gap.max()),
        "fw2_over_fw1_time_ratio_geomean": float(np.exp(logratio.mean())),
        "pot_mpgw_from_our_plan_worst_relative_gain": float(pot_gain.max()),
        "our_gw_term_vs_pot_mpgw_mean_relative_diff": float(pot_rel.mean()),
        "our_gw_term_below_pot_mpgw_fraction": float(np.mean(pot_rel < -1e-9)),
        "solver_pairs_mean_mass": float(masses.mean()),
    })
    res.check("fw1_fw2_same_objective", float(gap.max()), SOLVER_TOL, "<=", claim="solvers",
              description=f"worst relative gap |PGW_fw1 - PGW_fw2| / PGW_fw1 over {len(gap)} "
                          f"(database, query) pairs from the paper's start; every seed within "
                          f"{SOLVER_TOL:g}")
    res.check("fw1_fw2_same_cost", np.abs(logratio), math.log(TIME_RATIO), "<=",
              claim="solvers",
              description=f"|log(CPU time fw2 / fw1)| per pair; interval of the mean within "
                          f"log {TIME_RATIO:g}")
    res.check("pot_mpgw_cannot_improve_our_plan", float(pot_gain.max()), SOLVER_TOL, "<=",
              claim="solvers",
              description="POT's partial_gromov_wasserstein at our plan's mass, started from "
                          "our plan: worst relative decrease of the GW term, every seed within "
                          f"{SOLVER_TOL:g}")

    # 3. retrieval, one sample per query (correct 1 / wrong 0), paired across methods
    res.compare("pgw_beats_gw", correct["pgw"], correct["gw"], claim="retrieval",
                better="higher",
                description=f"1-NN class correctness per partial query ({len(q_y)} per seed: "
                            f"half with {settings.n_clutter} uniform points added, half with "
                            f"{settings.occluded:.0%} of the points cut away) against {K} clean "
                            "digits, PGW vs GW; margin 0",
                known_gap="PGW retrieves {ours:.2f} of the partial queries and GW {baseline:.2f}"
                          " (difference interval [{low:.2f}, {high:.2f}] over {n} queries): "
                          "no difference that this many queries can resolve. With a few dozen "
                          "points per digit, 1-NN over ten classes by any Gromov-Wasserstein "
                          "distance is weak (about a quarter right; rotation- and "
                          "reflection-invariant distances confuse 2/5 and 6/9, and 25% clutter "
                          "or a 20% cut changes a digit's distance profile as much as its "
                          "class does), and with this penalty PGW transports the whole shared "
                          "mass, ranking like MPGW told that mass (same accuracy).")
    # PGW against MPGW told the shared mass is reported, not judged: with this penalty PGW
    # transports the whole shared mass and so ranks exactly like MPGW, which a check of
    # "no worse than MPGW by more than delta" would pass by construction
    res.metrics["pgw_minus_mpgw_accuracy"] = float(np.mean(correct["pgw"])
                                                   - np.mean(correct["pot_partial_gw"]))
    res.metrics["pgw_same_answer_as_mpgw"] = float(np.mean(correct["pgw"]
                                                           == correct["pot_partial_gw"]))

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    xpos = np.arange(2)
    for o, k in enumerate(D):
        axes[0].bar(xpos + 0.27 * (o - 1), [res.metrics[f"accuracy_{k}_{kind}"]
                                         for kind in ("clutter", "occluded")], 0.27, label=k)
    axes[0].set_xticks(xpos, ["cluttered", "occluded"])
    axes[0].set_ylabel("1-NN accuracy (10 classes)")
    axes[0].legend(fontsize=7)
    axes[1].hist(viol.ravel(), bins=30)
    axes[1].axvline(0, color="k", lw=0.8)
    axes[1].set_xlabel("triangle excess / d(q, j)  (<= 0 holds)")
    i0 = int(np.nonzero(q_kind == "clutter")[0][0])
    axes[2].scatter(*db[int(np.argmin(D["pgw"][i0]))].T, s=8, label="nearest (PGW)")
    axes[2].scatter(*queries[i0].T, s=8, marker="x", label="query")
    axes[2].set_aspect("equal")
    axes[2].legend(fontsize=7)
    fig.tight_layout()
    res.figures["pgw"] = fig
    return res


EXPERIMENT = register(Experiment(
    "pgw", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="MNIST digits (real, load_mnist) as 2D point clouds of 32 (quick) or 40 (full) "
         "intensity-drawn pixels; queries cluttered with 25% uniform points or with 20% of "
         "the digit cut away by a random line",
    full_scale="the paper's shape-retrieval sets (2D and 3D shapes of a few hundred points, "
               "hundreds of queries) with UGW as another baseline, and shape interpolation "
               "with PGW barycenters",
))
