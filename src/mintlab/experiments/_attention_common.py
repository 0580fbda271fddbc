"""Shared harness of the attention experiments (``espformer``, ``lotformer``, ``luna``).

Two offline tasks, one small model, one training recipe:

* ``needle``: a long-range sequence task. Each sequence holds ``length``
  noise tokens and, at one random position, a single signal token whose
  identity (one of ``n_classes``) is the label. Averaging the tokens dilutes
  the signal by ``1 / length``; attention can find it wherever it is.
* point clouds: the eight procedural shapes of :mod:`mintlab.datasets`.

The model: an input embedding, one pre-norm transformer block whose
attention is the layer under test, mean pooling over the (real) elements and
a linear classifier.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

from mintlab.nn import accuracy, fit_classifier, make_attention

from ._sets_common import point_cloud_split


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
    kw = {"luna_fixed": ("luna", {"learn_features": False, "n_features": 32}),
          "luna": ("luna", {"n_features": 32}),
          "lot": ("lot", {"n_pivots": 8}),
          "esp": ("esp", {"n_slices": 4}),
          "sinkhorn": ("sinkhorn", {"n_iter": 5})}.get(name, (name, {}))
    extra = {"seed": seed} if kw[0] in ("esp", "lot", "luna") else {}
    return make_attention(kw[0], dim, heads, **kw[1], **extra)


def run_tasks(names, quick, seed):
    """Accuracy of each attention on both tasks (mean over seeds), the last trained model
    per (task, attention) and a few test inputs of each task."""
    seeds = [seed] if quick else [seed, seed + 1, seed + 2]
    length = 128 if quick else 256
    n_train = 768 if quick else 2000
    acc, models = {}, {}
    for s in seeds:
        Xtr, ytr = needle_task(n_train, length, seed=10 * s)
        Xte, yte = needle_task(500, length, seed=10 * s + 1)
        train, test = point_cloud_split(12 if quick else 48, 40, seed=s)
        for name in names:
            torch.manual_seed(s)
            m = TinyTransformer(attention_layer(name, 32, 2, s), 32, 4, vocab=20)
            fit_classifier(m, Xtr, ytr, epochs=8 if quick else 15, lr=3e-3, batch_size=32,
                           seed=s)
            acc.setdefault(("needle", name), []).append(accuracy(m, Xte, yte))
            models[("needle", name)] = m
            torch.manual_seed(s)
            m = TinyTransformer(attention_layer(name, 32, 2, s), 32, 8, in_features=3)
            fit_classifier(m, train[0], train[2], mask=train[1], epochs=30, lr=3e-3,
                           batch_size=32, seed=s)
            acc.setdefault(("points", name), []).append(
                accuracy(m, test[0], test[2], mask=test[1]))
            models[("points", name)] = m
    inputs = {"needle": Xte[:16], "points": (test[0][:16], test[1][:16])}
    return {k: float(np.mean(v)) for k, v in acc.items()}, models, inputs


def step_seconds(name, length, dim=32, heads=2, batch=4, repeats=7):
    """Best time of one forward + backward pass of the attention alone (the minimum over
    repeats: a few-millisecond pass is easily slowed by other work on the machine)."""
    torch.manual_seed(0)
    att = attention_layer(name, dim, heads, 0)
    x = torch.randn(batch, length, dim, requires_grad=True)
    times = []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        att(x)[0].sum().backward()
        times.append(time.perf_counter() - t0)
    return float(np.min(times[1:]))


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


def accuracy_figure(acc, names, title):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    xs = np.arange(len(names))
    for j, task in enumerate(("needle", "points")):
        ax.bar(xs + 0.4 * j - 0.2, [acc[(task, n)] for n in names], 0.4, label=task)
    ax.set_xticks(xs, names)
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
