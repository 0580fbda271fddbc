"""``luna``: linear attention with a learned positive-definite feature map.

The shared harness of :mod:`._attention_common` with softmax attention, LUNA
with fixed random positive features (the Performer-style baseline the paper
improves on) and LUNA with the features learned (32 features per head).
Checks: accuracy matches softmax, learning the features beats keeping them
fixed, time is linear in the length, and the streaming (chunked causal)
form equals one causal pass.
"""

from __future__ import annotations

import numpy as np
import torch

from mintlab.nn import LUNAAttention

from ._attention_common import accuracy_figure, run_tasks, step_seconds
from ._core import Experiment, Result
from ._sets_common import one_torch_thread
from .lotformer import growth
from .registry import register

CLAIM = (
    "Learning the kernel's feature map keeps attention linear-time while matching softmax "
    "accuracy and beating fixed random features."
)
NAMES = ("softmax", "luna_fixed", "luna")


def run(quick: bool = True, seed: int = 0) -> Result:
    with one_torch_thread():
        return _run(quick, seed)


def _run(quick, seed):
    res = Result()
    acc, _, _ = run_tasks(NAMES, quick, seed)
    for (task, name), a in acc.items():
        res.metrics[f"accuracy_{task}_{name}"] = a
    n0, n1 = (512, 2048) if quick else (512, 4096)
    secs = {(name, n): step_seconds(name, n) for name in ("softmax", "luna") for n in (n0, n1)}
    for (name, n), t in secs.items():
        res.metrics[f"seconds_{name}_n{n}"] = t
    g_luna, g_soft = growth(secs, "luna", n0, n1), growth(secs, "softmax", n0, n1)
    res.metrics["time_growth_luna"], res.metrics["time_growth_softmax"] = g_luna, g_soft

    torch.manual_seed(seed)
    causal = LUNAAttention(32, 2, n_features=32, causal=True, chunk_size=64, seed=seed).double()
    x = torch.randn(2, 300, 32, dtype=torch.float64)
    with torch.no_grad():
        full = causal(x)[0]
        state, parts = None, []
        for s in range(0, 300, 50):
            o, state = causal.stream(x[:, s:s + 50], state)
            parts.append(o)
        stream_err = float((torch.cat(parts, 1) - full).abs().max())
    res.metrics["stream_max_error"] = stream_err

    tasks = ("needle", "points")
    d_soft = float(np.mean([acc[(t, "luna")] - acc[(t, "softmax")] for t in tasks]))
    d_fixed = float(np.mean([acc[(t, "luna")] - acc[(t, "luna_fixed")] for t in tasks]))
    res.check("luna_matches_softmax", d_soft, -0.02, ">=",
              description="test accuracy LUNA minus softmax, mean of the two tasks "
                          f"(points {acc[('points', 'luna')]:.2f} vs "
                          f"{acc[('points', 'softmax')]:.2f})")
    res.check("learned_features_beat_fixed", d_fixed, 0.0, ">=",
              description="test accuracy learned minus fixed random features, mean of the tasks")
    ratio = n1 / n0
    res.check("luna_time_linear", g_luna, ratio * np.sqrt(ratio), "<=",
              description=f"time growth from n = {n0} to {n1} (linear: {ratio:.0f}, quadratic: "
                          f"{ratio ** 2:.0f}; softmax measured {g_soft:.1f})")
    res.check("streaming_equals_causal", stream_err, 1e-10, "<=",
              description="max difference, chunk-by-chunk streaming vs one causal pass "
                          "(float64, 300 tokens in chunks of 50)")
    res.figures["luna_accuracy"] = accuracy_figure(acc, NAMES, "luna")
    return res


EXPERIMENT = register(Experiment("luna", CLAIM, run))
