import copy

import numpy as np
import pytest
import torch

from mintlab.continual import (
    EWC,
    GPM,
    ContinualMLP,
    Joint,
    KWinner,
    Naive,
    Replay,
    SparseGPM,
    continual_swiss_roll,
    gaussian_mixture_stream,
    mnist1d_stream,
    permuted_digits,
    rotated_digits,
    run_stream,
    split_digits,
)
from mintlab.continual.strategies import layer_inputs, projection_bases, protected_linears


@pytest.fixture(scope="module")
def stream():
    return gaussian_mixture_stream(3, n_classes=3, dim=8, per_class=40, seed=0)


def test_streams_shapes_and_seeds():
    s = split_digits(5, seed=1)
    assert s.multi_head and s.head_sizes == (2,) * 5
    classes = sorted(c for t in s for c in t.classes)
    assert classes == list(range(10))
    for t in s:
        assert set(torch.unique(t.y_train).tolist()) == {0, 1}
    p = permuted_digits(3, seed=0)
    assert not p.multi_head and p.head_sizes == (10,)
    # task 1 is one fixed pixel permutation of task 0: every column of task 1 equals a
    # distinct column of task 0, on train and test alike
    X0, X1 = p[0].X_train, p[1].X_train
    assert not torch.equal(X0, X1)
    assert torch.equal(X1.sort(1).values, X0.sort(1).values)
    assert torch.equal(p[1].X_test.sort(1).values, p[0].X_test.sort(1).values)
    assert torch.equal(p[1].y_train, p[0].y_train)
    r = rotated_digits(3, max_degrees=90)
    assert torch.equal(r[0].X_test, p[0].X_test)
    assert not torch.equal(r[2].X_test, r[0].X_test)
    a, b = continual_swiss_roll(4, seed=3), continual_swiss_roll(4, seed=3)
    assert all(torch.equal(x.X_train, y.X_train) for x, y in zip(a, b, strict=True))
    assert float(a[0].X_train.abs().max()) <= 1.2
    # segments move outwards along the roll
    radii = [float(t.X_train.norm(dim=1).mean()) for t in a]
    assert radii == sorted(radii)
    g = gaussian_mixture_stream(2, dim=3, per_class=10, seed=0)
    assert g.n_features == 3 and len(g[0].y_train) == 15


def test_mnist1d_stream():
    pytest.importorskip("mnist1d")
    state = np.random.get_state()[1].copy()  # noqa: NPY002
    s = mnist1d_stream(5, kind="split", n_samples=1000, seed=0)
    assert np.array_equal(np.random.get_state()[1], state)  # noqa: NPY002
    assert s.n_features == 40 and s.head_sizes == (2,) * 5
    p = mnist1d_stream(2, kind="permuted", n_samples=1000, seed=0)
    assert p.head_sizes == (10,)


def test_bad_streams_and_models():
    with pytest.raises(ValueError, match="divide"):
        split_digits(3)
    with pytest.raises(ValueError, match="noise"):
        continual_swiss_roll(noise=-1)
    with pytest.raises(ValueError, match="scenario"):
        gaussian_mixture_stream(scenario="class")
    with pytest.raises(ValueError, match="k_winner_density"):
        ContinualMLP(4, [8], [2], hetero_dropout=1.0)
    net = ContinualMLP(4, [8], [2, 2])
    with pytest.raises(ValueError, match="task_id"):
        net(torch.zeros(1, 4))
    with pytest.raises(ValueError, match=r"shape \(batch, 4\)"):
        net(torch.zeros(1, 5), 0)


def test_bad_strategy_configs(stream):
    net = ContinualMLP(8, [16], stream.head_sizes)
    with pytest.raises(ValueError, match="optimizer='sgd'"):
        GPM(net, optimizer="adam")
    with pytest.raises(ValueError, match="threshold"):
        GPM(net, threshold=1.5)
    with pytest.raises(ValueError, match="KWinner"):
        SparseGPM(net)
    with pytest.raises(ValueError, match="epochs"):
        Naive(net, epochs=0)
    with pytest.raises(TypeError, match="nn.Module"):
        Naive("model")
    with pytest.raises(ValueError, match="features"):
        Naive(ContinualMLP(5, [4], [3])).train(stream[0])


def test_kwinner_keeps_k_and_hetero_dropout_avoids_used_units():
    layer = KWinner(10, density=0.3, hetero_dropout=50.0)
    x = torch.randn(64, 10)
    assert ((layer(x) != 0).sum(1) == 3).all()
    layer.activation_counts[:5] = 100.0  # units 0-4 were used by old tasks
    layer.train()
    won = layer.winners(torch.randn(500, 10)).float().mean(0)
    assert won[:5].max() < 0.05 and won[5:].min() > 0.4
    layer.eval()  # no dropout at test time
    won = layer.winners(torch.randn(500, 10)).float().mean(0)
    assert won[:5].min() > 0.1


