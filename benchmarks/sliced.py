"""Sliced distances and plans: ours vs POT in one process, with the floor.

Run: ``python -m benchmarks sliced`` (``--quick`` skips n = 1e5 with L = 1024).
Writes ``benchmarks/results/sliced.json``.

- SW: the floor is one matmul and one sort per cloud; POT is given the same
  directions (numpy in, as most POT users call it).
- EST / min-sliced plans vs POT's ``expected_sliced_plan`` /
  ``min_sliced_transport_plan`` with the same directions. Costs are
  recomputed from the returned plans (POT 0.9.7 reports slice costs that do
  not match its own plans outside the equal-size permutation case).
- S3W (and its RI variant) vs POT's ``sliced_wasserstein_sphere`` at n = 1e4.
"""

from __future__ import annotations

import sys

import numpy as np
import ot
import torch

from mintlab.transport import (
    expected_sliced_plan,
    min_sliced_plan,
    random_directions,
    s3w_distance,
    sliced_wasserstein_distance,
)

from ._timing import alternate, on_device, report


def bench_sw(rows, quick):
    rng = np.random.default_rng(0)
    for n in (10_000, 100_000):
        for d in (3, 64):
            X = rng.normal(size=(n, d))
            Y = rng.normal(size=(n, d)) * 0.5 + 1.0
            Xt, Yt = on_device(torch.from_numpy(X)), on_device(torch.from_numpy(Y))
            Xd, Yd = on_device(X), on_device(Y)  # numpy on the CPU, tensors on a GPU
            for L in (128, 1024):
                if quick and n * L > 10_000 * 1024:
                    continue
                th = random_directions(d, L, seed=0)
                thn = th.numpy()
                th, thd = on_device(th), on_device(thn)

                def floor(th=th, Xt=Xt, Yt=Yt):
                    torch.sort(th.T @ Xt.T, dim=-1)
                    torch.sort(th.T @ Yt.T, dim=-1)

                big = n * L > 10_000 * 1024 and L > 128
                t = alternate({
                    "floor": floor,
                    "ours": lambda Xd=Xd, Yd=Yd, thd=thd: sliced_wasserstein_distance(
                        Xd, Yd, projections=thd),
                    "pot": (lambda X=X, Y=Y, thn=thn: _pot_chunked(X, Y, thn)) if big else
                    (lambda X=X, Y=Y, thn=thn: ot.sliced_wasserstein_distance(
                        X, Y, projections=thn)),
                }, repeats=1 if n * L > 10_000 * 1024 else 3)
                rows.append({"method": "SW p=2" + (" (POT in 128-slice chunks)" if big else ""),
                             "size": f"n={n:.0e} d={d} L={L}",
                             "ours_s": t["ours"], "pot_s": t["pot"], "floor_s": t["floor"],
                             "pot/ours": t["pot"] / t["ours"],
                             "ours/floor": t["ours"] / t["floor"]})


def _pot_chunked(X, Y, thn, chunk=128):
    """POT's SW over blocks of slices: in one call at n=1e5, L=1024 it needs > 19 GB."""
    total = 0.0
    for s in range(0, thn.shape[1], chunk):
        total += ot.sliced_wasserstein_distance(X, Y, projections=thn[:, s:s + chunk]) ** 2 \
            * thn[:, s:s + chunk].shape[1]
    return (total / thn.shape[1]) ** 0.5


