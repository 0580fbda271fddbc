"""Harness of the ``espformer`` experiment: the paper's kinds of task at small scale.

* ``images``: Fashion-MNIST images as sequences of non-overlapping patches (a small ViT);
* ``points``: point-cloud MNIST, digits as clouds of equal-weight points drawn by ink;
* ``text``: which of Austen's six novels a passage comes from (word tokens).

:class:`TransformerClassifier` is a pre-norm transformer of any depth whose attention is
the layer under test, read out through a class token or mean pooling;
:func:`init_parameters` redraws its parameters from a seeded generator (no global random
state), so every attention starts from the same weights. :func:`balance_errors` measures
row and column sums of trained maps; :func:`layer_step_times` times one forward and
backward pass of each layer, the layers taking turns in each round (paired times).
The long-sequence tasks of ``lotformer`` and ``luna`` live in :mod:`._long_tasks`.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from torch import nn

# ------------------------------------------------------------------------------------------
# The tasks of the ESPFormer paper's kind, at small scale (images, point clouds, text), and a
# transformer classifier of any depth whose parameters are drawn from a seeded generator.
PAPER_TASKS = ("images", "points", "text")
PAPER_CLASSES = {"images": 10, "points": 10, "text": 6}


def fashion_patches(split, n, seed, patch=4):
    """Fashion-MNIST images as sequences of non-overlapping ``patch x patch`` patches.

    Returns ``(X float32 (n, (28 / patch)^2, patch^2) in [0, 1], y int64 (n,))``, patches in
    row-major order, class-balanced (``load_fashion_mnist(..., source="subset")``).
    """
    from mintlab.datasets import load_fashion_mnist

    X, y = load_fashion_mnist(split, n, seed, source="subset")
    g = 28 // patch
    X = torch.as_tensor(X, dtype=torch.float32) / 255.0  # (n, 28, 28)
    X = X.view(-1, g, patch, g, patch).permute(0, 1, 3, 2, 4).reshape(-1, g * g, patch * patch)
    return X.contiguous(), torch.as_tensor(y)


def digit_clouds(split, n, n_points, seed):
    """MNIST digits as 2D point clouds of ``n_points`` equal-weight points drawn by ink
    (``sample_image_points``), centred on the image centre and scaled to ``[-1, 1]^2``.

    Returns ``(X float32 (n, n_points, 2), y int64 (n,))``, class-balanced.
    """
    from mintlab.datasets import load_mnist, sample_image_points

    X, y = load_mnist(split, n, seed)
    pts = sample_image_points(X, n_points, seed=np.random.default_rng([seed, 1]))
    P = torch.as_tensor(np.stack(pts), dtype=torch.float32) * 2 - 1
    return P, torch.as_tensor(y)


def austen_task(length, train_per_class, test_per_class, vocab, seed):
    """Which of Austen's six novels a passage of ``length`` words comes from.

    Training passages come from the corpus's training chapters, test passages from
    its held-out chapters (test and calibration splits); the vocabulary is the
    ``vocab`` most frequent training words (0 = padding, 1 = unknown).
    Returns ``(Xtr, ytr, Xte, yte)`` with token ids int64 ``(N, length)``.
    """
    from mintlab.datasets.text_classes import austen_passages, build_vocabulary, encode_passages

    Ptr, ytr = austen_passages("train", length, train_per_class, seed=seed)
    Pte, yte = austen_passages(("test", "calibration"), length, test_per_class, seed=seed)
    words = build_vocabulary(Ptr, vocab)
    return (torch.as_tensor(encode_passages(Ptr, words)), torch.as_tensor(ytr),
            torch.as_tensor(encode_passages(Pte, words)), torch.as_tensor(yte))


class _Block(nn.Module):
    """Pre-norm transformer block: ``h + attn(ln(h))``, then ``h + ff(ln(h))``."""

    def __init__(self, attention, dim):
        super().__init__()
        self.attn = attention
        self.ln1 = nn.LayerNorm(dim)
        self.ln2 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, h):
        h = h + self.attn(self.ln1(h))[0]
        return h + self.ff(self.ln2(h))


class TransformerClassifier(nn.Module):
    """Token embedding (+ learned positions) -> ``depth`` pre-norm blocks -> pooling ->
    linear, every block's attention built by ``make_layer(index)``.

    ``vocab``: token ids in; ``in_features``: real feature vectors in (patches, points).
    ``max_len``: learned absolute positions for that many tokens (``None``: none, a
    permutation-invariant model for sets such as point clouds). ``pool="cls"`` prepends a
    learned class token (no position) and reads it out, as ViT and BERT do;
    ``pool="mean"`` averages the tokens.
    """

    def __init__(self, make_layer, depth, dim, n_classes, *, vocab=None, in_features=None,
                 max_len=None, pool="mean"):
        super().__init__()
        if (vocab is None) == (in_features is None):
            raise ValueError("give exactly one of vocab and in_features")
        if pool not in ("mean", "cls"):
            raise ValueError(f"pool must be 'mean' or 'cls', got {pool!r}")
        self.embed = nn.Embedding(vocab, dim) if vocab is not None else nn.Linear(in_features,
                                                                                dim)
        self.pos = None if max_len is None else nn.Parameter(torch.zeros(max_len, dim))
        self.cls = nn.Parameter(torch.zeros(1, 1, dim)) if pool == "cls" else None
        self.blocks = nn.ModuleList(_Block(make_layer(i), dim) for i in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.out = nn.Linear(dim, n_classes)

    def _embed(self, x):
        h = self.embed(x)  # (B, n, dim)
        if self.pos is not None:
            h = h + self.pos[: h.shape[1]]
        if self.cls is not None:
            h = torch.cat([self.cls.expand(h.shape[0], -1, -1), h], 1)  # (B, 1 + n, dim)
        return h

    def forward(self, x):
        h = self._embed(x)
        for block in self.blocks:
            h = block(h)
        h = self.norm(h)
        return self.out(h[:, 0] if self.cls is not None else h.mean(1))

    @torch.no_grad()
    def attention_maps(self, x):
        """Per block, the per-head attention matrices ``(B, heads, n, n)`` on input ``x``."""
        h, maps = self._embed(x), []
        for block in self.blocks:
            maps.append(block.attn.attention_matrix(block.ln1(h)))
            h = block(h)
        return maps


def init_parameters(model, seed):
    """Redraw every parameter of ``model`` from a generator seeded with ``seed`` (PyTorch's
    default schemes: linear layers uniform in +-1/sqrt(fan_in), embeddings standard normal,
    layer norms one / zero, learned positions and class token normal(0, 0.02)); attention
    ``directions`` keep
    their (seeded) construction values. No global random state is touched."""
    g = torch.Generator().manual_seed(int(seed))
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, nn.Linear):
                bound = 1.0 / math.sqrt(mod.in_features)
                mod.weight.uniform_(-bound, bound, generator=g)
                if mod.bias is not None:
                    mod.bias.uniform_(-bound, bound, generator=g)
            elif isinstance(mod, nn.Embedding):
                mod.weight.normal_(0.0, 1.0, generator=g)
            elif isinstance(mod, nn.LayerNorm):
                mod.weight.fill_(1.0)
                mod.bias.fill_(0.0)
            elif isinstance(mod, TransformerClassifier):
                for p in (mod.pos, mod.cls):
                    if p is not None:
                        p.normal_(0.0, 0.02, generator=g)
    return model


def balance_errors(maps):
    """Per item, the mean absolute row-sum and column-sum errors of attention maps, averaged
    over blocks and heads: ``(rows (B,), columns (B,))`` numpy arrays. Column targets are
    ``n / m`` (every key receives a uniform share)."""
    rows, cols = [], []
    for w in maps:  # (B, h, n, m)
        n, m = w.shape[-2:]
        rows.append((w.sum(-1) - 1).abs().mean((-1, -2)))
        cols.append((w.sum(-2) - n / m).abs().mean((-1, -2)))
    return (torch.stack(rows).mean(0).double().numpy(),
            torch.stack(cols).mean(0).double().numpy())


def layer_step_times(make, length, repeats, *, dim, heads, batch, seed=0,
                     clock=time.perf_counter):
    """Seconds of one forward + backward pass of each layer of ``make`` (``{name: () ->
    module}``) at ``length`` tokens, warm-up first, the layers taking turns in each of
    ``repeats`` rounds. Returns ``{name: array of repeats seconds}`` (paired by round).
    ``clock`` is the timer (``time.process_time`` for CPU time)."""
    g = torch.Generator().manual_seed(seed)
    layers = {name: f() for name, f in make.items()}
    x = torch.randn(batch, length, dim, generator=g).requires_grad_(True)

    def one(att):
        t0 = clock()
        att(x)[0].sum().backward()
        return clock() - t0

    for att in layers.values():
        one(att)
    times = {name: [] for name in layers}
    for _ in range(repeats):
        for name, att in layers.items():
            times[name].append(one(att))
    return {name: np.asarray(t) for name, t in times.items()}
