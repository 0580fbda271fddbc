"""Embeddings of many sets on a Dask cluster, and distance matrices too large for memory."""

from __future__ import annotations

import numbers
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from .._validation import check_int
from ._client import PartitionError, get_client, wait_for

__all__ = ["embed_distributed", "pairwise_distances_distributed", "partition_sets"]


def _is_bag(x) -> bool:
    try:
        import dask.bag as db
    except ImportError:  # pragma: no cover
        return False
    return isinstance(x, db.Bag)


def _set_dim(s, i):
    """The dimension of ``sets[i]``, after checking it (no copy of a numeric array)."""
    pts = s[0] if isinstance(s, tuple) and len(s) == 2 else s
    if hasattr(pts, "detach") and hasattr(pts, "is_floating_point"):  # a torch tensor
        shape = tuple(pts.shape)
        if pts.is_complex():
            raise TypeError(f"sets[{i}] must hold real numbers, got dtype {pts.dtype}")
        finite = (lambda: bool(pts.detach().isfinite().all())) if pts.is_floating_point() \
            else (lambda: True)
    else:
        try:
            arr = np.asarray(pts)
        except (TypeError, ValueError):
            arr = None
        if arr is None or arr.dtype.kind not in "biuf":
            raise TypeError(f"sets[{i}] must be an array of numbers of shape (n, d) or (n,), "
                            f"got {type(pts).__name__}") from None
        shape = arr.shape
        finite = (lambda: bool(np.isfinite(arr).all())) if arr.dtype.kind == "f" \
            else (lambda: True)
    if len(shape) not in (1, 2) or shape[0] == 0:
        raise ValueError(f"sets[{i}] must be a non-empty array of shape (n, d) or (n,), "
                         f"got shape {shape}")
    if not finite():
        raise ValueError(f"sets[{i}] must be finite, got NaN or infinite values")
    return 1 if len(shape) == 1 else shape[1]


def partition_sets(sets: Any, partition_size: int) -> list[Any]:
    """Validate an in-memory collection of sets and cut it into partitions.

    A list of sets gives lists of sets; an array ``(K, n, d)`` gives arrays
    ``(k, n, d)``, so each partition takes the same (batched) path through an
    estimator's ``transform`` as the whole array does and gives the same values.

    Accepts a list/tuple of sets (arrays ``(n_i, d)`` or ``(points, weights)``
    pairs) or an array ``(K, n, d)``. Every set must be non-empty and share
    one dimension; this is checked here, before any work is scheduled.
    """
    partition_size = check_int(partition_size, "partition_size", minimum=1)
    if isinstance(sets, np.ndarray) or hasattr(sets, "__array__") and not isinstance(
            sets, list | tuple):
        arr = np.asarray(sets)
        if arr.ndim != 3 or 0 in arr.shape:
            raise ValueError(f"sets given as one array must have shape (K, n, d) with K, n, "
                             f"d > 0, got {arr.shape}")
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"sets must hold real numbers, got dtype {arr.dtype}")
        if not np.isfinite(arr).all():
            raise ValueError("sets must be finite, got NaN or infinite values")
        return [arr[s:s + partition_size] for s in range(0, len(arr), partition_size)]
    if not isinstance(sets, list | tuple):
        raise TypeError(f"sets must be a list of sets, a (K, n, d) array or a dask.bag, got "
                        f"{type(sets).__name__}")
    if len(sets) == 0:
        raise ValueError("sets must not be empty")
    dim = None
    for i, s in enumerate(sets):
        d = _set_dim(s, i)
        if dim is None:
            dim = d
        if d != dim:
            raise ValueError(f"every set must have dimension {dim} (that of sets[0]), "
                             f"sets[{i}] has {d}")
    return [list(sets[s:s + partition_size]) for s in range(0, len(sets), partition_size)]


def _is_fitted(estimator) -> bool:
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(estimator)
    except NotFittedError:
        return False
    return True


def _embed_partition(sets, embedding, index):
    """Transform one partition; failures name the partition (runs on a worker)."""
    try:
        E = embedding.transform(sets)
        E = E.detach().cpu().numpy() if hasattr(E, "detach") else np.asarray(E)
        return np.ascontiguousarray(E)
    except Exception as err:
        raise PartitionError(f"partition {index} ({len(sets)} sets) failed in "
                             f"{type(embedding).__name__}.transform: {type(err).__name__}: "
                             f"{err}") from err


