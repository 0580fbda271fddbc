"""Pieces of the ``backbone-vs-pooling`` experiment: seeded models and point-cloud MNIST."""

import numpy as np
import pytest
import torch

from mintlab.experiments._sets_common import (
    fit_predict_sets,
    image_point_cloud_split,
    one_thread,
    seeded_init_,
    set_backbone,
)
from mintlab.nn import SetClassifier, make_pooling


def _model(pool="max+pma", bb="settransformer"):
    return SetClassifier(set_backbone(bb, 2, 8, 1), make_pooling(pool, 8), n_classes=3)


def test_seeded_init_depends_on_the_seed_only_and_leaves_the_global_generator():
    models = [_model() for _ in range(3)]
    state = torch.get_rng_state()
    a, b, c = (seeded_init_(m, s) for m, s in zip(models, (5, 5, 6), strict=True))
    pa, pb, pc = (list(m.parameters()) for m in (a, b, c))
    assert all(torch.equal(x, y) for x, y in zip(pa, pb, strict=True))
    assert not all(torch.equal(x, y) for x, y in zip(pa, pc, strict=True))
    assert torch.equal(torch.get_rng_state(), state)  # the global generator only advanced by
    torch.rand(7)  # the modules' own construction; its state does not matter
    d = seeded_init_(_model(), 5)
    assert all(torch.equal(x, y) for x, y in zip(pa, d.parameters(), strict=True))


def test_seeded_init_keeps_the_usual_scales():
    m = seeded_init_(SetClassifier(set_backbone("pointnet", 2, 64, 2), make_pooling("pma", 64),
                                   n_classes=3), 0)
    lin = m.backbone.net[2]
    bound = 1 / np.sqrt(64)
    assert lin.weight.abs().max() <= bound and lin.weight.abs().max() > 0.9 * bound
    assert torch.equal(m.head[0].weight, torch.ones(64))  # layer norm untouched
    seeds = m.pooling.seeds
    assert abs(float(seeds.std()) - 1 / 8) < 0.05
    attn = m.pooling.block.attn
    assert torch.all(attn.in_proj_bias == 0)
    swe = make_pooling("swe", 8, seed=3)
    before = swe.directions.detach().clone()
    seeded_init_(SetClassifier(set_backbone("pointnet", 2, 8, 1), swe, n_classes=2), 1)
    assert torch.equal(swe.directions, before)  # seeded through its own argument


def test_point_cloud_mnist_split_is_disjoint_balanced_and_seeded():
    train, val, test = image_point_cloud_split(3, 2, 20, n_points=10, seed=1)
    assert train[0].shape == (30, 10, 2) and val[0].shape == (20, 10, 2)
    assert test[0].shape == (20, 10, 2) and bool(train[1].all())
    assert torch.bincount(train[2]).tolist() == [3] * 10
    assert torch.bincount(val[2]).tolist() == [2] * 10
    assert abs(float(train[0].mean())) < 0.3 and 0.4 < float(train[0].std()) < 1.2
    # no validation cloud is a training cloud
    flat_tr = train[0].reshape(30, -1)
    assert all((flat_tr - v.reshape(1, -1)).abs().sum(1).min() > 0 for v in val[0])
    again = image_point_cloud_split(3, 2, 20, n_points=10, seed=1)
    assert torch.equal(again[0][0], train[0])
    other = image_point_cloud_split(3, 2, 20, n_points=10, seed=2)
    assert not torch.equal(other[0][0], train[0])


def test_fit_predict_sets_is_reproducible():
    train, val, test = image_point_cloud_split(2, 1, 10, n_points=8, seed=0)
    with one_thread():
        runs = [fit_predict_sets(set_backbone("pointnet", 2, 8, 1), make_pooling("max", 8),
                                 train, (val, test), n_classes=10, epochs=2, seed=4)
                for _ in range(2)]
    (v1, t1), s1 = runs[0]
    (v2, t2), _ = runs[1]
    assert np.array_equal(v1, v2) and np.array_equal(t1, t2)
    assert v1.shape == (10,) and t1.shape == (10,) and s1 >= 0
    with pytest.raises(ValueError, match="backbone"):
        set_backbone("resnet", 2, 8, 1)
