"""``brainwash``: poisoning the newest task's data makes a continual learner forget.

Permuted digits, three tasks, one shared head. A learner (fine-tuning or
EWC, and GPM for reference) learns tasks 0 and 1; the attacker gets that
model and task 2's training data only. It inverts the model (20 synthetic
inputs per class) as a proxy of the earlier tasks and crafts BrainWash noise
with ``||delta||_inf <= 0.3`` (pixels in [0, 1]). The learner then trains
on task 2 three ways: clean data, poisoned data, and data with random
``+-0.3`` noise (same norm). Scaled down from the paper's CIFAR-100 /
Tiny-ImageNet ResNets.

Claims checked: for fine-tuning and EWC, the accuracy on the earlier tasks
after training on poisoned data is lower than after training on data with
random noise of the same norm; the perturbation respects its bound.
"""

from __future__ import annotations

import copy

import numpy as np

from mintlab.continual import EWC, GPM, ContinualMLP, Naive, permuted_digits
from mintlab.continual.attacks import brainwash, poisoned_task, random_perturbation
from mintlab.continual.inversion import invert_model

from ._core import Experiment, Result
from .registry import register

CLAIM = ("BrainWash noise, crafted from the current model and the newest task's data only, "
         "makes a continual learner trained on it forget its earlier tasks, even with "
         "regularisation-based continual-learning methods.")


def run(quick: bool = True, seed: int = 0) -> Result:
    import matplotlib.pyplot as plt

    res = Result()
    stream = permuted_digits(3, seed=seed)
    old, new = list(stream)[:-1], stream[-1]
    eps = 0.3
    common = dict(epochs=10, lr=0.01, momentum=0.9, batch_size=32, seed=seed)
    learners = {"fine-tuning": lambda m: Naive(m, **common),
                "EWC": lambda m: EWC(m, ewc_lambda=1000.0, **common),
                "GPM": lambda m: GPM(m, threshold=0.97, **common)}
    rounds = 30 if quick else 100
    table = {}
    max_norm = 0.0
    for name, make in learners.items():
        st = make(ContinualMLP(stream.n_features, [100, 100], stream.head_sizes, seed=seed))
        for t in old:
            st.train(t)
        inv = [invert_model(st.model, range(10), 20, stream.n_features, steps=200,
                            target_probability=0.7, seed=seed)]
        attack = brainwash(st.model, new, inv, epsilon=eps, rounds=rounds, victim_lr=0.1,
                           attack_lr=0.02, trajectory_steps=2, unroll_steps=3, seed=seed)
        max_norm = max(max_norm, float(attack.delta.abs().max()))
        variants = {"clean": new, "poisoned": attack.apply(new),
                    "random noise": poisoned_task(new, random_perturbation(
                        new.X_train.shape, eps, "inf", seed=seed))}
        table[name] = {}
        for vname, task in variants.items():
            victim = copy.deepcopy(st)
            victim.train(task)
            e = victim.evaluate(stream)
            table[name][vname] = (float(np.mean([e[t.task_id] for t in old])), e[new.task_id])
            res.metrics[f"{name}_{vname}_earlier_tasks_accuracy"] = table[name][vname][0]
            res.metrics[f"{name}_{vname}_new_task_accuracy"] = table[name][vname][1]
        res.metrics[f"{name}_attack_outer_loss_first_last"] = attack.history[-1] - \
            attack.history[0]
    for name in ("fine-tuning", "EWC"):
        p, r = table[name]["poisoned"][0], table[name]["random noise"][0]
        res.check(f"{name.lower().replace('-', '_')}_forgets_more_when_poisoned", p - r, 0.0, "<",
                  description=f"{name}: accuracy on earlier tasks after training on poisoned "
                              f"minus random-noise data ({p:.3f} vs {r:.3f})")
    res.metrics["max_abs_perturbation"] = max_norm
    res.check("perturbation_within_bound", max_norm, eps + 1e-6, "<=",
              description="largest |delta| over all pixels and learners")

    fig, ax = plt.subplots(figsize=(6, 3.5))
    w = 0.25
    for i, vname in enumerate(["clean", "random noise", "poisoned"]):
        ax.bar(np.arange(len(table)) + (i - 1) * w, [table[k][vname][0] for k in table], w,
               label=vname)
    ax.set_xticks(range(len(table)), list(table))
    ax.set_ylabel("accuracy on earlier tasks")
    ax.set_title(f"BrainWash (L_inf <= {eps}) on permuted digits")
    ax.legend(fontsize=8)
    fig.tight_layout()
    res.figures["earlier_task_accuracy"] = fig
    return res


EXPERIMENT = register(Experiment("brainwash", CLAIM, run))
