"""Minibatch couplings for generative training: ours per method vs torchcfm's exact OT sampler.

Run: ``python -m benchmarks couple [--quick] [--device cuda]`` (``--quick``: batch sizes
256 and 1024 only). Writes ``benchmarks/results/couple.json``.

Data: a batch of Gaussian noise ``x0`` against a batch of data ``x1`` (eight Gaussian
modes on a circle for d = 2, a shifted anisotropic Gaussian for d = 64), float32. Each
timed call computes the coupling and draws ``B`` index pairs from it, as a training step
does: ours is ``couple(...)`` + ``Coupling.sample_pairs``; the anchor is
``torchcfm.optimal_transport.OTPlanSampler(method="exact")`` ``get_map`` +
``sample_map`` (POT's ``emd`` + numpy sampling if torchcfm does not import), which runs
on the CPU whatever the device.

Columns: ``cost`` is the plan's transport cost ``sum_ij pi_ij ||x0_i - x1_j||^2`` per
unit of transported mass; ``cost/exact`` compares it with the optimal plan's (ours,
``method="exact"`` run to optimality). The entropic plan uses ``reg = 0.05 * mean
cost`` and at most 100 sweeps (on the CPU only up to B = 1024: each sweep is two
log-sum-exps over B^2 entries); ``partial`` transports 90% of the mass.
"""

from __future__ import annotations

import math
import sys
import warnings

import numpy as np
import torch

from mintlab.transport.couplings import couple

from ._timing import alternate, get_device, report

METHODS = {
    "exact": {},
    "sinkhorn": {"max_iter": 100},
    "partial": {"mass": 0.9},
    "sliced": {"n_projections": 32, "seed": 0},
}


def _anchor():
    try:
        from torchcfm.optimal_transport import OTPlanSampler
    except Exception:  # noqa: BLE001 - any import failure falls back to POT
        import ot

        def pot_exact(x0, x1):
            a, b = ot.unif(x0.shape[0]), ot.unif(x1.shape[0])
            M = (torch.cdist(x0, x1) ** 2).detach().cpu().numpy()
            pi = ot.emd(a, b, M)
            p = pi.reshape(-1) / pi.sum()
            k = np.random.default_rng(0).choice(p.size, size=x0.shape[0], p=p)
            return pi, np.divmod(k, pi.shape[1])

        return "pot_emd", pot_exact
    sampler = OTPlanSampler(method="exact")

    def torchcfm_exact(x0, x1):
        pi = sampler.get_map(x0, x1)
        return pi, sampler.sample_map(pi, x0.shape[0])

    return "torchcfm", torchcfm_exact


def _data(B, d, seed):
    g = torch.Generator().manual_seed(seed)
    x0 = torch.randn(B, d, generator=g)
    if d == 2:
        angle = 2 * math.pi * torch.randint(0, 8, (B,), generator=g) / 8
        x1 = 4 * torch.stack([angle.cos(), angle.sin()], 1) + 0.3 * torch.randn(B, 2, generator=g)
    else:
        scale = torch.linspace(0.5, 2.0, d)
        x1 = scale * torch.randn(B, d, generator=g) + 1.0
    return x0, x1


def _ours(x0, x1, method, reg):
    kw = dict(METHODS[method])
    if method == "sinkhorn":
        kw["reg"] = reg

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # capped sweeps: cost is reported
            c = couple(x0, x1, method, **kw)
        c.sample_pairs(x0.shape[0], seed=0)
        return c

    return run


def bench(rows, quick):
    dev = get_device()
    anchor_name, anchor = _anchor()
    sizes = (256, 1024) if quick else (256, 1024, 4096)
    for d in (2, 64):
        for B in sizes:
            x0, x1 = _data(B, d, seed=B + d)
            x0d, x1d = x0.to(dev), x1.to(dev)
            M = torch.cdist(x0.double(), x1.double()).square()
            reg = 0.05 * float(M.mean())
            last = {}  # the result of each side's last timed call

            def keep(name, fn, last=last):
                return lambda: last.__setitem__(name, fn())

            fns = {anchor_name: keep(anchor_name, lambda x0=x0, x1=x1: anchor(x0, x1))}
            methods = [m for m in METHODS
                       if not (m == "sinkhorn" and B > 1024 and dev.type == "cpu")]
            for method in methods:
                fns[method] = keep(method, _ours(x0d, x1d, method, reg))
            big = B >= 4096
            t = alternate(fns, repeats=1 if big else 3, warmup=0 if big else 1)
            exact = float(last["exact"].cost)
            pi, _ = last[anchor_name]
            anchor_cost = float((torch.as_tensor(pi) * M).sum() / float(np.sum(pi)))
            rows.append({"B": B, "d": d, "method": f"{anchor_name} exact (CPU)",
                         "seconds": t[anchor_name], "anchor/ours": 1.0,
                         "cost": anchor_cost, "cost/exact": anchor_cost / exact})
            for method in methods:
                c = last[method]
                cost = float(c.cost) / float(c.transported_mass)
                rows.append({"B": B, "d": d, "method": f"ours {method}",
                             "seconds": t[method], "anchor/ours": t[anchor_name] / t[method],
                             "cost": cost, "cost/exact": cost / exact})
            print(f"  done B={B} d={d}", flush=True)


def main() -> None:
    quick = "--quick" in sys.argv
    rows: list[dict] = []
    bench(rows, quick)
    report("minibatch couplings: time of coupling + drawing B pairs, and plan cost "
           "(anchor/ours > 1: ours faster; partial moves 90% of the mass)", rows,
           "benchmarks/results/couple.json")


if __name__ == "__main__":
    main()
