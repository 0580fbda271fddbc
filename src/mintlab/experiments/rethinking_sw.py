"""``rethinking-sw``: plain sliced Wasserstein with a searched learning rate vs its variants.

Gradient flows of particles towards a target that lives near a 2-dimensional
subspace ``S`` of R^20, where most random slices are uninformative. Every
method gets the same learning-rate grid and the same number of steps; we keep
each method's best learning rate (by the final exact Wasserstein-2 distance,
``ot.emd2``) and compare the final particles. The variants: max-SW (a
warm-started direction, re-searched among fresh candidates and refined by a
few ascent steps at every step), energy-based SW, and generalized SW with
circular slices at several radii (each radius a configuration of the
search, so the baseline is the best of a small sweep).

Two claims of the abstract:

1. ``sw_matches_variants``: classical SW, properly configured, matches or
   surpasses the more complex variants. Compare, per particle (the squared
   distance each final particle travels in the exact optimal plan to the
   target, whose mean is W2^2; paired by particle, as every flow starts from
   the same particles): SW vs ``(1 + delta)`` times the best variant of the
   seed (``delta = 0.1``: within 10% of W2^2), lower is better.
2. ``rescaling_is_learning_rate``: rescaling every slice by its
   informativeness amounts to one global factor on SW (hence to the learning
   rate). Check, on pairs of measures that satisfy the paper's assumption
   (support in a random 2-dimensional subspace ``S`` of R^20): the ratio of
   the slice-rescaled SW^2 (each slice's W2^2 divided by ``||P_S theta||^2``)
   to SW^2 is the same factor ``d / k`` for every pair; the mean relative
   deviation per pair must stay below 5%.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import ot
import torch

from mintlab.transport import (
    energy_based_sliced_wasserstein_distance,
    generalized_sliced_wasserstein_distance,
    max_sliced_wasserstein_distance,
    random_directions,
    sliced_wasserstein_distance,
    wasserstein_1d,
)

from ._core import Experiment, Result, Settings
from .registry import register

CLAIMS = {
    "sw_matches_variants": "The classical SWD, when properly configured, can often match or "
                           "surpass the performance of more complex variants.",
    "rescaling_is_learning_rate": "Rescaling for all individual slices simplifies to a single "
                                  "global scaling factor on the SWD, which translates to the "
                                  "standard learning rate search.",
}

D = 20  # ambient dimension
K_SUB = 2  # dimension of the subspace the target lies near
L = 32  # slices per step
DELTA = 0.1  # "match": within 10% of the final W2^2
FACTOR_TOL = 0.05  # "a single global factor": every pair's factor within 5% of d / k


@dataclass(frozen=True, kw_only=True)
class RethinkingSwSettings(Settings):
    n_particles: int  # particles and target samples
    steps: int  # gradient steps of every flow
    lrs: tuple[float, ...]  # the learning-rate grid every method searches
    gsw_radii: tuple[float, ...]  # radii of the circular GSW slicer (searched with the lr)
    max_sw_ascent: int  # ascent steps of max-SW's direction per flow step
    factor_pairs: int  # pairs of measures in the global-factor check
    factor_slices: int  # slices shared by those pairs


QUICK = RethinkingSwSettings(seeds=3, n_particles=150, steps=100,
                             lrs=tuple(float(v) for v in np.logspace(-1, 1.5, 6)),
                             gsw_radii=(5.0, 20.0), max_sw_ascent=10,
                             factor_pairs=10, factor_slices=5000)
FULL = RethinkingSwSettings(seeds=5, n_particles=400, steps=300,
                            lrs=tuple(float(v) for v in np.logspace(-3, 1.5, 19)),
                            gsw_radii=(1.0, 2.0, 5.0, 10.0, 20.0), max_sw_ascent=20,
                            factor_pairs=50, factor_slices=20000)
EXPECTED = "partly reproduced (1 of 2)"


def _target(rng, n):
    centres = np.array([[3.0, 3.0], [-3.0, 3.0], [3.0, -3.0], [-3.0, -3.0]])
    Y = 0.05 * rng.normal(size=(n, D))
    Y[:, :2] += centres[rng.integers(0, 4, n)] + 0.4 * rng.normal(size=(n, 2))
    return Y


def _losses(settings):
    def sw(X, Y, step, state):
        return sliced_wasserstein_distance(X, Y, n_projections=L, seed=step) ** 2

    def max_sw(X, Y, step, state):
        cand = random_directions(D, 8, seed=step)
        if "u" in state:
            cand = torch.cat([state["u"].unsqueeze(1), cand], 1)
        value, u = max_sliced_wasserstein_distance(X, Y, projections=cand,
                                                   n_iter=settings.max_sw_ascent,
                                                   return_direction=True)
        state["u"] = u.detach()
        return value ** 2

    def ebsw(X, Y, step, state):
        return energy_based_sliced_wasserstein_distance(X, Y, n_projections=L, seed=step) ** 2

    out = {"sw": sw, "max_sw": max_sw, "ebsw": ebsw}
    for r in settings.gsw_radii:
        def gsw(X, Y, step, state, r=r):
            return generalized_sliced_wasserstein_distance(
                X, Y, slicer="circular", n_projections=L, seed=step, radius=r) ** 2
        out[f"gsw_circular_r{r:g}"] = gsw
    return out


def _plan_costs(X, Y):
    """Per particle: the squared distance it travels in the exact optimal plan (mean = W2^2)."""
    M = ot.dist(X, Y)
    G = ot.emd(np.full(len(X), 1.0 / len(X)), np.full(len(Y), 1.0 / len(Y)), M)
    return len(X) * (G * M).sum(1)


def _flow(loss, X0, Y, lr, steps, record):
    """Final particles (``None`` if the flow diverged) and W2^2 at the ``record`` steps."""
    X = torch.tensor(X0, requires_grad=True)
    Yt = torch.tensor(Y)
    n = X0.shape[0]
    state: dict = {}
    curve = []
    for step in range(steps):
        value = loss(X, Yt, step, state)
        (grad,) = torch.autograd.grad(value, X)
        with torch.no_grad():
            X -= lr * n * grad  # each particle carries mass 1/n
        if not torch.isfinite(X).all() or X.abs().max() > 1e6:
            return None, curve
        if step in record:
            curve.append(float(_plan_costs(X.detach().numpy(), Y).mean()))
    return X.detach().numpy(), curve


def _global_factor_deviation(rng, settings):
    """Per pair: relative deviation of (rescaled SW^2 / SW^2) from ``d / k``."""
    Q, _ = np.linalg.qr(rng.normal(size=(D, D)))
    basis = Q[:, :K_SUB]  # orthonormal basis of S
    theta = random_directions(D, settings.factor_slices, seed=int(rng.integers(2**31)))
    theta = theta.numpy()
    s2 = ((basis.T @ theta) ** 2).sum(0)  # ||P_S theta||^2 per slice
    out = []
    for _ in range(settings.factor_pairs):
        A = rng.normal(size=(settings.n_particles, K_SUB)) * rng.uniform(0.5, 2.0, K_SUB)
        B = rng.normal(size=(settings.n_particles, K_SUB)) + rng.normal(scale=2.0, size=K_SUB)
        X, Y = A @ basis.T, B @ basis.T
        w = np.asarray(wasserstein_1d((X @ theta).T, (Y @ theta).T, p=2))
        out.append(float(np.mean(w / s2) / np.mean(w)) * K_SUB / D - 1.0)
    return np.asarray(out)


def _sweep(loss, X0, Y, lrs, steps, record):
    """Final W2^2 per learning rate, and the per-particle costs and curve of the best one."""
    finals, best_costs, best_curve = [], None, []
    for lr in lrs:
        X, curve = _flow(loss, X0, Y, lr, steps, record)
        c = None if X is None else _plan_costs(X, Y)
        finals.append(np.inf if c is None else float(c.mean()))
        if c is not None and finals[-1] == min(finals):
            best_costs, best_curve = c, curve
    return finals, best_costs, best_curve


def run(settings: RethinkingSwSettings = QUICK, seed: int = 0) -> Result:
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    res = Result(seed=seed)
    n, steps, lrs = settings.n_particles, settings.steps, list(settings.lrs)
    Y = _target(rng, n)
    X0 = rng.normal(size=(n, D))
    losses = _losses(settings)
    record = set(range(0, steps, max(1, steps // 10))) | {steps - 1}
    final, costs, curves = {}, {}, {}
    for k, loss in losses.items():
        final[k], costs[k], curves[k] = _sweep(loss, X0, Y, lrs, steps, record)
    best = {k: int(np.argmin(v)) for k, v in final.items()}
    for k in losses:
        res.metrics[f"best_lr_{k}"] = lrs[best[k]]
        res.metrics[f"final_w2sq_{k}"] = final[k][best[k]]
    res.metrics["initial_w2sq"] = float(_plan_costs(X0, Y).mean())
    variants = [k for k in losses if k != "sw"]
    best_variant = min(variants, key=lambda k: final[k][best[k]])
    res.metrics["best_variant_final_w2sq"] = final[best_variant][best[best_variant]]
    for k in variants:  # averaged over seeds: how often each variant was the best
        res.metrics[f"is_best_variant_{k}"] = float(k == best_variant)
    res.metrics["final_w2sq_sw_at_max_sw_lr"] = final["sw"][best["max_sw"]]
    res.compare("tuned_sw_matches_best_variant", costs["sw"], (1 + DELTA) * costs[best_variant],
                better="lower", claim="sw_matches_variants",
                description=f"per-particle final transport cost after {steps} steps, SW "
                            f"(searched lr) vs (1 + {DELTA:g}) x the best variant of the seed "
                            "(searched lr and, for GSW, radius)",
                known_gap="SW's final per-particle cost is {ours:.4f}; (1 + " + f"{DELTA:g}"
                          + ") times the best variant's is {baseline:.4f} (difference interval "
                          "[{low:.4f}, {high:.4f}], {n} particles): SW is not shown to be "
                          "within 10% of the best variant. The best variant is picked after "
                          "the fact among the tuned variant configurations, most often "
                          "circular GSW at a large radius, whose slices are nearly linear "
                          "(SW in another form; see the is_best_variant metrics); the best "
                          "flows all end near the sampling floor of the target, where such "
                          "small differences decide.")

    # the global factor, on measures that satisfy the paper's assumption (support in a
    # k-dimensional subspace S, here a random one): rescaling every slice by its
    # informativeness ||P_S theta|| multiplies SW^2 by d / k, the same factor for every pair
    dev = _global_factor_deviation(rng, settings)
    res.metrics["max_relative_deviation_from_d_over_k"] = float(np.max(np.abs(dev)))
    res.check("rescaling_is_one_global_factor", np.abs(dev), FACTOR_TOL, "<=",
              claim="rescaling_is_learning_rate",
              description=f"per pair of measures supported in a random {K_SUB}-dim subspace of "
                          f"R^{D}: |(slice-rescaled SW^2 / SW^2) / (d / k) - 1| with "
                          f"{settings.factor_slices} shared slices; mean over "
                          f"{settings.factor_pairs} pairs")

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for k in losses:
        ys = [v if np.isfinite(v) else np.nan for v in final[k]]
        axes[0].loglog(lrs, ys, "o-", label=k)
        if curves[k]:
            axes[1].semilogy(sorted(record)[:len(curves[k])], curves[k],
                             label=f"{k} (lr={lrs[best[k]]:.3g})")
    axes[0].set_xlabel("learning rate")
    axes[0].set_ylabel(f"W2^2 after {steps} steps")
    axes[0].legend(fontsize=6)
    axes[1].set_xlabel("step")
    axes[1].set_ylabel("W2^2 to target")
    axes[1].legend(fontsize=6)
    fig.tight_layout()
    res.figures["rethinking_sw"] = fig
    return res


EXPERIMENT = register(Experiment(
    "rethinking-sw", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="synthetic: gradient flows in R^20 towards a 4-blob target near a 2D subspace",
    full_scale="the paper's learning tasks (SW generative models and autoencoders on MNIST / "
               "CelebA, color transfer, point-cloud flows) with every variant tuned",
))
