"""``ptlp``: Partial Transport Lp distances, reproduced at small scale.

Nearest-neighbour classification of 1D signals (three classes of shapes:
one bump, two bumps, a plateau; random positions and widths) under impulsive
noise (a fraction of the samples of each test signal replaced by large
spikes). The 1-NN metric is L2, TLp (full transport of the graphs), PTLp
(partial transport of the graphs, exact LP) or sliced PTLp (32 slices).

Three claims of the abstract, judged on per-test-signal 1-NN correctness
(paired by test signal, pooled over seeds) at the judged noise level, and on
per-pair solve times:

1. ``robust_metric``: PTLp is robust to local noise where full transport is
   not. Compare: PTLp vs TLp.
2. ``sliced_fast``: the sliced variant is a fast stand-in for PTLp.
   Compare: log seconds per pair of long signals (512 samples), sliced vs
   exact PTLp, lower is better (the speed-up is reported); 1-NN correctness,
   sliced PTLp vs TLp under noise (it keeps the robustness); and sliced PTLp
   vs exact PTLp minus ``delta = 0.05`` (as accurate to within 5 points).
   On the 64-sample signals of the classification the slices are no faster
   than the LP (both per-pair times are reported).
3. ``nn_classification``: the distances serve nearest-neighbour
   classification. Compare: PTLp vs L2 under noise.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass

import numba
import numpy as np

from mintlab.transport import ptlp_distance, sliced_ptlp_distance, tlp_distance

from ._core import Experiment, Result, Settings
from .registry import register

CLAIMS = {
    "robust_metric": "Partial transport Lp distances are a new family of metrics for comparing "
                     "generic signals, benefiting from the robustness of partial transport "
                     "distances.",
    "sliced_fast": "The sliced variation of these distances allows for rapid comparison of "
                   "generic signals.",
    "nn_classification": "We demonstrate the application of the proposed distances in signal "
                         "class separability and nearest neighbor classification.",
}

N = 64
PENALTY = 1.0
SCALE = 0.1  # moving a sample by 0.1 along the domain costs like an amplitude error of 1
N_SLICES = 32
LONG = 512  # samples of the long signals the solve times are judged on
DELTA = 0.05  # "as accurate": sliced PTLp's 1-NN accuracy may trail exact PTLp's by 5 points


@dataclass(frozen=True, kw_only=True)
class PtlpSettings(Settings):
    n_train: int  # training signals per class
    n_test: int  # test signals per class
    levels: tuple[float, ...]  # fractions of spiked samples (the curve in the figure)
    judged_level: float  # the level the comparisons are made at (one of ``levels``)
    n_speed_pairs: int  # pairs of long signals timed, exact vs sliced


QUICK = PtlpSettings(seeds=3, n_train=8, n_test=12, levels=(0.2,), judged_level=0.2,
                     n_speed_pairs=3)
FULL = PtlpSettings(seeds=5, n_train=20, n_test=40, levels=(0.0, 0.05, 0.1, 0.15, 0.2, 0.3),
                    judged_level=0.2, n_speed_pairs=10)
EXPECTED = "partly reproduced (2 of 3)"


def _signal(rng, label, n=N):
    t = np.linspace(0, 1, n)
    c, w = rng.uniform(0.3, 0.7), rng.uniform(0.04, 0.08)
    if label == 0:
        f = np.exp(-((t - c) ** 2) / (2 * w**2))
    elif label == 1:
        d = rng.uniform(0.15, 0.25)
        f = np.exp(-((t - c + d) ** 2) / (2 * w**2)) + np.exp(-((t - c - d) ** 2) / (2 * w**2))
    else:
        f = 1 / (1 + np.exp(-(t - c + 0.12) / 0.02)) - 1 / (1 + np.exp(-(t - c - 0.12) / 0.02))
    return f + 0.03 * rng.normal(size=n)


def _spikes(rng, f, fraction):
    g = f.copy()
    k = int(round(fraction * len(f)))
    idx = rng.choice(len(f), k, replace=False)
    g[idx] += rng.choice([-1, 1], k) * rng.uniform(2.0, 4.0, k)
    return g


def _metrics():
    return {
        "l2": lambda a, b: float(np.linalg.norm(a - b)),
        "tlp": lambda a, b: float(tlp_distance(a, b, spatial_scale=SCALE)),
        "ptlp": lambda a, b: float(ptlp_distance(a, b, PENALTY, spatial_scale=SCALE)),
        "sliced_ptlp": lambda a, b: float(sliced_ptlp_distance(
            a, b, PENALTY, spatial_scale=SCALE, n_projections=N_SLICES, seed=0)),
    }


@contextmanager
def _one_solver_thread():
    """Run the sliced solver's batch loop on one thread, as the LP runs, for fair timings.

    The setting is local to the calling thread and restored on exit. On a busy
    machine the parallel loop over 32 tiny slices costs far more than it saves.
    """
    old = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(old)


def run(settings: PtlpSettings = QUICK, seed: int = 0) -> Result:
    with _one_solver_thread():
        return _run(settings, seed)


def _run(settings: PtlpSettings, seed: int) -> Result:
    import matplotlib.pyplot as plt

    if settings.judged_level not in settings.levels:
        raise ValueError(f"judged_level {settings.judged_level} must be one of the levels "
                         f"{settings.levels}")
    rng = np.random.default_rng(seed)
    res = Result(seed=seed)
    levels = list(settings.levels)
    ytr = np.repeat(np.arange(3), settings.n_train)
    yte = np.repeat(np.arange(3), settings.n_test)
    train = [_signal(rng, c) for c in ytr]
    clean_test = [_signal(rng, c) for c in yte]
    metrics = _metrics()
    for dist in metrics.values():  # warm up every path once
        dist(train[0], train[1])
    acc = {k: [] for k in metrics}
    correct = {}
    seconds = {k: 0.0 for k in metrics}
    for level in levels:
        test = [_spikes(rng, f, level) for f in clean_test]
        for k, dist in metrics.items():
            t0 = time.perf_counter()
            D = np.array([[dist(a, b) for b in train] for a in test])
            seconds[k] += time.perf_counter() - t0
            ok = (ytr[np.argmin(D, axis=1)] == yte).astype(float)
            acc[k].append(float(ok.mean()))
            if level == settings.judged_level:
                correct[k] = ok
    n_pairs = len(levels) * len(yte) * len(ytr)
    for k in metrics:
        for level, a in zip(levels, acc[k], strict=True):
            res.metrics[f"accuracy_{k}_noise{level:g}"] = a
        res.metrics[f"ms_per_pair_{k}_n{N}"] = 1e3 * seconds[k] / n_pairs
    lv = f"{settings.judged_level:.0%} spikes, {len(yte)} test signals"
    res.compare("ptlp_beats_tlp_under_noise", correct["ptlp"], correct["tlp"],
                claim="robust_metric",
                description=f"1-NN correctness per test signal, PTLp vs TLp, {lv}")
    res.compare("ptlp_beats_l2_under_noise", correct["ptlp"], correct["l2"],
                claim="nn_classification",
                description=f"1-NN correctness per test signal, PTLp vs L2, {lv}")
    res.compare("sliced_ptlp_beats_tlp_under_noise", correct["sliced_ptlp"], correct["tlp"],
                claim="sliced_fast",
                description=f"1-NN correctness per test signal, sliced PTLp ({N_SLICES} slices) "
                            f"vs TLp, {lv}")
    res.compare("sliced_ptlp_close_to_ptlp", correct["sliced_ptlp"], correct["ptlp"] - DELTA,
                claim="sliced_fast",
                description=f"1-NN correctness per test signal, sliced PTLp vs exact PTLp minus "
                            f"{DELTA:g} (as accurate to within {DELTA:g}), {lv}",
                known_gap="Sliced PTLp's 1-NN accuracy is {ours:.3f}; exact PTLp's, less "
                          f"{DELTA:g}, " + "is {baseline:.3f} (difference interval "
                          "[{low:.3f}, {high:.3f}], {n} test signals): sliced PTLp loses "
                          "more accuracy under spikes than the exact distance. The likely "
                          "cause: a spike stands apart from the graph in most of the "
                          f"{N_SLICES} projections but not in all, so the sliced distance "
                          "pays for part of the noise that the exact partial plan leaves "
                          "unmatched.")

    # speed where the exact LP is costly: signals of LONG samples
    grid, fine = np.linspace(0, 1, N), np.linspace(0, 1, LONG)
    t_exact, t_sliced = [], []
    for i in range(settings.n_speed_pairs):
        c = i % 3
        a = _spikes(rng, np.interp(fine, grid, _signal(rng, c)), 0.1)
        b = np.interp(fine, grid, _signal(rng, c))
        t0 = time.perf_counter()
        ptlp_distance(a, b, PENALTY, spatial_scale=SCALE)
        t_exact.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        sliced_ptlp_distance(a, b, PENALTY, spatial_scale=SCALE, n_projections=N_SLICES, seed=0)
        t_sliced.append(time.perf_counter() - t0)
    t_exact, t_sliced = np.asarray(t_exact), np.asarray(t_sliced)
    res.metrics.update({f"seconds_ptlp_n{LONG}": float(np.median(t_exact)),
                        f"seconds_sliced_ptlp_n{LONG}": float(np.median(t_sliced)),
                        f"exact_over_sliced_time_n{LONG}": float(np.median(t_exact / t_sliced))})
    res.compare("sliced_ptlp_faster", np.log(t_sliced), np.log(t_exact), better="lower",
                claim="sliced_fast",
                description=f"log seconds per pair of {LONG}-sample signals, sliced PTLp "
                            f"({N_SLICES} slices) vs exact PTLp (LP)")

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for k in metrics:
        axes[0].plot(levels, acc[k], "o-", label=k)
    axes[0].set_xlabel("fraction of samples replaced by spikes")
    axes[0].set_ylabel("1-NN accuracy")
    axes[0].legend(fontsize=7)
    t = np.linspace(0, 1, N)
    for c in range(3):
        axes[1].plot(t, _spikes(rng, _signal(rng, c), settings.judged_level) + 5 * c, lw=0.8)
    axes[1].set_title("one noisy signal per class (offset)")
    fig.tight_layout()
    res.figures["ptlp"] = fig
    return res


EXPERIMENT = register(Experiment(
    "ptlp", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="synthetic: 1D signals of three shape classes (bump, two bumps, plateau) with spikes",
    full_scale="the paper's signal-classification benchmarks with hundreds of test signals "
               "per class, several noise types, and multi-channel signals",
))
