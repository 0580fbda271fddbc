"""Saving and reloading compressed models; merging low-rank layers back to dense ones."""

import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mintlab import ArtifactError
from mintlab.compress import load_compressed, merge_low_rank, save_compressed
from mintlab.compress.quant import QuantLinear, quantize_model
from mintlab.compress.svd import LowRankLinear, Objective, compress_model

transformers = pytest.importorskip("transformers")

VOCAB = 128


def hf_objective():
    """Scores (B, T + 1) token batches with a Hugging Face causal LM."""

    def logits(model, batch):
        out = model(batch[:, :-1]).logits
        return out.reshape(-1, out.shape[-1])

    def loss(model, batch):
        return F.cross_entropy(logits(model, batch), batch[:, 1:].reshape(-1))

    return Objective(loss, logits, "hf-causal-lm")


def tiny_llama(seed=0):
    cfg = transformers.LlamaConfig(hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                                   num_attention_heads=4, num_key_value_heads=2,
                                   vocab_size=VOCAB, max_position_embeddings=64,
                                   tie_word_embeddings=True)
    torch.manual_seed(seed)
    return transformers.LlamaForCausalLM(cfg).eval()


def _batches(n=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(0, VOCAB, (2, 17), generator=g) for _ in range(n)]


COMPRESS = {
    "svd": {"method": "svd"},
    "asvd": {"method": "asvd"},
    "svd-llm": {"method": "svd-llm"},
    "zs-svd": {"method": "zs-svd"},
    "zs-svd+correction": {"method": "zs-svd", "correction": True},
    "io-svd": {"method": "io-svd"},
    "io-svd+loss-aware": {"method": "io-svd", "quantize": "loss-aware"},
    "io-svd+all": {"method": "io-svd", "quantize": "all"},
}
QUANTIZE = ("none", "random", "hadamard", "conqur")


def _compressed(kind):
    model = tiny_llama()
    calib = _batches()
    if kind in COMPRESS:
        return compress_model(model, ratio=0.4, calibration=calib, objective=hf_objective(),
                              **COMPRESS[kind])
    return quantize_model(model, w_bits=4, a_bits=4, rotation=kind, calibration=calib,
                          objective=hf_objective())


@pytest.fixture(scope="module", params=[*COMPRESS, *QUANTIZE])
def saved(request, tmp_path_factory):
    model, report = _compressed(request.param)
    folder = save_compressed(model, tmp_path_factory.mktemp("c") / "m", report=report)
    return request.param, model, folder


