"""Shared harness of the long-sequence attention experiments (``lotformer``, ``luna``).

Three task kinds in the spirit of Long Range Arena, generated offline by
:mod:`mintlab.datasets.long_range`:

* ``listops``: nested ListOps expressions as token sequences (10 classes),
  three levels deep (Long Range Arena nests ten; at our training budgets a
  one-block model stays at the majority rate on ten-level expressions);
* ``pathfinder``: are two dots joined by a dashed curve, as a pixel sequence
  of a ``side x side`` image (2 classes; available, but at our budgets a
  one-block model of any attention stays at chance on it: 0.50 for softmax
  and LUNA after 300 steps at 16 x 16 without distractors);
* ``text``: which of Jane Austen's six novels a byte window comes from
  (6 classes; test windows from held-out chapters).

The model: token embedding plus a learned position embedding, a learned class
token in front, one pre-norm transformer block whose attention is the layer
under test, and a linear classifier on the class token's output. Not mean
pooling: when the columns of an attention map sum to one (doubly-stochastic
maps, LOT and Sinkhorn attention), the attention's contribution to the mean
over the queries is exactly the mean of the values, so what it mixes would
reach the classifier only through the feed-forward non-linearity (probe, text
task at 256 tokens, 125 steps, seed 0: LOT 0.16 with mean pooling and 0.27
with the class token; softmax 0.17 and 0.24; fixed-feature linear attention
0.25 and 0.28). Every attention gets the same
parameters outside the attention, the same initial weights (drawn from a
seeded generator, never the global one), the same mini-batches and the same
optimiser (Adam, gradient norm clipped at 1), for the same number of steps;
test items are the same for every attention, so correctness is paired.
"""

from __future__ import annotations

import math
import time
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from mintlab.datasets.long_range import (
    LISTOPS_VOCAB,
    make_byte_text,
    make_listops,
    make_pathfinder,
)
from mintlab.nn import make_attention

TASKS = ("listops", "pathfinder", "text")
DIM = 32  # model width
HEADS = 2
LEARNING_RATE = 3e-3
BATCH_SIZE = 16
LISTOPS_DEPTH = 3  # nesting of the ListOps expressions (Long Range Arena: 10)
LISTOPS_ARGS = 10  # most arguments per operator (as in Long Range Arena)
ATTENTIONS = {  # name -> (layer, its options); every one of them with 2 heads of width 16
    "softmax": ("softmax", {}),
    "sinkhorn": ("sinkhorn", {"n_iter": 5}),
    "lot": ("lot", {"n_pivots": 16, "n_iter": 10}),
    "luna": ("luna", {"n_features": 32}),
    "luna_fixed": ("luna", {"n_features": 32, "learn_features": False}),
}


def task_data(task: str, length: int, n_train: int, n_test: int, seed: int) -> dict:
    """Train and test tokens ``(N, length)`` int64 tensors, labels, vocabulary and padding.

    ``pad`` is the padding token (ListOps) or ``None`` (every token real).
    """
    if task == "listops":
        kw = {"max_depth": LISTOPS_DEPTH, "max_args": LISTOPS_ARGS}
        Xtr, ytr = make_listops(n_train, length, seed=1000 * seed + 1, **kw)
        Xte, yte = make_listops(n_test, length, seed=1000 * seed + 2, **kw)
        vocab, pad, classes = len(LISTOPS_VOCAB), 0, 10
    elif task == "pathfinder":
        side = math.isqrt(length)
        if side * side != length:
            raise ValueError(f"pathfinder length must be a square, got {length}")
        Xtr, ytr = make_pathfinder(n_train, side, seed=1000 * seed + 3)
        Xte, yte = make_pathfinder(n_test, side, seed=1000 * seed + 4)
        Xtr, Xte = (np.rint(2 * x.reshape(len(x), -1)).astype(np.int64) for x in (Xtr, Xte))
        vocab, pad, classes = 3, None, 2  # background, curve, dot
    elif task == "text":
        Xtr, ytr = make_byte_text(n_train, length, task="austen_novel", split="train",
                                  seed=1000 * seed + 5)
        Xte, yte = make_byte_text(n_test, length, task="austen_novel", split="test",
                                  seed=1000 * seed + 6)
        vocab, pad, classes = 256, None, 6
    else:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    t = torch.as_tensor
    return {"Xtr": t(Xtr), "ytr": t(ytr), "Xte": t(Xte), "yte": t(yte), "vocab": vocab,
            "pad": pad, "classes": classes, "length": length}


