"""SurgFormer (``surgformer``): the FEM data solver and the model; gesture clips and models
(``surgical-gesture``)."""

import numpy as np
import pytest
import scipy.sparse.linalg as spla
import torch

from mintlab.apps.surgical.deformation import (
    MeshHierarchy,
    NodeMLP,
    PlainGNN,
    SurgFormer,
    _batch,
    displacement_error,
    fit_deformation_model,
    make_deformation_dataset,
    predict_displacements,
    slab_cut,
)
from mintlab.apps.surgical.fem import (
    TetMesh,
    box_mesh,
    ellipsoid_mesh,
    mesh_edges,
    remove_elements,
    solve_elasticity,
    stiffness_matrix,
    surface_triangles,
    traction_forces,
)


def _rigid_modes(nodes):
    modes = []
    for k in range(3):
        t = np.zeros_like(nodes)
        t[:, k] = 1
        modes.append(t.ravel())
    for w in np.eye(3):
        modes.append(np.cross(w, nodes).ravel())
    return np.stack(modes, 1)


def test_stiffness_symmetric_psd_with_rigid_null_space():
    mesh = box_mesh((2, 2, 1), (2.0, 1.5, 1.0))
    K = stiffness_matrix(mesh, E=2.0, nu=0.3).toarray()
    assert np.allclose(K, K.T, atol=1e-12)
    assert np.abs(K @ _rigid_modes(mesh.nodes)).max() < 1e-10
    ev = np.linalg.eigvalsh(K)
    assert ev.min() > -1e-10 and (ev < 1e-9 * ev.max()).sum() == 6  # exactly 6 rigid modes


def _face(mesh, axis, value):
    tri = surface_triangles(mesh)
    return tri[np.all(np.isclose(mesh.nodes[tri][:, :, axis], value), axis=1)]


def test_uniaxial_bar_is_exact():
    """Uniform tension: u = (s x, -nu s y, -nu s z) / E, which P1 elements reproduce exactly."""
    L, W, H, E, nu, s = 3.0, 1.0, 0.5, 5.0, 0.3, 0.7
    mesh = box_mesh((6, 2, 2), (L, W, H))
    X = mesh.nodes
    fixed = np.zeros((mesh.n_nodes, 3), bool)
    fixed[np.isclose(X[:, 0], 0), 0] = True
    origin = np.flatnonzero(np.all(np.isclose(X, 0), axis=1))[0]
    fixed[origin, 1:] = True
    corner = np.flatnonzero(np.all(np.isclose(X, [0, W, 0]), axis=1))[0]
    fixed[corner, 2] = True
    f = traction_forces(mesh, _face(mesh, 0, L), (s, 0, 0))
    assert f.sum(0) == pytest.approx([s * W * H, 0, 0])
    u = solve_elasticity(mesh, f, fixed, E, nu).u
    exact = np.c_[s * X[:, 0], -nu * s * X[:, 1], -nu * s * X[:, 2]] / E
    assert np.abs(u - exact).max() < 1e-10 * np.abs(exact).max()


def test_cantilever_approaches_beam_theory():
    """Tip deflection of a clamped beam under an end load tends to P L^3 / (3 E I) (plus the
    small shear term) as the mesh is refined; linear tetrahedra are too stiff on coarse meshes."""
    L, W, H, E, nu, P = 8.0, 1.0, 1.0, 100.0, 0.3, 1.0
    G = E / (2 * (1 + nu))
    I = W * H**3 / 12
    theory = P * L**3 / (3 * E * I) + P * L / (5 / 6 * G * W * H)
    ratios = []
    sizes = (2, 4, 6)
    for n in sizes:
        mesh = box_mesh((8 * n, n, n), (L, W, H))
        fixed = np.isclose(mesh.nodes[:, 0], 0)
        f = traction_forces(mesh, _face(mesh, 0, L), (0, 0, -P / (W * H)))
        u = solve_elasticity(mesh, f, fixed, E, nu).u
        tip = np.isclose(mesh.nodes[:, 0], L)
        ratios.append(-u[tip, 2].mean() / theory)
    assert ratios[0] < ratios[1] < ratios[2] <= 1.0
    assert ratios[2] > 0.85
    # Richardson extrapolation (error ~ h^2) of the two finest meshes lands near beam theory
    h4, h6 = 1 / sizes[1] ** 2, 1 / sizes[2] ** 2
    limit = ratios[2] + (ratios[2] - ratios[1]) * h6 / (h4 - h6)
    assert abs(limit - 1) < 0.06