def bench_plans(rows, quick=False):
    rng = np.random.default_rng(1)
    for n in (1_000, 5_000):
        X = rng.normal(size=(n, 3))
        Y = rng.normal(size=(n, 3)) * 0.5 + 1.0
        th = random_directions(3, 64, seed=0).numpy()
        M = ot.dist(X, Y)
        Xd, Yd, thd = on_device(X), on_device(Y), on_device(th)
        t = alternate({
            "ours": lambda Xd=Xd, Yd=Yd, thd=thd: expected_sliced_plan(Xd, Yd, projections=thd),
            "pot": lambda X=X, Y=Y, th=th: ot.expected_sliced_plan(X, Y, projections=th),
        }, repeats=3)
        ours = expected_sliced_plan(X, Y, projections=th)
        pot_plan, _ = ot.expected_sliced_plan(X, Y, projections=th)
        rows.append({"method": "EST plan L=64", "size": f"n={n}",
                     "ours_s": t["ours"], "pot_s": t["pot"], "pot/ours": t["pot"] / t["ours"],
                     "ours_cost": float(ours.cost), "pot_cost": float((pot_plan * M).sum()),
                     "exact_cost": float(ot.emd2([], [], M)) if n <= 1_000 else float("nan")})
        t = alternate({
            "ours_search": lambda Xd=Xd, Yd=Yd: min_sliced_plan(Xd, Yd, n_projections=64,
                                                                n_iter=0, seed=0),
            "ours_opt": lambda Xd=Xd, Yd=Yd: min_sliced_plan(Xd, Yd, n_projections=64,
                                                             n_iter=100, seed=0),
            "pot": lambda X=X, Y=Y, th=th: ot.min_sliced_transport_plan(X, Y, projections=th),
        }, repeats=3)
        search = min_sliced_plan(X, Y, n_projections=64, n_iter=0, seed=0)
        opt = min_sliced_plan(X, Y, n_projections=64, n_iter=100, seed=0)
        pot_plan, _ = ot.min_sliced_transport_plan(X, Y, projections=th)
        rows.append({"method": "min-sliced plan L=64", "size": f"n={n}",
                     "ours_s": t["ours_search"], "pot_s": t["pot"],
                     "pot/ours": t["pot"] / t["ours_search"], "ours_opt_s": t["ours_opt"],
                     "ours_cost": float(search.cost), "ours_opt_cost": float(opt.cost),
                     "pot_cost": float((pot_plan * M).sum())})


def bench_sphere(rows, quick=False):
    rng = np.random.default_rng(2)
    n = 10_000
    X = rng.normal(size=(n, 3))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    Y = rng.normal(size=(n, 3)) + np.array([0.0, 0.0, 2.0])
    Y /= np.linalg.norm(Y, axis=1, keepdims=True)
    Xd, Yd = on_device(X), on_device(Y)
    t = alternate({
        "s3w": lambda: s3w_distance(Xd, Yd, n_projections=200, seed=0),
        "ri_s3w_10": lambda: s3w_distance(Xd, Yd, variant="ri", n_rotations=10,
                                          n_projections=200, seed=0),
        "ari_s3w_10": lambda: s3w_distance(Xd, Yd, variant="ari", n_rotations=10,
                                           n_projections=200, seed=0),
        "pot_ssw": lambda: ot.sliced_wasserstein_sphere(X, Y, n_projections=200, seed=0),
    }, repeats=3)
    for k in ("s3w", "ri_s3w_10", "ari_s3w_10"):
        rows.append({"method": k, "size": f"n={n} L=200", "ours_s": t[k],
                     "pot_s": t["pot_ssw"], "pot/ours": t["pot_ssw"] / t[k]})


PARTS = {"sw": ("Sliced Wasserstein", bench_sw), "plans": ("Sliced plans", bench_plans),
         "sphere": ("Spherical", bench_sphere)}


def main():
    """``--quick`` drops n=1e5 with L=1024; ``--only=plans,sphere`` runs some parts."""
    quick = "--quick" in sys.argv
    only = next((a.split("=", 1)[1].split(",") for a in sys.argv if a.startswith("--only=")),
                list(PARTS))
    torch.manual_seed(0)
    for key in only:
        title, fn = PARTS[key]
        rows: list[dict] = []
        fn(rows, quick)
        report(title, rows, f"benchmarks/results/sliced_{key}.json")


if __name__ == "__main__":
    main()
