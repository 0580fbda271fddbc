"""Compression: the input checks accept every valid input the methods always took.

Labels the loss ignores (-100), per-token labels, soft labels, infinite
buffers (causal masks), per-module training modes and numpy scalars all keep
working; the checks read the data once and leave the caller's model as it was.
"""

import numpy as np
import pytest
import torch
from torch import nn

from mintlab.compress import MCNC, PRANC, accuracy, fit_classifier, rebuild
from mintlab.compress.quant import corner_alignment, quantize_model, quantize_symmetric
from mintlab.compress.svd import (
    LowRankLinear,
    causal_lm_objective,
    classification_objective,
    collect_statistics,
    compress_model,
    effective_rank,
    find_linear_layers,
    finetune,
    prehab,
    stable_rank,
)

VOCAB = 16


def _mlp(d_in=6, hidden=12, out=3, seed=0):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, out))


class _PerToken(nn.Module):
    """``(N, L, d) -> (N, C, L)`` logits: one class distribution per position."""

    def __init__(self, d=6, n_classes=4):
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            self.fc1 = nn.Linear(d, 8)
            self.fc2 = nn.Linear(8, n_classes)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x))).transpose(1, 2)


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


def _xy(n=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 6, generator=g), torch.arange(n) % 3


# ------------------------------------------------------------------ calibration labels
@pytest.mark.parametrize("method", ["svd-llm", "zs-svd"])
def test_labels_ignored_by_the_loss_are_accepted(method):
    x, y = _xy()
    y[::3] = -100
    model, _ = compress_model(_mlp(), method, 0.4, [(x, y), (x, y)])
    assert model(x).shape == (8, 3)
    mlp = _mlp()
    stats, _ = collect_statistics(mlp, find_linear_layers(mlp), [(x, y)],
                                  classification_objective(), gradients=True)
    assert all(torch.isfinite(s.grad).all() for s in stats.values())
    everything_ignored = torch.full((8,), -100)
    compress_model(_mlp(), "svd-llm", 0.4, [(x, everything_ignored)])
    with pytest.raises(ValueError, match=r"calibration\[0\]\[1\].*>= 0.*-100.*minimum -1"):
        compress_model(_mlp(), "svd-llm", 0.4, [(x, y.clamp_min(-1))])


def test_per_token_labels_are_checked_on_the_class_axis():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(5, 2, 6, generator=g)   # N=5 sequences of L=2 positions
    y = torch.tensor([[0, 3], [1, 2], [3, 3], [2, 0], [-100, 1]])  # classes 0..3 on axis 1
    for method in ("svd-llm", "zs-svd"):
        model, _ = compress_model(_PerToken(), method, 0.4, [(x, y)])
        assert model(x).shape == (5, 4, 2)
    finetune(_PerToken(), [(x, y)], steps=1, lr=1e-3)
    with pytest.raises(ValueError, match="index 4 but the model has 4 outputs"):
        compress_model(_PerToken(), "svd-llm", 0.4, [(x, y.clamp_min(0) + 1)])


def test_soft_labels_are_accepted():
    x, _ = _xy()
    soft = torch.softmax(torch.randn(8, 3, generator=torch.Generator().manual_seed(1)), -1)
    model, _ = compress_model(_mlp(), "zs-svd", 0.4, [(x, soft)])
    assert model(x).shape == (8, 3)
    with pytest.raises(ValueError, match=r"probabilities over 5 classes.*3 outputs"):
        compress_model(_mlp(), "svd-llm", 0.4, [(x, torch.full((8, 5), 0.2))])


# ------------------------------------------------------------------ model modes
def _mixed_mode_model():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(6, 12), nn.BatchNorm1d(12), nn.ReLU(), nn.Linear(12, 3))
    model.train()
    model[1].eval()  # a frozen BatchNorm inside a model in training mode
    return model


def _modes(model):
    return [m.training for m in model.modules()]


def test_checks_leave_every_submodule_mode_as_it_was():
    x, y = _xy(16)
    batches = [(x, y)]
    model = _mixed_mode_model()
    before = _modes(model)
    compress_model(model, "svd-llm", 0.4, batches)
    assert _modes(model) == before
    compress_model(model, "zs-svd", 0.4, batches, inplace=False)
    assert _modes(model) == before
    quantize_model(model, rotation="conqur", calibration=batches, w_bits=8, a_bits=8)
    assert _modes(model) == before
    collect_statistics(model, find_linear_layers(model), batches, classification_objective())
    assert _modes(model) == before
    inplace = _mixed_mode_model()
    compress_model(inplace, "svd-llm", 0.4, batches, inplace=True)
    assert [m.training for m in inplace.modules() if isinstance(m, nn.BatchNorm1d)] == [False]


def test_calibration_data_is_scored_once_for_the_check():
    calls = []

    class Counting(_LM):
        def forward(self, idx):
            calls.append(idx.shape)
            return super().forward(idx)

    compress_model(Counting(), "svd-llm", 0.4, _tokens(n=3))
    assert len(calls) == 1 + 3  # one check on the first batch, then one pass over the data
    calls.clear()
    prehab(Counting(), _tokens(n=2), steps=1)
    # one check, one statistics pass over 2 batches, 1 step
    assert len(calls) == 1 + 2 + 1


# ------------------------------------------------------------------ exports with buffers
class _Masked(nn.Module):
    """A model with a causal mask buffer of -inf above the diagonal."""

    def __init__(self):
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            self.fc = nn.Linear(4, 4)
        self.register_buffer("mask", torch.full((4, 4), float("-inf")).triu(1))

    def forward(self, x):
        return torch.softmax(self.fc(x)[:, None, :] + self.mask, -1).sum(1)


