"""Where trained artefacts (testbed models, teachers, generators) are cached, and a file lock."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["cache_dir", "file_lock"]


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
