"""Shared harness of the attention experiments (``espformer``, ``lotformer``, ``luna``).

Two offline tasks, one small model, one training recipe:

* ``needle``: a long-range sequence task. Each sequence holds ``length``
  noise tokens and, at one random position, a single signal token whose
  identity (one of ``n_classes``) is the label. Averaging the tokens dilutes
  the signal by ``1 / length``; attention can find it wherever it is.
* ``points``: classification of the eight procedural point-cloud shapes of
  :mod:`mintlab.datasets`.

The model: an input embedding, one pre-norm transformer block whose
attention is the layer under test, mean pooling over the (real) elements and
a linear classifier. Every attention is trained with the same recipe (Adam,
learning rate 3e-3, batch 32, the same epochs and the same seed), and scored
per test item, so two attentions are compared on the same test sequences and
clouds (paired samples). Times are per-repeat seconds of one forward and
backward pass of the attention layer alone, the layers taking turns within
each repeat.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from mintlab.nn import fit_classifier, make_attention

from ._core import Settings
from ._sets_common import point_cloud_split

TASKS = ("needle", "points")
N_CLASSES = {"needle": 4, "points": 8}
LEARNING_RATE = 3e-3
BATCH_SIZE = 32
DIM = 32  # model width
HEADS = 2


@dataclass(frozen=True, kw_only=True)
class AttentionSettings(Settings):
    """The two tasks' sizes and training budgets (shared by the attention experiments)."""

    needle_length: int  # tokens per sequence of the needle task
    needle_train: int  # training sequences of the needle task
    needle_test: int  # test sequences of the needle task (one paired item each)
    needle_epochs: int  # training epochs on the needle task
    clouds_train: int  # training point clouds per shape (8 shapes)
    clouds_test: int  # test point clouds per shape (one paired item each)
    clouds_epochs: int  # training epochs on the point clouds
    extra_attentions: tuple[str, ...]  # attentions trained for the record only (metrics)
    time_repeats: int  # timed forward + backward passes per attention and length


def needle_task(n_seq, length, n_classes=4, n_noise=16, seed=0):
    """``(tokens (n_seq, length) long, labels (n_seq,))``; noise tokens are ``n_classes..``."""
    rng = np.random.default_rng(seed)
    tok = rng.integers(n_classes, n_classes + n_noise, size=(n_seq, length))
    y = rng.integers(0, n_classes, n_seq)
    pos = rng.integers(0, length, n_seq)
    tok[np.arange(n_seq), pos] = y
    return torch.as_tensor(tok), torch.as_tensor(y)


class TinyTransformer(nn.Module):
    """Embedding -> one pre-norm block with the given attention -> mean pool -> linear."""

    def __init__(self, attention, dim, n_classes, vocab=None, in_features=None):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim) if vocab is not None else nn.Linear(in_features,
                                                                                dim)
        self.attn = attention
        self.ln1 = nn.LayerNorm(dim)
        self.ln2 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, 2 * dim), nn.ReLU(), nn.Linear(2 * dim, dim))
        self.out = nn.Linear(dim, n_classes)

    def forward(self, x, mask=None):
        h = self.embed(x)
        pad = None if mask is None else ~mask
        h = h + self.attn(self.ln1(h), key_padding_mask=pad)[0]
        h = h + self.ff(self.ln2(h))
        if mask is None:
            return self.out(h.mean(1))
        w = mask.to(h.dtype).unsqueeze(-1)
        return self.out((h * w).sum(1) / w.sum(1))


def attention_layer(name, dim, heads, seed):
    """The layer under test by name; ``luna_fixed`` is LUNA with its random features frozen
    (the Performer-style positive-random-feature baseline)."""
    kw = {"luna_fixed": ("luna", {"learn_features": False, "n_features": 32}),
          "luna": ("luna", {"n_features": 32}),
          "lot": ("lot", {"n_pivots": 8}),
          "esp": ("esp", {"n_slices": 4}),
          "sinkhorn": ("sinkhorn", {"n_iter": 5})}.get(name, (name, {}))
    extra = {"seed": seed} if kw[0] in ("esp", "lot", "luna") else {}
    return make_attention(kw[0], dim, heads, **kw[1], **extra)


@torch.no_grad()
def _correct(model, X, y, mask=None):
    model.eval()
    logits = model(X) if mask is None else model(X, mask)
    return (logits.argmax(1) == y).to(torch.float64).numpy()