@pytest.mark.parametrize("cls,kw,mkw", [
    (Naive, {}, {}), (Joint, {}, {}), (Replay, {"memory_per_task": 9}, {}),
    (EWC, {"ewc_lambda": 10.0}, {}), (GPM, {}, {}),
    (SparseGPM, {}, {"k_winner_density": 0.25, "hetero_dropout": 1.0})])
def test_strategies_deterministic_under_seed(stream, cls, kw, mkw):
    def once():
        net = ContinualMLP(8, [16, 16], stream.head_sizes, seed=0, **mkw)
        log = run_stream(cls(net, epochs=2, lr=0.05, seed=3, **kw), stream)
        return log.to_records(), [p.detach().clone() for p in net.parameters()]
    (r1, p1), (r2, p2) = once(), once()
    assert r1 == r2
    assert all(torch.equal(a, b) for a, b in zip(p1, p2, strict=True))


def test_gpm_gradients_vanish_in_memory_subspace(stream):
    net = ContinualMLP(8, [16, 16], stream.head_sizes, seed=0)
    st = GPM(net, epochs=3, lr=0.05, threshold=0.95, seed=0)
    st.train(stream[0])
    assert all(d > 0 for d in st.memory_dimensions())
    for M in st.bases:
        assert torch.allclose(M.T @ M, torch.eye(M.shape[1], dtype=M.dtype), atol=1e-10)
    net.zero_grad()
    torch.nn.functional.cross_entropy(net(stream[1].X_train, 1), stream[1].y_train).backward()
    raw = [torch.cat([lin.weight.grad, lin.bias.grad[:, None]], 1).double().clone()
           for lin in st.layers]
    st.gpm.adjust_gradients(st)
    for lin, M, G0 in zip(st.layers, st.bases, raw, strict=True):
        G = torch.cat([lin.weight.grad, lin.bias.grad[:, None]], 1).double()
        assert float((G0 @ M).norm()) > 1e-3            # the raw gradient had such components
        assert float((G @ M).norm()) < 1e-5 * float(G0.norm())
        assert torch.allclose(G + (G0 @ M) @ M.T, G0, atol=1e-6)  # only that part removed


def test_gpm_keeps_old_outputs_on_memory_inputs(stream):
    net = ContinualMLP(8, [16], [3], seed=0)
    st = GPM(net, epochs=3, lr=0.05, threshold=1.0, memory_samples=10, seed=0)
    st.train(stream[0])
    X = st.memory_inputs(stream[0])
    before = net(X).detach()
    st.train(stream[1])
    # threshold 1: the memory spans every memory input, so their outputs are preserved
    assert torch.allclose(net(X), before, atol=1e-4)


def test_projection_bases_energy_rule():
    g = torch.Generator().manual_seed(0)
    R = torch.randn(50, 3, generator=g) @ torch.randn(3, 10, generator=g)  # rank 3
    (M,) = projection_bases([R], [None], 0.999999)
    assert M.shape[1] == 3
    (M2,) = projection_bases([R], [M], 0.99)  # nothing left to add
    assert M2.shape[1] == 3
    with pytest.raises(ValueError, match="threshold"):
        projection_bases([R], [None], 0.0)


def test_layer_inputs_and_protected_layers():
    net = ContinualMLP(4, [6], [2, 2], seed=0)
    layers = protected_linears(net)
    assert layers == [net.trunk[0]]  # heads are task-specific
    (R,) = layer_inputs(net, layers, torch.ones(3, 4), 0)
    assert R.shape == (3, 5) and torch.all(R[:, -1] == 1)


def test_methods_against_forgetting_forget_less():
    s = permuted_digits(3, seed=0)
    kw = dict(epochs=5, lr=0.05, momentum=0.9)
    bwt = {}
    for name, make in {"naive": lambda m: Naive(m, **kw),
                       "replay": lambda m: Replay(m, memory_per_task=40, **kw),
                       "gpm": lambda m: GPM(m, **kw)}.items():
        from mintlab.continual.metrics import backward_transfer
        bwt[name] = backward_transfer(run_stream(make(ContinualMLP(64, [64], s.head_sizes)), s))
    assert bwt["replay"] > bwt["naive"] + 0.1 and bwt["gpm"] > bwt["naive"] + 0.1


def test_joint_train_all_resets(stream):
    net = ContinualMLP(8, [16], stream.head_sizes, seed=0)
    init = copy.deepcopy(net.state_dict())
    st = Joint(net, epochs=1, seed=0)
    st.train_all(list(stream))
    assert len(st.tasks_seen) == len(stream)
    st2 = Joint(ContinualMLP(8, [16], stream.head_sizes, seed=0), epochs=1, seed=0)
    st2.model.load_state_dict(init)
    for t in stream:
        st2.train(t)  # reset=True: the last call is joint training from the initial state
    assert all(torch.equal(a, b) for a, b in zip(st.model.state_dict().values(),
                                                 st2.model.state_dict().values(), strict=True))
