"""Hadamard rotations of any width; rotated layers leave the unquantised model unchanged."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from mintlab.compress.quant import (
    QuantLinear,
    hadamard_exists,
    hadamard_matrix,
    largest_hadamard_factor,
    quantize_model,
    randomized_hadamard,
)


def _hadamard_by_brute_force(n):
    """Whether a +-1 matrix of order n with orthogonal rows can exist (1, 2 or 4 | n)."""
    return n in (1, 2) or n % 4 == 0


@pytest.mark.parametrize("d", [*range(1, 201), 576, 1536])
def test_randomized_hadamard_is_orthogonal_for_every_width(d):
    R = randomized_hadamard(d, seed=d)
    assert torch.allclose(R @ R.T, torch.eye(d, dtype=R.dtype), atol=1e-6)
    h = largest_hadamard_factor(d)
    assert d % h == 0 and hadamard_exists(h)
    if h == d:  # a true Hadamard rotation: entries +-1/sqrt(d)
        assert torch.allclose(R.abs(), torch.full_like(R, 1 / math.sqrt(d)), atol=1e-12)
    if hadamard_exists(d):
        assert _hadamard_by_brute_force(d)


@pytest.mark.parametrize("n", [1, 2, 4, 12, 20, 24, 28, 36, 44, 48, 60, 76, 96, 576, 1536])
def test_hadamard_matrices_have_pm1_entries_and_orthogonal_rows(n):
    H = hadamard_matrix(n).numpy()
    assert set(np.unique(H)) <= {-1.0, 1.0}
    np.testing.assert_array_equal(H @ H.T, n * np.eye(n))


def test_smollm2_widths_get_true_hadamard_rotations():
    assert hadamard_exists(576) and hadamard_exists(1536)
    for d in (576, 1536):
        assert largest_hadamard_factor(d) == d


def test_widths_without_a_hadamard_matrix():
    for n in (3, 5, 6, 10, 14, 18, 30):
        assert not hadamard_exists(n)
        with pytest.raises(ValueError, match="n must be the order"):
            hadamard_matrix(n)
    assert largest_hadamard_factor(6) == 2 and largest_hadamard_factor(7) == 1
    assert largest_hadamard_factor(100) == 20 and largest_hadamard_factor(3 * 64) == 192


def test_power_of_two_rotations_are_sylvester_as_before():
    H = torch.ones(1, 1, dtype=torch.float64)
    while H.shape[0] < 64:
        H = torch.cat([torch.cat([H, H], 1), torch.cat([H, -H], 1)], 0)
    assert torch.equal(hadamard_matrix(64), H)
    g = torch.Generator().manual_seed(3)
    signs = torch.randint(0, 2, (64,), generator=g).double() * 2 - 1
    assert torch.equal(randomized_hadamard(64, seed=3), signs[:, None] * H / 8)


def _check_rotated_layers(original, quantized, x_for):
    n = 0
    for name, q in quantized.named_modules():
        if not isinstance(q, QuantLinear):
            continue
        lin = original.get_submodule(name)
        R = q.rotation
        assert R is not None
        x = x_for(lin.in_features)
        q.quantize = False
        with torch.no_grad():
            # the rotated layer reads the rotated input: (x R) (W R)^T = x W^T
            rotated = nn.functional.linear(x @ R, lin.weight @ R, lin.bias)
            assert torch.allclose(q(x), lin(x), atol=1e-5)
            assert torch.allclose(rotated, lin(x), atol=1e-5)
        n += 1
    return n


@pytest.mark.parametrize("rotation", ["random", "hadamard"])
def test_every_rotated_layer_of_an_mlp_is_equivariant(rotation):
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(12, 20), nn.ReLU(), nn.Linear(20, 6), nn.ReLU(),
                        nn.Linear(6, 3))
    qm, _ = quantize_model(mlp, w_bits=4, a_bits=4, rotation=rotation)
    g = torch.Generator().manual_seed(1)
    assert _check_rotated_layers(mlp, qm, lambda d: torch.randn(7, d, generator=g)) == 3


def _tiny_llama():
    transformers = pytest.importorskip("transformers")
    cfg = transformers.LlamaConfig(hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                                   num_attention_heads=4, num_key_value_heads=2, vocab_size=128,
                                   max_position_embeddings=64)
    torch.manual_seed(0)
    return transformers.LlamaForCausalLM(cfg).eval()


@pytest.mark.parametrize("rotation", ["random", "hadamard"])
def test_every_rotated_layer_of_a_tiny_llama_is_equivariant(rotation):
    model = _tiny_llama()
    qm, rep = quantize_model(model, w_bits=4, a_bits=4, rotation=rotation)
    g = torch.Generator().manual_seed(2)
    n = _check_rotated_layers(model, qm, lambda d: torch.randn(3, 5, d, generator=g))
    assert n == len(rep.layers) == 2 * 7 + 1
    ids = torch.randint(0, 128, (2, 9), generator=g)
    with torch.no_grad():
        assert torch.allclose(qm(ids).logits, model(ids).logits, atol=1e-4)
