"""Bad input to the transport functions and the POT drop-in: clear errors naming the argument."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import mintlab.pot as ot
import mintlab.transport as T
from mintlab.pot import POTInputError

RNG = np.random.default_rng(0)
X = RNG.standard_normal((8, 3))
Y = RNG.standard_normal((6, 3))


def _dist(n, seed):
    z = np.random.default_rng(seed).standard_normal((n, 2))
    return np.linalg.norm(z[:, None] - z[None], axis=-1)


# ------------------------------------------------------------------ mintlab.pot
@pytest.mark.parametrize("call, name", [
    (lambda: ot.emd("abc", [], np.ones((2, 2))), "a"),
    (lambda: ot.emd2([], [], "abc"), "M"),
    (lambda: ot.wasserstein_1d("abc", [0.0, 1.0]), "u_values"),
    (lambda: ot.wasserstein_1d([0.0, 1.0], [0.0], v_weights="w"), "v_weights"),
    (lambda: ot.sliced_wasserstein_distance("abc", X), "X_s"),
    (lambda: ot.sliced_wasserstein_distance(X, X, a="abc"), "a"),
    (lambda: ot.wasserstein_circle([0.1, 0.2], [[0.1], "x"]), "v_values"),
])
def test_pot_rejects_non_numeric_input_naming_it(call, name):
    with pytest.raises(TypeError, match=name):
        call()


@pytest.mark.parametrize("fn", [ot.wasserstein_circle, ot.binary_search_circle,
                                ot.linear_circular_ot])
def test_pot_circle_rejects_empty_samples_and_misshaped_weights(fn):
    u, v = np.array([0.1, 0.5, 0.7]), np.array([0.2, 0.3])
    with pytest.raises(ValueError, match="u_values must not be empty"):
        fn(u[:0], v)
    with pytest.raises(ValueError, match=r"v_weights must have one weight per sample of "
                                         r"v_values \(2\)"):
        fn(u, v, None, np.ones(3) / 3)
    with pytest.raises(AssertionError):  # POT asserts: the error is also an AssertionError
        fn(u, v, np.ones(2) / 2)


def test_pot_semidiscrete_circle_rejects_misshaped_weights():
    with pytest.raises(ValueError, match="u_weights must have one weight per sample"):
        ot.semidiscrete_wasserstein2_unif_circle(np.array([0.1, 0.4]), np.ones(3) / 3)


@pytest.mark.parametrize("fn", [ot.sliced_wasserstein_distance,
                                ot.max_sliced_wasserstein_distance])
def test_pot_sliced_rejects_non_integer_n_projections(fn):
    with pytest.raises(TypeError, match="n_projections must be an integer, got float"):
        fn(X, Y, n_projections=2.5, seed=0)
    with pytest.raises(TypeError, match="n_projections must be an integer, got str"):
        fn(X, Y, n_projections="10", seed=0)
    with pytest.raises(ValueError, match="n_projections must be >= 1, got 0"):
        fn(X, Y, n_projections=0, seed=0)


def test_pot_expected_plan_rejects_non_numeric_beta():
    with pytest.raises(TypeError, match="beta must be a real number"):
        ot.expected_sliced_plan(X, Y, n_projections=3, beta="1", seed=0)


def test_pot_partial_wasserstein_1d_names_its_arguments():
    x = np.array([0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="x_a must be finite, got 1 NaN"):
        ot.partial.partial_wasserstein_1d(np.array([np.nan, 1.0]), x)
    with pytest.raises(ValueError, match="x_b must not be empty"):
        ot.partial.partial_wasserstein_1d(x, x[:0])
    with pytest.raises(ValueError, match="n_transported_samples must be >= 0, got -1"):
        ot.partial.partial_wasserstein_1d(x, x, n_transported_samples=-1)
    with pytest.raises(TypeError, match="n_transported_samples must be an integer"):
        ot.partial.partial_wasserstein_1d(x, x, n_transported_samples=1.5)
    ix, iy, costs = ot.partial.partial_wasserstein_1d(x, x, n_transported_samples=0)
    assert ix.shape == iy.shape == costs.shape == (0,)  # as POT: an empty path


def test_pot_partial_gromov_checks_masses_and_iterations():
    C1, C2 = _dist(5, 0), _dist(4, 1)
    p, q = np.full(5, 0.2), np.full(4, 0.25)
    bad = p.copy()
    bad[0] = -0.1
    with pytest.raises(ValueError, match="p must be non-negative"):
        ot.partial.partial_gromov_wasserstein(C1, C2, bad, q, m=0.5)
    with pytest.raises(ValueError, match=r"q must have shape \(4,\) to match C2"):
        ot.partial.partial_gromov_wasserstein(C1, C2, p, q[:3], m=0.5)
    with pytest.raises(ValueError, match="numItermax must be >= 1, got 0"):
        ot.partial.partial_gromov_wasserstein2(C1, C2, p, q, m=0.5, numItermax=0)
    with pytest.raises(TypeError, match="m must be a real number"):
        ot.partial.partial_gromov_wasserstein(C1, C2, p, q, m="0.5")
    with pytest.raises(ValueError, match=r"Problem infeasible.*sum of p 0 and of q 1"):
        ot.partial.partial_gromov_wasserstein(C1, C2, p * 0, q, m=0.5)
    # POT's own messages are kept where POT raises
    with pytest.raises(ValueError, match="Parameter m should be greater than 0"):
        ot.partial.partial_gromov_wasserstein(C1, C2, p, q, m=-0.5)
    assert float(np.asarray(ot.partial.partial_gromov_wasserstein(C1, C2, p, q, m=0.0)).sum()) \
        == 0.0


# ------------------------------------------------------------------ slicers and soft sort
@pytest.mark.parametrize("make", [
    lambda: T.LinearSlicer(3, 4, seed=0),
    lambda: T.PolynomialSlicer(3, n_projections=4, seed=0),
    lambda: T.CircularSlicer(3, n_projections=4, seed=0),
    lambda: T.MLPSlicer(3, n_projections=4, hidden=5, seed=0),
    lambda: T.ResidualMLPSlicer(3, n_projections=2, hidden=5, seed=0),
])
def test_slicer_forward_rejects_non_finite_points(make):
    s = make()
    X_bad = torch.zeros(5, 3, dtype=torch.float64)
    X_bad[1, 2] = float("nan")
    with pytest.raises(ValueError, match="X must be finite, got 1 NaN"):
        s(X_bad)
    X_bad[1, 2] = float("inf")
    with pytest.raises(ValueError, match="X must be finite, got 0 NaN and 1 infinite"):
        s(X_bad)
    assert torch.isfinite(s(torch.ones(5, 3, dtype=torch.float64))).all()


def test_soft_sort_matrix_rejects_non_finite_values():
    v = torch.tensor([[0.0, float("nan"), 1.0]])
    with pytest.raises(ValueError, match="values must be finite"):
        T.soft_sort_matrix(v, 0.5)
    with pytest.raises(ValueError, match="temperature must be positive"):
        T.soft_sort_matrix(v.nan_to_num(), 0.0)


# ------------------------------------------------------------------ signals
def test_radon_cdt_checks_angles_and_levels():
    img = np.random.default_rng(0).random((2, 5, 5))
    with pytest.raises(ValueError, match="angles must be finite"):
        T.radon_cdt(img, angles=[0.0, np.nan])
    with pytest.raises(TypeError, match="angles must hold real numbers"):
        T.radon_cdt(img, angles=np.array(["a"]))
    with pytest.raises(ValueError, match="angles must be a non-empty 1D array"):
        T.radon_cdt(img, angles=45.0)
    with pytest.raises(ValueError, match="angles must not be empty"):
        T.radon_cdt(img, angles=[])
    with pytest.raises(TypeError, match="n_levels must be an integer, got float"):
        T.radon_cdt(img, n_levels=2.5)
    with pytest.raises(ValueError, match="n_levels must be >= 1, got 0"):
        T.radon_cdt(img, n_levels=0)
    out = T.radon_cdt(torch.tensor(img), angles=torch.tensor([0.0, 90.0]), n_levels=3)
    assert out.shape == (2, 2, 3) and torch.isfinite(out).all()


# ------------------------------------------------------------------ Gromov
def test_partial_gromov_barycenter_checks_penalty_and_weights():
    Cs = [_dist(4, 0), _dist(5, 1)]
    kw = dict(n_points=3, max_iter=1, seed=0)
    with pytest.raises(TypeError, match="penalty must be a number or a sequence of 2 numbers"):
        T.partial_gromov_barycenter(Cs, penalty="1", **kw)
    with pytest.raises(ValueError, match="penalty must be finite"):
        T.partial_gromov_barycenter(Cs, penalty=np.inf, **kw)
    with pytest.raises(ValueError, match=r"penalty\[1\] must be non-negative"):
        T.partial_gromov_barycenter(Cs, penalty=[1.0, -1.0], **kw)
    with pytest.raises(ValueError, match=r"penalty must be one number or one per space \(2\)"):
        T.partial_gromov_barycenter(Cs, penalty=[1.0, 1.0, 1.0], **kw)
    with pytest.raises(ValueError, match="weights must have a positive sum"):
        T.partial_gromov_barycenter(Cs, weights=[0.0, 0.0], **kw)
    with pytest.raises(ValueError, match=r"weights must have shape \(2\)"):
        T.partial_gromov_barycenter(Cs, weights=[1.0], **kw)
    res = T.partial_gromov_barycenter(Cs, penalty=np.array([1.0, 2.0]), **kw)
    assert np.isfinite(res.C).all()


@pytest.mark.parametrize("arg, value, err, msg", [
    ("lr", 0.0, ValueError, "lr must be positive"),
    ("lr", "0.1", TypeError, "lr must be a real number"),
    ("temperature", np.nan, ValueError, "temperature must be finite"),
    ("temperature", "0.1", TypeError, "temperature must be a real number"),
    ("batch_size", 1, ValueError, "batch_size must be >= 2"),
])
def test_min_gsgw_checks_its_optimiser_settings(arg, value, err, msg):
    with pytest.raises(err, match=msg):
        T.min_generalized_sliced_gromov_wasserstein(X, Y, n_init=2, n_iter=1, seed=0,
                                                    **{arg: value})


def test_amortized_slicer_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a = T.AmortizedGSGWSlicer(3, hidden=4, embed=2, seed=7)
    assert torch.equal(before, torch.random.get_rng_state())
    b = T.AmortizedGSGWSlicer(3, hidden=4, embed=2, seed=7)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert all(float(layer.bias.abs().sum()) == 0.0 for layer in (a.encoder[0], a.head[0]))


def test_sliced_estimate_sopt_needs_a_second_measure():
    with pytest.raises(ValueError, match="X_t is required for distance='sopt'"):
        T.sliced_estimate(X, None, distance="sopt", penalty=1.0, seed=0)


def test_pot_input_error_is_both_kinds():
    assert issubclass(POTInputError, ValueError) and issubclass(POTInputError, AssertionError)


def test_fit_amortized_gsgw_says_which_pair_is_bad():
    net = T.AmortizedGSGWSlicer(3, hidden=4, embed=2, seed=0)
    good = torch.randn(6, 3, dtype=torch.float64)
    bad = good.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"pairs\[1\]: X must be finite"):
        T.fit_amortized_gsgw(net, [(good, good), (bad, good)], n_steps=1)
    with pytest.raises(TypeError, match="pairs must be an iterable of"):
        T.fit_amortized_gsgw(net, 5, n_steps=1)
