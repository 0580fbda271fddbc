"""Exceptions raised by mintlab beyond the built-in ``ValueError`` / ``TypeError``.

Importing this module is cheap (it imports neither numpy nor torch), so
``mintlab.ArtifactError`` is available right after ``import mintlab``.
"""

from __future__ import annotations

import os

__all__ = ["ArtifactError", "ArtifactNotFoundError"]


class ArtifactError(ValueError):
    """A file mintlab reads (a saved model, adapter, index, log or cache entry) is unusable.

    Raised for missing, empty, truncated or corrupted files, files in another
    format, files written by an incompatible version, and files whose contents
    do not match what the caller asked to load into (missing keys, other
    shapes, a checksum or fingerprint mismatch). It subclasses ``ValueError``,
    so existing ``except ValueError`` handlers keep working.

    Parameters
    ----------
    path : str or os.PathLike
        The file (or folder) that could not be used.
    problem : str
        What is wrong with it, in words, ideally with how to fix it.

    Attributes
    ----------
    path : str
        The offending file, as given.
    problem : str
        The description without the path.

    Examples
    --------
    >>> from mintlab import ArtifactError
    >>> err = ArtifactError("model.safetensors", "the file is empty (0 bytes)")
    >>> str(err)
    'model.safetensors: the file is empty (0 bytes)'
    >>> isinstance(err, ValueError)
    True
    """

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

    def __reduce__(self):  # picklable across processes (Dask, xdist)
        return (type(self), (self.path, self.problem))


class ArtifactNotFoundError(ArtifactError, FileNotFoundError):
    """The file or folder to load does not exist.

    Both an :class:`ArtifactError` (so a ``ValueError``) and a
    ``FileNotFoundError`` (so an ``OSError``), so code written against either
    convention keeps catching it.

    Examples
    --------
    >>> from mintlab.errors import ArtifactNotFoundError
    >>> err = ArtifactNotFoundError("index/config.json", "no such file")
    >>> isinstance(err, FileNotFoundError) and isinstance(err, ValueError)
    True
    """
