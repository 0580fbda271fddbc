"""Post-training compression: CPU latency and memory of factorised models, calibration time.

Run: ``python -m benchmarks svd`` (``--quick``: the tiny testbed size).
Writes ``benchmarks/results/svd.json``.

1. Forward latency (no grad) of the ``small`` testbed GPT (3.3 M parameters,
   context 128), dense vs compressed by SVD-LLM at 20 / 40 / 60 % parameter
   reduction (every block layer factorised, head kept), at batch 1 and 16,
   with the parameter bytes of each model; and of one 1024 x 4096 layer at
   the same ratios (batch 16 x 128 tokens), where the factorised product's
   saving is not diluted by attention and embeddings.
2. Calibration and compression time per method on the same model and 16
   calibration batches of 8 x 128 bytes (weights untrained: the time does
   not depend on them), and ConQuR's two calibration passes.
"""

from __future__ import annotations

import sys

import torch
from torch import nn

from mintlab.compress.quant import quantize_model
from mintlab.compress.svd import compress_model
from mintlab.compress.testbed import TESTBED_SIZES, ByteGPT, lm_batches

from ._timing import alternate, report

RATIOS = (0.2, 0.4, 0.6)


def _bytes(model):
    return sum(p.numel() * p.element_size() for p in model.parameters())


def main():
    quick = "--quick" in sys.argv
    torch.manual_seed(0)
    cfg = TESTBED_SIZES["tiny" if quick else "small"][0]
    model = ByteGPT(cfg).eval()
    calib = lm_batches("calibration", n_batches=16, batch_size=8, seq_len=cfg.context)
    compressed = {r: compress_model(model, "svd-llm", r, calib, exclude="head")[0]
                  for r in RATIOS}
    rows = []
    with torch.no_grad():
        for batch in (1, 16):
            x = lm_batches("test", n_batches=1, batch_size=batch, seq_len=cfg.context)[0][:, :-1]
            fns = {"dense": lambda x=x: model(x)}
            fns.update({r: (lambda m=m, x=x: m(x)) for r, m in compressed.items()})
            t = alternate(fns, repeats=7 if quick else 15, warmup=2)
            for r in RATIOS:
                rows.append({"what": "testbed GPT", "batch": batch, "ratio": r,
                             "dense_ms": 1e3 * t["dense"], "factorised_ms": 1e3 * t[r],
                             "speedup": t["dense"] / t[r], "dense_MB": _bytes(model) / 2**20,
                             "factorised_MB": _bytes(compressed[r]) / 2**20})
        lin = nn.Linear(4096, 1024).eval()
        xs = torch.randn(16 * 128, 4096)
        layer_calib = [(xs[i::4], torch.zeros(len(xs[i::4]), dtype=torch.long)) for i in range(4)]
        head = nn.Sequential(lin)
        layers = {r: compress_model(head, "svd-llm", r, layer_calib)[0] for r in RATIOS}
        fns = {"dense": lambda: lin(xs)}
        fns.update({r: (lambda m=m: m(xs)) for r, m in layers.items()})
        t = alternate(fns, repeats=7 if quick else 15, warmup=2)
        for r in RATIOS:
            rows.append({"what": "1024x4096 layer", "batch": 2048, "ratio": r,
                         "dense_ms": 1e3 * t["dense"], "factorised_ms": 1e3 * t[r],
                         "speedup": t["dense"] / t[r], "dense_MB": _bytes(head) / 2**20,
                         "factorised_MB": _bytes(layers[r]) / 2**20})
    report("Factorised vs dense forward latency (CPU, float32)", rows,
           "benchmarks/results/svd.json")

    timing = []
    for method, kw in [("svd", {}), ("asvd", {}), ("svd-llm", {}), ("zs-svd", {}),
                       ("zs-svd", {"correction": True}), ("io-svd", {}),
                       ("io-svd", {"quantize": "loss-aware"})]:
        _, rep = compress_model(model, method, 0.4, calib, exclude="head", **kw)
        timing.append({"method": rep.method + ("+correction" if kw.get("correction") else ""),
                       "calibration_s": rep.calibration_seconds, "total_s": rep.seconds})
    _, qrep = quantize_model(model, rotation="conqur", calibration=calib, exclude="head")
    timing.append({"method": "conqur (2 passes)", "calibration_s": qrep.calibration_seconds,
                   "total_s": qrep.calibration_seconds,
                   "state_MB": qrep.calibration_state_bytes / 2**20,
                   "stored_activations_MB": qrep.stored_activation_bytes / 2**20})
    report("Calibration time per method (16 batches of 8 x 128 bytes)", timing,
           "benchmarks/results/svd_calibration.json")


if __name__ == "__main__":
    main()
