"""Whitening that never fails: Cholesky, the eigenvalue-floor fallback, and the report."""

import math

import numpy as np
import pytest
import torch
from torch import nn

import mintlab.compress.svd.methods as methods
from mintlab.compress.svd import compress_model, whitened_decomposition, whitening_factor


def _oracle_objective(W, X, k):
    """Best rank-k error E||(W - W')x||^2, from numpy: dropped singular energy of W C^{1/2}."""
    C = X.T @ X / X.shape[0]
    lam, Q = np.linalg.eigh(C)
    root = (Q * np.sqrt(np.clip(lam, 0, None))) @ Q.T
    s = np.linalg.svd(W @ root, compute_uv=False)
    return float((s[k:] ** 2).sum()), float(np.trace(W @ C @ W.T))


def _our_objective(W, X, k, **kw):
    C = torch.as_tensor(X.T @ X / X.shape[0])
    w = whitening_factor(C, **kw)
    up, down = whitened_decomposition(torch.as_tensor(W), S=w.factor).factors(k)
    D = W - (up @ down).numpy()
    return float(np.trace(D @ (X.T @ X / X.shape[0]) @ D.T)), w


def _rank_deficient(rng):
    return rng.standard_normal((32, 64)), rng.standard_normal((20, 64))  # 20 samples < width 64


def _badly_scaled(rng):
    X = rng.standard_normal((200, 48)) * np.logspace(-8, 8, 48)[None, :]
    return rng.standard_normal((24, 48)), X


def _singular(rng):
    X = rng.standard_normal((100, 40))
    X[:, 5] = 0.0  # a dead channel
    X[:, 7] = X[:, 3]  # a duplicated one
    X[:, 9] = 2.0 * X[:, 1] - X[:, 2]
    return rng.standard_normal((30, 40)), X


CASES = {"rank-deficient": _rank_deficient, "badly-scaled": _badly_scaled, "singular": _singular}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("force_fallback", [False, True])
@pytest.mark.parametrize("k", [4, 12, 19])
def test_whitened_truncation_is_close_to_the_float64_oracle(case, force_fallback, k):
    W, X = CASES[case](np.random.default_rng(0))
    kw = {"max_condition": 1.0} if force_fallback else {}  # 1.0 rejects every Cholesky
    ours, w = _our_objective(W, X, k, **kw)
    best, total = _oracle_objective(W, X, k)
    assert w.path == ("eigh-floor" if force_fallback else "cholesky")
    assert math.isinf(w.condition) or w.condition > 1e6
    assert ours >= best - 1e-9 * total  # the oracle is optimal
    assert ours <= best + 1e-5 * total


def test_fallback_factor_is_triangular_and_whitens_the_floored_spectrum():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((10, 30))
    C = torch.as_tensor(X.T @ X / 10)
    w = whitening_factor(C, max_condition=1.0, damping=1e-4)
    L = w.factor
    assert torch.equal(L, torch.tril(L)) and bool((torch.diagonal(L) > 0).all())
    lam, Q = np.linalg.eigh(C.numpy())
    floored = (Q * np.maximum(lam, 1e-4 * lam[-1])) @ Q.T
    np.testing.assert_allclose((L @ L.T).numpy(), floored, atol=1e-10 * lam[-1])
    assert w.factor_condition == pytest.approx(1e4, rel=1e-9)


def test_an_indefinite_gram_matrix_takes_the_fallback():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((8, 16))
    C = torch.as_tensor(X.T @ X / 8)
    v = torch.as_tensor(np.linalg.svd(X)[2][-1])  # a null direction of X
    C = C - 1e-2 * float(torch.diagonal(C).mean()) * torch.outer(v, v)  # a negative eigenvalue
    w = whitening_factor(C)
    assert w.path == "eigh-floor" and math.isinf(w.condition)
    assert bool(torch.isfinite(w.factor).all())


def test_a_positive_definite_gram_matrix_keeps_the_damped_cholesky():
    rng = np.random.default_rng(3)
    X = torch.as_tensor(rng.standard_normal((200, 12)))
    C = X.T @ X / 200
    w = whitening_factor(C)
    damped = C + 1e-6 * torch.diagonal(C).mean() * torch.eye(12, dtype=C.dtype)
    assert w.path == "cholesky"
    assert torch.equal(w.factor, torch.linalg.cholesky(damped))
    lam = np.linalg.eigvalsh(C.numpy())
    assert w.condition == pytest.approx(lam[-1] / lam[0], rel=1e-8)
    exact = np.linalg.cond(damped.numpy())
    assert w.factor_condition == pytest.approx(exact, rel=1e-8)
    assert 1.0 <= w.condition_bound <= exact * (1 + 1e-12)


@pytest.mark.parametrize("case", list(CASES))
def test_the_condition_bound_is_a_lower_bound_on_both_paths(case):
    W, X = CASES[case](np.random.default_rng(4))
    C = torch.as_tensor(X.T @ X / X.shape[0])
    for kw in ({}, {"max_condition": 1.0}):
        w = whitening_factor(C, **kw)
        exact = np.linalg.cond((w.factor @ w.factor.T).numpy())  # numpy oracle, 2-norm
        assert w.condition_bound <= exact * (1 + 1e-6)
        d = torch.diagonal(w.factor).abs()
        assert w.condition_bound == pytest.approx(float(d.max() / d.min()) ** 2, rel=1e-12)


