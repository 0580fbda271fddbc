"""Reading and writing artifacts safely: atomic writes, loaders that say which file is wrong.

Every loader in mintlab goes through these helpers, so a missing, empty,
truncated, corrupted or mismatched file raises :class:`mintlab.ArtifactError`
naming the file, and every writer goes through :func:`atomic_write`, so a
crash mid-write never leaves a half-written file under the final name.

Nothing here unpickles: JSON is parsed with :mod:`json`, tensors come from
safetensors, numpy arrays are read with ``allow_pickle=False`` and torch files
with ``weights_only=True``.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from .errors import ArtifactError, ArtifactNotFoundError

__all__ = [
    "ArtifactError",
    "ArtifactNotFoundError",
    "atomic_write",
    "write_json",
    "read_json",
    "require_keys",
    "check_file",
    "save_safetensors",
    "load_safetensors",
    "save_npy",
    "load_npy",
    "torch_save",
    "torch_load",
]


def check_file(path: str | os.PathLike[str], what: str = "file") -> Path:
    """Return ``Path(path)`` after checking it is an existing, non-empty regular file.

    Raises :class:`ArtifactError` (``"no such file"``, ``"is a directory"``,
    ``"the file is empty"``) naming the path and ``what`` was expected there.
    """
    p = Path(path)
    if not p.exists():
        raise ArtifactNotFoundError(p, f"no such {what}")
    if p.is_dir():
        raise ArtifactError(p, f"expected a {what}, found a directory")
    if p.stat().st_size == 0:
        raise ArtifactError(p, f"the {what} is empty (0 bytes); it was probably cut off while "
                               "being written: write it again")
    return p


def _umask() -> int:
    """The process umask, read without changing it where the platform allows (Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _publish(tmp: str | os.PathLike[str], target: Path) -> None:
    """Give ``tmp`` a plain ``open()``'s permissions, rename it to ``target``, sync the folder."""
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files
    os.replace(tmp, target)
    try:
        fd = os.open(target.parent, os.O_RDONLY)
    except OSError:  # some platforms cannot open folders
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success, flush, fsync and rename it to ``path``.

    On an exception the temporary file is removed and ``path`` is left as it
    was (absent, or the previous complete version). Parent folders are made.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_write(d / "a.txt", "w") as f:
    ...     _ = f.write("done")
    >>> (d / "a.txt").read_text()
    'done'
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        _publish(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` for writers that need a file name.

    The temporary file is renamed to ``path`` on success and removed on an exception.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp" + target.suffix,
                               dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as f:  # the writer closed it: make its bytes durable
            os.fsync(f.fileno())
        _publish(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_json(obj: Any, path: str | os.PathLike[str], *, indent: int | None = 2) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically; returns the path."""
    text = json.dumps(obj, indent=indent, sort_keys=True)
    with atomic_write(path, "w") as f:
        f.write(text)
    return Path(path)


def read_json(path: str | os.PathLike[str], *, what: str = "JSON file",
              required: Iterable[str] = (), kind: type = dict) -> Any:
    """Parse a JSON file, raising :class:`ArtifactError` for every way it can be unusable.

    ``kind`` is the expected top-level type (``dict`` or ``list``); ``required``
    the keys a dict must hold.
    """
    p = check_file(path, what)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ArtifactError(p, f"the {what} is not UTF-8 text ({err.reason} at byte "
                               f"{err.start}); it is binary or corrupted") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as err:
        hint = " (it ends early: truncated?)" if err.pos >= len(text.rstrip()) - 1 else ""
        raise ArtifactError(p, f"the {what} is not valid JSON: {err.msg} at line {err.lineno}, "
                               f"column {err.colno}{hint}") from None
    if not isinstance(obj, kind):
        raise ArtifactError(p, f"the {what} must hold a JSON {_json_name(kind)}, "
                               f"found a {_json_name(type(obj))}")
    if required and isinstance(obj, dict):
        require_keys(obj, required, p, what)
    return obj


def _json_name(t: type) -> str:
    return {dict: "object", list: "array", str: "string", int: "number", float: "number",
            bool: "boolean", type(None): "null"}.get(t, t.__name__)


def require_keys(mapping: Mapping[str, Any], required: Iterable[str],
                 path: str | os.PathLike[str], what: str = "file") -> None:
    """Raise :class:`ArtifactError` listing the ``required`` keys missing from ``mapping``."""
    missing = [k for k in required if k not in mapping]
    if missing:
        entries = "entry" if len(missing) == 1 else "entries"
        raise ArtifactError(path, f"the {what} lacks required {entries} {missing}; it was "
                                  "written by another program or version")


def save_safetensors(tensors: Mapping[str, Any], path: str | os.PathLike[str],
                     metadata: Mapping[str, str] | None = None) -> Path:
    """Write torch ``tensors`` (moved to the CPU, contiguous) to a safetensors file atomically."""
    from safetensors.torch import save_file

    cpu = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(cpu, str(tmp), metadata=dict(metadata) if metadata else None)
    return Path(path)


def load_safetensors(path: str | os.PathLike[str], *, what: str = "safetensors file",
                     required: Iterable[str] = ()) -> tuple[dict[str, Any], dict[str, str]]:
    """Read ``(tensors, metadata)`` from a safetensors file; :class:`ArtifactError` if unusable."""
    from safetensors import SafetensorError, safe_open

    p = check_file(path, what)
    try:
        with safe_open(str(p), framework="pt") as f:
            metadata = dict(f.metadata() or {})
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open API)
    except (SafetensorError, OSError, RuntimeError, ValueError) as err:
        size = p.stat().st_size
        raise ArtifactError(p, f"the {what} ({size} bytes) is not a readable safetensors file "
                               f"(truncated or corrupted?): {err}") from None
    if required:
        require_keys(tensors, required, p, what)
    return tensors, metadata


def save_npy(array: Any, path: str | os.PathLike[str]) -> Path:
    """Write a numpy array to ``path`` atomically (no pickle)."""
    import numpy as np

    with atomic_write(path, "wb") as f:
        np.save(f, np.asarray(array), allow_pickle=False)
    return Path(path)


def load_npy(path: str | os.PathLike[str], *, what: str = "numpy file") -> Any:
    """Read a ``.npy`` file without pickle; :class:`ArtifactError` if unusable."""
    import numpy as np

    p = check_file(path, what)
    try:
        return np.load(p, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise ArtifactError(p, f"the {what} is not a readable .npy file (truncated, corrupted or "
                               f"holding Python objects): {err}") from None


def torch_save(obj: Any, path: str | os.PathLike[str]) -> Path:
    """``torch.save`` to ``path`` atomically."""
    import torch

    with atomic_write(path, "wb") as f:
        torch.save(obj, f)
    return Path(path)


def torch_load(path: str | os.PathLike[str], *, what: str = "torch file") -> Any:
    """``torch.load(..., weights_only=True, map_location="cpu")``.

    Raises :class:`ArtifactError` if the file is unusable or holds more than tensors.
    """
    import pickle

    import torch

    p = check_file(path, what)
    try:
        return torch.load(p, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, ValueError, OSError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ArtifactError(p, f"the {what} cannot be read safely (truncated, corrupted, or it "
                               f"holds objects other than tensors and plain containers): "
                               f"{first}") from None
