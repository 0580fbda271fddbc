import numpy as np
import pytest
import torch

from mintlab.datasets import make_point_cloud_classes, make_set_retrieval_corpus
from mintlab.embed import SLOSH, PoolingEmbedding, SlicedWassersteinEmbedding
from mintlab.transport import sliced_wasserstein_distance

RNG = np.random.default_rng(6)


def test_swe_distance_equals_sw_for_equal_uniform_sets():
    sets = RNG.normal(size=(6, 32, 3)) * RNG.uniform(0.5, 2, (6, 1, 1))
    swe = SlicedWassersteinEmbedding(n_projections=16, n_quantiles=32, seed=0).fit(sets)
    E = swe.transform(sets)
    for i in range(6):
        for j in range(6):
            ref = sliced_wasserstein_distance(sets[i], sets[j], projections=swe.projections_)
            assert abs(np.linalg.norm(E[i] - E[j]) - ref) < 1e-12


def test_swe_weighted_and_unequal_sets_approximate_sw():
    sets = [(RNG.normal(size=(n, 2)), RNG.random(n) + 0.1) for n in (50, 80, 120)]
    swe = SlicedWassersteinEmbedding(n_projections=32, n_quantiles=400, seed=1).fit(sets)
    E = swe.transform(sets)
    for i in range(3):
        for j in range(3):
            (A, a), (B, b) = sets[i], sets[j]
            ref = sliced_wasserstein_distance(A, B, a / a.sum(), b / b.sum(),
                                              projections=swe.projections_)
            assert abs(np.linalg.norm(E[i] - E[j]) - ref) < 0.05 * max(ref, 1e-3) + 1e-9
    # batching and grouping by size do not change the result
    one = swe.transform(sets[:1])
    assert np.allclose(one[0], E[0])


def test_swe_invariances_torch_and_batches():
    sets = RNG.normal(size=(5, 20, 3))
    swe = SlicedWassersteinEmbedding(n_projections=8, n_quantiles=20, seed=2).fit(sets)
    E = swe.transform(sets)
    perm = sets[:, RNG.permutation(20)]
    assert np.allclose(swe.transform(perm), E)  # a set, not a sequence
    Eb = SlicedWassersteinEmbedding(n_projections=8, n_quantiles=20, seed=2,
                                    batch_size=2).fit(sets).transform(sets)
    assert np.allclose(Eb, E)
    Et = swe.transform(torch.tensor(sets, dtype=torch.float32))
    assert isinstance(Et, torch.Tensor) and Et.dtype == torch.float32
    assert np.allclose(Et.numpy(), E, atol=1e-5)


def test_poolings():
    sets = RNG.normal(size=(4, 30, 3))
    assert np.allclose(PoolingEmbedding("mean").fit_transform(sets), sets.mean(1))
    cov = PoolingEmbedding("covariance").fit_transform(sets)
    c0 = np.cov(sets[0].T, bias=True)
    assert np.allclose(cov[0, 3:], c0[np.triu_indices(3)])
    assert PoolingEmbedding("sorted", n_quantiles=5).fit_transform(sets).shape == (4, 15)
    g = PoolingEmbedding("gem", gem_power=1.0).fit_transform(np.abs(sets))
    assert np.allclose(g, np.abs(sets).mean(1))
    with pytest.raises(ValueError, match="kind must be one of"):
        PoolingEmbedding("max").fit(sets)


def test_slosh_flat_equals_brute_force_and_save_load(tmp_path):
    corpus, queries, src, _ = make_set_retrieval_corpus(60, 8, n_points=(40, 60), seed=0)
    idx = SLOSH(n_projections=16, n_quantiles=16, index="flat", seed=0).fit(corpus)
    D, ids = idx.search(queries, k=5)
    E = idx.embedding_.transform(corpus)
    Q = idx.embedding_.transform(queries)
    brute = np.linalg.norm(Q[:, None] - E[None], axis=-1)
    assert np.array_equal(ids, np.argsort(brute, axis=1)[:, :5])
    assert np.allclose(D, np.sort(brute, axis=1)[:, :5], atol=1e-4)
    idx.save(tmp_path / "idx")
    back = SLOSH.load(tmp_path / "idx")
    D2, ids2 = back.search(queries, k=5)
    assert np.array_equal(ids, ids2) and back.n_sets == 60
    lsh = SLOSH(n_projections=16, n_quantiles=16, index="lsh", n_bits=256, seed=0).fit(corpus)
    _, ids3 = lsh.search(queries, k=10)
    assert np.mean([s in row for row, s in zip(ids3, src, strict=True)]) >= 0.5
    lsh.add(corpus[:5])
    assert lsh.n_sets == 65


def test_slosh_errors():
    with pytest.raises(ValueError, match="index must be one of"):
        SLOSH(index="ivf")
    with pytest.raises(RuntimeError, match="not fitted"):
        SLOSH().search([np.ones((3, 2))])