def run_attentions(names, tasks, settings, seed: int):
    """Train each attention of ``names`` on each task (one seed, ``settings.steps`` steps).

    Returns ``(correct, models, data)``: ``correct[(task, name)]`` is the 0/1
    correctness of each test item (the same items for every attention).
    """
    correct, models, data = {}, {}, {}
    for task in tasks:
        d = data[task] = task_data(task, settings.length, settings.n_train, settings.n_test,
                                   seed)
        for name in names:
            m = build_model(name, d, seed)
            Trainer(m, d, seed).run(settings.steps)
            correct[(task, name)] = correctness(m, d)
            models[(task, name)] = m
    return correct, models, data


def pooled(correct: dict, tasks, name: str) -> np.ndarray:
    """Correctness over the test items of every task, in task order."""
    return np.concatenate([correct[(t, name)] for t in tasks])


def attention_layer(name: str, seed: int) -> nn.Module:
    kind, kw = ATTENTIONS[name]
    extra = {"seed": seed} if kind in ("lot", "luna") else {}
    return make_attention(kind, DIM, HEADS, **kw, **extra)


class LongClassifier(nn.Module):
    """Class token + embedding + position -> one pre-norm block with the given attention ->
    linear on the class token (``pool="cls"``) or on the mean over the real tokens
    (``pool="mean"``); padding tokens (``pad``) are hidden from the attention."""

    def __init__(self, attention: nn.Module, vocab: int, length: int, n_classes: int,
                 pad: int | None, seed: int, pool: str = "cls") -> None:
        super().__init__()
        self.pad, self.pool = pad, pool
        self.embed = nn.Embedding(vocab, DIM)
        self.cls = nn.Parameter(torch.zeros(1, 1, DIM))
        self.pos = nn.Parameter(torch.zeros(length + 1, DIM))
        self.attn = attention
        self.ln1 = nn.LayerNorm(DIM)
        self.ln2 = nn.LayerNorm(DIM)
        self.ff = nn.Sequential(nn.Linear(DIM, 2 * DIM), nn.ReLU(), nn.Linear(2 * DIM, DIM))
        self.out = nn.Linear(DIM, n_classes)
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():  # the same draw for every attention: attention layers excluded
            self.embed.weight.copy_(torch.randn(self.embed.weight.shape, generator=g))
            self.pos.copy_(0.02 * torch.randn(self.pos.shape, generator=g))
            self.cls.copy_(torch.randn(self.cls.shape, generator=g))
            for lin in (cast(nn.Linear, self.ff[0]), cast(nn.Linear, self.ff[2]), self.out):
                bound = 1 / math.sqrt(lin.in_features)
                lin.weight.copy_((2 * torch.rand(lin.weight.shape, generator=g) - 1) * bound)
                lin.bias.zero_()

    def attention_input(self, tokens):
        """``(input, normed input of the attention, key padding mask or None)``; position 0
        holds the class token (``pool="cls"``)."""
        h = self.embed(tokens)
        if self.pool == "cls":
            h = torch.cat([self.cls.expand(len(h), -1, -1), h], 1)
        h = h + self.pos[:h.shape[1]]
        pad = None if self.pad is None else tokens == self.pad
        if pad is not None and self.pool == "cls":
            pad = torch.cat([torch.zeros_like(pad[:, :1]), pad], 1)
        return h, self.ln1(h), pad

    def forward(self, tokens):
        h, a, pad = self.attention_input(tokens)
        h = h + self.attn(a, key_padding_mask=pad)[0]
        h = h + self.ff(self.ln2(h))
        if self.pool == "cls":
            return self.out(h[:, 0])
        if pad is None:
            return self.out(h.mean(1))
        w = (~pad).to(h.dtype).unsqueeze(-1)
        return self.out((h * w).sum(1) / w.sum(1))


