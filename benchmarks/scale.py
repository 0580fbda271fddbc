"""Scale-out: embedding throughput and sharded index latency on a LocalCluster.

Run: ``python -m benchmarks scale`` (``--quick``: 10^4 sets instead of 10^5).
Writes ``benchmarks/results/scale_*.json``.

Sets of 256 points in R^3, generated partition by partition from seeds (the
same sets on the driver and on the workers). The single-process run uses
all cores through torch (2 threads); the cluster has 2 single-threaded
worker processes, so both sides use the same cores.
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np

from ._timing import report

N_POINTS, DIM, PART = 256, 3, 2_000
L, M = 32, 32


def _make_partition(i, size=PART):
    rng = np.random.default_rng(1_000 + i)
    centres = rng.normal(scale=3.0, size=(size, 1, DIM))
    scales = rng.uniform(0.5, 1.5, size=(size, 1, DIM))
    return list(centres + scales * rng.normal(size=(size, N_POINTS, DIM)))


def _percentiles(times):
    q = statistics.quantiles(times, n=100)
    return q[49], q[98]


def main():
    import dask
    import dask.bag as db
    import distributed

    from mintlab.embed import SLOSH, SlicedWassersteinEmbedding
    from mintlab.scale import ShardedSLOSH, embed_distributed

    quick = "--quick" in sys.argv
    n_sets = 10_000 if quick else 100_000
    n_parts = n_sets // PART
    sample = _make_partition(10_000, 1_000)  # fitting sample, like embed_distributed's
    swe = SlicedWassersteinEmbedding(n_projections=L, n_quantiles=M, seed=0).fit(sample)

    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    client = distributed.Client(cluster)
    rows = []
    try:
        # warm workers (a long-running cluster has torch and mintlab imported already)
        client.run(lambda: __import__("mintlab.embed") and None)
        embed_distributed(_make_partition(0, 20), swe, client=client)
        # --- embedding throughput
        t0 = time.perf_counter()
        for i in range(n_parts):
            swe.transform(_make_partition(i))
        t_single = time.perf_counter() - t0
        bag = db.from_delayed([dask.delayed(_make_partition)(i) for i in range(n_parts)])
        t0 = time.perf_counter()
        E = embed_distributed(bag, swe, client=client)
        t_dist = time.perf_counter() - t0
        rows.append({"what": "embed (generate + SWE)", "sets": n_sets,
                     "single_s": t_single, "cluster_s": t_dist,
                     "single_sets_per_s": n_sets / t_single,
                     "cluster_sets_per_s": n_sets / t_dist, "speed-up": t_single / t_dist,
                     "per_1e6_sets_cluster_s": t_dist * 1e6 / n_sets})
        del E
        report(f"Scale-out embedding, {n_sets} sets of {N_POINTS} points in R^{DIM}, "
               f"SWE L={L} M={M}", rows, "benchmarks/results/scale_embed.json")

        # --- sharded index build and query latency
        idx_rows = []
        queries = [s + 0.01 for s in _make_partition(3)[:100]]
        for kind in ("flat", "lsh"):
            t0 = time.perf_counter()
            idx = ShardedSLOSH(L, M, index=kind, n_bits=512, seed=0, fit_sample=1_000,
                               client=client).fit(bag)
            t_build = time.perf_counter() - t0
            idx.search(queries[:1], k=10)  # warm-up
            lat = []
            for q in queries:
                t0 = time.perf_counter()
                idx.search([q], k=10)
                lat.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            _, ids = idx.search(queries, k=10)
            t_batch = time.perf_counter() - t0
            hit = float((ids == (3 * PART + np.arange(100))[:, None]).any(1).mean())
            p50, p99 = _percentiles(lat)
            bytes_per_set = 4 * L * M if kind == "flat" else 512 // 8
            idx_rows.append({"index": kind, "sets": idx.n_sets, "shards": idx.n_shards,
                             "build_s": t_build, "query_p50_ms": 1e3 * p50,
                             "query_p99_ms": 1e3 * p99, "batch100_ms": 1e3 * t_batch,
                             "recall@10_of_source": hit,
                             "index_GB_per_1e6_sets": bytes_per_set * 1e6 / 1e9,
                             "build_per_1e6_sets_s": t_build * 1e6 / n_sets})
        # the single-machine index for comparison (flat, same data), built in this process
        sets_all = [s for i in range(min(n_parts, 5)) for s in _make_partition(i)]
        local = SLOSH(L, M, index="flat", seed=0).fit(sets_all)
        lat = []
        for q in queries:
            t0 = time.perf_counter()
            local.search([q], k=10)
            lat.append(time.perf_counter() - t0)
        p50, p99 = _percentiles(lat)
        idx_rows.append({"index": "flat, one process", "sets": local.n_sets, "shards": 1,
                         "query_p50_ms": 1e3 * p50, "query_p99_ms": 1e3 * p99})
        report("Sharded SLOSH on 2 workers: build and single-query latency", idx_rows,
               "benchmarks/results/scale_index.json")
    finally:
        client.close()
        cluster.close()


if __name__ == "__main__":
    main()
