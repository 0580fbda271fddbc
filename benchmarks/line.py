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

from ._timing import alternate, on_device, report


def bench_w1d(rows):
    rng = np.random.default_rng(0)
    for label, shape in [("n=1e5", (100_000,)), ("n=1e6", (1_000_000,)),
                         ("1000 x 1e4", (1000, 10_000))]:
        u, v = rng.normal(size=shape), rng.normal(1.0, 2.0, size=shape)
        ut, vt = on_device(torch.from_numpy(u)), on_device(torch.from_numpy(v))
        ud, vd = on_device(u), on_device(v)  # numpy on the CPU, tensors on a GPU
        # POT batches over trailing axes: give it the transposed (contiguous) layout
        uT, vT = np.ascontiguousarray(u.T), np.ascontiguousarray(v.T)
        t = alternate({
            "ours": lambda ud=ud, vd=vd: wasserstein_1d(ud, vd, p=2),
            "pot": lambda uT=uT, vT=vT: ot.wasserstein_1d(uT, vT, p=2),
            "floor": lambda ut=ut, vt=vt: (torch.sort(ut, -1), torch.sort(vt, -1)),  # our device
            "np_sort": lambda u=u, v=v: (np.sort(u, -1), np.sort(v, -1)),
        }, repeats=5)
        rows.append({"kernel": "wasserstein_1d p=2", "size": label,
                     "ours_s": t["ours"], "pot_s": t["pot"], "floor_s": t["floor"],
                     "pot/ours": t["pot"] / t["ours"], "ours/floor": t["ours"] / t["floor"],
                     "np_sort_s": t["np_sort"]})


def bench_partial(rows):
    """Partial transport on the line, one thread on both sides (see :func:`bench_partial_p2`)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _bench_partial_p1(rows)
        bench_partial_p2(rows)
        bench_partial_path(rows)
    finally:
        torch.set_num_threads(threads)


def _bench_partial_p1(rows):
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
        rows.append({"kernel": "partial_wasserstein_1d p=1", "size": f"n={n}", "threads": 1,
                     "ours_s": t["ours_penalised"], "pot_s": t["pot"],
                     "pot/ours": t["pot"] / t["ours_penalised"],
                     "ours_mass_k_s": t["ours_mass_k"],
                     "pot/ours_mass_k": t["pot"] / t["ours_mass_k"],
                     "lp_s": t.get("lp", float("nan"))})
    ns = sorted(times)
    exp = math.log(times[ns[-1]] / times[ns[-2]]) / math.log(ns[-1] / ns[-2])
    rows.append({"kernel": "partial_wasserstein_1d p=1", "size": "growth exponent 1e4->1e5",
                 "ours_s": exp})


def bench_partial_p2(rows, sizes=(1_000, 10_000, 100_000)):
    """p = 2 (the sopt default), penalised and mass-constrained, vs POT's 1D solver.

    Same data as p = 1; the penalty (0.7) transports about 90% of the points and the
    mass-constrained form asks for that many pairs, POT's problem. ``prev_s``: the
    state-pruned segment programme this kernel replaces (penalised; sorting included).
    POT grows quadratically here, so at n = 1e5 it runs once (about half a minute).
    Both sides run on one thread (our kernels for one problem are sequential; torch's
    intra-op threads only slow the input checks down when the cores are shared).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _bench_partial_p2(rows, sizes)
    finally:
        torch.set_num_threads(threads)


def _bench_partial_p2(rows, sizes):
    from mintlab.transport._partial1d import solve_sorted

    from ._timing import median_time

    def previous(x, y, lam):
        xs, ys = np.sort(x), np.sort(y)
        return solve_sorted(xs, ys, lam, 2.0, np.empty(len(xs), np.int64))

    rng = np.random.default_rng(1)
    times: dict[str, dict[int, float]] = {"ours": {}, "ours_mass": {}, "pot": {}, "prev": {}}
    for n in sizes:
        x, y = rng.normal(size=n), rng.normal(size=n) + 0.5
        x[: n // 20] += 8.0
        lam = 0.7
        k = int(partial_wasserstein_1d(x, y, lam, p=2).transported)
        fns = {
            "ours": lambda x=x, y=y, lam=lam: partial_wasserstein_1d(x, y, lam, p=2),
            "ours_mass": lambda x=x, y=y, k=k: partial_wasserstein_1d(
                x, y, p=2, n_transported=k),
            "prev": lambda x=x, y=y, lam=lam: previous(x, y, lam),
        }
        pot = lambda x=x, y=y, k=k: ot.partial.partial_wasserstein_1d(x, y, k, p=2)  # noqa: E731
        if n < 100_000:
            fns["pot"] = pot
        if n <= 1_000:  # the LP of the penalised problem, for scale
            M = (x[:, None] - y[None, :]) ** 2
            fns["lp"] = lambda M=M, n=n, lam=lam: partial_wasserstein_lp(
                np.ones(n), np.ones(n), M, lam)
        t = alternate(fns, repeats=3 if n < 100_000 else 2, warmup=1)
        if n >= 100_000:
            t["pot"] = median_time(pot, repeats=1, warmup=0)
        for key in times:
            times[key][n] = t[key]
        rows.append({"kernel": "partial_wasserstein_1d p=2", "size": f"n={n}", "threads": 1,
                     "ours_s": t["ours"], "ours_mass_s": t["ours_mass"], "pot_s": t["pot"],
                     "pot/ours": t["pot"] / t["ours"], "pot/ours_mass": t["pot"] / t["ours_mass"],
                     "prev_s": t["prev"], "prev/ours": t["prev"] / t["ours"],
                     "lp_s": t.get("lp", float("nan"))})
    if len(sizes) >= 2:
        a, b = sizes[-2], sizes[-1]
        growth = {key: math.log(v[b] / v[a]) / math.log(b / a) for key, v in times.items()}
        rows.append({"kernel": "partial_wasserstein_1d p=2",
                     "size": f"growth exponent {a:.0e}->{b:.0e}",
                     "ours_s": growth["ours"], "ours_mass_s": growth["ours_mass"],
                     "pot_s": growth["pot"], "prev_s": growth["prev"]})


def bench_partial_path(rows, n=1_000):
    """The whole cost-versus-mass path in one sweep vs one mass-constrained solve per mass.

    POT's 1D solver also returns every mass in one call (its marginal costs).
    """
    from mintlab.transport.line import partial_wasserstein_1d_path

    rng = np.random.default_rng(3)
    x, y = rng.normal(size=n), rng.normal(size=n) + 0.5
    x[: n // 20] += 8.0

    def per_k():
        return [partial_wasserstein_1d(x, y, p=2, n_transported=k) for k in range(n + 1)]

    t = alternate({
        "path": lambda: partial_wasserstein_1d_path(x, y, p=2),
        "per_k": per_k,
        "pot": lambda: ot.partial.partial_wasserstein_1d(x, y, n, p=2),
    }, repeats=3)
    rows.append({"kernel": "partial_wasserstein_1d_path p=2", "size": f"n={n}, all masses",
                 "threads": 1,
                 "ours_s": t["path"], "pot_s": t["pot"], "pot/ours": t["pot"] / t["path"],
                 "per_k_s": t["per_k"], "per_k/ours": t["per_k"] / t["path"]})


def bench_circle(rows):
    rng = np.random.default_rng(2)
    x, y = rng.random(10_000), rng.random(10_000) ** 2
    xd, yd = on_device(x), on_device(y)
    for p in [1, 2]:
        t = alternate({
            "ours": lambda p=p: circle_wasserstein(xd, yd, p=p),
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
