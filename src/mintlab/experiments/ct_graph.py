"""``ct-graph``: the configurable tree graph's difficulty, measured by learning agents.

Learning agents are tabular Q-learners on the graph's categorical
observations, one per environment copy of a :class:`VecCTGraph` (many
independent agents stepped together in numpy), each with its own randomly
drawn task (rewarded leaf). They act epsilon-greedily from optimistic
initial values (systematic exploration) and count as having solved their
task once their greedy policy reaches the rewarded leaf. Two kinds:

* **memoryless**: values indexed by the current observation;
* **with memory**: values indexed by the current observation and the
  branch actions taken so far in the episode (the agent's own history).

Claims and how each is judged (per agent, 95% bootstrap intervals, pooled
over seeds):

1. ``complexity_grows_with_depth``: the steps a memoryless Q-learner needs
   to solve its task grow with depth at least as fast as the graph: the
   log-steps on the deepest graph of the sweep exceed those on the shallowest
   by more than ``(D_max - D_min) log b`` (a factor b, the growth of the
   number of leaves, per level), and every added level makes the task harder
   (one comparison per pair of consecutive depths, margin 0). Branching 2, no
   wait states, Markov observations; unpaired comparisons over agents;
2. ``observability_is_configurable``: with non-Markov decision observations
   (every decision state shows the same observation; wait states keep their
   own) the problem becomes partially observable: a memoryless learner that solves the Markov graph
   fails on it (its greedy success rate after the same budget is lower),
   while a learner with memory of its own actions solves it (a higher
   success rate than the memoryless learner on the same graph).

The environment's closed forms (random-policy success, optimal episode
length with wait states, optimal return under a step limit) are unit tests
(``tests/continual/test_ct_graph_claims.py``); the random policy's success
rate per depth is still plotted against its closed form here, and the
vectorised environment's throughput is recorded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._core import Experiment, Result, Settings
from .registry import register

CLAIMS = {
    "complexity_grows_with_depth": "Challenging complexity levels can be easily achieved due "
                                   "to the exponential growth of the graph.",
    "observability_is_configurable": "The CT-graph provides variable degrees of observability "
                                     "(non-Markov observations).",
}


@dataclass(frozen=True, kw_only=True)
class CTGraphSettings(Settings):
    n_agents: int  # independent tabular learners per configuration
    depths: tuple[int, ...]  # graph depths of the difficulty sweep (first and last are compared)
    max_steps: int  # environment steps per agent at most in the depth sweep
    pomdp_depth: int  # depth of the graphs of the observability comparison
    pomdp_steps: int  # environment steps per agent in the observability comparison
    random_episodes: int  # random-policy episodes per depth (plotted against the closed form)
    throughput_steps: int  # random steps timed on the vectorised environment


QUICK = CTGraphSettings(seeds=3, n_agents=64, depths=(1, 2, 3, 4), max_steps=6_000,
                        pomdp_depth=3, pomdp_steps=3_000, random_episodes=100_000,
                        throughput_steps=200_000)
FULL = CTGraphSettings(seeds=5, n_agents=256, depths=(1, 2, 3, 4, 5, 6), max_steps=100_000,
                       pomdp_depth=4, pomdp_steps=20_000, random_episodes=2_000_000,
                       throughput_steps=10_000_000)
EXPECTED = "reproduced"

BRANCHING = 2
ALPHA, GAMMA, EPSILON = 0.5, 0.95, 0.05  # Q-learning step, discount, exploration rate


class _TabularAgents:
    """``n`` independent epsilon-greedy Q-learners with optimistic initial values (1.0).

    ``memory=True`` indexes values by (observation, branch actions taken so
    far in the episode), else by the observation only.
    """

    def __init__(self, config, n: int, memory: bool, rng: np.random.Generator):
        self.n, self.memory, self.rng = n, memory, rng
        self.n_obs, self.n_actions = config.n_observations, config.n_actions
        self.n_hist = (config.n_actions ** (config.depth + 1)) if memory else 1
        self.q = np.ones((n, self.n_obs * self.n_hist, self.n_actions))
        self.hist = np.zeros(n, np.int64)
        self.rows = np.arange(n)

    def state(self, obs: np.ndarray, hist: np.ndarray) -> np.ndarray:
        return np.argmax(obs[:, :-1], axis=1) * self.n_hist + (hist if self.memory else 0)

    def act(self, s: np.ndarray, greedy: bool) -> np.ndarray:
        q = self.q[self.rows, s] + 1e-6 * self.rng.random((self.n, self.n_actions))
        a = np.argmax(q, axis=1)
        if not greedy:
            explore = self.rng.random(self.n) < EPSILON
            a[explore] = self.rng.integers(0, self.n_actions, int(explore.sum()))
        return a

    def next_hist(self, hist: np.ndarray, a: np.ndarray, done: np.ndarray) -> np.ndarray:
        if not self.memory:
            return hist
        h = np.where(a > 0, np.minimum(hist * self.n_actions + a, self.n_hist - 1), hist)
        return np.where(done, 0, h)


def _greedy_success(config, agents: _TabularAgents, tasks: list, seed: int) -> np.ndarray:
    """1.0 where an agent's greedy policy reaches its rewarded leaf in one episode."""
    from mintlab.continual.envs import VecCTGraph

    env = VecCTGraph(config, agents.n, tasks=tasks, seed=seed)
    obs, _ = env.reset()
    hist = np.zeros(agents.n, np.int64)
    ret = np.full(agents.n, np.nan)
    for _ in range(config.horizon):
        a = agents.act(agents.state(obs, hist), greedy=True)
        obs, _, term, trunc, info = env.step(a)
        done = term | trunc
        new = done & np.isnan(ret)
        ret[new] = info["episode_return"][new]
        hist = agents.next_hist(hist, a, done)
        if not np.isnan(ret).any():
            break
    return (np.nan_to_num(ret, nan=0.0) >= config.high_reward).astype(np.float64)