def test_removing_elements_makes_the_body_more_compliant():
    mesh = ellipsoid_mesh((1.0, 0.7, 0.5), cells=8)
    rng = np.random.default_rng(0)
    fixed = mesh.nodes[:, 2] <= mesh.nodes[:, 2].min() + 0.15
    f = rng.normal(size=(mesh.n_nodes, 3)) * 0.01
    f[fixed] = 0
    base = solve_elasticity(mesh, f, fixed).compliance
    top = mesh.nodes[mesh.nodes[:, 2].argmax()]
    previous, removed = base, None
    for depth in (0.15, 0.3, 0.45):  # nested slits: compliance f.u never decreases (K_cut <= K)
        removed = slab_cut(mesh, top, (1.0, 0.3, 0.0), 0.1, depth, 0.35)
        sol = solve_elasticity(remove_elements(mesh, removed), f, fixed)
        assert sol.compliance >= previous - 1e-12
        assert np.all(sol.u[sol.orphans] == 0)
        previous = sol.compliance
    assert previous > base
    # the stiffness matrix of the cut mesh is the full one minus the removed elements'
    K = stiffness_matrix(mesh)
    Kc = stiffness_matrix(remove_elements(mesh, removed))
    Kr = stiffness_matrix(TetMesh(mesh.nodes, mesh.tets[removed]))
    assert spla.norm(K - Kc - Kr) < 1e-9 * spla.norm(K)
    # a scattering of removed elements leaves tets hanging by an edge: detected, not solved
    loose = rng.random(mesh.n_tets) < 0.3
    with pytest.raises(ValueError, match="move rigidly"):
        solve_elasticity(remove_elements(mesh, loose), f, fixed)


def test_mesh_helpers():
    mesh = box_mesh((2, 3, 1))
    assert len(surface_triangles(mesh)) == 4 * (2 * 3 + 3 * 1 + 2 * 1)
    assert mesh.volumes().sum() == pytest.approx(1.0)
    e = mesh_edges(mesh)
    assert (e[:, 0] < e[:, 1]).all() and len(np.unique(e, axis=0)) == len(e)
    cut = slab_cut(mesh, (0.5, 0.5, 1.0), (1, 0, 0), 0.2, 0.5, 10.0)
    assert cut.any() and not cut.all()
    assert (mesh.centroids()[cut, 2] >= 0.5).all()


@pytest.mark.parametrize("nodes, tets, match", [
    (np.zeros((4, 2)), [[0, 1, 2, 3]], "shape \\(n, 3\\)"),
    ([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, np.nan]], [[0, 1, 2, 3]], "finite"),
    ([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], [[0, 1, 2, 4]], "index nodes"),
    ([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], [[0, 1, 2, 2]], "four distinct"),
    ([[0, 0, 0], [1, 0, 0], [2, 0, 0], [0, 1, 0]], [[0, 1, 2, 3]], "degenerate"),
])
def test_bad_meshes_rejected(nodes, tets, match):
    with pytest.raises(ValueError, match=match):
        TetMesh(np.asarray(nodes, float), np.asarray(tets))


def test_parts_joined_by_an_edge_need_their_own_support():
    box = box_mesh((2, 2, 1))
    # keep the two cells on one diagonal: they share only the vertical edge at the centre
    cell = np.repeat(np.arange(4), 6)  # cells in (i, j) order: (0,0), (0,1), (1,0), (1,1)
    mesh = TetMesh(box.nodes, box.tets[(cell == 0) | (cell == 3)])
    f = np.zeros((mesh.n_nodes, 3))
    clamp = mesh.nodes[:, 0] == 0  # clamps the first cell only
    with pytest.raises(ValueError, match="can still move rigidly"):
        solve_elasticity(mesh, f, clamp)
    both = clamp | (mesh.nodes[:, 0] == 1)
    assert np.all(solve_elasticity(mesh, f, both).u == 0)


