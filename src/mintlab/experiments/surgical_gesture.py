"""``surgical-gesture``: a prompt-aligned video encoder recognises unseen gestures from text.

**Stand-ins**: the clips are procedural (a grasper tool rendered at 24 x 24;
a gesture is an ordered pair of seven motion primitives, 42 gestures), not
surgical video; the vision side is trained from scratch. The text side is a
real pre-trained model, all-MiniLM-L6-v2 (offline), frozen, in place of
CLIP's text encoder.

34 gestures are seen in training and 8 held out (every primitive still
occurs in training, first and second; no held-out gesture's reverse is held
out). The prompt model aligns clip embeddings with the projected MiniLM
embeddings of the gestures' descriptions (contrastive cross-entropy over the
training descriptions); the baseline is the same video encoder with a
softmax head (same width). Clips have 10 frames (5 per primitive). Quick
mode: 20 training clips per seen gesture, 10 epochs, encoder width 16,
minibatches of 16; full mode: 60 clips, 25 epochs, width 32, minibatches of
64; AdamW with a one-cycle schedule peaking at 6e-3 for both models.
Tested on new clips: 15 per seen gesture and 30 per unseen one in quick
mode, 20 and 40 in full mode.

Claims, judged clip by clip (95% bootstrap interval over the test clips and
seeds):

1. ``beats_standard_encoders``: on held-out clips of the seen gestures the
   prompt model (nearest description among the 34) is more often right than
   the classifier (its head): paired per-clip correctness, interval of the
   difference above 0;
2. ``zero_shot``: on clips of the 8 unseen gestures, chosen among their 8
   descriptions, the prompt model's accuracy exceeds chance (1/8) by more
   than 0.2: the interval of the per-clip correctness lies above 0.325.
   The accuracy among all 42 descriptions is a metric.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ._core import Experiment, Result, Settings
from ._sets_common import one_torch_thread
from .registry import register

CLAIMS = {
    "beats_standard_encoders":
        "Our experiments show that prompt-based video encoder outperforms standard encoders in "
        "surgical gesture recognition tasks.",
    "zero_shot":
        "Notably, it displays strong performance in zero-shot scenarios, where gestures/tasks "
        "that were not provided during the encoder training phase are included in the "
        "prediction phase.",
}

MARGIN = 0.2  # how far above chance zero-shot accuracy must be to count as "strong"
N_UNSEEN = 8  # gestures held out of training
FRAMES = 5  # frames per primitive (two primitives per clip)
LR = 6e-3  # peak learning rate of both models' one-cycle schedule


@dataclass(frozen=True, kw_only=True)
class GestureSettings(Settings):
    n_train: int  # training clips per seen gesture
    n_test_seen: int  # test clips per seen gesture
    n_test_unseen: int  # test clips per unseen gesture
    epochs: int  # training epochs of both models
    width: int  # video encoder width of both models
    batch_size: int  # minibatch of both models


QUICK = GestureSettings(seeds=1, n_train=20, n_test_seen=15, n_test_unseen=30, epochs=10,
                        width=16, batch_size=16)
FULL = GestureSettings(seeds=3, n_train=60, n_test_seen=20, n_test_unseen=40, epochs=25,
                       width=32, batch_size=64)
EXPECTED = "partly reproduced (1 of 2)"


@functools.lru_cache(maxsize=1)
def _minilm():
    """all-MiniLM-L6-v2, loaded once per process."""
    from mintlab.compress.testbed import load_minilm

    return load_minilm()


def _stream(seed: int, purpose: int) -> int:
    """An independent integer seed per (run seed, purpose: 0 train, 1 seen test, 2 unseen)."""
    return int(np.random.SeedSequence([seed, purpose]).generate_state(1)[0])


def run(settings: GestureSettings = QUICK, seed: int = 0) -> Result:
    import matplotlib.pyplot as plt
    import torch

    from mintlab._random import seeded_global_rng
    from mintlab.apps.surgical.gestures import (
        GestureClassifier,
        GestureClips,
        PromptGestureModel,
        encode_descriptions,
        fit_classifier,
        fit_prompt_model,
        gesture_catalog,
        make_gesture_clips,
    )

    def correct(logits, labels):
        return (logits.argmax(1) == labels).numpy().astype(np.float64)

    res = Result(seed=seed)
    seen, unseen = gesture_catalog(N_UNSEEN, seed=seed)
    with one_torch_thread():
        clips = dict(frames_per_primitive=FRAMES)
        train = make_gesture_clips(seen, settings.n_train, seed=_stream(seed, 0), **clips)
        test_seen = make_gesture_clips(seen, settings.n_test_seen, seed=_stream(seed, 1),
                                       **clips)
        test_unseen = make_gesture_clips(unseen, settings.n_test_unseen,
                                         seed=_stream(seed, 2), **clips)
        text_seen = encode_descriptions(train.descriptions, _minilm())
        text_unseen = encode_descriptions(test_unseen.descriptions, _minilm())

        with seeded_global_rng(seed):
            prompt = fit_prompt_model(PromptGestureModel(width=settings.width), train,
                                      text_seen, epochs=settings.epochs, lr=LR,
                                      batch_size=settings.batch_size, seed=seed)
        with seeded_global_rng(seed):
            clf = fit_classifier(GestureClassifier(len(seen), width=settings.width), train,
                                 epochs=settings.epochs, lr=LR, batch_size=settings.batch_size,
                                 seed=seed)
        every = GestureClips(test_unseen.clips, test_unseen.labels + len(seen), seen + unseen,
                             train.descriptions + test_unseen.descriptions)
        with torch.no_grad():
            seen_prompt = correct(prompt.logits(test_seen.clips, text_seen), test_seen.labels)
            seen_clf = correct(clf(test_seen.clips), test_seen.labels)
            zero = correct(prompt.logits(test_unseen.clips, text_unseen), test_unseen.labels)
            zero_all = correct(prompt.logits(every.clips, torch.cat([text_seen, text_unseen])),
                               every.labels)
            sim = (text_seen @ text_seen.T).numpy()
    chance = 1.0 / len(unseen)
    res.metrics.update({"prompt_seen_accuracy": float(seen_prompt.mean()),
                        "classifier_seen_accuracy": float(seen_clf.mean()),
                        "zero_shot_accuracy": float(zero.mean()), "zero_shot_chance": chance,
                        "zero_shot_accuracy_among_all_42": float(zero_all.mean()),
                        "seen_description_mean_cosine": float(sim[~np.eye(len(sim),
                                                                          dtype=bool)].mean())})
    res.compare("prompt_model_beats_classifier_on_seen", seen_prompt, seen_clf,
                claim="beats_standard_encoders",
                description=f"per-clip correctness on held-out clips of the {len(seen)} seen "
                            f"gestures: prompt model vs the same encoder with a softmax head",
                known_gap="At our scale the softmax classifier is at least as good on the "
                          "gestures it was trained on ({ours:.3f} vs {baseline:.3f}, interval "
                          "of the difference [{low:.3f}, {high:.3f}]; same encoder, epochs and "
                          "learning rate): both vision towers start from scratch, and the "
                          "contrastive model must separate 34 anchors whose MiniLM embeddings "
                          "are close (mean cosine in the metrics), where the paper's encoder "
                          "starts from pre-trained CLIP.")
    res.check("zero_shot_above_chance", zero, chance + MARGIN, ">", claim="zero_shot",
              description=f"per-clip zero-shot correctness on {len(unseen)} held-out gestures "
                          f"(chance {chance:.3f}); the interval must lie above chance + "
                          f"{MARGIN}")

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.bar(["seen: classifier", "seen: prompt", "unseen: prompt", "unseen: chance"],
           [seen_clf.mean(), seen_prompt.mean(), zero.mean(), chance])
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1)
    fig.tight_layout()
    res.figures["surgical_gesture"] = fig
    return res


EXPERIMENT = register(Experiment(
    "surgical-gesture", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="synthetic: procedural 24x24 grasper clips (42 gestures); real all-MiniLM-L6-v2 text "
         "embeddings",
    full_scale="JIGSAWS / surgical video with a pre-trained CLIP (Bridge-Prompt) and held-out "
               "gestures and tasks, over cross-validation folds",
))
