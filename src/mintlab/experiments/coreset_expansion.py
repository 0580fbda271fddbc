"""``coreset-expansion``: a low-resolution patch coreset, expanded by a generator in training.

Stage 1 keeps, per class, the 4 candidate patches (whole images and 75%
crops of the 30 training images) the teacher recognises best, at half
resolution (8x8, 8-bit): 256 pixel bytes per class, those of one full 16x16
image (``pixel_bytes_ratio``, a metric). Stage 2 expands them at every epoch
with mintlab's super-resolution VAE (:class:`~mintlab.distill.SuperResVAE`,
pre-trained once on glyph classes 100-199, disjoint from the targets): 2x
upsampling plus latent noise (controlled variability). Every arm trains the
same student (the protocol of every distillation experiment) with the same
seeded augmentation of the images it sees each epoch: the expanded coreset,
the coreset alone (bilinear upsampling), the coreset expanded without
variability (noise 0), and one random real image per class.

Claims, judged item by item on 1,000 held-out glyphs (paired bootstrap,
interval of the accuracy difference above 0):

1. ``beats_real_subsets``: at equal storage, the expanded coreset beats one
   random real image per class (the paper reports over 10% over the state of
   the art; we test a plain improvement over real images);
2. ``expansion_helps``: the generator's expansion beats the coreset alone,
   and its controlled variability beats the same expansion without noise.

Scaled down from ImageNet and a diffusion upsampler to 16x16 glyphs and a
small VAE.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mintlab.distill import (
    bilinear_coreset,
    coreset_expansion,
    patch_coreset,
    pretrain_generator,
    random_subset,
)

from ._core import Experiment, Result, Settings
from ._distill_common import draw, evaluate_sets, scatter_bytes_accuracy, setup, single_threaded
from .registry import register

CLAIMS = {
    "beats_real_subsets":
        "We demonstrate a significant improvement of over 10% compared to the state-of-the-art "
        "on several large-scale dataset distillation benchmarks.",
    "expansion_helps":
        "We leverage a generative foundation model to dynamically expand this compressed set "
        "in real-time, enhancing the resolution of these patches and introducing controlled "
        "variability to the coreset.",
}

PATCHES = 4  # half-resolution patches kept per class (the pixel bytes of one image)


@dataclass(frozen=True, kw_only=True)
class CoresetSettings(Settings):
    student_epochs: int  # epochs of every student trained from scratch


QUICK = CoresetSettings(seeds=1, student_epochs=40)
FULL = CoresetSettings(seeds=3, student_epochs=150)
EXPECTED = "partly reproduced (1 of 2)"


@single_threaded
def run(settings: CoresetSettings = QUICK, seed: int = 0) -> Result:
    import matplotlib.pyplot as plt

    res = Result(seed=seed)
    data, teacher, X, y = setup("glyphs", seed, res)
    up = pretrain_generator("superres", seed=0)  # one public generator for every seed
    low, labels = patch_coreset(X, y, PATCHES, teacher, seed=seed)
    size = data["image_size"]
    sets = {"expansion": coreset_expansion(low, labels, up, variability=1.0, seed=seed),
            "expansion_no_variability": coreset_expansion(low, labels, up, variability=0.0,
                                                          seed=seed),
            "coreset_alone": bilinear_coreset(low, labels, size),
            "random_1ipc": random_subset(X, y, 1, seed=seed)}
    items, nbytes = evaluate_sets(res, sets, data, seed, epochs=settings.student_epochs,
                                  augment_generated=True)
    acc = {n: float(v.mean()) for n, v in items.items()}
    res.metrics["pixel_bytes_ratio"] = (len(sets["expansion"].serialize()["patches"])
                                        / len(sets["random_1ipc"].serialize()["images"]))

    res.compare("expansion_beats_random", items["expansion"], items["random_1ipc"],
                claim="beats_real_subsets",
                known_gap="At 16x16 the half-resolution patches lose strokes that a 2x upsampler "
                          "trained on other glyphs cannot restore: the expanded coreset "
                          "{ours:.3f} vs one random real image per class {baseline:.3f}, "
                          "interval of the difference [{low:.3f}, {high:.3f}]. The paper's gain "
                          "is at ImageNet resolution with a diffusion upsampler.",
                description=f"per-glyph correctness: expanded coreset ({nbytes['expansion']:,.0f}"
                            f" B) vs one random real image per class "
                            f"({nbytes['random_1ipc']:,.0f} B)")
    res.compare("expansion_beats_coreset_alone", items["expansion"], items["coreset_alone"],
                claim="expansion_helps",
                description="per-glyph correctness at equal bytes and equal augmentation: "
                            "generator-expanded vs bilinearly upsampled patches")
    res.compare("variability_helps", items["expansion"], items["expansion_no_variability"],
                claim="expansion_helps",
                description="per-glyph correctness: expansion with latent noise 1 vs the "
                            "generator's mean upsampling (noise 0), same augmentation")

    fig, ax = plt.subplots(1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": [1, 1.3]})
    scatter_bytes_accuracy(ax[0], acc, nbytes, "student accuracy (100 classes)", log=False)
    rows = [draw(sets["coreset_alone"], 0)[0][:32:4], draw(sets["expansion"], 0)[0][:32:4],
            draw(sets["expansion"], 1)[0][:32:4]]
    ax[1].imshow(torch.cat([r.permute(1, 0, 2).reshape(size, -1) for r in rows]).numpy(),
                 cmap="gray")
    ax[1].set_title("bilinear patches; two expansions (epochs 0, 1)", fontsize=8)
    ax[1].axis("off")
    fig.tight_layout()
    res.figures["coreset_expansion"] = fig
    return res


EXPERIMENT = register(Experiment(
    "coreset-expansion", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="procedural glyphs: 100 target classes, 16x16; a super-resolution VAE pre-trained on "
         "100 disjoint glyph classes",
    full_scale="ImageNet-1K and its subsets with a diffusion upsampler and an RDED-style "
               "soft-label arm, against RDED / SRe2L at equal storage",
))
