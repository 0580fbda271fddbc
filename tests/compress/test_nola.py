"""NOLA and LoRA adapters: identity at start, exact formula, merge, save/load, PEFT parity."""

import pytest
import torch
from torch import nn

from mintlab.compress import (
    LoRAConfig,
    NOLAConfig,
    NOLALayer,
    adapter_bytes,
    adapter_state_dict,
    apply_lora,
    apply_nola,
    count_trainable_parameters,
    load_adapter,
    merge_adapter,
    peft_available,
    save_adapter,
    unmerge_adapter,
)


class Net(nn.Module):
    def __init__(self, dtype=torch.float32):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.body = nn.Sequential(nn.Linear(4 * 25, 16), nn.ReLU())
        self.head = nn.Linear(16, 3)
        self.to(dtype)

    def forward(self, x):
        h = torch.relu(self.conv(x)).flatten(1)
        return self.head(self.body(h))


def _x(dtype=torch.float32):
    return torch.randn(7, 1, 5, 5, generator=torch.Generator().manual_seed(1), dtype=dtype)


def _randomise(model):
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for _n, p in model.named_parameters():
            if p.requires_grad:
                p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * 0.3)


def test_zero_beta_is_identity_and_only_coefficients_train():
    x = _x()
    ref = Net()(x)
    model = apply_nola(Net(), NOLAConfig(rank=2, n_basis_A=6, n_basis_B=5))
    assert torch.equal(model(x), ref)
    assert count_trainable_parameters(model) == 3 * (6 + 5)
    model(x).sum().backward()
    for n, p in model.named_parameters():
        assert (p.grad is not None) == ("nola_" in n), n
    assert model.head.nola_beta.grad.abs().sum() > 0  # B's coefficients get a gradient at b = 0


def test_delta_weight_is_the_nola_formula():
    model = apply_nola(Net(torch.float64), NOLAConfig(rank=3, n_basis_A=4, n_basis_B=5, alpha=2.0))
    _randomise(model)
    layer = model.head
    A = sum(layer.nola_alpha[i] * layer.basis_A[i] for i in range(4))   # (rank, in)
    B = sum(layer.nola_beta[j] * layer.basis_B[j] for j in range(5))    # (out, rank)
    torch.testing.assert_close(layer.delta_weight(), (2.0 / 3) * B @ A)
    x = torch.randn(5, 16, dtype=torch.float64)
    torch.testing.assert_close(layer(x), x @ (layer.base.weight + (2.0 / 3) * B @ A).T
                               + layer.base.bias)
    conv = model.conv
    xc = _x(torch.float64)
    expected = torch.nn.functional.conv2d(xc, conv.base.weight + conv.delta_weight(),
                                          conv.base.bias, padding=1)
    torch.testing.assert_close(conv(xc), expected)


def test_bases_follow_their_stated_distributions():
    layer = apply_nola(nn.Sequential(nn.Linear(400, 50)),
                       NOLAConfig(rank=4, n_basis_A=64, n_basis_B=64))[0]
    assert layer.basis_A.shape == (64, 4, 400) and layer.basis_B.shape == (64, 50, 4)
    assert float(layer.basis_A.abs().max()) <= 1 / 20
    assert float(layer.basis_A.std()) == pytest.approx(1 / 20 / 3 ** 0.5, rel=0.02)
    A, _ = layer.factors()
    assert float(A.detach().std()) == pytest.approx(1 / 20 / 3 ** 0.5, rel=0.1)  # LoRA's A scale


def test_merge_unmerge_round_trip():
    model = apply_nola(Net(), NOLAConfig(rank=2))
    _randomise(model)
    x = _x()
    before = model(x)
    w0 = model.head.base.weight.clone()
    merge_adapter(model)
    merge_adapter(model)  # idempotent
    torch.testing.assert_close(model(x), before, rtol=1e-5, atol=1e-6)
    assert not torch.equal(model.head.base.weight, w0)
    unmerge_adapter(model)
    torch.testing.assert_close(model.head.base.weight, w0, rtol=0, atol=1e-6)
    torch.testing.assert_close(model(x), before, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["nola", "lora"])
