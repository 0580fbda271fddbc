"""``conqur``: corner-aligned rotations for W4A4 activation quantisation, on the testbed LM.

Every block linear layer of the testbed GPT (``tiny`` in quick mode; head
kept in float) is fake-quantised to 4-bit weights (per output channel) and
4-bit activations (per token), round to nearest, with no rotation, a random
orthogonal rotation, QuaRot's randomised Hadamard, and ConQuR's rotations
(initialised at the same Hadamard, then two online passes over the 16
calibration batches with the model already quantised). Also reported: W8A8
with no rotation (near lossless), and ConQuR's calibration memory (the
``d x d`` sums and rotations) against storing the calibration activations.

Scaled down from the paper's Llama-2 / Llama-3 models (3B-70B).
"""

from __future__ import annotations

from mintlab.compress.quant import quantize_model

from ._core import Experiment, Result
from ._llm_common import single_threaded, start
from .registry import register

CLAIM = (
    "Rotations learned online by Procrustes updates towards the corners of the hypercube, "
    "without storing activations, quantise activations to 4 bits with lower perplexity than "
    "no rotation and than random or Hadamard rotations."
)

ROTATIONS = ("none", "random", "hadamard", "conqur")


@single_threaded
def run(quick: bool, seed: int) -> Result:
    import matplotlib.pyplot as plt

    res, model, calib, ppl, size = start(quick, seed)
    dense = res.metrics["dense_perplexity"]
    table, report = {}, None
    for rot in ROTATIONS:
        qm, rep = quantize_model(model, w_bits=4, a_bits=4, rotation=rot, calibration=calib,
                                 exclude="head", seed=seed, epochs=2 if quick else 3)
        table[rot] = ppl(qm)
        res.metrics[f"ppl_w4a4_{rot}"] = table[rot]
        if rot == "conqur":
            report = rep
    q8, _ = quantize_model(model, w_bits=8, a_bits=8, rotation="none", exclude="head")
    res.metrics["ppl_w8a8_none"] = ppl(q8)
    align = report.corner_alignment
    res.metrics["corner_alignment_start"] = sum(a for a, _ in align.values()) / len(align)
    res.metrics["corner_alignment_end"] = sum(b for _, b in align.values()) / len(align)
    res.metrics["conqur_calibration_s"] = report.calibration_seconds
    res.metrics["conqur_state_bytes"] = report.calibration_state_bytes
    res.metrics["stored_activation_bytes"] = report.stored_activation_bytes

    res.check("conqur_beats_hadamard", table["conqur"], table["hadamard"], "<",
              description="W4A4 perplexity: ConQuR vs randomised Hadamard (QuaRot)")
    res.check("conqur_beats_random", table["conqur"], table["random"], "<",
              description="W4A4 perplexity: ConQuR vs random orthogonal rotation")
    res.check("rotation_beats_none", table["hadamard"], table["none"], "<",
              description="W4A4 perplexity: Hadamard rotation vs no rotation")
    res.check("calibration_memory_tenfold_smaller", report.calibration_state_bytes,
              report.stored_activation_bytes / 10, "<=",
              description="bytes ConQuR keeps during calibration vs 1/10 of the stored activations")
    res.check("w8a8_near_lossless", res.metrics["ppl_w8a8_none"] / dense, 1.01, "<=",
              description="W8A8 (no rotation) perplexity relative to float")
    res.check("corner_alignment_increases", res.metrics["corner_alignment_end"],
              res.metrics["corner_alignment_start"], ">",
              description="mean cosine of rotated activations to their nearest corner, end vs "
                          "start of calibration")

    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.bar(range(len(ROTATIONS)), [table[r] for r in ROTATIONS], color="tab:blue")
    ax.axhline(dense, color="k", ls=":", lw=0.8, label="float")
    ax.set_xticks(range(len(ROTATIONS)), ROTATIONS)
    ax.set_ylim(bottom=dense * 0.98)
    ax.set_ylabel("test perplexity (per byte)")
    ax.set_title(f"W4A4 with rotations ({size} testbed)")
    ax.legend()
    fig.tight_layout()
    res.figures["conqur"] = fig
    return res


EXPERIMENT = register(Experiment(slug="conqur", claim=CLAIM, run=run))
