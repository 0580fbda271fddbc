"""Shared timing and reporting for the benchmarks.

The device of our side of every comparison is set once per run
(``python -m benchmarks --device cuda``, or ``set_device``); suites put their
tensors there with :func:`on_device`. CPU-only anchors (POT on numpy arrays,
numpy sorts) stay on the CPU, and :func:`report` says so in the title and the
JSON. Timed calls are bracketed by :func:`sync`, so asynchronous CUDA kernels
are counted in full.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

_DEVICE: torch.device | None = None


def parse_device(argv: list[str]) -> str | None:
    """The value of ``--device=X`` or ``--device X`` in ``argv`` (``None`` if absent)."""
    for i, arg in enumerate(argv):
        if arg.startswith("--device="):
            return arg.split("=", 1)[1]
        if arg == "--device":
            if i + 1 >= len(argv):
                raise SystemExit("--device needs a value: cpu, cuda or cuda:N")
            return argv[i + 1]
    return None


def set_device(name: str) -> torch.device:
    """Set the device our side of the benchmarks runs on; checks that it exists."""
    global _DEVICE
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise SystemExit(f"--device must be cpu or cuda[:N], got {name!r}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"--device {name}: no CUDA device is available")
    if dev.type not in ("cpu", "cuda"):
        raise SystemExit(f"--device must be cpu or cuda[:N], got {name!r}")
    _DEVICE = dev
    return dev


def get_device() -> torch.device:
    """The benchmark device (``--device`` on the command line; CPU by default)."""
    if _DEVICE is None:
        set_device(parse_device(sys.argv) or "cpu")
    return _DEVICE


def on_device(x):
    """``x`` for our side: unchanged on the CPU (numpy stays numpy), a tensor on a GPU."""
    dev = get_device()
    if dev.type == "cpu":
        return x
    if isinstance(x, np.ndarray):
        return torch.as_tensor(x, device=dev)
    if isinstance(x, torch.Tensor | torch.nn.Module):
        return x.to(dev)
    return x


def sync() -> None:
    """Wait for queued CUDA work (no-op when CUDA is not in use)."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def _timed(fn: Callable[[], object]) -> float:
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - t0


def median_time(fn: Callable[[], object], repeats: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in seconds after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    return statistics.median(_timed(fn) for _ in range(repeats))


def alternate(fns: dict[str, Callable[[], object]], repeats: int = 5, warmup: int = 1):
    """Time several functions alternately (round-robin) and return medians by name."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    sync()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(_timed(fn))
    return {k: statistics.median(v) for k, v in times.items()}


def report(title: str, rows: list[dict], path: str | Path) -> None:
    """Print ``rows`` as a table and write them as JSON to ``path``.

    On a GPU run the file name gets a ``_cuda`` suffix (``line_w1d_cuda.json``).
    """
    header = list(dict.fromkeys(k for r in rows for k in r))  # union, in first-seen order
    dev = get_device()
    where = "" if dev.type == "cpu" else \
        f"; ours on {_device_name(dev)}, CPU-only anchors (POT, numpy) on the CPU"
    print(f"\n{title}  (torch threads: {torch.get_num_threads()}{where})")
    widths = [max(len(h), *(len(_fmt(r.get(h, ""))) for r in rows)) for h in header]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for r in rows:
        print("  ".join(_fmt(r.get(h, "")).ljust(w) for h, w in zip(header, widths, strict=True)))
    path = Path(path)
    if dev.type != "cpu":  # GPU runs never overwrite the CPU results the README is built from
        path = path.with_name(f"{path.stem}_{dev.type}{path.suffix}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"title": title, "threads": torch.get_num_threads(),
                                "device": _device_name(dev),
                                "anchor_device": "cpu", "rows": rows}, indent=2))


def _device_name(dev: torch.device) -> str:
    if dev.type == "cuda":
        return f"{dev} ({torch.cuda.get_device_name(dev)})"
    return "cpu"


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)
