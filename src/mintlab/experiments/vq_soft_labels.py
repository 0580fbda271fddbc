"""``vq-soft-labels``: compressing the soft labels of a distilled set with a VQ autoencoder.

On 100 procedural glyph classes (16x16; a ConvNet teacher trained on 30
images per class), the SRe2L / RDED recipe keeps 2 images per class and the
teacher's soft labels (temperature 4) of 30 augmented views each: 6,000
label vectors of 100 classes, 2.4 MB as float32 against 51 KB of images;
the labels dominate the storage as they do at ImageNet scale. The labels
are stored raw, as top-k, 4- and 1-bit quantised, by PCA, and as VQ codes
(2 codebooks of 256 entries: 16 bits per label, plus the decoder and the
codebooks in float16). Each is evaluated by the same student protocol
(150 epochs from scratch). Scaled down from ImageNet-1K and the paper's
30-40x.
"""

from __future__ import annotations

from mintlab.distill import (
    PCALabels,
    QuantizedLabels,
    RawLabels,
    TopKLabels,
    VQLabels,
    evaluate,
    random_subset,
    relabel,
)

from ._core import Experiment, Result
from ._distill_common import EPOCHS, scatter_bytes_accuracy, setup, single_threaded
from .registry import register

CLAIM = (
    "A vector-quantised autoencoder over teacher soft labels keeps over 90% of the accuracy of "
    "uncompressed soft labels at a fraction of their storage, and beats top-k, low-bit and PCA "
    "label compression at equal or larger storage."
)


@single_threaded
def run(quick: bool, seed: int) -> Result:
    import matplotlib.pyplot as plt

    res = Result()
    data, teacher, X, y = setup("glyphs", seed, res)
    ds = relabel(X, y, 2, teacher, n_views=30, temperature=4.0, seed=seed)
    P = ds.soft_labels.decode()
    image_bytes = ds.storage_bytes - len(ds.soft_labels.payload())
    codecs = {"raw": RawLabels(P), "top1": TopKLabels(P, 1), "top3": TopKLabels(P, 3),
              "8bit": QuantizedLabels(P, 8), "4bit": QuantizedLabels(P, 4),
              "1bit": QuantizedLabels(P, 1), "pca5": PCALabels(P, 5),
              "vqae": VQLabels(P, steps=1500 if quick else 4000, seed=seed)}
    acc, label_bytes = {}, {}
    for name, codec in codecs.items():
        ds.soft_labels = codec
        r = evaluate(ds, data, epochs=EPOCHS, seed=seed, temperature=4.0)
        acc[name] = r["accuracy"]
        label_bytes[name] = len(codec.payload())
        res.metrics[f"accuracy_{name}"] = acc[name]
        res.metrics[f"label_bytes_{name}"] = label_bytes[name]
    res.metrics["image_bytes"] = image_bytes
    res.metrics["accuracy_hard_labels_random_2ipc"] = evaluate(
        random_subset(X, y, 2, seed=seed), data, epochs=EPOCHS, seed=seed)["accuracy"]
    res.metrics["vq_compression_factor"] = label_bytes["raw"] / label_bytes["vqae"]
    res.check("vq_keeps_90pct_of_accuracy", acc["vqae"] / acc["raw"], 0.9, ">=",
              description="student accuracy with VQ-coded labels / with float32 labels")
    res.check("vq_labels_10x_smaller", res.metrics["vq_compression_factor"], 10, ">=",
              description="float32 label bytes / VQ label bytes (codes + decoder + codebooks)")
    for base in ("top1", "top3", "1bit", "pca5"):
        res.check(f"vq_beats_{base}", acc["vqae"], acc[base], ">",
                  description=f"accuracy, VQ ({label_bytes['vqae']:,} B) vs {base} "
                              f"({label_bytes[base]:,} B)")

    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    scatter_bytes_accuracy(ax, acc, label_bytes, "student accuracy (100 classes)")
    ax.set_xlabel("soft-label bytes stored")
    ax.set_title("Soft-label storage vs accuracy")
    fig.tight_layout()
    res.figures["vq_soft_labels"] = fig
    return res


EXPERIMENT = register(Experiment(slug="vq-soft-labels", claim=CLAIM, run=run))
