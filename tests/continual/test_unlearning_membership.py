"""Loss-threshold membership inference and CovarNav on a ConvNet."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score

from mintlab.continual import ContinualConvNet, ContinualMLP
from mintlab.continual.inversion import invert_model
from mintlab.continual.unlearning import covarnav, loss_membership_scores


@pytest.fixture(scope="module")
def mlp():
    return ContinualMLP(5, [8], [3], seed=0)


def _data(n, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 5, generator=g), torch.randint(0, 3, (n,), generator=g)


def test_membership_scores_mean_is_the_roc_auc(mlp):
    Xm, ym = _data(40, 1)
    Xn, yn = _data(55, 2)
    scores = loss_membership_scores(mlp, Xm, ym, Xn, yn)
    with torch.no_grad():
        lm = F.cross_entropy(mlp(Xm), ym, reduction="none").numpy()
        ln = F.cross_entropy(mlp(Xn), yn, reduction="none").numpy()
    # the attack says "member" for low loss: AUC of -loss with members as positives
    auc = roc_auc_score(np.r_[np.ones(40), np.zeros(55)], -np.r_[lm, ln])
    assert scores.shape == (40,)
    assert np.all((scores >= 0) & (scores <= 1))
    assert np.isclose(scores.mean(), auc)


def test_membership_scores_extremes(mlp):
    X, y = _data(30, 3)
    assert np.isclose(loss_membership_scores(mlp, X, y, X, y).mean(), 0.5)  # same samples
    sharp = torch.nn.Linear(5, 3)
    with torch.no_grad():
        sharp.weight.copy_(torch.eye(3, 5) * 100)
        sharp.bias.zero_()
        X = torch.eye(3, 5).repeat(10, 1)  # every sample is classified with a huge margin
        pred = sharp(X).argmax(1)
    wrong = (pred + 1) % 3
    # members labelled as predicted (low loss) vs non-members labelled wrongly (high loss)
    assert loss_membership_scores(sharp, X, pred, X, wrong).mean() == 1.0
    assert loss_membership_scores(sharp, X, wrong, X, pred).mean() == 0.0


def test_membership_scores_bad_input(mlp):
    X, y = _data(4, 0)
    with pytest.raises(ValueError, match="y_members must be < 3"):
        loss_membership_scores(mlp, X, torch.tensor([0, 1, 2, 7]), X, y)
    with pytest.raises(ValueError, match="y_nonmembers must be < 3"):
        loss_membership_scores(mlp, X, y, X, torch.tensor([0, 1, 2, 3]))
    with pytest.raises(TypeError, match="X_nonmembers and y_nonmembers"):
        loss_membership_scores(mlp, X, y, X.numpy(), y)
    with pytest.raises(ValueError, match="members set is empty"):
        loss_membership_scores(mlp, X[:0], y[:0], X, y)


def test_covarnav_protects_convolutions_and_reuses_a_proxy():
    net = ContinualConvNet((1, 8, 8), channels=(3, 4), hidden=6, head_sizes=[4], seed=0)
    g = torch.Generator().manual_seed(0)
    X, y = torch.rand(12, 64, generator=g), torch.tensor([1] * 12)
    kw = dict(epochs=2, lr=0.01, inversion_steps=5, n_inverted_per_class=3, seed=4)
    own = covarnav(net, X, y, 4, **kw)
    # two convolutions, the hidden layer and the head are protected
    assert len(own.memory_dimensions) == 4 and min(own.memory_dimensions) > 0
    inv = invert_model(net, [0, 2, 3], 3, 64, steps=5, seed=4)  # what covarnav inverts itself
    reused = covarnav(net, X, y, 4, inverted=inv, **kw)
    assert torch.equal(reused.inverted.X, own.inverted.X)
    for a, b in zip(own.model.parameters(), reused.model.parameters(), strict=True):
        assert torch.equal(a, b)
    every = invert_model(net, [0, 1, 2, 3], 3, 64, steps=5, seed=4)
    dropped = covarnav(net, X, y, 4, inverted=every, **kw)  # the forgotten class is dropped
    assert sorted(set(dropped.inverted.y.tolist())) == [0, 2, 3]
    assert len(dropped.inverted) == 9


def test_covarnav_inverted_bad_input():
    net = ContinualConvNet((1, 8, 8), channels=(3,), hidden=6, head_sizes=[4], seed=0)
    X, y = torch.rand(4, 64), torch.tensor([1] * 4)
    with pytest.raises(TypeError, match="inverted must be an InvertedSet"):
        covarnav(net, X, y, 4, inverted=(X, y))
    inv = invert_model(net, [1], 2, 64, steps=2)
    with pytest.raises(ValueError, match="no sample of retain_classes"):
        covarnav(net, X, y, 4, inverted=inv)
