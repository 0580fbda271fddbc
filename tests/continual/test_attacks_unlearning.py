import pytest
import torch

from mintlab.continual import ContinualMLP, Naive, permuted_digits
from mintlab.continual.attacks import (
    brainwash,
    poisoned_task,
    project_perturbation,
    random_perturbation,
)
from mintlab.continual.inversion import invert_model
from mintlab.continual.ssl import AUGMENTATIONS, SimSiam, augment, simsiam_loss
from mintlab.continual.unlearning import (
    covarnav,
    gradient_ascent,
    most_probable_wrong_label,
    random_relabel,
)


@pytest.fixture(scope="module")
def trained():
    s = permuted_digits(2, seed=0)
    net = ContinualMLP(64, [32], [10], seed=0)
    st = Naive(net, epochs=5, lr=0.05, momentum=0.9)
    st.train(s[0])
    return s, net


def test_inverted_samples_have_target_labels(trained):
    _, net = trained
    inv = invert_model(net, [0, 3, 7], 8, 64, steps=150, seed=0)
    assert inv.X.shape == (24, 64) and inv.X.min() >= 0 and inv.X.max() <= 1
    assert torch.equal(net(inv.X).argmax(1), inv.y)
    with torch.no_grad():
        soft = invert_model(net, [1], 8, 64, steps=150, target_probability=0.6, seed=0)
        full = invert_model(net, [1], 8, 64, steps=150, seed=0)
        p_soft = torch.softmax(net(soft.X), 1)[:, 1]
        p_full = torch.softmax(net(full.X), 1)[:, 1]
    assert float(p_soft.min()) > 0.5
    # pushing stops once the target is reached: the proxy stays less confident
    assert float((1 - p_soft).mean()) > 3 * float((1 - p_full).mean())


def test_inversion_bad_input(trained):
    _, net = trained
    with pytest.raises(ValueError, match="classes must be <"):
        invert_model(net, [12], 2, 64, steps=1)
    with pytest.raises(ValueError, match="image_shape"):
        invert_model(net, [1], 2, 64, tv=1.0)
    with pytest.raises(ValueError, match="target_probability"):
        invert_model(net, [1], 2, 64, target_probability=1.5)


@pytest.mark.parametrize("norm", ["inf", "l2"])
def test_brainwash_respects_bound_and_raises_old_loss(trained, norm):
    s, net = trained
    before = {k: v.clone() for k, v in net.state_dict().items()}
    inv = [invert_model(net, range(10), 5, 64, steps=100, target_probability=0.7, seed=0)]
    eps = 0.3 if norm == "inf" else 1.5
    res = brainwash(net, s[1], inv, epsilon=eps, norm=norm, rounds=4, victim_lr=0.1,
                    attack_lr=0.05, seed=0)
    d = res.delta
    if norm == "inf":
        assert float(d.abs().max()) <= eps + 1e-6
    else:
        assert float(d.flatten(1).norm(dim=1).max()) <= eps + 1e-5
    X = res.apply(s[1]).X_train
    assert X.min() >= 0 and X.max() <= 1
    assert res.history[-1] > res.history[0]  # the look-ahead loss on the proxy grows
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())


def test_perturbation_helpers():
    d = random_perturbation((5, 4), 0.2, "inf", seed=0)
    assert torch.allclose(d.abs(), torch.full((5, 4), 0.2))
    d2 = random_perturbation((5, 4), 0.2, "l2", seed=0)
    assert torch.allclose(d2.norm(dim=1), torch.full((5,), 0.2))
    big = torch.full((2, 4), 3.0)
    assert torch.allclose(project_perturbation(big, 1.0, "l2").norm(dim=1), torch.ones(2))


def test_brainwash_bad_input(trained):
    s, net = trained
    inv = [invert_model(net, [0], 2, 64, steps=5)]
    with pytest.raises(ValueError, match="at least one InvertedSet"):
        brainwash(net, s[1], [])
    with pytest.raises(ValueError, match="norm"):
        brainwash(net, s[1], inv, norm="l1")
    with pytest.raises(ValueError, match="epsilon"):
        brainwash(net, s[1], inv, epsilon=-1)
    with pytest.raises(ValueError, match="shape of X_train"):
        poisoned_task(s[1], torch.zeros(3, 64))


def test_covarnav_forgets_class_and_keeps_rest(trained):
    s, net = trained
    t = s[0]
    f = t.y_train == 4
    before = {k: v.clone() for k, v in net.state_dict().items()}
    res = covarnav(net, t.X_train[f], t.y_train[f], 10, epochs=10, lr=0.01, seed=0)
    with torch.no_grad():
        pred_t = res.model(t.X_test).argmax(1)
        pred_0 = net(t.X_test).argmax(1)
    ft = t.y_test == 4
    assert float((pred_t[ft] == 4).float().mean()) <= 0.1
    acc_keep = float((pred_t[~ft] == t.y_test[~ft]).float().mean())
    acc_orig = float((pred_0[~ft] == t.y_test[~ft]).float().mean())
    assert acc_keep > acc_orig - 0.05
    assert 4 not in res.inverted.y.tolist()   # only retained classes are inverted
    assert (res.targets != 4).all()
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())  # input untouched


def test_most_probable_wrong_label():
    net = torch.nn.Linear(2, 3, bias=False)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[3.0, 0.0], [2.0, 0.0], [1.0, 0.0]]))
    y = torch.tensor([0, 1])
    out = most_probable_wrong_label(net, torch.tensor([[1.0, 0.0], [1.0, 0.0]]), y)
    assert out.tolist() == [1, 0]


def test_unlearning_bad_input(trained):
    _, net = trained
    with pytest.raises(ValueError, match="empty"):
        covarnav(net, torch.zeros(0, 64), torch.zeros(0, dtype=torch.int64), 10)
    with pytest.raises(ValueError, match=r"y_forget must lie in \[0, 10\)"):
        covarnav(net, torch.zeros(2, 64), torch.tensor([1, 11]), 10)
    with pytest.raises(ValueError, match="NaN"):
        gradient_ascent(net, torch.full((2, 64), float("nan")), torch.tensor([1, 2]))
    r = random_relabel(net, torch.zeros(6, 64), torch.tensor([1] * 6), 10, epochs=1)
    assert (r.targets != 1).all()


def test_augmentations_and_simsiam():
    X = torch.rand(6, 64)
    for fam in AUGMENTATIONS:
        a = augment(X, fam, torch.Generator().manual_seed(0))
        b = augment(X, fam, torch.Generator().manual_seed(0))
        assert a.shape == X.shape and torch.equal(a, b) and a.min() >= 0 and a.max() <= 1
    sh = augment(X, "shuffle", torch.Generator().manual_seed(1))
    assert torch.allclose(sh.sort(1).values, X.sort(1).values)  # a permutation of pixels
    m = SimSiam(seed=0)
    loss = simsiam_loss(m, X, X)
    assert -1.0 <= float(loss) <= 1.0
    loss.backward()
    assert m.predictor[0].weight.grad is not None
    with pytest.raises(ValueError, match="family"):
        augment(X, "colour")
