"""``d3m``: a dataset distilled into one conditioning vector per class of a frozen generator.

The paper inverts Stable Diffusion's text encoder (textual inversion); here
the "foundation model" is mintlab's small conditional VAE
(:class:`~mintlab.distill.PromptVAE`), pre-trained on glyph classes
100-199, disjoint from the 100 target classes, and frozen. The distilled set
is the learned vectors (16 float32 numbers each) and one seed; the student
(the same protocol as every distillation experiment: a ConvNet from scratch,
150 epochs) trains on 4 images per class (8 in full mode) generated
afresh at every epoch,
with the vector's class as hard label. Compared with one real image per
class (256 B of 8-bit pixels + a label byte), chosen at random or by herding
in the teacher's features: D3M with one vector per class stores a quarter
of that, with four vectors per class (hard-EM assignment of the real images
to copies of the one-vector result) the same bytes.
Scaled down from ImageNet and Stable Diffusion to 16x16 glyphs and a VAE
pre-trained in about a minute.
"""

from __future__ import annotations

import torch

from mintlab.distill import d3m, herding, pretrain_generator, random_subset

from ._core import Experiment, Result
from ._distill_common import evaluate_sets, scatter_bytes_accuracy, setup, single_threaded
from .registry import register

CLAIM = (
    "At an equal storage budget, a dataset distilled into learned prompts of a pretrained "
    "generator (images generated at training time) trains a better student than a random "
    "real subset or a herding coreset."
)


@single_threaded
def run(quick: bool, seed: int) -> Result:
    import matplotlib.pyplot as plt

    res = Result()
    data, teacher, X, y = setup("glyphs", seed, res)
    gen = pretrain_generator("prompt", seed=seed)
    steps = 100 if quick else 600  # textual inversion; 80 steps is visibly underconverged
    per = 4 if quick else 8  # generated images per class and epoch, the same for both
    one = d3m(X, y, gen, vectors_per_class=1, steps=steps, per_epoch=per, seed=seed)
    # four vectors per class refine copies of the one-vector result (its first stage)
    sets = {"d3m_1v": one,
            "d3m_4v": d3m(X, y, gen, vectors_per_class=4, steps=steps // 2, per_epoch=per,
                          seed=seed, init=one.extra["vectors"]),
            "random_1ipc": random_subset(X, y, 1, seed=seed),
            "herding_1ipc": herding(X, y, 1, teacher.features)}
    acc, nbytes = evaluate_sets(res, sets, data, seed)
    with torch.no_grad():  # how recognisable the generated images are
        for name in ("d3m_1v", "d3m_4v"):
            Xs, ys = sets[name].sampler(0)
            res.metrics[f"teacher_accuracy_on_{name}_samples"] = float(
                (teacher(Xs).argmax(1) == ys).float().mean())
    gap = ("The generator is the bottleneck at this scale: a 16-number prompt of a VAE "
           "pre-trained on 100 other glyph classes reproduces a new class only roughly (the "
           "teacher recognises {:.0%} of its samples), while one real image chosen by herding "
           "is a clean template; measured quick: D3M {:.3f} vs {} {:.3f}.")
    for name, base in (("d3m_1v", "random_1ipc"), ("d3m_4v", "random_1ipc"),
                       ("d3m_1v", "herding_1ipc"), ("d3m_4v", "herding_1ipc")):
        known = None
        if name == "d3m_1v" and base == "random_1ipc":
            known = (f"One vector per class stores a quarter of the bytes and its samples "
                     f"vary little ({acc[name]:.3f} vs {acc[base]:.3f}); the paper's claim is "
                     f"at equal storage (d3m_4v).")
        if name == "d3m_4v" and base == "random_1ipc":
            known = (f"Within run-to-run variation at this scale: {acc[name]:.3f} vs "
                     f"{acc[base]:.3f} here; over two seeds and two random streams of the "
                     f"copies' perturbation, four vectors measured 0.462-0.501 against random "
                     f"0.474-0.495, so neither is reliably ahead.")
        if base == "herding_1ipc":
            known = gap.format(res.metrics[f"teacher_accuracy_on_{name}_samples"], acc[name],
                               base, acc[base])
        res.check(f"{name}_beats_{base.split('_')[0]}", acc[name], acc[base], ">",
                  known_gap=known,
                  description=f"accuracy, {name} ({nbytes[name]:,.0f} B) vs {base} "
                              f"({nbytes[base]:,.0f} B)")
    res.check("d3m_1v_stores_quarter", nbytes["d3m_1v"] / nbytes["random_1ipc"], 0.26, "<=",
              description="bytes of one vector per class / bytes of one 8-bit image per class")

    fig, ax = plt.subplots(1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": [1, 1.3]})
    scatter_bytes_accuracy(ax[0], acc, nbytes, "student accuracy (100 classes)")
    Xs, _ = sets["d3m_4v"].sampler(0)
    s = data["image_size"]
    grid = Xs.view(data["n_classes"], -1, s, s)[:8, :4].permute(1, 2, 0, 3).reshape(4 * s, 8 * s)
    real = torch.stack([X[y == c][0] for c in range(8)], 0).permute(1, 0, 2).reshape(s, 8 * s)
    ax[1].imshow(torch.cat([real, grid]).numpy(), cmap="gray")
    ax[1].set_title("top: a real image per class; below: D3M samples", fontsize=8)
    ax[1].axis("off")
    fig.tight_layout()
    res.figures["d3m"] = fig
    return res


EXPERIMENT = register(Experiment(slug="d3m", claim=CLAIM, run=run))