def _learn(config, n: int, memory: bool, max_steps: int, seed: int, *, track: bool):
    """Train ``n`` agents on random tasks; returns (steps to solve, final greedy success).

    With ``track``, every agent's greedy policy is evaluated after every step
    until it first succeeds (its steps to solve; ``max_steps`` when it never
    does), and training stops once all have; without, the agents train for
    ``max_steps`` steps and steps to solve is not measured (NaN).
    """
    from mintlab.continual.envs import VecCTGraph

    rng = np.random.default_rng(seed)
    tasks = [int(t) for t in rng.integers(0, config.n_leaves, n)]
    agents = _TabularAgents(config, n, memory, rng)
    env = VecCTGraph(config, n, tasks=tasks, seed=seed)
    obs, _ = env.reset()
    hist = np.zeros(n, np.int64)
    solved_at = np.full(n, float(max_steps) if track else np.nan)
    for step in range(1, max_steps + 1):
        s = agents.state(obs, hist)
        a = agents.act(s, greedy=False)
        obs, r, term, trunc, _ = env.step(a)
        done = term | trunc
        new_hist = agents.next_hist(hist, a, done)
        s2 = agents.state(obs, new_hist)
        target = r + np.where(term, 0.0, GAMMA * agents.q[agents.rows, s2].max(axis=1))
        q = agents.q[agents.rows, s, a]
        agents.q[agents.rows, s, a] = q + ALPHA * (target - q)
        hist = new_hist
        if track:
            todo = solved_at >= max_steps
            if not todo.any():
                break
            ok = _greedy_success(config, agents, tasks, seed + step) > 0
            solved_at[todo & ok] = step
    return solved_at, _greedy_success(config, agents, tasks, seed + 1)


