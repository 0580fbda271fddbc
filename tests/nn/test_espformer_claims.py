"""ESP attention and the ``espformer`` harness: properties that hold by construction,
against independent oracles (POT's exact 1D transport, brute-force patches and counts).

The experiment judges what the paper claims (balance of trained maps, time at equal balance,
accuracy); what the code guarantees is tested here.
"""

import numpy as np
import ot
import pytest
import torch

from mintlab.datasets.text_classes import (
    AUSTEN_TITLES,
    austen_passages,
    build_vocabulary,
    encode_passages,
)
from mintlab.experiments import _attention_common as ac
from mintlab.nn import ESPAttention, SinkhornAttention, make_attention


def _x(n, B=1, E=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, n, E, generator=g, dtype=torch.float64)


def test_esp_hard_limit_equals_pot_exact_1d_plan():
    # one slice, tiny temperature: n times POT's exact 1D plan between the projections
    att = ESPAttention(4, 1, n_slices=1, temperature=1e-7, seed=2).double()
    x = _x(9)
    w = att.attention_matrix(x)[0, 0].detach()
    theta = (att.directions[0, :, 0] / att.directions[0, :, 0].norm()).detach()
    pq = (att.q_proj(x)[0] @ theta).detach().numpy()
    pk = (att.k_proj(x)[0] @ theta).detach().numpy()
    ref = ot.emd_1d(pq, pk, metric="sqeuclidean")  # uniform weights
    np.testing.assert_allclose(w.numpy(), 9 * ref, atol=1e-8)


def test_esp_hard_limit_is_doubly_stochastic_with_unequal_lengths():
    att = ESPAttention(4, 2, n_slices=3, temperature=1e-7, seed=0).double()
    q, kv = _x(6, B=2), _x(10, B=2, seed=1)
    w = att(q, kv, kv, need_weights=True, average_attn_weights=False)[1].detach()
    torch.testing.assert_close(w.sum(-1), torch.ones_like(w.sum(-1)))
    torch.testing.assert_close(w.sum(-2), torch.full_like(w.sum(-2), 6 / 10))


def test_balance_errors_of_known_maps():
    uniform = torch.full((2, 1, 4, 4), 0.25)
    peaked = torch.zeros(2, 1, 4, 4)
    peaked[..., 0] = 1.0  # every query on key 0: columns 4, 0, 0, 0
    r, c = ac.balance_errors([uniform, peaked])
    np.testing.assert_allclose(r, [0.0, 0.0])
    np.testing.assert_allclose(c, [(3 + 1 + 1 + 1) / 4 / 2] * 2)


def test_fashion_patches_are_the_image_blocks():
    from mintlab.datasets import load_fashion_mnist

    X, y = ac.fashion_patches("test", 20, 0, patch=7)
    imgs, labels = load_fashion_mnist("test", 20, 0, source="subset")
    assert X.shape == (20, 16, 49) and torch.equal(y, torch.as_tensor(labels))
    # token 6 = row 1, column 2 of the 4 x 4 grid of 7 x 7 blocks
    block = imgs[3, 7:14, 14:21].reshape(-1) / 255.0
    np.testing.assert_allclose(X[3, 6].numpy(), block, rtol=1e-6)


def test_digit_clouds_shape_and_range():
    X, y = ac.digit_clouds("test", 30, 24, 0)
    assert X.shape == (30, 24, 2) and y.shape == (30,)
    assert float(X.abs().max()) <= 1.0


def test_austen_passages_balanced_disjoint_and_encoded():
    Ptr, ytr = austen_passages("train", 16, per_class=20, seed=1)
    Pte, yte = austen_passages(("test", "calibration"), 16, per_class=20, seed=1)
    assert len(AUSTEN_TITLES) == 6
    assert np.bincount(ytr).tolist() == [20] * 6 and np.bincount(yte).tolist() == [20] * 6
    assert all(len(p) == 16 for p in Ptr + Pte)
    # no passage is shared between training and held-out chapters
    assert not set(Ptr) & set(austen_passages(("test", "calibration"), 16)[0])
    vocab = build_vocabulary(Ptr, 50)
    assert sorted(vocab.values()) == list(range(2, 52))
    ids = encode_passages(Pte, vocab)
    assert ids.shape == (120, 16) and ids.min() >= 1 and ids.max() <= 51
    # the same seed gives the same passages
    assert austen_passages("train", 16, per_class=20, seed=1)[0] == Ptr


