"""Checks of the scale-out calls that run before any Dask cluster is used, and their files.

These calls need a cluster only for valid input; every check below fails first, so no
cluster is started here (the fuzz registry exempts them for that reason).
"""

import json

import numpy as np
import pytest

pytest.importorskip("distributed")
pytest.importorskip("faiss")

from mintlab import ArtifactError  # noqa: E402
from mintlab.embed import SLOSH, SlicedWassersteinEmbedding  # noqa: E402
from mintlab.scale import (  # noqa: E402
    ShardedSLOSH,
    embed_distributed,
    get_client,
    merge_topk,
    pairwise_distances_distributed,
    partition_sets,
)


def _sets(k=6, n=5, d=2):
    rng = np.random.default_rng(0)
    return [rng.normal(size=(n, d)) for _ in range(k)]


def test_get_client_rejects_other_objects():
    with pytest.raises(TypeError, match="client must be"):
        get_client(123)


@pytest.mark.parametrize("kwargs, err, msg", [
    (dict(sets=[]), ValueError, "sets must not be empty"),
    (dict(sets=["abc"]), TypeError, r"sets\[0\]"),
    (dict(sets=[np.full((3, 2), np.nan)]), ValueError, r"sets\[0\] must be finite"),
    (dict(partition_size=0), ValueError, "partition_size must be >= 1"),
    (dict(fit_sample=0), ValueError, "fit_sample must be >= 1"),
    (dict(retries=-1), ValueError, "retries must be >= 0"),
    (dict(seed=1.5), TypeError, "seed must be an int"),
    (dict(seed=-1), ValueError, "seed must be a non-negative"),
    (dict(embedding="swe"), TypeError, "embedding must be an estimator"),
])
def test_embed_distributed_checks_before_scheduling(kwargs, err, msg):
    args = dict(sets=_sets(), embedding=SlicedWassersteinEmbedding(n_projections=4, seed=0))
    args.update(kwargs)
    with pytest.raises(err, match=msg):
        embed_distributed(**args)


@pytest.mark.parametrize("E, err, msg", [
    (np.full((3, 2), np.nan), ValueError, "E must be finite"),
    (np.zeros((0, 2)), ValueError, r"E must have shape \(K, D\)"),
    (np.zeros(3), ValueError, r"E must have shape \(K, D\)"),
    ("E", TypeError, "E must be an array"),
])
def test_pairwise_distances_distributed_checks_before_scheduling(E, err, msg):
    with pytest.raises(err, match=msg):
        pairwise_distances_distributed(E)
    with pytest.raises(ValueError, match="block_size must be >= 1"):
        pairwise_distances_distributed(np.zeros((2, 2)), block_size=0)


def test_sharded_slosh_checks_options_and_sets():
    with pytest.raises(ValueError, match="index must be one of"):
        ShardedSLOSH(index="ivf")
    with pytest.raises(ValueError, match="n_projections must be >= 1"):
        ShardedSLOSH(n_projections=0)
    with pytest.raises(TypeError, match="seed must be"):
        ShardedSLOSH(seed="0")
    with pytest.raises(TypeError, match="client must be"):
        ShardedSLOSH(client=3.0)
    with pytest.raises(ValueError, match=r"sets\[1\] must be finite"):
        ShardedSLOSH(n_projections=4).fit([np.ones((3, 2)), np.full((3, 2), np.inf)])


def test_partition_sets_and_merge_topk_messages():
    with pytest.raises(ValueError, match="every set must have dimension 2"):
        partition_sets([np.ones((3, 2)), np.ones((3, 3))], 2)
    D, ids = np.array([[0.1, 0.2]]), np.array([[0, 1]])
    with pytest.raises(ValueError, match="offsets must be 1 integers"):
        merge_topk([(D, ids)], np.array([0.5]), 2)
    with pytest.raises(ValueError, match="k must be >= 1"):
        merge_topk([(D, ids)], np.array([0]), 0)
    with pytest.raises(ValueError, match="results must be a non-empty list"):
        merge_topk([], np.array([], dtype=int), 1)


