"""Registration: exact recovery of known transforms, robustness to outliers, model fits, errors."""

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from mintlab.registration import correspondences, fit_transform_model, register


def _cloud(rng, n=120):
    c = np.array([[0, 0, 0], [0.8, 0.2, 0], [0.2, 0.9, 0.3]])
    s = np.array([[0.3, 0.1, 0.1], [0.1, 0.3, 0.05], [0.05, 0.1, 0.3]])
    k = rng.integers(0, 3, n)
    return c[k] + s[k] * rng.normal(size=(n, 3))


@pytest.mark.parametrize("correspondence", ["nn", "ot", "opt", "sliced_opt"])
def test_recovers_a_rigid_motion_on_clean_data(correspondence):
    rng = np.random.default_rng(0)
    X = _cloud(rng)
    R = Rotation.from_rotvec([0.2, -0.3, 0.25]).as_matrix()
    Y = X @ R.T + np.array([0.2, 0.1, -0.3])
    res = register(X, Y, transform="rigid", correspondence=correspondence, n_iter=150, seed=0)
    tol = 1e-6 if correspondence != "sliced_opt" else 2e-2
    assert np.sqrt(((res.transformed - Y) ** 2).sum(1).mean()) < tol
    np.testing.assert_allclose(res.transform.A, R, atol=max(tol, 1e-6) * 5)


def test_recovers_an_affine_map_and_a_similarity():
    rng = np.random.default_rng(1)
    X = _cloud(rng)
    A = np.array([[1.1, 0.2, 0.0], [-0.1, 0.9, 0.1], [0.05, 0.0, 1.2]])
    Y = X @ A.T + np.array([0.1, -0.2, 0.3])
    res = register(X, Y, transform="affine", correspondence="opt", n_iter=100)
    np.testing.assert_allclose(res.transformed, Y, atol=1e-6)
    # weighted fits against the closed forms
    w = rng.random(len(X))
    model = fit_transform_model(X, Y, w, "affine")
    np.testing.assert_allclose(model.A, A, atol=1e-9)
    R = Rotation.from_rotvec([0.1, 0.4, -0.2]).as_matrix()
    Z = 1.7 * X @ R.T + 0.5
    sim = fit_transform_model(X, Z, w, "similarity")
    np.testing.assert_allclose(sim.A, 1.7 * R, atol=1e-9)
    rig = fit_transform_model(X, X @ R.T, w, "rigid")
    assert np.linalg.det(rig.A) == pytest.approx(1.0)
    np.testing.assert_allclose(rig.A, R, atol=1e-9)


def test_partial_transport_ignores_outliers_that_full_ot_matches():
    rng = np.random.default_rng(2)
    X = _cloud(rng, 100)
    Y = X + np.array([0.05, 0.0, 0.0])
    Yt = np.r_[Y, rng.uniform(3, 4, size=(40, 3))]  # far outliers
    targets, w = correspondences(X, Yt, "opt", penalty=0.05)
    assert (w > 0.99).all()
    np.testing.assert_allclose(targets, Y, atol=1e-9)
    _, w_ot = correspondences(X, Yt, "ot")
    res_ot = register(X, Yt, correspondence="ot", n_iter=30)
    res_opt = register(X, Yt, correspondence="opt", n_iter=30)
    assert np.abs(res_opt.transformed - Y).max() < 1e-6
    assert np.abs(res_ot.transformed - Y).max() > 0.1
    # far outliers on the sliced side: left unmatched on most slices
    rng2 = np.random.default_rng(0)
    t_sl, w_sl = correspondences(np.r_[X, rng.uniform(3, 4, (10, 3))], Y, "sliced_opt",
                                 penalty=0.05, n_frames=8, rng=rng2)
    assert w_sl[-10:].max() < 0.3 and w_sl[:100].mean() > 0.8


@pytest.mark.parametrize("kind", ["tps", "gaussian"])
def test_kernel_models_fit_a_smooth_deformation(kind):
    rng = np.random.default_rng(3)
    X = rng.uniform(-1, 1, size=(80, 2))
    Y = X + 0.1 * np.c_[np.sin(2 * X[:, 1]), np.cos(2 * X[:, 0])]
    model = fit_transform_model(X, Y, np.ones(80), kind, regularization=1e-6, width=0.5)
    assert np.abs(model(X) - Y).max() < 1e-3
    rigid = fit_transform_model(X, Y, np.ones(80), "rigid")
    assert np.abs(rigid(X) - Y).max() > 0.05
    res = register(X, Y, transform=kind, correspondence="opt", n_iter=30, regularization=1e-4)
    assert np.sqrt(((res.transformed - Y) ** 2).sum(1).mean()) < 0.02


def test_torch_in_torch_out_and_seeded():
    rng = np.random.default_rng(4)
    X = torch.tensor(_cloud(rng, 60), dtype=torch.float32)
    Y = X + 0.1
    a = register(X, Y, correspondence="sliced_opt", n_iter=10, seed=3)
    b = register(X, Y, correspondence="sliced_opt", n_iter=10, seed=3)
    assert isinstance(a.transformed, torch.Tensor) and a.transformed.dtype == torch.float32
    assert torch.equal(a.transformed, b.transformed)


def test_bad_inputs():
    X = np.zeros((5, 3))
    with pytest.raises(ValueError, match="X_t must have shape"):
        register(X, np.zeros((5, 2)))
    with pytest.raises(ValueError, match="transform"):
        register(X, X, transform="projective")
    with pytest.raises(ValueError, match="correspondence"):
        register(X, X, correspondence="magic")
    with pytest.raises(ValueError, match="finite"):
        register(np.full((5, 3), np.nan), X)
    with pytest.raises(ValueError, match="penalty"):
        register(X + np.arange(5)[:, None], X, penalty=-1.0)
    with pytest.raises(ValueError, match="anneal"):
        register(X, X, anneal=1.5)
    with pytest.raises(ValueError, match="empty"):
        register(np.zeros((0, 3)), X)
    with pytest.raises(ValueError, match="positive sum"):
        fit_transform_model(X, X, np.zeros(5))
    with pytest.raises(ValueError, match="to match X"):
        fit_transform_model(X, X[:4], np.ones(5))
    with pytest.raises(ValueError, match="non-negative"):
        fit_transform_model(X, X, -np.ones(5))
    with pytest.raises(ValueError, match="X_t must have shape"):
        correspondences(X, np.zeros((4, 2)), "nn")
    with pytest.raises(TypeError, match="penalty"):
        correspondences(X, X, "opt", penalty=None)


def test_array_likes_numpy_understands_are_accepted():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    X = _cloud(rng, n=30)
    Y = X @ Rotation.from_euler("z", 20, degrees=True).as_matrix().T + 0.1
    w = np.ones(len(X))
    a = fit_transform_model(X, Y, w, kind="affine")
    b = fit_transform_model(pd.DataFrame(X), pd.DataFrame(Y), pd.Series(w), kind="affine")
    assert np.allclose(a(X), b(X), rtol=0, atol=1e-12)
    c = fit_transform_model(X.astype(np.float16), Y.astype(np.float16), w.astype(np.float16),
                            kind="rigid")
    assert c(X).shape == X.shape
