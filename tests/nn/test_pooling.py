"""Set poolings: invariances, oracles, gradients, errors."""

import numpy as np
import ot
import pytest
import torch

from mintlab.nn import (
    POOLINGS,
    ConcatPooling,
    ConstrainedSWEPooling,
    CovariancePooling,
    GeMPooling,
    MaxPooling,
    MeanPooling,
    SortPooling,
    SWEPooling,
    make_pooling,
)
from mintlab.transport import sliced_wasserstein_distance

D = 5


def _batch(seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(3, 9, D, generator=g, dtype=dtype)
    mask = torch.ones(3, 9, dtype=torch.bool)
    mask[1, 6:] = False
    mask[2, 2:] = False
    return x, mask


def _make(name):
    torch.manual_seed(0)
    return make_pooling(name, D).double()


@pytest.mark.parametrize("name", sorted(POOLINGS))
def test_invariant_to_order_and_padding(name):
    pool = _make(name).eval()
    x, mask = _batch()
    out = pool(x, mask)
    assert out.shape == (3, pool.out_features)
    # padded values never matter
    x2 = x.clone()
    x2[~mask] = 50.0
    torch.testing.assert_close(pool(x2, mask), out)
    # the same sets, elements shuffled (padding moves with them)
    perm = torch.randperm(9, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(pool(x[:, perm], mask[:, perm]), out)
    # a set given alone, without padding, pools to the same vector
    torch.testing.assert_close(pool(x[2:3, :2]), out[2:3])


def test_mean_sum_max_cov_oracles():
    x, mask = _batch()
    n1 = int(mask[1].sum())
    torch.testing.assert_close(MeanPooling(D)(x, mask)[1], x[1, :n1].mean(0))
    torch.testing.assert_close(make_pooling("sum", D)(x, mask)[1], x[1, :n1].sum(0))
    torch.testing.assert_close(MaxPooling(D)(x, mask)[1], x[1, :n1].amax(0))
    cov = CovariancePooling(D)(x, mask)[1]
    ref = np.cov(x[1, :n1].numpy().T, bias=True)
    iu = np.triu_indices(D)
    np.testing.assert_allclose(cov[D:].numpy(), ref[iu], atol=1e-12)
    np.testing.assert_allclose(cov[:D].numpy(), x[1, :n1].mean(0).numpy(), atol=1e-12)


def test_gem_limits_and_sort_pooling_special_weights():
    x, mask = _batch()
    x = x.abs() + 0.1
    gem1 = GeMPooling(D, p=1.0).double()
    torch.testing.assert_close(gem1(x, mask), MeanPooling(D)(x, mask))
    gem_big = GeMPooling(D, p=200.0).double()
    torch.testing.assert_close(gem_big(x, mask), MaxPooling(D)(x, mask), rtol=0.05, atol=0.0)
    sp = SortPooling(D, n_pieces=8).double()
    with torch.no_grad():
        sp.weight.fill_(1.0)
    torch.testing.assert_close(sp(x, mask), make_pooling("sum", D)(x, mask))
    with torch.no_grad():  # weight 1 at rank 0 only: with 8 pieces and sets of 2, 6 and 9
        sp.weight.zero_()  # elements, rank 1 sits at or past the first knot, weight 0
        sp.weight[:, 0] = 1.0
    torch.testing.assert_close(sp(x, mask), MaxPooling(D)(x, mask))


def test_swe_pooling_distance_is_sliced_wasserstein():
    g = torch.Generator().manual_seed(3)
    M = 7
    pool = SWEPooling(D, n_slices=6, n_reference=M, seed=0).double()
    A = torch.randn(1, M, D, generator=g, dtype=torch.float64)
    B = torch.randn(1, M, D, generator=g, dtype=torch.float64) + 0.5
    ea, eb = pool(A), pool(B)
    theta = pool.unit_directions().detach()
    sw2 = sliced_wasserstein_distance(A[0], B[0], projections=theta, p=2) ** 2
    torch.testing.assert_close(((ea - eb) ** 2).sum(), sw2.detach())


def test_constrained_swe_costs_bound_and_dual_updates():
    x, mask = _batch(dtype=torch.float32)
    pool = ConstrainedSWEPooling(D, n_slices=3, n_reference=6, slack=0.0, seed=0)
    pool.train()
    pool(x, mask)
    # lifted 1D plans are couplings: never cheaper than the optimal plan
    exact = []
    for b in range(3):
        xb = x[b][mask[b]].double().numpy()
        R = pool.reference.detach().double().numpy()
        exact.append(ot.emd2(np.full(len(xb), 1 / len(xb)), np.full(6, 1 / 6),
                             ot.dist(xb, R)))
    assert pool.bound() == 1.0  # relative constraint, zero slack
    # cost relative to the optimum, per set: recompute from the hard plans
    theta = pool.unit_directions().detach().double()
    R = pool.reference.detach().double()
    rel = []
    for b in range(3):
        xb = x[b][mask[b]].double()
        C = torch.cdist(xb, R) ** 2
        Q = torch.as_tensor(ot.emd(np.full(len(xb), 1 / len(xb)), np.full(6, 1 / 6),
                                   C.numpy()))
        assert float((Q * C).sum()) == pytest.approx(exact[b], rel=1e-9)
        from mintlab.transport.plans import _uniform_monotone

        U = _uniform_monotone(len(xb), 6, torch.float64, "cpu")
        per = [float((U * C[torch.argsort(xb @ theta[:, s])][:, torch.argsort(R @ theta[:, s])]
                      ).sum()) / exact[b] for s in range(3)]
        rel.append(per)
    np.testing.assert_allclose(pool.slice_costs().numpy(), np.mean(rel, 0), rtol=1e-4)
    assert torch.all(pool.slice_costs() >= 1.0 - 1e-5)
    assert float(pool.penalty()) == 0.0  # multipliers start at zero
    pool.dual_step()
    assert torch.all(pool.lambdas > 0)  # every slice violated a zero-slack constraint
    # minimising the penalty alone moves the slices towards the constraint
    opt = torch.optim.Adam(pool.parameters(), lr=0.05)
    first = None
    for _ in range(60):
        pool(x, mask)
        gap = float((pool.slice_costs() - pool.bound()).mean())
        first = gap if first is None else first
        loss = pool.penalty()
        opt.zero_grad()
        loss.backward()
        opt.step()
        pool.dual_step()
    assert gap < first
    pool.eval()
    assert pool(x, mask).shape == (3, pool.out_features)


@pytest.mark.parametrize("name", ["mean", "gem", "sort", "covariance", "pma", "swe", "emperor"])
def test_gradcheck(name):
    pool = _make(name)
    x, mask = _batch()
    x = (x[:2, :5].abs() + 0.2).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: pool(t, mask[:2, :5]), (x,), atol=1e-5)


def test_concat_pooling():
    x, mask = _batch()
    both = make_pooling("mean+max", D)
    assert isinstance(both, ConcatPooling) and both.out_features == 2 * D
    torch.testing.assert_close(both(x, mask), torch.cat([MeanPooling(D)(x, mask),
                                                        MaxPooling(D)(x, mask)], -1))
    with pytest.raises(ValueError, match="same in_features"):
        ConcatPooling(MeanPooling(3), MeanPooling(4))
    with pytest.raises(TypeError, match="SetPooling"):
        ConcatPooling(torch.nn.Linear(3, 3))


@pytest.mark.parametrize(
    "x, mask, exc, match",
    [
        (torch.randn(4, D), None, ValueError, r"shape \(batch, n, d\)"),
        (torch.randn(2, 3, D + 1), None, ValueError, f"{D} features"),
        (np.zeros((2, 3, D)), None, TypeError, "torch tensor"),
        (torch.zeros(2, 3, D, dtype=torch.long), None, TypeError, "floating"),
        (torch.full((2, 3, D), float("nan")), None, ValueError, "finite"),
        (torch.randn(2, 0, D), None, ValueError, "at least one element"),
        (torch.randn(2, 3, D), torch.ones(2, 3), TypeError, "boolean"),
        (torch.randn(2, 3, D), torch.ones(2, 4, dtype=torch.bool), ValueError, "shape"),
        (torch.randn(2, 3, D), torch.tensor([[True] * 3, [False] * 3]), ValueError, "empty"),
    ],
)
def test_bad_inputs(x, mask, exc, match):
    with pytest.raises(exc, match=match):
        MeanPooling(D)(x, mask)


def test_make_pooling_rejects_unknown():
    with pytest.raises(ValueError, match="pooling"):
        make_pooling("median", D)


def test_fspool_is_sort_pooling_after_a_per_element_mlp():
    from mintlab.nn.pooling import FSPool

    x, mask = _batch()
    plain = FSPool(D, n_pieces=6, seed=0).double()
    ref = SortPooling(D, n_pieces=6).double()
    with torch.no_grad():
        ref.weight.copy_(plain.sort.weight)
    torch.testing.assert_close(plain(x, mask), ref(x, mask))
    deep = FSPool(D, out_features=7, width=11, n_pieces=6, seed=0).double()
    assert deep.out_features == 7
    # the oracle: the per-element MLP by hand, then the same sort pooling
    h = deep.encoder(x)
    torch.testing.assert_close(deep(x, mask), deep.sort(h, mask))
    # seeded initialisation: the same seed gives the same module
    again = FSPool(D, out_features=7, width=11, n_pieces=6, seed=0).double()
    torch.testing.assert_close(again(x, mask), deep(x, mask))
    assert "fspool" in POOLINGS and make_pooling("fspool", D).out_features == D


def test_fspool_rejects_a_size_change_without_encoder():
    from mintlab.nn.pooling import FSPool

    with pytest.raises(ValueError, match="out_features must equal in_features"):
        FSPool(D, out_features=D + 1)
    with pytest.raises(ValueError, match="width"):
        FSPool(D, out_features=3, width=0)
