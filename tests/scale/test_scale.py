"""Scale-out on a two-worker LocalCluster: same values as one machine, shards, failures."""

import hashlib
import sys
from pathlib import Path

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
import dask.bag as db  # noqa: E402
from scipy.spatial.distance import cdist  # noqa: E402

from mintlab import ArtifactError  # noqa: E402
from mintlab.embed import SLOSH, PoolingEmbedding, SlicedWassersteinEmbedding  # noqa: E402
from mintlab.scale import (  # noqa: E402
    PartitionError,
    ShardedSLOSH,
    embed_distributed,
    get_client,
    merge_topk,
    pairwise_distances_distributed,
)

# with the experiments (see tests/experiments/test_quick_checks.py): never two heavy jobs at once
pytestmark = pytest.mark.xdist_group("heavy")


@pytest.fixture(scope="module")
def client():
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def _sets(n=300, seed=0, dim=3):
    rng = np.random.default_rng(seed)
    return [rng.normal(loc=rng.normal(scale=3, size=dim), size=(int(rng.integers(20, 50)), dim))
            for _ in range(n)]


def _swe():
    return SlicedWassersteinEmbedding(n_projections=16, n_quantiles=16, seed=0)


def test_distributed_embedding_equals_single_machine_bit_for_bit(client):
    sets = _sets()
    single = _swe().fit(sets).transform(sets)
    E = embed_distributed(sets, _swe(), client=client, partition_size=70)
    assert E.shape == single.shape and E.numblocks[0] == 5
    assert np.array_equal(E.compute(), single)
    # a bag keeps its own partitions
    bag = db.from_sequence(sets, npartitions=4)
    assert np.array_equal(embed_distributed(bag, _swe(), client=client).compute(), single)
    # a (K, n, d) array, and another embedding
    arr = np.random.default_rng(1).normal(size=(90, 25, 2))
    pool = PoolingEmbedding(kind="covariance").fit(arr)
    assert np.array_equal(embed_distributed(arr, pool, client=client, partition_size=40)
                          .compute(), pool.transform(arr))


def test_fit_on_a_seeded_sample(client):
    sets = _sets(200)
    E = embed_distributed(sets, _swe(), client=client, partition_size=50, fit_sample=60,
                          seed=3).compute()
    idx = np.sort(np.random.default_rng(3).choice(200, 60, replace=False))
    ref = _swe().fit([sets[i] for i in idx]).transform(sets)
    assert np.array_equal(E, ref)


def test_embeddings_written_to_disk(client, tmp_path):
    sets = _sets(120)
    E = embed_distributed(sets, _swe(), client=client, partition_size=50, out=tmp_path / "E",
                          progress=True)
    assert sorted(p.name for p in (tmp_path / "E").iterdir())[:2] == ["0.npy", "1.npy"]
    assert np.array_equal(E.compute(), _swe().fit(sets).transform(sets))


class FlakyEmbedding(SlicedWassersteinEmbedding):
    """Fails the first time it sees each partition (a marker file per partition)."""

    def __init__(self, n_projections=16, n_quantiles=16, seed=0, marker_dir=None):
        super().__init__(n_projections=n_projections, n_quantiles=n_quantiles, seed=seed)
        self.marker_dir = marker_dir

    def transform(self, X):
        if self.marker_dir is not None and len(X) > 1:
            key = hashlib.sha256(np.asarray(X[0]).tobytes()).hexdigest()[:16]
            marker = Path(self.marker_dir) / key
            if not marker.exists():
                marker.touch()
                raise RuntimeError("worker lost (injected)")
        return super().transform(X)


def test_failed_partition_is_named_and_a_retry_gives_the_same_result(client, tmp_path):
    sets = _sets(150)
    single = _swe().fit(sets).transform(sets)
    (tmp_path / "a").mkdir()
    with pytest.raises(PartitionError, match=r"partition 0 .*worker lost \(injected\)"):
        embed_distributed(sets, FlakyEmbedding(marker_dir=str(tmp_path / "a")), client=client,
                          partition_size=50)
    (tmp_path / "b").mkdir()
    E = embed_distributed(sets, FlakyEmbedding(marker_dir=str(tmp_path / "b")), client=client,
                          partition_size=50, retries=1)
    assert np.array_equal(E.compute(), single)
    assert len(list((tmp_path / "b").iterdir())) == 3  # every partition failed once


def _idle_transitions(client, timeout=30.0):
    """The scheduler's transition count once earlier tests' tasks are all released."""
    import time

    end = time.monotonic() + timeout
    while client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)) and \
            time.monotonic() < end:
        time.sleep(0.05)
    return client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.transition_counter)


def test_bad_inputs_are_rejected_before_scheduling(client):
    # every task state change on the scheduler counts: none may happen below
    before = _idle_transitions(client)
    with pytest.raises(ValueError, match="must not be empty"):
        embed_distributed([], _swe(), client=client)
    with pytest.raises(ValueError, match=r"sets\[2\] has 2"):
        embed_distributed([np.zeros((4, 3)), np.ones((5, 3)), np.zeros((3, 2))], _swe(),
                          client=client)
    with pytest.raises(ValueError, match=r"sets\[1\] must be a non-empty"):
        embed_distributed([np.zeros((4, 3)), np.zeros((0, 3))], _swe(), client=client)
    with pytest.raises(ValueError, match="empty bag"):
        embed_distributed(_EmptyBag(), _swe(), client=client)
    with pytest.raises(TypeError, match="fit and transform"):
        embed_distributed(_sets(5), object(), client=client)
    with pytest.raises(ValueError, match="partition_size"):
        embed_distributed(_sets(5), _swe(), client=client, partition_size=0)
    with pytest.raises(TypeError, match="client"):
        embed_distributed(_sets(5), _swe(), client=42)
    with pytest.raises(ValueError, match=r"shape \(K, D\)"):
        pairwise_distances_distributed(np.zeros(5), client=client)
    after = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.transition_counter)
    assert after == before


