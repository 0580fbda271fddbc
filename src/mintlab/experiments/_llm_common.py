"""Shared pieces of the post-training compression experiments (zs-svd, io-svd, prehab, conqur)."""

from __future__ import annotations

import functools
import random

import torch
import torch.nn.functional as F

from mintlab.compress.svd import Objective
from mintlab.compress.testbed import (
    lm_batches,
    minilm_encode,
    minilm_features,
    perplexity,
    sentence_embeddings,
    train_testbed_lm,
)
from mintlab.datasets import load_corpus_verses

from ._core import Result
from ._sets_common import one_torch_thread

#: Quick mode scores the first 64 KB of the test split; full mode all of it (194 KB).
QUICK_EVAL_BYTES = 65536


def single_threaded(body):
    """``run(quick, seed)`` calling ``body`` on one torch thread (small models: fastest, and
    no oversubscription when another process shares the cores)."""
    @functools.wraps(body)
    def run(quick: bool = True, seed: int = 0) -> Result:
        with one_torch_thread():
            return body(quick, seed)
    return run


def start(quick: bool, seed: int = 0):
    """(result with the dense perplexity recorded, model, calibration, perplexity fn, size)."""
    model, calib, ppl, size = testbed(quick, seed)
    res = Result()
    res.metrics["dense_perplexity"] = ppl(model)
    return res, model, calib, ppl, size


def testbed(quick: bool, seed: int = 0):
    """(model, calibration batches, perplexity function, size name)."""
    size = "tiny" if quick else "small"
    model = train_testbed_lm(size, seed=seed, progress=not quick)
    calib = lm_batches("calibration", n_batches=16 if quick else 32, batch_size=8,
                       seq_len=model.config.context, seed=seed)
    max_bytes = QUICK_EVAL_BYTES if quick else None

    def ppl(m):
        return perplexity(m, "test", max_bytes=max_bytes)

    return model, calib, ppl, size


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


def minilm_sweep(res, methods, ratios, seed: int) -> None:
    """MiniLM embedding fidelity of each method at each ratio, into ``res.metrics``."""
    from mintlab.compress.svd import compress_model
    from mintlab.compress.testbed import load_minilm, minilm_available

    if not minilm_available():
        res.metrics["minilm_skipped"] = 1.0
        return
    mini, tok = load_minilm()
    calib = minilm_calibration(tok, seed=seed)
    obj = minilm_objective()
    for ratio in ratios:
        pct = int(round(100 * ratio))
        for method in methods:
            cm, _ = compress_model(mini, method, ratio, calib, objective=obj, seed=seed,
                                   include=("encoder.",))
            res.metrics[f"minilm_cosine_{method}_{pct}"] = minilm_fidelity(mini, cm, tok)


def plot_sweep(table, methods, ratios, dense, ranks, title):
    """Perplexity vs ratio per method, and the rank profile a method chose."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
    for key in methods:
        ax[0].plot([100 * r for r in ratios], [table[(key, r)] for r in ratios], "o-", label=key)
    ax[0].axhline(dense, color="k", lw=0.8, ls=":", label="dense")
    ax[0].set_xlabel("parameters removed (%)")
    ax[0].set_ylabel("test perplexity (per byte)")
    ax[0].set_yscale("log")
    ax[0].legend(fontsize=7)
    names = list(ranks)
    ax[1].bar(range(len(names)), [ranks[n] for n in names])
    ax[1].set_xticks(range(len(names)), [n.replace("blocks.", "b").replace("attn.", "")
                                         for n in names], rotation=70, fontsize=6)
    ax[1].set_ylabel("rank kept at 40%")
    ax[1].set_title(title)
    fig.tight_layout()
    return fig
