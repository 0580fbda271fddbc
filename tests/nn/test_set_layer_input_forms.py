"""The attention blocks take one unbatched set as nn.MultiheadAttention does, check shapes on
every call and read values only where that costs no device wait."""

import pytest
import torch

from mintlab.embed._checks import seeded_modules
from mintlab.nn import ISAB, SAB, MultiheadAttentionBlock, _common, fit_classifier
from mintlab.nn.linear_attention import LOTAttention


def _x(n=5, d=8, seed=0):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("block", [lambda: SAB(8, 2), lambda: ISAB(8, 2, 3)])
def test_unbatched_set_equals_a_batch_of_one(block):
    torch.manual_seed(0)
    m = block()
    x = _x()
    mask = torch.tensor([True, True, False, True, True])
    a = m(x, mask)
    b = m(x[None], mask[None])[0]
    assert a.shape == (5, 8)
    torch.testing.assert_close(a, b)


def test_mab_unbatched_and_its_shape_checks():
    torch.manual_seed(0)
    mab = MultiheadAttentionBlock(8, 2, dim_kv=4)
    y = torch.randn(3, 4)
    torch.testing.assert_close(mab(_x(), y), mab(_x()[None], y[None])[0])
    with pytest.raises(ValueError, match="both be batched"):
        mab(_x()[None], y)
    with pytest.raises(ValueError, match=r"mask must have shape \(3,\)"):
        mab(_x(), y, torch.ones(2, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"x must have shape \(batch, n, d\) or \(n, d\)"):
        SAB(8, 2)(torch.zeros(8))
    with pytest.raises(ValueError, match="x must be finite"):
        SAB(8, 2)(torch.full((2, 8), float("nan")))


def test_check_set_reads_no_values_of_cuda_tensors(monkeypatch):
    calls = []
    monkeypatch.setattr(_common, "check_finite", lambda t, name: calls.append(name))

    class FakeCuda(torch.Tensor):
        @property
        def is_cuda(self):
            return True

    x = torch.zeros(2, 3, 4).as_subclass(FakeCuda)
    mask = torch.zeros(2, 3, dtype=torch.bool)  # empty sets: only found by reading values
    assert _common.check_set(x, mask, 4) is not None
    assert calls == []
    with pytest.raises(ValueError, match="mask leaves 2 set"):
        _common.check_set(torch.zeros(2, 3, 4), mask, 4)
    assert calls == ["x"]
    with pytest.raises(ValueError, match=r"mask must have shape \(2, 3\)"):
        _common.check_set(x, torch.ones(2, 4, dtype=torch.bool), 4)


def test_seeded_modules_builds_the_same_layer_and_keeps_the_global_state():
    before = torch.get_rng_state()
    with seeded_modules(3, "tag"):
        a = torch.nn.Linear(4, 2).weight.detach().clone()
    with seeded_modules(3, "tag"):
        b = torch.nn.Linear(4, 2).weight.detach().clone()
    assert torch.equal(a, b) and torch.equal(before, torch.get_rng_state())
    l1, l2 = LOTAttention(8, 2, seed=0), LOTAttention(8, 2, seed=0)
    assert all(torch.equal(p, q) for p, q in zip(l1.parameters(), l2.parameters(), strict=True))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_seeded_modules_is_deterministic_under_a_cuda_default_device():
    torch.set_default_device("cuda")
    try:
        before = torch.cuda.get_rng_state()
        with seeded_modules(3, "tag"):
            a = torch.nn.Linear(4, 2).weight.detach().clone()
        with seeded_modules(3, "tag"):
            b = torch.nn.Linear(4, 2).weight.detach().clone()
        assert a.is_cuda and torch.equal(a, b)
        assert torch.equal(before, torch.cuda.get_rng_state())
    finally:
        torch.set_default_device("cpu")


def test_fit_classifier_still_rejects_bad_data_once_before_training():
    from mintlab.nn import MeanPooling, PointNetBackbone, SetClassifier

    model = SetClassifier(PointNetBackbone(4, width=4), MeanPooling(4), n_classes=2, hidden=4)
    x = torch.randn(4, 3, 4)
    x[1, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="X must be finite"):
        fit_classifier(model, x, torch.tensor([0, 1, 0, 1]), epochs=1)