def _fit_on_sample(embedding, sets, fit_sample, seed):
    """Fit ``embedding`` on the driver: all sets if they are few, else a seeded sample."""
    if _is_bag(sets):
        sample = list(sets.take(fit_sample, npartitions=-1, compute=True))
    else:
        n = len(sets)
        if n <= fit_sample:
            idx = np.arange(n)
        else:
            idx = np.sort(np.random.default_rng(seed).choice(n, fit_sample, replace=False))
        sample = [sets[i] for i in idx]
    if not sample:
        raise ValueError("sets must not be empty")
    return embedding.fit(sample)


def _partition_futures(client, sets, partition_size, fn, *args, retries=0, progress=False,
                       what="partition", parts=None):
    """Run ``fn(partition, *args, index)`` on every partition; the futures, once all are done.

    ``parts`` are the partitions of an in-memory ``sets`` already made (and checked) by
    :func:`partition_sets`; without them they are made here.
    """
    import dask

    token = uuid.uuid4().hex[:8]
    if _is_bag(sets):
        if sets.npartitions == 0:
            raise ValueError("sets must not be an empty bag")
        parts = sets.to_delayed()
        tasks = [dask.delayed(fn)(p, *args, i, dask_key_name=f"mintlab-{what}-{token}-{i}")
                 for i, p in enumerate(parts)]
        futures = client.compute(tasks, retries=retries)
    else:
        if parts is None:
            parts = partition_sets(sets, partition_size)
        part_futures = client.scatter(parts)
        futures = [client.submit(fn, p, *args, i, key=f"mintlab-{what}-{token}-{i}",
                                 retries=retries, pure=False)
                   for i, p in enumerate(part_futures)]
    return wait_for(client, futures, progress, what)


def embed_distributed(sets: Any, embedding: Any, client: Any = None, partition_size: int = 1000,
                      fit_sample: int = 10_000, seed: int = 0, out: str | Path | None = None,
                      retries: int = 0, progress: bool = False) -> Any:
    """Embed many sets on a Dask cluster with any mintlab set embedding.

    The embedding is fitted once on the driver (unless it is already
    fitted): on all sets if there are at most ``fit_sample``, else on a
    seeded random sample of ``fit_sample`` of them (for a bag: its first
    ``fit_sample`` sets). It is then sent to every worker once, and
    ``transform`` runs on each partition. The values equal those of
    ``embedding.transform(sets)`` on one machine with the same fitted
    embedding; a retried partition recomputes the same values.

    Parameters
    ----------
    sets : list of sets, array of shape (K, n, d) or dask.bag.Bag
        In-memory collections are validated (non-empty, one dimension)
        before anything is scheduled and scattered in partitions of
        ``partition_size`` sets; a bag keeps its own partitions.
    embedding : estimator
        A mintlab set embedding (e.g. ``SlicedWassersteinEmbedding``),
        fitted or not.
    client : distributed.Client, str or None
        See :func:`mintlab.scale.get_client`.
    fit_sample : int
    seed : int
        Seed of the fitting sample (the embedding's own ``seed`` fixes its
        random directions).
    out : path, optional
        Also write the embeddings as a NumPy stack (``dask.array.to_npy_stack``)
        and return the array read back from there.
    retries : int
        Times a failed partition is retried before the call fails.
    progress : bool
        Show Dask's progress bar.

    Returns
    -------
    dask.array.Array of shape (K, D)
        Backed by the computed partitions on the workers (or by the files
        in ``out``). A failed partition raises :class:`PartitionError` naming it.

    Examples
    --------
    >>> import numpy as np
    >>> from mintlab.embed import SlicedWassersteinEmbedding
    >>> sets = [np.random.default_rng(i).normal(size=(50, 3)) for i in range(40)]
    >>> E = embed_distributed(sets, SlicedWassersteinEmbedding(n_projections=8, seed=0),
    ...                       partition_size=10)   # doctest: +SKIP
    >>> E.shape   # doctest: +SKIP
    (40, 512)
    """
    import dask
    import dask.array as da

    if not (hasattr(embedding, "fit") and hasattr(embedding, "transform")):
        raise TypeError(f"embedding must be an estimator with fit and transform, got "
                        f"{type(embedding).__name__}")
    fit_sample = check_int(fit_sample, "fit_sample", minimum=1)
    retries = check_int(retries, "retries", minimum=0)
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if int(seed) < 0:
        raise ValueError(f"seed must be a non-negative int, got {int(seed)}")
    partition_size = check_int(partition_size, "partition_size", minimum=1)
    parts = None
    if not _is_bag(sets):
        parts = partition_sets(sets, partition_size)  # validated before any work is scheduled
    elif sets.npartitions == 0:
        raise ValueError("sets must not be an empty bag")
    client = get_client(client)
    if not _is_fitted(embedding):
        _fit_on_sample(embedding, sets, fit_sample, int(seed))
    emb_future = client.scatter(embedding, broadcast=True, hash=False)
    futures = _partition_futures(client, sets, partition_size, _embed_partition, emb_future,
                                 retries=retries, progress=progress, what="partition",
                                 parts=parts)
    shapes = client.gather([client.submit(np.shape, f, pure=False) for f in futures])
    dtype = client.submit(lambda a: a.dtype, futures[0], pure=False).result()
    blocks = [da.from_delayed(dask.delayed(f), shape=tuple(s), dtype=dtype)
              for f, s in zip(futures, shapes, strict=True)]
    E = da.concatenate(blocks, axis=0)
    if out is not None:
        out = Path(out)
        da.to_npy_stack(str(out), E, axis=0)
        return da.from_npy_stack(str(out))
    return E


