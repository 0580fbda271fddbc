"""A SLOSH index split into FAISS shards that live on Dask workers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .._validation import check_choice, check_int
from ..embed.index import SLOSH, _faiss, load_embedding, save_embedding
from ..embed.sliced import SlicedWassersteinEmbedding
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
    _faiss().write_index(shard.index, str(path))
    return str(path)


def _read_shard(path):
    return _Shard(_faiss().read_index(str(path)))


def merge_topk(results, offsets, k, sqrt=False):
    """Merge per-shard ``(distances, local ids)`` into the global top ``k`` (ties by id)."""
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

    def __init__(self, n_projections=64, n_quantiles=32, index="lsh", n_bits=512, seed=None,
                 partition_size=10_000, fit_sample=10_000, client=None, retries=0,
                 progress=False):
        self.n_projections = n_projections
        self.n_quantiles = n_quantiles
        self.index = check_choice(index, "index", ("lsh", "flat"))
        self.n_bits = check_int(n_bits, "n_bits", minimum=1)
        self.seed = seed
        self.partition_size = check_int(partition_size, "partition_size", minimum=1)
        self.fit_sample = check_int(fit_sample, "fit_sample", minimum=1)
        self.client = client
        self.retries = check_int(retries, "retries", minimum=0)
        self.progress = progress
        self.embedding_ = None
        self.shards_ = None
        self.sizes_ = None

    def _local(self) -> SLOSH:
        return SLOSH(self.n_projections, self.n_quantiles, self.index, self.n_bits, self.seed)

    def fit(self, sets):
        """Fit on a sample (driver), then build one shard per partition of ``sets`` (workers)."""
        if not _is_bag(sets):
            partition_sets(sets, self.partition_size)  # validate before scheduling anything
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
                                          what="shard")
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

    def search(self, query_sets, k=10):
        """The ``k`` nearest indexed sets of each query, over all shards.

        Returns ``(distances, ids)`` as :meth:`mintlab.embed.SLOSH.search`
        (ids are global: shard offsets added).
        """
        self._check_fitted()
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
    def save(self, path):
        """Write the index to the directory ``path``: one FAISS file per shard (written by
        the worker holding it: the directory must be reachable from every worker), the
        embedding as ``.npy`` and the configuration as JSON."""
        self._check_fitted()
        d = Path(path)
        d.mkdir(parents=True, exist_ok=True)
        client = get_client(self.client)
        names = [f"shard-{i:05d}.faiss" for i in range(self.n_shards)]
        wait_for(client, [client.submit(_write_shard, s, str((d / n).resolve()), pure=False)
                          for s, n in zip(self.shards_, names, strict=True)], False, "shard")
        save_embedding(self.embedding_, d)
        cfg = {"format": "mintlab.sharded-slosh/1", "n_projections": self.n_projections,
               "n_quantiles": self.n_quantiles, "index": self.index, "n_bits": self.n_bits,
               "seed": self.seed, "dim": int(self.embedding_.dim_), "shards": names,
               "sizes": [int(s) for s in self.sizes_]}
        (d / "config.json").write_text(json.dumps(cfg, indent=2))
        return d

    @classmethod
    def load(cls, path, client=None):
        """Read an index written by :meth:`save`; its shards are loaded on the workers."""
        d = Path(path)
        if not (d / "config.json").is_file():
            raise FileNotFoundError(f"{str(d)!r} holds no saved ShardedSLOSH (no config.json)")
        cfg = json.loads((d / "config.json").read_text())
        if cfg.get("format") != "mintlab.sharded-slosh/1":
            raise ValueError(f"{str(d)!r} holds no ShardedSLOSH (format {cfg.get('format')!r})")
        obj = cls(cfg["n_projections"], cfg["n_quantiles"], cfg["index"], cfg["n_bits"],
                  cfg["seed"], client=client)
        obj.embedding_ = load_embedding(d, cfg)
        c = get_client(client)
        obj.shards_ = wait_for(c, [c.submit(_read_shard, str((d / n).resolve()), pure=False)
                                   for n in cfg["shards"]], False, "shard")
        obj.sizes_ = list(cfg["sizes"])
        return obj
