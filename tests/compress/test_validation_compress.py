"""Compression: bad input is rejected naming the argument; bad files name the file."""

import json
import os

import pytest
import torch
from torch import nn

from mintlab import ArtifactError
from mintlab.compress import (
    MCNC,
    PRANC,
    CompressedModel,
    LoRAConfig,
    NOLAConfig,
    NOLALayer,
    adapter_state_dict,
    apply_lora,
    apply_nola,
    init_bound,
    load_adapter,
    merge_adapter,
    rebuild,
    save_adapter,
)
from mintlab.compress._io import load_tensors, save_tensors
from mintlab.compress.quant import (
    QuantLinear,
    corner_alignment,
    hadamard_matrix,
    procrustes,
    quantize_model,
    quantize_symmetric,
    random_orthogonal,
)
from mintlab.compress.svd import (
    LowRankLinear,
    Objective,
    causal_lm_objective,
    collect_statistics,
    compress_model,
    effective_rank,
    find_linear_layers,
    finetune,
    prehab,
    quantize_int8_per_vector,
    stable_rank,
    uniform_rank,
    whitened_decomposition,
)

VOCAB = 16


def _mlp(d_in=6, hidden=12, out=3, seed=0):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, out))


class _LM(nn.Module):
    def __init__(self):
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            self.emb = nn.Embedding(VOCAB, 6)
            self.fc1 = nn.Linear(6, 8)
            self.fc2 = nn.Linear(8, VOCAB)

    def forward(self, idx):
        return self.fc2(torch.relu(self.fc1(self.emb(idx))))


def _tokens(n=2, rows=12, cols=5):
    g = torch.Generator().manual_seed(0)
    return [torch.randint(0, VOCAB, (rows, cols), generator=g) for _ in range(n)]


def _nola(model=None):
    return apply_nola(model if model is not None else _mlp(),
                      NOLAConfig(rank=2, n_basis_A=4, n_basis_B=3, seed=1))


# ------------------------------------------------------------------ files
def _damage(path, how):
    data = path.read_bytes()
    if how == "empty":
        path.write_bytes(b"")
    elif how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "corrupted":
        path.write_bytes(b"\x07" * 16 + data[16:])
    elif how == "garbage":
        path.write_bytes(os.urandom(len(data)))
    else:  # pragma: no cover
        raise AssertionError(how)


DAMAGE = ["empty", "truncated", "corrupted", "garbage"]


@pytest.mark.parametrize("how", DAMAGE)
def test_damaged_adapter_file_names_the_file(tmp_path, how):
    path = save_adapter(_nola(), tmp_path / "adapter.safetensors")
    _damage(path, how)
    with pytest.raises(ArtifactError, match="adapter.safetensors"):
        load_adapter(_mlp(), path)


@pytest.mark.parametrize("how", DAMAGE)
def test_damaged_compressed_model_file_names_the_file(tmp_path, how):
    path = PRANC(_mlp(), n_coefficients=5).export().save(tmp_path / "model.safetensors")
    _damage(path, how)
    with pytest.raises(ArtifactError, match="model.safetensors"):
        CompressedModel.load(path)


def test_missing_files_name_the_file(tmp_path):
    with pytest.raises(ArtifactError, match="nothing.safetensors.*no such"):
        load_adapter(_mlp(), tmp_path / "nothing.safetensors")
    with pytest.raises(ArtifactError, match="nothing.safetensors.*no such"):
        CompressedModel.load(tmp_path / "nothing.safetensors")


def test_a_foreign_safetensors_file_is_rejected(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(3)}, str(path))
    with pytest.raises(ArtifactError, match="foreign.safetensors.*not written by mintlab"):
        load_tensors(path)
    with pytest.raises(ArtifactError, match="foreign.safetensors"):
        load_adapter(_mlp(), path)
    with pytest.raises(ArtifactError, match="foreign.safetensors"):
        CompressedModel.load(path)


def _rewrite_meta(path, edit):
    tensors, meta = load_tensors(path)
    edit(meta)
    save_tensors(path, tensors, meta)