def test_point_cloud_generators():
    X, y = make_point_cloud_classes(12, n_points=(100, 150), seed=0)
    assert len(X) == 60 and {len(x) for x in X} <= set(range(100, 151))
    assert np.bincount(y).tolist() == [12] * 5
    X2, _ = make_point_cloud_classes(12, n_points=(100, 150), seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(X, X2, strict=True))
    from mintlab.datasets import sample_shape

    P = sample_shape("sphere", 500, np.random.default_rng(0))
    assert np.allclose(np.linalg.norm(P, axis=1), 1.0)
    T = sample_shape("torus", 500, np.random.default_rng(0))
    assert np.allclose(np.hypot(np.hypot(T[:, 0], T[:, 1]) - 0.7, T[:, 2]), 0.3)
    with pytest.raises(ValueError, match="shape must be one of"):
        sample_shape("klein", 10, np.random.default_rng(0))


def test_gmm_recovers_known_mixture_and_emperor_shapes():
    from mintlab.embed import EMPEROR
    from mintlab.embed.moments import fit_gmm_1d

    g = np.random.default_rng(0)
    n = 20000
    comp = g.choice(3, n, p=[0.2, 0.5, 0.3])
    x = np.array([-4.0, 0.0, 5.0])[comp] + np.array([0.5, 1.0, 0.7])[comp] * g.normal(size=n)
    pi, mu, sd = fit_gmm_1d(torch.tensor(x)[None], n_components=3, n_iter=300, tol=1e-9)
    assert np.allclose(pi[0].numpy(), [0.2, 0.5, 0.3], atol=0.02)
    assert np.allclose(mu[0].numpy(), [-4, 0, 5], atol=0.05)
    assert np.allclose(sd[0].numpy(), [0.5, 1.0, 0.7], atol=0.05)
    # on a 1D set the slices are +-x: the descriptor holds the mixture (mirrored if -x)
    emp = EMPEROR(n_projections=1, n_components=3, n_iter=300, seed=0).fit([x[:, None]])
    D = emp.transform([x[:, None]])[0]
    sign = np.sign(emp.projections_[0, 0])
    assert np.allclose(np.sort(D[3:6] * sign), [-4, 0, 5], atol=0.1)
    # weighted sets: weights act like repeated points
    w = np.r_[np.full(100, 3.0), np.full(100, 1.0)]
    pts = np.r_[g.normal(-3, 0.3, 100), g.normal(3, 0.3, 100)]
    pi2, mu2, _ = fit_gmm_1d(torch.tensor(pts)[None], torch.tensor(w)[None], n_components=2)
    assert np.allclose(pi2[0].numpy(), [0.75, 0.25], atol=0.01)


def test_fit_gmm_1d_rejects_bad_input():
    from mintlab.embed.moments import fit_gmm_1d

    with pytest.raises(TypeError, match="floating torch tensor"):
        fit_gmm_1d(np.ones(5))
    with pytest.raises(ValueError, match="finite entries"):
        fit_gmm_1d(torch.tensor([1.0, float("nan")]))
    with pytest.raises(ValueError, match="weights must be non-negative"):
        fit_gmm_1d(torch.ones(4, dtype=torch.float64), -torch.ones(4, dtype=torch.float64))


def test_fspool_embedding_learns_to_match_resampled_sets():
    from mintlab.embed.sliced import FSPoolEmbedding

    rng = np.random.default_rng(0)
    # each "object" is a 2D Gaussian with its own centre and shape; views are fresh draws
    def draws(params, n=24):
        return np.stack([c + rng.normal(size=(n, 2)) @ A for c, A in params])

    def objects(k):
        return [(rng.normal(size=2), rng.normal(size=(2, 2)) * 0.5) for _ in range(k)]

    train, held = objects(120), objects(40)
    emb = FSPoolEmbedding(out_features=16, width=32, epochs=15, batch_size=40, seed=0)
    emb.fit(draws(train), X_positive=draws(train))
    assert emb.losses_[-1] < emb.losses_[0]
    a, b = emb.transform(draws(held)), emb.transform(draws(held))
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0)
    # held-out objects: a fresh draw's nearest neighbour is the other draw of the same object
    nearest = ((a[:, None] - b[None]) ** 2).sum(-1).argmin(1)
    untrained = FSPoolEmbedding(out_features=16, width=32, epochs=1, lr=1e-9, seed=0)
    untrained.fit(draws(train), X_positive=draws(train))
    a0, b0 = untrained.transform(draws(held)), untrained.transform(draws(held))
    nearest0 = ((a0[:, None] - b0[None]) ** 2).sum(-1).argmin(1)
    assert (nearest == np.arange(40)).mean() > max(0.3, (nearest0 == np.arange(40)).mean())
    # halves of one set are the views when no positives are given
    FSPoolEmbedding(out_features=4, width=8, epochs=1, seed=0).fit(draws(train))
    with pytest.raises(ValueError, match="X_positive must hold one set per set"):
        FSPoolEmbedding(epochs=1).fit(draws(train), X_positive=draws(train[:5]))


def test_pooling_embedding_batched_path_matches_per_set():
    X = np.random.default_rng(2).random((6, 9, 3))
    for kind in ("mean", "gem", "sorted", "covariance"):
        e = PoolingEmbedding(kind).fit(X)
        np.testing.assert_allclose(e.transform(X), e.transform(list(X)), atol=1e-12)
