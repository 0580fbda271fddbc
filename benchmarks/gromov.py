"""Gromov–Wasserstein family: partial GW (ours, penalised) vs POT's fixed-mass partial GW.

Run: ``python -m benchmarks gromov`` (``--quick``: n = 100, 300 only; ``--pgw``: the
partial GW rows only).
Writes ``benchmarks/results/gromov.json``.

Two point clouds in R^3 (the second a rotated, noisy copy of 80% of the
first plus 20% outliers). We solve PGW with penalty ``lambda``, read off its
transported mass ``m``, and give POT's ``partial_gromov_wasserstein`` the same
``m``; both plans are scored with the same GW term.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import ot

from mintlab.transport import (
    gromov_cost_matrix,
    min_generalized_sliced_gromov_wasserstein,
    partial_gromov_wasserstein,
)

from ._timing import report


def _gw_term(C1, C2, G):
    r, c = G.sum(1), G.sum(0)
    tens = (C1**2 @ r)[:, None] + (C2**2 @ c)[None, :] - 2 * C1 @ G @ C2.T
    return float((tens * G).sum())


def main():
    quick = "--quick" in sys.argv
    only_pgw = "--pgw" in sys.argv
    rng = np.random.default_rng(0)
    rows = []
    for n in (100, 300) if quick else (100, 300, 1000):
        X = rng.normal(size=(n, 3))
        k = int(0.8 * n)
        q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        Y = np.vstack([X[:k] @ q.T + 0.02 * rng.normal(size=(k, 3)),
                       rng.uniform(-6, 6, size=(n - k, 3))])
        C1, C2 = gromov_cost_matrix(X), gromov_cost_matrix(Y)
        p = np.full(n, 1.0 / n)
        t0 = time.perf_counter()
        ours = partial_gromov_wasserstein(C1, C2, p, p, penalty=0.5)
        t_ours = time.perf_counter() - t0
        m = float(ours.transported) * (1 - 1e-9)
        t0 = time.perf_counter()
        try:
            G = ot.gromov.partial_gromov_wasserstein(C1, C2, p, p, m=m, nb_dummies=10)
        except ValueError:  # POT's LP step can fail ("increase the number of dummy points")
            G = np.full((n, n), np.nan)
        t_pot = time.perf_counter() - t0
        rows.append({"n": n, "mass": m, "ours_s": t_ours, "pot_s": t_pot,
                     "pot/ours": t_pot / t_ours, "ours_gw_term": float(ours.gw_cost),
                     "pot_gw_term": _gw_term(C1, C2, G),
                     "outlier_mass_ours": float(ours.plan[:, k:].sum()),
                     "outlier_mass_pot": float(G[:, k:].sum())})
    report("Partial GW: ours (penalised, FW with a mass-scan start) vs POT (fixed mass, "
           "told our mass)", rows, "benchmarks/results/gromov.json")
    if only_pgw:
        return

    rows = []
    for n in (1000,) if quick else (1000, 5000):
        X = rng.normal(size=(n, 3)) * np.array([2.0, 1.0, 0.5])
        q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        Y = (rng.normal(size=(n, 3)) * np.array([2.0, 1.0, 0.5])) @ q.T
        t0 = time.perf_counter()
        ours = min_generalized_sliced_gromov_wasserstein(X, Y, n_iter=100, seed=0)
        t_ours = time.perf_counter() - t0
        row = {"n": n, "ours_s": t_ours, "ours_gw": float(ours.cost)}
        if n <= 1000 or not quick:
            C1, C2 = gromov_cost_matrix(X), gromov_cost_matrix(Y)
            p = np.full(n, 1.0 / n)
            t0 = time.perf_counter()
            G = ot.gromov.gromov_wasserstein(C1, C2, p, p)
            row["pot_fw_s"] = time.perf_counter() - t0
            row["pot_fw_gw"] = _gw_term(C1, C2, G)
            row["pot/ours"] = row["pot_fw_s"] / t_ours
        rows.append(row)
    report("min-GSGW (ours, linear slicers, 100 steps) vs POT gromov_wasserstein (FW)", rows,
           "benchmarks/results/gromov_min_gsgw.json")


if __name__ == "__main__":
    main()