def test_saved_adapter_loads_into_fresh_model(kind, tmp_path):
    if kind == "nola":
        model = apply_nola(Net(), NOLAConfig(rank=2, n_basis_A=7, n_basis_B=3, seed=4))
    else:
        model = apply_lora(Net(), LoRAConfig(rank=2, seed=4), backend="mintlab")
    _randomise(model)
    path = save_adapter(model, tmp_path / "adapter.safetensors")
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        stored = set(f.keys())
    assert stored == set(adapter_state_dict(model))  # trained tensors only, no basis
    fresh = load_adapter(Net(), path)
    x = _x()
    assert torch.equal(fresh(x), model(x))
    n_layers = 3
    per_layer = 7 + 3 if kind == "nola" else None
    if kind == "nola":
        assert adapter_bytes(model) == 4 * n_layers * per_layer + 8
        assert path.stat().st_size < 2000


def test_nola_gradcheck():
    layer = apply_nola(nn.Sequential(nn.Linear(5, 4).double()),
                       NOLAConfig(rank=2, n_basis_A=3, n_basis_B=3))[0]
    x = torch.randn(6, 5, dtype=torch.float64)

    def f(a, b):
        return torch.func.functional_call(layer, {"nola_alpha": a, "nola_beta": b}, (x,))

    a = torch.randn(3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(f, (a, b))


def test_target_modules_follow_peft_matching():
    model = apply_nola(Net(), NOLAConfig(target_modules=["head", "body.0"]))
    assert isinstance(model.head, NOLALayer) and isinstance(model.body[0], NOLALayer)
    assert isinstance(model.conv, nn.Conv2d)
    model = apply_nola(Net(), NOLAConfig(target_modules=r"body\.\d+"))
    assert isinstance(model.body[0], NOLALayer) and isinstance(model.head, nn.Linear)


def test_bad_configs():
    with pytest.raises(ValueError, match="rank"):
        NOLAConfig(rank=0)
    with pytest.raises(ValueError, match="rank"):
        LoRAConfig(rank=-1)
    with pytest.raises(ValueError, match="n_basis_A"):
        NOLAConfig(n_basis_A=0)
    with pytest.raises(TypeError, match="seed"):
        NOLAConfig(seed="0")
    with pytest.raises(TypeError, match="target_modules"):
        NOLAConfig(target_modules=[1, 2])
    with pytest.raises(ValueError, match="target module 'missing' is not in the model"):
        apply_nola(Net(), NOLAConfig(target_modules=["head", "missing"]))
    with pytest.raises(ValueError, match="matches no layer"):
        apply_nola(Net(), NOLAConfig(target_modules="nothing.*"))
    with pytest.raises(TypeError, match="ReLU"):
        apply_nola(Net(), NOLAConfig(target_modules=["body.1"]))
    model = apply_nola(Net(), NOLAConfig(target_modules=["head"]))
    with pytest.raises(ValueError, match="already has an adapter"):
        apply_nola(model, NOLAConfig(target_modules=["head"]))
    with pytest.raises(TypeError, match="NOLAConfig"):
        apply_nola(Net(), LoRAConfig())
    with pytest.raises(ValueError, match="no mintlab adapter"):
        merge_adapter(Net())
    with pytest.raises(ValueError, match="backend"):
        apply_lora(Net(), LoRAConfig(), backend="tf")


@pytest.mark.skipif(not peft_available(), reason="Hugging Face PEFT is not installed")
def test_our_lora_equals_peft_lora_with_the_same_factors():
    ours = apply_lora(Net(), LoRAConfig(rank=2, alpha=3.0, target_modules=["head", "body.0"]),
                      backend="mintlab")
    theirs = apply_lora(Net(), LoRAConfig(rank=2, alpha=3.0, target_modules=["head", "body.0"]),
                        backend="peft")
    _randomise(ours)
    named = dict(theirs.named_parameters())
    with torch.no_grad():
        for mod in ("head", "body.0"):
            layer = ours.get_submodule(mod)
            named[f"base_model.model.{mod}.lora_A.default.weight"].copy_(layer.lora_A)
            named[f"base_model.model.{mod}.lora_B.default.weight"].copy_(layer.lora_B)
    x = _x()
    torch.testing.assert_close(theirs(x), ours(x), rtol=1e-5, atol=1e-6)
    assert count_trainable_parameters(theirs) == count_trainable_parameters(ours) == \
        2 * (100 + 16) + 2 * (16 + 3)
    assert adapter_bytes(theirs) == adapter_bytes(ours)
