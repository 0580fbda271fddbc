"""Attention layers: time and peak memory vs sequence length; ESP vs Sinkhorn at equal balance.

Run: ``python -m benchmarks attention``. Three tables, every layer of
:data:`mintlab.nn.ATTENTIONS` (softmax, Sinkhorn, ESP, LOT, LUNA):

1. forward + backward of one layer (d = 64, 4 heads, batch 1) at n in
   {256, 1024, 4096}, with the growth exponent of the time in n;
2. the same at the lengths and shapes the ``espformer`` experiment trains with
   (d = 32, 2 heads, batch 32; n = 17: 16 image patches and a class token; n = 33:
   32 words or points and a class token), the
   causal variants of softmax and Sinkhorn included;
3. ESP vs Sinkhorn attention at equal column balance on random inputs (the sweeps
   Sinkhorn needs to match ESP's column error, and the two times).

Peak memory is the growth of the peak resident set of a fresh process over one
forward + backward pass (reset through ``/proc/self/clear_refs``, Linux); with
``--device cuda`` it is the CUDA allocator's peak over the pass instead. Writes
``benchmarks/results/attention.json``, ``attention_experiment_lengths.json`` and
``attention_esp_sinkhorn.json``.
"""

from __future__ import annotations

import math
import subprocess
import sys

import torch

from mintlab.nn import make_attention

from ._timing import get_device, median_time, on_device, report

NAMES = ("softmax", "sinkhorn", "esp", "lot", "luna")
KW = {"sinkhorn": {"n_iter": 5}, "esp": {"n_slices": 4}, "lot": {"n_pivots": 16},
      "luna": {"n_features": 64}}
EXPERIMENT_LENGTHS = (17, 33)  # espformer: 16 patches, or 32 words or points, + a class token
EXPERIMENT_SHAPE = {"dim": 32, "heads": 2, "batch": 32}

_CHILD = """
import sys, torch
from mintlab.nn import make_attention

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1])

name, n, kw, dim, heads, batch, causal = (sys.argv[1], int(sys.argv[2]), eval(sys.argv[3]),
                                          int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]),
                                          sys.argv[7] == "1")
g = torch.Generator().manual_seed(0)
att = make_attention(name, dim, heads, seed=0, **kw) if name in ("esp", "lot", "luna") \
    else make_attention(name, dim, heads, **kw)
x = torch.randn(batch, 16, dim, generator=g, requires_grad=True)
att(x, is_causal=causal)[0].sum().backward()
x = torch.randn(batch, n, dim, generator=g, requires_grad=True)
base = status("VmRSS:")
with open("/proc/self/clear_refs", "w") as f:  # reset the peak (VmHWM) to the current size
    f.write("5")
att(x, is_causal=causal)[0].sum().backward()
print(status("VmHWM:") - base)
"""


def peak_mb(name, n, *, dim=64, heads=4, batch=1, causal=False, **extra):
    if get_device().type == "cuda":  # GPU: the allocator's peak over one pass, in process
        return _cuda_peak_mb(name, n, dim=dim, heads=heads, batch=batch, causal=causal, **extra)
    args = [name, str(n), repr({**KW.get(name, {}), **extra}), str(dim), str(heads),
            str(batch), "1" if causal else "0"]
    out = subprocess.run([sys.executable, "-c", _CHILD, *args], capture_output=True, text=True,
                         check=True)
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def _cuda_peak_mb(name, n, *, dim, heads, batch, causal, **extra):
    att = on_device(make_attention(name, dim, heads, **{**KW.get(name, {}), **extra}))
    x = on_device(torch.randn(batch, n, dim, generator=torch.Generator().manual_seed(0)))
    x.requires_grad_(True)
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    att(x, is_causal=causal)[0].sum().backward()
    torch.cuda.synchronize()
    return (torch.cuda.max_memory_allocated() - base) / 2**20


def step(name, n, *, dim=64, heads=4, batch=1, causal=False, **extra):
    att = on_device(make_attention(name, dim, heads, **{**KW.get(name, {}), **extra}))
    x = on_device(torch.randn(batch, n, dim, generator=torch.Generator().manual_seed(0)))
    x.requires_grad_(True)

    def fn():
        att(x, is_causal=causal)[0].sum().backward()

    return median_time(fn, repeats=3 if n >= 4096 else 5)


def bench_scaling(rows):
    sizes = (256, 1024, 4096)
    for name in NAMES:
        t = {n: step(name, n) for n in sizes}
        mem = {n: peak_mb(name, n) for n in sizes}
        growth = math.log(t[sizes[-1]] / t[sizes[0]]) / math.log(sizes[-1] / sizes[0])
        for n in sizes:
            rows.append({"attention": name, "n": n, "seconds": t[n], "peak_MB": mem[n],
                         "time_exponent": growth if n == sizes[-1] else float("nan")})


def bench_experiment_lengths(rows):
    variants = ([(name, name, False, {}) for name in NAMES]
                + [("esp 16 slices", "esp", False, {"n_slices": 16}),
                   ("softmax causal", "softmax", True, {}),
                   ("sinkhorn causal", "sinkhorn", True, {})])
    for label, name, causal, extra in variants:
        for n in EXPERIMENT_LENGTHS:
            rows.append({"attention": label, "n": n,
                         "seconds": step(name, n, causal=causal, **EXPERIMENT_SHAPE, **extra),
                         "peak_MB": peak_mb(name, n, causal=causal, **EXPERIMENT_SHAPE,
                                            **extra)})


@torch.no_grad()
def _column_error(att, x):
    w = att.attention_matrix(x)
    return float((w.sum(-2) - 1).abs().max())


def bench_esp_vs_sinkhorn(rows):
    """Sweeps Sinkhorn needs to balance columns as well as ESP does, and the two times."""
    n = 1024
    x = on_device(torch.randn(1, n, 64, generator=torch.Generator().manual_seed(0)))
    esp = on_device(make_attention("esp", 64, 4, **KW["esp"]))
    target = _column_error(esp, x)
    sweeps = 1
    while sweeps < 64:
        sk = on_device(make_attention("sinkhorn", 64, 4, n_iter=sweeps))
        sk.load_state_dict({k: v for k, v in esp.state_dict().items() if k != "directions"})
        if _column_error(sk, x) <= target:
            break
        sweeps *= 2
    t_esp, t_sk = step("esp", n), step("sinkhorn", n, n_iter=sweeps)
    rows.append({"n": n, "esp_column_error": target, "sinkhorn_sweeps_to_match": sweeps,
                 "esp_s": t_esp, "sinkhorn_s": t_sk, "sinkhorn/esp": t_sk / t_esp})


def main() -> None:
    torch.set_num_threads(2)
    rows: list[dict] = []
    bench_scaling(rows)
    report("attention: forward + backward, d = 64, 4 heads, batch 1", rows,
           "benchmarks/results/attention.json")
    rows1: list[dict] = []
    bench_experiment_lengths(rows1)
    report("attention at the espformer experiment's lengths: d = 32, 2 heads, batch 32",
           rows1, "benchmarks/results/attention_experiment_lengths.json")
    rows2: list[dict] = []
    bench_esp_vs_sinkhorn(rows2)
    report("ESP vs Sinkhorn attention at equal column balance (random inputs)", rows2,
           "benchmarks/results/attention_esp_sinkhorn.json")


if __name__ == "__main__":
    main()
