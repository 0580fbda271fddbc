"""ConQuR: the properties the experiment used to assert as claims, which hold by construction.

* calibration memory: ConQuR keeps a ``d x d`` running sum and a rotation per
  layer whatever the number of calibration tokens, while storing the
  activations grows with the tokens, so "ten times smaller" is a matter of
  how many tokens are used (about 40 d tokens);
* corner alignment: the Procrustes update is the orthogonal maximiser of
  ``tr(R^T M)`` (checked against SciPy and against random rotations), so the
  alignment of the activations with their corners cannot go down in a
  batch-wise update with fixed corners, and it rises over calibration;
* W8A8 round to nearest is nearly lossless on a small model (a sanity check
  of the quantiser, no claim of the paper).
"""

import math

import numpy as np
import torch
import torch.nn.functional as F
from scipy.linalg import orthogonal_procrustes

from mintlab.compress.quant import (
    QuantLinear,
    corner_alignment,
    procrustes,
    quantize_model,
    random_orthogonal,
    randomized_hadamard,
)
from mintlab.compress.testbed import ByteGPT, LMConfig, lm_batches


def _lm():
    torch.manual_seed(0)
    return ByteGPT(LMConfig(d_model=32, n_layers=1, n_heads=2, context=16)).eval()


def test_calibration_state_is_d_squared_whatever_the_tokens():
    model = _lm()
    reports = {}
    for n_batches in (1, 4):
        calib = lm_batches("calibration", n_batches=n_batches, batch_size=4, seq_len=16)
        qm, rep = quantize_model(model, rotation="conqur", calibration=calib, exclude="head",
                                 epochs=1)
        dims = [m.in_features for m in qm.modules() if isinstance(m, QuantLinear)]
        assert rep.calibration_state_bytes == sum(2 * d * d * 8 for d in dims)
        assert rep.calibration_tokens == n_batches * 4 * 16
        assert rep.stored_activation_bytes == sum(rep.calibration_tokens * d * 4 for d in dims)
        reports[n_batches] = rep
    assert reports[4].calibration_state_bytes == reports[1].calibration_state_bytes
    assert reports[4].stored_activation_bytes == 4 * reports[1].stored_activation_bytes
    # state / activations = 4 d / tokens for layers of one width: ten times smaller at 40 d
    d = 32
    assert 2 * d * d * 8 * 10 == 40 * d * d * 4


def test_procrustes_maximises_the_trace_against_scipy_and_random_rotations():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(200, 16, generator=g, dtype=torch.float64) * torch.linspace(0.2, 5, 16)
    C = torch.sign(X @ randomized_hadamard(16, seed=1)) / 4.0
    M = X.T @ C
    R = procrustes(M)
    R_scipy, _ = orthogonal_procrustes(X.numpy(), C.numpy())
    np.testing.assert_allclose(R.numpy(), R_scipy, atol=1e-8)
    best = float(torch.trace(R.T @ M))
    for s in range(20):
        Q = random_orthogonal(16, seed=s)
        assert float(torch.trace(Q.T @ M)) <= best + 1e-9


def test_procrustes_step_does_not_lower_the_alignment_with_fixed_corners():
    torch.manual_seed(1)
    # heavy-tailed activations with a few outlier channels, as in LLMs
    X = torch.distributions.StudentT(3.0).sample((500, 16)).double()
    X[:, :2] *= 20
    R0 = randomized_hadamard(16, seed=0)
    Z = F.normalize(X, dim=-1)
    corners = torch.sign(Z @ R0) / math.sqrt(16)
    R1 = procrustes(Z.T @ corners)
    before = float(((Z @ R0) * corners).sum(1).mean())
    after = float(((Z @ R1) * corners).sum(1).mean())
    assert after >= before - 1e-12
    # and with the corners reassigned the alignment (the nearest corner) rises too
    assert float(corner_alignment(X, R1)) >= float(corner_alignment(X, R0)) - 1e-12


def test_online_calibration_raises_the_alignment_of_every_layer():
    calib = lm_batches("calibration", n_batches=4, batch_size=4, seq_len=16)
    _, rep = quantize_model(_lm(), rotation="conqur", calibration=calib, exclude="head",
                            epochs=2)
    for start, end in rep.corner_alignment.values():
        assert end > start


def test_w8a8_is_nearly_lossless():
    model = _lm()
    x = lm_batches("calibration", n_batches=1, batch_size=4, seq_len=16)[0][:, :-1]
    q8, _ = quantize_model(model, w_bits=8, a_bits=8, rotation="none", exclude="head")
    with torch.no_grad():
        p, q = F.log_softmax(model(x), -1), F.log_softmax(q8(x), -1)
    kl = float((p.exp() * (p - q)).sum(-1).mean())
    assert kl < 1e-3
