"""Set backbones: equivariance, padding, composition, errors."""

import pytest
import torch

from mintlab.nn import (
    BACKBONES,
    MaxPooling,
    PointNetBackbone,
    SetClassifier,
    SetTransformerBackbone,
    SWEPooling,
    make_backbone,
)


def _batch():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 10, 3, generator=g, dtype=torch.float64)
    mask = torch.ones(3, 10, dtype=torch.bool)
    mask[1, 4:] = False
    return x, mask


@pytest.mark.parametrize("name", sorted(BACKBONES) + ["isab"])
def test_equivariant_and_padding_blind(name):
    torch.manual_seed(0)
    if name == "isab":
        bb = SetTransformerBackbone(3, 8, depth=1, n_heads=2, n_inducing=4).double()
    else:
        bb = make_backbone(name, 3, 8).double()
    bb.eval()
    x, mask = _batch()
    out = bb(x, mask)
    assert out.shape == (3, 10, 8)
    perm = torch.randperm(10, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(bb(x[:, perm], mask[:, perm]), out[:, perm])
    x2 = x.clone()
    x2[~mask] = 30.0
    torch.testing.assert_close(bb(x2, mask), out)
    assert torch.all(out[~mask] == 0)
    torch.testing.assert_close(bb(x[1:2, :4]), out[1:2, :4])


def test_set_classifier_is_invariant_and_trainable():
    torch.manual_seed(0)
    model = SetClassifier(PointNetBackbone(3, 16), SWEPooling(16, 4, 8, seed=0), n_classes=3)
    model = model.double()
    x, mask = _batch()
    out = model(x, mask)
    perm = torch.randperm(10)
    torch.testing.assert_close(model(x[:, perm], mask[:, perm]), out)
    y = torch.tensor([0, 1, 2])
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(50):
        loss = torch.nn.functional.cross_entropy(model(x, mask), y)
        first = float(loss) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss) < 0.5 * first


def test_gradcheck_settransformer():
    torch.manual_seed(0)
    bb = SetTransformerBackbone(3, 4, depth=1, n_heads=2).double()
    x, mask = _batch()
    x = x[:2, :4].clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: bb(t, mask[:2, :4]), (x,))


def test_errors():
    with pytest.raises(ValueError, match="must equal the pooling's in_features"):
        SetClassifier(PointNetBackbone(3, 16), MaxPooling(8), 2)
    with pytest.raises(ValueError, match="backbone"):
        make_backbone("resnet", 3)
    with pytest.raises(ValueError, match="divisible"):
        SetTransformerBackbone(3, 6, n_heads=4)
    with pytest.raises(ValueError, match="3 features"):
        PointNetBackbone(3)(torch.randn(2, 5, 4))


def test_pad_sets_and_masked_training_loop():
    import numpy as np

    from mintlab.nn import MeanPooling, accuracy, fit_classifier, pad_sets

    rng = np.random.default_rng(0)
    sets = [rng.normal(size=(int(rng.integers(3, 9)), 2)) + 3 * (i % 2) for i in range(40)]
    y = torch.tensor([i % 2 for i in range(40)])
    x, mask = pad_sets(sets)
    assert x.shape == (40, 8, 2) and mask.sum(1).tolist() == [len(s) for s in sets]
    torch.testing.assert_close(x[0, :len(sets[0])], torch.as_tensor(sets[0], dtype=torch.float32))
    model = SetClassifier(PointNetBackbone(2, 8), MeanPooling(8), n_classes=2)
    fit_classifier(model, x, y, mask=mask, epochs=30, lr=1e-2, seed=0)
    assert accuracy(model, x, y, mask=mask) == 1.0
    with pytest.raises(ValueError, match="same dimension"):
        pad_sets([np.ones((2, 2)), np.ones((2, 3))])
    with pytest.raises(ValueError, match="non-empty"):
        pad_sets([])
    with pytest.raises(ValueError, match=r"mask must have shape \(40, 8\) to match X"):
        fit_classifier(model, x, y, mask=mask[:3])


def test_training_loop_runs_the_constraint_of_constrained_swe():
    from mintlab.nn import ConstrainedSWEPooling, fit_classifier

    x, mask = _batch()
    x = x.float()
    pool = ConstrainedSWEPooling(8, n_slices=2, n_reference=4, slack=0.0, seed=0)
    model = SetClassifier(PointNetBackbone(3, 8), pool, n_classes=2)
    fit_classifier(model, x, torch.tensor([0, 1, 0]), mask=mask, epochs=3, batch_size=3)
    assert torch.all(pool.lambdas > 0)  # the dual steps ran
