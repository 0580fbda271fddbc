"""Shared pieces of the post-training compression experiments (zs-svd, io-svd, prehab, conqur).

* :class:`LMSettings`: the knobs every testbed experiment shares (model
  size, calibration batches, how much of the test split is scored);
* :func:`start`: the trained testbed model, its calibration batches and its
  dense perplexity;
* :func:`window_nll`: the test split scored window by window, so that two
  compressed models are compared per test window (paired samples);
* :func:`matched_uniform`: a uniform-rank baseline (``svd``, ``asvd``,
  ``svd-llm``) that keeps exactly as many weight entries as the method it is
  compared with.
"""

from __future__ import annotations

import functools
import math
import random
from dataclasses import dataclass
from typing import cast

import numpy as np
import torch
import torch.nn.functional as F

from mintlab.compress.svd import LowRankLinear, Objective, compress_model, find_linear_layers
from mintlab.compress.testbed import (
    encode_text,
    lm_batches,
    minilm_encode,
    minilm_features,
    sentence_embeddings,
    train_testbed_lm,
)
from mintlab.datasets import load_corpus_verses, load_text_corpus

from ._core import Result, Settings
from ._sets_common import one_torch_thread

__all__ = ["LMSettings", "single_threaded", "start", "testbed", "window_nll", "perplexity_of",
           "matched_uniform", "uniform_ranks_for", "minilm_sweep", "plot_sweep"]


@dataclass(frozen=True, kw_only=True)
class LMSettings(Settings):
    """Knobs shared by the testbed experiments."""

    size: str  # testbed GPT: "tiny" (0.48 M parameters) or "small" (3.2 M)
    calibration_batches: int  # calibration batches of 8 windows x 128 bytes
    eval_bytes: int | None  # leading bytes of the test split scored (None: all 194 KB)


def single_threaded(body):
    """``body`` run on one torch thread (small models: fastest, and no oversubscription when
    another process shares the cores). Any signature: the arguments are passed through."""
    @functools.wraps(body)
    def run(*args, **kwargs):
        with one_torch_thread():
            return body(*args, **kwargs)
    return run


def testbed(settings: LMSettings, seed: int = 0):
    """(model, calibration batches) of the settings' testbed size, trained with ``seed``."""
    model = train_testbed_lm(settings.size, seed=seed)
    calib = lm_batches("calibration", n_batches=settings.calibration_batches, batch_size=8,
                       seq_len=model.config.context, seed=seed)
    return model, calib


def start(settings: LMSettings, seed: int = 0):
    """(result with the dense perplexity recorded, model, calibration, scorer).

    ``scorer(model)`` is :func:`window_nll` on the settings' test bytes.
    """
    model, calib = testbed(settings, seed)
    res = Result(seed=seed)

    def scorer(m):
        return window_nll(m, max_bytes=settings.eval_bytes)

    dense = scorer(model)
    res.metrics["dense_perplexity"] = perplexity_of(dense)
    res.metrics["test_windows"] = float(dense.size)
    return res, model, calib, scorer


@functools.lru_cache(maxsize=4)
def _split_tokens(split: str) -> torch.Tensor:
    return encode_text(load_text_corpus(split))


@torch.no_grad()
def window_nll(model, split: str = "test", *, max_bytes: int | None = None,
               batch_size: int = 16) -> np.ndarray:
    """Mean next-byte negative log-likelihood (nats) of each test window, shape ``(n,)``.

    The windows are those of :func:`mintlab.compress.testbed.perplexity`
    (consecutive, non-overlapping, the model's context long), so
    ``exp(window_nll(...).mean())`` is that perplexity.
    """
    seq_len = model.config.context
    data = _split_tokens(split)
    if max_bytes is not None:
        data = data[:max_bytes]
    n = (len(data) - 1) // seq_len
    if n < 1:
        raise ValueError(f"max_bytes={max_bytes} holds no window of {seq_len + 1} bytes")
    idx = torch.arange(n)[:, None] * seq_len + torch.arange(seq_len + 1)
    windows = data[: n * seq_len + 1][idx]
    was = model.training
    model.eval()
    out = []
    for i in range(0, n, batch_size):
        b = windows[i: i + batch_size]
        logits = model(b[:, :-1])
        nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), b[:, 1:].reshape(-1),
                              reduction="none").view(b.shape[0], -1)
        out.append(nll.mean(1).double())
    model.train(was)
    return torch.cat(out).numpy()


