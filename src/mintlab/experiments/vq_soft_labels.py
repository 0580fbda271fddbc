"""``vq-soft-labels``: compressing the soft labels of a distilled set with a VQ autoencoder.

On 100 procedural glyph classes (16x16; a ConvNet teacher trained on 30
images per class), the SRe2L / RDED recipe keeps the teacher-confident real
images (1 per class in quick mode, 2 in full) and the teacher's soft labels
(temperature 4) of 30 augmented views each: 3,000 (6,000) label vectors of
100 classes, 1.2 MB (2.4 MB) as float32 against 25 KB (51 KB) of images, so
the labels dominate the storage as they do at ImageNet scale. The labels are
stored raw and as VQ codes (2 codebooks of 256 entries: 16 bits per label,
plus the decoder and the codebooks in float16), and, at no fewer bytes than
the VQ codes, by three baselines: top-k (the smallest k that stores at least
as much), b-bit quantisation (likewise the smallest b) and PCA of the
log-probabilities (the smallest number of components). Each is evaluated by
the same student protocol (a ConvNet from scratch, per-item correctness on
1,000 held-out glyphs).

Claims, each judged item by item on the test glyphs (paired bootstrap):

1. ``retains_90pct``: the student on VQ labels keeps over 90% of the accuracy
   of the student on uncompressed labels: per item, VQ correctness minus 0.9
   times raw correctness, whole interval above 0 (the compression factor at
   which this holds is recorded as ``vq_compression_factor``);
2. ``compression_preserves_effectiveness``: the VQ labels beat each baseline
   codec that stores at least as many bytes.

Scaled down from ImageNet-1K (where the decoder and codebooks are negligible
beside the codes) and the paper's 30-40x.
"""

from __future__ import annotations

from dataclasses import dataclass

from mintlab.distill import (
    QuantizedLabels,
    RawLabels,
    TopKLabels,
    VQLabels,
    random_subset,
    relabel,
)

from ._core import Experiment, Result, Settings
from ._distill_common import (
    LogPCALabels,
    evaluate_items,
    scatter_bytes_accuracy,
    setup,
    single_threaded,
    smallest_at_least,
)
from .registry import register

CLAIMS = {
    "retains_90pct":
        "On ImageNet-1K, our proposed VQAE achieves 30-40x additional compression over RDED, "
        "LPLD, SRE2L, and CDA baselines while retaining over 90% of their original "
        "performance.",
    "compression_preserves_effectiveness":
        "We introduce a vector-quantized autoencoder (VQAE) for compressing soft labels, "
        "achieving substantial compression while preserving the effectiveness of the "
        "distilled data.",
}

N_VIEWS = 30  # augmented views per image, each with a stored soft label
TEMPERATURE = 4.0  # the teacher's temperature for the soft labels and the student's KL
RETAINED = 0.9  # the share of the raw labels' accuracy the paper keeps


@dataclass(frozen=True, kw_only=True)
class VQSettings(Settings):
    ipc: int  # real images per class in the relabelled set
    vq_steps: int  # training steps of the VQ autoencoder
    student_epochs: int  # epochs of every student trained from scratch


QUICK = VQSettings(seeds=1, ipc=1, vq_steps=400, student_epochs=60)
FULL = VQSettings(seeds=3, ipc=2, vq_steps=4000, student_epochs=150)
EXPECTED = "reproduced"


@single_threaded
def run(settings: VQSettings = QUICK, seed: int = 0) -> Result:
    import matplotlib.pyplot as plt

    res = Result(seed=seed)
    data, teacher, X, y = setup("glyphs", seed, res)
    epochs = settings.student_epochs
    ds = relabel(X, y, settings.ipc, teacher, n_views=N_VIEWS, temperature=TEMPERATURE,
                 seed=seed)
    P = ds.soft_labels.decode()
    image_bytes = ds.storage_bytes - len(ds.soft_labels.payload())
    vq = VQLabels(P, steps=settings.vq_steps, seed=seed)
    budget = len(vq.payload())
    k_top, top = smallest_at_least(lambda k: TopKLabels(P, k), budget, range(1, P.shape[-1]))
    bits, quant = smallest_at_least(lambda b: QuantizedLabels(P, b), budget, range(1, 17))
    k_pca, pca = smallest_at_least(lambda k: LogPCALabels(P, k), budget,
                                   range(1, P.shape[-1] + 1))
    codecs = {"raw": RawLabels(P), "vqae": vq, f"top{k_top}": top, f"{bits}bit": quant,
              f"logpca{k_pca}": pca}
    items, label_bytes = {}, {}
    for name, codec in codecs.items():
        ds.soft_labels = codec
        items[name] = evaluate_items(ds, data, epochs=epochs, seed=seed,
                                     temperature=TEMPERATURE)
        label_bytes[name] = len(codec.payload())
        res.metrics[f"accuracy_{name}"] = float(items[name].mean())
        res.metrics[f"label_bytes_{name}"] = label_bytes[name]
    acc = {n: float(v.mean()) for n, v in items.items()}
    res.metrics["image_bytes"] = image_bytes
    res.metrics["label_share_of_raw_storage"] = label_bytes["raw"] / (label_bytes["raw"]
                                                                      + image_bytes)
    res.metrics["accuracy_hard_labels_random"] = float(evaluate_items(
        random_subset(X, y, settings.ipc, seed=seed), data, epochs=epochs, seed=seed).mean())
    factor = label_bytes["raw"] / label_bytes["vqae"]
    res.metrics["vq_compression_factor"] = factor
    res.metrics["vq_over_raw_accuracy"] = acc["vqae"] / acc["raw"]

    res.compare("vq_keeps_90pct_of_raw_accuracy", items["vqae"], RETAINED * items["raw"],
                claim="retains_90pct",
                description=f"per-glyph correctness with VQ-coded labels ({factor:.0f}x fewer "
                            f"label bytes) vs {RETAINED} x correctness with float32 labels")
    for kind, name in (("topk", f"top{k_top}"), ("quantized", f"{bits}bit"),
                       ("logpca", f"logpca{k_pca}")):
        res.compare(f"vq_beats_{kind}_at_equal_bytes", items["vqae"], items[name],
                    claim="compression_preserves_effectiveness",
                    description=f"per-glyph correctness: VQ labels ({label_bytes['vqae']:,} B) "
                                f"vs {name} ({label_bytes[name]:,} B, the smallest setting with "
                                f"at least VQ's bytes)")

    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    scatter_bytes_accuracy(ax, acc, label_bytes, "student accuracy (100 classes)")
    ax.axhline(res.metrics["accuracy_hard_labels_random"], color="k", ls=":", lw=0.8)
    ax.set_xlabel("soft-label bytes stored")
    ax.set_title("Soft-label storage vs accuracy (dotted: hard labels)")
    fig.tight_layout()
    res.figures["vq_soft_labels"] = fig
    return res


EXPERIMENT = register(Experiment(
    "vq-soft-labels", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="procedural glyphs: 100 classes, 16x16, a ConvNet teacher trained on 30 per class",
    full_scale="ImageNet-1K distilled sets (RDED, SRe2L, LPLD, CDA) with a ResNet teacher's "
               "soft labels for hundreds of augmented views per image, and a language "
               "distillation benchmark",
))
