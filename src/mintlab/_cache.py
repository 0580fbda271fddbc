"""Where derived artefacts (trained testbed models, teachers, generators, parsed data) are cached.

Every cache entry is derived from code, shipped data and seeds, so it can
always be made again. Entries are written to a temporary file beside their
final name and renamed (a crash never leaves a half-written entry), and an
exclusive file lock makes concurrent processes (pytest-xdist workers, two
``mintlab run``) build an entry once: the others wait and then read it.

An entry that cannot be read (empty, truncated, corrupted, or holding other
weights than the model it is loaded into) is rebuilt automatically:
:func:`cached_arrays` entries silently (they are cheap to recompute),
:func:`cached_module` entries with a ``RuntimeWarning`` naming the file (the
model is trained again, which may take a while, and gives the same weights).
"""

from __future__ import annotations

import contextlib
import os
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._artifacts import atomic_path, torch_load, torch_save
from .errors import ArtifactError

if TYPE_CHECKING:
    from torch import nn

__all__ = ["cache_dir", "file_lock", "cached_module", "cached_arrays"]


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
def file_lock(path: str | os.PathLike[str]) -> Iterator[None]:
    """An exclusive lock on ``path`` (so concurrent processes build a cached artefact once).

    The lock is advisory (``flock``) and released when the block ends or the
    process dies; the lock file itself stays (it is empty).
    """
    import fcntl

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _lock_path(path: Path) -> Path:
    return path.with_suffix(".lock")


def _check_filename(filename: Any) -> str:
    if not isinstance(filename, str):
        raise TypeError(f"filename must be a string, got {type(filename).__name__}")
    parts = Path(filename).parts
    if not parts or Path(filename).is_absolute() or ".." in parts or filename.endswith("/"):
        raise ValueError(f"filename must be a file name inside the cache folder (optionally "
                         f"under a sub-folder, without '..'), got {filename!r}")
    return filename


def _load_module(path: Path, build: Callable[[], nn.Module]) -> nn.Module | None:
    """The cached module at ``path``, or None (with a warning) when the entry is unusable."""
    try:
        blob = torch_load(path, what="cache entry")
        if not isinstance(blob, dict) or not isinstance(blob.get("state"), dict):
            raise ArtifactError(path, "the cache entry lacks its 'state' dict (another format)")
        model = build()
        try:
            model.load_state_dict(blob["state"])
        except (RuntimeError, KeyError, ValueError) as err:
            first = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise ArtifactError(path, f"the cache entry holds other weights than the model "
                                      f"built for it: {first}") from None
        info = blob.get("info", {})
        # torch's stub types every Module attribute as Tensor | Module; this one is a dict
        model.train_info = dict(info) if isinstance(info, dict) else {}  # type: ignore[assignment]
        return model.eval()
    except ArtifactError as err:
        warnings.warn(f"{err}; building it again (delete the file to silence this)",
                      RuntimeWarning, stacklevel=3)
        return None


def cached_module(filename: str, build: Callable[[], nn.Module],
                  train: Callable[[], nn.Module]) -> nn.Module:
    """Load ``build()``'s weights from the cache file ``filename``, or ``train()`` and save them.

    ``train()`` returns a module; its ``train_info`` dict (if any) is saved and
    restored with the weights. Concurrent callers wait on a lock, so the model
    is trained once; the file is written atomically (``torch.save`` to a
    temporary file, then a rename) and read with ``weights_only=True``.

    An unreadable entry (empty, truncated, corrupted, another format) or one
    whose weights do not fit ``build()`` is trained again and overwritten,
    with a ``RuntimeWarning`` naming the file: entries are derived from code
    and seeds, so retraining is safe.
    """
    filename = _check_filename(filename)
    if not callable(build) or not callable(train):
        raise TypeError("build and train must be callables returning a torch.nn.Module")
    path = cache_dir() / filename
    with file_lock(_lock_path(path)):
        if path.exists():
            model = _load_module(path, build)
            if model is not None:
                return model
        model = train()
        torch_save({"state": model.state_dict(), "info": getattr(model, "train_info", {})}, path)
        return model.eval()


def _read_arrays(path: Path, keys: Iterable[str]) -> dict[str, np.ndarray] | None:
    """Every array of the ``.npz`` file at ``path``, or None when it is missing or unusable."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            out = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error):
        return None
    if any(k not in out for k in keys):
        return None
    return out


def cached_arrays(filename: str, compute: Callable[[], Mapping[str, Any]], *,
                  keys: Iterable[str] = ()) -> dict[str, np.ndarray]:
    """Numpy arrays kept in the cache file ``filename`` (``.npz``), computed once.

    Reads the entry when it is there and readable (without a lock: entries
    appear only by an atomic rename); otherwise takes the entry's lock, reads
    again (another process may have just written it), or calls ``compute()``
    (a mapping name -> array) and writes its result atomically. The arrays are
    returned as read back from the file, on the first call too, so the first
    call and later ones give the same values, dtypes and shapes. An entry that
    is empty, truncated, corrupted or lacks one of ``keys`` is recomputed and
    replaced silently: these entries are cheap to rebuild.

    ``compute()`` must return every name in ``keys``, and arrays that numpy
    stores without pickling (numbers, booleans, strings): an object array
    raises ``TypeError``, as it could never be read back.
    """
    filename = _check_filename(filename)
    if not filename.endswith(".npz"):
        raise ValueError(f"filename must end with '.npz', got {filename!r}")
    keys = tuple(keys)
    path = cache_dir() / filename
    got = _read_arrays(path, keys)
    if got is not None:
        return got
    with file_lock(_lock_path(path)):
        got = _read_arrays(path, keys)
        if got is not None:
            return got
        result = compute()
        if not isinstance(result, Mapping):
            raise TypeError(f"compute() must return a mapping name -> array for the cache "
                            f"entry {filename!r}, got {type(result).__name__}")
        arrays = {}
        for k, v in result.items():
            if not isinstance(k, str):
                raise TypeError(f"compute() must name its arrays with strings for the cache "
                                f"entry {filename!r}, got the key {k!r}")
            arr = np.ascontiguousarray(v)
            if arr.dtype.hasobject:
                raise TypeError(f"compute() returned {k!r} as an array of dtype {arr.dtype} for "
                                f"the cache entry {filename!r}: only arrays of numbers, "
                                f"booleans or strings can be stored (without pickle)")
            arrays[k] = arr
        missing = [k for k in keys if k not in arrays]
        if missing:
            raise ValueError(f"compute() must return the arrays {list(keys)} for the cache "
                             f"entry {filename!r}, missing {missing}")
        with atomic_path(path) as tmp:
            # numpy's stub matches **kwds against savez's allow_pickle flag
            np.savez(tmp, **arrays)  # type: ignore[arg-type]
        got = _read_arrays(path, keys)
        if got is None:  # pragma: no cover - the file was just written
            raise ArtifactError(path, "the cache entry just written cannot be read back")
        return got
