"""``lrl-modulating-masks``: PPO with one mask per task on a frozen random network.

A sequence of CT-graph tasks (branching 2, depth 3, one-hot observations,
Markov decision states; each task rewards one leaf) is learned by three PPO
agents (Stable-Baselines3, same hyper-parameters, three hidden layers):

* **MASK RI**: a fresh random mask per task;
* **MASK LC**: a new task's mask starts as a learned linear combination of the
  masks already learned;
* **fine-tuned PPO**: one ordinary network trained on each task in turn (the
  lifelong-RL baseline of the comparison).

Each task trains until the greedy policy's return reaches 90 % of the optimal
return (evaluated every 1,024 steps) or the step cap (steps-to-threshold is
then counted as the cap, and the task as unsolved). RI and LC share the first
task (the LC agent learns it, the RI agent copies its mask), so their
comparison starts from the same point. After every task all tasks are
evaluated; the log is a :class:`~mintlab.continual.metrics.LifelongLog`, so
the lifelong-metrics suite's scores are reported too.

Claims and how each is judged (per task of the sequence, paired, pooled over
seeds, 95% bootstrap intervals):

1. ``masks_beat_lrl_baseline``: after the whole sequence, the greedy return
   of modulating masks (MASK RI, the method without the linear combination)
   on the tasks is higher than the fine-tuned PPO network's. That the masks
   do not forget at all, and that a fine-tuned network keeps at most one
   needle task, hold by construction and are unit tests; what this
   comparison measures is whether the masks learn the tasks within the cap.
2. ``linear_comb_learns_faster``: MASK LC needs fewer steps than MASK RI to
   reach the threshold on the tasks after the first (a task unsolved within
   the cap counts as the cap, which favours the slower agent).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

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


@dataclass(frozen=True, kw_only=True)
class LrlSettings(Settings):
    n_tasks: int  # tasks in the sequence (distinct leaves of the depth-3 graph)
    cap: int  # environment steps per task at most
    hidden: tuple[int, ...]  # hidden layers of the backbone (and of the fine-tuned network)


QUICK = LrlSettings(seeds=1, n_tasks=3, cap=15_000, hidden=(200, 200, 200))
FULL = LrlSettings(seeds=5, n_tasks=5, cap=30_000, hidden=(200, 200, 200))
EXPECTED = "partly reproduced (1 of 2)"

THRESHOLD = 0.9  # fraction of the optimal return at which a task counts as learned
EVAL_EVERY = 1024  # steps between greedy evaluations


def _steps(records, cap):
    return [cap if r.steps_to_threshold is None else r.steps_to_threshold for r in records]


def _sequence(cfg, tasks, settings, seed):
    from mintlab.continual.rl import FineTuneAgent, MaskAgent, run_task_sequence

    kw = dict(threshold=THRESHOLD, eval_every=EVAL_EVERY)
    lc = MaskAgent(cfg, len(tasks), linear_comb=True, hidden=settings.hidden, seed=seed)
    log_first, rec0 = run_task_sequence(lc, tasks, settings.cap, end_at=1, **kw)
    ri = MaskAgent(cfg, len(tasks), linear_comb=False, hidden=settings.hidden, seed=seed)
    ri.copy_masks_from(lc)
    out = {"first_task_steps": _steps(rec0, settings.cap)[0]}
    for name, agent in (("RI", ri), ("LC", lc)):
        log, recs = run_task_sequence(agent, tasks, settings.cap, start_at=1,
                                      log=copy.deepcopy(log_first), **kw)
        out[name] = (log, _steps(recs, settings.cap))
    log_ft, recs_ft = run_task_sequence(FineTuneAgent(cfg, hidden=settings.hidden, seed=seed),
                                        tasks, settings.cap, **kw)
    out["FT"] = (log_ft, _steps(recs_ft, settings.cap)[1:])
    return out


def run(settings: LrlSettings = QUICK, seed: int = 0) -> Result:
    import matplotlib.pyplot as plt

    from mintlab.continual.envs import CTGraphConfig, make_tasks, optimal_return
    from mintlab.continual.metrics import accuracy_matrix, backward_transfer

    res = Result(seed=seed)
    cfg = CTGraphConfig(branching=2, depth=3, wait_prob=0.0)
    tasks = make_tasks(cfg, settings.n_tasks, seed=seed)
    with one_torch_thread():
        out = _sequence(cfg, tasks, settings, seed)
    opt = np.array([optimal_return(cfg, t) for t in tasks])
    final = {}
    for k in ("RI", "LC", "FT"):
        log, steps = out[k]
        R, _ = accuracy_matrix(log)
        final[k] = R[-1] / opt
        forget = np.array([R[j, j] - R[-1, j] for j in range(R.shape[1] - 1)])
        res.metrics[f"{k}_final_mean_return"] = float(final[k].mean())
        res.metrics[f"{k}_mean_forgetting"] = float(forget.mean())
        res.metrics[f"{k}_backward_transfer"] = float(backward_transfer(log))
        res.metrics[f"{k}_mean_steps_to_threshold"] = float(np.mean(steps))
        res.metrics[f"{k}_tasks_unsolved_within_cap"] = int(sum(s >= settings.cap
                                                                for s in steps))
    res.metrics["first_task_steps"] = out["first_task_steps"]

    res.compare("masks_final_return_above_fine_tuning", final["RI"], final["FT"],
                better="higher", claim="masks_beat_lrl_baseline",
                known_gap="MASK RI ends at {ours:.2f} of the optimal return on average over the "
                          "tasks and fine-tuned PPO at {baseline:.2f} (interval of the "
                          "difference [{low:.2f}, {high:.2f}] over {n} tasks): within the quick "
                          "step cap a mask learned from random scores does not solve every "
                          "depth-3 task, and the tasks of one seed cannot separate the two",
                description="greedy return (fraction of optimal) on every task of the sequence "
                            "after learning all of them, MASK RI vs fine-tuned PPO; one item "
                            "per task")
    steps_lc = np.asarray(out["LC"][1], float)
    steps_ri = np.asarray(out["RI"][1], float)
    res.metrics["lc_over_ri_steps"] = float(steps_lc.mean() / steps_ri.mean())
    res.compare("linear_comb_fewer_steps_than_random_init", steps_lc, steps_ri,
                better="lower", claim="linear_comb_learns_faster",
                known_gap="MASK LC needs {ours:.0f} steps per task on average and MASK RI "
                          "{baseline:.0f} (interval of the difference [{low:.0f}, {high:.0f}] "
                          "over {n} tasks): the capped step counts of so few tasks of one seed "
                          "vary too much to bound the difference away from zero",
                description=f"steps to reach {THRESHOLD:.0%} of the optimal return on the tasks "
                            f"after the first (cap {settings.cap:,}, counted when unsolved), "
                            "MASK LC vs MASK RI; one item per task")

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    ax = axes[0]
    x = np.arange(2, settings.n_tasks + 1)
    for k, off in (("RI", -0.2), ("LC", 0.2)):
        ax.bar(x + off, out[k][1], width=0.4, label=f"MASK {k}")
    ax.axhline(settings.cap, color="k", ls=":", lw=1)
    ax.set_xlabel("task in the sequence")
    ax.set_ylabel(f"steps to {THRESHOLD:.0%} of optimal")
    ax.legend()
    ax = axes[1]
    labels = {"RI": "MASK RI", "LC": "MASK LC", "FT": "fine-tuned PPO"}
    for k in ("RI", "LC", "FT"):
        ax.plot(np.arange(1, settings.n_tasks + 1), final[k], "o-", label=labels[k])
    ax.set_xlabel("task")
    ax.set_ylabel("greedy return after all tasks")
    ax.set_ylim(-0.05, 1.05)
    ax.legend()
    fig.tight_layout()
    res.figures["modulating_masks"] = fig
    return res


EXPERIMENT = register(Experiment(
    "lrl-modulating-masks", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="synthetic: CT-graph (branching 2, depth 3, one-hot observations)",
    full_scale="the paper's CT-graph depths 3-5 and MiniGrid sequences with PPO and IMPALA, "
               "online-EWC and multitask baselines, 1e6 steps per task and 5 seeds; CPU days",
))