def run(settings: CTGraphSettings = QUICK, seed: int = 0) -> Result:
    import matplotlib.pyplot as plt

    from mintlab.continual.envs import (
        CTGraphConfig,
        VecCTGraph,
        random_policy_success,
        run_policy,
        steps_per_second,
    )

    res = Result(seed=seed)
    n = settings.n_agents

    # 1. difficulty against depth: a learning agent, and the random policy for reference
    steps, rand_rate, rand_theory = {}, [], []
    for D in settings.depths:
        cfg = CTGraphConfig(branching=BRANCHING, depth=D, wait_prob=0.0, mdp_waits=True)
        steps[D], _ = _learn(cfg, n, False, settings.max_steps, seed=1000 * seed + D,
                             track=True)
        rets, _ = run_policy(VecCTGraph(cfg, 4096, tasks=0, seed=seed + D), "random",
                             settings.random_episodes)
        rand_rate.append(float(rets.mean()))
        rand_theory.append(random_policy_success(cfg))
        res.metrics[f"median_steps_to_solve_depth_{D}"] = float(np.median(steps[D]))
        res.metrics[f"unsolved_fraction_depth_{D}"] = float(np.mean(steps[D] >=
                                                                    settings.max_steps))
        res.metrics[f"random_success_depth_{D}"] = rand_rate[-1]
    slope = np.polyfit(settings.depths, [np.mean(np.log(steps[D])) for D in settings.depths],
                       1)[0]
    res.metrics["learner_steps_factor_per_level"] = float(np.exp(slope))
    d_lo, d_hi = settings.depths[0], settings.depths[-1]
    res.compare("steps_grow_at_least_as_the_graph", np.log(steps[d_hi]), np.log(steps[d_lo]),
                better="higher", paired=False, margin=(d_hi - d_lo) * math.log(BRANCHING),
                claim="complexity_grows_with_depth",
                description=f"log environment steps to solve, depth {d_hi} vs depth {d_lo}; "
                            f"margin ({d_hi} - {d_lo}) log {BRANCHING}: at least a factor "
                            f"{BRANCHING} per level, the growth of the number of leaves")
    for lo, hi in zip(settings.depths[:-1], settings.depths[1:], strict=True):
        res.compare(f"depth_{hi}_needs_more_steps_than_depth_{lo}", np.log(steps[hi]),
                    np.log(steps[lo]), better="higher", paired=False,
                    claim="complexity_grows_with_depth",
                    description=f"log environment steps a tabular Q-learner needs to solve its "
                                f"task, depth {hi} vs depth {lo} (branching {BRANCHING}, "
                                f"Markov observations; unsolved agents count "
                                f"{settings.max_steps:,})")

    # 2. observability: Markov vs non-Markov decision observations (wait states Markov)
    D = settings.pomdp_depth
    mdp = CTGraphConfig(branching=BRANCHING, depth=D, wait_prob=0.0, mdp_waits=True,
                        mdp_decisions=True)
    pomdp = CTGraphConfig(branching=BRANCHING, depth=D, wait_prob=0.0, mdp_waits=True,
                          mdp_decisions=False)
    s = 1000 * seed + 500
    T = settings.pomdp_steps
    success = {"memoryless, Markov": _learn(mdp, n, False, T, s, track=False)[1],
               "memoryless, non-Markov": _learn(pomdp, n, False, T, s, track=False)[1],
               "with memory, non-Markov": _learn(pomdp, n, True, T, s, track=False)[1]}
    for k, v in success.items():
        res.metrics[f"greedy_success_{k.replace(', ', '_').replace(' ', '_')}"] = float(v.mean())
    res.compare("non_markov_observations_defeat_memoryless_learner",
                success["memoryless, Markov"], success["memoryless, non-Markov"],
                better="higher", claim="observability_is_configurable",
                description=f"greedy success per agent after {T:,} steps, memoryless learner on "
                            f"the Markov vs the non-Markov graph (depth {D}, same tasks)")
    res.compare("memory_solves_non_markov_graph", success["with memory, non-Markov"],
                success["memoryless, non-Markov"], better="higher",
                claim="observability_is_configurable",
                description=f"greedy success per agent after {T:,} steps on the non-Markov "
                            f"graph (depth {D}, same tasks), learner with memory of its actions "
                            "vs memoryless learner")

    # throughput, recorded (the benchmark compares in detail)
    cfg = CTGraphConfig(branching=2, depth=3, wait_prob=0.2)
    res.metrics["vectorised_steps_per_second"] = steps_per_second(
        cfg, 4096, settings.throughput_steps, seed)

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    ax = axes[0]
    med = [np.median(steps[D]) for D in settings.depths]
    q25 = [np.quantile(steps[D], 0.25) for D in settings.depths]
    q75 = [np.quantile(steps[D], 0.75) for D in settings.depths]
    ax.semilogy(settings.depths, med, "o-", label="Q-learner (median, IQR)")
    ax.fill_between(settings.depths, q25, q75, alpha=0.3)
    ax.axhline(settings.max_steps, color="k", ls=":", lw=1, label="step budget")
    ax.set_xlabel("depth")
    ax.set_ylabel("steps to solve")
    ax.legend(fontsize=7)
    ax = axes[1]
    ax.semilogy(settings.depths, rand_rate, "o", label="measured")
    ax.semilogy(settings.depths, rand_theory, "-", label="closed form")
    ax.set_xlabel("depth")
    ax.set_ylabel("random-policy success rate")
    ax.legend(fontsize=7)
    ax = axes[2]
    ax.bar(range(3), [v.mean() for v in success.values()])
    ax.set_xticks(range(3), list(success), rotation=12, fontsize=7)
    ax.set_ylabel(f"greedy success (depth {D})")
    ax.set_ylim(0, 1.05)
    fig.tight_layout()
    res.figures["ct_graph"] = fig
    return res


EXPERIMENT = register(Experiment(
    "ct-graph", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="synthetic: CT-graph (branching 2, one-hot observations), tabular learners",
    full_scale="the paper's PPO / recurrent PPO / memory-augmented agents on 1D and 2D "
               "CT-graphs up to depth 6 with wait states and large observation sets; CPU days",
))