@pytest.mark.parametrize("make", [lambda m: PRANC(m, n_coefficients=5),
                                  lambda m: MCNC(m, code_dim=2, chunk_size=8)])
def test_exports_with_infinite_buffers_rebuild(make, tmp_path):
    from mintlab.compress import CompressedModel

    path = make(_Masked()).export().save(tmp_path / "m.safetensors")
    model = rebuild(_Masked(), CompressedModel.load(path))
    assert torch.equal(model.mask, _Masked().mask)
    exported = make(_Masked()).export()
    exported.tensors["buffer.mask"] = torch.full((4, 4), float("nan"))
    with pytest.raises(ValueError, match="'buffer.mask'.*NaN"):
        rebuild(_Masked(), exported)
    exported = make(_Masked()).export()
    own = next(k for k in exported.tensors if not k.startswith(("dense.", "buffer.")))
    exported.tensors[own] = torch.full_like(exported.tensors[own], float("inf"))
    with pytest.raises(ValueError, match=f"'{own}'.*infinite"):
        rebuild(_Masked(), exported)


# ------------------------------------------------------------------ per-step helpers
def test_per_step_helpers_read_no_values_off_the_cpu():
    # the meta device has no values: any check that reads them would fail
    M = torch.zeros(3, 4, device="meta")
    assert stable_rank(M).device.type == "meta"
    assert effective_rank(torch.empty(3, 4, device="meta")).device.type == "meta"
    assert quantize_symmetric(torch.empty(2, 4, device="meta"), 4).shape == (2, 4)
    assert corner_alignment(torch.empty(2, 4, device="meta"),
                            torch.empty(4, 4, device="meta")).device.type == "meta"
    with pytest.raises(ValueError, match="M must be 2-dimensional"):
        stable_rank(torch.empty(3, device="meta"))
    # on the CPU the values are still checked
    with pytest.raises(ValueError, match="zero matrix"):
        stable_rank(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="x must be finite"):
        quantize_symmetric(torch.tensor([[float("nan")]]), 4)


def test_stable_rank_value():
    assert abs(float(stable_rank(torch.diag(torch.tensor([3.0, 1.0])))) - 10 / 9) < 1e-6


# ------------------------------------------------------------------ argument kinds
def test_argument_kinds():
    model, report = quantize_model(_LM(), rotation="conqur", calibration=_tokens(),
                                   momentum=np.float32(0.5), w_bits=8, a_bits=8)
    assert report.layers == ["fc1", "fc2"]
    with pytest.raises(TypeError, match="momentum"):
        quantize_model(_LM(), momentum=True)
    with pytest.raises(ValueError, match="momentum"):
        quantize_model(_LM(), momentum=np.float64("nan"))
    lm = _LM()
    with pytest.raises(ValueError, match="layers must be a non-empty dict"):
        collect_statistics(lm, {}, _tokens(), causal_lm_objective())
    with pytest.raises(TypeError, match="layers must be a non-empty dict"):
        collect_statistics(lm, [lm.fc1], _tokens(), causal_lm_objective())
    from mintlab.compress.testbed import ByteGPT, LMConfig, lm_loss

    with pytest.raises(TypeError, match="batch must be a .* torch tensor, got list"):
        lm_loss(ByteGPT(LMConfig(d_model=8, n_layers=1, n_heads=2, context=8)), [[1, 2, 3]])


def test_int8_components_must_be_boolean():
    up, down = torch.randn(3, 2), torch.randn(2, 4)
    layer = LowRankLinear.from_factors(up, down, int8_components=torch.tensor([True, False]))
    assert layer.int8_components.tolist() == [True, False]
    with pytest.raises(TypeError, match="int8_components must be a boolean torch tensor.*float"):
        LowRankLinear.from_factors(up, down, int8_components=torch.tensor([1.0, 0.0]))
    with pytest.raises(TypeError, match="int8_components.*list"):
        LowRankLinear.from_factors(up, down, int8_components=[True, False])
    with pytest.raises(ValueError, match=r"int8_components must have shape \(2,\)"):
        LowRankLinear.from_factors(up, down, int8_components=torch.tensor([True]))


# ------------------------------------------------------------------ the shared training loop
def test_fit_classifier_takes_ignored_and_per_token_labels():
    x, y = _xy(16)
    y[::4] = -100
    losses = fit_classifier(_mlp(), x, y, epochs=2, batch_size=4)
    assert len(losses) == 2 and all(np.isfinite(losses))
    assert 0.0 <= accuracy(_mlp(), x, y) <= 0.75  # ignored labels are never hits
    g = torch.Generator().manual_seed(0)
    xs = torch.randn(6, 2, 6, generator=g)
    ys = torch.tensor([[0, 3], [1, 2], [3, 3], [2, 0], [-100, 1], [1, 1]])
    assert len(fit_classifier(_PerToken(), xs, ys, epochs=1, batch_size=3)) == 1
    with pytest.raises(ValueError, match=r"y must lie in \[0, 4\).*maximum 4"):
        fit_classifier(_PerToken(), xs, ys.clamp_min(0) + 1, epochs=1)
    with pytest.raises(ValueError, match=r"y must hold class indices >= 0.*-100.*minimum -2"):
        fit_classifier(_mlp(), x, torch.where(y == -100, -2, y), epochs=1)