def test_save_then_load_gives_identical_logits_and_a_pretrained_model(saved):
    kind, model, folder = saved
    loaded = load_compressed(folder)
    assert isinstance(loaded, transformers.PreTrainedModel)
    assert type(loaded) is type(model)
    ids = torch.randint(0, VOCAB, (3, 11), generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        assert torch.equal(loaded(ids).logits, model(ids).logits), kind
    kinds = {type(m) for m in loaded.modules()}
    if kind in COMPRESS:
        assert LowRankLinear in kinds
    assert (QuantLinear in kinds) == (kind in QUANTIZE)
    meta = json.loads((folder / "compressed.json").read_text())
    assert meta["format_version"] == 1 and meta["hugging_face"]


def test_generate_works_after_loading(saved):
    _, model, folder = saved
    loaded = load_compressed(folder)
    ids = torch.randint(0, VOCAB, (1, 5), generator=torch.Generator().manual_seed(6))
    kw = {"max_new_tokens": 4, "do_sample": False, "pad_token_id": 0}
    out = loaded.generate(ids, **kw)
    assert out.shape == (1, 9)
    assert torch.equal(out, model.generate(ids, **kw))


def test_merge_low_rank_leaves_dense_linear_layers_with_the_same_logits(saved):
    kind, model, _ = saved
    if kind in QUANTIZE:
        merged = merge_low_rank(model)
        assert sum(isinstance(m, QuantLinear) for m in merged.modules()) > 0
        return
    merged = merge_low_rank(model)
    assert not any(isinstance(m, LowRankLinear) for m in merged.modules())
    assert any(isinstance(m, LowRankLinear) for m in model.modules())  # a copy by default
    ids = torch.randint(0, VOCAB, (2, 9), generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        assert torch.allclose(merged(ids).logits, model(ids).logits, atol=1e-5)
    inplace = merge_low_rank(model, inplace=True)
    assert inplace is model and not any(isinstance(m, LowRankLinear) for m in model.modules())


def test_plain_modules_load_into_a_given_architecture(tmp_path):
    def mlp():
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(12, 24), nn.Tanh(), nn.Linear(24, 5))

    g = torch.Generator().manual_seed(0)
    calib = [(torch.randn(16, 12, generator=g), torch.randint(0, 5, (16,), generator=g))
             for _ in range(3)]
    x = torch.randn(4, 12)
    for small, _ in (compress_model(mlp(), "svd-llm", 0.4, calib),
                     quantize_model(mlp(), rotation="conqur", calibration=calib)):
        save_compressed(small, tmp_path / "m")
        with pytest.raises(ValueError, match="model is required"):
            load_compressed(tmp_path / "m")
        for base in (mlp, mlp()):  # a factory or a module
            loaded = load_compressed(tmp_path / "m", base)
            with torch.no_grad():
                assert torch.equal(loaded(x), small(x))


def test_saving_needs_a_compressed_model(tmp_path):
    with pytest.raises(ValueError, match="model must hold compressed layers"):
        save_compressed(nn.Linear(3, 3), tmp_path / "m")
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        save_compressed("model", tmp_path / "m")
    with pytest.raises(TypeError, match="folder must be a path"):
        save_compressed(nn.Linear(3, 3), 3)
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        merge_low_rank(None)
    with pytest.raises(TypeError, match="model must be None"):
        load_compressed(tmp_path, model=3)


@pytest.fixture()
def svd_folder(tmp_path):
    model, report = _compressed("svd")
    return save_compressed(model, tmp_path / "m", report=report)


@pytest.mark.parametrize("damage", ["truncate", "empty", "garbage", "missing"])
@pytest.mark.parametrize("name", ["model.safetensors", "compressed.json", "config.json"])
def test_damaged_files_raise_an_error_naming_the_file(svd_folder, name, damage):
    path = svd_folder / name
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "garbage":
        path.write_bytes(b"\x00\xff" * 40)
    else:
        path.unlink()
    with pytest.raises(ArtifactError, match=name.replace(".", r"\.")):
        load_compressed(svd_folder)


def test_mismatched_files_raise_an_error_naming_the_file(svd_folder, tmp_path):
    meta_path = svd_folder / "compressed.json"
    meta = json.loads(meta_path.read_text())
    name = next(iter(meta["layers"]))
    meta["layers"][name]["rank"] += 1
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match=r"model\.safetensors.*shape"):
        load_compressed(svd_folder)
    meta["layers"][name]["rank"] -= 1
    meta["format_version"] = 99
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match=r"compressed\.json.*version 99"):
        load_compressed(svd_folder)
    meta["format_version"] = 1
    meta["layers"]["no.such.layer"] = meta["layers"][name]
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match=r"compressed\.json.*no\.such\.layer"):
        load_compressed(svd_folder)
    with pytest.raises(ArtifactError, match="no such folder"):
        load_compressed(tmp_path / "absent")


def test_a_bfloat16_hugging_face_model_reloads_in_bfloat16(tmp_path):
    model = tiny_llama().to(torch.bfloat16)
    small, report = compress_model(model, "svd", 0.5)
    folder = save_compressed(small, tmp_path / "m", report=report)
    loaded = load_compressed(folder)
    assert {p.dtype for p in loaded.parameters()} == {torch.bfloat16}
    ids = torch.randint(0, VOCAB, (2, 7), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(loaded(ids).logits, small(ids).logits)


def _mlp8(out=8):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, out))


def test_a_failed_load_leaves_the_given_module_unchanged(tmp_path):
    small, _ = compress_model(_mlp8(), "svd", 0.5, exclude="2")  # the last layer stays dense
    save_compressed(small, tmp_path / "m")
    base = _mlp8(out=4)  # so its shape does not match
    before = {k: v.clone() for k, v in base.state_dict().items()}
    with pytest.raises(ArtifactError, match=r"model\.safetensors"):
        load_compressed(tmp_path / "m", base)
    assert [type(m) for m in base] == [nn.Linear, nn.ReLU, nn.Linear]
    after = base.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)