def run_tasks(names, settings: AttentionSettings, seed):
    """Train each attention of ``names`` on both tasks (one seed).

    Returns ``(correct, models, inputs)``: ``correct[(task, name)]`` is the 0/1
    correctness of each test item (the same items for every attention),
    ``models[(task, name)]`` the trained model and ``inputs[task]`` a few test
    inputs (a token batch, or ``(points, mask)``).
    """
    s = settings
    Xtr, ytr = needle_task(s.needle_train, s.needle_length, seed=10 * seed)
    Xte, yte = needle_task(s.needle_test, s.needle_length, seed=10 * seed + 1)
    train, test = point_cloud_split(s.clouds_train, s.clouds_test, seed=seed)
    correct, models = {}, {}
    for name in names:
        torch.manual_seed(seed)
        m = TinyTransformer(attention_layer(name, DIM, HEADS, seed), DIM, N_CLASSES["needle"],
                            vocab=20)
        fit_classifier(m, Xtr, ytr, epochs=s.needle_epochs, lr=LEARNING_RATE,
                       batch_size=BATCH_SIZE, seed=seed)
        correct[("needle", name)] = _correct(m, Xte, yte)
        models[("needle", name)] = m
        torch.manual_seed(seed)
        m = TinyTransformer(attention_layer(name, DIM, HEADS, seed), DIM, N_CLASSES["points"],
                            in_features=3)
        fit_classifier(m, train[0], train[2], mask=train[1], epochs=s.clouds_epochs,
                       lr=LEARNING_RATE, batch_size=BATCH_SIZE, seed=seed)
        correct[("points", name)] = _correct(m, test[0], test[2], test[1])
        models[("points", name)] = m
    inputs = {"needle": Xte[:16], "points": (test[0][:16], test[1][:16])}
    return correct, models, inputs


def both_tasks(correct, name):
    """Correctness over the test items of both tasks, needle items first."""
    return np.concatenate([correct[(t, name)] for t in TASKS])


def step_times(names, length, repeats, *, batch=4):
    """Seconds of one forward + backward pass of each attention alone at ``length`` tokens.

    One untimed warm-up pass each, then ``repeats`` rounds in which the layers
    take turns, so a slow moment of the machine falls on all of them alike.
    Returns ``{name: array of repeats seconds}`` (paired by round).
    """
    torch.manual_seed(0)
    layers = {name: attention_layer(name, DIM, HEADS, 0) for name in names}
    x = torch.randn(batch, length, DIM, requires_grad=True)

    def one(att):
        t0 = time.perf_counter()
        att(x)[0].sum().backward()
        return time.perf_counter() - t0

    for att in layers.values():
        one(att)
    times = {name: [] for name in names}
    for _ in range(repeats):
        for name, att in layers.items():
            times[name].append(one(att))
    return {name: np.asarray(t) for name, t in times.items()}


def growth_exponents(t_short, t_long, n_short, n_long):
    """Per repeat, the exponent ``a`` of ``time ~ n^a`` between two lengths."""
    return np.log(np.asarray(t_long) / np.asarray(t_short)) / math.log(n_long / n_short)


@torch.no_grad()
def stochasticity(model, inputs):
    """Largest row-sum and column-sum errors (``n / m`` convention) of a trained model's
    attention on its own inputs (a token batch, or ``(points, mask)``)."""
    if isinstance(inputs, tuple):
        x, mask = inputs
        w = model.attn.attention_matrix(model.ln1(model.embed(x)), key_padding_mask=~mask)
        real = mask[:, None, :, None].to(w.dtype)  # rows of real queries
        m = mask.sum(-1).to(w.dtype).view(-1, 1, 1)
        n = float(mask.shape[1])
        rows = ((w.sum(-1) - 1).abs() * real[..., 0]).amax()
        cols = ((w.sum(-2) - n / m).abs() * mask[:, None, :].to(w.dtype)).amax()
        return float(rows), float(cols)
    w = model.attn.attention_matrix(model.ln1(model.embed(inputs)))
    n, m = w.shape[-2:]
    return (float((w.sum(-1) - 1).abs().max()), float((w.sum(-2) - n / m).abs().max()))


def accuracy_figure(correct, names, title):
    """Test accuracy of each attention on both tasks (one seed), as bars."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    xs = np.arange(len(names))
    for j, task in enumerate(TASKS):
        ax.bar(xs + 0.4 * j - 0.2, [correct[(task, n)].mean() for n in names], 0.4, label=task)
    ax.set_xticks(xs, names)
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
