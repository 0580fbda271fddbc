"""``kd-dd-survey``: the knowledge- and dataset-distillation catalogue on 8x8 digits.

Dataset distillation at 5 images per class (50 images), every set evaluated
by one protocol: a fresh ConvNet trained from scratch on it with seeded
augmentation, per-item correctness on the held-out digits, and the bytes
stored (8-bit pixels, labels, soft labels as float32). Methods: a random real
subset, herding in the teacher's feature space, gradient matching (dataset
condensation), distribution matching, and the SRe2L / RDED recipe
(teacher-confident images + the teacher's soft labels of 30 augmented views,
temperature 4). Knowledge distillation on the same 50 random images: hard
labels (cross-entropy) against the teacher's soft targets on every augmented
view the student sees (temperature 4), and, as metrics, KD + FitNets hints
and KD + RKD.

Three claims of the abstract, each judged item by item on the test digits
(paired over items and seeds, 95% bootstrap interval of the accuracy
difference above 0):

1. ``dd_synthesizes_compact_sets``: gradient matching and distribution
   matching each beat a random real subset of the same size (the same bytes);
2. ``kd_preserves_capability``: the KD student beats the hard-label student on
   the same 50 images;
3. ``kd_dd_integration``: the relabelled set (DD images + KD soft labels)
   beats a random real subset with hard labels that stores at least as many
   bytes (the soft labels cost storage, so the real subset gets more images).

Scaled down from the survey's LLM setting to digits and ConvNets (the
survey's DD techniques are the image-domain originals).
"""

from __future__ import annotations

from dataclasses import dataclass

from mintlab.distill import (
    DistilledSet,
    distribution_matching,
    gradient_matching,
    herding,
    random_subset,
    relabel,
    soft_labels_for_views,
    train_student_kd,
)
from mintlab.distill.labels import RawLabels

from ._core import Experiment, Result, Settings
from ._distill_common import (
    equal_budget_ipc,
    evaluate_sets,
    hard_label_bytes,
    setup,
    single_threaded,
)
from .registry import register

CLAIMS = {
    "dd_synthesizes_compact_sets":
        "DD techniques synthesize compact, high-impact datasets through optimization-based "
        "gradient matching, latent space regularization, and generative synthesis.",
    "kd_preserves_capability":
        "Knowledge Distillation (KD) and Dataset Distillation (DD) are both aimed at "
        "compressing LLMs while preserving their advanced reasoning capabilities and "
        "linguistic diversity.",
    "kd_dd_integration":
        "Integrating KD and DD can produce more effective and scalable compression "
        "strategies.",
}

IPC = 5  # images per class of every distilled set
N_VIEWS = 30  # augmented views with stored soft labels in the relabelled set
TEMPERATURE = 4.0  # distillation temperature of the soft labels and of KD


@dataclass(frozen=True, kw_only=True)
class KDDDSettings(Settings):
    student_epochs: int  # epochs of every student trained from scratch
    gm_iterations: int  # outer iterations of gradient matching
    dm_iterations: int  # outer iterations of distribution matching


QUICK = KDDDSettings(seeds=1, student_epochs=60, gm_iterations=40, dm_iterations=80)
FULL = KDDDSettings(seeds=5, student_epochs=150, gm_iterations=200, dm_iterations=400)
EXPECTED = "partly reproduced (1 of 3)"