@pytest.fixture
def saved(tmp_path):
    """A ShardedSLOSH directory written as ``save`` writes one (without a cluster)."""
    idx = SLOSH(n_projections=4, n_quantiles=4, index="flat", seed=0).fit(_sets())
    idx.save(tmp_path / "single")
    d = tmp_path / "sharded"
    d.mkdir()
    for name in ("projections.npy", "reference_quantiles.npy"):
        (d / name).write_bytes((tmp_path / "single" / name).read_bytes())
    (d / "shard-00000.faiss").write_bytes((tmp_path / "single" / "index.faiss").read_bytes())
    cfg = json.loads((tmp_path / "single" / "config.json").read_text())
    cfg.update(format="mintlab.sharded-slosh/1", shards=["shard-00000.faiss"], sizes=[6])
    (d / "config.json").write_text(json.dumps(cfg))
    return d, cfg


@pytest.mark.parametrize("damage, match", [
    ("no_config", "config.json"), ("empty_config", "config.json"),
    ("truncated_config", "config.json"), ("other_format", "config.json"),
    ("missing_key", "config.json"), ("bad_shards", "config.json"),
    ("missing_shard", "shard-00000.faiss"), ("empty_shard", "shard-00000.faiss"),
    ("bad_projections", "projections.npy"),
])
def test_sharded_slosh_load_names_the_damaged_file(saved, damage, match):
    d, cfg = saved
    cfg_path = d / "config.json"
    if damage == "no_config":
        cfg_path.unlink()
    elif damage == "empty_config":
        cfg_path.write_text("")
    elif damage == "truncated_config":
        cfg_path.write_text(cfg_path.read_text()[:20])
    elif damage == "other_format":
        cfg_path.write_text(json.dumps({**cfg, "format": "mintlab.slosh/1"}))
    elif damage == "missing_key":
        cfg_path.write_text(json.dumps({k: v for k, v in cfg.items() if k != "n_bits"}))
    elif damage == "bad_shards":
        cfg_path.write_text(json.dumps({**cfg, "sizes": [1, 2]}))
    elif damage == "missing_shard":
        (d / "shard-00000.faiss").unlink()
    elif damage == "empty_shard":
        (d / "shard-00000.faiss").write_bytes(b"")
    else:
        np.save(d / "projections.npy", np.zeros((7, 7)))
    with pytest.raises(ArtifactError, match=match.replace(".", r"\.")):
        ShardedSLOSH.load(d)


def test_sets_are_checked_once_without_a_float64_copy(monkeypatch):
    from mintlab.scale import embed as scale_embed

    seen = []
    real = scale_embed._set_dim
    monkeypatch.setattr(scale_embed, "_set_dim", lambda s, i: seen.append(i) or real(s, i))
    sets = [np.ones((3, 2), dtype=np.float32), np.ones((4, 2), dtype=np.float32)]
    copies = []
    real_asarray = np.asarray

    def spy(a, dtype=None, **kw):
        out = real_asarray(a, dtype=dtype, **kw)
        if isinstance(a, np.ndarray) and out is not a:
            copies.append(a.shape)
        return out

    monkeypatch.setattr(scale_embed.np, "asarray", spy)
    parts = partition_sets(sets, 1)
    monkeypatch.setattr(scale_embed.np, "asarray", real_asarray)
    assert seen == [0, 1] and copies == []
    assert parts[0][0] is sets[0]
    with pytest.raises(ValueError, match=r"sets\[1\] must be finite"):
        partition_sets([sets[0], np.full((2, 2), np.nan)], 1)
    with pytest.raises(TypeError, match=r"sets\[0\] must be an array of numbers"):
        partition_sets([np.array([["a"]])], 1)
