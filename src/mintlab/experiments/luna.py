"""``luna``: linear attention with a learned positive-definite feature map.

Long-sequence classification in the spirit of Long Range Arena, generated
offline (:mod:`._long_tasks`): nested ListOps expressions as token
sequences and byte windows of Jane Austen's novels (which of the six
novels). A one-block transformer (classifying from a class token, see
:mod:`._long_tasks` for why not mean pooling) is trained with softmax attention, with
LUNA (32 learned positive features per head) and with the same layer whose
random features stay fixed (the Performer-style baseline the paper improves
on): the same model around the attention, the same initial weights,
mini-batches, optimiser and number of steps (compute parity), scored on the
same test items (paired). Four claims of the abstract:

1. ``matches_softmax``: LUNA is at least as accurate as softmax attention
   (difference above -0.02) and more accurate (above 0), per test item over
   both tasks (bootstrap over items and seeds);
2. ``learned_beats_fixed``: learning the feature map beats keeping the
   random features fixed, on the same paired items;
3. ``post_hoc_conversion``: the trained softmax model with its attention
   swapped for LUNA (the q/k/v/out projections copied) and fine-tuned for
   ``finetune_steps`` steps recovers most of the softmax accuracy (within
   0.05) and beats the same conversion with fixed random features (the
   fixed linearization) after the same fine-tuning. Both start from the same
   random features, so right after the swap they are one model: its accuracy
   (metrics ``*_swap_only``) shows how far fixed random features fall from the
   trained softmax attention. Training LUNA from scratch for the same total
   number of steps (``steps + finetune_steps``) is in the metrics;
4. ``linear_time``: LUNA is faster than softmax attention at ``time_long``
   tokens (log CPU seconds of one forward and backward pass of the layer,
   paired rounds); the growth exponents are in the metrics.

That the streaming (chunked causal) form equals one causal pass holds by
construction and is a unit test (``tests/nn/test_luna_claims.py``).

Scale: the paper trains on the Long Range Arena (1k-16k tokens) and
converts fine-tuned BERT and ViT-B/16 checkpoints. Here training runs at
512 tokens in the full mode (128 in the quick one, on the text task only):
softmax attention at 1,024 tokens costs about 0.5 CPU seconds per step of 16
sequences, too much for three seeds in the budget; timings go to 4,096
tokens. ListOps nests three levels instead of ten; pathfinder is left out
(at these budgets a one-block model of any attention stays at chance on it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from ._core import Experiment, Result, Settings
from ._long_tasks import (
    Trainer,
    accuracy_figure,
    build_model,
    convert_attention,
    correctness,
    pooled,
    step_seconds,
    task_data,
)
from ._sets_common import one_thread
from .registry import register

CLAIMS = {
    "matches_softmax": "LUNA is a kernelized linear attention mechanism that eliminates this "
                       "trade-off, retaining linear cost while matching and surpassing the "
                       "accuracy of quadratic attention.",
    "learned_beats_fixed": "By parameterizing the kernel, LUNA learns a feature basis tailored "
                           "to the specific data and task, overcoming the expressive "
                           "limitations of fixed-feature methods.",
    "post_hoc_conversion": "LUNA also excels at post-hoc conversion: replacing softmax in "
                           "fine-tuned checkpoints and briefly fine-tuning recovers most of "
                           "the original performance, substantially outperforming fixed "
                           "linearizations.",
    "linear_time": "LUNA implements this with a learnable feature map that induces a "
                   "positive-definite kernel and admits a streaming form, yielding linear "
                   "time and memory scaling in the sequence length.",
}


@dataclass(frozen=True, kw_only=True)
class LunaSettings(Settings):
    tasks: tuple[str, ...]  # long-sequence tasks of _long_tasks
    length: int  # tokens per training and test sequence
    n_train: int  # training sequences per task
    n_test: int  # test sequences per task (one paired item each)
    steps: int  # training steps of 16 sequences, every attention
    finetune_steps: int  # fine-tuning steps after the softmax -> linear swap
    time_repeats: int  # timed forward + backward passes per attention and length
    time_short: int  # shorter timed length (growth exponents)
    time_long: int  # longer timed length (LUNA vs softmax)


QUICK = LunaSettings(
    seeds=3, tasks=("text",), length=128, n_train=1000, n_test=200, steps=100,
    finetune_steps=30, time_repeats=3, time_short=256, time_long=1024)
FULL = LunaSettings(
    seeds=3, tasks=("listops", "text"), length=512, n_train=2000, n_test=400, steps=130,
    finetune_steps=40, time_repeats=3, time_short=1024, time_long=4096)
EXPECTED = "partly reproduced (1 of 4)"

MATCH_MARGIN = 0.02  # "matching": accuracy at most this far below softmax's
RECOVER_MARGIN = 0.05  # "recovers most": converted accuracy at most this far below softmax's


def run(settings: LunaSettings = QUICK, seed: int = 0) -> Result:
    with one_thread():
        return _run(settings, seed)


def _run(s: LunaSettings, seed: int) -> Result:
    res = Result(seed=seed)
    correct, feature_change = {}, []
    for task in s.tasks:
        d = task_data(task, s.length, s.n_train, s.n_test, seed)
        y = d["yte"].numpy()
        res.metrics[f"majority_rate_{task}"] = float(np.bincount(y).max() / len(y))
        models = {}
        for name in ("softmax", "luna_fixed", "luna"):
            m = models[name] = build_model(name, d, seed)
            w0 = cast(Any, m.attn).feature_weight.detach().clone() if name == "luna" else None
            trainer = Trainer(m, d, seed)
            trainer.run(s.steps)
            correct[(task, name)] = correctness(m, d)
            if name == "luna":
                assert w0 is not None
                feature_change.append(float((cast(Any, m.attn).feature_weight.detach()
                                             - w0).norm() / w0.norm()))
                # the same run continued: LUNA from scratch at the conversion's total steps
                trainer.run(s.finetune_steps)
                correct[(task, "luna_scratch_equal_steps")] = correctness(m, d)
        for name in ("luna", "luna_fixed"):
            conv = convert_attention(models["softmax"], name, seed)
            correct[(task, f"{name}_swap_only")] = correctness(conv, d)
            Trainer(conv, d, seed + 1).run(s.finetune_steps)
            correct[(task, f"{name}_converted")] = correctness(conv, d)
    for (task, name), c in correct.items():
        res.metrics[f"accuracy_{task}_{name}"] = float(c.mean())
    res.metrics["relative_feature_change_luna"] = float(np.mean(feature_change))

    ours = pooled(correct, s.tasks, "luna")
    soft = pooled(correct, s.tasks, "softmax")
    where = f"{', '.join(s.tasks)} at {s.length} tokens, {s.steps} steps each"
    res.check("luna_matches_softmax", ours - soft, -MATCH_MARGIN, ">", claim="matches_softmax",
              description=f"per-test-item correctness difference LUNA - softmax ({where}); "
                          f"its mean above -{MATCH_MARGIN}",
              known_gap="Mean difference LUNA - softmax {measured:.3f}, interval [{low:.3f}, "
                        "{high:.3f}]: not shown within " + str(MATCH_MARGIN) + " of softmax "
                        "at our budget (per task in the metrics).")
    res.compare("luna_surpasses_softmax", ours, soft, better="higher",
                claim="matches_softmax",
                description=f"per-test-item correctness ({where}), LUNA vs softmax",
                known_gap="LUNA {ours:.3f} vs softmax {baseline:.3f}, difference interval "
                          "[{low:.3f}, {high:.3f}]: not more accurate than softmax at our "
                          "budget (per task in the metrics).")
    res.compare("learned_features_beat_fixed", ours, pooled(correct, s.tasks, "luna_fixed"),
                better="higher", claim="learned_beats_fixed",
                description=f"per-test-item correctness ({where}), learned vs fixed random "
                            "features (same layer, same initial features)",
                known_gap="Learned {ours:.3f} vs fixed {baseline:.3f}, difference interval "
                          "[{low:.3f}, {high:.3f}]: in this budget the learned features move "
                          "little from their random start (relative change in the metric "
                          "relative_feature_change_luna), so both layers compute nearly the "
                          "same kernel.")
    conv_correct = pooled(correct, s.tasks, "luna_converted")
    res.check("conversion_recovers_softmax", conv_correct - soft, -RECOVER_MARGIN, ">",
              claim="post_hoc_conversion",
              description=f"per-test-item correctness difference between the softmax model "
                          f"converted to LUNA and fine-tuned {s.finetune_steps} steps and the "
                          f"softmax model; its mean above -{RECOVER_MARGIN}",
              known_gap="Mean difference converted - softmax {measured:.3f}, interval "
                        "[{low:.3f}, {high:.3f}]: the brief fine-tuning does not bring the "
                        "converted model within " + str(RECOVER_MARGIN) + " of softmax here.")
    res.compare("conversion_beats_fixed_linearization", conv_correct,
                pooled(correct, s.tasks, "luna_fixed_converted"), better="higher",
                claim="post_hoc_conversion",
                description=f"per-test-item correctness after the swap and {s.finetune_steps} "
                            "fine-tuning steps, learned vs fixed random features (same start)",
                known_gap="Converted LUNA {ours:.3f} vs converted fixed features "
                          "{baseline:.3f}, difference interval [{low:.3f}, {high:.3f}]: "
                          "the short fine-tuning moves the features too little to separate "
                          "the two.")

    t0 = step_seconds(("luna", "softmax"), s.time_short, s.time_repeats, seed=seed)
    t1 = step_seconds(("luna", "softmax"), s.time_long, s.time_repeats, seed=seed)
    for n, times in ((s.time_short, t0), (s.time_long, t1)):
        for name, t in times.items():
            res.metrics[f"seconds_{name}_n{n}"] = float(np.median(t))
    ratio = math.log(s.time_long / s.time_short)
    for name in ("luna", "softmax"):
        res.metrics[f"time_exponent_{name}"] = float(np.mean(np.log(t1[name] / t0[name]))
                                                     / ratio)
    res.compare("luna_faster_than_softmax", np.log(t1["luna"]), np.log(t1["softmax"]),
                better="lower", claim="linear_time",
                description=f"log CPU seconds of one forward + backward pass of the layer at "
                            f"n = {s.time_long} (batch 4), LUNA vs softmax, paired rounds "
                            "(growth exponents from n = "
                            f"{s.time_short} in the metrics)",
                known_gap="log(t_LUNA / t_softmax) = {diff:.2f}, interval [{low:.2f}, "
                          "{high:.2f}]: not faster at this length.")
    acc = {k: float(c.mean()) for k, c in correct.items()}
    names = ("softmax", "luna_fixed", "luna", "luna_converted", "luna_fixed_converted")
    res.figures["luna_accuracy"] = accuracy_figure(acc, names, s.tasks, "luna")
    return res


EXPERIMENT = register(Experiment(
    "luna", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="synthetic and real long sequences generated offline in the spirit of Long Range "
         "Arena: ListOps expressions (3 levels, up to 10 arguments) as tokens, and byte "
         "windows of Jane Austen's six novels (shipped corpus, held-out chapters for test)",
    full_scale="the Long Range Arena tasks at 1k-16k tokens under compute parity against "
               "Performer, Linformer and other efficient attentions, and post-hoc conversion "
               "of fine-tuned BERT and ViT-B/16 checkpoints; here one-block models at 512 "
               "tokens trained 130 steps (+40 fine-tuning), timings to 4,096 tokens on one "
               "CPU thread",
))
