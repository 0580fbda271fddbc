"""``surgformer``: a gated multiresolution transformer learns FEM deformations, with cuts.

**Data**: an ellipsoidal organ-like tetrahedral mesh (a stand-in for the
paper's cholecystectomy / appendectomy meshes), clamped at its base; each
load case pushes a random Gaussian patch of the upper surface straight down
(random centre, width and magnitude); half the cases first cut a random
vertical slit (elements removed: a stand-in for the paper's XFEM resections).
Displacements come from mintlab's linear-elasticity FEM (near-incompressible
tissue, ``nu = 0.45``). Quick mode: 240 training and 60 held-out load cases
on a 140-node mesh, 30 epochs; full mode: 1,000 / 200 cases on a finer mesh,
60 epochs.

**Models**: SurgFormer (mesh hierarchy of 32 and 8 coarse nodes, 3 gated
blocks of local message passing + coarse self-attention + feed-forward, width
32, cut embedding), the plain graph network (same message passing, same width
and depth) and a per-node MLP; same training budget (Adam, cosine decay,
minibatches of 16 cases).

**Measured**: relative displacement error on the held-out cases (mean nodal
error / mean displacement), cut and uncut separately; inference time of one
case against the FEM solve, on this mesh and on a 10x larger one.
"""

from __future__ import annotations

import time

import numpy as np

from ._core import Experiment, Result
from ._sets_common import one_torch_thread
from .registry import register

CLAIM = ("A multiresolution gated transformer trained on solver-generated data predicts nodal "
         "displacement fields of soft tissue, with and without cuts, more accurately than "
         "per-node and plain graph baselines, at a fraction of the solver's time.")


def _median_time(fn, repeats=5):
    fn()
    t = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    return float(np.median(t))


def run(quick: bool = True, seed: int = 0) -> Result:
    import matplotlib.pyplot as plt
    import torch

    from mintlab.apps.surgical.deformation import (
        DeformationCase,
        DeformationDataset,
        MeshHierarchy,
        NodeMLP,
        PlainGNN,
        SurgFormer,
        _batch,
        displacement_error,
        fit_deformation_model,
        make_deformation_dataset,
        predict_displacements,
    )
    from mintlab.apps.surgical.fem import (
        ellipsoid_mesh,
        mesh_edges,
        solve_elasticity,
        stiffness_matrix,
    )

    res = Result()
    n_train, n_test, cells, epochs = (240, 60, 7, 30) if quick else (1000, 200, 9, 60)
    n_cases = n_train + n_test
    with one_torch_thread():
        data = make_deformation_dataset(n_cases, cells=cells, cut_fraction=0.5, lateral=0.0,
                                        seed=seed)
        train, test = np.arange(n_train), np.arange(n_train, n_cases)
        hier = MeshHierarchy(data.mesh.nodes, sizes=(32, 8), seed=seed)
        width, depth = 32, 3
        models = {"SurgFormer": lambda: SurgFormer(hier, width=width, depth=depth, heads=4),
                  "plain GNN": lambda: PlainGNN(width, depth),
                  "node MLP": lambda: NodeMLP(width, depth)}
        errors, seconds = {}, {}
        for name, make in models.items():
            torch.manual_seed(seed)
            model = make()
            t0 = time.perf_counter()
            fit_deformation_model(model, data, train, epochs=epochs, batch_size=16, lr=3e-3,
                                  seed=seed)
            seconds[name] = time.perf_counter() - t0
            pred = predict_displacements(model, data, test)
            err = np.array([displacement_error(p, data.cases[i].u)
                            for p, i in zip(pred, test, strict=True)])
            cut = np.array([data.cases[i].cut for i in test])
            errors[name] = (float(err[~cut].mean()), float(err[cut].mean()))
            res.metrics[f"{name}_error_uncut"], res.metrics[f"{name}_error_cut"] = errors[name]
            res.metrics[f"{name}_train_seconds"] = seconds[name]
            if name == "SurgFormer":
                surg = model

        # inference time vs the FEM solve: this mesh, then a finer one (untrained weights:
        # the cost does not depend on them)
        x, e, g, c, _ = _batch(data, [data.cases[test[0]]])
        with torch.no_grad():
            t_model = _median_time(lambda: surg(x, e, g, c))
        t_fem = float(np.median([data.cases[i].fem_seconds for i in test]))
        big = ellipsoid_mesh((1.0, 0.7, 0.5), cells=2 * cells + 2)
        fixed = big.nodes[:, 2] <= big.nodes[:, 2].min() + 0.15 * np.ptp(big.nodes[:, 2])
        f = np.zeros((big.n_nodes, 3))
        f[big.nodes[:, 2] > 0.3, 2] = -0.01
        K = stiffness_matrix(big, 3.0, 0.45)
        t_fem_big = _median_time(lambda: solve_elasticity(big, f, fixed, 3.0, 0.45, K=K),
                                 repeats=3)
        case = DeformationCase(f, fixed, np.zeros(big.n_nodes, bool), mesh_edges(big),
                               np.zeros((big.n_nodes, 3)), t_fem_big, False)
        xb, eb, gb, cb, _ = _batch(DeformationDataset(big, [case], 1.0, 1.0), [case])
        torch.manual_seed(seed)
        surg_big = SurgFormer(MeshHierarchy(big.nodes, sizes=(32, 8), seed=seed), width=width,
                              depth=depth, heads=4).eval()
        with torch.no_grad():
            t_model_big = _median_time(lambda: surg_big(xb, eb, gb, cb), repeats=3)

    res.metrics.update({"n_nodes": data.mesh.n_nodes, "n_tets": data.mesh.n_tets,
                        "model_seconds": t_model, "fem_seconds": t_fem,
                        "large_mesh_nodes": big.n_nodes, "large_model_seconds": t_model_big,
                        "large_fem_seconds": t_fem_big})
    s_unc, s_cut = errors["SurgFormer"]
    for base in ("plain GNN", "node MLP"):
        key = base.replace(" ", "_").lower()
        res.check(f"surgformer_beats_{key}_uncut", s_unc / errors[base][0], 1.0, "<",
                  description=f"held-out relative displacement error without cuts, SurgFormer "
                              f"/ {base} ({s_unc:.3f} vs {errors[base][0]:.3f})")
        res.check(f"surgformer_beats_{key}_cut", s_cut / errors[base][1], 1.0, "<",
                  description=f"the same with cuts ({s_cut:.3f} vs {errors[base][1]:.3f})")
    res.check("faster_than_fem_on_large_mesh", t_model_big / t_fem_big, 1.0, "<",
              description=f"SurgFormer forward / FEM solve (assembled matrix reused) on a "
                          f"{big.n_nodes}-node mesh ({t_model_big * 1e3:.1f} ms vs "
                          f"{t_fem_big * 1e3:.1f} ms; on the {data.mesh.n_nodes}-node training "
                          f"mesh {t_model * 1e3:.1f} ms vs {t_fem * 1e3:.1f} ms)")

    fig, ax = plt.subplots(figsize=(6, 3.6))
    names = list(errors)
    x = np.arange(len(names))
    ax.bar(x - 0.2, [errors[n][0] for n in names], width=0.4, label="no cut")
    ax.bar(x + 0.2, [errors[n][1] for n in names], width=0.4, label="cut")
    ax.set_xticks(x, names)
    ax.set_ylabel("relative displacement error (held out)")
    ax.legend()
    fig.tight_layout()
    res.figures["surgformer"] = fig
    return res


EXPERIMENT = register(Experiment("surgformer", CLAIM, run))
