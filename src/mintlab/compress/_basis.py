"""Random numbers that a model can be rebuilt from: one seed, named streams, fixed blocks.

Every random tensor of the compression methods (PRANC's basis networks,
NOLA's basis matrices, MCNC's generator) is drawn from a *stream*: a fresh
CPU ``torch.Generator`` whose seed is a 63-bit hash of the user's seed and
a tuple of keys (method, parameter name, block index). Consequences:

* the numbers depend only on ``(seed, keys)``, not on the order in which
  tensors are generated, on which other parameters are compressed, or on
  how much memory a caller lets us use;
* any block can be regenerated on its own (PRANC's backward pass does this
  instead of keeping the basis in memory);
* draws happen on the CPU in float32 and are then moved to the target
  device and dtype, so the random tensors are the same bit for bit on
  every machine and device. Weights computed from them (matrix products)
  are the same bit for bit at the same device, dtype and thread count,
  and agree to floating-point rounding otherwise.
"""

from __future__ import annotations

import hashlib
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from .._random import stream_seed

__all__ = ["stream_seed", "stream_generator", "uniform", "check_seed", "stream_fingerprint",
           "rng_record", "rng_problem", "GENERATOR"]


def check_seed(seed: object, name: str = "seed") -> int:
    """A non-negative Python int: the only kind of seed a compressed model can store."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{name} must be a non-negative int (it is stored with the model), "
                        f"got {type(seed).__name__}")
    if int(seed) < 0:
        raise ValueError(f"{name} must be non-negative, got {int(seed)}")
    return int(seed)


def stream_generator(seed: int, *keys: object) -> torch.Generator:
    """A fresh CPU generator for the stream ``keys`` under ``seed``."""
    g = torch.Generator(device="cpu")
    g.manual_seed(stream_seed(seed, *keys))
    return g


def uniform(shape: Sequence[int], seed: int, *keys: object, low: float = -1.0,
            high: float = 1.0, dtype: torch.dtype = torch.float32,
            device: torch.device | str | None = None) -> torch.Tensor:
    """Uniform ``[low, high)`` draws of the stream ``keys``, made on the CPU in float32.

    The values are the same for any ``dtype``/``device`` requested (they are
    converted after drawing).
    """
    g = stream_generator(seed, *keys)
    t = torch.empty(tuple(shape), dtype=torch.float32).uniform_(low, high, generator=g)
    return t.to(device=device, dtype=dtype)


# ------------------------------------------------------------------ fingerprints
#: How every random tensor of the compression methods is drawn; stored with each artifact.
GENERATOR = ("torch.Generator('cpu') (Mersenne Twister) seeded with stream_seed(seed, *keys); "
             "Tensor.uniform_ in float32")
#: Values of a stream's first block that its fingerprint hashes.
FINGERPRINT_VALUES = 4096

#: A random stream of a compressed model: its keys under the model's seed and its first block.
Stream = tuple[tuple[object, ...], tuple[int, ...]]


def stream_fingerprint(seed: int, keys: Sequence[object], shape: Sequence[int]) -> str:
    """BLAKE2b of the first values the stream ``keys`` draws for a block of ``shape``.

    The block is drawn exactly as the methods draw it (float32, on the CPU);
    the first :data:`FINGERPRINT_VALUES` values are hashed. The same seed
    gives the same fingerprint on any machine whose torch draws the same
    numbers; another torch version or generator that changes the stream
    changes it.

    Examples
    --------
    >>> stream_fingerprint(0, ("pranc", "fc.weight", 0), (8, 4)) == \\
    ...     stream_fingerprint(0, ("pranc", "fc.weight", 0), (8, 4))
    True
    """
    block = uniform(tuple(shape), seed, *keys).reshape(-1)[:FINGERPRINT_VALUES]
    return hashlib.blake2b(block.numpy().tobytes(), digest_size=8).hexdigest()


def rng_record(seed: int, streams: Mapping[str, Stream]) -> dict[str, Any]:
    """What an artifact stores about its random numbers: generator, torch version, fingerprints."""
    return {"generator": GENERATOR, "torch": torch.__version__,
            "fingerprints": {label: stream_fingerprint(seed, keys, shape)
                             for label, (keys, shape) in streams.items()}}


def rng_problem(record: Any, seed: int, streams: Mapping[str, Stream]) -> str | None:
    """Why the streams regenerated here differ from those ``record`` was saved with, or None.

    The text says which stream differs, under which torch versions, and how
    to load the model anyway (save it with its basis).
    """
    fix = ("Loading it would silently give other weights. Load it with the torch version it "
           "was saved with, or re-save it there with save(..., include_basis=True), which "
           "stores the random basis itself.")
    if not isinstance(record, Mapping) or not isinstance(record.get("fingerprints"), Mapping):
        return f"its random-number record is unreadable ({record!r})"
    saved = record["fingerprints"]
    if set(saved) != set(streams):
        extra = sorted(set(saved) ^ set(streams))[:5]
        return (f"its random streams {extra} do not match the ones the model regenerates "
                f"(another version of the method?). {fix}")
    for label, (keys, shape) in streams.items():
        now = stream_fingerprint(seed, keys, shape)
        if saved[label] != now:
            return (f"the random basis regenerated from seed {seed} differs from the one the "
                    f"model was saved with: stream {label!r} has fingerprint {now} here but "
                    f"{saved[label]} when saved (saved under torch {record.get('torch')!r} "
                    f"with generator {record.get('generator')!r}; this is torch "
                    f"{torch.__version__!r}). {fix}")
    return None
