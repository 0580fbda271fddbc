"""``luna``: linear attention with a learned positive-definite feature map.

The shared harness of :mod:`._attention_common` with softmax attention, LUNA
with fixed positive random features (the Performer-style baseline the paper
improves on) and LUNA with the features learned (32 features per head), all
trained alike. Three claims of the abstract:

1. ``surpasses_softmax``: LUNA is more accurate than softmax attention, on
   per-test-item correctness over both tasks, paired (bootstrap over items
   and seeds);
2. ``learned_beats_fixed``: learning the feature map beats keeping the random
   features fixed, on the same paired items;
3. ``linear_time``: the time of one forward and backward pass grows with the
   sequence length like ``n^a`` with ``a <= 1.5`` (linear: 1, softmax: 2),
   judged on the exponents of paired timing rounds.

That the streaming (chunked causal) form equals one causal pass holds by
construction and is a unit test (``tests/nn/test_luna_claims.py``). The
abstract's post-hoc conversion of fine-tuned BERT and ViT checkpoints is not
tested here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._attention_common import (
    AttentionSettings,
    accuracy_figure,
    both_tasks,
    growth_exponents,
    run_tasks,
    step_times,
)
from ._core import Experiment, Result
from ._sets_common import one_thread
from .registry import register

CLAIMS = {
    "surpasses_softmax": "LUNA is a kernelized linear attention mechanism that eliminates "
                         "this trade-off, retaining linear cost while matching and surpassing "
                         "the accuracy of quadratic attention.",
    "learned_beats_fixed": "By parameterizing the kernel, LUNA learns a feature basis tailored "
                           "to the specific data and task, overcoming the expressive "
                           "limitations of fixed-feature methods.",
    "linear_time": "LUNA implements this with a learnable feature map that induces a "
                   "positive-definite kernel and admits a streaming form, yielding linear time "
                   "and memory scaling in the sequence length.",
}


@dataclass(frozen=True, kw_only=True)
class LunaSettings(AttentionSettings):
    time_short: int  # shorter timed sequence length
    time_long: int  # longer timed sequence length


QUICK = LunaSettings(
    seeds=3, needle_length=48, needle_train=384, needle_test=300, needle_epochs=8,
    clouds_train=12, clouds_test=30, clouds_epochs=30, extra_attentions=(),
    time_repeats=4, time_short=256, time_long=1024)
FULL = LunaSettings(
    seeds=3, needle_length=256, needle_train=2000, needle_test=1000, needle_epochs=15,
    clouds_train=48, clouds_test=40, clouds_epochs=30, extra_attentions=(),
    time_repeats=7, time_short=512, time_long=4096)
EXPECTED = "partly reproduced (1 of 3)"

MAX_EXPONENT = 1.5  # growth exponent still called linear (softmax's is 2)
NAMES = ("softmax", "luna_fixed", "luna")


def run(settings: LunaSettings = QUICK, seed: int = 0) -> Result:
    with one_thread():
        return _run(settings, seed)


def _run(settings, seed):
    res = Result(seed=seed)
    names = (*NAMES, *settings.extra_attentions)
    correct, _, _ = run_tasks(names, settings, seed)
    for (task, name), c in correct.items():
        res.metrics[f"accuracy_{task}_{name}"] = float(c.mean())
    n0, n1 = settings.time_short, settings.time_long
    t0 = step_times(("luna", "softmax"), n0, settings.time_repeats)
    t1 = step_times(("luna", "softmax"), n1, settings.time_repeats)
    for n, times in ((n0, t0), (n1, t1)):
        for name, t in times.items():
            res.metrics[f"seconds_{name}_n{n}"] = float(np.median(t))
    expo = growth_exponents(t0["luna"], t1["luna"], n0, n1)
    res.metrics["time_exponent_luna"] = float(expo.mean())
    res.metrics["time_exponent_softmax"] = float(
        growth_exponents(t0["softmax"], t1["softmax"], n0, n1).mean())

    ours = both_tasks(correct, "luna")
    res.compare("luna_more_accurate_than_softmax", ours, both_tasks(correct, "softmax"),
                better="higher", claim="surpasses_softmax",
                description="per-test-item correctness over both tasks, LUNA vs softmax "
                            "attention (same items, same training recipe)",
                known_gap="LUNA {ours:.3f} vs softmax {baseline:.3f}, difference interval "
                          "[{low:.3f}, {high:.3f}]: it matches softmax but does not surpass it "
                          "here; both solve the needle task, and on the point clouds the two "
                          "are within test-set noise. The long-range tasks where the paper "
                          "reports its gains (LRA) are not run.")
    res.compare("learned_features_beat_fixed", ours, both_tasks(correct, "luna_fixed"),
                better="higher", claim="learned_beats_fixed",
                description="per-test-item correctness over both tasks, learned vs fixed "
                            "random features (same layer, same initial features)",
                known_gap="Learned {ours:.3f} vs fixed {baseline:.3f}, difference interval "
                          "[{low:.3f}, {high:.3f}]: on these two small tasks 32 positive random "
                          "features per head already fit (both solve the needle task), so "
                          "learning them has nothing left to win.")
    res.check("luna_time_linear", expo, MAX_EXPONENT, "<=", claim="linear_time",
              description=f"exponent a of time ~ n^a from n = {n0} to {n1}, one per timing "
                          "round (softmax's measured "
                          f"{res.metrics['time_exponent_softmax']:.2f} in this seed)")
    res.figures["luna_accuracy"] = accuracy_figure(correct, names, "luna")
    return res


EXPERIMENT = register(Experiment(
    "luna", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="synthetic: needle-in-noise token sequences and procedural 3D point-cloud shapes",
    full_scale="the Long Range Arena tasks under compute parity against Performer, Linformer "
               "and other efficient attentions, and post-hoc conversion of fine-tuned BERT and "
               "ViT-B/16 checkpoints",
))
