"""Bad input to the applications is rejected with messages naming the argument; their loaders
(triple files, generator tables) raise ArtifactError naming the file."""

import json

import numpy as np
import pytest
import torch

from mintlab import ArtifactError
from mintlab.apps.fairness import (
    StandInGenerator,
    TemplateRewriter,
    Triple,
    TripleStore,
    Validator,
    bias_p,
    distribution,
    ens,
    fairness_loss,
    refine_prompt,
)
from mintlab.apps.fairness.generation import STANDIN_TABLE
from mintlab.apps.surgical import (
    MeshHierarchy,
    NodeMLP,
    SurgFormer,
    TetMesh,
    box_mesh,
    displacement_error,
    ellipsoid_mesh,
    solve_elasticity,
)


# ----------------------------------------------------------------------------- loaders
def _bad_files(tmp_path, good_text):
    """(name, path) of an empty, a truncated, a corrupted (binary) and a mismatched file."""
    files = {
        "empty": b"",
        "truncated": good_text.encode()[: len(good_text) // 2],
        "corrupted": b"\x89PNG\r\n\x1a\n\x00\xff\xfe garbage",
    }
    out = []
    for name, data in files.items():
        p = tmp_path / f"{name}.json"
        p.write_bytes(data)
        out.append((name, p))
    return out


def test_triple_store_from_json_rejects_bad_files(tmp_path):
    good = json.dumps([["nurse", "stereotyped_as", "female"],
                       {"head": "female", "relation": "value_of", "tail": "gender"}])
    ok = tmp_path / "ok.json"
    ok.write_text(good)
    assert len(TripleStore.from_json(ok)) == 2
    for _, path in _bad_files(tmp_path, good):
        with pytest.raises(ArtifactError, match=path.name):
            TripleStore.from_json(path)
    mismatched = tmp_path / "mismatched.json"
    mismatched.write_text(json.dumps([{"head": "nurse", "relation": "is_a"}]))
    with pytest.raises(ArtifactError, match="mismatched.json.*lacks the fields \\['tail'\\]"):
        TripleStore.from_json(mismatched)
    wrong_kind = tmp_path / "object.json"
    wrong_kind.write_text(json.dumps({"head": "nurse"}))
    with pytest.raises(ArtifactError, match="object.json.*JSON array"):
        TripleStore.from_json(wrong_kind)
    with pytest.raises(ArtifactError, match="missing.json.*no such"):
        TripleStore.from_json(tmp_path / "missing.json")
    duplicate = tmp_path / "duplicate.json"
    duplicate.write_text(json.dumps([["a", "b", "c"], ["a", "b", "c"]]))
    with pytest.raises(ArtifactError, match="duplicate.json.*duplicate"):
        TripleStore.from_json(duplicate)


def test_triple_store_from_tsv_rejects_bad_files(tmp_path):
    good = "nurse\tstereotyped_as\tfemale\nfemale\tvalue_of\tgender\n"
    ok = tmp_path / "ok.tsv"
    ok.write_text(good)
    assert len(TripleStore.from_tsv(ok)) == 2
    cases = {"empty.tsv": b"", "truncated.tsv": good.encode()[:20],
             "corrupted.tsv": b"\xff\xfe\x00garbage\tx\ty\n", "comments.tsv": b"# only\n"}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ArtifactError, match=name):
            TripleStore.from_tsv(tmp_path / name)


def test_generator_table_loader_rejects_bad_files(tmp_path):
    good = STANDIN_TABLE.read_text()
    for _, path in _bad_files(tmp_path, good):
        with pytest.raises(ArtifactError, match=path.name):
            StandInGenerator(path)
    table = json.loads(good)
    del table["cues"]
    p = tmp_path / "no_cues.json"
    p.write_text(json.dumps(table))
    with pytest.raises(ArtifactError, match="no_cues.json.*cues"):
        StandInGenerator(p)
    table = json.loads(good)
    table["default"]["gender"] = [0.5, 0.2]
    p = tmp_path / "bad_distribution.json"
    p.write_text(json.dumps(table))
    with pytest.raises(ArtifactError, match="bad_distribution.json.*distribution"):
        StandInGenerator(p)
    with pytest.raises(ValueError, match="lacks the entry 'subjects'"):
        StandInGenerator({"attributes": {}, "default": {}, "cues": {}})
    with pytest.raises(TypeError, match="table must be a path or a mapping"):
        StandInGenerator(3)