@single_threaded
def run(settings: KDDDSettings = QUICK, seed: int = 0) -> Result:
    import matplotlib.pyplot as plt

    res = Result(seed=seed)
    data, teacher, X, y = setup("digits", seed, res, teacher_epochs=30)
    k, size = data["n_classes"], data["image_size"]
    epochs = settings.student_epochs
    base = random_subset(X, y, IPC, seed=seed)
    assert base.images is not None and base.labels is not None  # a subset stores both
    sets = {
        "random": base,
        "herding": herding(X, y, IPC, teacher.features),
        "gradient-matching": gradient_matching(X, y, IPC, image_size=size,
                                               iterations=settings.gm_iterations, seed=seed),
        "distribution-matching": distribution_matching(X, y, IPC, image_size=size,
                                                       iterations=settings.dm_iterations,
                                                       seed=seed),
        "relabel": relabel(X, y, IPC, teacher, n_views=N_VIEWS, temperature=TEMPERATURE,
                           seed=seed),
    }
    # the hard-label real subset with at least the relabelled set's bytes
    ipc_eq = equal_budget_ipc(sets["relabel"].storage_bytes, k, size)
    sets[f"random_{ipc_eq}ipc"] = random_subset(X, y, ipc_eq, seed=seed)
    # KD: the teacher's soft targets on every augmented view the student trains on (one view
    # per epoch), on the same 50 images as the hard-label student
    kd = DistilledSet("kd", base.images, None, k, view_base_seed=seed)
    assert kd.images is not None
    kd.soft_labels = RawLabels(soft_labels_for_views(teacher, kd.images, epochs, seed,
                                                     TEMPERATURE))
    sets["kd"] = kd
    soft = {"relabel", "kd"}
    items, nbytes = evaluate_sets(res, sets, data, seed, epochs=epochs,
                                  temperature=lambda n: TEMPERATURE if n in soft else 1.0)
    acc = {n: float(v.mean()) for n, v in items.items()}
    res.metrics["equal_budget_ipc"] = ipc_eq
    res.metrics["relabel_over_hard_label_bytes"] = (
        nbytes["relabel"] / hard_label_bytes(k, size, IPC))

    for name in ("gradient-matching", "distribution-matching"):
        res.compare(f"{name.replace('-', '_')}_beats_random", items[name], items["random"],
                    claim="dd_synthesizes_compact_sets",
                    description=f"per-digit correctness of a student trained on {IPC} images "
                                f"per class: {name} vs a random real subset (same bytes)")
    res.compare("kd_beats_hard_labels", items["kd"], items["random"],
                claim="kd_preserves_capability",
                known_gap="The KD student's gain over hard labels on 50 digits is within the "
                          "resolution of this run ({n} test-digit samples): {ours:.3f} vs "
                          "{baseline:.3f}, interval of the difference [{low:.3f}, {high:.3f}].",
                description=f"per-digit correctness on the same {IPC * k} random images: the "
                            f"teacher's soft targets (T={TEMPERATURE:g}) on every augmented view "
                            f"vs hard labels")
    res.compare("relabel_beats_real_subset_at_equal_bytes", items["relabel"],
                items[f"random_{ipc_eq}ipc"], claim="kd_dd_integration",
                known_gap=f"At equal storage the real images win: the relabelled set "
                          f"({{ours:.3f}}) stores {N_VIEWS} float32 soft labels per image, "
                          f"which buy a hard-label subset of many more real digits "
                          f"({{baseline:.3f}}); difference {{diff:.3f}}, interval "
                          f"[{{low:.3f}}, {{high:.3f}}].",
                description=f"per-digit correctness: relabelled set ({IPC} images per class + "
                            f"{N_VIEWS} soft-label views) vs a random real subset with hard "
                            f"labels of at least its bytes")

    # feature-based KD on the same images (the survey's catalogue; metrics)
    for mode in ("kd+hint", "kd+rkd"):
        res.metrics[f"kd_accuracy_{mode}"] = train_student_kd(
            data, base.images, base.labels, teacher, mode=mode, epochs=epochs, seed=seed)

    fig, ax = plt.subplots(1, 2, figsize=(11, 3.6))
    names = list(acc)
    ax[0].bar(range(len(names)), [acc[n] for n in names])
    ax[0].set_xticks(range(len(names)), names, rotation=25, fontsize=7)
    ax[0].set_ylim(min(acc.values()) - 0.05, 1)
    ax[0].axhline(res.metrics["teacher_accuracy"], color="k", ls=":", lw=0.8,
                  label="teacher (all data)")
    ax[0].set_ylabel("student accuracy")
    ax[0].legend(fontsize=7)
    for n in names:
        if n != "kd":  # KD queries the teacher; it stores no set
            ax[1].scatter(nbytes[n], acc[n], label=n)
    ax[1].set_xscale("log")
    ax[1].set_xlabel("bytes stored")
    ax[1].set_ylabel("accuracy")
    ax[1].legend(fontsize=7)
    fig.tight_layout()
    res.figures["kd_dd_survey"] = fig
    return res


EXPERIMENT = register(Experiment(
    "kd-dd-survey", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="scikit-learn digits 8x8 (real), a ConvNet teacher trained on the seed's split",
    full_scale="the survey's setting: an LLM teacher (e.g. SmolLM2-135M) distilled into a small "
               "LM on text, with token-level vs sequence-level KD and a text DD subset at an "
               "equal token budget, soft-label storage counted",
))
