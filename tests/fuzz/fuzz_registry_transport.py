"""Fuzz cases: transport (1D kernels, slicers, sliced distances, plans, Gromov, signals) and
the POT drop-in (``mintlab.pot``, ``mintlab.pot.partial``)."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from _fuzz_harness import Case, Inputs, arr, rand, randn, simplex


# ------------------------------------------------------------------ builders
def sphere(kind, n, d, seed=0):
    x = np.random.default_rng(seed).standard_normal((n, max(d, 3)))
    return arr(kind, x / np.linalg.norm(x, axis=1, keepdims=True))


def cost(kind, n, m, seed=0):
    g = np.random.default_rng(seed)
    return arr(kind, (g.standard_normal((n, 1)) - g.standard_normal((1, m))) ** 2)


def dist(kind, n, seed=0):
    x = np.random.default_rng(seed).standard_normal((n, 2))
    return arr(kind, np.linalg.norm(x[:, None] - x[None], axis=-1))


def sets(kind, k, n, d, seed=0):
    g = np.random.default_rng(seed)
    return [arr(kind, g.standard_normal((n + i % 2, d))) for i in range(k)]


def torch_points(n, d, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).standard_normal((n, d)))


def _slicer_call(cls, inp):
    """Build the slicer from the keyword arguments, then run its forward pass on ``X``."""
    kw = dict(inp)
    X = kw.pop("X")
    return cls(**kw)(X)


def _frames(kind, n, seed):
    from mintlab.transport import random_frames

    return arr(kind, np.ascontiguousarray(random_frames(3, n, seed=seed).numpy()))


def _without_infinite_bound(fn, inp):
    """The path's last ``penalty_upper`` is +inf by definition; check the rest."""
    res = fn(*inp.args, **inp)
    return dataclasses.replace(res, penalty_upper=res.penalty_upper[:-1])


def _amortized_net(d):
    from mintlab.transport import AmortizedGSGWSlicer

    return AmortizedGSGWSlicer(d, hidden=4, embed=2, seed=0)


PTS = {"X_s": "points", "X_t": "points"}
AB = {"a": "weights", "b": "weights"}
UV = {"u_values": "values", "v_values": "values", "u_weights": "weights", "v_weights": "weights"}
SEED_PROJ = {"n_projections": "pos_int", "seed": "seed", "p": "pos_float"}
DIRECTIONS = {"d": "pos_int", "n_projections": "pos_int", "seed": "seed"}
ONE_D = {"u_values": "values", "v_values": "values"}


def _uv(kind, s, weights=True, circle=False):
    f = rand if circle else randn
    inp = Inputs(u_values=f(kind, s.n, seed=s.seed), v_values=f(kind, s.m, seed=s.seed + 1))
    if weights:
        inp.update(u_weights=simplex(kind, s.n, seed=s.seed + 2),
                   v_weights=simplex(kind, s.m, seed=s.seed + 3))
    return inp


def _xs_xt(kind, s, weights=False, on_sphere=False):
    f = sphere if on_sphere else (lambda k, n, d, seed: randn(k, n, d, seed=seed))
    inp = Inputs(X_s=f(kind, s.n, s.d, seed=s.seed), X_t=f(kind, s.m, s.d, seed=s.seed + 1))
    if weights:
        inp.update(a=simplex(kind, s.n, seed=s.seed + 2), b=simplex(kind, s.m, seed=s.seed + 3))
    return inp


def _lp(kind, s, **extra):
    return Inputs(a=simplex(kind, s.n, seed=s.seed), b=simplex(kind, s.m, seed=s.seed + 1),
                  M=cost(kind, s.n, s.m, seed=s.seed + 2), **extra)


def _signals(kind, s, **extra):
    return Inputs(f=randn(kind, s.n, seed=s.seed), g=randn(kind, s.m, seed=s.seed + 1), **extra)