# ----------------------------------------------------------------------------- fairness
def test_fairness_arguments_are_checked():
    with pytest.raises(TypeError, match="p must be a 1D array"):
        bias_p("0.5")
    with pytest.raises(ValueError, match="p must be finite"):
        ens([np.nan, 1.0])
    with pytest.raises(ValueError, match="q must have a positive sum"):
        bias_p([0.5, 0.5], torch.zeros(2))
    with pytest.raises(ValueError, match="alpha must be finite"):
        distribution(["a"], ["a", "b"], alpha=float("nan"))
    with pytest.raises(TypeError, match="labels must be a mapping"):
        fairness_loss([["a"]], {"x": ["a", "b"]})
    with pytest.raises(TypeError, match="head must be a string"):
        Triple(3, "is_a", "x")
    with pytest.raises(ValueError, match="tail must be a non-empty string"):
        Triple("a", "is_a", " ")
    with pytest.raises(ValueError, match="triples must hold at least one triple"):
        TripleStore([])
    with pytest.raises(TypeError, match="triples\\[0\\] must hold three strings"):
        TripleStore([("a", "b", 3)])
    with pytest.raises(TypeError, match="tau must be a real number"):
        Validator(tau="0.5")
    with pytest.raises(ValueError, match="attribute_loss\\['gender'\\] must be a finite"):
        TemplateRewriter().propose("a nurse", [], {"gender": float("nan")})
    with pytest.raises(ValueError, match="seed must be >= 0"):
        StandInGenerator().generate("a nurse", 4, seed=-1)


def test_refine_prompt_checks_its_arguments_and_the_fidelity_scores():
    kg, gen = TripleStore.example(), StandInGenerator()
    with pytest.raises(ValueError, match="tolerance must be finite"):
        refine_prompt("a photo of a nurse", kg, gen, fidelity=lambda o, c: [1.0] * len(c),
                      tolerance=float("nan"))
    with pytest.raises(TypeError, match="fidelity must be callable"):
        refine_prompt("a photo of a nurse", kg, gen, fidelity="minilm")
    with pytest.raises(ValueError, match="targets\\['gender'\\] must be a distribution"):
        refine_prompt("a photo of a nurse", kg, gen, fidelity=lambda o, c: [1.0] * len(c),
                      targets={"gender": [0.2, 0.3, 0.5]})
    with pytest.raises(ValueError, match="fidelity must return one finite score"):
        refine_prompt("a photo of a nurse", kg, gen,
                      fidelity=lambda o, c: [float("nan")] * len(c))


# ----------------------------------------------------------------------------- surgical
def test_surgical_arguments_are_checked():
    mesh = box_mesh((2, 1, 1))
    with pytest.raises(TypeError, match="nodes must be a numpy array"):
        TetMesh("nodes", mesh.tets)
    with pytest.raises(TypeError, match="nu \\(Poisson's ratio\\) must be a real number"):
        solve_elasticity(mesh, np.zeros((mesh.n_nodes, 3)), np.ones(mesh.n_nodes, bool),
                         nu="0.3")
    with pytest.raises(ValueError, match="forces must be finite"):
        f = np.zeros((mesh.n_nodes, 3))
        f[0, 0] = np.inf
        solve_elasticity(mesh, f, np.ones(mesh.n_nodes, bool))
    with pytest.raises(ValueError, match="radii\\[1\\] must be positive"):
        ellipsoid_mesh((1.0, -1.0, 1.0))
    with pytest.raises(ValueError, match="pred must be finite"):
        displacement_error(np.full((3, 3), np.nan), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="seed must be >= 0"):
        MeshHierarchy(mesh.nodes, sizes=(3,), seed=-2)
    with pytest.raises(ValueError, match="heads must be >= 1"):
        SurgFormer(MeshHierarchy(mesh.nodes, sizes=(3,)), width=8, heads=0)
    net = NodeMLP(width=8, depth=1)
    x = torch.zeros(mesh.n_nodes, 7)
    e = torch.zeros(2, 1, dtype=torch.long)
    g = torch.zeros(mesh.n_nodes, dtype=torch.long)
    c = torch.zeros(mesh.n_nodes, dtype=torch.bool)
    assert net(x, e, g, c).shape == (mesh.n_nodes, 3)
    with pytest.raises(ValueError, match="x must be finite"):
        net(x.clone().fill_(float("nan")), e, g, c)
    with pytest.raises(ValueError, match="edges must index the N=12 nodes"):
        net(x, e + 100, g, c)
    with pytest.raises(ValueError, match="cut must have shape \\(12,\\)"):
        net(x, e, g, c[:3])
    with pytest.raises(TypeError, match="x must have the model's dtype"):
        net(x.double(), e, g, c)
