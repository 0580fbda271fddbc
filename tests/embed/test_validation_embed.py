"""Bad input to the embeddings: messages that name the argument, loaders that name the file."""

import json
import random

import numpy as np
import pytest
import torch

from mintlab import ArtifactError
from mintlab.embed import (
    EMPEROR,
    SLOSH,
    WEGL,
    FSPoolEmbedding,
    LinearPartialGromovWasserstein,
    LinearSphericalSlicedOT,
    NearestSubspaceClassifier,
    PoolingEmbedding,
    RadonCDT,
    SlicedWassersteinEmbedding,
    TaskEmbedding,
    lpgw_distance,
)


def _sets(k=6, n=8, d=2, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(n + i % 3, d)) for i in range(k)]


# ------------------------------------------------------------------ estimators
def test_sets_with_nan_are_rejected_naming_the_set():
    sets = _sets()
    sets[2][0, 0] = np.nan
    with pytest.raises(ValueError, match=r"X\[2\] must be finite"):
        SlicedWassersteinEmbedding(n_projections=4, seed=0).fit(sets)
    with pytest.raises(ValueError, match=r"X\[2\] must be finite"):
        EMPEROR(n_projections=4, seed=0).fit(_sets()).transform(sets)


@pytest.mark.parametrize("est, msg", [
    (SlicedWassersteinEmbedding(orthonormal="yes"), "orthonormal must be True or False"),
    (SlicedWassersteinEmbedding(seed=1.5), "seed must be"),
    (SlicedWassersteinEmbedding(seed=-1), "seed must be a non-negative"),
    (PoolingEmbedding(kind="sorted", n_quantiles=0), "n_quantiles must be >= 1"),
    (EMPEROR(n_components=-2), "n_components must be >= 1"),
    (FSPoolEmbedding(seed="0"), "seed must be"),
])
def test_hyper_parameters_are_checked_in_fit(est, msg):
    with pytest.raises((ValueError, TypeError), match=msg):
        est.fit(_sets())


def test_spherical_seed_must_be_an_integer():
    sets = [s / np.linalg.norm(s, axis=1, keepdims=True) for s in _sets(d=3)]
    with pytest.raises(TypeError, match="seed"):
        LinearSphericalSlicedOT(seed=0.5).fit(sets)


def test_radon_cdt_rejects_bad_images_naming_x():
    imgs = np.random.default_rng(0).random((3, 8, 8))
    bad = imgs.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="X must be finite"):
        RadonCDT().fit(bad)
    with pytest.raises(ValueError, match="X must hold non-negative"):
        RadonCDT().fit(imgs - 1)
    with pytest.raises(ValueError, match="angles must be finite"):
        RadonCDT(angles=[0.0, np.inf]).fit(imgs)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        RadonCDT(batch_size=0).fit(imgs)
    with pytest.raises(ValueError, match="X must be finite"):
        RadonCDT().fit(imgs).transform(bad)


def test_nearest_subspace_messages_name_x_and_y():
    X = np.random.default_rng(0).normal(size=(10, 4))
    y = np.arange(10) % 2
    with pytest.raises(ValueError, match="^X: "):
        NearestSubspaceClassifier().fit(X[:, 0], y)
    with pytest.raises(ValueError, match="y must have one label per row of X"):
        NearestSubspaceClassifier().fit(X, y[:-1])
    with pytest.raises(ValueError, match="extra_basis must be finite"):
        NearestSubspaceClassifier(extra_basis=np.full((1, 4), np.nan)).fit(X, y)
    with pytest.raises(TypeError, match="energy"):
        NearestSubspaceClassifier(energy="all").fit(X, y)


def test_graphs_and_tasks_name_the_bad_item():
    graphs = [([(0, 1)], np.ones((2, 2))), ([(0, 1)], np.ones((2, 3)))]
    with pytest.raises(ValueError, match=r"X\[1\] gives node embeddings of width"):
        WEGL(n_layers=1, n_references=2, seed=0).fit(graphs)
    with pytest.raises(ValueError, match=r"X\[0\] must have at least one node"):
        WEGL(n_layers=1, n_references=2, seed=0).fit([([], np.zeros((0, 2)))])
    tasks = [(np.ones((4, 2)), np.array([0, 0, 1, 1])), ("nope", np.array([0, 1, 0, 1]))]
    with pytest.raises(TypeError, match=r"X\[1\] must hold features"):
        TaskEmbedding(n_references=2).fit(tasks)


