"""Small argument checks shared by the embeddings, layers and models built on them."""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from .._validation import check_bool  # noqa: F401  (re-exported)

__all__ = ["check_bool", "check_seed", "no_global_draws", "seeded_modules"]


def check_seed(seed: Any, name: str = "seed", *, numpy_ok: bool = True,
               torch_ok: bool = True) -> Any:
    """Check a seed argument: ``None``, a non-negative int, or a generator; returned unchanged.

    ``numpy_ok`` admits ``np.random.Generator`` / ``RandomState``, ``torch_ok``
    a ``torch.Generator``.
    """
    if seed is None:
        return seed
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        if int(seed) < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {int(seed)}")
        return seed
    if numpy_ok and isinstance(seed, np.random.Generator | np.random.RandomState):
        return seed
    if torch_ok and isinstance(seed, torch.Generator):
        return seed
    kinds = ["an int", "None"]
    if numpy_ok:
        kinds.insert(1, "a numpy random Generator")
    if torch_ok:
        kinds.insert(1, "a torch.Generator")
    raise TypeError(f"{name} must be {', '.join(kinds[:-1])} or {kinds[-1]}, got "
                    f"{type(seed).__name__} {seed!r}")


def _cuda_in_use() -> list[int]:
    """The CUDA devices whose generators a block may draw from (none while CUDA is unused)."""
    if not torch.cuda.is_available():
        return []
    default = getattr(torch, "get_default_device", lambda: torch.device("cpu"))()
    if torch.cuda.is_initialized() or default.type == "cuda":
        return list(range(torch.cuda.device_count()))
    return []


@contextlib.contextmanager
def no_global_draws() -> Iterator[None]:
    """Run a block (e.g. building ``nn.Linear`` layers whose weights are then redrawn from a
    seed) without advancing torch's global generators: the CPU one, and the CUDA ones once
    CUDA is in use (layers built under ``torch.set_default_device("cuda")`` draw there), are
    restored on exit."""
    with torch.random.fork_rng(devices=_cuda_in_use()):
        yield


def _peek_int(seed: Any) -> int:
    """An integer drawn from a copy of a generator seed (the caller's generator is untouched)."""
    import copy

    if isinstance(seed, torch.Generator):
        g = torch.Generator(device=seed.device)
        g.set_state(seed.get_state())
        return int(torch.randint(0, 2**62, (1,), generator=g, device=seed.device))
    if isinstance(seed, np.random.Generator):
        return int(copy.deepcopy(seed).integers(0, 2**62))
    if isinstance(seed, np.random.RandomState):
        return int(copy.deepcopy(seed).randint(0, 2**62, dtype=np.int64))
    return int(seed)


@contextlib.contextmanager
def seeded_modules(seed: Any, tag: str) -> Iterator[None]:
    """Build ``torch.nn`` layers (whose initialisers draw from torch's global generator) from
    ``seed`` without touching the caller's global state.

    ``seed=None`` draws from the global generator as torch does. Otherwise the block runs
    with the global generators (CPU, and every CUDA one: layers built under
    ``torch.set_default_device("cuda")`` draw there) forked and seeded from ``(seed, tag)``
    (``tag`` keeps these draws apart from the ones the layer makes from ``seed`` itself), so
    the same seed builds the same layer on any default device and the caller's streams
    never see these draws.
    """
    if seed is None:
        yield
        return
    import zlib

    words = [_peek_int(seed) % 2**63, zlib.crc32(tag.encode())]
    derived = int(np.random.SeedSequence(words).generate_state(1, dtype=np.uint64)[0] >> 1)
    from .._random import seeded_global_rng

    with seeded_global_rng(derived):
        yield
