"""Files for compressed models and adapters: safetensors with a JSON header entry.

Writes are atomic (a temporary file beside the target, renamed on success),
and every way a file can be unusable (missing, empty, truncated, corrupted,
written by another program, another format or version) raises
:class:`mintlab.ArtifactError` naming the file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch

from .._artifacts import load_safetensors, save_safetensors
from ..errors import ArtifactError

__all__ = ["save_tensors", "load_tensors", "tensor_bytes", "check_path"]

_META_KEY = "mintlab"


def tensor_bytes(tensors: Mapping[str, torch.Tensor] | Iterable[torch.Tensor]) -> int:
    """Bytes taken by the values of ``tensors`` (a dict or an iterable of tensors)."""
    values = tensors.values() if isinstance(tensors, Mapping) else tensors
    return int(sum(t.numel() * t.element_size() for t in values))


def check_path(path: Any, name: str = "path") -> Path:
    """``path`` as a :class:`~pathlib.Path` ending in ``.safetensors`` (``TypeError`` otherwise)."""
    if isinstance(path, bool) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a str or os.PathLike file name, got {type(path).__name__}")
    p = Path(path)
    if p.suffix != ".safetensors":
        raise ValueError(f"{name} must end in '.safetensors', got {str(p)!r}")
    return p


def save_tensors(path: str | os.PathLike[str], tensors: Mapping[str, torch.Tensor],
                 meta: Mapping[str, Any]) -> Path:
    """Write ``tensors`` (moved to the CPU) and the JSON-able ``meta`` to a safetensors file.

    The file is written to a temporary name and renamed, so a crash never
    leaves a half-written file under ``path``.
    """
    p = check_path(path)
    # own copies: safetensors refuses tensors that share memory (views of one buffer)
    cpu = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    save_safetensors(cpu, p, metadata={_META_KEY: json.dumps(dict(meta), sort_keys=True)})
    return p


def load_tensors(path: str | os.PathLike[str], *, what: str = "mintlab safetensors file",
                 ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a file written by :func:`save_tensors`: ``(tensors, meta)``.

    Raises
    ------
    ArtifactError
        The file is missing, empty, truncated or corrupted, or holds no
        (or an unreadable) mintlab metadata entry.
    """
    if isinstance(path, bool) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike file name, got {type(path).__name__}")
    tensors, header = load_safetensors(path, what=what)
    if _META_KEY not in header:
        raise ArtifactError(path, f"the {what} was not written by mintlab (no {_META_KEY!r} "
                                  "entry in its safetensors metadata)")
    try:
        meta = json.loads(header[_META_KEY])
    except json.JSONDecodeError as err:
        raise ArtifactError(path, f"the {what} has a corrupted {_META_KEY!r} metadata entry "
                                  f"(not valid JSON: {err.msg})") from None
    if not isinstance(meta, dict):
        raise ArtifactError(path, f"the {what} has a {_META_KEY!r} metadata entry that is not "
                                  f"a JSON object (found {type(meta).__name__})")
    return tensors, meta