def init_projections(att: nn.Module, seed: int) -> None:
    """Draw the q/k/v/out projections of an attention layer from a seeded generator."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for lin in cast(tuple[nn.Linear, ...], (att.q_proj, att.k_proj, att.v_proj,
                                                att.out_proj)):
            bound = 1 / math.sqrt(lin.in_features)
            lin.weight.copy_((2 * torch.rand(lin.weight.shape, generator=g) - 1) * bound)
            if lin.bias is not None:
                lin.bias.zero_()


def build_model(name: str, data: dict, seed: int, pool: str = "cls") -> LongClassifier:
    """The classifier with attention ``name``; everything but the attention's own extra
    parameters (pivots, features) starts identical across attentions for one seed."""
    att = attention_layer(name, seed)
    init_projections(att, 7919 + seed)
    return LongClassifier(att, data["vocab"], data["length"], data["classes"], data["pad"],
                          seed, pool)


class Trainer:
    """Adam on cross-entropy with seeded mini-batches; ``run(steps)`` continues training."""

    def __init__(self, model: nn.Module, data: dict, seed: int, lr: float = LEARNING_RATE):
        self.model, self.data = model, data
        self.opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
        self.gen = torch.Generator().manual_seed(seed)
        self.steps = 0

    def run(self, steps: int) -> float:
        """Train ``steps`` mini-batches; return the mean loss over them."""
        X, y = self.data["Xtr"], self.data["ytr"]
        self.model.train()
        total = 0.0
        for _ in range(steps):
            idx = torch.randint(0, X.shape[0], (BATCH_SIZE,), generator=self.gen)
            loss = nn.functional.cross_entropy(self.model(X[idx]), y[idx])
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            self.opt.step()
            total += float(loss.detach())
        self.steps += steps
        self.model.eval()
        return total / max(steps, 1)


@torch.no_grad()
def correctness(model: nn.Module, data: dict, batch: int = 64) -> np.ndarray:
    """0/1 correctness of every test item."""
    model.eval()
    X, y = data["Xte"], data["yte"]
    out = [(model(X[s:s + batch]).argmax(1) == y[s:s + batch]) for s in range(0, len(X), batch)]
    return torch.cat(out).to(torch.float64).numpy()


@torch.no_grad()
def column_errors(model: LongClassifier, data: dict, n_items: int) -> np.ndarray:
    """Per test item: the largest relative column-sum error ``|c_j / (n / m) - 1|`` over the
    real keys and the heads of the trained attention, on the item's own attention input."""
    out = []
    for i in range(min(n_items, len(data["Xte"]))):
        _, a, pad = model.attention_input(data["Xte"][i:i + 1])
        w = cast(Any, model.attn).attention_matrix(a, key_padding_mask=pad)[0]  # (h, n, m)
        real = torch.ones(w.shape[-1], dtype=torch.bool) if pad is None else ~pad[0]
        target = w.shape[-2] / float(real.sum())
        out.append(float((w.sum(-2)[:, real] / target - 1).abs().max()))
    return np.asarray(out)


def convert_attention(model: LongClassifier, name: str, seed: int) -> LongClassifier:
    """A copy of ``model`` whose attention is replaced by ``name``, the q/k/v/out projections
    copied over (the post-hoc conversion of a trained softmax model)."""
    import copy

    new = copy.deepcopy(model)
    att = attention_layer(name, seed)
    att.load_state_dict(model.attn.state_dict(), strict=False)
    new.attn = att
    return new


def step_seconds(names, length: int, repeats: int, *, batch: int = 4, seed: int = 0) -> dict:
    """CPU seconds of one forward + backward pass of each attention layer alone at ``length``.

    One untimed warm-up pass each, then ``repeats`` rounds in which the layers take
    turns (paired by round). CPU time, not wall time, so other load on the machine
    does not enter.
    """
    from ._attention_common import layer_step_times

    make = {n: (lambda n=n: attention_layer(n, seed)) for n in names}
    return layer_step_times(make, length, repeats, dim=DIM, heads=HEADS, batch=batch, seed=seed,
                            clock=time.process_time)


def accuracy_figure(acc: dict, names, tasks, title: str):
    """Test accuracy per task and attention (one seed), as grouped bars."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.4))
    xs = np.arange(len(names))
    w = 0.8 / len(tasks)
    for j, task in enumerate(tasks):
        ax.bar(xs + w * j - 0.4 + w / 2, [acc[(task, n)] for n in names], w, label=task)
    ax.set_xticks(xs, names, fontsize=7)
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