@pytest.mark.parametrize("edit, match", [
    (lambda m: m.update(format="mintlab.adapter/99"), "format"),
    (lambda m: m.pop("config"), "config"),
    (lambda m: m.update(method="dora"), "dora"),
    (lambda m: m["config"].update(rank=-1), "rank"),
    (lambda m: m["config"].update(unknown_field=3), "unknown_field"),
    (lambda m: m.update(modules=["0"]), "modules"),
])
def test_adapter_with_mismatched_metadata_names_the_file(tmp_path, edit, match):
    path = save_adapter(_nola(), tmp_path / "a.safetensors")
    _rewrite_meta(path, edit)
    with pytest.raises(ArtifactError, match=f"a.safetensors.*{match}"):
        load_adapter(_mlp(), path)


def test_adapter_for_another_architecture_names_file_and_module_and_leaves_the_model(tmp_path):
    path = save_adapter(apply_nola(_mlp(), NOLAConfig(rank=1, target_modules=["2"])),
                        tmp_path / "a.safetensors")
    other = nn.Sequential(nn.Linear(6, 12), nn.ReLU())  # no module "2"
    with pytest.raises(ArtifactError, match=r"a.safetensors.*'2'"):
        load_adapter(other, path)
    # LoRA factors depend on the layer's shape: another width is a shape mismatch
    path = save_adapter(apply_lora(_mlp(), LoRAConfig(rank=2), backend="mintlab"),
                        tmp_path / "lora.safetensors")
    narrow = _mlp(hidden=7)
    before = {n: (p.clone(), p.requires_grad) for n, p in narrow.named_parameters()}
    with pytest.raises(ArtifactError, match=r"lora.safetensors.*lora_[AB].*shape"):
        load_adapter(narrow, path)
    assert not any(isinstance(m, NOLALayer) for m in narrow.modules())
    assert [type(m).__name__ for m in narrow] == ["Linear", "ReLU", "Linear"]
    for n, p in narrow.named_parameters():
        assert torch.equal(p, before[n][0]) and p.requires_grad == before[n][1]


def test_adapter_with_missing_or_non_finite_tensors_names_the_file(tmp_path):
    model = _nola()
    path = save_adapter(model, tmp_path / "a.safetensors")
    tensors, meta = load_tensors(path)
    tensors.pop("0.nola_beta")
    save_tensors(path, tensors, meta)
    with pytest.raises(ArtifactError, match=r"a.safetensors.*0.nola_beta"):
        load_adapter(_mlp(), path)
    tensors["0.nola_beta"] = torch.full((3,), float("nan"))
    save_tensors(path, tensors, meta)
    with pytest.raises(ArtifactError, match=r"a.safetensors.*NaN"):
        load_adapter(_mlp(), path)


@pytest.mark.parametrize("edit, match", [
    (lambda m: m.update(format="mintlab.compress/0"), "format"),
    (lambda m: m.pop("seed"), "seed"),
    (lambda m: m.update(seed=-3), "seed"),
    (lambda m: m.update(method="zip"), "zip"),
    (lambda m: m["config"].pop("shapes"), "shapes"),
    (lambda m: m["config"].update(param_names=[1, 2]), "param_names"),
])
def test_compressed_model_with_mismatched_metadata_names_the_file(tmp_path, edit, match):
    path = PRANC(_mlp(), n_coefficients=5).export().save(tmp_path / "m.safetensors")
    _rewrite_meta(path, edit)
    with pytest.raises(ArtifactError, match=f"m.safetensors.*{match}"):
        CompressedModel.load(path)


