"""``mtl-vs-cl``: with an adversarial task present, continual SSL beats multitask SSL.

The paper's continual self-supervised setting at small scale: a SimSiam
learner with a small ConvNet encoder (two conv-ReLU-maxpool blocks, no batch
statistics) on real images (MNIST, average-pooled to 14x14); each task = becoming
invariant to one augmentation family of the same images: rotation, noise,
blur, shift, intensity, and the adversarial pixel shuffle, whose invariance
destroys the spatial structure every other task (and the downstream
classification) relies on. Every seed draws its own task order: the five
clean families shuffled and the adversarial task inserted at a random
position that is never the last one, so a continual learner has to learn
tasks after it. VICReg-style variance and covariance terms keep the features
from collapsing (SimSiam's batch normalisation would put batch statistics,
which gradient projection cannot protect, into the network; without the
covariance term the features collapse onto a few directions and probe below
random init).

Continual learning is GPM over the SimSiam objective (tasks one after the
other, earlier tasks' layer inputs, convolution patches included,
protected); multitask learning trains on all families at once (minibatches
drawn from the union of the tasks, each sample augmented by its own task's
family) with the same number of gradient steps. Each clean task is scored by
a linear probe (logistic regression on frozen features of clean training
images, tested on the test images under that task's augmentation).

Precondition, reported in the metrics: the SSL features must beat the
untrained network's (``precondition_ssl_gain_*``: each SSL learner minus
random init, with the 95% paired bootstrap interval over this seed's probe
predictions; the multitask learner without the adversarial task is the
reference SSL learner); where they do not, the
comparison below says little.

Claims and how each is judged (paired per test item: 5 tasks x the test
images, pooled over seeds and their task orders, 95% bootstrap intervals).
In full mode (600 images, 6 epochs per task, 8 seeds and orders), where the
precondition holds, the adversarial task clearly hurts multitask learning;
continual beats multitask in most orders but not in all, and the pooled
interval reaches below zero. Quick mode trains too little for the
precondition and reports both as gaps:

1. ``adversarial_task_hurts_multitask``: multitask learning without the
   shuffle task probes better than multitask learning with it;
2. ``continual_beats_multitask``: continual learning (GPM) probes better
   than multitask learning on the five non-adversarial tasks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from mintlab._random import stream_seed
from mintlab.continual import GPM, Joint
from mintlab.continual.ssl import (
    SimSiam,
    augment,
    augmentation_stream,
    simsiam_loss,
    ssl_objective,
    ssl_representation_forward,
)

from ._continual_common import no_evaluation
from ._core import Experiment, Result, Settings
from ._sets_common import one_torch_thread
from .registry import register

CLAIMS = {
    "adversarial_task_hurts_multitask": "A small subset of tasks can behave as adversarial "
                                        "tasks that reduce the overall learning performance "
                                        "in a multi-task setting.",
    "continual_beats_multitask": "Continual learning can avoid the performance drop caused by "
                                 "such adversarial tasks and preserve its performance on the "
                                 "rest of the tasks, leading to better performance than a "
                                 "multi-task learner.",
}

CLEAN_FAMILIES = ["rotation", "noise", "blur", "shift", "intensity"]
ADVERSARIAL = "shuffle"
FAMILIES = CLEAN_FAMILIES + [ADVERSARIAL]


@dataclass(frozen=True, kw_only=True)
class MtlVsClSettings(Settings):
    dataset: str  # "mnist" or "fashion-mnist"
    side: int  # image side (28, or 14 = 2x2 average-pooled)
    n_train: int  # images per task (the same images for every task)
    n_test: int
    epochs: int  # passes over each task's data (multitask: over the union, same steps per task)
    lr: float = 0.03
    variance_weight: float = 1.0
    covariance_weight: float = 10.0


QUICK = MtlVsClSettings(seeds=3, dataset="mnist", side=14, n_train=300, n_test=300, epochs=2)
FULL = MtlVsClSettings(seeds=8, dataset="mnist", side=14, n_train=600, n_test=500, epochs=6)
EXPECTED = "not reproduced at this scale"


def task_order(seed: int) -> list[str]:
    """This seed's task order: the clean families shuffled, the adversarial one inserted
    at a uniformly drawn position other than the last."""
    rng = np.random.default_rng(stream_seed(seed, "mtl-vs-cl", "order"))
    order = [CLEAN_FAMILIES[i] for i in rng.permutation(len(CLEAN_FAMILIES))]
    order.insert(int(rng.integers(0, len(CLEAN_FAMILIES))), ADVERSARIAL)
    return order


@torch.no_grad()
def _probe_items(model, stream, families, seed) -> np.ndarray:
    """Per-item correctness of a linear probe on frozen features, over the clean tasks
    (in the fixed order of ``CLEAN_FAMILIES``, whatever the stream order).

    The probe is fitted once on clean training features and tested on every
    clean task's test images under that task's augmentation (one fixed draw).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    model.eval()
    task0 = stream[0]
    f_tr = model(task0.X_train).numpy().astype(np.float64)
    sc = StandardScaler().fit(f_tr)
    clf = LogisticRegression(max_iter=500).fit(sc.transform(f_tr), task0.y_train.numpy())
    out = []
    for fam in CLEAN_FAMILIES:
        g = torch.Generator().manual_seed(stream_seed(seed, "mtl-vs-cl", "probe", fam))
        X = augment(task0.X_test, fam, g)
        pred = clf.predict(sc.transform(model(X).numpy().astype(np.float64)))
        out.append((pred == task0.y_test.numpy()).astype(np.float64))
    return np.concatenate(out)


