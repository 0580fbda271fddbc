"""PRANC and MCNC: exact rebuild from (seed, trained tensors), gradients, oracles, errors."""

import math
import subprocess
import sys

import pytest
import torch
from torch import nn

from mintlab.compress import MCNC, PRANC, CompressedModel, init_bound, rebuild
from mintlab.compress.random_basis import BLOCK_VALUES


def _mlp(seed=0, dtype=torch.float32, bn=False):
    torch.manual_seed(seed)
    layers = [nn.Linear(6, 12), nn.ReLU()]
    if bn:
        layers.append(nn.BatchNorm1d(12))
    layers.append(nn.Linear(12, 3))
    return nn.Sequential(*layers).to(dtype)


def _train_steps(wrapper, steps=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(32, 6, generator=g, dtype=next(wrapper.parameters()).dtype)
    y = torch.randint(0, 3, (32,), generator=g)
    opt = torch.optim.Adam(wrapper.trainable_parameters(), lr=0.05)
    for _ in range(steps):
        loss = nn.functional.cross_entropy(wrapper(X), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return X


@pytest.mark.parametrize("make", [
    lambda m: PRANC(m, n_coefficients=40, seed=3),
    lambda m: PRANC(m, n_coefficients=40, seed=3, cache_basis=False),
    lambda m: MCNC(m, code_dim=3, chunk_size=16, seed=3),
])
def test_rebuild_is_bit_for_bit(make, tmp_path):
    w = make(_mlp(0, bn=True))
    X = _train_steps(w)
    w.eval()
    exported = w.export()
    fresh = _mlp(seed=1, bn=True)  # other initial weights: everything must come from the export
    model = rebuild(fresh, exported)
    params = dict(model.named_parameters())
    for name, value in w.generate().items():
        assert torch.equal(params[name], value), name
    for (n, b), (_, b2) in zip(w.model.named_buffers(), model.named_buffers(), strict=True):
        assert torch.equal(b, b2), n
    model.eval()
    assert torch.equal(model(X), w(X))
    # through a file
    path = exported.save(tmp_path / "m.safetensors")
    loaded = CompressedModel.load(path)
    assert loaded.method == exported.method and loaded.seed == exported.seed
    model2 = rebuild(_mlp(seed=2, bn=True), loaded).eval()
    assert torch.equal(model2(X), w(X))
    assert all(p.requires_grad for p in model2.parameters())


def test_pranc_stores_seed_and_coefficients_only():
    w = PRANC(_mlp(), n_coefficients=40, seed=0)
    exported = w.export()
    assert set(exported.tensors) == {"coefficients"}
    assert exported.nbytes == 40 * 4 + 8
    dense = sum(p.numel() for p in w.model.parameters()) * 4
    assert w.dense_bytes() == dense
    assert w.compression_ratio() == pytest.approx(dense / (40 * 4 + 8))


def test_unselected_parameters_are_stored_dense_and_trainable():
    w = PRANC(_mlp(), n_coefficients=10, seed=0, include=["0.*"])
    assert w.param_names == ("0.weight", "0.bias")
    names = {k for k in w.export().tensors}
    assert names == {"coefficients", "dense.2.weight", "dense.2.bias"}
    assert sum(p.numel() for p in w.trainable_parameters()) == 10 + 12 * 3 + 3


def test_generate_equals_explicit_basis_matrix():
    w = PRANC(_mlp(dtype=torch.float64), n_coefficients=7, seed=5)
    with torch.no_grad():
        w.coefficients.copy_(torch.randn(7, dtype=torch.float64))
    gen = w.generate()
    for i, name in enumerate(w.param_names):
        B = torch.cat([w.basis_block(i, b) for b in range(w._n_blocks(i))])
        assert B.shape == (math.prod(w.shapes[i]), 7)
        explicit = sum(w.coefficients[j] * B[:, j] for j in range(7))  # theta = sum_j a_j theta_j
        torch.testing.assert_close(gen[name].reshape(-1), explicit, rtol=1e-12, atol=1e-12)


def test_basis_networks_follow_default_init():
    model = _mlp()
    w = PRANC(model, n_coefficients=2000, seed=0)
    assert w.bounds == (1 / math.sqrt(6), 1 / math.sqrt(6), 1 / math.sqrt(12), 1 / math.sqrt(12))
    assert init_bound(model, "0.bias") == pytest.approx(1 / math.sqrt(6))
    B = w.basis_block(0, 0)  # 72 weights x 2000 basis networks
    assert B.abs().max() <= w.bounds[0]
    assert float(B.std()) == pytest.approx(w.bounds[0] / math.sqrt(3), rel=0.02)
    start = w.generate()["0.weight"]  # alpha = e_1: the first basis network
    torch.testing.assert_close(start.reshape(-1), B[:, 0])


def test_blocks_are_bounded_and_layout_independent_of_cache_and_selection():
    w = PRANC(_mlp(), n_coefficients=300, seed=1)
    assert w.rows_per_block * 300 <= BLOCK_VALUES
    a = PRANC(_mlp(), n_coefficients=300, seed=1, cache_basis=False).generate()
    b = w.generate()
    sub = PRANC(_mlp(), n_coefficients=300, seed=1, include="2.weight").generate()
    for k in b:
        assert torch.equal(a[k], b[k])
    assert torch.equal(sub["2.weight"], b["2.weight"])


def test_gradients_flow_only_into_coefficients_and_match_between_modes():
    grads = []
    for cache in (True, False):
        w = PRANC(_mlp(), n_coefficients=25, seed=0, cache_basis=cache)
        X = torch.randn(8, 6, generator=torch.Generator().manual_seed(0))
        w(X).square().sum().backward()
        assert all(p.grad is None for p in w.model.parameters())
        assert w.coefficients.grad is not None and w.coefficients.grad.abs().sum() > 0
        grads.append(w.coefficients.grad)
    torch.testing.assert_close(grads[0], grads[1])


def test_gradcheck_on_the_fly_basis_product():
    w = PRANC(_mlp(dtype=torch.float64), n_coefficients=6, seed=0, cache_basis=False)
    X = torch.randn(4, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1))

    def f(c):
        w.coefficients.data = c.detach()
        out = torch.func.functional_call(w, {"coefficients": c}, (X,))
        return out

    c0 = torch.randn(6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(f, (c0,))


def test_mcnc_chunks_lie_on_spheres_of_their_amplitude():
    w = MCNC(_mlp(dtype=torch.float64), code_dim=2, chunk_size=10, seed=0)
    with torch.no_grad():
        w.amplitudes.mul_(torch.linspace(0.5, 2.0, w.amplitudes.numel(), dtype=torch.float64))
    gen = w.generate()
    start = 0
    for name, c in zip(w.param_names, w.chunks_per_tensor, strict=True):
        flat = gen[name].reshape(-1)
        n_full = flat.numel() // 10
        norms = flat[:n_full * 10].view(n_full, 10).norm(dim=1)
        torch.testing.assert_close(norms, w.amplitudes[start:start + n_full].abs())
        start += c
    assert sum(w.chunks_per_tensor) == sum(-(-math.prod(s) // 10) for s in w.shapes)


def test_mcnc_gradients_and_gradcheck():
    w = MCNC(_mlp(dtype=torch.float64), code_dim=2, chunk_size=10, seed=0, frequency=5.0)
    X = torch.randn(4, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    w(X).sum().backward()
    assert all(p.grad is None for p in w.model.parameters())
    assert {n for n, p in w.named_parameters() if p.grad is not None} == {"codes", "amplitudes"}
    assert not any(b.requires_grad for b in w.generator.buffers())

    def f(codes, amps):
        return torch.func.functional_call(w, {"codes": codes, "amplitudes": amps}, (X,))

    assert torch.autograd.gradcheck(f, (w.codes.detach().clone().requires_grad_(),
                                        w.amplitudes.detach().clone().requires_grad_()))


def test_mcnc_starts_at_default_init_scale():
    w = MCNC(_mlp(), code_dim=4, chunk_size=8, seed=0)
    gen = w.generate()["0.weight"].detach()
    assert float(gen.std()) == pytest.approx(w.bounds[0] / math.sqrt(3), rel=0.15)


_CHILD = """
import hashlib, sys, torch
from torch import nn
from safetensors.torch import save_file
from mintlab.compress import PRANC, MCNC, apply_nola, NOLAConfig
threads, path = int(sys.argv[1]), sys.argv[2]
torch.set_num_threads(threads)
net = nn.Sequential(nn.Linear(6, 12), nn.ReLU(), nn.Linear(12, 300))
pranc = PRANC(net, n_coefficients=40, seed=9)
mcnc = MCNC(net, code_dim=3, chunk_size=16, seed=9)
with torch.no_grad():
    pranc.coefficients.copy_(torch.linspace(-1, 1, 40))
nola = apply_nola(nn.Sequential(nn.Linear(6, 12)), NOLAConfig(rank=2, seed=9))
random = [pranc.basis_block(i, 0) for i in range(4)] + list(mcnc.generator.buffers()) + [
    nola[0].basis_A, nola[0].basis_B, mcnc.codes, mcnc.amplitudes]
h = hashlib.sha256()
for t in random:
    h.update(t.detach().numpy().tobytes())
out = {f"pranc.{k}": v for k, v in pranc.generate().items()}
out.update({f"mcnc.{k}": v for k, v in mcnc.generate().items()})
save_file({k: v.detach().contiguous() for k, v in out.items()}, path)
print(h.hexdigest())
"""


def _run_child(threads, path, in_process=False):
    if in_process:
        import contextlib
        import io

        buf, old = io.StringIO(), torch.get_num_threads()
        argv, sys.argv = sys.argv, ["-c", str(threads), str(path)]
        try:
            with contextlib.redirect_stdout(buf):
                exec(_CHILD, {})
        finally:
            sys.argv = argv
            torch.set_num_threads(old)
        out = buf.getvalue()
    else:
        out = subprocess.run([sys.executable, "-c", _CHILD, str(threads), str(path)],
                             capture_output=True, text=True, check=True).stdout
    from safetensors.torch import load_file

    return out.strip(), load_file(str(path))


def test_same_seed_same_weights_in_another_process(tmp_path):
    torch.manual_seed(0)  # the global RNG state differs from the child's: it must not matter
    here, weights = _run_child(1, tmp_path / "a.safetensors", in_process=True)
    there, weights_1 = _run_child(1, tmp_path / "b.safetensors")
    # every random tensor is the same bit for bit; so are the weights at the same thread count
    assert there == here and len(here) == 64
    assert all(torch.equal(weights[k], weights_1[k]) for k in weights)
    # another thread count may split the generator's matrix products differently: the random
    # tensors are still identical and the weights agree to float32 rounding
    other, weights_2 = _run_child(2, tmp_path / "c.safetensors")
    assert other == here
    for k in weights:
        torch.testing.assert_close(weights_2[k], weights[k], rtol=1e-5, atol=1e-6)


def test_dtype_is_kept_and_cache_follows_device_and_dtype():
    w = PRANC(_mlp(), n_coefficients=10, seed=0)
    X = torch.randn(3, 6)
    out32 = w(X)
    w = w.double()
    assert w.coefficients.dtype == torch.float64
    out64 = w(X.double())
    assert out64.dtype == torch.float64
    torch.testing.assert_close(out64.float(), out32, rtol=1e-5, atol=1e-6)


def test_bad_inputs():
    with pytest.raises(ValueError, match="n_coefficients"):
        PRANC(_mlp(), n_coefficients=0)
    with pytest.raises(TypeError, match="seed"):
        PRANC(_mlp(), seed=1.5)
    with pytest.raises(ValueError, match="seed"):
        MCNC(_mlp(), seed=-1)
    with pytest.raises(ValueError, match="include pattern 'nope'"):
        PRANC(_mlp(), include=["nope"])
    with pytest.raises(ValueError, match="no parameter"):
        PRANC(_mlp(), include="0.*", exclude="0.*")
    with pytest.raises(ValueError, match="no parameters"):
        PRANC(nn.ReLU())
    with pytest.raises(TypeError, match="model"):
        PRANC("not a model")
    with pytest.raises(ValueError, match="cache_basis"):
        PRANC(_mlp(), cache_basis="sometimes")
    with pytest.raises(ValueError, match="code_dim"):
        MCNC(_mlp(), code_dim=0)
    with pytest.raises(ValueError, match="chunk_size"):
        MCNC(_mlp(), chunk_size=0)
    with pytest.raises(ValueError, match="frequency"):
        MCNC(_mlp(), frequency=0.0)
    exported = PRANC(_mlp(), n_coefficients=5).export()
    other = nn.Sequential(nn.Linear(6, 13), nn.ReLU(), nn.Linear(13, 3))
    with pytest.raises(ValueError, match="shape"):
        rebuild(other, exported)
    with pytest.raises(ValueError, match="no parameter"):
        rebuild(nn.ModuleDict({"fc": nn.Linear(6, 3)}), exported)
    with pytest.raises(TypeError, match="CompressedModel"):
        rebuild(_mlp(), {"coefficients": torch.zeros(5)})
    with pytest.raises(ValueError, match="unknown compression method"):
        rebuild(_mlp(), CompressedModel("zip", 0, {}, {}))


def test_conv_network_with_embedding_rebuilds_exactly():
    class ConvNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(5, 4)
            self.conv = nn.Conv1d(4, 6, 3, padding=1)
            self.norm = nn.LayerNorm(6)
            self.out = nn.Linear(6, 2)

        def forward(self, tokens):
            h = self.conv(self.emb(tokens).transpose(1, 2)).transpose(1, 2)
            return self.out(torch.relu(self.norm(h))).mean(1)

    torch.manual_seed(0)
    w = PRANC(ConvNet(), n_coefficients=30, seed=2)
    assert "norm.weight" not in w.param_names  # norm layers stay dense by default
    assert w.bounds[w.param_names.index("emb.weight")] == pytest.approx(math.sqrt(3))
    assert w.bounds[w.param_names.index("conv.weight")] == pytest.approx(1 / math.sqrt(12))
    tokens = torch.randint(0, 5, (3, 7), generator=torch.Generator().manual_seed(0))
    w(tokens).sum().backward()
    assert w.coefficients.grad is not None and w.model.norm.weight.grad is not None
    model = rebuild(ConvNet(), w.export())
    assert torch.equal(model(tokens), w(tokens))


def test_fit_classifier_trains_only_coefficients_with_a_progress_bar(capsys):
    from mintlab.compress import accuracy, fit_classifier

    g = torch.Generator().manual_seed(0)
    X = torch.randn(60, 6, generator=g)
    y = (X[:, 0] > 0).long()
    w = PRANC(_mlp(), n_coefficients=20, seed=0)
    before = [p.clone() for p in w.model.parameters()]
    losses = fit_classifier(w, X, y, epochs=15, lr=0.05, progress=True)
    assert losses[-1] < losses[0]
    assert all(torch.equal(a, b) for a, b in zip(before, w.model.parameters(), strict=True))
    assert accuracy(w, X, y) > 0.7
    assert "training" in capsys.readouterr().err
    with pytest.raises(ValueError, match="same non-zero number"):
        fit_classifier(w, X, y[:10])
    with pytest.raises(TypeError, match="class indices"):
        fit_classifier(w, X, y.float())
    with pytest.raises(TypeError, match="torch tensors"):
        fit_classifier(w, X.numpy(), y)
    with pytest.raises(ValueError, match="epochs"):
        fit_classifier(w, X, y, epochs=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_weights_match_cpu():
    w = PRANC(_mlp(), n_coefficients=30, seed=0)
    cpu = w.generate()
    gpu = w.cuda().generate()
    for k in cpu:
        assert gpu[k].device.type == "cuda"
        torch.testing.assert_close(gpu[k].cpu(), cpu[k], rtol=1e-5, atol=1e-6)
