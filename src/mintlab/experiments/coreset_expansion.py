"""``coreset-expansion``: a low-resolution patch coreset, expanded by a generator in training.

Stage 1 keeps, per class, the 4 candidate patches (whole images and 75%
crops of the 30 training images) the teacher recognises best, at half
resolution (8x8, 8-bit): 256 B per class, the bytes of one full 16x16 image.
Stage 2 expands them at every epoch with mintlab's super-resolution VAE
(:class:`~mintlab.distill.SuperResVAE`, pre-trained on glyph classes
100-199, disjoint from the targets): 2x upsampling plus latent noise
(controlled variability). Compared at equal storage with the coreset alone
(bilinear upsampling), one random real image per class, and the coreset
expanded without variability (noise 0). Same student protocol as every
distillation experiment. Scaled down from ImageNet and a diffusion upsampler
to 16x16 glyphs and a small VAE.
"""

from __future__ import annotations

import torch

from mintlab.distill import (
    bilinear_coreset,
    coreset_expansion,
    patch_coreset,
    pretrain_generator,
    random_subset,
)

from ._core import Experiment, Result
from ._distill_common import evaluate_sets, scatter_bytes_accuracy, setup, single_threaded
from .registry import register

CLAIM = (
    "At equal storage, a coreset of informative low-resolution patches expanded during "
    "training by a generative model (upsampling with controlled variability) trains a better "
    "student than the coreset alone and than a random real subset."
)


@single_threaded
def run(quick: bool, seed: int) -> Result:
    import matplotlib.pyplot as plt

    res = Result()
    data, teacher, X, y = setup("glyphs", seed, res)
    up = pretrain_generator("superres", seed=seed)
    low, labels = patch_coreset(X, y, 4, teacher, seed=seed)
    size = data["image_size"]
    sets = {"expansion": coreset_expansion(low, labels, up, variability=1.0, seed=seed),
            "expansion_no_variability": coreset_expansion(low, labels, up, variability=0.0,
                                                          seed=seed),
            "coreset_alone": bilinear_coreset(low, labels, size),
            "random_1ipc": random_subset(X, y, 1, seed=seed)}
    acc, nbytes = evaluate_sets(res, sets, data, seed)
    res.check("expansion_beats_coreset_alone", acc["expansion"], acc["coreset_alone"], ">",
              description="accuracy at equal bytes: generator-expanded vs bilinear patches")
    res.check("expansion_beats_random", acc["expansion"], acc["random_1ipc"], ">",
              known_gap=f"At 16x16 the half-resolution patches lose strokes that a 2x "
                        f"upsampler trained on other glyphs cannot restore (the coreset alone "
                        f"reaches {acc['coreset_alone']:.3f}); the expansion recovers much of "
                        f"it ({acc['expansion']:.3f}) but not the full-resolution real image "
                        f"({acc['random_1ipc']:.3f}). The paper's 10% gain is at ImageNet "
                        f"resolution with a diffusion upsampler.",
              description=f"accuracy: expanded coreset ({nbytes['expansion']:,.0f} B) vs one "
                          f"random real image per class ({nbytes['random_1ipc']:,.0f} B)")
    res.check("variability_helps", acc["expansion"], acc["expansion_no_variability"], ">",
              description="expansion with latent noise 1 vs the generator's mean upsampling")
    pixels = (len(sets["expansion"].serialize()["patches"])
              / len(sets["random_1ipc"].serialize()["images"]))
    res.metrics["pixel_bytes_ratio"] = pixels
    res.check("equal_pixel_storage", pixels, 1.0, "<=",
              description="pixel bytes of the patch coreset / of one image per class (the "
                          "coreset also stores 4 label bytes per class instead of 1)")

    fig, ax = plt.subplots(1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": [1, 1.3]})
    scatter_bytes_accuracy(ax[0], acc, nbytes, "student accuracy (100 classes)", log=False)
    rows = [sets["coreset_alone"].sampler(0)[0][:32:4], sets["expansion"].sampler(0)[0][:32:4],
            sets["expansion"].sampler(1)[0][:32:4]]
    ax[1].imshow(torch.cat([r.permute(1, 0, 2).reshape(size, -1) for r in rows]).numpy(),
                 cmap="gray")
    ax[1].set_title("bilinear patches; two expansions (epochs 0, 1)", fontsize=8)
    ax[1].axis("off")
    fig.tight_layout()
    res.figures["coreset_expansion"] = fig
    return res


EXPERIMENT = register(Experiment(slug="coreset-expansion", claim=CLAIM, run=run))
