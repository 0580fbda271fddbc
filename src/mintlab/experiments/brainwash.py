"""``brainwash``: poisoning the newest task's data makes a continual learner forget.

Permuted digits, three tasks, one shared head. A learner (fine-tuning or
EWC; GPM too in full mode, for reference) learns tasks 0 and 1; the attacker
gets that model and task 2's training data only. It inverts the model
(synthetic inputs per class) as a proxy of the earlier tasks and crafts
BrainWash noise with ``||delta||_inf <= 0.3`` (pixels in [0, 1]). The
learner then trains on task 2 three ways: clean data, poisoned data, and
data with random ``+-0.3`` noise (the same norm, the attack's control).
Scaled down from the paper's CIFAR-100 / Tiny-ImageNet ResNets.

Claims and how each is judged (paired per test item of the earlier tasks,
pooled over seeds, 95% bootstrap intervals):

1. ``poison_makes_learner_forget``: after fine-tuning on the poisoned data,
   fewer earlier-task test items are classified correctly than after
   fine-tuning on the randomly perturbed data;
2. ``regularisation_does_not_protect``: the same holds for EWC, a
   regularisation-based continual learner.

That the perturbation respects its bound holds by construction (a
projection) and is a unit test.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np

from mintlab.continual import EWC, GPM, ContinualMLP, Naive, permuted_digits
from mintlab.continual.attacks import brainwash, poisoned_task, random_perturbation
from mintlab.continual.inversion import invert_model

from ._continual_common import no_evaluation, tasks_item_correct
from ._core import Experiment, Result, Settings
from ._sets_common import one_torch_thread
from .registry import register

CLAIMS = {
    "poison_makes_learner_forget": "By adding BrainWash noise to the newest task's data, a "
                                   "trained continual learner can be induced to forget its "
                                   "previously learned tasks, the attacker holding only the "
                                   "model's current parameters and the newest task's data.",
    "regularisation_does_not_protect": "The attack degrades performance across "
                                       "regularization-based continual learning methods.",
}


@dataclass(frozen=True, kw_only=True)
class BrainWashSettings(Settings):
    learners: tuple[str, ...]  # continual learners attacked ("fine-tuning", "EWC", "GPM")
    rounds: int  # attack rounds (signed-gradient steps of the noise)
    trajectory_steps: int  # points of the simulated learner's trajectory per round
    unroll_steps: int  # simulated SGD steps the attack differentiates through
    inverted_per_class: int  # model-inversion samples per class (proxy of the earlier tasks)
    inversion_steps: int  # optimisation steps of the inversion


QUICK = BrainWashSettings(seeds=1, learners=("fine-tuning", "EWC"), rounds=30,
                          trajectory_steps=2, unroll_steps=3, inverted_per_class=20,
                          inversion_steps=200)
FULL = BrainWashSettings(seeds=5, learners=("fine-tuning", "EWC", "GPM"), rounds=100,
                         trajectory_steps=2, unroll_steps=3, inverted_per_class=50,
                         inversion_steps=400)
EXPECTED = "reproduced"

EPSILON = 0.3  # L_inf bound of the noise, pixels in [0, 1]


def run(settings: BrainWashSettings = QUICK, seed: int = 0) -> Result:
    import matplotlib.pyplot as plt

    res = Result(seed=seed)
    stream = permuted_digits(3, seed=seed)
    old, new = list(stream)[:-1], stream[-1]
    common: dict[str, Any] = dict(epochs=10, lr=0.01, momentum=0.9, batch_size=32, seed=seed,
                                  evaluator=no_evaluation)
    makers = {"fine-tuning": lambda m: Naive(m, **common),
              "EWC": lambda m: EWC(m, ewc_lambda=1000.0, **common),
              "GPM": lambda m: GPM(m, threshold=0.97, **common)}
    table: dict[str, Any] = {}
    old_items: dict[str, Any] = {}
    with one_torch_thread():
        for name in settings.learners:
            st = makers[name](ContinualMLP(stream.n_features, [100, 100], stream.head_sizes,
                                           seed=seed))
            for t in old:
                st.train(t)
            inv = [invert_model(st.model, range(10), settings.inverted_per_class,
                                stream.n_features, steps=settings.inversion_steps,
                                target_probability=0.7, seed=seed)]
            attack = brainwash(st.model, new, inv, epsilon=EPSILON, rounds=settings.rounds,
                               victim_lr=0.1, attack_lr=0.02,
                               trajectory_steps=settings.trajectory_steps,
                               unroll_steps=settings.unroll_steps, seed=seed)
            variants = {"clean": new, "poisoned": attack.apply(new),
                        "random noise": poisoned_task(new, random_perturbation(
                            new.X_train.shape, EPSILON, "inf", seed=seed))}
            table[name], old_items[name] = {}, {}
            for vname, task in variants.items():
                victim = copy.deepcopy(st)
                victim.train(task)
                old_items[name][vname] = tasks_item_correct(victim.model, old)
                new_acc = float(tasks_item_correct(victim.model, [new]).mean())
                table[name][vname] = (float(old_items[name][vname].mean()), new_acc)
                res.metrics[f"{name}_{vname}_earlier_tasks_accuracy"] = table[name][vname][0]
                res.metrics[f"{name}_{vname}_new_task_accuracy"] = new_acc
            res.metrics[f"{name}_attack_outer_loss_last_minus_first"] = (attack.history[-1]
                                                                         - attack.history[0])
            res.metrics[f"{name}_max_abs_perturbation"] = float(attack.delta.abs().max())

    for name, claim in (("fine-tuning", "poison_makes_learner_forget"),
                        ("EWC", "regularisation_does_not_protect")):
        key = name.lower().replace("-", "_")
        res.compare(f"{key}_forgets_more_when_poisoned", old_items[name]["poisoned"],
                    old_items[name]["random noise"], better="lower", claim=claim,
                    description=f"{name}: per-item correctness on the earlier tasks' test images "
                                "after training on the poisoned vs the randomly perturbed "
                                f"newest task (same L_inf norm {EPSILON})")

    fig, ax = plt.subplots(figsize=(6, 3.5))
    w = 0.25
    for i, vname in enumerate(["clean", "random noise", "poisoned"]):
        ax.bar(np.arange(len(table)) + (i - 1) * w, [table[k][vname][0] for k in table], w,
               label=vname)
    ax.set_xticks(range(len(table)), list(table))
    ax.set_ylabel("accuracy on earlier tasks")
    ax.set_title(f"BrainWash (L_inf <= {EPSILON}) on permuted digits")
    ax.legend(fontsize=8)
    fig.tight_layout()
    res.figures["earlier_task_accuracy"] = fig
    return res


EXPERIMENT = register(Experiment(
    "brainwash", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="sklearn digits 8x8 (real), three pixel permutations",
    full_scale="split CIFAR-100 and Tiny-ImageNet ResNet-18s with 10-20 tasks, eps about 0.03, "
               "the cautious mode and more regularisers (online EWC, SI, MAS); GPU hours per "
               "learner",
))