def test_rebuilding_a_file_into_another_model_names_file_key_and_shape(tmp_path):
    path = MCNC(_mlp(), code_dim=2, chunk_size=16).export().save(tmp_path / "m.safetensors")
    loaded = CompressedModel.load(path)
    with pytest.raises(ArtifactError, match=r"m.safetensors.*'0.weight'.*\(13, 6\)"):
        rebuild(_mlp(hidden=13), loaded)
    with pytest.raises(ArtifactError, match=r"m.safetensors.*no parameter '2.weight'"):
        rebuild(nn.Sequential(nn.Linear(6, 12)), loaded)
    tensors, meta = load_tensors(path)
    tensors.pop("codes")
    save_tensors(path, tensors, meta)
    with pytest.raises(ArtifactError, match=r"m.safetensors.*codes.*missing"):
        rebuild(_mlp(), CompressedModel.load(path))
    tensors["codes"] = torch.zeros(3, 3)
    save_tensors(path, tensors, meta)
    with pytest.raises(ArtifactError, match=r"m.safetensors.*'codes'.*shape"):
        rebuild(_mlp(), CompressedModel.load(path))
    # the same mismatch without a file is a plain ValueError
    with pytest.raises(ValueError, match="shape"):
        rebuild(_mlp(hidden=13), MCNC(_mlp(), code_dim=2, chunk_size=16).export())


def test_round_trip_is_exact_and_writes_are_atomic(tmp_path, monkeypatch):
    model = _nola()
    with torch.no_grad():
        for p in adapter_state_dict(model).values():
            p.add_(0.25)
    path = save_adapter(model, tmp_path / "a.safetensors")
    x = torch.randn(4, 6)
    torch.testing.assert_close(load_adapter(_mlp(), path)(x), model(x), rtol=0, atol=0)
    good = path.read_bytes()
    import safetensors.torch

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.torch, "save_file", crash)
    with pytest.raises(OSError, match="disk full"):
        save_adapter(model, path)
    assert path.read_bytes() == good  # the old file is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.safetensors"]  # no temp left


def test_saved_paths_must_be_safetensors_names(tmp_path):
    with pytest.raises(ValueError, match="path must end in '.safetensors'"):
        save_adapter(_nola(), tmp_path / "a.pt")
    with pytest.raises(TypeError, match="path"):
        save_adapter(_nola(), 3)
    with pytest.raises(TypeError, match="path"):
        load_adapter(_mlp(), None)
    with pytest.raises(TypeError, match="model"):
        load_adapter("model", tmp_path / "a.safetensors")


def test_metadata_is_json(tmp_path):
    path = save_adapter(_nola(), tmp_path / "a.safetensors")
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = json.loads(f.metadata()["mintlab"])
    assert meta["format"] == "mintlab.adapter/1" and meta["method"] == "nola"


# ------------------------------------------------------------------ arguments
def test_uniform_rank_never_goes_negative():
    assert uniform_rank(64, 64, 0.5) == 16
    for bad in (1.5, 1.0, 0.0, -0.2, float("nan")):
        with pytest.raises(ValueError, match="ratio"):
            uniform_rank(64, 64, bad)
    with pytest.raises(TypeError, match="out_features"):
        uniform_rank(64.0, 64, 0.5)


@pytest.mark.parametrize("breaker, err, match", [
    (lambda b: b[:0], ValueError, "at least one batch"),
    (lambda b: [b[0].double().fill_(float("nan"))] + b[1:], ValueError,
     r"calibration\[0\].*finite"),
    (lambda b: [b[0][:0]] + b[1:], ValueError, r"calibration\[0\].*empty"),
    (lambda b: [b[0][:, :1]] + b[1:], ValueError, r"calibration\[0\].*T \+ 1"),
    (lambda b: [b[0]] + [b[1] - 100], ValueError, r"calibration\[1\].*>= 0"),
    (lambda b: [b[0]] + [b[1] + 100], ValueError, r"calibration.*(vocabulary|outputs)"),
    (lambda b: ["text"], TypeError, r"calibration\[0\]"),
    (lambda b: 7, TypeError, "calibration must be an iterable"),
])
def test_bad_calibration_data_is_rejected_before_anything_runs(breaker, err, match):
    for run in (lambda c: compress_model(_LM(), "svd-llm", 0.4, c),
                lambda c: quantize_model(_LM(), rotation="conqur", calibration=c)):
        with pytest.raises(err, match=match):
            run(breaker(_tokens()))
    with pytest.raises(err, match=match.replace("calibration", "train_batches")):
        finetune(_LM(), breaker(_tokens()), steps=1)


