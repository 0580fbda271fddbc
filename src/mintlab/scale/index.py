"""A SLOSH index split into FAISS shards that live on Dask workers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np

from .._artifacts import atomic_path, check_file, write_json
from .._validation import check_choice, check_int
from ..embed._checks import check_bool, check_seed
from ..embed.index import SLOSH, _faiss, load_embedding, read_config, read_index, save_embedding
from ..embed.sliced import SlicedWassersteinEmbedding
from ..errors import ArtifactError
from ..typing import ArrayLike, SeedLike
from ._client import PartitionError, get_client, wait_for
from .embed import _embed_partition, _fit_on_sample, _is_bag, _partition_futures, partition_sets

__all__ = ["ShardedSLOSH"]


class _Shard:
    """A FAISS index that pickles through FAISS's own serialisation (so Dask can move it)."""

    def __init__(self, index):
        self.index = index

    def __getstate__(self):
        return {"bytes": _faiss().serialize_index(self.index)}

    def __setstate__(self, state):
        self.index = _faiss().deserialize_index(state["bytes"])


def _build_shard(sets, embedding, template, index):
    vectors = _embed_partition(sets, embedding, index).astype(np.float32)
    try:
        shard = _faiss().deserialize_index(template)
        shard.add(np.ascontiguousarray(vectors))
    except Exception as err:
        raise PartitionError(f"shard {index}: building the FAISS index failed: {err}") from err
    return _Shard(shard)


def _shard_size(shard):
    return int(shard.index.ntotal)


def _search_shard(shard, queries, k):
    D, ids = shard.index.search(queries, min(k, max(shard.index.ntotal, 1)))
    return D, ids


def _search_shards(shards, offsets, queries, k):
    """Top ``k`` over the shards one worker holds (global ids; squared distances for flat)."""
    return merge_topk([_search_shard(s, queries, k) for s in shards], offsets, k)


def _write_shard(shard, path):
    with atomic_path(path) as tmp:
        _faiss().write_index(shard.index, str(tmp))
    return str(path)


def _read_shard(path, dim, n_bits, kind, size):
    index = read_index(Path(path), dim, n_bits, kind)
    if int(index.ntotal) != size:
        raise ArtifactError(path, f"holds {int(index.ntotal)} sets, but config.json says "
                                  f"{size}: the shard does not belong to this index")
    return _Shard(index)


