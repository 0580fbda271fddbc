"""Bad input to the set layers and attention: masks, NaN, options, and the global generators."""

import random

import numpy as np
import pytest
import torch

from mintlab.nn import (
    ISAB,
    SAB,
    ConcatPooling,
    DeepSetsBackbone,
    ESPAttention,
    FSPool,
    GeMPooling,
    LOTAttention,
    LUNAAttention,
    MaxPooling,
    MeanPooling,
    MultiheadAttentionBlock,
    PointNetBackbone,
    SetClassifier,
    SetTransformerBackbone,
    SWEPooling,
    accuracy,
    fit_classifier,
    make_attention,
    make_backbone,
    make_pooling,
    pad_sets,
)


def _x(b=3, n=5, d=4):
    return torch.randn(b, n, d, generator=torch.Generator().manual_seed(0))


LAYERS = [
    lambda: MeanPooling(4), lambda: MaxPooling(4), lambda: GeMPooling(4),
    lambda: SWEPooling(4, n_slices=3, n_reference=4, seed=0), lambda: FSPool(4, seed=0),
    lambda: PointNetBackbone(4, width=4), lambda: DeepSetsBackbone(4, width=4),
    lambda: SetTransformerBackbone(4, width=4, n_heads=2), lambda: SAB(4, n_heads=2),
    lambda: ISAB(4, n_heads=2, n_inducing=3),
]


@pytest.mark.parametrize("make", LAYERS)
def test_layers_reject_bad_masks_and_nan(make):
    layer, x = make(), _x()
    mask = torch.ones(3, 5, dtype=torch.bool)
    with pytest.raises(TypeError, match="mask must be a boolean tensor"):
        layer(x, mask.float())
    with pytest.raises(ValueError, match=r"mask must have shape \(3, 5\)"):
        layer(x, mask[:, :-1])
    empty = mask.clone()
    empty[1] = False
    with pytest.raises(ValueError, match="mask leaves 1 set"):
        layer(x, empty)
    bad = x.clone()
    bad[0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="x must be finite"):
        layer(bad, mask)
    with pytest.raises(TypeError, match="x must be a torch tensor"):
        layer(x.numpy(), mask)


def test_attention_block_checks_queries_and_keys():
    mab = MultiheadAttentionBlock(4, n_heads=2)
    x, y = _x(n=2), _x(b=2)
    with pytest.raises(ValueError, match="same batch size"):
        mab(x, y)
    with pytest.raises(ValueError, match="y must have 4 features"):
        mab(x, _x(d=3))
    with pytest.raises(ValueError, match="dim_kv must be >= 1"):
        MultiheadAttentionBlock(4, n_heads=2, dim_kv=0)


@pytest.mark.parametrize("make, arg", [
    (lambda: GeMPooling(3, learn_p="yes"), "learn_p"),
    (lambda: SWEPooling(3, learn_slices=1), "learn_slices"),
    (lambda: ESPAttention(4, learn_slices="no"), "learn_slices"),
    (lambda: LUNAAttention(4, causal="yes"), "causal"),
    (lambda: ISAB(-1), "n_inducing|dim"),
    (lambda: SetClassifier(PointNetBackbone(3, width=4), MeanPooling(4), 2, hidden=0), "hidden"),
    (lambda: SetClassifier("net", MeanPooling(4), 2), "backbone"),
    (lambda: ConcatPooling(MeanPooling(3), "max"), "poolings"),
    (lambda: make_attention("flash", 4), "attention name"),
    (lambda: make_pooling("median", 4), "pooling name"),
    (lambda: make_backbone("resnet", 4), "backbone name"),
    (lambda: pad_sets(["abc"]), r"sets\[0\]"),
    (lambda: FSPool(3, seed=1.5), "seed"),
])
def test_constructor_messages_name_the_argument(make, arg):
    with pytest.raises((ValueError, TypeError), match=arg):
        make()


@pytest.mark.parametrize("make", [
    lambda: ESPAttention(8, 2, seed=0), lambda: LOTAttention(8, 2, seed=0),
    lambda: LUNAAttention(8, 2, seed=0), lambda: FSPool(3, out_features=5, width=4, seed=0),
])
def test_seeded_layers_leave_the_global_generators_alone(make):
    torch.manual_seed(5)
    np.random.seed(5)  # noqa: NPY002 - the global state is under test
    random.seed(5)
    before = (torch.get_rng_state().clone(), np.random.get_state()[1].copy(), random.getstate())  # noqa: NPY002
    a = make()
    assert torch.equal(before[0], torch.get_rng_state())
    assert np.array_equal(before[1], np.random.get_state()[1]) and before[2] == random.getstate()  # noqa: NPY002
    torch.manual_seed(123)  # another global state: the same seed builds the same layer
    b = make()
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(p, q), name


def test_training_loop_checks_its_data_before_the_first_step():
    model = SetClassifier(PointNetBackbone(4, width=4), MeanPooling(4), n_classes=3, hidden=4)
    x, y = _x(b=6), torch.arange(6) % 3
    mask = torch.ones(6, 5, dtype=torch.bool)
    start = [p.detach().clone() for p in model.parameters()]
    bad = x.clone()
    bad[2, 1, 0] = float("inf")
    with pytest.raises(ValueError, match="X must be finite"):
        fit_classifier(model, bad, y, mask=mask, epochs=1)
    with pytest.raises(ValueError, match=r"y must lie in \[0, 3\)"):
        fit_classifier(model, x, y + 1, mask=mask, epochs=1)
    with pytest.raises(ValueError, match=r"y must hold class indices >= 0 .*got minimum -1"):
        fit_classifier(model, x, y - 1, mask=mask, epochs=1)
    empty = mask.clone()
    empty[0] = False
    with pytest.raises(ValueError, match="mask leaves 1 set"):
        fit_classifier(model, x, y, mask=empty, epochs=1)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        fit_classifier("model", x, y, epochs=1)
    with pytest.raises(ValueError, match="weight_decay must be non-negative"):
        fit_classifier(model, x, y, mask=mask, epochs=1, weight_decay=-1.0)
    # nothing was trained by the rejected calls
    assert all(torch.equal(p, q) for p, q in zip(start, model.parameters(), strict=True))
    with pytest.raises(ValueError, match=r"y must lie in \[0, 3\)"):
        accuracy(model, x, y + 1, mask=mask)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        accuracy(model, x, y, mask=mask, batch_size=0)
