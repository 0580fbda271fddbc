"""``mtl-vs-cl``: with an adversarial task present, continual SSL beats multitask SSL.

A SimSiam learner (MLP encoder) on 8x8 digits; each task = invariance to
one augmentation family: rotation, noise, blur, shift, intensity, and the
adversarial pixel shuffle (last in the continual order). Continual learning
is GPM over the SimSiam objective (tasks one after the other, earlier
tasks' layer inputs protected); multitask learning trains on all families
at once with the same number of passes. Each non-adversarial task is scored
by a linear probe (logistic regression on frozen features of clean training
images, tested on test images under that task's augmentation). Scaled down
from the paper's MNIST / CIFAR ResNets.

Claims checked: on the non-adversarial tasks, continual beats multitask
when the adversarial task is present, and the adversarial task is what
hurts the multitask learner (multitask without it does better).
"""

from __future__ import annotations

import numpy as np

from mintlab.continual import GPM, Joint
from mintlab.continual.ssl import (
    SimSiam,
    augmentation_stream,
    probe_evaluator,
    ssl_objective,
    ssl_representation_forward,
)

from ._core import Experiment, Result
from .registry import register

CLAIM = ("When a subset of tasks is adversarial, continual learning can preserve its "
         "performance on the other tasks and beat multi-task learning, which is therefore "
         "not an upper bound.")

FAMILIES = ["rotation", "noise", "blur", "shift", "intensity", "shuffle"]


def _joint(stream, tasks, common, seed):
    return Joint(SimSiam(seed=seed), **common).train_all(tasks)


def run(quick: bool = True, seed: int = 0) -> Result:
    import matplotlib.pyplot as plt

    res = Result()
    stream = augmentation_stream(FAMILIES, seed=seed)
    epochs = 10 if quick else 30
    common = dict(epochs=epochs, lr=0.05, momentum=0.9, batch_size=64, seed=seed,
                  objective=ssl_objective(FAMILIES, seed), evaluator=probe_evaluator(FAMILIES,
                                                                                     seed))
    clean = list(stream)[:5]

    cl = GPM(SimSiam(seed=seed), threshold=0.97,
             representation_forward=ssl_representation_forward(FAMILIES, seed), **common)
    for t in stream:
        cl.train(t)
    mtl = _joint(stream, list(stream), common, seed)
    mtl_clean = _joint(stream, clean, common, seed)
    init = common["evaluator"]
    scores = {"random init": {t.task_id: init(SimSiam(seed=seed), t) for t in clean},
              "continual (GPM)": cl.evaluate(clean), "multitask": mtl.evaluate(clean),
              "multitask without adversarial": mtl_clean.evaluate(clean)}
    means = {k: float(np.mean(list(v.values()))) for k, v in scores.items()}
    for k, v in scores.items():
        for tid, a in v.items():
            res.metrics[f"{k}_{FAMILIES[tid]}_probe_accuracy"] = a
        res.metrics[f"{k}_mean_probe_accuracy"] = means[k]

    res.check("continual_beats_multitask", means["continual (GPM)"] - means["multitask"], 0.0,
              ">", description="mean linear-probe accuracy on the five non-adversarial tasks, "
                               f"continual minus multitask ({means['continual (GPM)']:.3f} vs "
                               f"{means['multitask']:.3f})")
    res.check("adversarial_task_hurts_multitask",
              means["multitask without adversarial"] - means["multitask"], 0.0, ">",
              description="multitask without the shuffle task minus multitask with it")

    fig, ax = plt.subplots(figsize=(7, 3.6))
    w = 0.2
    for i, (k, v) in enumerate(scores.items()):
        ax.bar(np.arange(5) + (i - 1.5) * w, [v[t] for t in range(5)], w, label=k)
    ax.set_xticks(range(5), FAMILIES[:5])
    ax.set_ylabel("linear-probe accuracy")
    ax.set_title("continual vs multitask SSL (shuffle = adversarial task)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    res.figures["probe_accuracy"] = fig
    return res


EXPERIMENT = register(Experiment("mtl-vs-cl", CLAIM, run))