class _EmptyBag(db.Bag):
    def __init__(self):  # a bag with no partitions
        super().__init__({}, "empty-bag", 0)


def test_sharded_flat_index_equals_brute_force_and_single_index(client):
    sets = _sets(400)
    queries = [s + 0.01 for s in sets[::37]] + _sets(5, seed=9)
    sharded = ShardedSLOSH(16, 16, index="flat", seed=0, partition_size=90,
                           client=client).fit(sets)
    assert sharded.n_shards == 5 and sharded.n_sets == 400
    d, ids = sharded.search(queries, k=7)
    single = SLOSH(16, 16, index="flat", seed=0).fit(sets)
    d1, ids1 = single.search(queries, k=7)
    assert np.array_equal(ids, ids1)
    E, Q = single.embedding_.transform(sets), single.embedding_.transform(queries)
    brute = np.argsort(cdist(Q, E), axis=1, kind="stable")[:, :7]
    assert np.array_equal(ids, brute)
    np.testing.assert_allclose(d, np.sort(cdist(Q, E), axis=1)[:, :7], rtol=1e-5, atol=1e-5)


def test_sharded_lsh_keeps_the_single_index_recall(client):
    sets = _sets(600, seed=2)
    queries = [s + np.random.default_rng(i).normal(scale=0.05, size=s.shape)
               for i, s in enumerate(sets[:60])]
    sharded = ShardedSLOSH(16, 16, index="lsh", n_bits=256, seed=0, partition_size=150,
                           client=client).fit(sets)
    single = SLOSH(16, 16, index="lsh", n_bits=256, seed=0).fit(sets)
    truth = np.arange(60)[:, None]
    r_sharded = float((sharded.search(queries, k=10)[1] == truth).any(1).mean())
    r_single = float((single.search(queries, k=10)[1] == truth).any(1).mean())
    assert r_sharded >= r_single - 0.05 and r_sharded > 0.8


def test_sharded_index_save_load_round_trip(client, tmp_path):
    sets = _sets(250)
    idx = ShardedSLOSH(16, 16, index="flat", seed=1, partition_size=100, client=client).fit(sets)
    idx.save(tmp_path / "idx")
    assert sorted(p.name for p in (tmp_path / "idx").iterdir()) == [
        "config.json", "projections.npy", "reference_quantiles.npy", "shard-00000.faiss",
        "shard-00001.faiss", "shard-00002.faiss"]
    back = ShardedSLOSH.load(tmp_path / "idx", client=client)
    q = sets[:10]
    a, b = idx.search(q, k=5), back.search(q, k=5)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    with pytest.raises(FileNotFoundError, match="nothing") as missing:
        ShardedSLOSH.load(tmp_path / "nothing", client=client)
    assert isinstance(missing.value, ArtifactError)
    assert str(tmp_path / "nothing") in str(missing.value)
    with pytest.raises(RuntimeError, match="not fitted"):
        ShardedSLOSH(client=client).search(q)


def test_merge_topk_breaks_ties_by_global_id_and_pads():
    r1 = (np.array([[1.0, 2.0]]), np.array([[0, 1]]))
    r2 = (np.array([[1.0, -1.0]]), np.array([[0, -1]]))  # a shard with one set
    D, ids = merge_topk([r1, r2], np.array([0, 2]), k=4)
    assert ids.tolist() == [[0, 2, 1, -1]] and D[0, :3].tolist() == [1.0, 1.0, 2.0]
    assert np.isinf(D[0, 3])


def test_pairwise_distances_equal_cdist_in_memory_and_on_disk(client, tmp_path):
    E = np.random.default_rng(0).normal(size=(300, 12))
    D = pairwise_distances_distributed(E, block_size=64, client=client)
    assert D.numblocks == (5, 5)
    assert np.array_equal(D.compute(), cdist(E, E))
    D2 = pairwise_distances_distributed(E, path=tmp_path / "D", block_size=100, client=client)
    assert (tmp_path / "D" / "0.npy").exists()
    assert np.array_equal(D2.compute(), cdist(E, E))


def test_scheduler_address_connects(client):
    from mintlab.scale import _client

    address = client.scheduler.address
    c = get_client(address)
    try:
        assert c is not client and c.scheduler.address == address
        assert get_client(address) is c  # one connection per address
        assert c.submit(sum, [1, 2]).result() == 3
    finally:
        c.close()
        _client._OWNED.pop(address, None)


def test_sharded_index_load_names_a_corrupted_shard(client, tmp_path):
    idx = ShardedSLOSH(8, 8, index="flat", seed=1, partition_size=100, client=client)
    idx.fit(_sets(150)).save(tmp_path / "idx")
    shard = tmp_path / "idx" / "shard-00001.faiss"
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) // 2])  # truncated: only a worker reading it can tell
    with pytest.raises(ArtifactError, match="shard-00001"):
        ShardedSLOSH.load(tmp_path / "idx", client=client)
