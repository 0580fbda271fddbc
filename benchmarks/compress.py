"""Compression by random bases: training-step time and reconstruction memory.

Run: ``python -m benchmarks compress`` (``--quick``: smaller model).
Writes ``benchmarks/results/compress.json``.

1. Time of one training step (forward, backward, Adam step) on a batch of
   256 for the same MLP trained densely, as PRANC (basis cached, and
   regenerated block by block), as MCNC, with rank-1 LoRA (PEFT's when
   installed, and ours) and with NOLA. Ratios are against the dense step.
2. Peak resident memory of rebuilding PRANC's weights from the seed,
   block by block (ours) vs with the whole basis materialised (what a
   straightforward implementation, or the authors' window of basis
   networks at full size, holds), each in a fresh process.
"""

from __future__ import annotations

import json
import subprocess
import sys

import torch
from torch import nn

from mintlab.compress import (
    MCNC,
    PRANC,
    LoRAConfig,
    NOLAConfig,
    apply_lora,
    apply_nola,
    count_trainable_parameters,
    peft_available,
)

from ._timing import alternate, report


def _mlp(widths):
    torch.manual_seed(0)
    layers = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _step_fn(model, X, y):
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)

    def step():
        loss = nn.functional.cross_entropy(model(X), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


_MEMORY_CHILD = """
import sys, json, torch

def hwm_mib():  # this process's peak RSS (VmHWM: unlike ru_maxrss, not inherited across exec)
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmHWM")) / 1024

from torch import nn
from mintlab.compress import PRANC
widths, k, cache = json.loads(sys.argv[1])
torch.manual_seed(0)
layers = []
for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
    layers.append(nn.Linear(a, b))
    if i < len(widths) - 2:
        layers.append(nn.ReLU())
model = nn.Sequential(*layers)
before = hwm_mib()
pr = PRANC(model, n_coefficients=k, seed=0, cache_basis=cache, max_cache_bytes=1 << 40)
with torch.no_grad():
    pr.generate()
print(json.dumps({"peak_mib": hwm_mib() - before}))
"""


def main():
    quick = "--quick" in sys.argv
    widths = [256, 512, 512, 10] if quick else [512, 1024, 1024, 10]
    k = 256 if quick else 512
    g = torch.Generator().manual_seed(0)
    X = torch.randn(256, widths[0], generator=g)
    y = torch.randint(0, widths[-1], (256,), generator=g)

    models = {
        "dense": _mlp(widths),
        "pranc_cached": PRANC(_mlp(widths), n_coefficients=k, seed=0, cache_basis=True,
                              max_cache_bytes=1 << 40),
        "pranc_on_the_fly": PRANC(_mlp(widths), n_coefficients=k, seed=0, cache_basis=False),
        "mcnc": MCNC(_mlp(widths), code_dim=7, chunk_size=512, seed=0),
        "lora_r1_mintlab": apply_lora(_mlp(widths), LoRAConfig(rank=1), backend="mintlab"),
        "nola": apply_nola(_mlp(widths), NOLAConfig(rank=4, n_basis_A=256, n_basis_B=256)),
    }
    if peft_available():
        models["lora_r1_peft"] = apply_lora(_mlp(widths), LoRAConfig(rank=1), backend="peft")
    steps = {name: _step_fn(m, X, y) for name, m in models.items()}
    slow = {"pranc_on_the_fly"}
    times = alternate({n: f for n, f in steps.items() if n not in slow}, repeats=7, warmup=2)
    times.update(alternate({n: steps[n] for n in slow}, repeats=2 if quick else 3, warmup=1))
    n_weights = sum(p.numel() for p in models["dense"].parameters())
    rows = []
    for name, m in models.items():
        rows.append({"method": name, "weights": n_weights,
                     "trained": count_trainable_parameters(m),
                     "step_s": times[name], "step/dense": times[name] / times["dense"]})
    if "lora_r1_peft" in times:
        rows.append({"method": "lora ours vs peft", "step/dense": "",
                     "peft/ours": times["lora_r1_peft"] / times["lora_r1_mintlab"]})
    report(f"Training step, MLP {widths}, batch 256, PRANC k={k}", rows,
           "benchmarks/results/compress_step.json")

    mem_rows = []
    for cache in (False, True):
        out = subprocess.run([sys.executable, "-c", _MEMORY_CHILD, json.dumps([widths, k, cache])],
                             capture_output=True, text=True, check=True)
        peak = json.loads(out.stdout)["peak_mib"]
        mem_rows.append({"basis": "materialised" if cache else "block by block (ours)",
                         "weights": n_weights, "k": k,
                         "basis_mib_float32": n_weights * k * 4 / 2**20,
                         "peak_rss_increase_mib": peak})
    mem_rows.append({"basis": "materialised / ours",
                     "peak_rss_increase_mib": mem_rows[1]["peak_rss_increase_mib"]
                     / max(mem_rows[0]["peak_rss_increase_mib"], 1e-9)})
    report("PRANC reconstruction memory", mem_rows, "benchmarks/results/compress_memory.json")


if __name__ == "__main__":
    main()
