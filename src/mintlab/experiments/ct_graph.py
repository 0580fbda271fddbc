"""``ct-graph``: the configurable tree graph's stated properties, measured.

Three facts the paper derives for the CT-graph are measured on the
vectorised environment (millions of steps per second) against their closed
forms:

* **reward sparsity grows exponentially with depth**: the success rate of a
  uniformly random policy over depths 1-4 (1-6 in full mode), branching 2, no
  waiting; the closed form is ``(1/(b+1))^D ((1-p)/(b+1-p))^(D+1)``, a factor
  ``1/9`` per level here;
* **wait states lengthen episodes as configured**: the optimal policy's
  episode length for wait probabilities 0, 0.25, 0.5, 0.75 against
  ``2 + D + (D+1)/(1-p)``;
* **every leaf is a task with a known optimal return**: the optimal policy on
  each of the 8 leaves of a depth-3 graph with wait probability 0.5 and a
  tight step limit (16), where the optimal return is below 1 and given by the
  negative-binomial formula of :func:`~mintlab.continual.envs.optimal_return`.

Also recorded: steps per second of the vectorised environment and of the
Gymnasium environment stepped in a Python loop.
"""

from __future__ import annotations

import numpy as np

from ._core import Experiment, Result
from .registry import register

CLAIM = ("The CT-graph is a measurable RL problem: reward sparsity grows exponentially with "
         "depth, wait states lengthen episodes as configured, and each leaf is a task whose "
         "optimal return is computable.")


def run(quick: bool = True, seed: int = 0) -> Result:
    import matplotlib.pyplot as plt

    from mintlab.continual.envs import (
        CTGraphConfig,
        VecCTGraph,
        all_tasks,
        optimal_episode_length,
        optimal_return,
        random_policy_success,
        run_policy,
        steps_per_second,
    )

    res = Result()
    n_envs = 8192

    # 1. reward sparsity vs depth (random policy)
    depths = list(range(1, 5 if quick else 7))
    n_episodes = 2_000_000 if quick else 10_000_000
    rates, theory, z = [], [], []
    for D in depths:
        cfg = CTGraphConfig(branching=2, depth=D, wait_prob=0.0)
        rets, _ = run_policy(VecCTGraph(cfg, n_envs, tasks=0, seed=seed + D), "random",
                             n_episodes)
        m, th = float(rets.mean()), random_policy_success(cfg)
        rates.append(m)
        theory.append(th)
        z.append((m - th) / np.sqrt(th * (1 - th) / len(rets)))
        res.metrics[f"random_success_depth_{D}"] = m
    slope, intercept = np.polyfit(depths, np.log(rates), 1)
    fit = slope * np.asarray(depths) + intercept
    r2 = 1 - np.sum((np.log(rates) - fit) ** 2) / np.sum((np.log(rates) - np.mean(np.log(rates)))
                                                          ** 2)
    per_level = float(np.exp(slope))
    res.metrics.update({"success_factor_per_level": per_level, "log_linear_r2": float(r2),
                        "max_abs_z_random_success": float(np.max(np.abs(z)))})
    res.check("sparsity_exponential_in_depth", r2, 0.99, ">=",
              description="R^2 of a straight-line fit of log(random-policy success rate) "
                          f"against depth {depths[0]}-{depths[-1]} (branching 2), "
                          f"{n_episodes:,} episodes per depth")
    res.check("decay_per_level_matches_theory", abs(per_level / (1 / 9) - 1), 0.1, "<=",
              description=f"|fitted success factor per level ({per_level:.4f}) / 1/9 - 1|: "
                          "each level multiplies the chance by 1/3 (right branch) x 1/3 "
                          "(wait action)")
    res.check("random_success_matches_closed_form", float(np.max(np.abs(z))), 4.0, "<=",
              description="largest |measured - closed form| / standard error over the depths")

    # 2. wait states lengthen episodes
    waits = [0.0, 0.25, 0.5, 0.75]
    lengths, expect = [], []
    for p in waits:
        cfg = CTGraphConfig(branching=2, depth=3, wait_prob=p, max_episode_steps=1000)
        _, lens = run_policy(VecCTGraph(cfg, 2048, tasks=5, seed=seed + 100), "optimal",
                             20_000 if quick else 200_000)
        lengths.append(float(lens.mean()))
        expect.append(optimal_episode_length(cfg))
        res.metrics[f"optimal_episode_length_p{p}"] = lengths[-1]
    rel = max(abs(a / b - 1) for a, b in zip(lengths, expect, strict=True))
    res.check("wait_states_lengthen_as_configured", rel, 0.02, "<=",
              description="largest relative gap between the optimal policy's mean episode "
                          "length and 2 + D + (D+1)/(1-p), p in {0, .25, .5, .75}, depth 3 "
                          f"(measured {', '.join(f'{v:.2f}' for v in lengths)})")
    res.check("longer_with_more_waiting", float(np.min(np.diff(lengths))), 0.0, ">",
              description="smallest increase of the mean episode length from one wait "
                          "probability to the next")

    # 3. each leaf is a task with a known optimal return (tight step limit: below 1)
    cfg = CTGraphConfig(branching=2, depth=3, wait_prob=0.5, max_episode_steps=16)
    gaps, opt = [], []
    for task in all_tasks(cfg):
        rets, _ = run_policy(VecCTGraph(cfg, 2048, tasks=task, seed=seed + 200), "optimal",
                             16_384 if quick else 131_072)
        o = optimal_return(cfg, task)
        opt.append(o)
        se = np.sqrt(o * (1 - o) / len(rets))
        gaps.append(abs(rets.mean() - o) / se)
    res.metrics.update({"optimal_return_tight_limit": float(opt[0]),
                        "max_abs_z_optimal_return": float(np.max(gaps))})
    res.check("optimal_policy_reaches_optimal_return", float(np.max(gaps)), 4.0, "<=",
              description="largest |mean return of the optimal policy - optimal_return| / "
                          f"standard error over the 8 leaves (optimal return {opt[0]:.4f}: "
                          "wait probability 0.5, step limit 16)")

    # throughput, recorded (the benchmark compares in detail)
    cfg = CTGraphConfig(branching=2, depth=3, wait_prob=0.2)
    vec = steps_per_second(cfg, 4096, 2_000_000 if quick else 10_000_000, seed)
    scalar = steps_per_second(cfg, None, 20_000, seed)
    res.metrics.update({"vectorised_steps_per_second": vec, "gymnasium_steps_per_second": scalar})

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    ax = axes[0]
    ax.semilogy(depths, rates, "o", label="measured")
    ax.semilogy(depths, theory, "-", label="closed form")
    ax.set_xlabel("depth")
    ax.set_ylabel("random-policy success rate")
    ax.legend()
    ax = axes[1]
    ax.plot(waits, lengths, "o", label="measured")
    ax.plot(waits, expect, "-", label="2 + D + (D+1)/(1-p)")
    ax.set_xlabel("wait probability p")
    ax.set_ylabel("optimal episode length")
    ax.legend()
    fig.tight_layout()
    res.figures["ct_graph"] = fig
    return res


EXPERIMENT = register(Experiment("ct-graph", CLAIM, run))