def test_lpgw_checks_embeddings_and_keeps_the_array_kind():
    sets = _sets(k=3, n=4)
    est = LinearPartialGromovWasserstein(n_reference=3, n_masses=2, seed=0).fit(sets)
    E = est.transform([torch.as_tensor(s) for s in sets])
    assert isinstance(E, torch.Tensor) and E.dtype == torch.float64
    D = lpgw_distance(E, penalty=1.0, n_reference=3)
    assert isinstance(D, torch.Tensor) and D.shape == (3, 3)
    assert np.allclose(D.numpy(), lpgw_distance(E.numpy(), n_reference=3))
    bad = E.numpy().copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="E must be finite"):
        lpgw_distance(bad)
    with pytest.raises(ValueError, match="n_reference must be >= 1"):
        lpgw_distance(E.numpy(), n_reference=0)


def test_fspool_embedding_leaves_the_global_generators_alone():
    torch.manual_seed(3)
    np.random.seed(3)  # noqa: NPY002 - the global state is under test
    random.seed(3)
    before = torch.get_rng_state().clone()
    a = FSPoolEmbedding(out_features=4, width=4, epochs=1, batch_size=4, seed=0).fit(_sets())
    assert torch.equal(before, torch.get_rng_state())
    torch.manual_seed(99)  # another global state: the same seed gives the same network
    b = FSPoolEmbedding(out_features=4, width=4, epochs=1, batch_size=4, seed=0).fit(_sets())
    assert np.array_equal(a.transform(_sets()), b.transform(_sets()))


# ------------------------------------------------------------------ SLOSH files
@pytest.fixture
def saved_index(tmp_path):
    idx = SLOSH(n_projections=4, n_quantiles=4, index="flat", seed=0).fit(_sets())
    idx.save(tmp_path / "idx")
    return idx, tmp_path / "idx"


def test_slosh_round_trip(saved_index):
    idx, path = saved_index
    back = SLOSH.load(path)
    q = _sets(k=2, seed=5)
    a, b = idx.search(q, k=3), back.search(q, k=3)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not [p for p in path.iterdir() if p.name.startswith(".")]  # no temporary left


def _truncate(p):
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])


def _corrupt(p):
    data = bytearray(p.read_bytes())
    data[:8] = b"\x00garbage"
    p.write_bytes(bytes(data))


@pytest.mark.parametrize("name", ["config.json", "index.faiss", "projections.npy",
                                  "reference_quantiles.npy"])
@pytest.mark.parametrize("damage", ["missing", "empty", "truncated", "corrupted"])
def test_slosh_load_names_the_damaged_file(saved_index, name, damage):
    _, path = saved_index
    p = path / name
    if damage == "missing":
        p.unlink()
    elif damage == "empty":
        p.write_bytes(b"")
    elif damage == "truncated":
        _truncate(p)
    else:
        _corrupt(p)
    with pytest.raises(ArtifactError, match=name.replace(".", r"\.")):
        SLOSH.load(path)


def test_slosh_load_rejects_mismatched_files(saved_index, tmp_path):
    _, path = saved_index
    cfg = json.loads((path / "config.json").read_text())
    # a config for another number of projections: the arrays no longer fit it
    (path / "config.json").write_text(json.dumps({**cfg, "n_projections": 5}))
    with pytest.raises(ArtifactError, match="projections.npy"):
        SLOSH.load(path)
    # a missing key
    (path / "config.json").write_text(json.dumps({k: v for k, v in cfg.items() if k != "dim"}))
    with pytest.raises(ArtifactError, match=r"config\.json.*dim"):
        SLOSH.load(path)
    # an index of another kind than the config says
    (path / "config.json").write_text(json.dumps({**cfg, "index": "lsh"}))
    with pytest.raises(ArtifactError, match=r"index\.faiss"):
        SLOSH.load(path)
    # another program's file
    (path / "config.json").write_text(json.dumps({**cfg, "format": "something-else/3"}))
    with pytest.raises(ArtifactError, match="config.json"):
        SLOSH.load(path)