def test_classification_batches_are_checked():
    x, y = torch.randn(8, 6), torch.arange(8) % 3
    with pytest.raises(ValueError, match=r"labels y.*integer"):
        compress_model(_mlp(), "svd-llm", 0.4, [(x, y.float())])
    with pytest.raises(ValueError, match="one label per row"):
        compress_model(_mlp(), "svd-llm", 0.4, [(x, y[:5])])
    with pytest.raises(ValueError, match=r"calibration\[1\].*pair"):
        compress_model(_mlp(), "svd-llm", 0.4, [(x, y), x])
    with pytest.raises(ValueError, match=r"calibration.*index 7.*3 outputs"):
        compress_model(_mlp(), "svd-llm", 0.4, [(x, y + 5)])


def test_compress_model_arguments():
    for kw, match in [({"alpha": -1.0}, "alpha"), ({"top_k": 0}, "top_k"),
                      ({"output_damping": 0.0}, "output_damping"), ({"min_rank": -1}, "min_rank"),
                      ({"seed": 1.5}, "seed"), ({"include": 3}, "include")]:
        with pytest.raises((ValueError, TypeError), match=match):
            compress_model(_LM(), "svd-llm", 0.4, _tokens(), **kw)
    with pytest.raises(TypeError, match="model"):
        compress_model("model", "svd", 0.4)
    lm = _LM()
    with torch.no_grad():
        lm.fc1.weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match="model's layer 'fc1'"):
        compress_model(lm, "svd", 0.4)


def test_collect_statistics_arguments():
    lm = _LM()
    layers = find_linear_layers(lm)
    obj = causal_lm_objective()
    with pytest.raises(TypeError, match="objective"):
        collect_statistics(lm, layers, _tokens(), None)
    with pytest.raises(TypeError, match=r"layers\['emb'\]"):
        collect_statistics(lm, {"emb": lm.emb}, _tokens(), obj)
    with pytest.raises(ValueError, match="not a module of model"):
        collect_statistics(lm, find_linear_layers(_LM()), _tokens(), obj)
    with pytest.raises(TypeError, match="loss"):
        Objective(loss="ce", logits=lambda m, b: m(b))
    with pytest.raises(TypeError, match="exclude"):
        find_linear_layers(lm, exclude=5)


def test_prehab_and_finetune_arguments():
    for kw, match in [({"lr": 0.0}, "lr"), ({"lam": -1.0}, "lam"), ({"warmup": -1}, "warmup"),
                      ({"surrogate": "trace"}, "surrogate"), ({"steps": 1.5}, "steps")]:
        with pytest.raises((ValueError, TypeError), match=match):
            prehab(_LM(), _tokens(), **{"steps": 1, **kw})
    frozen = _LM().requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameter"):
        finetune(frozen, _tokens(), steps=1)


def test_rank_surrogates_reject_degenerate_matrices():
    with pytest.raises(ValueError, match="zero matrix"):
        stable_rank(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="zero matrix"):
        effective_rank(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="M must be finite"):
        stable_rank(torch.tensor([[1.0, float("nan")]]))
    with pytest.raises(TypeError, match="M must be a torch tensor"):
        effective_rank([[1.0, 2.0]])
    with pytest.raises(ValueError, match="iters"):
        stable_rank(torch.eye(3), iters=0)


def test_low_rank_and_quant_layers_check_shapes():
    layer = LowRankLinear(4, 3, 2)
    with pytest.raises(ValueError, match=r"x must have shape \(\.\.\., 4\)"):
        layer(torch.randn(5, 3))
    with pytest.raises(TypeError, match="x must be a torch tensor"):
        layer([[1.0] * 4])
    with pytest.raises(TypeError, match="rank"):
        LowRankLinear(4, 3, 1.5)
    with pytest.raises(ValueError, match="bias"):
        LowRankLinear.from_factors(torch.randn(3, 2), torch.randn(2, 4), torch.randn(4))
    q = QuantLinear(nn.Linear(4, 3))
    with pytest.raises(ValueError, match=r"x must have shape \(\.\.\., 4\)"):
        q(torch.randn(5, 3))
    with pytest.raises(ValueError, match="rotation"):
        QuantLinear(nn.Linear(4, 3), rotation=torch.eye(3))
    with pytest.raises(TypeError, match="linear"):
        QuantLinear(nn.Conv1d(4, 3, 1))
    with pytest.raises(ValueError, match="R"):
        q.set_rotation(torch.eye(5))


