"""The deformation models' forward pass checks shapes and kinds only inside the training loop:
the load cases are read once, before the first step, and the number of value checks does not
grow with the number of epochs."""

import dataclasses

import numpy as np
import pytest
import torch

from mintlab.apps.surgical.deformation import (
    MeshHierarchy,
    NodeMLP,
    PlainGNN,
    SurgFormer,
    fit_deformation_model,
    make_deformation_dataset,
    predict_displacements,
)


@pytest.fixture(scope="module")
def dataset():
    return make_deformation_dataset(3, cells=2, seed=0)


@pytest.fixture
def isfinite_calls(monkeypatch):
    calls = []
    real = torch.isfinite

    def counting(t):
        calls.append(tuple(t.shape))
        return real(t)

    monkeypatch.setattr(torch, "isfinite", counting)
    return calls


def _models(dataset):
    torch.manual_seed(0)
    hier = MeshHierarchy(dataset.mesh.nodes, sizes=(4,))
    return [SurgFormer(hier, width=8, depth=1, heads=2), PlainGNN(width=8, depth=1),
            NodeMLP(width=8, depth=1)]


def test_fitting_reads_no_values_per_step(dataset, isfinite_calls):
    for model in _models(dataset):
        isfinite_calls.clear()
        fit_deformation_model(model, dataset, [0, 1, 2], epochs=1, batch_size=1)
        once = len(isfinite_calls)
        isfinite_calls.clear()
        fit_deformation_model(model, dataset, [0, 1, 2], epochs=3, batch_size=1)
        assert len(isfinite_calls) == once == 0, type(model).__name__
        isfinite_calls.clear()
        predict_displacements(model, dataset, [0, 1, 2])
        assert not isfinite_calls


def test_fitting_checks_the_cases_once_up_front(dataset):
    model = NodeMLP(width=8, depth=1)
    case = dataset.cases[1]
    forces = case.forces.copy()
    forces[0, 0] = np.nan
    bad = dataclasses.replace(dataset, cases=[dataset.cases[0],
                                              dataclasses.replace(case, forces=forces)])
    with pytest.raises(ValueError, match="dataset.cases\\[1\\].forces must be finite, got 1"):
        fit_deformation_model(model, bad, [0, 1], epochs=1)
    with pytest.raises(ValueError, match="dataset.cases\\[1\\].forces must be finite"):
        predict_displacements(model, bad, [1])
    predict_displacements(model, bad, [0])  # only the cases asked for are read
    edges = case.edges.copy()
    edges[0, 0] = dataset.mesh.n_nodes
    bad = dataclasses.replace(dataset, cases=[dataclasses.replace(case, edges=edges)])
    with pytest.raises(ValueError, match="dataset.cases\\[0\\].edges must index the mesh's"):
        fit_deformation_model(model, bad, [0], epochs=1)
    u = case.u.copy()
    u[2, 1] = np.inf
    bad = dataclasses.replace(dataset, cases=[dataclasses.replace(case, u=u)])
    with pytest.raises(ValueError, match="dataset.cases\\[0\\].u must be finite"):
        fit_deformation_model(model, bad, [0], epochs=1)
    bad = dataclasses.replace(dataset, disp_scale=0.0)
    with pytest.raises(ValueError, match="dataset.disp_scale must be a finite positive number"):
        fit_deformation_model(model, bad, [0], epochs=1)


def test_a_direct_call_on_cpu_still_checks_values(dataset):
    net = NodeMLP(width=8, depth=1)
    n = 5
    x = torch.zeros(n, 7)
    e = torch.zeros(2, 1, dtype=torch.long)
    g = torch.zeros(n, dtype=torch.long)
    c = torch.zeros(n, dtype=torch.bool)
    with pytest.raises(ValueError, match="x must be finite"):
        net(x.clone().fill_(float("nan")), e, g, c)
    with pytest.raises(ValueError, match="graph must hold non-negative sample indices"):
        net(x, e, g - 1, c)