class _Multitask(Joint):
    """Multitask SSL over minibatches that mix the tasks (Joint's batches).

    The loss of a mixed batch is the SimSiam loss of every sample under its
    own task's augmentation family, averaged over the batch: Joint's
    count-weighted sum of per-task losses (the cosine term is a mean over
    samples and the network has no batch statistics; the variance term is
    taken over the mixed batch), computed in one pass of the network.
    """

    def __init__(self, model, *, families, variance_weight: float, covariance_weight: float,
                 seed: int, **kwargs):
        super().__init__(model, seed=seed, **kwargs)
        self._families = list(families)
        self._vw = variance_weight
        self._cw = covariance_weight
        self._gen = torch.Generator().manual_seed(stream_seed(seed, "mtl-vs-cl", "multitask"))

    def batch_loss(self, X, y, task_ids):
        v1, v2 = torch.empty_like(X), torch.empty_like(X)
        for t in torch.unique(task_ids).tolist():
            m = (task_ids == t).to(X.device)
            v1[m] = augment(X[m], self._families[t], self._gen)
            v2[m] = augment(X[m], self._families[t], self._gen)
        return simsiam_loss(self.model, v1, v2, self._vw, self._cw)


def _paired_interval(a: np.ndarray, b: np.ndarray, seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(stream_seed(seed, "mtl-vs-cl", "bootstrap"))
    d = a - b
    idx = rng.integers(0, d.size, size=(2000, d.size))
    lo, hi = np.quantile(d[idx].mean(1), [0.025, 0.975])
    return float(lo), float(hi)


def run(settings: MtlVsClSettings = QUICK, seed: int = 0) -> Result:
    import matplotlib.pyplot as plt

    res = Result(seed=seed)
    order = task_order(seed)
    stream = augmentation_stream(order, seed=seed, dataset=settings.dataset,
                                 n_train=settings.n_train, n_test=settings.n_test,
                                 side=settings.side)
    clean = [t for t in stream if t.name != ADVERSARIAL]
    d = settings.side ** 2

    def model():
        return SimSiam(d, backbone="conv", seed=stream_seed(seed, "mtl-vs-cl", "init"))

    common: dict[str, Any] = dict(epochs=settings.epochs, lr=settings.lr, momentum=0.9,
                                  batch_size=64, seed=seed, evaluator=no_evaluation)
    with one_torch_thread():
        cl = GPM(model(), threshold=0.97,
                 representation_forward=ssl_representation_forward(order, seed),
                 objective=ssl_objective(order, seed, settings.variance_weight,
                                         settings.covariance_weight), **common)
        for t in stream:
            cl.train(t)
        mt = dict(families=order, variance_weight=settings.variance_weight,
                  covariance_weight=settings.covariance_weight, **common)
        mtl = _Multitask(model(), **mt).train_all(list(stream))
        mtl_clean = _Multitask(model(), **mt).train_all(clean)
        items = {"random init": _probe_items(model(), stream, order, seed),
                 "continual (GPM)": _probe_items(cl.model, stream, order, seed),
                 "multitask": _probe_items(mtl.model, stream, order, seed),
                 "multitask without adversarial": _probe_items(mtl_clean.model, stream, order,
                                                               seed)}
    n_test = len(stream[0].y_test)
    per_task = {k: v.reshape(len(CLEAN_FAMILIES), n_test).mean(1) for k, v in items.items()}
    for k, v in per_task.items():
        for fam, a in zip(CLEAN_FAMILIES, v, strict=True):
            res.metrics[f"{k}_{fam}_probe_accuracy"] = float(a)
        res.metrics[f"{k}_mean_probe_accuracy"] = float(v.mean())
    res.metrics["adversarial_task_position"] = float(order.index(ADVERSARIAL))
    for k in ("multitask without adversarial", "continual (GPM)", "multitask"):
        gain = items[k] - items["random init"]
        lo, hi = _paired_interval(items[k], items["random init"], seed)
        tag = k.replace(" ", "_").replace("(", "").replace(")", "")
        res.metrics[f"precondition_ssl_gain_{tag}"] = float(gain.mean())
        res.metrics[f"precondition_ssl_gain_{tag}_low"] = lo
        res.metrics[f"precondition_ssl_gain_{tag}_high"] = hi

    pre = ("; the precondition_ssl_gain_* metrics (per seed, with intervals) give how far "
           "the SSL features beat random-init ones: where they barely do, there is little "
           "learned invariance for the shuffle task to destroy or for GPM to keep")
    res.compare("adversarial_task_hurts_multitask", items["multitask without adversarial"],
                items["multitask"], better="higher", claim="adversarial_task_hurts_multitask",
                known_gap="multitask without the shuffle task probes at {ours:.3f} and with it "
                          "at {baseline:.3f} (difference {diff:+.3f}, interval [{low:+.3f}, "
                          "{high:+.3f}] over {n} probe predictions)" + pre,
                description="per-item linear-probe correctness on the five clean tasks' test "
                            "images, multitask without the shuffle task vs multitask with it")
    res.compare("continual_beats_multitask", items["continual (GPM)"], items["multitask"],
                better="higher", claim="continual_beats_multitask",
                known_gap="continual (GPM) probes at {ours:.3f} and multitask at {baseline:.3f} "
                          "(difference {diff:+.3f}, interval [{low:+.3f}, {high:+.3f}] over "
                          "{n} probe predictions): the continual learner's outcome varies "
                          "strongly with the seed and its task order (the per-seed mean probe "
                          "accuracies and adversarial_task_position); in some orders it ends "
                          "below multitask (a likely cause, not isolated here: GPM also "
                          "protects what the shuffle task learned, which constrains the later "
                          "tasks)" + pre,
                description="per-item linear-probe correctness on the five clean tasks' test "
                            "images, continual (GPM, shuffle task at a random position, not "
                            "last) vs multitask on all six")

    fig, ax = plt.subplots(figsize=(7, 3.6))
    w = 0.2
    for i, (k, v) in enumerate(per_task.items()):
        ax.bar(np.arange(len(CLEAN_FAMILIES)) + (i - 1.5) * w, v, w, label=k)
    ax.set_xticks(range(len(CLEAN_FAMILIES)), CLEAN_FAMILIES)
    ax.set_ylabel("linear-probe accuracy")
    ax.set_title(f"continual vs multitask SSL, order {' > '.join(order)}", fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    res.figures["probe_accuracy"] = fig
    return res


EXPERIMENT = register(Experiment(
    "mtl-vs-cl", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="MNIST (real, 14x14 average-pooled), six augmentation-invariance tasks, the adversarial "
         "pixel shuffle at a random position (not last) per seed",
    full_scale="SimSiam ResNet-18s on MNIST, CIFAR-10 and CIFAR-100 for a few hundred epochs "
               "per task, with the adversarial task at several positions; about a GPU day",
))