def test_bad_solves_rejected():
    mesh = box_mesh((1, 1, 1))
    f = np.zeros((mesh.n_nodes, 3))
    with pytest.raises(ValueError, match="singular"):
        solve_elasticity(mesh, f + 1, np.zeros(mesh.n_nodes, bool))
    with pytest.raises(ValueError, match="forces must have shape"):
        solve_elasticity(mesh, f[:3], np.ones(mesh.n_nodes, bool))
    with pytest.raises(ValueError, match="nu"):
        stiffness_matrix(mesh, nu=0.5)
    with pytest.raises(ValueError, match="every element"):
        remove_elements(mesh, np.ones(mesh.n_tets, bool))
    with pytest.raises(TypeError, match="integer node indices"):
        TetMesh(mesh.nodes, mesh.tets.astype(float))
    with pytest.raises(ValueError, match="traction must be a finite 3-vector"):
        traction_forces(mesh, surface_triangles(mesh), (1.0, 0.0))
    with pytest.raises(ValueError, match="node indices"):
        traction_forces(mesh, [[0, 1, 99]], (1.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="shape \\(n, 3\\)"):
        MeshHierarchy(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="both have shape"):
        displacement_error(np.zeros((4, 3)), np.zeros((5, 3)))


@pytest.fixture(scope="module")
def data():
    return make_deformation_dataset(12, cells=5, cut_fraction=0.5, seed=0)


def test_dataset_cases(data):
    assert any(c.cut for c in data.cases) and not all(c.cut for c in data.cases)
    full = {tuple(e) for e in mesh_edges(data.mesh)}
    for c in data.cases:
        assert c.u.shape == (data.mesh.n_nodes, 3) and np.all(c.u[c.fixed] == 0)
        assert c.cut == bool(c.cut_nodes.any())
        assert {tuple(e) for e in c.edges} <= full
        if c.cut:
            assert len(c.edges) < len(full)


def test_surgformer_shapes_gates_and_batching(data):
    torch.manual_seed(0)
    hier = MeshHierarchy(data.mesh.nodes, sizes=(16, 4), seed=0)
    assert [len(np.unique(a)) for a in hier.assign] == [16, 4]
    model = SurgFormer(hier, width=16, depth=2, heads=2).eval()
    x, e, g, cut, y = _batch(data, data.cases[:2])
    with torch.no_grad():
        both = model(x, e, g, cut)
        gates = model.blocks[0].last_gates
        one = model(*_batch(data, data.cases[1:2])[:4])
    n = data.mesh.n_nodes
    assert both.shape == (2 * n, 3) and gates.shape == (2 * n, 4, 16)
    assert torch.allclose(gates.sum(1), torch.ones(2 * n, 16))
    assert torch.allclose(both[n:], one, atol=1e-5)  # samples in a batch do not interact
    # the cut embedding reaches the output of cut nodes
    cut_case = next(i for i, c in enumerate(data.cases) if c.cut)
    xb, eb, gb, cb, _ = _batch(data, data.cases[cut_case:cut_case + 1])
    with torch.no_grad():
        a = model(xb, eb, gb, cb)
        b = model(xb, eb, gb, torch.zeros_like(cb))
    assert not torch.allclose(a, b)
    with pytest.raises(ValueError, match="multiple of heads"):
        SurgFormer(hier, width=10, heads=3)


def test_models_train(data):
    hier = MeshHierarchy(data.mesh.nodes, sizes=(16, 4), seed=0)
    torch.manual_seed(0)
    for model in (SurgFormer(hier, width=16, depth=2, heads=2), PlainGNN(16, 2), NodeMLP(16, 2)):
        losses = fit_deformation_model(model, data, range(10), epochs=40, batch_size=2)
        assert losses[-1] < 0.75 * losses[0], (type(model).__name__, losses[0], losses[-1])
        pred = predict_displacements(model, data, [10, 11])
        assert pred[0].shape == (data.mesh.n_nodes, 3)
        assert np.isfinite(displacement_error(pred[0], data.cases[10].u))
