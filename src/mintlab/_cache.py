"""Where trained artefacts (testbed models, teachers, generators) are cached, and a file lock."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["cache_dir", "file_lock", "cached_module"]


def cache_dir() -> Path:
    """``$MINTLAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/mintlab``, else ``~/.cache/mintlab``."""
    root = os.environ.get("MINTLAB_CACHE_DIR")
    if root:
        path = Path(root)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        path = Path(base) / "mintlab"
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def file_lock(path: Path):
    """An exclusive lock on ``path`` (so concurrent processes train a cached artefact once)."""
    import fcntl
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def cached_module(filename: str, build, train):
    """Load ``build()``'s weights from the cache file ``filename``, or ``train()`` and save them.

    ``train()`` returns a module; its ``train_info`` dict (if any) is saved and
    restored with the weights. Concurrent callers wait on a lock; the file is
    written atomically.
    """
    import torch

    path = cache_dir() / filename
    with file_lock(path.with_suffix(".lock")):
        if path.exists():
            blob = torch.load(path, map_location="cpu", weights_only=True)
            model = build()
            model.load_state_dict(blob["state"])
            model.train_info = dict(blob.get("info", {}))
            return model.eval()
        model = train()
        tmp = path.with_suffix(".tmp")
        torch.save({"state": model.state_dict(), "info": getattr(model, "train_info", {})}, tmp)
        tmp.replace(path)
        return model.eval()