def test_the_cholesky_path_reads_no_eigenvalues_inside_compress_model(monkeypatch):
    model, batches = _mlp_and_batches()
    _, ref = compress_model(model, "svd-llm", 0.3, batches)
    calls = []
    real = methods.torch.linalg.eigvalsh
    monkeypatch.setattr(methods.torch.linalg, "eigvalsh",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    _, rep = compress_model(model, "svd-llm", 0.3, batches)
    assert calls == [] and rep.fallbacks == 0
    assert rep.ranks == ref.ranks
    for info in rep.layers.values():
        assert info["condition"] is None and info["whitened_condition"] >= 1


def test_a_non_symmetric_covariance_is_rejected_by_name():
    C = torch.eye(4, dtype=torch.float64)
    C[3, 0] = 0.5  # the Cholesky path would read it, the fallback would halve it
    with pytest.raises(ValueError, match="covariance must be symmetric"):
        whitening_factor(C)
    rng = np.random.default_rng(5)
    X = torch.as_tensor(rng.standard_normal((50, 6)), dtype=torch.float32)
    G = X.T @ X / 50
    G = G + 1e-7 * float(G.abs().max()) * torch.triu(torch.ones(6, 6), 1)  # rounding-sized
    assert whitening_factor(G).path == "cholesky"


def test_whitening_factor_rejects_bad_input():
    with pytest.raises(ValueError, match="covariance"):
        whitening_factor(torch.ones(3, 4))
    with pytest.raises(ValueError, match="covariance"):
        whitening_factor(torch.tensor([[1.0, float("nan")], [0.0, 1.0]]))
    with pytest.raises(TypeError, match="covariance"):
        whitening_factor(np.eye(3))
    with pytest.raises(ValueError, match="damping"):
        whitening_factor(torch.eye(3), damping=0.0)
    with pytest.raises(ValueError, match="max_condition"):
        whitening_factor(torch.eye(3), max_condition=-1.0)


def _mlp_and_batches():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(12, 24), nn.Tanh(), nn.Linear(24, 16), nn.Tanh(),
                          nn.Linear(16, 5))
    g = torch.Generator().manual_seed(0)
    batches = [(torch.randn(32, 12, generator=g), torch.randint(0, 5, (32,), generator=g))
               for _ in range(4)]
    return model, batches


@pytest.mark.parametrize("method", ["svd-llm", "io-svd"])
def test_report_records_the_path_and_condition_per_layer(method):
    model, batches = _mlp_and_batches()
    _, rep = compress_model(model, method, 0.3, batches)
    for info in rep.layers.values():
        assert info["whitening"] == "cholesky" and info["whitened_condition"] > 1
        assert info["condition"] is None  # not computed on the Cholesky path
        if method == "io-svd":
            assert info["output_whitening"] == "cholesky"
            assert info["output_condition"] is None
    assert rep.fallbacks == 0
    _, plain = compress_model(model, "svd", 0.3)
    assert all(v["whitening"] is None for v in plain.layers.values())


def test_compression_survives_a_failing_cholesky(monkeypatch):
    model, batches = _mlp_and_batches()
    ref_model, ref = compress_model(model, "svd-llm", 0.3, batches)

    def broken(A, **kw):  # a Cholesky that reports failure on every matrix
        return torch.zeros_like(A), torch.tensor(1)

    monkeypatch.setattr(methods.torch.linalg, "cholesky_ex", broken)
    small, rep = compress_model(model, "svd-llm", 0.3, batches)
    assert rep.fallbacks == len(rep.layers)
    assert all(v["whitening"] == "eigh-floor" for v in rep.layers.values())
    assert rep.params_after == ref.params_after
    x = torch.cat([b[0] for b in batches])
    with torch.no_grad():
        target, ours = model(x), small(x)
        plain = compress_model(model, "svd", 0.3)[0](x)
        same = ref_model(x)
    # the truncation depends on L only through L L^T: with a well-conditioned Gram matrix the
    # fallback (nothing floored) and the damped Cholesky give the same layers up to the damping
    assert rep.ranks == ref.ranks
    assert torch.allclose(ours, same, rtol=0, atol=1e-5)
    assert float(((ours - target) ** 2).mean()) < float(((plain - target) ** 2).mean())
    for info in rep.layers.values():  # the fallback computes the exact conditions
        assert info["condition"] is None or (math.isfinite(info["condition"])
                                            and info["condition"] > 1)
        assert math.isfinite(info["whitened_condition"]) and info["whitened_condition"] >= 1
    assert any(info["condition"] is not None for info in rep.layers.values())


def test_a_singular_gram_matrix_is_stored_as_none_in_the_report(monkeypatch):
    model, batches = _mlp_and_batches()
    model[0].weight.data[:4] = 0.0  # dead units: the next layer's input Gram matrix is singular
    model[0].bias.data[:4] = 0.0
    monkeypatch.setattr(methods.torch.linalg, "cholesky_ex",
                        lambda A, **kw: (torch.zeros_like(A), torch.tensor(1)))
    _, rep = compress_model(model, "io-svd", 0.3, batches)
    info = rep.layers["2"]
    assert info["whitening"] == "eigh-floor" and info["condition"] is None
    for v in rep.layers.values():
        assert all(x is None or not isinstance(x, float) or math.isfinite(x) for x in v.values())
