"""Rotation quantisation: quantisers, orthogonality, invariance, ConQuR's calibration."""

import pytest
import torch
from torch import nn

from mintlab.compress.quant import (
    QuantLinear,
    corner_alignment,
    hadamard_matrix,
    procrustes,
    quantize_model,
    quantize_symmetric,
    random_orthogonal,
    randomized_hadamard,
)
from mintlab.compress.testbed import ByteGPT, LMConfig, lm_batches


def test_quantizer_hand_computed_values():
    x = torch.tensor([[0.3, -1.0, 0.55], [2.0, 0.5, -0.2]])
    # 4 bits: 7 levels each side; row scales 1/7 and 2/7
    q = quantize_symmetric(x, 4, dim=-1)
    expected = torch.tensor([[2 / 7, -1.0, 4 / 7], [2.0, 4 / 7, -2 / 7]])
    assert torch.allclose(q, expected, atol=1e-6)
    # per column (dim=0): scales 2/7, 1/7, 0.55/7
    qc = quantize_symmetric(x, 4, dim=0)
    assert torch.allclose(qc[:, 2], torch.tensor([0.55, -0.55 * 3 / 7]), atol=1e-6)
    assert quantize_symmetric(x, None) is x
    with pytest.raises(ValueError, match="bits"):
        quantize_symmetric(x, 1)


@pytest.mark.parametrize("d", [8, 128, 384, 96])
def test_rotations_are_orthogonal(d):
    for R in (random_orthogonal(d, seed=3), randomized_hadamard(d, seed=3)):
        assert torch.allclose(R @ R.T, torch.eye(d, dtype=R.dtype), atol=1e-10)
    H = hadamard_matrix(8)
    assert torch.equal(H @ H.T, 8 * torch.eye(8, dtype=H.dtype))
    with pytest.raises(ValueError, match="Hadamard matrix"):
        hadamard_matrix(92)


def test_procrustes_recovers_a_rotation():
    R = random_orthogonal(6, seed=1)
    X = torch.randn(100, 6, dtype=torch.float64)
    assert torch.allclose(procrustes(X.T @ (X @ R)), R, atol=1e-8)


def _tiny_lm():
    torch.manual_seed(0)
    return ByteGPT(LMConfig(d_model=32, n_layers=1, n_heads=2, context=16)).eval()


@pytest.mark.parametrize("rotation", ["none", "random", "hadamard", "conqur"])
def test_rotations_leave_the_unquantised_model_unchanged(rotation):
    model = _tiny_lm()
    calib = lm_batches("calibration", n_batches=2, batch_size=2, seq_len=16)
    qm, rep = quantize_model(model, w_bits=None, a_bits=None, rotation=rotation,
                             calibration=calib, exclude="head")
    x = calib[0][:, :-1]
    with torch.no_grad():
        assert torch.allclose(qm(x), model(x), atol=1e-4)
    for m in qm.modules():
        if isinstance(m, QuantLinear) and m.rotation is not None:
            R = m.rotation.double()
            assert torch.allclose(R @ R.T, torch.eye(len(R), dtype=R.dtype), atol=1e-5)
    assert len(rep.layers) == 6


def test_conqur_raises_corner_alignment_without_storing_activations():
    model = _tiny_lm()
    calib = lm_batches("calibration", n_batches=4, batch_size=4, seq_len=16)
    qm, rep = quantize_model(model, rotation="conqur", calibration=calib, exclude="head",
                             epochs=3)
    for start, end in rep.corner_alignment.values():
        assert end > start
    assert rep.calibration_state_bytes == sum(2 * 8 * m.in_features ** 2 for m in qm.modules()
                                              if isinstance(m, QuantLinear))
    assert rep.stored_activation_bytes == sum(256 * 4 * m.in_features for m in qm.modules()
                                              if isinstance(m, QuantLinear))
    x = torch.randn(50, 16, dtype=torch.float64)
    assert float(corner_alignment(x, torch.eye(16, dtype=torch.float64))) <= 1.0


def test_quant_linear_matches_hand_quantised_product():
    lin = nn.Linear(4, 3)
    q = QuantLinear(lin, w_bits=8, a_bits=8)
    x = torch.randn(5, 4)
    expected = quantize_symmetric(x, 8) @ quantize_symmetric(lin.weight.detach(), 8, dim=1).T
    assert torch.allclose(q(x), expected + lin.bias.detach(), atol=1e-6)


def test_bad_arguments_are_rejected():
    model = _tiny_lm()
    with pytest.raises(ValueError, match="rotation"):
        quantize_model(model, rotation="spin")
    with pytest.raises(ValueError, match="calibration is required"):
        quantize_model(model, rotation="conqur")
    with pytest.raises(ValueError, match="w_bits"):
        quantize_model(model, w_bits=1)
    with pytest.raises(ValueError, match="no nn.Linear"):
        quantize_model(nn.Sequential(nn.ReLU()))