def perplexity_of(nll: np.ndarray) -> float:
    """Per-byte perplexity from per-window NLLs of equal length."""
    return float(math.exp(float(np.mean(nll))))


# --------------------------------------------------------------------------- fair baselines


def uniform_ranks_for(shapes: dict[str, tuple[int, int]], kept: int) -> dict[str, int]:
    """Ranks, as near a uniform fraction of each layer as integers allow, keeping ``kept`` entries.

    A layer ``m x n`` at rank ``k`` stores ``k (m + n)`` entries. The ideal
    rank of a layer at a uniform kept fraction ``f = kept / sum(m n)`` is
    ``f m n / (m + n)``; among the integer ranks near it, the ones whose total
    is exactly ``kept`` with the least squared distance from the ideal are
    returned. ``ValueError`` when no combination hits ``kept`` exactly.
    """
    total = sum(m * n for m, n in shapes.values())
    frac = kept / total
    states: dict[int, tuple[float, tuple[int, ...]]] = {0: (0.0, ())}
    for m, n in shapes.values():
        ideal = frac * m * n / (m + n)
        base = int(math.floor(ideal))
        options = [k for k in range(base - 3, base + 5) if 1 <= k <= min(m, n)]
        nxt: dict[int, tuple[float, tuple[int, ...]]] = {}
        for s, (cost, ks) in states.items():
            for k in options:
                s2 = s + k * (m + n)
                if s2 > kept:
                    continue
                c2 = cost + (k - ideal) ** 2
                if s2 not in nxt or c2 < nxt[s2][0]:
                    nxt[s2] = (c2, (*ks, k))
        states = nxt
    if kept not in states:
        raise ValueError(f"no near-uniform ranks keep exactly {kept} entries")
    return dict(zip(shapes, states[kept][1], strict=True))


def matched_uniform(model, method: str, kept: int, calibration, *, exclude=None, include=None,
                    objective: Objective | None = None, seed: int = 0):
    """A uniform-rank baseline keeping exactly ``kept`` weight entries: (model, ranks).

    ``method`` is one of the uniform methods (``"svd"``, ``"asvd"``,
    ``"svd-llm"``). The model is compressed once at a ratio whose uniform
    ranks are at least the target ones (:func:`uniform_ranks_for`), and each
    layer's factors are cut to its target rank: the components are ordered by
    singular value, so a prefix of rank ``k`` is exactly the method's rank-``k``
    truncation. The equal count is asserted.
    """
    if method not in ("svd", "asvd", "svd-llm"):
        raise ValueError(f"method must be a uniform-rank method, got {method!r}")
    layers = find_linear_layers(model, include, exclude)
    shapes = {n: (int(lin.weight.shape[0]), int(lin.weight.shape[1]))
              for n, lin in layers.items()}
    ranks = uniform_ranks_for(shapes, kept)
    # the largest ratio at which every layer's uniform rank is still >= its target
    ratio = min(1.0 - (ranks[n] + 0.5) * (m + k) / (m * k) for n, (m, k) in shapes.items())
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"{kept} kept entries leave no room for a uniform {method} baseline")
    cm, _ = compress_model(model, method, ratio, calibration, objective=objective,
                           include=include, exclude=exclude, seed=seed)
    for name, k in ranks.items():
        low = cm.get_submodule(name)
        if not isinstance(low, LowRankLinear) or low.rank < k:
            raise RuntimeError(f"{name}: expected a factorised layer of rank >= {k}")
        cut = LowRankLinear.from_factors(low.up.detach()[:, :k], low.down.detach()[:k],
                                         None if low.bias is None else low.bias.detach())
        parent, _, child = name.rpartition(".")
        setattr(cm.get_submodule(parent) if parent else cm, child, cut)
    stored = sum(cast(LowRankLinear, cm.get_submodule(n)).rank * (m + k)
                 for n, (m, k) in shapes.items())
    if stored != kept:
        raise RuntimeError(f"matched baseline keeps {stored} entries, not {kept}")
    return cm, ranks


