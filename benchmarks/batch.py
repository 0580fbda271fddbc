"""Ragged batches and pairwise matrices: ours vs a loop of POT's function over pairs.

(a) 256 pairs of 1D measures with sizes drawn in [10, 2000]: ``wasserstein_1d``
(p = 2), ``circle_wasserstein`` (p = 1), ``partial_wasserstein_1d`` (p = 1,
mass-constrained with ``k = 0.9 min(n, m)``, POT's problem) and the sliced
distance (clouds in d = 3, L = 50, same directions), each as one ragged call
against a loop of POT's function (timed alternately with ours) and a loop of
ours over the pairs (timed after them: its idle torch worker threads keep
spinning for a while and would slow down the next call).

(b) K = 200 clouds of 500 points in d = 3, L = 50 directions:
``sliced_wasserstein_matrix`` against a loop of POT's
``sliced_wasserstein_distance`` over the K (K - 1) / 2 pairs with the same
directions. The loop is timed on a random subset of pairs and scaled to all
pairs (``pot_pairs_timed`` in the JSON).

Run: ``python -m benchmarks batch`` (``--quick``: fewer repeats and pairs timed).
Writes ``benchmarks/results/batch.json``.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import ot
import torch

from mintlab.transport import (
    circle_wasserstein,
    partial_wasserstein_1d,
    sliced_wasserstein_distance,
    wasserstein_1d,
)
from mintlab.transport.batch import sliced_wasserstein_matrix

from ._timing import alternate, report


def _timed(reps, ours, pot, loop):
    """Ours and POT's loop timed alternately; our own loop after them, on its own.

    Our per-pair loop runs many small multi-threaded torch operations whose
    idle worker threads keep spinning for a while; timed in the same rounds
    they would slow down whichever call follows them.
    """
    t = alternate({"ours": ours, "pot": pot}, repeats=reps)
    t["loop"] = alternate({"loop": loop}, repeats=max(1, reps // 2))["loop"]
    return t


def _row(kernel, size, t, err):
    return {"kernel": kernel, "size": size, "ours_s": t["ours"], "pot_loop_s": t["pot"],
            "our_loop_s": t["loop"], "pot_loop/ours": t["pot"] / t["ours"],
            "our_loop/ours": t["loop"] / t["ours"], "max_abs_diff": err}


def bench_ragged(rows, quick):
    rng = np.random.default_rng(0)
    K = 256
    ns, ms = rng.integers(10, 2001, K), rng.integers(10, 2001, K)
    size = f"{K} pairs, n in [10, 2000]"
    reps = 3 if quick else 5
    us = [rng.normal(size=n) for n in ns]
    vs = [rng.normal(0.5, 2.0, size=m) for m in ms]

    # W_2^2 on the line
    ref = np.array([ot.wasserstein_1d(u, v, p=2) for u, v in zip(us, vs, strict=True)])
    err = float(np.abs(wasserstein_1d(us, vs, p=2) - ref).max())
    t = _timed(reps, lambda: wasserstein_1d(us, vs, p=2),
               lambda: [ot.wasserstein_1d(u, v, p=2) for u, v in zip(us, vs, strict=True)],
               lambda: [wasserstein_1d(u, v, p=2) for u, v in zip(us, vs, strict=True)])
    rows.append(_row("wasserstein_1d p=2", size, t, err))

    # W_1 on the circle
    cu, cv = [np.mod(u, 1.0) for u in us], [np.mod(v, 1.0) for v in vs]
    ref = np.array([float(np.squeeze(ot.wasserstein_circle(u, v, p=1)))
                    for u, v in zip(cu, cv, strict=True)])
    err = float(np.abs(circle_wasserstein(cu, cv, p=1) - ref).max())
    t = _timed(reps, lambda: circle_wasserstein(cu, cv, p=1),
               lambda: [ot.wasserstein_circle(u, v, p=1) for u, v in zip(cu, cv, strict=True)],
               lambda: [circle_wasserstein(u, v, p=1) for u, v in zip(cu, cv, strict=True)])
    rows.append(_row("circle_wasserstein p=1", size, t, err))

    # partial transport on the line, p = 1, POT's mass-constrained problem
    ks = (0.9 * np.minimum(ns, ms)).astype(int)
    ref = np.array([np.sum(ot.partial.partial_wasserstein_1d(u, v, int(k), p=1)[2])
                    for u, v, k in zip(us, vs, ks, strict=True)])
    err = float(np.abs(partial_wasserstein_1d(us, vs, p=1, n_transported=ks).transport_cost
                       - ref).max())
    t = _timed(reps, lambda: partial_wasserstein_1d(us, vs, p=1, n_transported=ks),
               lambda: [ot.partial.partial_wasserstein_1d(u, v, int(k), p=1)
                        for u, v, k in zip(us, vs, ks, strict=True)],
               lambda: [partial_wasserstein_1d(u, v, p=1, n_transported=int(k))
                        for u, v, k in zip(us, vs, ks, strict=True)])
    rows.append(_row("partial_wasserstein_1d p=1 (k = 0.9 min(n, m))", size, t, err))

    # sliced Wasserstein, clouds in d = 3, 50 shared directions
    Xs = [rng.normal(size=(n, 3)) for n in ns]
    Xt = [rng.normal(0.5, 1.5, size=(m, 3)) for m in ms]
    th = rng.normal(size=(3, 50))
    th /= np.linalg.norm(th, axis=0)
    ref = np.array([ot.sliced_wasserstein_distance(x, y, projections=th)
                    for x, y in zip(Xs, Xt, strict=True)])
    err = float(np.abs(sliced_wasserstein_distance(Xs, Xt, projections=th) - ref).max())
    # our per-pair loop on the first 32 pairs, scaled to all (it is the slow side here)
    sub = 32
    t = _timed(reps, lambda: sliced_wasserstein_distance(Xs, Xt, projections=th),
               lambda: [ot.sliced_wasserstein_distance(x, y, projections=th)
                        for x, y in zip(Xs, Xt, strict=True)],
               lambda: [sliced_wasserstein_distance(x, y, projections=th)
                        for x, y in zip(Xs[:sub], Xt[:sub], strict=True)])
    t["loop"] *= K / sub
    row = _row("sliced_wasserstein_distance L=50 d=3", size, t, err)
    row["note"] = f"our loop timed on {sub} of {K} pairs (scaled)"
    rows.append(row)


def _loop_time(fn, pairs):
    t0 = time.perf_counter()
    for i, j in pairs:
        fn(i, j)
    return time.perf_counter() - t0


def bench_matrix(rows, quick):
    rng = np.random.default_rng(1)
    K, n, d, L = 200, 500, 3, 50
    sets = [rng.normal(size=(n, d)) * rng.uniform(0.5, 2.0) + rng.normal(size=d)
            for _ in range(K)]
    th = rng.normal(size=(d, L))
    th /= np.linalg.norm(th, axis=0)
    n_pairs = K * (K - 1) // 2
    t = alternate({"ours": lambda: sliced_wasserstein_matrix(sets, projections=th)},
                  repeats=2 if quick else 3)
    D = sliced_wasserstein_matrix(sets, projections=th)
    iu, ju = np.triu_indices(K, 1)
    sub = rng.choice(n_pairs, 100 if quick else 400, replace=False)
    pairs = list(zip(iu[sub], ju[sub], strict=True))

    def pot(i, j):
        return ot.sliced_wasserstein_distance(sets[i], sets[j], projections=th)

    def ours_pair(i, j):
        return sliced_wasserstein_distance(sets[i], sets[j], projections=th)

    err = max(abs(float(pot(i, j)) - D[i, j]) for i, j in pairs[:50])
    pot(*pairs[0])
    ours_pair(*pairs[0])
    pot_s = _loop_time(pot, pairs) * n_pairs / len(pairs)
    loop_s = _loop_time(ours_pair, pairs) * n_pairs / len(pairs)
    rows.append({"kernel": "sliced_wasserstein_matrix", "size": f"K={K}, n={n}, d={d}, L={L}",
                 "ours_s": t["ours"], "pot_loop_s": pot_s, "our_loop_s": loop_s,
                 "pot_loop/ours": pot_s / t["ours"], "our_loop/ours": loop_s / t["ours"],
                 "max_abs_diff": err,
                 "pot_pairs_timed": f"{len(pairs)} of {n_pairs} (scaled)"})


def main():
    """``--quick``: fewer repeats and fewer POT pairs timed for the matrix."""
    quick = "--quick" in sys.argv
    rows: list[dict] = []
    bench_ragged(rows, quick)
    bench_matrix(rows, quick)
    report("Ragged batches and pairwise matrices vs loops over pairs (POT's and ours)", rows,
           "benchmarks/results/batch.json")


if __name__ == "__main__":
    torch.set_num_threads(torch.get_num_threads())
    main()
