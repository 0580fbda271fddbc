"""NOLA adapters exported as PEFT LoRA adapters: PEFT loads them and gives the same outputs."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from torch import nn

from mintlab.compress import LoRAConfig, NOLAConfig, apply_lora, apply_nola, merge_adapter
from mintlab.compress.nola import to_peft_lora

peft = pytest.importorskip("peft")


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, stride=2)
        self.fc = nn.Sequential(nn.Linear(8 * 4 * 4, 16), nn.ReLU(), nn.Linear(16, 5))

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).flatten(1))


def _trained(model):
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():  # stand-in for training: every trainable number moves
        for p in model.parameters():
            if p.requires_grad:
                p.copy_(torch.randn(p.shape, generator=g))
    return model


@pytest.mark.parametrize("make", [
    lambda m: apply_nola(m, NOLAConfig(rank=3, n_basis_A=7, n_basis_B=6, alpha=2.0, seed=4)),
    lambda m: apply_lora(m, LoRAConfig(rank=2, alpha=3.0, target_modules=["fc.0", "fc.2"]),
                         backend="mintlab"),
])
def test_peft_loads_the_export_with_the_same_outputs(tmp_path, make):
    torch.manual_seed(0)
    base = _Net()
    fresh = copy.deepcopy(base)
    adapted = _trained(make(base))
    x = torch.randn(4, 3, 8, 8)
    expected = adapted(x)
    assert not torch.allclose(expected, fresh(x), atol=1e-3)  # the adapter changes the outputs
    folder = to_peft_lora(adapted, tmp_path / "adapter", base_model_name_or_path="net")
    cfg = json.loads((folder / "adapter_config.json").read_text())
    assert cfg["peft_type"] == "LORA" and cfg["base_model_name_or_path"] == "net"
    served = peft.PeftModel.from_pretrained(fresh, folder)
    torch.testing.assert_close(served(x), expected, atol=1e-5, rtol=1e-5)
    # and merged by PEFT into a plain model, the same again
    plain = served.merge_and_unload()
    assert not any("lora" in n for n, _ in plain.named_modules())
    torch.testing.assert_close(plain(x), expected, atol=1e-5, rtol=1e-5)


def test_peft_export_of_a_causal_lm_generates_the_same(tmp_path):
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    torch.manual_seed(0)
    base = LlamaForCausalLM(cfg).eval()
    fresh = copy.deepcopy(base)
    model = _trained(apply_nola(base, NOLAConfig(rank=2, n_basis_A=4, n_basis_B=4,
                                                 target_modules=["q_proj", "v_proj"])))
    ids = torch.tensor([[1, 5, 9, 3, 7]])
    expected = model(ids).logits
    served = peft.PeftModel.from_pretrained(fresh, to_peft_lora(model, tmp_path)).eval()
    torch.testing.assert_close(served(ids).logits, expected, atol=1e-5, rtol=1e-5)
    out = served.generate(ids, max_new_tokens=4, do_sample=False)
    assert out.shape == (1, 9)


def test_peft_export_errors(tmp_path):
    net = nn.Sequential(nn.Linear(4, 4))
    with pytest.raises(ValueError, match="no mintlab adapter"):
        to_peft_lora(net, tmp_path)
    adapted = apply_nola(net, NOLAConfig(rank=2, n_basis_A=3, n_basis_B=3))
    with pytest.raises(TypeError, match="folder must be a str or os.PathLike"):
        to_peft_lora(adapted, 3)
    with pytest.raises(TypeError, match="base_model_name_or_path"):
        to_peft_lora(adapted, tmp_path, base_model_name_or_path=1)
    merge_adapter(adapted)
    with pytest.raises(ValueError, match="unmerge_adapter"):
        to_peft_lora(adapted, tmp_path)
    two = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4))
    apply_nola(two, NOLAConfig(rank=2, n_basis_A=3, n_basis_B=3, target_modules=["0"]))
    apply_nola(two, NOLAConfig(rank=3, n_basis_A=3, n_basis_B=3, target_modules=["1"]))
    with pytest.raises(ValueError, match="different ranks or scales"):
        to_peft_lora(two, tmp_path)
