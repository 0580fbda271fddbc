"""1D kernels: ours vs POT, with the floor (sorting both inputs).

The floor is ``torch.sort`` of both inputs; ``np_sort_s`` is numpy's sort of
both on one thread. For CPU input without gradients ``wasserstein_1d`` sorts
with numpy on two threads, so it can run below the torch floor.

Run: ``python -m benchmarks line``. Writes ``benchmarks/results/line.json``.
"""

from __future__ import annotations

import math

import numpy as np
import ot
import torch

from mintlab.transport import (
    circle_wasserstein,
    partial_wasserstein_1d,
    partial_wasserstein_lp,
    wasserstein_1d,
)

from ._timing import alternate, report


def bench_w1d(rows):
    rng = np.random.default_rng(0)
    for label, shape in [("n=1e5", (100_000,)), ("n=1e6", (1_000_000,)),
                         ("1000 x 1e4", (1000, 10_000))]:
        u, v = rng.normal(size=shape), rng.normal(1.0, 2.0, size=shape)
        ut, vt = torch.from_numpy(u), torch.from_numpy(v)
        # POT batches over trailing axes: give it the transposed (contiguous) layout
        uT, vT = np.ascontiguousarray(u.T), np.ascontiguousarray(v.T)
        t = alternate({
            "ours": lambda u=u, v=v: wasserstein_1d(u, v, p=2),
            "pot": lambda uT=uT, vT=vT: ot.wasserstein_1d(uT, vT, p=2),
            "floor": lambda ut=ut, vt=vt: (torch.sort(ut, -1), torch.sort(vt, -1)),
            "np_sort": lambda u=u, v=v: (np.sort(u, -1), np.sort(v, -1)),
        }, repeats=5)
        rows.append({"kernel": "wasserstein_1d p=2", "size": label,
                     "ours_s": t["ours"], "pot_s": t["pot"], "floor_s": t["floor"],
                     "pot/ours": t["pot"] / t["ours"], "ours/floor": t["ours"] / t["floor"],
                     "np_sort_s": t["np_sort"]})


def bench_partial(rows):
    rng = np.random.default_rng(1)
    times = {}
    for n in [1_000, 10_000, 100_000]:
        x, y = rng.normal(size=n), rng.normal(size=n) + 0.5
        x[: n // 20] += 8.0  # 5% far outliers
        k = int(0.9 * n)
        # the penalty at which our penalised problem transports the same mass
        ref = partial_wasserstein_1d(x, y, p=1, n_transported=k)
        lam = float(ref.penalty)
        fns = {
            "ours_penalised": lambda x=x, y=y, lam=lam: partial_wasserstein_1d(x, y, lam, p=1),
            "ours_mass_k": lambda x=x, y=y, k=k: partial_wasserstein_1d(x, y, p=1, n_transported=k),
            "pot": lambda x=x, y=y, k=k: ot.partial.partial_wasserstein_1d(x, y, k, p=1),
        }
        if n <= 1_000:
            M = np.abs(x[:, None] - y[None, :])
            fns["lp"] = lambda M=M, n=n, k=k: ot.partial.partial_wasserstein(
                np.ones(n), np.ones(n), M, m=k)
        t = alternate(fns, repeats=5 if n < 100_000 else 3)
        times[n] = t["ours_penalised"]
        rows.append({"kernel": "partial_wasserstein_1d p=1", "size": f"n={n}",
                     "ours_s": t["ours_penalised"], "pot_s": t["pot"],
                     "pot/ours": t["pot"] / t["ours_penalised"],
                     "ours_mass_k_s": t["ours_mass_k"],
                     "pot/ours_mass_k": t["pot"] / t["ours_mass_k"],
                     "lp_s": t.get("lp", float("nan"))})
    ns = sorted(times)
    exp = math.log(times[ns[-1]] / times[ns[-2]]) / math.log(ns[-1] / ns[-2])
    rows.append({"kernel": "partial_wasserstein_1d p=1", "size": "growth exponent 1e4->1e5",
                 "ours_s": exp})
    # p = 2 (the sopt default): segment dynamic programme; POT's 1D solver handles p = 2 too
    # (the same k-pair problem, checked in tests/transport/test_line.py)
    for n in [1_000, 10_000]:
        x, y = rng.normal(size=n), rng.normal(size=n) + 0.5
        x[: n // 20] += 8.0
        lam = 0.7  # transports about 90% of the points at these sizes
        k = int(partial_wasserstein_1d(x, y, lam, p=2).transported)
        fns = {"ours_penalised": lambda x=x, y=y, lam=lam: partial_wasserstein_1d(x, y, lam, p=2),
               "pot": lambda x=x, y=y, k=k: ot.partial.partial_wasserstein_1d(x, y, k, p=2)}
        if n <= 1_000:
            M = (x[:, None] - y[None, :]) ** 2
            fns["lp"] = lambda M=M, n=n, lam=lam: partial_wasserstein_lp(
                np.ones(n), np.ones(n), M, lam)
        t = alternate(fns, repeats=3)
        rows.append({"kernel": "partial_wasserstein_1d p=2", "size": f"n={n}",
                     "ours_s": t["ours_penalised"], "pot_s": t["pot"],
                     "pot/ours": t["pot"] / t["ours_penalised"],
                     "lp_s": t.get("lp", float("nan")),
                     "lp/ours": t.get("lp", float("nan")) / t["ours_penalised"]})


def bench_circle(rows):
    rng = np.random.default_rng(2)
    x, y = rng.random(10_000), rng.random(10_000) ** 2
    for p in [1, 2]:
        t = alternate({
            "ours": lambda p=p: circle_wasserstein(x, y, p=p),
            "pot": lambda p=p: ot.wasserstein_circle(x, y, p=p),
        }, repeats=5)
        rows.append({"kernel": f"circle_wasserstein p={p}", "size": "n=1e4",
                     "ours_s": t["ours"], "pot_s": t["pot"], "pot/ours": t["pot"] / t["ours"]})


def main() -> None:
    rows: list[dict] = []
    bench_w1d(rows)
    report("wasserstein_1d (ratio pot/ours > 1: ours faster)", rows,
           "benchmarks/results/line_w1d.json")
    rows = []
    bench_partial(rows)
    report("partial_wasserstein_1d (ours penalised at the penalty giving POT's mass)", rows,
           "benchmarks/results/line_partial.json")
    rows = []
    bench_circle(rows)
    report("circle_wasserstein", rows, "benchmarks/results/line_circle.json")


if __name__ == "__main__":
    main()