def merge_topk(results: Sequence[tuple[np.ndarray, np.ndarray]], offsets: ArrayLike, k: int,
               sqrt: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Merge per-shard ``(distances, local ids)`` into the global top ``k`` (ties by id).

    ``results`` holds one ``(distances (q, k_i), ids (q, k_i))`` pair per shard (ids ``-1``
    where a shard had fewer sets), ``offsets`` the first global id of each shard.
    """
    k = check_int(k, "k", minimum=1)
    sqrt = check_bool(sqrt, "sqrt")
    if not isinstance(results, list | tuple) or not results:
        raise ValueError(f"results must be a non-empty list of (distances, ids) pairs, got "
                         f"{type(results).__name__}")
    rows = None
    for i, r in enumerate(results):
        if not (isinstance(r, tuple | list) and len(r) == 2):
            raise TypeError(f"results[{i}] must be a (distances, ids) pair")
        d_i, id_i = np.asarray(r[0]), np.asarray(r[1])
        if d_i.ndim != 2 or d_i.shape != id_i.shape or d_i.dtype.kind not in "biuf" \
                or id_i.dtype.kind not in "iu":
            raise ValueError(f"results[{i}] must hold distances and integer ids of one shape "
                             f"(n_queries, k_i), got {d_i.shape} and {id_i.shape}")
        if rows is not None and d_i.shape[0] != rows:
            raise ValueError(f"results[{i}] has {d_i.shape[0]} query rows, results[0] {rows}")
        rows = d_i.shape[0]
    if isinstance(offsets, str):
        raise TypeError("offsets must be an integer array (one first id per shard), got str")
    off = np.asarray(offsets)
    if off.dtype.kind not in "iu" or off.shape != (len(results),):
        raise ValueError(f"offsets must be {len(results)} integers (one first id per shard), "
                         f"got {off.dtype} array of shape {off.shape}")
    offsets = off
    D = np.concatenate([r[0] for r in results], axis=1).astype(np.float64)
    ids = np.concatenate([np.where(r[1] >= 0, r[1] + off, -1)
                          for r, off in zip(results, offsets, strict=True)], axis=1)
    D = np.where(ids < 0, np.inf, D)
    order = np.lexsort((np.where(ids < 0, np.iinfo(np.int64).max, ids), D), axis=1)[:, :k]
    D, ids = np.take_along_axis(D, order, 1), np.take_along_axis(ids, order, 1)
    if D.shape[1] < k:
        pad = k - D.shape[1]
        D = np.pad(D, ((0, 0), (0, pad)), constant_values=np.inf)
        ids = np.pad(ids, ((0, 0), (0, pad)), constant_values=-1)
    if sqrt:
        D = np.sqrt(np.maximum(D, 0.0))
    return D, ids.astype(np.int64)


class ShardedSLOSH:
    """:class:`~mintlab.embed.SLOSH` with its FAISS index split into shards on Dask workers.

    ``fit`` fits the sliced Wasserstein embedding (and, for ``"lsh"``, trains
    the hashing) once on the driver on a sample, then every partition of the
    corpus is embedded and added to its own shard on a worker. ``search``
    embeds the queries on the driver, sends them to every shard and merges
    the shards' top ``k``. With ``index="flat"`` the results are those of
    one exact index over the whole corpus (ties broken by id); with
    ``"lsh"`` every shard hashes with the same trained hash functions.

    Parameters
    ----------
    n_projections, n_quantiles, index, n_bits, seed
        As for :class:`~mintlab.embed.SLOSH`.
    partition_size : int
        Sets per shard for in-memory corpora (a bag keeps its partitions).
    fit_sample : int
        Sets the embedding and the hashing are fitted on (all if fewer).
    client : distributed.Client, str or None
        See :func:`mintlab.scale.get_client`.
    retries : int
        Retries of a failed partition.
    progress : bool
        Dask's progress bar while shards are built.
    """

    def __init__(self, n_projections: int = 64, n_quantiles: int = 32, index: str = "lsh",
                 n_bits: int = 512, seed: SeedLike = None, partition_size: int = 10_000,
                 fit_sample: int = 10_000, client: Any = None, retries: int = 0,
                 progress: bool = False) -> None:
        self.n_projections = check_int(n_projections, "n_projections", minimum=1)
        self.n_quantiles = check_int(n_quantiles, "n_quantiles", minimum=1)
        self.index = check_choice(index, "index", ("lsh", "flat"))
        self.n_bits = check_int(n_bits, "n_bits", minimum=1)
        self.seed = check_seed(seed, numpy_ok=False, torch_ok=False)
        self.partition_size = check_int(partition_size, "partition_size", minimum=1)
        self.fit_sample = check_int(fit_sample, "fit_sample", minimum=1)
        self.client = client
        self.retries = check_int(retries, "retries", minimum=0)
        self.progress = check_bool(progress, "progress")
        if client is not None and not isinstance(client, str):
            from ._client import _distributed

            if not isinstance(client, _distributed().Client):
                raise TypeError(f"client must be a distributed.Client, a scheduler address or "
                                f"None, got {type(client).__name__}")
        self.embedding_: SlicedWassersteinEmbedding | None = None
        self.shards_: list[Any] | None = None
        self.sizes_: list[int] | None = None

    def _local(self) -> SLOSH:
        return SLOSH(self.n_projections, self.n_quantiles, self.index, self.n_bits, self.seed)

    def fit(self, sets: Any) -> Self:
        """Fit on a sample (driver), then build one shard per partition of ``sets`` (workers)."""
        parts = None
        if not _is_bag(sets):
            parts = partition_sets(sets, self.partition_size)  # checked before scheduling
        elif sets.npartitions == 0:
            raise ValueError("sets must not be an empty bag")
        client = get_client(self.client)
        emb = SlicedWassersteinEmbedding(n_projections=self.n_projections,
                                         n_quantiles=self.n_quantiles, seed=self.seed)
        _fit_on_sample(emb, sets, self.fit_sample, 0 if self.seed is None else int(self.seed))
        local = self._local()
        local.embedding_ = emb
        faiss = _faiss()
        D = emb.projections_.shape[1] * emb.n_quantiles_
        if self.index == "flat":
            template = faiss.IndexFlatL2(D)
        else:
            template = faiss.IndexLSH(D, self.n_bits, True)
            sample = sets.take(self.fit_sample, npartitions=-1) if _is_bag(sets) else \
                sets[:self.fit_sample]
            template.train(np.ascontiguousarray(local._vectors(list(sample))))
        self.embedding_ = emb
        emb_f = client.scatter(emb, broadcast=True, hash=False)
        tpl_f = client.scatter(faiss.serialize_index(template), broadcast=True, hash=False)
        self.shards_ = _partition_futures(client, sets, self.partition_size, _build_shard, emb_f,
                                          tpl_f, retries=self.retries, progress=self.progress,
                                          what="shard", parts=parts)
        self.sizes_ = client.gather([client.submit(_shard_size, s, pure=False)
                                     for s in self.shards_])
        return self

    def _check_fitted(self):
        if self.shards_ is None:
            raise RuntimeError("this ShardedSLOSH index is not fitted yet: call fit(sets) "
                               "or load(path) first")

    @property
    def n_sets(self) -> int:
        """Number of sets over all shards."""
        return 0 if self.sizes_ is None else int(sum(self.sizes_))

    @property
    def n_shards(self) -> int:
        return 0 if self.shards_ is None else len(self.shards_)

    def search(self, query_sets: Any, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest indexed sets of each query, over all shards.

        Returns ``(distances, ids)`` as :meth:`mintlab.embed.SLOSH.search`
        (ids are global: shard offsets added).
        """
        self._check_fitted()
        assert self.shards_ is not None and self.sizes_ is not None  # fitted
        assert self.embedding_ is not None
        k = check_int(k, "k", minimum=1)
        local = self._local()
        local.embedding_ = self.embedding_
        Q = local._vectors(query_sets)
        client = get_client(self.client)
        offsets = np.concatenate([[0], np.cumsum(self.sizes_)[:-1]]).astype(np.int64)
        # one task per worker searches the shards it holds and merges them there; the queries
        # travel inside the task (small: one round trip less than scattering them first)
        who = client.who_has(self.shards_)
        groups: dict[str, list[int]] = {}
        for i, f in enumerate(self.shards_):
            holders = who.get(f.key) or ("",)
            groups.setdefault(holders[0], []).append(i)
        futures = [client.submit(_search_shards, [self.shards_[i] for i in idx],
                                 offsets[idx], Q, k, workers=[w] if w else None,
                                 allow_other_workers=True, pure=False)
                   for w, idx in groups.items()]
        results = client.gather(wait_for(client, futures, False, "worker's shards"))
        return merge_topk(results, np.zeros(len(results), dtype=np.int64), k,
                          sqrt=self.index == "flat")

    # -------------------------------------------------------------- save/load
    def save(self, path: str | Path) -> Path:
        """Write the index to the directory ``path``: one FAISS file per shard (written by
        the worker holding it: the directory must be reachable from every worker), the
        embedding as ``.npy`` and the configuration as JSON."""
        self._check_fitted()
        assert self.shards_ is not None and self.sizes_ is not None  # fitted
        assert self.embedding_ is not None
        d = Path(path)
        d.mkdir(parents=True, exist_ok=True)
        client = get_client(self.client)
        names = [f"shard-{i:05d}.faiss" for i in range(self.n_shards)]
        wait_for(client, [client.submit(_write_shard, s, str((d / n).resolve()), pure=False)
                          for s, n in zip(self.shards_, names, strict=True)], False, "shard")
        save_embedding(self.embedding_, d)
        cfg = {"format": "mintlab.sharded-slosh/1", "n_projections": self.n_projections,
               "n_quantiles": self.n_quantiles, "index": self.index, "n_bits": self.n_bits,
               "seed": None if self.seed is None else int(self.seed),
               "dim": int(self.embedding_.dim_), "shards": names,
               "sizes": [int(s) for s in self.sizes_]}
        write_json(cfg, d / "config.json")  # last: a complete config marks a complete save
        return d

    @classmethod
    def load(cls, path: str | Path, client: Any = None) -> ShardedSLOSH:
        """Read an index written by :meth:`save`; its shards are loaded on the workers.

        Every file is checked before any work is scheduled (present, non-empty, the
        configuration complete and consistent); a shard that turns out truncated or
        corrupted when a worker reads it raises :class:`mintlab.ArtifactError` naming it.
        """
        d = Path(path)
        cfg = read_config(d, "ShardedSLOSH index", fmt="mintlab.sharded-slosh/1")
        cfg_path = d / "config.json"
        shards, sizes = cfg.get("shards"), cfg.get("sizes")
        if (not isinstance(shards, list) or not isinstance(sizes, list) or not shards
                or len(shards) != len(sizes)
                or not all(isinstance(n, str) and "/" not in n and n not in ("", ".", "..")
                           for n in shards)
                or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0
                           for s in sizes)):
            raise ArtifactError(cfg_path, "entries 'shards' (file names) and 'sizes' (set "
                                          "counts) must be two lists of one length")
        for n in shards:
            check_file(d / n, "FAISS shard file")
        obj = cls(cfg["n_projections"], cfg["n_quantiles"], cfg["index"], cfg["n_bits"],
                  cfg["seed"], client=client)
        obj.embedding_ = load_embedding(d, cfg)
        c = get_client(client)
        D = cfg["n_projections"] * cfg["n_quantiles"]
        futures = [c.submit(_read_shard, str((d / n).resolve()), D, cfg["n_bits"], cfg["index"],
                            size, pure=False) for n, size in zip(shards, sizes, strict=True)]
        try:
            obj.shards_ = wait_for(c, futures, False, "shard")
        except PartitionError as err:
            if isinstance(err.__cause__, ArtifactError):
                raise err.__cause__ from None
            raise
        obj.sizes_ = list(sizes)
        return obj
