"""Scale-out: the same set embeddings and indexes on a Dask cluster (the ``scale`` extra).

* :func:`embed_distributed`: fit an embedding once on the driver, map its
  ``transform`` over partitions of a corpus on the workers;
* :class:`ShardedSLOSH`: a nearest-set index whose FAISS shards live on the
  workers; queries fan out and the top ``k`` are merged;
* :func:`pairwise_distances_distributed`: blocked distance matrices, written
  to disk when they do not fit in memory.

Everything runs on a ``distributed.Client``: the one you pass (or its
scheduler address), the current default client, or a two-worker
``LocalCluster`` started on first use (:func:`get_client`).
"""

from ._client import PartitionError, get_client
from .embed import embed_distributed, pairwise_distances_distributed, partition_sets
from .index import ShardedSLOSH, merge_topk

__all__ = ["embed_distributed", "pairwise_distances_distributed", "partition_sets",
           "ShardedSLOSH", "merge_topk", "get_client", "PartitionError"]
