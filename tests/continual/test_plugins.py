"""Composable strategies: plugins equal the hand-written methods they replace."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mintlab.continual import (
    EWC,
    GPM,
    ContinualConvNet,
    ContinualMLP,
    EWCPlugin,
    GPMPlugin,
    Replay,
    ReplayPlugin,
    Strategy,
    image_stream,
    run_stream,
    split_digits,
)
from mintlab.continual.strategies import protected_layers


@pytest.fixture(scope="module")
def stream():
    return split_digits(5, seed=0).subset([0, 1, 2])


def _params(net):
    return [p.detach().clone() for p in net.parameters()]


def _same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


class HandReplayEWC(Strategy):
    """Replay + EWC written out by hand, without plugins: the reference of the composition."""

    def __init__(self, model, *, memory_per_task, ewc_lambda, fisher_samples, **kw):
        super().__init__(model, **kw)
        self.mem, self.k = [], memory_per_task
        self.lam, self.n_f = ewc_lambda, fisher_samples
        self.F, self.star = {}, {}

    def batches(self, task, generator):
        for X, y, t in super().batches(task, generator):
            if self.mem:
                MX = torch.cat([m[0] for m in self.mem])
                My = torch.cat([m[1] for m in self.mem])
                Mt = torch.cat([m[2] for m in self.mem])
                j = torch.randint(len(My), (len(y),), generator=generator)
                X, y, t = torch.cat([X, MX[j]]), torch.cat([y, My[j]]), torch.cat([t, Mt[j]])
            yield X, y, t

    def penalty(self):
        if not self.F:
            return 0.0
        return 0.5 * self.lam * sum((self.F[n] * (p - self.star[n]) ** 2).sum()
                                    for n, p in self.model.named_parameters())

    def after_training_task(self, task):
        g = torch.Generator().manual_seed(self.seed * 31 + task.task_id)
        classes = torch.unique(task.y_train)
        per = max(1, self.k // len(classes))
        keep = torch.cat([torch.nonzero(task.y_train == c).flatten()[
            torch.randperm(int((task.y_train == c).sum()), generator=g)[:per]]
            for c in classes])[: self.k]
        self.mem.append((task.X_train[keep], task.y_train[keep],
                         torch.full((len(keep),), task.task_id)))
        self.model.eval()
        n = min(self.n_f, len(task.y_train))
        sq = {name: torch.zeros_like(p) for name, p in self.model.named_parameters()}
        for i in range(n):  # per-sample gradients, one backward each
            self.model.zero_grad()
            F.cross_entropy(self.model(task.X_train[i:i + 1], task.task_id),
                            task.y_train[i:i + 1]).backward()
            for name, p in self.model.named_parameters():
                if p.grad is not None:  # heads of other tasks get no gradient
                    sq[name] += p.grad ** 2 / n
        self.model.zero_grad()
        for name, p in self.model.named_parameters():
            self.F[name] = self.F.get(name, 0) + sq[name]
            self.star[name] = p.detach().clone()
        self.model.train()


def test_replay_plus_ewc_equals_the_hand_written_combination(stream):
    kw = dict(epochs=2, lr=0.05, seed=4, batch_size=16)
    a = ContinualMLP(64, [16], stream.head_sizes, seed=1)
    b = ContinualMLP(64, [16], stream.head_sizes, seed=1)
    sa = Strategy(a, plugins=[ReplayPlugin(12), EWCPlugin(30.0, fisher_samples=40)], **kw)
    sb = HandReplayEWC(b, memory_per_task=12, ewc_lambda=30.0, fisher_samples=40, **kw)
    for task in stream:
        sa.train(task)
        sb.train(task)
    for x, y in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.allclose(x, y, atol=1e-5)
    assert not torch.equal(_params(a)[0], _params(ContinualMLP(64, [16], stream.head_sizes,
                                                                 seed=1))[0])
    ew = sa.plugin(EWCPlugin)
    for n in ew.fisher:
        assert torch.allclose(ew.fisher[n], sb.F[n], atol=1e-6)


@pytest.mark.parametrize("short, plugin", [
    (lambda m, **k: Replay(m, memory_per_task=8, **k), lambda: ReplayPlugin(8)),
    (lambda m, **k: EWC(m, ewc_lambda=20.0, **k), lambda: EWCPlugin(20.0)),
    (lambda m, **k: GPM(m, threshold=0.9, **k), lambda: GPMPlugin(0.9)),
])
def test_shortcuts_are_one_plugin(stream, short, plugin):
    a = ContinualMLP(64, [16], stream.head_sizes, seed=0)
    b = ContinualMLP(64, [16], stream.head_sizes, seed=0)
    la = run_stream(short(a, epochs=1, seed=2), stream)
    lb = run_stream(Strategy(b, plugins=[plugin()], epochs=1, seed=2), stream)
    assert la.to_records() == lb.to_records()
    assert _same(_params(a), _params(b))


def test_gpm_plugin_composes_with_replay_and_protects(stream):
    net = ContinualMLP(64, [16], stream.head_sizes, seed=0)
    st = Strategy(net, plugins=[ReplayPlugin(10), GPMPlugin(1.0, memory_samples=10)],
                  epochs=2, seed=0)
    st.train(stream[0])
    X = st.plugin(GPMPlugin).memory_inputs(st, stream[0])
    before = net.features(X).detach()
    head_before = net.heads[0].weight.detach().clone()
    st.train(stream[1])
    # threshold 1: the memory spans the memory inputs of the shared trunk, so its features of
    # task 0 survive; task 0's head (not protected) still learns from the replayed samples
    assert torch.allclose(net.features(X), before, atol=1e-4)
    assert not torch.allclose(net.heads[0].weight, head_before)


def test_gpm_protects_convolutions_exactly():
    s = image_stream("mnist", "split", 5, n_train=60, n_test=20, seed=0)
    net = ContinualConvNet(channels=(4, 6), hidden=16, head_sizes=s.head_sizes, seed=0)
    st = GPM(net, threshold=1.0, memory_samples=6, epochs=2, lr=0.05, seed=0)
    assert [type(m).__name__ for m in st.layers] == ["Conv2d", "Conv2d", "Linear"]
    st.train(s[0])
    assert st.memory_dimensions()[0] == 10  # 3x3 patches of one channel + bias: all of them
    X = st.memory_inputs(s[0])
    before = net(X, 0).detach()
    conv_before = net.conv[0].weight.detach().clone()
    st.train(s[1])
    assert torch.equal(net.conv[0].weight, conv_before) or torch.allclose(
        net.conv[0].weight, conv_before, atol=1e-6)
    assert not torch.allclose(net.fc.weight, net.fc.weight.detach() * 0)
    assert torch.allclose(net(X, 0), before, atol=1e-4)


def test_conv_gradient_projection_removes_the_memory_component():
    s = image_stream("fashion-mnist", "split", 5, n_train=40, n_test=10, seed=1)
    net = ContinualConvNet(channels=(3,), hidden=8, head_sizes=s.head_sizes, seed=0)
    st = GPM(net, threshold=0.9, memory_samples=8, epochs=1, seed=0)
    st.train(s[0])
    net.zero_grad()
    F.cross_entropy(net(s[1].X_train, 1), s[1].y_train).backward()
    conv = net.conv[0]
    G0 = torch.cat([conv.weight.grad.reshape(3, -1), conv.bias.grad[:, None]], 1).double()
    st.gpm.adjust_gradients(st)
    G = torch.cat([conv.weight.grad.reshape(3, -1), conv.bias.grad[:, None]], 1).double()
    M = st.bases[0]
    assert float((G0 @ M).norm()) > 1e-4
    assert float((G @ M).norm()) < 1e-5 * float(G0.norm())
    assert torch.allclose(G + (G0 @ M) @ M.T, G0, atol=1e-6)


def test_plugin_errors(stream):
    net = ContinualMLP(64, [16], stream.head_sizes, seed=0)
    with pytest.raises(ValueError, match="optimizer='sgd'"):
        Strategy(net, plugins=[GPMPlugin()], optimizer="adam")
    rp = ReplayPlugin(5)
    first = Strategy(net, plugins=[rp])
    with pytest.raises(ValueError, match="already belongs to another strategy"):
        Strategy(ContinualMLP(64, [16], stream.head_sizes), plugins=[rp])
    assert first.plugins == [rp]
    with pytest.raises(ValueError, match="same plugin twice"):
        e = EWCPlugin()
        Strategy(net, plugins=[e, e])
    with pytest.raises(ValueError, match="memory_per_task"):
        ReplayPlugin(0)
    with pytest.raises(TypeError, match=r"layers\[0\] must be an nn.Linear or nn.Conv2d"):
        GPMPlugin(layers=[torch.nn.ReLU()])
    with pytest.raises(ValueError, match="modules of the strategy's model"):
        Strategy(net, plugins=[GPMPlugin(layers=[torch.nn.Linear(3, 3)])])
    with pytest.raises(LookupError, match="no EWCPlugin"):
        Strategy(net).plugin(EWCPlugin)
    grouped = torch.nn.Sequential(torch.nn.Conv2d(2, 2, 3, groups=2))
    with pytest.raises(ValueError, match="groups=1"):
        protected_layers(grouped)


def test_image_streams():
    s = image_stream("fashion-mnist", "split", 5, n_train=100, n_test=50, seed=0)
    assert s.scenario == "task-incremental" and s.head_sizes == (2,) * 5
    classes = [c for t in s for c in t.classes]
    assert sorted(classes) == list(range(10))
    for t in s:
        assert t.X_train.shape == (100, 784) and 0 <= float(t.X_train.min())
        assert float(t.X_train.max()) <= 1 and set(t.y_train.tolist()) == {0, 1}
    c = image_stream("mnist", "split", 5, scenario="class-incremental", n_train=40, seed=0)
    assert c.head_sizes == (10,) and not c.multi_head
    for t in c:
        assert set(t.y_train.tolist()) == set(t.classes)
    again = image_stream("fashion-mnist", "split", 5, n_train=100, n_test=50, seed=0)
    assert all(torch.equal(a.X_train, b.X_train) for a, b in zip(s, again, strict=True))
    other = image_stream("fashion-mnist", "split", 5, n_train=100, n_test=50, seed=1)
    assert [t.classes for t in other] != [t.classes for t in s]
    p = image_stream("mnist", "permuted", 3, n_train=50, n_test=20)
    assert p.scenario == "domain-incremental" and p.head_sizes == (10,)
    assert torch.allclose(p[0].X_train.sum(1), p[2].X_train.sum(1))  # a permutation keeps mass
    assert not torch.equal(p[0].X_train, p[2].X_train)
    r = image_stream("fashion-mnist", "rotated", 2, n_train=30, max_degrees=180)
    img0 = r[0].X_train.reshape(-1, 28, 28)
    img1 = r[1].X_train.reshape(-1, 28, 28)  # 90 degrees
    assert torch.allclose(torch.rot90(img0, -1, (1, 2)), img1, atol=1e-5) or torch.allclose(
        torch.rot90(img0, 1, (1, 2)), img1, atol=1e-5)


def test_image_stream_errors():
    with pytest.raises(ValueError, match="n_tasks must divide the 10 classes"):
        image_stream("mnist", "split", 3)
    with pytest.raises(ValueError, match="scenario must be one of"):
        image_stream("mnist", "permuted", 3, scenario="task-incremental")
    with pytest.raises(ValueError, match="dataset must be one of"):
        image_stream("cifar", "split", 5)
    with pytest.raises(ValueError, match="n_train must be at most"):
        image_stream("mnist", "split", 5, n_train=10_000)


def test_convnet_trains_and_rejects_bad_input():
    s = image_stream("mnist", "split", 5, scenario="class-incremental", n_train=200,
                     n_test=100, seed=0)
    net = ContinualConvNet(channels=(8, 16), hidden=32, head_sizes=s.head_sizes, seed=0)
    Strategy(net, epochs=5, lr=0.1, momentum=0.9, seed=0).train(s[0])
    from mintlab.continual.strategies import accuracy
    assert accuracy(net, s[0]) > 0.9
    with pytest.raises(ValueError, match=r"x must have shape \(batch, 784\)"):
        net(torch.zeros(2, 28, 28))
    with pytest.raises(ValueError, match="in_shape"):
        ContinualConvNet((28, 28))
    with pytest.raises(ValueError, match="too small"):
        ContinualConvNet((1, 3, 3), channels=(4, 4))