def _gw(kind, s, weights=True):
    inp = Inputs(C1=dist(kind, s.n, seed=s.seed), C2=dist(kind, s.m, seed=s.seed + 1))
    if weights:
        inp.update(p=simplex(kind, s.n, seed=s.seed + 2), q=simplex(kind, s.m, seed=s.seed + 3))
    return inp


CASES = [
    # ------------------------------------------------------------ 1D kernels
    Case(target="mintlab.transport.wasserstein_1d",
         build=lambda kind, s: Inputs(**_uv(kind, s), p=2.0),
         roles={**UV, "p": "pos_float"}),
    Case(target="mintlab.transport.quantile_function",
         build=lambda kind, s: Inputs(
             qs=rand(kind, s.k, seed=s.seed),
             cws=arr(kind, np.arange(1, s.n + 1) / s.n),
             xs=arr(kind, np.sort(np.random.default_rng(s.seed).standard_normal(s.n)))),
         roles={"qs": "values", "cws": "values", "xs": "values"}),
    Case(target="mintlab.transport.wasserstein_1d_plan",
         build=lambda kind, s: Inputs(**_uv(kind, s), p=2.0),
         roles={**UV, "p": "pos_float"}),
    Case(target="mintlab.transport.partial_wasserstein_1d",
         build=lambda kind, s: Inputs(**_uv(kind, s, weights=False), penalty=0.5, p=2.0),
         roles={**ONE_D, "penalty": "nonneg_float", "p": "pos_float"}),
    Case(target="mintlab.transport.partial_wasserstein_1d_path", call=_without_infinite_bound,
         build=lambda kind, s: Inputs(**_uv(kind, s, weights=False), p=2.0),
         roles={**ONE_D, "p": "pos_float"}),
    Case(target="mintlab.transport.circle_wasserstein",
         build=lambda kind, s: Inputs(**_uv(kind, s, circle=True), p=2.0),
         roles={**UV, "p": "pos_float"}),
    Case(target="mintlab.transport.linear_circular_embedding",
         build=lambda kind, s: Inputs(x=rand(kind, s.k, seed=s.seed),
                                      u_values=rand(kind, s.n, seed=s.seed + 1),
                                      u_weights=simplex(kind, s.n, seed=s.seed + 2)),
         roles={"x": "values", "u_values": "values", "u_weights": "weights"}),
    Case(target="mintlab.transport.linear_circular_ot",
         build=lambda kind, s: Inputs(**_uv(kind, s, circle=True)),
         roles=UV),
    Case(target="mintlab.transport.linear_circular_ot",
         id="mintlab.transport.linear_circular_ot[refs]",
         build=lambda kind, s: Inputs(u_values=rand(kind, s.n, seed=s.seed), n_references=s.k * 4),
         roles={"u_values": "values", "n_references": "pos_int"}),
    # ------------------------------------------------------------ exact LPs
    Case(target="mintlab.transport.emd",
         build=lambda kind, s: _lp(kind, s),
         roles={"a": "weights", "b": "weights", "M": "matrix"}),
    Case(target="mintlab.transport.emd2",
         build=lambda kind, s: _lp(kind, s),
         roles={"a": "weights", "b": "weights", "M": "matrix"}),
    Case(target="mintlab.transport.partial_wasserstein_lp",
         build=lambda kind, s: _lp(kind, s, penalty=0.5),
         roles={"a": "weights", "b": "weights", "M": "matrix", "penalty": "nonneg_float"}),
    # ------------------------------------------------------------ directions
    Case(target="mintlab.transport.random_directions", kinds=("none",),
         build=lambda kind, s: Inputs(d=s.d, n_projections=s.k, seed=s.seed), roles=DIRECTIONS),
    Case(target="mintlab.transport.orthonormal_directions", kinds=("none",),
         build=lambda kind, s: Inputs(d=s.d, n_projections=s.k, seed=s.seed), roles=DIRECTIONS),
    Case(target="mintlab.transport.fibonacci_directions", kinds=("none",),
         build=lambda kind, s: Inputs(d=3, n_projections=s.k, seed=s.seed),
         roles={"n_projections": "pos_int", "seed": "seed"}),
    Case(target="mintlab.transport.random_rotations", kinds=("none",),
         build=lambda kind, s: Inputs(d=s.d, n=s.k, seed=s.seed),
         roles={"d": "pos_int", "n": "pos_int", "seed": "seed"}),
    Case(target="mintlab.transport.random_frames", kinds=("none",),
         build=lambda kind, s: Inputs(d=s.d + 2, n_projections=s.k, k=2, seed=s.seed),
         roles={**DIRECTIONS, "k": "pos_int"}),
    # ------------------------------------------------------------ slicers
    Case(target="mintlab.transport.LinearSlicer", kinds=("none",),
         build=lambda kind, s: Inputs(d=s.d, n_projections=s.k, seed=s.seed),
         roles=DIRECTIONS),
    Case(target="mintlab.transport.LinearSlicer", id="mintlab.transport.LinearSlicer.forward",
         kinds=("torch",), call=_slicer_call,
         build=lambda kind, s: Inputs(d=s.d, n_projections=s.k, seed=s.seed,
                                      X=torch_points(s.n, s.d, s.seed)),
         roles={"X": "points_batch"}),
    Case(target="mintlab.transport.PolynomialSlicer", kinds=("none",),
         build=lambda kind, s: Inputs(d=s.d, degree=3, n_projections=s.k, seed=s.seed),
         roles={**DIRECTIONS, "degree": "pos_int"}),
    Case(target="mintlab.transport.PolynomialSlicer",
         id="mintlab.transport.PolynomialSlicer.forward",
         kinds=("torch",), call=_slicer_call,
         build=lambda kind, s: Inputs(d=s.d, n_projections=s.k, seed=s.seed,
                                      X=torch_points(s.n, s.d, s.seed)),
         roles={"X": "points_batch"}),
    Case(target="mintlab.transport.CircularSlicer", kinds=("none",),
         build=lambda kind, s: Inputs(d=s.d, n_projections=s.k, radius=2.0, seed=s.seed),
         roles={**DIRECTIONS, "radius": "pos_float"}),
    Case(target="mintlab.transport.CircularSlicer", id="mintlab.transport.CircularSlicer.forward",
         kinds=("torch",), call=_slicer_call,
         build=lambda kind, s: Inputs(d=s.d, n_projections=s.k, seed=s.seed,
                                      X=torch_points(s.n, s.d, s.seed)),
         roles={"X": "points_batch"}),
    Case(target="mintlab.transport.MLPSlicer", kinds=("none",),
         build=lambda kind, s: Inputs(d=s.d, n_projections=s.k, hidden=4, seed=s.seed),
         roles={**DIRECTIONS, "hidden": "pos_int"}),
    Case(target="mintlab.transport.MLPSlicer", id="mintlab.transport.MLPSlicer.forward",
         kinds=("torch",), call=_slicer_call,
         build=lambda kind, s: Inputs(d=s.d, n_projections=s.k, hidden=4, seed=s.seed,
                                      X=torch_points(s.n, s.d, s.seed)),
         roles={"X": "points_batch"}),
    Case(target="mintlab.transport.ResidualMLPSlicer", kinds=("none",),
         build=lambda kind, s: Inputs(d=s.d, n_projections=s.k, hidden=4, seed=s.seed),
         roles={**DIRECTIONS, "hidden": "pos_int"}),
    Case(target="mintlab.transport.ResidualMLPSlicer",
         id="mintlab.transport.ResidualMLPSlicer.forward",
         kinds=("torch",), call=_slicer_call,
         build=lambda kind, s: Inputs(d=s.d, n_projections=s.k, hidden=4, seed=s.seed,
                                      X=torch_points(s.n, s.d, s.seed)),
         roles={"X": "points_batch"}),
    Case(target="mintlab.transport.make_slicer", kinds=("none",),
         build=lambda kind, s: Inputs(slicer="polynomial", d=s.d, n_projections=s.k, seed=s.seed),
         roles={"slicer": "choice", **DIRECTIONS}),
    # ------------------------------------------------------------ sphere maps
    Case(target="mintlab.transport.stereographic_projection",
         build=lambda kind, s: Inputs(X=sphere(kind, s.n, s.d, seed=s.seed)),
         roles={"X": "points_batch"}),  # (..., d): leading axes are batch axes
    Case(target="mintlab.transport.spherical_equidistant_map",
         build=lambda kind, s: Inputs(X=sphere(kind, s.n, s.d, seed=s.seed)),
         roles={"X": "points_batch"}),
    Case(target="mintlab.transport.sphere_to_circle",
         build=lambda kind, s: Inputs(
             X=sphere(kind, s.n, 3, seed=s.seed),
             frames=_frames(kind, s.k, s.seed)),
         roles={"X": "points", "frames": "array"}),
    # ------------------------------------------------------------ sliced distances
    Case(target="mintlab.transport.sliced_wasserstein_distance",
         build=lambda kind, s: Inputs(**_xs_xt(kind, s, weights=True), n_projections=s.k * 4,
                                      p=2.0, seed=s.seed, directions="random"),
         roles={**PTS, **AB, **SEED_PROJ, "directions": "choice"}),
    Case(target="mintlab.transport.sliced_wasserstein_distance",
         id="mintlab.transport.sliced_wasserstein_distance[projections]",
         build=lambda kind, s: Inputs(**_xs_xt(kind, s), projections=randn(kind, s.d, s.k, seed=9)),
         roles={"projections": "matrix"}),
    Case(target="mintlab.transport.max_sliced_wasserstein_distance",
         build=lambda kind, s: Inputs(**_xs_xt(kind, s, weights=True), n_projections=s.k,
                                      p=2.0, seed=s.seed, n_iter=3, lr=0.05),
         roles={**PTS, **AB, **SEED_PROJ, "n_iter": "nonneg_int", "lr": "pos_float"}),
    Case(target="mintlab.transport.generalized_sliced_wasserstein_distance",
         build=lambda kind, s: Inputs(**_xs_xt(kind, s, weights=True), slicer="polynomial",
                                      n_projections=s.k, p=2.0, seed=s.seed),
         roles={**PTS, **AB, **SEED_PROJ, "slicer": "choice"}),
    Case(target="mintlab.transport.energy_based_sliced_wasserstein_distance",
         build=lambda kind, s: Inputs(**_xs_xt(kind, s, weights=True), n_projections=s.k,
                                      p=2.0, seed=s.seed),
         roles={**PTS, **AB, **SEED_PROJ}),
    Case(target="mintlab.transport.sliced_partial_wasserstein",
         build=lambda kind, s: Inputs(**_xs_xt(kind, s), penalty=0.5, n_projections=s.k,
                                      p=2.0, seed=s.seed),
         roles={**PTS, "penalty": "nonneg_float", **SEED_PROJ}),
    Case(target="mintlab.transport.s3w_distance",
         build=lambda kind, s: Inputs(**_xs_xt(kind, s, weights=True, on_sphere=True),
                                      variant="ri", n_projections=s.k, n_rotations=2,
                                      p=2.0, seed=s.seed),
         roles={**PTS, **AB, **SEED_PROJ, "variant": "choice", "n_rotations": "pos_int"}),
    Case(target="mintlab.transport.linear_sliced_wasserstein_sphere",
         build=lambda kind, s: Inputs(**_xs_xt(kind, s, weights=True, on_sphere=True),
                                      n_projections=s.k, seed=s.seed),
         roles={**PTS, **AB, "n_projections": "pos_int", "seed": "seed"}),
    Case(target="mintlab.transport.sliced_estimate",
         build=lambda kind, s: Inputs(**_xs_xt(kind, s, weights=True), distance="sw",
                                      n_projections=s.k * 2, seed=s.seed),
         roles={**PTS, **AB, "distance": "choice", "n_projections": "pos_int", "seed": "seed"}),
    # ------------------------------------------------------------ couplings
    Case(target="mintlab.transport.couple",
         build=lambda kind, s: Inputs(x0=randn(kind, s.n, s.d, seed=s.seed),
                                      x1=randn(kind, s.m, s.d, seed=s.seed + 1), method="exact",
                                      a=simplex(kind, s.n, seed=2), b=simplex(kind, s.m, seed=3),
                                      p=2.0),
         roles={"x0": "points_batch", "x1": "points_batch", "method": "choice", **AB,
                "p": "pos_float"}),
    Case(target="mintlab.transport.couple", id="mintlab.transport.couple[sinkhorn]",
         build=lambda kind, s: Inputs(x0=randn(kind, s.n, s.d, seed=s.seed),
                                      x1=randn(kind, s.m, s.d, seed=s.seed + 1),
                                      method="sinkhorn", reg=0.5, max_iter=50),
         roles={"reg": "pos_float", "max_iter": "pos_int"}),
    Case(target="mintlab.transport.couple", id="mintlab.transport.couple[partial]",
         build=lambda kind, s: Inputs(x0=randn(kind, s.n, s.d, seed=s.seed),
                                      x1=randn(kind, s.m, s.d, seed=s.seed + 1),
                                      method="partial", mass=0.5),
         roles={"mass": "ratio"}, skip_breakers={("mass", "one"): "mass 1 is full transport"}),
    Case(target="mintlab.transport.couple", id="mintlab.transport.couple[sliced]",
         build=lambda kind, s: Inputs(x0=randn(kind, s.n, s.d, seed=s.seed),
                                      x1=randn(kind, s.m, s.d, seed=s.seed + 1),
                                      method="sliced", n_projections=s.k, seed=s.seed),
         roles={"n_projections": "pos_int", "seed": "seed"}),
    # ------------------------------------------------------------ matrices over sets
    Case(target="mintlab.transport.sliced_wasserstein_matrix",
         build=lambda kind, s: Inputs(sets_a=sets(kind, s.k, s.n, s.d, seed=s.seed),
                                      sets_b=sets(kind, 2, s.m, s.d, seed=s.seed + 1),
                                      n_projections=s.k, p=2.0, seed=s.seed),
         roles={"sets_a": "sets", "sets_b": "sets", **SEED_PROJ}),
    Case(target="mintlab.transport.s3w_matrix",
         build=lambda kind, s: Inputs(sets_a=[sphere(kind, s.n, 3, seed=s.seed + i)
                                              for i in range(2)],
                                      n_projections=s.k, p=2.0, seed=s.seed),
         roles={"sets_a": "sets", **SEED_PROJ}),
    Case(target="mintlab.transport.circle_wasserstein_matrix",
         build=lambda kind, s: Inputs(sets_a=[rand(kind, s.n + i, seed=s.seed + i)
                                              for i in range(s.k)],
                                      p=1.0),
         roles={"sets_a": "sets", "p": "pos_float"},
         skip_breakers={("sets_a", "dim_mismatch"): "1D samples have no dimension to mismatch"}),
    Case(target="mintlab.transport.sliced_partial_wasserstein_matrix",
         build=lambda kind, s: Inputs(sets_a=sets(kind, s.k, s.n, s.d, seed=s.seed), penalty=0.5,
                                      n_projections=s.k, p=2.0, seed=s.seed),
         roles={"sets_a": "sets", "penalty": "nonneg_float", **SEED_PROJ}),
    Case(target="mintlab.transport.linear_sliced_wasserstein_sphere_matrix",
         build=lambda kind, s: Inputs(sets_a=[sphere(kind, s.n, 3, seed=s.seed + i)
                                              for i in range(2)],
                                      n_projections=s.k, seed=s.seed),
         roles={"sets_a": "sets", "n_projections": "pos_int", "seed": "seed"}),
    # ------------------------------------------------------------ Gromov
    Case(target="mintlab.transport.partial_gromov_wasserstein",
         build=lambda kind, s: Inputs(**_gw(kind, s), penalty=1.0, solver="fw1", max_iter=5),
         roles={"C1": "matrix", "C2": "matrix", "p": "weights", "q": "weights",
                "penalty": "nonneg_float", "solver": "choice", "max_iter": "pos_int"}),
    Case(target="mintlab.transport.fused_partial_gromov_wasserstein",
         build=lambda kind, s: Inputs(M=cost(kind, s.n, s.m, seed=s.seed + 5), **_gw(kind, s),
                                      alpha=0.5, penalty=1.0, max_iter=5),
         roles={"M": "matrix", "C1": "matrix", "C2": "matrix", "p": "weights", "q": "weights",
                "alpha": "prob", "penalty": "nonneg_float", "max_iter": "pos_int"}),
    Case(target="mintlab.transport.partial_gromov_barycenter",
         build=lambda kind, s: Inputs(Cs=[dist(kind, s.n, seed=s.seed),
                                          dist(kind, s.m, seed=s.seed + 1)],
                                      n_points=3, penalty=1.0, max_iter=2, seed=s.seed),
         roles={"Cs": "sets", "n_points": "pos_int", "penalty": "nonneg_float",
                "max_iter": "pos_int", "seed": "seed"}),
    Case(target="mintlab.transport.gromov_cost_matrix",
         build=lambda kind, s: Inputs(X=randn(kind, s.n, s.d, seed=s.seed), metric="euclidean"),
         roles={"X": "points", "metric": "choice"}),
    Case(target="mintlab.transport.min_generalized_sliced_gromov_wasserstein",
         build=lambda kind, s: Inputs(X=randn(kind, s.n, s.d, seed=s.seed),
                                      Y=randn(kind, s.m, s.d + 1, seed=s.seed + 1),
                                      n_init=2, n_iter=2, lr=0.01, temperature=0.1,
                                      batch_size=4, eval_every=1, seed=s.seed),
         roles={"X": "points", "Y": "points", "n_init": "pos_int", "n_iter": "nonneg_int",
                "lr": "pos_float", "temperature": "pos_float", "batch_size": "pos_int",
                "eval_every": "pos_int", "seed": "seed"}),
    Case(target="mintlab.transport.AmortizedGSGWSlicer", kinds=("none",),
         build=lambda kind, s: Inputs(d=s.d, hidden=4, embed=2, seed=s.seed),
         roles={"d": "pos_int", "hidden": "pos_int", "embed": "pos_int", "seed": "seed"}),
    Case(target="mintlab.transport.amortized_gsgw_plan",
         build=lambda kind, s: Inputs(net=_amortized_net(s.d), X=randn(kind, s.n, s.d, seed=s.seed),
                                      Y=randn(kind, s.m, s.d, seed=s.seed + 1)),
         roles={"net": "module", "X": "points", "Y": "points"}),
    Case(target="mintlab.transport.fit_amortized_gsgw", kinds=("torch",),
         build=lambda kind, s: Inputs(net=_amortized_net(s.d),
                                      pairs=[(randn(kind, s.n, s.d, seed=s.seed),
                                              randn(kind, s.m, s.d, seed=s.seed + 1))],
                                      n_steps=2, lr=0.01, temperature=0.1, batch_size=4,
                                      seed=s.seed),
         roles={"net": "module", "n_steps": "nonneg_int", "lr": "pos_float",
                "temperature": "pos_float", "batch_size": "pos_int", "seed": "seed"}),
    # ------------------------------------------------------------ signals
    Case(target="mintlab.transport.ptlp_distance",
         build=lambda kind, s: _signals(
             kind, s, penalty=0.5, p=2.0, spatial_scale=1.0),
         roles={"f": "array", "g": "array", "penalty": "nonneg_float", "p": "pos_float",
                "spatial_scale": "pos_float"}),
    Case(target="mintlab.transport.tlp_distance",
         build=lambda kind, s: _signals(
             kind, s, x=rand(kind, s.n, seed=s.seed + 2), p=2.0, spatial_scale=1.0),
         roles={"f": "array", "g": "array", "x": "array", "p": "pos_float",
                "spatial_scale": "pos_float"}),
    Case(target="mintlab.transport.sliced_ptlp_distance",
         build=lambda kind, s: _signals(
             kind, s, penalty=0.5, n_projections=s.k, seed=s.seed),
         roles={"f": "array", "g": "array", "penalty": "nonneg_float", "n_projections": "pos_int",
                "seed": "seed"}),
    Case(target="mintlab.transport.radon_cdt",
         build=lambda kind, s: Inputs(images=rand(kind, 2, s.n, s.m, seed=s.seed),
                                      angles=arr(kind, [0.0, 45.0, 90.0]), n_levels=s.k),
         roles={"images": "images", "angles": "values", "n_levels": "pos_int"}),
    # ------------------------------------------------------------ plans
    Case(target="mintlab.transport.expected_sliced_plan",
         build=lambda kind, s: Inputs(**_xs_xt(kind, s, weights=True), n_projections=s.k,
                                      p=2.0, beta=1.0, seed=s.seed),
         roles={**PTS, **AB, **SEED_PROJ, "beta": "nonneg_float"}),
    Case(target="mintlab.transport.expected_sliced_plan",
         id="mintlab.transport.expected_sliced_plan[soft]",
         build=lambda kind, s: Inputs(**_xs_xt(kind, s), n_projections=s.k, seed=s.seed,
                                      temperature=0.5, metric="sqeuclidean"),
         roles={"temperature": "pos_float", "metric": "choice"}),
    Case(target="mintlab.transport.min_sliced_plan",
         build=lambda kind, s: Inputs(**_xs_xt(kind, s, weights=True), p=2.0, n_projections=s.k,
                                      n_iter=2, lr=0.05, temperature=0.1, batch_size=4,
                                      eval_every=1, seed=s.seed),
         roles={**PTS, **AB, **SEED_PROJ, "n_iter": "nonneg_int", "lr": "pos_float",
                "temperature": "pos_float", "batch_size": "pos_int", "eval_every": "pos_int"}),
    Case(target="mintlab.transport.soft_sort_matrix", kinds=("torch",),
         build=lambda kind, s: Inputs(values=randn(kind, 2, s.n, seed=s.seed), temperature=0.5),
         roles={"values": "values", "temperature": "pos_float"}),
    # ------------------------------------------------------------ mintlab.pot
    Case(target="mintlab.pot.emd",
         build=lambda kind, s: _lp(kind, s),
         roles={"a": "weights", "b": "weights", "M": "matrix"}),
    Case(target="mintlab.pot.emd2",
         build=lambda kind, s: _lp(kind, s),
         roles={"a": "weights", "b": "weights", "M": "matrix"}),
    Case(target="mintlab.pot.wasserstein_1d",
         build=lambda kind, s: Inputs(**_uv(kind, s), p=2.0),
         roles={**UV, "p": "pos_float"}),
    Case(target="mintlab.pot.binary_search_circle",
         build=lambda kind, s: Inputs(**_uv(kind, s, circle=True), p=2.0),
         roles={**UV, "p": "pos_float"}),
    Case(target="mintlab.pot.wasserstein_circle",
         build=lambda kind, s: Inputs(**_uv(kind, s, circle=True), p=2.0),
         roles={**UV, "p": "pos_float"}),
    Case(target="mintlab.pot.semidiscrete_wasserstein2_unif_circle",
         build=lambda kind, s: Inputs(u_values=rand(kind, s.n, seed=s.seed),
                                      u_weights=simplex(kind, s.n, seed=s.seed + 1)),
         roles={"u_values": "values", "u_weights": "weights"}),
    Case(target="mintlab.pot.linear_circular_ot",
         build=lambda kind, s: Inputs(**_uv(kind, s, circle=True)),
         roles=UV),
    Case(target="mintlab.pot.sliced_wasserstein_distance",
         build=lambda kind, s: Inputs(**_xs_xt(kind, s, weights=True), n_projections=s.k * 4,
                                      p=2.0, seed=s.seed),
         roles={**PTS, **AB, **SEED_PROJ}),
    Case(target="mintlab.pot.max_sliced_wasserstein_distance",
         build=lambda kind, s: Inputs(**_xs_xt(kind, s, weights=True), n_projections=s.k,
                                      p=2.0, seed=s.seed),
         roles={**PTS, **AB, **SEED_PROJ}),
    Case(target="mintlab.pot.linear_sliced_wasserstein_sphere",
         build=lambda kind, s: Inputs(**_xs_xt(kind, s, weights=True, on_sphere=True),
                                      n_projections=s.k, seed=s.seed),
         roles={**PTS, **AB, "n_projections": "pos_int", "seed": "seed"}),
    Case(target="mintlab.pot.min_sliced_transport_plan",
         build=lambda kind, s: Inputs(**_xs_xt(kind, s, weights=True), n_projections=s.k,
                                      seed=s.seed),
         roles={**PTS, **AB, "n_projections": "pos_int", "seed": "seed"}),
    Case(target="mintlab.pot.expected_sliced_plan",
         build=lambda kind, s: Inputs(**_xs_xt(kind, s, weights=True), n_projections=s.k,
                                      beta=1.0, seed=s.seed),
         roles={**PTS, **AB, "n_projections": "pos_int", "seed": "seed",
                "beta": "nonneg_float"}),
    Case(target="mintlab.pot.partial.partial_wasserstein_1d",
         build=lambda kind, s: Inputs(x_a=randn(kind, s.n, seed=s.seed),
                                      x_b=randn(kind, s.m, seed=s.seed + 1),
                                      n_transported_samples=2, p=2),
         roles={"x_a": "values", "x_b": "values", "n_transported_samples": "nonneg_int",
                "p": "pos_float"},
         # POT returns numpy index and cost arrays for every input kind; so does the drop-in
         kinds=("numpy",)),
    Case(target="mintlab.pot.partial.partial_gromov_wasserstein",
         build=lambda kind, s: Inputs(**_gw(kind, s), m=0.5, numItermax=5),
         roles={"C1": "matrix", "C2": "matrix", "p": "weights", "q": "weights", "m": "nonneg_float",
                "numItermax": "pos_int"}),
    Case(target="mintlab.pot.partial.partial_gromov_wasserstein2",
         build=lambda kind, s: Inputs(**_gw(kind, s), m=0.5, numItermax=5),
         roles={"C1": "matrix", "C2": "matrix", "p": "weights", "q": "weights", "m": "nonneg_float",
                "numItermax": "pos_int"}),
]

_RESULT = "a frozen result dataclass that the library returns; it is built, not validated"
EXEMPT: dict[str, str] = {
    f"mintlab.transport.{n}": _RESULT
    for n in ("MonotonePlan", "PartialPath1D", "PartialTransport1D", "ExactPartialTransport",
              "SlicedEstimate", "Coupling", "PartialGWBarycenter", "PartialGWResult",
              "MinGSGWResult", "SlicedPlan", "MinSlicedPlan")
}