def test_austen_passages_errors():
    with pytest.raises(ValueError, match="split"):
        austen_passages("dev")
    with pytest.raises(ValueError, match="per_class must be at most"):
        austen_passages("test", 64, per_class=10_000)
    with pytest.raises(ValueError, match="one length"):
        encode_passages([("a",), ("a", "b")], {"a": 2})


def test_init_parameters_is_seeded_and_leaves_global_rng_alone():
    def model():
        return ac.TransformerClassifier(lambda i: make_attention("esp", 8, 2, n_slices=2,
                                                                 seed=i),
                                        2, 8, 3, vocab=10, max_len=5)

    built = model()
    state = torch.random.get_rng_state()
    a = ac.init_parameters(built, 4)
    assert torch.equal(torch.random.get_rng_state(), state)  # the global generator untouched
    b = ac.init_parameters(model(), 4)
    c = ac.init_parameters(model(), 5)
    for (name, p), q, r in zip(a.named_parameters(), b.parameters(), c.parameters(),
                               strict=True):
        assert torch.equal(p, q), name
        if "directions" not in name and "ln" not in name and "norm" not in name:
            assert not torch.equal(p, r), name
    assert a(torch.randint(0, 10, (4, 5))).shape == (4, 3)


def test_attention_maps_follow_the_blocks():
    torch.manual_seed(0)
    m = ac.TransformerClassifier(lambda i: SinkhornAttention(8, 2, n_iter=50), 2, 8, 3,
                                 in_features=2)
    maps = m.attention_maps(torch.randn(3, 7, 2))
    assert len(maps) == 2 and maps[0].shape == (3, 2, 7, 7)
    r, c = ac.balance_errors(maps)
    assert r.max() < 1e-6 and c.max() < 1e-3


def test_sweeps_to_match_is_the_smallest_rung():
    from mintlab.experiments.espformer import SINKHORN_ITERS, SWEEP_LADDER, _sweeps_to_match

    torch.manual_seed(0)
    m = ac.TransformerClassifier(lambda i: SinkhornAttention(8, 2, n_iter=SINKHORN_ITERS),
                                 1, 8, 3, in_features=2)
    with torch.no_grad():
        m.blocks[0].attn.q_proj.weight.mul_(8.0)  # a peaked kernel that needs sweeps
    X = torch.randn(4, 12, 2)
    k, err = _sweeps_to_match(m, X, 1e-3)
    assert err <= 1e-3 and m.blocks[0].attn.n_iter == SINKHORN_ITERS
    i = SWEEP_LADDER.index(k)
    if i > 0:
        m.blocks[0].attn.n_iter = SWEEP_LADDER[i - 1]
        r, c = ac.balance_errors(m.attention_maps(X))
        assert float(np.maximum(r, c).mean()) > 1e-3


@pytest.mark.parametrize("name", ["softmax", "sinkhorn", "esp"])
def test_class_token_set_model_is_permutation_invariant(name):
    m = ac.TransformerClassifier(lambda i: make_attention(name, 8, 2, **(
        {"seed": i} if name == "esp" else {})), 2, 8, 3, in_features=2, pool="cls")
    ac.init_parameters(m, 0).double()
    g = torch.Generator().manual_seed(0)
    X = torch.randn(2, 9, 2, generator=g, dtype=torch.float64)
    perm = torch.randperm(9, generator=g)
    with torch.no_grad():
        torch.testing.assert_close(m(X[:, perm]), m(X))
    assert m.attention_maps(X)[0].shape == (2, 2, 10, 10)  # the class token is a token


def test_classifier_argument_errors():
    with pytest.raises(ValueError, match="exactly one of vocab and in_features"):
        ac.TransformerClassifier(lambda i: make_attention("softmax", 8), 1, 8, 3)
    with pytest.raises(ValueError, match="pool must be"):
        ac.TransformerClassifier(lambda i: make_attention("softmax", 8), 1, 8, 3, vocab=5,
                                 pool="max")