# --------------------------------------------------------------------------- MiniLM


def _minilm_loss_logits(model, batch):
    a = minilm_encode(model, batch[0])
    b = minilm_encode(model, batch[1])
    return 20.0 * a @ b.T


def minilm_objective() -> Objective:
    """In-batch contrastive objective on pairs of consecutive verses (MiniLM's training task)."""
    def loss(model, batch):
        logits = _minilm_loss_logits(model, batch)
        return F.cross_entropy(logits, torch.arange(len(logits)))
    return Objective(loss, _minilm_loss_logits, "minilm-contrastive")


def minilm_calibration(tokenizer, n_batches: int = 8, batch_size: int = 32, seed: int = 0):
    """Batches of (verse_i, verse_i+1) features from the calibration split."""
    verses = load_corpus_verses("calibration")
    rng = random.Random(seed)
    out = []
    for _ in range(n_batches):
        idx = [rng.randrange(len(verses) - 1) for _ in range(batch_size)]
        out.append((minilm_features(tokenizer, [verses[i] for i in idx]),
                    minilm_features(tokenizer, [verses[i + 1] for i in idx])))
    return out


def minilm_fidelity(original, compressed, tokenizer, n: int = 256) -> float:
    """Mean cosine between original and compressed embeddings of held-out test verses."""
    sentences = load_corpus_verses("test")[:n]
    a = sentence_embeddings(original, tokenizer, sentences)
    b = sentence_embeddings(compressed, tokenizer, sentences)
    return float((a * b).sum(1).mean())


def minilm_sweep(res, method: str, ratios, seed: int, **method_kwargs) -> None:
    """MiniLM embedding fidelity of ``method`` and of SVD-LLM with the same kept entries.

    Recorded in ``res.metrics`` as ``minilm_cosine_<method>_<pct>`` and
    ``minilm_cosine_svd-llm_<pct>``.
    """
    from mintlab.compress.testbed import load_minilm, minilm_available

    if not minilm_available():
        res.metrics["minilm_skipped"] = 1.0
        return
    mini, tok = load_minilm()
    calib = minilm_calibration(tok, seed=seed)
    obj = minilm_objective()
    for ratio in ratios:
        pct = int(round(100 * ratio))
        cm, rep = compress_model(mini, method, ratio, calib, objective=obj, seed=seed,
                                 include=("encoder.",), **method_kwargs)
        res.metrics[f"minilm_cosine_{method}_{pct}"] = minilm_fidelity(mini, cm, tok)
        base, _ = matched_uniform(mini, "svd-llm", rep.params_after, calib, objective=obj,
                                  include=("encoder.",), seed=seed)
        res.metrics[f"minilm_cosine_svd-llm_{pct}"] = minilm_fidelity(mini, base, tok)


def plot_sweep(table, methods, ratios, dense, ranks, title, rank_label="rank kept"):
    """Perplexity vs ratio per method, and the rank profile a method chose."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
    for key in methods:
        xs = [r for r in ratios if (key, r) in table]
        ax[0].plot([100 * r for r in xs], [table[(key, r)] for r in xs], "o-", label=key)
    ax[0].axhline(dense, color="k", lw=0.8, ls=":", label="dense")
    ax[0].set_xlabel("parameters removed (%)")
    ax[0].set_ylabel("test perplexity (per byte)")
    ax[0].set_yscale("log")
    ax[0].legend(fontsize=7)
    names = list(ranks)
    ax[1].bar(range(len(names)), [ranks[n] for n in names])
    ax[1].set_xticks(range(len(names)), [n.replace("blocks.", "b").replace("attn.", "")
                                         for n in names], rotation=70, fontsize=6)
    ax[1].set_ylabel(rank_label)
    ax[1].set_title(title)
    fig.tight_layout()
    return fig