def _distance_block(A, B):
    from scipy.spatial.distance import cdist

    return cdist(np.asarray(A, dtype=np.float64), np.asarray(B, dtype=np.float64))


def pairwise_distances_distributed(E: Any, path: str | Path | None = None, block_size: int = 4096,
                                   client: Any = None, progress: bool = False) -> Any:
    """Euclidean distance matrix of the rows of ``E``, in blocks on a Dask cluster.

    Each ``block_size x block_size`` block is one task
    (``scipy.spatial.distance.cdist``, so the values equal ``cdist(E, E)``
    exactly). With ``path`` the matrix is written to disk as a NumPy stack
    of row blocks (``dask.array.to_npy_stack``), so it never has to fit in
    memory, and the array read back from there is returned.

    Parameters
    ----------
    E : array or dask.array of shape (K, D)
        Embeddings (e.g. from :func:`embed_distributed`).
    path : path, optional
    block_size : int
    client : distributed.Client, str or None
    progress : bool

    Returns
    -------
    dask.array.Array of shape (K, K)
    """
    import dask
    import dask.array as da

    block_size = check_int(block_size, "block_size", minimum=1)
    if not isinstance(E, da.Array):
        if hasattr(E, "detach"):
            E = E.detach().cpu().numpy()
        if isinstance(E, str) or E is None:
            raise TypeError(f"E must be an array of shape (K, D), got {type(E).__name__}")
        arr = np.asarray(E)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"E must hold real numbers, got dtype {arr.dtype}")
        if arr.ndim != 2 or 0 in arr.shape:
            raise ValueError(f"E must have shape (K, D) with K, D > 0, got {arr.shape}")
        if not np.isfinite(arr).all():
            raise ValueError("E must be finite, got NaN or infinite values")
        E = da.from_array(arr, chunks=(block_size, -1))
    else:
        if E.ndim != 2:
            raise ValueError(f"E must have shape (K, D), got {E.shape}")
        E = E.rechunk((block_size, -1))
    client = get_client(client)
    E = client.persist(E)
    rows = E.to_delayed()[:, 0]
    sizes = E.chunks[0]
    blocks = [[da.from_delayed(dask.delayed(_distance_block)(a, b), shape=(ra, rb),
                               dtype=np.float64)
               for b, rb in zip(rows, sizes, strict=True)]
              for a, ra in zip(rows, sizes, strict=True)]
    D = da.block(blocks)
    if path is not None:
        if progress:
            D = client.persist(D)
            _progress(client, D)
        da.to_npy_stack(str(Path(path)), D, axis=0)
        return da.from_npy_stack(str(Path(path)))
    D = client.persist(D)
    if progress:
        _progress(client, D)
    return D


def _progress(client, arr):
    from distributed import futures_of, progress

    progress(futures_of(arr))