class _TransposedTwin(nn.Module):
    """A layer and a buffer holding the transpose of its weight (a strided view)."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(6, 6)
        self.register_buffer("twin", self.lin.weight.detach().T)

    def forward(self, x):
        return self.lin(x) + x @ self.twin


def test_transposed_views_are_not_saved_as_aliases(tmp_path):
    torch.manual_seed(0)
    small, _ = compress_model(nn.Sequential(_TransposedTwin(), nn.Linear(6, 6)), "svd", 0.5,
                              exclude="0.lin", inplace=True)  # the view stays a view
    assert small[0].twin.untyped_storage().data_ptr() \
        == small[0].lin.weight.untyped_storage().data_ptr()
    save_compressed(small, tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "compressed.json").read_text())
    assert meta["aliases"] == {}

    def fresh():
        torch.manual_seed(1)  # other values everywhere: only the file can supply the right ones
        return nn.Sequential(_TransposedTwin(), nn.Linear(6, 6))

    loaded = load_compressed(tmp_path / "m", fresh)
    assert torch.equal(loaded[0].twin, small[0].lin.weight.detach().T)
    x = torch.randn(3, 6)
    with torch.no_grad():
        assert torch.equal(loaded(x), small(x))


def test_tied_tensors_are_still_stored_once(tmp_path):
    small, _ = compress_model(tiny_llama(), "svd", 0.5, exclude="lm_head")
    save_compressed(small, tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "compressed.json").read_text())
    assert meta["aliases"] == {"lm_head.weight": "model.embed_tokens.weight"}


class _BadReport:
    method = "svd"

    def to_json(self):
        return {"ranks": torch.ones(2)}  # not JSON


def test_a_report_that_is_not_json_fails_before_any_file_is_written(tmp_path):
    small, report = compress_model(_mlp8(), "svd", 0.5)
    save_compressed(small, tmp_path / "m", report=report)
    before = {p.name: p.read_bytes() for p in (tmp_path / "m").iterdir()}
    other, _ = compress_model(_mlp8(), "svd", 0.25)
    with pytest.raises(TypeError, match="report"):
        save_compressed(other, tmp_path / "m", report=_BadReport())
    assert {p.name: p.read_bytes() for p in (tmp_path / "m").iterdir()} == before
    with pytest.raises(TypeError, match="report"):
        save_compressed(other, tmp_path / "new", report=_BadReport())
    assert not (tmp_path / "new").exists()


def test_an_interrupted_save_leaves_no_loadable_mix_of_old_and_new_files(tmp_path, monkeypatch):
    import mintlab.compress.artifacts as artifacts

    small, _ = compress_model(_mlp8(), "svd", 0.5)
    save_compressed(small, tmp_path / "m")
    other, _ = compress_model(_mlp8(), "svd", 0.25)

    def dies(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(artifacts, "write_json", dies)  # weights written, description not
    with pytest.raises(OSError):
        save_compressed(other, tmp_path / "m")
    with pytest.raises(ArtifactError, match=r"compressed\.json"):
        load_compressed(tmp_path / "m", _mlp8)


@pytest.mark.parametrize("aliases", [["a", "b"], {"a": 3}, "x"])
def test_a_corrupted_aliases_entry_names_the_file(tmp_path, aliases):
    small, _ = compress_model(_mlp8(), "svd", 0.5)
    save_compressed(small, tmp_path / "m")
    meta_path = tmp_path / "m" / "compressed.json"
    meta = json.loads(meta_path.read_text())
    meta["aliases"] = aliases
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match=r"compressed\.json.*aliases"):
        load_compressed(tmp_path / "m", _mlp8)


def test_a_bare_layer_is_rejected_with_a_hint(tmp_path):
    with pytest.raises(ValueError, match="model.*wrap it in a module"):
        compress_model(nn.Linear(8, 8), "svd", 0.5)
    with pytest.raises(ValueError, match="model.*wrap it in a module"):
        quantize_model(nn.Linear(8, 8))
    small, _ = compress_model(nn.Sequential(nn.Linear(8, 8)), "svd", 0.5)
    with pytest.raises(ValueError, match="model.*wrap it in a module"):
        save_compressed(small[0], tmp_path / "m")
    assert not (tmp_path / "m").exists()
    q, _ = quantize_model(nn.Sequential(nn.Linear(8, 8)))
    with pytest.raises(ValueError, match="model.*wrap it in a module"):
        save_compressed(q[0], tmp_path / "m")


def test_a_description_naming_the_whole_model_as_a_layer_is_rejected(tmp_path):
    small, _ = compress_model(_mlp8(), "svd", 0.5)
    save_compressed(small, tmp_path / "m")
    meta_path = tmp_path / "m" / "compressed.json"
    meta = json.loads(meta_path.read_text())
    meta["layers"] = {"": meta["layers"]["0"]}
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match=r"compressed\.json"):
        load_compressed(tmp_path / "m", _mlp8)


def test_merging_a_bare_layer_returns_a_new_dense_layer_and_keeps_requires_grad():
    small, _ = compress_model(nn.Sequential(nn.Linear(8, 8), nn.Linear(8, 8)), "svd", 0.5)
    small[0].requires_grad_(False)
    for inplace in (False, True):
        dense = merge_low_rank(small[0], inplace=inplace)
        assert type(dense) is nn.Linear and isinstance(small[0], LowRankLinear)
        assert not dense.weight.requires_grad and not dense.bias.requires_grad
    merged = merge_low_rank(small)
    assert not merged[0].weight.requires_grad and not merged[0].bias.requires_grad
    assert merged[1].weight.requires_grad and merged[1].bias.requires_grad
    x = torch.randn(3, 8)
    with torch.no_grad():
        assert torch.allclose(merged(x), small(x), atol=1e-6)
