"""Files for compressed models and adapters: safetensors with a JSON header entry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

__all__ = ["save_tensors", "load_tensors", "tensor_bytes"]

_META_KEY = "mintlab"


def tensor_bytes(tensors) -> int:
    """Bytes taken by the values of ``tensors`` (a dict or an iterable of tensors)."""
    values = tensors.values() if isinstance(tensors, dict) else tensors
    return int(sum(t.numel() * t.element_size() for t in values))


def save_tensors(path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> Path:
    """Write ``tensors`` (moved to the CPU) and the JSON-able ``meta`` to a safetensors file."""
    from safetensors.torch import save_file

    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"path must end in '.safetensors', got {str(path)!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    cpu = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    save_file(cpu, str(path), metadata={_META_KEY: json.dumps(meta, sort_keys=True)})
    return path


def load_tensors(path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a file written by :func:`save_tensors`: ``(tensors, meta)``."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {str(path)!r}")
    with safe_open(str(path), framework="pt") as f:
        header = f.metadata() or {}
        if _META_KEY not in header:
            raise ValueError(f"{str(path)!r} was not written by mintlab (no {_META_KEY!r} "
                             "entry in its safetensors metadata)")
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open API)
    return tensors, json.loads(header[_META_KEY])
