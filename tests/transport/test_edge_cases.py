"""Numerical edge cases of the transport core.

* identical measures cost exactly 0 (1D, sliced, circular, spherical, partial, max-sliced);
* coordinates at 1e8 and 1e-8 give finite results that scale as the distance does
  (``SW(c X, c Y) = c SW(X, Y)``; ``W_p^p`` scales as ``c^p``);
* single-point measures work;
* float32 in gives float32 out.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

import mintlab.transport as T

RNG = np.random.default_rng(0)
X = RNG.standard_normal((30, 3))
Y = RNG.standard_normal((25, 3)) + 0.5
A = RNG.random(30) + 0.1
A /= A.sum()
U = RNG.standard_normal(20)
C = RNG.random(20)
S = X / np.linalg.norm(X, axis=1, keepdims=True)
S2 = Y / np.linalg.norm(Y, axis=1, keepdims=True)


def _value(result):
    for name in ("cost", "transport_cost"):
        if hasattr(result, name):
            result = getattr(result, name)
            break
    return result.detach() if isinstance(result, torch.Tensor) else result


# ------------------------------------------------------------------ identical inputs
IDENTICAL = {
    "wasserstein_1d": lambda x, w, p: T.wasserstein_1d(x[:, 0], x[:, 0], w, w, p=p),
    "circle_wasserstein": lambda x, w, p: T.circle_wasserstein(
        torch.remainder(x[:, 0], 1.0) if isinstance(x, torch.Tensor) else np.remainder(x[:, 0], 1),
        torch.remainder(x[:, 0], 1.0) if isinstance(x, torch.Tensor) else np.remainder(x[:, 0], 1),
        w, w, p=p),
    "linear_circular_ot": lambda x, w, p: T.linear_circular_ot(
        x[:, 0] % 1.0, x[:, 0] % 1.0, w, w),
    "sliced_wasserstein_distance": lambda x, w, p: T.sliced_wasserstein_distance(
        x, x, w, w, p=p, seed=0),
    "max_sliced_wasserstein_distance": lambda x, w, p: T.max_sliced_wasserstein_distance(
        x, x, w, w, p=p, seed=0, n_iter=10),
    "energy_based_sliced_wasserstein_distance":
        lambda x, w, p: T.energy_based_sliced_wasserstein_distance(x, x, w, w, p=p, seed=0),
    "generalized_sliced_wasserstein_distance":
        lambda x, w, p: T.generalized_sliced_wasserstein_distance(x, x, w, w, p=p, seed=0),
    "s3w_distance": lambda x, w, p: T.s3w_distance(_unit(x), _unit(x), w, w, p=p, seed=0),
    "ri_s3w_distance": lambda x, w, p: T.s3w_distance(_unit(x), _unit(x), w, w, p=p,
                                                      variant="ri", n_rotations=3, seed=0),
    "linear_sliced_wasserstein_sphere":
        lambda x, w, p: T.linear_sliced_wasserstein_sphere(_unit(x), _unit(x), w, w, seed=0),
    "partial_wasserstein_1d": lambda x, w, p: T.partial_wasserstein_1d(x[:, 0], x[:, 0], 1.0,
                                                                       p=p),
    "sliced_partial_wasserstein": lambda x, w, p: T.sliced_partial_wasserstein(x, x, 1.0, p=p,
                                                                               seed=0),
}


def _unit(x):
    if isinstance(x, torch.Tensor):
        return x / x.norm(dim=1, keepdim=True)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("name", sorted(IDENTICAL))
@pytest.mark.parametrize("p", [1.0, 1.5, 2.0])
@pytest.mark.parametrize("scale", [1e-8, 1.0, 1e8])
@pytest.mark.parametrize("kind", ["numpy", "float32"])
def test_identical_measures_cost_exactly_zero(name, p, scale, kind):
    x = X * scale if "circ" not in name else X
    w = A
    if kind == "float32":
        x, w = torch.tensor(x, dtype=torch.float32), torch.tensor(w, dtype=torch.float32)
    if name in ("partial_wasserstein_1d", "sliced_partial_wasserstein"):
        w = None  # unit masses: partial transport of the samples
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = _value(IDENTICAL[name](x, w, p))
    assert float(out) == 0.0, f"{name}(X, X) = {float(out)!r}"


# ------------------------------------------------------------------ scale
@pytest.mark.parametrize("c", [1e-8, 1e8])
@pytest.mark.parametrize("p", [1.0, 2.0])
def test_sliced_wasserstein_scales_linearly(c, p):
    base = float(T.sliced_wasserstein_distance(X, Y, p=p, seed=0))
    scaled = float(T.sliced_wasserstein_distance(c * X, c * Y, p=p, seed=0))
    assert math.isfinite(scaled)
    assert scaled == pytest.approx(c * base, rel=1e-9)


@pytest.mark.parametrize("c", [1e-8, 1e8])
@pytest.mark.parametrize("kind", ["numpy", "float32"])
def test_max_sliced_wasserstein_scales_linearly(c, kind):
    """The ascent runs on rescaled clouds: tiny coordinates no longer stall it."""
    xs, xt = X, Y
    if kind == "float32":
        xs, xt = torch.tensor(X, dtype=torch.float32), torch.tensor(Y, dtype=torch.float32)
    base = float(T.max_sliced_wasserstein_distance(xs, xt, seed=0))
    scaled = float(T.max_sliced_wasserstein_distance(c * xs, c * xt, seed=0))
    assert math.isfinite(scaled)
    assert scaled == pytest.approx(c * base, rel=1e-4 if kind == "numpy" else 1e-3)


@pytest.mark.parametrize("c", [1e-8, 1e8])
def test_one_dimensional_costs_scale_as_c_to_the_p(c):
    for p in (1.0, 2.0, 3.0):
        base = float(T.wasserstein_1d(U, U + 1.0, p=p))
        assert float(T.wasserstein_1d(c * U, c * (U + 1.0), p=p)) == \
            pytest.approx(c**p * base, rel=1e-9)
    base = float(T.partial_wasserstein_1d(U, U[::2] + 0.3, 0.5).cost)
    scaled = float(T.partial_wasserstein_1d(c * U, c * (U[::2] + 0.3), 0.5 * c**2).cost)
    assert scaled == pytest.approx(c**2 * base, rel=1e-9)


@pytest.mark.parametrize("c", [1e-8, 1e8])
def test_sliced_partial_and_plans_scale(c):
    base = float(T.sliced_partial_wasserstein(X, Y, 0.5, seed=0))
    scaled = float(T.sliced_partial_wasserstein(c * X, c * Y, 0.5 * c**2, seed=0))
    assert scaled == pytest.approx(c**2 * base, rel=1e-9)
    plan = T.expected_sliced_plan(X, Y, seed=0)
    plan_c = T.expected_sliced_plan(c * X, c * Y, seed=0)
    assert np.allclose(plan_c.plan, plan.plan, atol=1e-12)
    assert float(plan_c.cost) == pytest.approx(c**2 * float(plan.cost), rel=1e-9)


def test_energy_based_weights_are_finite_at_extreme_scales():
    """EBSW weights slices by exp(W_p^p): not homogeneous by definition, but finite."""
    for c in (1e-8, 1e8):
        assert math.isfinite(float(T.energy_based_sliced_wasserstein_distance(c * X, c * Y,
                                                                              seed=0)))


# ------------------------------------------------------------------ single points
def test_single_point_measures():
    x, y = np.zeros((1, 3)), np.array([[1.0, 2.0, 2.0]])  # |x - y| = 3
    assert float(T.wasserstein_1d(np.zeros(1), np.full(1, 2.0), p=2)) == 4.0
    assert float(T.circle_wasserstein(np.zeros(1), np.full(1, 0.25))) == pytest.approx(0.25)
    assert float(T.partial_wasserstein_1d(np.zeros(1), np.ones(1), 1.0).cost) == 1.0
    assert float(T.max_sliced_wasserstein_distance(x, y, seed=0)) == pytest.approx(3.0, rel=1e-6)
    sw = float(T.sliced_wasserstein_distance(x, y, seed=0, n_projections=2000))
    assert sw == pytest.approx(3.0 / math.sqrt(3.0), rel=0.05)  # E<u, v>^2 = |v|^2 / d
    assert float(T.emd2(np.ones(1), np.ones(1), np.full((1, 1), 2.0))) == 2.0
    assert float(T.expected_sliced_plan(x, y, seed=0).cost) == pytest.approx(9.0)
    for f in (T.energy_based_sliced_wasserstein_distance,
              T.generalized_sliced_wasserstein_distance):
        assert math.isfinite(float(f(x, y, seed=0)))
    assert math.isfinite(float(T.sliced_partial_wasserstein(x, y, 1.0, seed=0)))
    assert math.isfinite(float(T.s3w_distance(S[:1], S2[:1], seed=0)))
    assert math.isfinite(float(T.linear_sliced_wasserstein_sphere(S[:1], S2[:1], seed=0)))


def test_single_point_against_many():
    x = np.zeros((1, 2))
    y = np.array([[1.0, 0.0], [-1.0, 0.0]])
    assert float(T.max_sliced_wasserstein_distance(x, y, seed=0)) == pytest.approx(1.0, rel=1e-6)
    assert float(T.wasserstein_1d(np.zeros(1), np.array([-1.0, 1.0]), p=2)) == 1.0


# ------------------------------------------------------------------ float32
FLOAT32 = {
    "wasserstein_1d": lambda x, y, s, s2: T.wasserstein_1d(x[:, 0], y[:, 0]),
    "circle_wasserstein": lambda x, y, s, s2: T.circle_wasserstein(x[:, 0] % 1, y[:, 0] % 1, p=2),
    "linear_circular_ot": lambda x, y, s, s2: T.linear_circular_ot(x[:, 0] % 1, y[:, 0] % 1),
    "sliced_wasserstein_distance": lambda x, y, s, s2: T.sliced_wasserstein_distance(x, y,
                                                                                     seed=0),
    "max_sliced_wasserstein_distance":
        lambda x, y, s, s2: T.max_sliced_wasserstein_distance(x, y, seed=0, n_iter=5),
    "energy_based_sliced_wasserstein_distance":
        lambda x, y, s, s2: T.energy_based_sliced_wasserstein_distance(x, y, seed=0),
    "generalized_sliced_wasserstein_distance":
        lambda x, y, s, s2: T.generalized_sliced_wasserstein_distance(x, y, seed=0),
    "s3w_distance": lambda x, y, s, s2: T.s3w_distance(s, s2, seed=0),
    "linear_sliced_wasserstein_sphere":
        lambda x, y, s, s2: T.linear_sliced_wasserstein_sphere(s, s2, seed=0),
    "partial_wasserstein_1d": lambda x, y, s, s2: T.partial_wasserstein_1d(x[:, 0], y[:, 0],
                                                                           1.0).cost,
    "sliced_partial_wasserstein": lambda x, y, s, s2: T.sliced_partial_wasserstein(x, y, 1.0,
                                                                                   seed=0),
    "expected_sliced_plan": lambda x, y, s, s2: T.expected_sliced_plan(x, y, seed=0).plan,
    "emd2": lambda x, y, s, s2: T.emd2(torch.full((30,), 1 / 30, dtype=torch.float32),
                                       torch.full((25,), 1 / 25, dtype=torch.float32),
                                       torch.cdist(x, y) ** 2),
}


@pytest.mark.parametrize("name", sorted(FLOAT32))
def test_float32_in_float32_out(name):
    f32 = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    out = FLOAT32[name](f32(X), f32(Y), f32(S), f32(S2))
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32, (name, out)
    assert bool(torch.isfinite(out).all())


# ------------------------------------------------------------------ signals
@pytest.mark.parametrize("c", [1e-300, 1e-8, 1e8, 1e300])
def test_radon_cdt_is_finite_and_unchanged_by_the_intensity_scale(c):
    img = np.random.default_rng(0).random((2, 7, 6))
    base = T.radon_cdt(img, n_levels=5)
    scaled = T.radon_cdt(c * img, n_levels=5)
    assert np.isfinite(scaled).all()
    assert np.allclose(scaled, base, rtol=1e-9, atol=1e-9)