def test_quantisation_helpers():
    x = torch.randn(4, 8)
    with pytest.raises(TypeError, match="bits"):
        quantize_symmetric(x, 2.5)
    with pytest.raises(ValueError, match="dim"):
        quantize_symmetric(x, 4, dim=2)
    with pytest.raises(ValueError, match="v must be finite"):
        quantize_int8_per_vector(torch.tensor([[float("inf")]]), 0)
    with pytest.raises(ValueError, match="n must be the order of a Hadamard matrix"):
        hadamard_matrix(6)
    with pytest.raises(TypeError, match="seed"):
        random_orthogonal(4, seed=0.5)
    with pytest.raises(ValueError, match="at least as many rows"):
        procrustes(torch.randn(2, 5))
    with pytest.raises(ValueError, match=r"R must have shape \(8, 8\)"):
        corner_alignment(x, torch.eye(4))
    with pytest.raises((ValueError, TypeError), match="momentum"):
        quantize_model(_LM(), momentum=1.0)
    with pytest.raises(ValueError, match="rotation"):
        quantize_model(_LM(), rotation="spin")


def test_whitened_decomposition_checks_its_factors():
    W = torch.randn(5, 4)
    with pytest.raises(ValueError, match=r"S must have shape \(4,\) or \(4, 4\)"):
        whitened_decomposition(W, torch.ones(5))
    with pytest.raises(ValueError, match="S must be invertible"):
        whitened_decomposition(W, torch.zeros(4))
    with pytest.raises(ValueError, match=r"R must have shape \(5, 5\)"):
        whitened_decomposition(W, None, torch.eye(4))
    with pytest.raises(ValueError, match="weight must be 2-dimensional"):
        whitened_decomposition(torch.randn(4))


def test_adapters_and_reparameterisations_name_their_arguments():
    with pytest.raises(TypeError, match="base must be an nn.Linear"):
        NOLALayer(nn.ReLU(), NOLAConfig(), "relu")
    with pytest.raises(TypeError, match="config must be a NOLAConfig"):
        NOLALayer(nn.Linear(3, 2), LoRAConfig(), "fc")
    with pytest.raises(TypeError, match="name"):
        NOLALayer(nn.Linear(3, 2), NOLAConfig(), 3)
    with pytest.raises(TypeError, match="model"):
        merge_adapter(None)
    with pytest.raises(ValueError, match="name 'nope' is not a parameter of model"):
        init_bound(_mlp(), "nope")
    model = _mlp()
    with pytest.raises(ValueError, match="n_coefficients"):
        PRANC(model, n_coefficients=0)
    assert all(p.requires_grad for p in model.parameters())  # checked before freezing
    with pytest.raises(ValueError, match="method"):
        CompressedModel("zip", 0, {}, {})
    with pytest.raises(TypeError, match="tensors"):
        CompressedModel("pranc", 0, {}, {"coefficients": [1.0]})


def test_testbed_arguments():
    from mintlab.compress.testbed import ByteGPT, LMConfig, encode_text, lm_batches, lm_loss

    with pytest.raises(TypeError, match="seed"):
        lm_batches(n_batches=1, batch_size=1, seq_len=4, seed=0.5)
    with pytest.raises(ValueError, match="seq_len"):
        lm_batches(n_batches=1, batch_size=1, seq_len=10**9)
    model = ByteGPT(LMConfig(d_model=8, n_layers=1, n_heads=2, context=8))
    with pytest.raises(ValueError, match="batch"):
        lm_loss(model, torch.zeros(2, 1, dtype=torch.long))
    with pytest.raises(TypeError, match="model"):
        lm_loss("model", torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(TypeError, match="text"):
        encode_text(b"bytes")
    with pytest.raises(TypeError, match="config"):
        ByteGPT({"d_model": 8})
