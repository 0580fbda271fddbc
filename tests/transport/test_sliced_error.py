"""Monte Carlo error bars of the sliced estimators, direction schemes, POT's log and order."""

import warnings

import numpy as np
import ot
import pytest
import torch

from mintlab.transport.line import partial_wasserstein_1d
from mintlab.transport.sliced import (
    SlicedEstimate,
    energy_based_sliced_wasserstein_distance,
    generalized_sliced_wasserstein_distance,
    linear_sliced_wasserstein_sphere,
    max_sliced_wasserstein_distance,
    s3w_distance,
    sliced_estimate,
    sliced_partial_wasserstein,
    sliced_wasserstein_distance,
)
from mintlab.transport.slicers import (
    MLPSlicer,
    fibonacci_directions,
    orthonormal_directions,
    random_directions,
    random_frames,
    sample_directions,
)

SEEDS = range(200)


def _clouds(seed=0, n=20, m=15, d=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * np.linspace(2.0, 0.5, d)
    Y = rng.normal(size=(m, d)) + np.eye(d)[0] * 0.5
    return X, Y


def _sphere(n, d, seed, shift=0.0):
    X = np.random.default_rng(seed).normal(size=(n, d)) + shift
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def _coverage(estimate, reference):
    """Share of seeds whose reported 95% interval holds ``reference``, and the half-widths."""
    hits, half = 0, []
    for s in SEEDS:
        lo, hi = estimate(s)[1]["interval"]
        hits += lo <= reference <= hi
        half.append((hi - lo) / 2)
    return hits / len(SEEDS), np.mean(half)


# ------------------------------------------------------------------ coverage
@pytest.mark.parametrize("directions", ["random", "orthogonal", "qmc"])
def test_sw_interval_covers_a_1e5_slice_reference(directions):
    X, Y = _clouds()
    # an independent reference: POT's estimator with 1e5 random slices
    reference = float(ot.sliced_wasserstein_distance(X, Y, n_projections=100_000, seed=12345))
    rate, half = _coverage(lambda s: sliced_wasserstein_distance(
        X, Y, n_projections=60, seed=s, log=True, directions=directions), reference)
    # nominal 95%: 200 seeds put the rate within about +-3% of it
    assert 0.9 <= rate <= 0.995, (rate, half)


@pytest.mark.parametrize("name", ["sw_p1", "ebsw", "sopt", "lssot", "s3w"])
def test_other_estimators_intervals_cover_their_reference(name):
    X, Y = _clouds(1)
    S, T = _sphere(20, 3, 2), _sphere(15, 3, 3, shift=np.array([0.8, 0, 0]))
    calls = {
        "sw_p1": lambda L, s: sliced_wasserstein_distance(X, Y, n_projections=L, p=1, seed=s,
                                                          log=True),
        "ebsw": lambda L, s: energy_based_sliced_wasserstein_distance(
            X, Y, n_projections=L, seed=s, log=True),
        "sopt": lambda L, s: sliced_partial_wasserstein(X, Y, 0.5, n_projections=L, seed=s,
                                                        log=True),
        "lssot": lambda L, s: linear_sliced_wasserstein_sphere(S, T, n_projections=L, seed=s,
                                                               log=True),
        "s3w": lambda L, s: s3w_distance(S, T, n_projections=L, seed=s, log=True),
    }
    reference = float(calls[name](100_000, 12345)[0])
    rate, _ = _coverage(lambda s: calls[name](60, s), reference)
    assert 0.9 <= rate <= 0.995, rate


def test_reported_standard_error_matches_the_spread_over_seeds():
    # the error bar of each scheme must describe that scheme's own variance: an iid formula
    # applied to orthogonal or lattice slices would overstate it
    X, Y = _clouds(2)
    for directions in ("random", "orthogonal", "qmc"):
        values, ses = [], []
        for s in range(100):
            v, log = sliced_wasserstein_distance(X, Y, n_projections=60, seed=s, log=True,
                                                 directions=directions)
            values.append(float(v))
            ses.append(log["standard_error"])
        ratio = np.sqrt(np.mean(np.square(ses))) / np.std(values, ddof=1)
        assert 0.75 < ratio < 1.33, (directions, ratio)


def test_orthogonal_and_qmc_have_lower_variance_than_iid_on_a_smooth_case():
    X, Y = _clouds(3, n=200, m=200)
    spread = {}
    for directions in ("random", "orthogonal", "qmc"):
        spread[directions] = np.std([
            float(sliced_wasserstein_distance(X, Y, n_projections=60, seed=s,
                                              directions=directions)) for s in range(100)])
    assert spread["orthogonal"] < 0.7 * spread["random"]
    assert spread["qmc"] < 0.7 * spread["random"]


def test_crossed_rotations_and_directions_standard_error():
    # RI-S3W averages over rotations x directions: the error bar accounts for both
    S, T = _sphere(30, 3, 4), _sphere(30, 3, 5, shift=np.array([0.0, 0.0, 1.0]))
    values, ses = [], []
    for s in range(120):
        v, log = s3w_distance(S, T, variant="ri", n_rotations=8, n_projections=20, seed=s,
                              log=True)
        values.append(float(v))
        ses.append(log["standard_error"])
        assert log["projected_emds"].shape == (8, 20)
    ratio = np.sqrt(np.mean(np.square(ses))) / np.std(values, ddof=1)
    assert 0.7 < ratio < 1.5, ratio


# ------------------------------------------------------------- the formulas
def test_standard_error_formulas_against_textbook_ones():
    from scipy.stats import t

    X, Y = _clouds(5)
    v, log = sliced_wasserstein_distance(X, Y, n_projections=40, seed=0, log=True)
    c = log["projected_emds"]
    M, se_M = c.mean(), c.std(ddof=1) / np.sqrt(40)
    assert abs(v - np.sqrt(M)) < 1e-12
    assert abs(log["standard_error"] - se_M / (2 * np.sqrt(M))) < 1e-12
    h = t.ppf(0.975, 39) * se_M
    assert np.allclose(log["interval"], (np.sqrt(M - h), np.sqrt(M + h)), atol=1e-12)
    # orthogonal frames: the blocks of d = 3 slices are the independent replicates
    v, log = sliced_wasserstein_distance(X, Y, n_projections=30, seed=0, log=True,
                                         directions="orthogonal")
    block_means = log["projected_emds"].reshape(10, 3).mean(1)
    se_M = block_means.std(ddof=1) / np.sqrt(10)
    M = block_means.mean()
    assert abs(log["standard_error"] - se_M / (2 * np.sqrt(M))) < 1e-12
    h = t.ppf(0.975, 9) * se_M
    assert np.allclose(log["interval"], (np.sqrt(M - h), np.sqrt(M + h)), atol=1e-12)
    # sopt: no root, the interval is the mean's own
    cost, log = sliced_partial_wasserstein(X, Y, 0.5, n_projections=40, seed=0, log=True)
    c = log["projected_emds"]
    assert abs(log["standard_error"] - c.std(ddof=1) / np.sqrt(40)) < 1e-12


def test_ebsw_standard_error_is_the_ratio_estimators():
    X, Y = _clouds(6)
    v, log = energy_based_sliced_wasserstein_distance(X, Y, n_projections=50, seed=0,
                                                      log=True)
    c = log["projected_emds"]
    w = np.exp(c - c.max())
    R = (w * c).sum() / w.sum()
    assert abs(v - np.sqrt(R)) < 1e-12
    var = 50 / 49 * np.sum((w * c - R * w) ** 2) / w.sum() ** 2
    assert abs(log["standard_error"] - np.sqrt(var) / (2 * np.sqrt(R))) < 1e-12


def test_identical_clouds_have_zero_error():
    X, _ = _clouds(7)
    v, log = sliced_wasserstein_distance(X, X, seed=0, log=True)
    assert v == 0.0 and log["standard_error"] == 0.0 and log["interval"] == (0.0, 0.0)


# -------------------------------------------------------------------- auto
@pytest.mark.parametrize("directions", ["random", "orthogonal", "qmc"])
def test_auto_stops_when_the_half_width_is_under_tol(directions):
    X, Y = _clouds(8)
    value, log = sliced_wasserstein_distance(X, Y, n_projections="auto", tol=0.01, seed=0,
                                             log=True, directions=directions)
    lo, hi = log["interval"]
    assert (hi - lo) / 2 <= 0.01
    assert lo <= value <= hi
    assert 100 < log["n_projections"] < 10_000
    assert log["projections"].shape == (3, log["n_projections"])
    # the value is the plain estimate on the slices that were drawn
    again = sliced_wasserstein_distance(X, Y, projections=log["projections"])
    assert abs(again - value) < 1e-12
    # a loose tolerance stops at the first block
    _, log = sliced_wasserstein_distance(X, Y, n_projections="auto", tol=10.0, seed=0, log=True)
    assert log["n_projections"] == 100


def test_auto_every_estimator_and_reproducible():
    X, Y = _clouds(9)
    S, T = _sphere(20, 3, 2), _sphere(15, 3, 3, shift=np.array([0.8, 0, 0]))
    cases = [
        (X, Y, 0.01, dict(distance="sw")),
        (X, Y, 0.01, dict(distance="ebsw")),
        (X, Y, 0.02, dict(distance="gsw", slicer="circular", radius=3.0)),
        (X, Y, 0.02, dict(distance="gsw", slicer="orthonormal")),
        (X, Y, 0.05, dict(distance="sopt", penalty=0.5)),
        (S, T, 0.01, dict(distance="s3w")),
        (S, T, 0.02, dict(distance="s3w", variant="ri", n_rotations=20)),
        (S, None, 0.01, dict(distance="lssot")),
        (S, T, 0.01, dict(distance="lssot", directions="orthogonal")),
    ]
    for A, B, tol, kw in cases:
        # RI-S3W's rotation term does not shrink with more directions: no forcing there
        force = kw.get("variant") != "ri"
        if force:
            first = sliced_estimate(A, B, n_projections=100, seed=1, **kw)
            # a third of the first block's half-width forces the loop past its first block
            tol = min(tol, first.half_width / 3)
        est = sliced_estimate(A, B, n_projections="auto", tol=tol, seed=1, **kw)
        assert isinstance(est, SlicedEstimate)
        assert est.half_width <= tol, (kw, est.half_width, tol)
        assert est.n_projections > 100 or not force, kw
        assert est.interval[0] <= float(est.value) <= est.interval[1]
        assert len(est.per_slice.reshape(-1)) % est.n_projections == 0
    a = sliced_estimate(X, Y, n_projections="auto", tol=0.01, seed=3)
    b = sliced_estimate(X, Y, n_projections="auto", tol=0.01, seed=3)
    assert a.value == b.value and a.n_projections == b.n_projections


def test_auto_warns_at_the_cap_and_stays_differentiable():
    X, Y = _clouds(10)
    with pytest.warns(RuntimeWarning, match="max_projections=150"):
        _, log = sliced_wasserstein_distance(X, Y, n_projections="auto", tol=1e-6,
                                             max_projections=150, seed=0, log=True)
    assert log["n_projections"] == 150
    Xt = torch.tensor(X, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = sliced_wasserstein_distance(Xt, torch.tensor(Y), n_projections="auto",
                                            tol=0.02, seed=0)
    value.backward()
    assert Xt.grad is not None and torch.isfinite(Xt.grad).all()


def test_sliced_estimate_matches_the_log():
    X, Y = _clouds(11)
    est = sliced_estimate(X, Y, n_projections=64, seed=4, p=1, directions="orthogonal")
    value, log = sliced_wasserstein_distance(X, Y, n_projections=64, p=1, seed=4, log=True,
                                             directions="orthogonal")
    assert est.value == value and est.standard_error == log["standard_error"]
    assert est.interval == log["interval"] and est.n_projections == 64
    np.testing.assert_array_equal(est.per_slice, log["projected_emds"])
    with pytest.raises(AttributeError):
        est.value = 0.0
    t = sliced_estimate(torch.tensor(X), torch.tensor(Y), seed=4)
    assert isinstance(t.value, torch.Tensor) and isinstance(t.standard_error, float)


# ---------------------------------------------------------- POT's interface
def test_log_dicts_agree_with_pot_on_the_same_projections():
    X, Y = _clouds(12)
    a = np.random.default_rng(0).random(20)
    a /= a.sum()
    theta = random_directions(3, 25, seed=0).numpy()
    for p in (1, 2):
        ours, log = sliced_wasserstein_distance(X, Y, a, None, 25, p, theta, log=True)
        ref, ref_log = ot.sliced_wasserstein_distance(X, Y, a, None, 25, p, theta, log=True)
        assert abs(ours - ref) < 1e-10
        np.testing.assert_allclose(log["projections"], ref_log["projections"])
        np.testing.assert_allclose(log["projected_emds"], ref_log["projected_emds"],
                                   atol=1e-12)
        ours, log = max_sliced_wasserstein_distance(X, Y, a, None, 25, p, theta, log=True,
                                                    n_iter=0)
        ref, ref_log = ot.max_sliced_wasserstein_distance(X, Y, a, None, 25, p, theta,
                                                          log=True)
        assert abs(ours - ref) < 1e-10
        np.testing.assert_allclose(log["projected_emds"], ref_log["projected_emds"],
                                   atol=1e-12)
    S, T = _sphere(20, 3, 0), _sphere(25, 3, 1)
    U = random_frames(3, 10, seed=0).numpy()
    _, log = linear_sliced_wasserstein_sphere(S, T, None, None, 10, U, None, True)
    # POT reshapes with n_projections even when projections are given: pass both
    _, ref_log = ot.linear_sliced_wasserstein_sphere(S, T, n_projections=10, projections=U,
                                                     log=True)
    assert set(ref_log) <= set(log)
    np.testing.assert_allclose(log["projections"], ref_log["projections"])
    assert log["projected_emds"].shape == ref_log["projected_emds"].shape


def test_pot_positional_order_seed_kinds_and_scaler():
    X, Y = _clouds(13)
    u = np.full(20, 1 / 20)
    v = np.full(15, 1 / 15)
    # POT's order: a, b, n_projections, p, projections, seed, log, scaler
    val, log = sliced_wasserstein_distance(X, Y, u, v, 10, 1, None, 0, True, None)
    assert log["projections"].shape == (3, 10) and len(log["projected_emds"]) == 10
    assert log["n_projections"] == 10
    val, log = max_sliced_wasserstein_distance(X, Y, u, v, 10, 1, None,
                                               np.random.RandomState(0), True)
    assert val > 0 and log["projections"].shape == (3, 10)
    assert float(sliced_wasserstein_distance(X, X, u, u, 10, seed=np.random.RandomState(0))) \
        == 0.0
    scaled = sliced_wasserstein_distance(X, Y, projections=log["projections"],
                                         scaler=lambda x: x / 10)
    plain = sliced_wasserstein_distance(X / 10, Y / 10, projections=log["projections"])
    assert abs(scaled - plain) < 1e-12
    scaler = ot.utils.DataScaler(norm="standard").fit([X, Y])
    ours = sliced_wasserstein_distance(X, Y, projections=log["projections"], scaler=scaler)
    ref = ot.sliced_wasserstein_distance(X, Y, projections=log["projections"], scaler=scaler)
    assert abs(ours - ref) < 1e-10
    ours = max_sliced_wasserstein_distance(X, Y, projections=log["projections"],
                                           scaler=scaler, n_iter=0)
    ref = ot.max_sliced_wasserstein_distance(X, Y, projections=log["projections"],
                                             scaler=scaler)
    assert abs(ours - ref) < 1e-10
    with pytest.raises(ValueError, match="scaler must be None, an object with a .transform"):
        sliced_wasserstein_distance(X, Y, scaler=42)


def test_torch_log_keeps_kind_device_and_graph():
    X = torch.randn(12, 3, dtype=torch.float32, requires_grad=True)
    Y = torch.randn(10, 3, dtype=torch.float32)
    value, log = sliced_wasserstein_distance(X, Y, seed=0, log=True)
    assert value.dtype == torch.float32 and log["projections"].dtype == torch.float32
    assert log["projected_emds"].shape == (50,) and log["projected_emds"].requires_grad
    log["projected_emds"].sum().backward()
    assert X.grad is not None


def test_max_sliced_log_and_direction():
    X, Y = _clouds(14)
    value, u, log = max_sliced_wasserstein_distance(X, Y, seed=0, log=True,
                                                    return_direction=True, n_iter=20)
    np.testing.assert_array_equal(u, log["direction"])
    assert value >= np.sqrt(log["projected_emds"].max()) - 1e-12


# ------------------------------------------------------------------ slicers
def test_fibonacci_lattice_closed_form_and_randomisation():
    theta = fibonacci_directions(3, 5, randomized=False).numpy()
    i = np.arange(5)
    z = 1 - (2 * i + 1) / 5
    phi = 2 * np.pi * i / ((1 + np.sqrt(5)) / 2)
    expected = np.stack([np.sqrt(1 - z**2) * np.cos(phi), np.sqrt(1 - z**2) * np.sin(phi), z])
    np.testing.assert_allclose(theta, expected, atol=1e-15)
    # randomised lattices: each column uniform on the sphere (mean 0, second moment I/3)
    cols = torch.cat([fibonacci_directions(3, 4, seed=s) for s in range(200)], 1).numpy()
    assert np.abs(cols.mean(1)).max() < 0.08  # about 4 standard deviations for 800 iid points
    assert np.abs(cols @ cols.T / cols.shape[1] - np.eye(3) / 3).max() < 0.05
    circle = fibonacci_directions(2, 4, seed=0).numpy()
    assert np.allclose(np.linalg.norm(circle, axis=0), 1.0)
    # equally spaced over half the circle (theta and -theta give the same slice)
    angles = np.sort(np.mod(np.arctan2(circle[1], circle[0]), np.pi))
    np.testing.assert_allclose(np.diff(angles), np.pi / 4, atol=1e-12)


def test_sample_directions_blocks():
    theta, block = sample_directions(4, 10, seed=0, directions="orthogonal")
    assert block.tolist() == [0] * 4 + [1] * 4 + [2] * 2
    np.testing.assert_allclose((theta[:, :4].T @ theta[:, :4]).numpy(), np.eye(4), atol=1e-12)
    assert torch.equal(theta, orthonormal_directions(4, 10, seed=0))
    theta, block = sample_directions(3, 25, seed=0, directions="qmc")
    assert block.tolist() == sum(([j] * 3 for j in range(8)), []) + [8]
    theta, block = sample_directions(5, 6, seed=0)
    assert block.tolist() == list(range(6))
    assert torch.equal(theta, random_directions(5, 6, seed=0))


# --------------------------------------------------------------- bad input
def test_bad_budgets_and_schemes():
    X, Y = _clouds(15)
    S = _sphere(10, 3, 0)
    cases = [
        (ValueError, "n_projections must be a positive integer or 'auto', got 'many'",
         lambda: sliced_wasserstein_distance(X, Y, n_projections="many")),
        (TypeError, "n_projections must be a positive integer or 'auto', got float",
         lambda: sliced_wasserstein_distance(X, Y, n_projections=2.5)),
        (ValueError, "needs tol", lambda: sliced_wasserstein_distance(X, Y, n_projections="auto")),
        (ValueError, "tol must be positive, got 0",
         lambda: sliced_wasserstein_distance(X, Y, n_projections="auto", tol=0)),
        (ValueError, "tol must be positive, got -1",
         lambda: energy_based_sliced_wasserstein_distance(X, Y, n_projections="auto", tol=-1)),
        (ValueError, "tol is only used with n_projections='auto', got n_projections=50",
         lambda: sliced_wasserstein_distance(X, Y, tol=0.1)),
        (ValueError, "max_projections must be >= 2",
         lambda: sliced_wasserstein_distance(X, Y, n_projections="auto", tol=0.1,
                                             max_projections=1)),
        (ValueError, "cannot be combined with given projections",
         lambda: sliced_wasserstein_distance(X, Y, n_projections="auto", tol=0.1,
                                             projections=np.eye(3))),
        (ValueError, "directions must be one of",
         lambda: sliced_wasserstein_distance(X, Y, directions="sobol")),
        (ValueError, "directions='qmc' needs directions in dimension 2 or 3",
         lambda: sliced_wasserstein_distance(np.ones((4, 5)), np.ones((3, 5)),
                                             directions="qmc")),
        (ValueError, "directions='orthogonal' draws slices",
         lambda: sliced_wasserstein_distance(X, Y, projections=np.eye(3),
                                             directions="orthogonal")),
        (ValueError, "not a Monte Carlo mean",
         lambda: max_sliced_wasserstein_distance(X, Y, n_projections="auto")),
        (ValueError, "slicer='mlp' shares one hidden layer",
         lambda: generalized_sliced_wasserstein_distance(X, Y, slicer="mlp",
                                                         n_projections="auto", tol=0.1)),
        (ValueError, "needs slicer given by name",
         lambda: generalized_sliced_wasserstein_distance(X, Y, slicer=MLPSlicer(3, 4),
                                                         n_projections="auto", tol=0.1)),
        (ValueError, "return_slices needs a fixed number of slices",
         lambda: sliced_partial_wasserstein(X, Y, 1.0, n_projections="auto", tol=0.1,
                                            return_slices=True)),
        (ValueError, "directions must be one of \\['random', 'orthogonal'\\] for great-circle",
         lambda: linear_sliced_wasserstein_sphere(S, S, directions="qmc")),
        (ValueError, "distance must be one of",
         lambda: sliced_estimate(X, Y, distance="max")),
        (ValueError, "a and b must be None",
         lambda: sliced_estimate(X, Y, np.full(20, 0.05), distance="sopt", penalty=1.0)),
        (ValueError, "needs penalty=", lambda: sliced_estimate(X, Y, distance="sopt")),
        (ValueError, "X_t is required", lambda: sliced_estimate(X)),
    ]
    for err, match, call in cases:
        with pytest.raises(err, match=match):
            call()


def test_one_block_gives_no_error_bar():
    X, Y = _clouds(16)
    _, log = sliced_wasserstein_distance(X, Y, n_projections=3, seed=0, log=True,
                                         directions="orthogonal")
    assert np.isnan(log["standard_error"]) and all(np.isnan(log["interval"]))
    _, log = generalized_sliced_wasserstein_distance(X, Y, slicer="mlp", n_projections=8,
                                                     seed=0, log=True)
    assert np.isnan(log["standard_error"])


def test_sopt_log_costs_are_the_slices_exact_costs():
    X, Y = _clouds(17)
    theta = random_directions(3, 6, seed=0).numpy()
    cost, per, log = sliced_partial_wasserstein(X, Y, 0.4, projections=theta,
                                                return_slices=True, log=True)
    for k in range(6):
        exact = partial_wasserstein_1d(X @ theta[:, k], Y @ theta[:, k], 0.4).cost
        assert abs(log["projected_emds"][k] - exact) < 1e-12
    np.testing.assert_allclose(per.cost, log["projected_emds"])


def test_orthogonal_great_circle_frames():
    from mintlab._random import make_generator
    from mintlab.transport.slicers import _orthogonal_frames

    U = _orthogonal_frames(5, 7, make_generator(0), torch.float64, None)  # blocks of 2 planes
    assert U.shape == (7, 5, 2)
    for k in range(7):
        np.testing.assert_allclose((U[k].T @ U[k]).numpy(), np.eye(2), atol=1e-12)
    np.testing.assert_allclose((U[0].T @ U[1]).numpy(), 0.0, atol=1e-12)
    np.testing.assert_allclose((U[2].T @ U[3]).numpy(), 0.0, atol=1e-12)
    S, T = _sphere(20, 5, 0), _sphere(20, 5, 1, shift=np.eye(5)[0])
    _, log = linear_sliced_wasserstein_sphere(S, T, n_projections=8, seed=0, log=True,
                                              directions="orthogonal")
    assert log["projections"].shape == (8, 5, 2) and np.isfinite(log["standard_error"])
