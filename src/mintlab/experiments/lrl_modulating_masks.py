"""``lrl-modulating-masks``: PPO with one mask per task on a frozen random network.

A sequence of five CT-graph tasks (branching 2, depth 3, one-hot
observations, Markov decision states; each task rewards one leaf) is learned
by three PPO agents (Stable-Baselines3, same hyper-parameters, three hidden
layers of 200 units as in the paper):

* **MASK RI**: a fresh random mask per task;
* **MASK LC**: a new task's mask starts as a learned linear combination of the
  masks already learned;
* **fine-tuned PPO**: one ordinary network trained on each task in turn.

Each task trains until the greedy policy's return reaches 90 % of the optimal
return (evaluated every 1,024 steps) or 30,000 steps (steps-to-threshold is
then counted as 30,000). RI and LC share the first task (the LC agent learns
it, the RI agent copies its mask), so their comparison starts from the same
point. After every task all tasks are evaluated; the log is a
:class:`~mintlab.continual.metrics.LifelongLog`, so the lifelong-metrics
suite's scores are reported too. Quick mode: two seeds; full mode: five.
"""

from __future__ import annotations

import copy

import numpy as np

from ._core import Experiment, Result
from ._sets_common import one_torch_thread
from .registry import register

CLAIM = ("Modulating masks on a fixed random backbone learn a sequence of RL tasks with PPO "
         "without forgetting, where a single fine-tuned PPO network forgets, and a linear "
         "combination of previously learned masks learns new tasks faster than a mask "
         "learned from scratch.")

CAP = 30_000


def _forgetting(log):
    """Per trained task: return right after its own training minus the final return."""
    from mintlab.continual.metrics import accuracy_matrix

    R, _ = accuracy_matrix(log)
    return np.array([R[j, j] - R[-1, j] for j in range(R.shape[1] - 1)]), R


def _steps(records):
    return [CAP if r.steps_to_threshold is None else r.steps_to_threshold for r in records]


def _one_seed(cfg, tasks, seed):
    from mintlab.continual.rl import FineTuneAgent, MaskAgent, run_task_sequence

    kw = dict(threshold=0.9, eval_every=1024)
    lc = MaskAgent(cfg, len(tasks), linear_comb=True, seed=seed)
    log_first, rec0 = run_task_sequence(lc, tasks, CAP, end_at=1, **kw)
    ri = MaskAgent(cfg, len(tasks), linear_comb=False, seed=seed)
    ri.copy_masks_from(lc)
    out = {"first_task_steps": _steps(rec0)[0]}
    for name, agent in (("RI", ri), ("LC", lc)):
        log, recs = run_task_sequence(agent, tasks, CAP, start_at=1, log=copy.deepcopy(log_first),
                                      **kw)
        out[name] = (log, _steps(recs))
    log_ft, recs_ft = run_task_sequence(FineTuneAgent(cfg, seed=seed), tasks, CAP, **kw)
    out["FT"] = (log_ft, _steps(recs_ft)[1:])
    return out


def run(quick: bool = True, seed: int = 0) -> Result:
    import matplotlib.pyplot as plt

    from mintlab.continual.envs import CTGraphConfig, make_tasks
    from mintlab.continual.metrics import backward_transfer

    res = Result()
    cfg = CTGraphConfig(branching=2, depth=3, wait_prob=0.0)
    seeds = [seed + k for k in range(2 if quick else 5)]
    runs = []
    with one_torch_thread():
        for s in seeds:
            runs.append(_one_seed(cfg, make_tasks(cfg, 5, seed=s), s))

    steps = {k: np.array([r[k][1] for r in runs], float) for k in ("RI", "LC", "FT")}
    forget, finals = {}, {}
    for k in ("RI", "LC", "FT"):
        f, R = zip(*[_forgetting(r[k][0]) for r in runs], strict=True)
        forget[k] = np.concatenate(f)
        finals[k] = np.array([Ri[-1].mean() for Ri in R])
        res.metrics[f"{k}_mean_forgetting"] = float(forget[k].mean())
        res.metrics[f"{k}_final_mean_return"] = float(finals[k].mean())
        res.metrics[f"{k}_backward_transfer"] = float(np.mean([backward_transfer(r[k][0])
                                                               for r in runs]))
        res.metrics[f"{k}_mean_steps_to_threshold"] = float(steps[k].mean())
        res.metrics[f"{k}_tasks_unsolved_within_cap"] = int((steps[k] >= CAP).sum())
    masks_forget = float(max(forget["RI"].max(), forget["LC"].max()))
    res.check("masks_no_forgetting", masks_forget, 1e-9, "<=",
              description="largest drop, over earlier tasks, RI and LC and seeds, from a "
                          "task's greedy return right after learning it to its return after "
                          "the whole sequence")
    res.check("fine_tuning_forgets", float(forget["FT"].mean()), 0.5, ">=",
              description="mean drop of the fine-tuned PPO network's return on earlier tasks "
                          f"(final mean return {finals['FT'].mean():.2f} vs masks "
                          f"{finals['RI'].mean():.2f} / {finals['LC'].mean():.2f})")
    ratio = float(steps["LC"].mean() / steps["RI"].mean())
    res.metrics["lc_over_ri_steps"] = ratio
    res.check("linear_comb_learns_faster", ratio, 1.0, "<",
              description="mean steps to reach 90 % of the optimal return on tasks 2-5, MASK "
                          f"LC / MASK RI ({steps['LC'].mean():.0f} vs {steps['RI'].mean():.0f}, "
                          f"{len(seeds)} seeds, cap {CAP:,})")

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    ax = axes[0]
    x = np.arange(2, 6)
    for k, off in (("RI", -0.2), ("LC", 0.2)):
        ax.bar(x + off, steps[k].mean(0), width=0.4, label=f"MASK {k}")
    ax.set_xlabel("task in the sequence")
    ax.set_ylabel("steps to 90% of optimal")
    ax.legend()
    ax = axes[1]
    labels = {"RI": "MASK RI", "LC": "MASK LC", "FT": "fine-tuned PPO"}
    for k in ("RI", "LC", "FT"):
        _, R = _forgetting(runs[0][k][0])
        ax.plot(np.arange(1, 6), R[-1], "o-", label=labels[k])
    ax.set_xlabel("task")
    ax.set_ylabel("greedy return after all tasks")
    ax.set_ylim(-0.05, 1.05)
    ax.legend()
    fig.tight_layout()
    res.figures["modulating_masks"] = fig
    return res


EXPERIMENT = register(Experiment("lrl-modulating-masks", CLAIM, run))
