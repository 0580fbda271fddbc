"""``lrl-modulating-masks``: PPO with one mask per task on a frozen random network.

Two task sequences are learned one task after another by four PPO agents
(Stable-Baselines3, same hyper-parameters and hidden widths):

* **CT-graph**: branching 2, one-hot observations, Markov decision states;
  each task rewards one leaf (depth 2 in quick mode, 3 in full mode);
* **MiniGrid** (full mode): small MiniGrid tasks with a flat one-hot
  egocentric view and five actions (:class:`~mintlab.continual.envs.MiniGridTasks`):
  Empty 5x5, Empty-Random 5x5, LavaGap S5 and DoorKey 5x5.

The agents:

* **MASK RI**: a fresh random mask per task;
* **MASK LC**: a new task's mask starts as a learned linear combination of the
  masks already learned;
* **fine-tuned PPO**: one ordinary network trained on each task in turn;
* **multi-head PPO**: a shared trunk with one actor and one critic head per task.

Each task trains until the evaluated return reaches the threshold (greedy
policy, 90 % of the optimal return on the CT-graph; sampling policy, a return
of 0.8 on MiniGrid, where a greedy policy of a partial view can loop) or the
step cap. RI and LC share the first task (the LC agent learns it, the RI
agent copies its mask), so their comparison starts from the same point. After
every task all tasks are evaluated (a
:class:`~mintlab.continual.metrics.LifelongLog`).

Claims and how each is judged (one item per task, paired, pooled over seeds
and both sequences, 95% bootstrap intervals):

1. ``masks_beat_lrl_baseline``: after the whole sequence, the evaluated return
   (fraction of the optimal return) of MASK RI on the tasks is higher than
   the fine-tuned network's and than the multi-head network's. That the masks
   keep every task exactly holds by construction and is a unit test; this
   comparison measures whether the masks learn the tasks within the cap and
   whether the baselines keep them. On the CT-graph a fine-tuned network can
   keep at most one needle task (the leaves are mutually exclusive), so the
   informative comparisons are against the multi-head network and on the
   MiniGrid tasks, whose goals are compatible.
2. ``linear_comb_learns_faster``: forward transfer: on the tasks after the
   first, MASK LC's learning curve (normalised evaluated return averaged over
   the evaluations up to the cap; after the threshold the last evaluation is
   carried forward) lies above MASK RI's, the from-scratch learner on the
   same backbone. The area is not censored by the cap, unlike
   steps-to-threshold, which is reported with the solved fractions.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._core import Experiment, Result, Settings
from ._sets_common import one_torch_thread
from .registry import register

CLAIMS = {
    "masks_beat_lrl_baseline": "Modulating masks adapted to deep lifelong RL (PPO) show "
                               "superior performance in comparison with LRL baselines.",
    "linear_comb_learns_faster": "With a linear combination of previously learned masks to "
                                 "exploit previous knowledge, learning new tasks is faster.",
}

MINIGRID_TASKS = ("MiniGrid-Empty-5x5-v0", "MiniGrid-Empty-Random-5x5-v0",
                  "MiniGrid-LavaGapS5-v0", "MiniGrid-DoorKey-5x5-v0")


@dataclass(frozen=True, kw_only=True)
class LrlSettings(Settings):
    ct_depth: int  # depth of the CT-graph (branching 2)
    ct_tasks: int  # CT-graph tasks in the sequence (distinct leaves)
    ct_cap: int  # environment steps per CT-graph task at most
    minigrid: tuple[str, ...]  # MiniGrid task sequence (empty: CT-graph only)
    mg_cap: int  # environment steps per MiniGrid task at most
    hidden: tuple[int, ...]  # hidden layers of every agent's network


QUICK = LrlSettings(seeds=3, ct_depth=2, ct_tasks=3, ct_cap=6_144, minigrid=(), mg_cap=0,
                    hidden=(200, 200))
FULL = LrlSettings(seeds=3, ct_depth=3, ct_tasks=5, ct_cap=20_480, minigrid=MINIGRID_TASKS,
                   mg_cap=16_384, hidden=(200, 200))
EXPECTED = "not reproduced at this scale"

METHODS = ("RI", "LC", "FT", "MH")
LABELS = {"RI": "MASK RI", "LC": "MASK LC", "FT": "fine-tuned PPO", "MH": "multi-head PPO"}
#: per environment: (threshold as a fraction of the optimal return, steps between evaluations,
#: episodes per evaluation, greedy or sampling policy)
PROTOCOL = {"ct-graph": (0.9, 1024, 32, True), "minigrid": (0.8, 2048, 16, False)}


def _area(rec, cap, every):
    """Mean evaluated return over the evaluation grid up to ``cap``, the last value carried
    forward after training stopped (0 before the first evaluation)."""
    grid = np.arange(every, cap + 1, every)
    curve = sorted(rec.curve)
    out, last, k = [], 0.0, 0
    for g in grid:
        while k < len(curve) and curve[k][0] <= g:
            last = curve[k][1]
            k += 1
        out.append(last)
    return float(np.mean(out)) if out else 0.0


def _sequence(env, tasks, cap, hidden, seed, protocol):
    from mintlab.continual.metrics import accuracy_matrix
    from mintlab.continual.rl import FineTuneAgent, MaskAgent, MultiHeadAgent, run_task_sequence
    from mintlab.continual.rl.ppo import _optimal_return

    threshold, every, episodes, greedy = protocol
    kw = dict(threshold=threshold, eval_every=every, eval_episodes=episodes,
              deterministic=greedy)
    n = len(tasks)
    opt = np.array([_optimal_return(env, t) for t in tasks])
    lc = MaskAgent(env, n, linear_comb=True, hidden=hidden, seed=seed)
    log_first, rec0 = run_task_sequence(lc, tasks, cap, end_at=1, **kw)
    ri = MaskAgent(env, n, linear_comb=False, hidden=hidden, seed=seed)
    ri.copy_masks_from(lc)
    runs = {}
    for name, agent in (("RI", ri), ("LC", lc)):
        log, recs = run_task_sequence(agent, tasks, cap, start_at=1,
                                      log=copy.deepcopy(log_first), **kw)
        runs[name] = (log, rec0 + recs)
    runs["FT"] = run_task_sequence(FineTuneAgent(env, hidden=hidden, seed=seed), tasks, cap, **kw)
    runs["MH"] = run_task_sequence(MultiHeadAgent(env, n, hidden=hidden, seed=seed), tasks, cap,
                                   **kw)
    out = {}
    for k, (log, recs) in runs.items():
        R, _ = accuracy_matrix(log)
        steps = np.array([cap if r.steps_to_threshold is None else r.steps_to_threshold
                          for r in recs], float)
        out[k] = dict(final=R[-1] / opt,
                      forgetting=np.array([(R[j, j] - R[-1, j]) / opt[j] for j in range(n - 1)]),
                      area=np.array([_area(r, cap, every) for r in recs]) / opt,
                      steps=steps, solved=np.array([r.steps_to_threshold is not None
                                                    for r in recs]))
    return out


def run(settings: LrlSettings = QUICK, seed: int = 0) -> Result:
    import matplotlib.pyplot as plt

    from mintlab.continual.envs import CTGraphConfig, MiniGridTasks, make_tasks

    res = Result(seed=seed)
    envs: list[tuple[str, Any, list, int]] = []
    cfg = CTGraphConfig(branching=2, depth=settings.ct_depth, wait_prob=0.0)
    envs.append(("ct-graph", cfg, make_tasks(cfg, settings.ct_tasks, seed=seed), settings.ct_cap))
    if settings.minigrid:
        fam = MiniGridTasks(list(settings.minigrid))
        envs.append(("minigrid", fam, list(fam.env_ids), settings.mg_cap))
    per_env = {}
    with one_torch_thread():
        for name, env, tasks, cap in envs:
            per_env[name] = _sequence(env, tasks, cap, settings.hidden, seed, PROTOCOL[name])

    pooled = {k: {f: np.concatenate([per_env[e][k][f] for e in per_env])
                  for f in ("final", "forgetting", "area", "steps", "solved")} for k in METHODS}
    # forward transfer: the tasks after the first of each sequence
    later = {k: np.concatenate([per_env[e][k]["area"][1:] for e in per_env]) for k in METHODS}
    for e, d in per_env.items():
        for k in METHODS:
            res.metrics[f"{e}_{k}_final_mean_return"] = float(d[k]["final"].mean())
            res.metrics[f"{e}_{k}_mean_forgetting"] = float(d[k]["forgetting"].mean())
            res.metrics[f"{e}_{k}_learning_curve_area"] = float(d[k]["area"][1:].mean())
            res.metrics[f"{e}_{k}_solved_fraction"] = float(d[k]["solved"].mean())
            if d[k]["solved"].any():  # averaged over the seeds that solved a task
                res.metrics[f"{e}_{k}_mean_steps_solved_tasks"] = float(
                    d[k]["steps"][d[k]["solved"]].mean())
    for k in METHODS:
        res.metrics[f"{k}_final_mean_return"] = float(pooled[k]["final"].mean())
        res.metrics[f"{k}_solved_fraction"] = float(pooled[k]["solved"].mean())
        res.metrics[f"{k}_mean_forgetting"] = float(pooled[k]["forgetting"].mean())
    res.metrics["LC_minus_RI_forward_transfer"] = float((later["LC"] - later["RI"]).mean())

    for base in ("FT", "MH"):
        res.compare(f"masks_final_return_above_{'fine_tuning' if base == 'FT' else 'multi_head'}",
                    pooled["RI"]["final"], pooled[base]["final"], better="higher",
                    claim="masks_beat_lrl_baseline",
                    known_gap="MASK RI ends at {ours:.2f} of the optimal return on average over "
                              f"the tasks and {LABELS[base]} at " "{baseline:.2f} (interval of "
                              "the difference [{low:.2f}, {high:.2f}] over {n} tasks): the masks "
                              "forget nothing (metric RI_mean_forgetting), but within the step "
                              "cap MASK RI leaves some tasks unsolved (RI_solved_fraction) while "
                              f"{LABELS[base]} keeps part of what it learned "
                              f"({base}_mean_forgetting), so over these tasks the gain is not "
                              "bounded away from zero",
                    description=f"evaluated return (fraction of optimal) on every task after "
                                f"learning all of them, MASK RI vs {LABELS[base]}; one item per "
                                "task of each sequence")
    res.compare("linear_comb_forward_transfer_over_random_init", later["LC"], later["RI"],
                better="higher", claim="linear_comb_learns_faster",
                known_gap="MASK LC's learning curve averages {ours:.2f} of the optimal return "
                          "and MASK RI's {baseline:.2f} (interval of the difference "
                          "[{low:.2f}, {high:.2f}] over {n} tasks): starting from a "
                          "combination of the earlier masks does not lift the curve on these "
                          "tasks by more than the task-to-task variation (solved fractions "
                          "in the metrics)",
                description="area under the learning curve (normalised evaluated return averaged "
                            "over the evaluations up to the cap) on the tasks after the first, "
                            "MASK LC vs MASK RI (the from-scratch learner on the same "
                            "backbone); one item per task")

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    names = list(per_env)
    x = np.arange(len(names))
    for i, k in enumerate(METHODS):
        off = (i - 1.5) * 0.2
        axes[0].bar(x + off, [per_env[e][k]["area"][1:].mean() for e in names], width=0.2,
                    label=LABELS[k])
        axes[1].bar(x + off, [per_env[e][k]["final"].mean() for e in names], width=0.2,
                    label=LABELS[k])
    axes[0].set_ylabel("learning-curve area, tasks 2+")
    axes[1].set_ylabel("return after all tasks")
    for ax in axes:
        ax.set_xticks(x, names)
        ax.set_ylim(0, 1.05)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    res.figures["modulating_masks"] = fig
    return res


EXPERIMENT = register(Experiment(
    "lrl-modulating-masks", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="synthetic: CT-graph (branching 2, depth 2 quick / 3 full, one-hot observations); "
         "MiniGrid Empty, Empty-Random, LavaGap and DoorKey 5x5 (full mode)",
    full_scale="the paper's CT-graph depths 3-5 and MiniGrid crossing sequences (S9N1-N3) with "
               "PPO and IMPALA, online-EWC baselines, 1e6 steps per task and 5 seeds; CPU days",
))
