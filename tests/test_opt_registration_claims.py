"""Pieces of the ``opt-registration`` experiment: its problems, its oracles, TPS registration."""

import numpy as np
import pytest

from mintlab.experiments import opt_registration as exp
from mintlab.registration import correspondences, register


@pytest.fixture(scope="module")
def digits():
    from mintlab.datasets import load_mnist

    return load_mnist("test", 20, 0)[0]


def test_problem_has_the_missing_part_and_the_outliers(digits):
    X = exp._digit2d(digits, np.random.default_rng(0), 80)
    assert X.ndim == 2 and X.shape[1] == 2 and 20 <= len(X) <= 80
    truth, clean = exp._problem(np.random.default_rng(1), X, 0.0)
    assert truth.shape == X.shape
    assert abs(len(clean) - (1 - exp.MISSING) * len(X)) <= 1  # a fifth is cut away
    _, noisy = exp._problem(np.random.default_rng(1), X, 0.4)
    assert abs(len(noisy) - len(clean) / 0.6) <= 1  # 40% of the target are outliers
    assert np.allclose(noisy[:len(clean)], clean)  # the same draw, outliers appended


def test_object3d_is_asymmetric_and_sized():
    X = exp._object3d(np.random.default_rng(1), 200)
    assert X.shape == (200, 3)
    cov = np.cov((X - X.mean(0)).T)
    ev = np.linalg.eigvalsh(cov)
    assert ev[0] < 0.8 * ev[1] < 0.8 * ev[2]  # three distinct principal axes


def test_oracles_agree_with_pot():
    rng = np.random.default_rng(2)
    X = exp._object3d(rng, 60)
    truth, Xt = exp._problem(rng, X, 0.2)
    lp_rel, one_d_rel = exp._oracles(rng, truth, Xt)
    assert lp_rel <= 1e-9 and one_d_rel <= 1e-9


def test_opt_leaves_far_outliers_unmatched():
    rng = np.random.default_rng(3)
    Y = rng.normal(size=(40, 2))
    Xt = np.r_[Y + 0.01 * rng.normal(size=Y.shape), [[50.0, 50.0], [-50.0, 40.0]]]
    Yq = np.r_[Y, [[60.0, -60.0]]]  # a source point with no counterpart
    _, w = correspondences(Yq, Xt, "opt", penalty=0.5)
    assert w[-1] == 0.0 and np.all(w[:-1] == 1.0)


def test_tps_with_opt_recovers_a_smooth_warp_better_than_rigid(digits):
    rng = np.random.default_rng(4)
    X = exp._digit2d(digits, rng, 80)
    truth, Xt = exp._problem(rng, X, 0.0)
    err = {}
    for model in ("rigid", "tps"):
        out = register(X, Xt, transform=model, correspondence="opt", n_iter=30,
                       regularization=exp.REGULARIZATION, anneal=exp.ANNEAL, seed=0)
        err[model] = float(np.sqrt(((out.transformed - truth) ** 2).sum(1).mean()))
    assert err["tps"] < err["rigid"]
