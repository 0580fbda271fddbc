"""Seed-only checkpoints record their random streams and refuse a torch that draws others."""

from __future__ import annotations

import json
import struct

import pytest
import torch

import mintlab.compress._basis as basis_mod
import mintlab.compress.nola as nola_mod
import mintlab.compress.random_basis as rb_mod
from mintlab import ArtifactError
from mintlab.compress import (
    MCNC,
    PRANC,
    CompressedModel,
    NOLAConfig,
    apply_nola,
    load_adapter,
    rebuild,
    save_adapter,
)


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))


def _nudge(params):
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():  # stand-in for training
        for p in params:
            p.add_(0.1 * torch.randn(p.shape, generator=g))


def _rewrite_meta(path, change):
    """Edit the JSON metadata of a safetensors file in place (header length kept valid)."""
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = json.loads(header["__metadata__"]["mintlab"])
    change(meta)
    header["__metadata__"]["mintlab"] = json.dumps(meta, sort_keys=True)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + n:])


@pytest.mark.parametrize("make", [lambda m: PRANC(m, n_coefficients=20, seed=3),
                                  lambda m: MCNC(m, code_dim=3, chunk_size=32, seed=3)])
def test_reparameterized_fingerprints(tmp_path, make, monkeypatch):
    w = make(_net())
    _nudge(w.trainable_parameters())
    x = torch.randn(5, 8)
    y = w(x)
    plain, full = tmp_path / "seed.safetensors", tmp_path / "basis.safetensors"
    w.save(plain)
    w.save(full, include_basis=True)
    saved = CompressedModel.load(plain)
    assert saved.rng["torch"] == torch.__version__ and saved.rng["fingerprints"]
    assert not saved.includes_basis and CompressedModel.load(full).includes_basis
    assert full.stat().st_size > plain.stat().st_size
    torch.testing.assert_close(rebuild(_net(), saved)(x), y, rtol=0, atol=0)
    # a file whose record says the streams drew other numbers when it was saved
    _rewrite_meta(plain, lambda m: m["rng"]["fingerprints"].update(
        {k: "0" * 16 for k in m["rng"]["fingerprints"]}))
    with pytest.raises(ArtifactError, match=r"seed\.safetensors.*differs.*include_basis=True"):
        rebuild(_net(), CompressedModel.load(plain))
    # this torch drawing other numbers: refused from the seed, fine from the stored basis
    for mod in (basis_mod, rb_mod, nola_mod):
        orig = basis_mod.uniform
        monkeypatch.setattr(mod, "uniform",
                            lambda shape, seed, *k, _o=orig, **kw: _o(shape, seed + 1, *k, **kw))
    w.save(tmp_path / "again.safetensors")  # saved here, it loads here
    with pytest.raises(ArtifactError, match="fingerprint"):
        rebuild(_net(), CompressedModel.load(tmp_path / "seed.safetensors"))
    torch.testing.assert_close(rebuild(_net(), CompressedModel.load(full))(x), y, rtol=0,
                               atol=0)


def test_nola_adapter_fingerprints(tmp_path, monkeypatch):
    m = apply_nola(_net(), NOLAConfig(rank=2, n_basis_A=4, n_basis_B=5, seed=2))
    _nudge([p for p in m.parameters() if p.requires_grad])
    x = torch.randn(3, 8)
    y = m(x)
    plain, full = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    save_adapter(m, plain)
    save_adapter(m, full, include_basis=True)
    torch.testing.assert_close(load_adapter(_net(), plain)(x), y, rtol=0, atol=0)
    orig = basis_mod.uniform
    for mod in (basis_mod, nola_mod):
        monkeypatch.setattr(mod, "uniform",
                            lambda shape, seed, *k, **kw: orig(shape, seed + 1, *k, **kw))
    fresh = _net()
    with pytest.raises(ArtifactError, match=r"a\.safetensors.*'nola/0/A'.*include_basis"):
        load_adapter(fresh, plain)
    assert all(isinstance(mod, torch.nn.Linear | torch.nn.ReLU) for mod in fresh)  # untouched
    torch.testing.assert_close(load_adapter(_net(), full)(x), y, rtol=0, atol=0)


def test_stored_basis_is_checked(tmp_path):
    w = PRANC(_net(), n_coefficients=10, seed=1)
    exp = w.export(include_basis=True)
    key = next(k for k in exp.tensors if k.startswith("basis."))
    bad = dict(exp.tensors)
    bad[key] = bad[key][:-1]
    with pytest.raises(ValueError, match="stored basis of"):
        rebuild(_net(), CompressedModel(exp.method, exp.seed, exp.config, bad, rng=exp.rng))
    nan = dict(exp.tensors)
    nan[key] = torch.full_like(nan[key], float("nan"))
    with pytest.raises(ValueError, match="NaN or infinite"):
        rebuild(_net(), CompressedModel(exp.method, exp.seed, exp.config, nan, rng=exp.rng))
    with pytest.raises(TypeError, match="include_basis must be a bool"):
        w.export(include_basis="yes")
    m = apply_nola(_net(), NOLAConfig(rank=2, n_basis_A=3, n_basis_B=3))
    with pytest.raises(TypeError, match="include_basis must be a bool"):
        save_adapter(m, tmp_path / "x.safetensors", include_basis=1)


def test_fingerprint_depends_on_seed_keys_and_block():
    f = basis_mod.stream_fingerprint
    assert f(0, ("a", 1), (4, 4)) == f(0, ("a", 1), (4, 4))
    assert len({f(0, ("a", 1), (4, 4)), f(1, ("a", 1), (4, 4)), f(0, ("a", 2), (4, 4)),
                f(0, ("a", 1), (4, 5))}) == 4
