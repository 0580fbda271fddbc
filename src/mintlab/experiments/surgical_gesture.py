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
mode: 30 training clips per seen gesture, 12 epochs, encoder width 16; full
mode: 60 clips, 25 epochs, width 32; AdamW with a one-cycle schedule peaking
at 6e-3 for both. Tested on 20 new clips per seen gesture and 40 per unseen
one.

**Measured**: accuracy on held-out clips of the seen gestures (prompt model:
nearest description among the 34; classifier: its head) and zero-shot
accuracy on clips of the 8 unseen gestures, chosen among their 8
descriptions (chance 1/8); also among all 42 descriptions.
"""

from __future__ import annotations

import numpy as np

from ._core import Experiment, Result
from ._sets_common import one_torch_thread
from .registry import register

CLAIM = ("A video encoder trained against text embeddings of gesture descriptions recognises "
         "seen gestures at least as well as a standard classifier and recognises gestures "
         "left out of training from their descriptions alone, well above chance.")

MARGIN = 0.2


def run(quick: bool = True, seed: int = 0) -> Result:
    import matplotlib.pyplot as plt
    import torch

    from mintlab.apps.surgical.gestures import (
        GestureClassifier,
        GestureClips,
        PromptGestureModel,
        encode_descriptions,
        fit_classifier,
        fit_prompt_model,
        gesture_catalog,
        make_gesture_clips,
        zero_shot_accuracy,
    )

    res = Result()
    n_train, epochs, width = (30, 12, 16) if quick else (60, 25, 32)
    seen, unseen = gesture_catalog(8, seed=seed)
    with one_torch_thread():
        clips = dict(frames_per_primitive=5)
        train = make_gesture_clips(seen, n_train, seed=seed, **clips)
        test_seen = make_gesture_clips(seen, 20, seed=seed + 1, **clips)
        test_unseen = make_gesture_clips(unseen, 40, seed=seed + 2, **clips)
        text_seen = encode_descriptions(train.descriptions)
        text_unseen = encode_descriptions(test_unseen.descriptions)

        torch.manual_seed(seed)
        prompt = fit_prompt_model(PromptGestureModel(width=width), train, text_seen,
                                  epochs=epochs, lr=6e-3, seed=seed)
        torch.manual_seed(seed)
        clf = fit_classifier(GestureClassifier(len(seen), width=width), train, epochs=epochs,
                             lr=6e-3, seed=seed)

        acc_prompt = zero_shot_accuracy(prompt, test_seen, text_seen)
        with torch.no_grad():
            acc_clf = float((clf(test_seen.clips).argmax(1) == test_seen.labels).float().mean())
        acc_zero = zero_shot_accuracy(prompt, test_unseen, text_unseen)
        every = GestureClips(test_unseen.clips, test_unseen.labels + len(seen), seen + unseen,
                             train.descriptions + test_unseen.descriptions)
        acc_all = zero_shot_accuracy(prompt, every, torch.cat([text_seen, text_unseen]))
        with torch.no_grad():  # how alike are the unseen descriptions to MiniLM
            sim = (text_unseen @ text_unseen.T).numpy()
    chance = 1.0 / len(unseen)
    res.metrics.update({"prompt_seen_accuracy": acc_prompt, "classifier_seen_accuracy": acc_clf,
                        "zero_shot_accuracy": acc_zero, "zero_shot_chance": chance,
                        "zero_shot_accuracy_among_all_42": acc_all,
                        "unseen_description_mean_cosine": float(sim[~np.eye(len(sim),
                                                                           dtype=bool)].mean())})
    res.check("prompt_model_matches_classifier_on_seen", acc_prompt - acc_clf, 0.0, ">=",
              description=f"seen-gesture accuracy, prompt model minus classifier ({acc_prompt:.3f}"
                          f" vs {acc_clf:.3f}, {len(seen)} gestures)",
              known_gap="At our scale the softmax classifier is ahead on the gestures it was "
                        "trained on (0.88 vs 0.83 at seed 0, same encoder, epochs and learning "
                        "rate): both vision towers start from scratch, and the contrastive "
                        "model must separate 34 anchors whose MiniLM embeddings are close "
                        "(mean cosine 0.85), where the paper's encoder starts from pre-trained "
                        "CLIP. The zero-shot ability the classifier lacks is the part that "
                        "holds.")
    res.check("zero_shot_above_chance", acc_zero - chance, MARGIN, ">=",
              description=f"zero-shot accuracy on {len(unseen)} held-out gestures minus chance "
                          f"({acc_zero:.3f} vs {chance:.3f}; required margin {MARGIN})")

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.bar(["seen: classifier", "seen: prompt", "unseen: prompt", "unseen: chance"],
           [acc_clf, acc_prompt, acc_zero, chance])
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1)
    fig.tight_layout()
    res.figures["surgical_gesture"] = fig
    return res


EXPERIMENT = register(Experiment("surgical-gesture", CLAIM, run))
