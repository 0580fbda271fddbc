"""Prompt-based zero-shot gesture recognition (``surgical-gesture``)."""

import numpy as np
import pytest
import torch

from mintlab.apps.surgical.gestures import (
    PRIMITIVES,
    GestureClassifier,
    PromptGestureModel,
    VideoEncoder,
    describe,
    fit_prompt_model,
    gesture_catalog,
    make_gesture_clips,
    zero_shot_accuracy,
)


def test_catalog_holds_out_composable_gestures():
    seen, unseen = gesture_catalog(8, seed=0)
    assert len(seen) + len(unseen) == len(PRIMITIVES) * (len(PRIMITIVES) - 1)
    assert not set(seen) & set(unseen)
    for p in PRIMITIVES:
        assert any(g[0] == p for g in seen) and any(g[1] == p for g in seen)
    assert not any((b, a) in unseen for a, b in unseen)
    assert gesture_catalog(8, seed=0) == (seen, unseen)
    assert describe(("lift", "grasp")) == "lift the tool tip upward, then close the grasper jaws"


def test_clips_are_deterministic_and_depict_the_motion():
    a = make_gesture_clips([("reach_left", "grasp"), ("lift", "release")], 4, seed=1)
    b = make_gesture_clips([("reach_left", "grasp"), ("lift", "release")], 4, seed=1)
    assert torch.equal(a.clips, b.clips) and a.labels.tolist() == [0] * 4 + [1] * 4
    assert not torch.equal(a.clips, make_gesture_clips([("reach_left", "grasp"),
                                                        ("lift", "release")], 4, seed=2).clips)
    assert a.clips.min() >= 0 and a.clips.max() <= 1
    # the brightest column drifts left during "reach_left" (noise-free clip)
    c = make_gesture_clips([("reach_left", "lift")], 1, noise=0.0, seed=0).clips[0].numpy()
    xs = [float((f.sum(0) * np.arange(24)).sum() / f.sum()) for f in c[:6]]
    assert xs[-1] < xs[0] - 1
    with pytest.raises(ValueError, match="pair of primitives"):
        make_gesture_clips([("jump", "grasp")], 1)


def test_models_shapes_and_training_step():
    data = make_gesture_clips([("lift", "grasp"), ("lower", "release"), ("circle", "lift")], 6,
                              seed=0)
    text = torch.nn.functional.normalize(torch.randn(3, 384), dim=1)
    torch.manual_seed(0)
    model = PromptGestureModel(width=16)
    assert model.logits(data.clips, text).shape == (18, 3)
    fit_prompt_model(model, data, text, epochs=30, batch_size=6)
    assert zero_shot_accuracy(model, data, text) > 0.9  # fits its training clips
    assert GestureClassifier(3)(data.clips).shape == (18, 3)
    with pytest.raises(ValueError, match="one embedding per gesture"):
        fit_prompt_model(model, data, text[:2])
    with pytest.raises(ValueError, match="\\(N, T, H, W\\)"):
        VideoEncoder()(data.clips[0])


def test_minilm_descriptions_are_distinct():
    from mintlab.apps.surgical.gestures import encode_descriptions

    seen, unseen = gesture_catalog(8, seed=0)
    E = encode_descriptions([describe(g) for g in unseen])
    assert E.shape == (8, 384)
    assert torch.allclose(E.norm(dim=1), torch.ones(8), atol=1e-5)
    off = (E @ E.T)[~torch.eye(8, dtype=torch.bool)]
    assert off.max() < 0.999
