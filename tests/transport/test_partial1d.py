"""Partial optimal transport on the line for every p: kernels, mass path, POT's keyword.

Oracles: brute force over all partial matchings (tiny cases), POT's LP
(``ot.partial.partial_wasserstein2``) and our LP wrapper for the penalised form,
POT's 1D solver (``ot.partial.partial_wasserstein_1d``, an independent
implementation) at larger sizes, and the state-pruned dynamic programme kept in
``_partial1d`` (``solve_sorted``), an independent exact kernel.
"""

from __future__ import annotations

import itertools

import numpy as np
import ot
import pytest
import torch

from mintlab.transport import _partial1d as P
from mintlab.transport.exact import partial_wasserstein_lp
from mintlab.transport.line import (
    PartialPath1D,
    partial_wasserstein_1d,
    partial_wasserstein_1d_path,
)

PS = [1.0, 1.5, 2.0, 3.0]


def _brute_costs(x, y, p):
    """Cheapest cost of every number of pairs, by enumerating all partial matchings."""
    n, m = len(x), len(y)
    best = [np.inf] * (min(n, m) + 1)
    for k in range(min(n, m) + 1):
        for xs in itertools.combinations(range(n), k):
            for ys in itertools.permutations(range(m), k):
                c = sum(abs(x[i] - y[j]) ** p for i, j in zip(xs, ys, strict=True))
                best[k] = min(best[k], c)
    return np.array(best)


def _cost_of(x, y, a, p):
    mask = a >= 0
    return float((np.abs(x[mask] - y[a[mask]]) ** p).sum())


def _assert_matching(a, m):
    matched = a[a >= 0]
    assert len(set(matched.tolist())) == len(matched)
    assert matched.size == 0 or (matched.min() >= 0 and matched.max() < m)


def _shifted(rng, n, m, shift):
    x = rng.normal(size=n)
    y = rng.normal(size=m) + shift
    x[: max(1, n // 20)] += 8.0  # far outliers
    return x, y


# ----------------------------------------------------------- brute force
@pytest.mark.parametrize("p", PS)
def test_path_penalised_and_mass_forms_match_brute_force(p):
    rng = np.random.default_rng(int(10 * p))
    for trial in range(40):
        n, m = rng.integers(1, 6, size=2)
        x, y = rng.normal(size=n), rng.normal(size=m) + rng.normal()
        if trial % 3 == 0:  # ties inside and across the two sets
            x, y = np.round(x * 2) / 2, np.round(y * 2) / 2
        brute = _brute_costs(x, y, p)
        path = partial_wasserstein_1d_path(x, y, p=p)
        np.testing.assert_allclose(path.costs, brute, rtol=1e-10, atol=1e-12)
        for k in range(min(n, m) + 1):
            res = partial_wasserstein_1d(x, y, p=p, n_transported=k)
            assert res.transported == k
            assert abs(float(res.cost) - brute[k]) < 1e-10 * max(1.0, brute[k])
            assert abs(_cost_of(x, y, res.assignment, p) - brute[k]) < 1e-10 * max(1.0, brute[k])
            _assert_matching(res.assignment, m)
        lam = float(rng.exponential(1.0))
        pen = partial_wasserstein_1d(x, y, penalty=lam, p=p)
        best = min(brute[k] + lam * (n + m - 2 * k) for k in range(min(n, m) + 1))
        assert abs(float(pen.cost) - best) < 1e-10 * max(1.0, best)


# ------------------------------------------------------------------ LP
@pytest.mark.parametrize("p", PS)
def test_path_matches_lp_for_every_mass(p):
    rng = np.random.default_rng(3 + int(p * 7))
    for trial in range(12):
        n, m = rng.integers(2, 16, size=2)
        x, y = rng.normal(size=n), rng.normal(size=m) * rng.uniform(0.5, 2) + rng.normal()
        if trial % 3 == 0:
            x, y = np.round(x * 2), np.round(y * 2)
        M = np.abs(x[:, None] - y[None, :]) ** p
        path = partial_wasserstein_1d_path(x, y, p=p)
        assert isinstance(path, PartialPath1D)
        assert path.masses.tolist() == list(range(min(n, m) + 1))
        for k in range(1, min(n, m) + 1):
            ref = ot.partial.partial_wasserstein2(np.ones(n), np.ones(m), M, m=k)
            assert abs(path.costs[k] - ref) < 1e-8 * max(1.0, ref), (trial, k)
            a = path.assignment(k)
            _assert_matching(a, m)
            assert (a >= 0).sum() == k
            assert abs(_cost_of(x, y, a, p) - ref) < 1e-8 * max(1.0, ref)
        # convexity: the marginal costs do not decrease
        assert np.all(np.diff(path.marginal_costs) >= -1e-9)


@pytest.mark.parametrize("p", [1.5, 2.0])
def test_penalty_intervals_agree_with_the_penalised_lp(p):
    rng = np.random.default_rng(21)
    for _ in range(8):
        n, m = rng.integers(3, 14, size=2)
        x, y = rng.normal(size=n), rng.normal(size=m) + 0.7
        M = np.abs(x[:, None] - y[None, :]) ** p
        path = partial_wasserstein_1d_path(x, y, p=p)
        for k in range(min(n, m) + 1):
            lam = path.penalty_for_mass(k)
            assert path.penalty_lower[k] <= lam <= path.penalty_upper[k]
            lp = partial_wasserstein_lp(np.ones(n), np.ones(m), M, lam)
            # at this penalty the k-pair optimum is optimal for the penalised problem
            assert abs(float(lp.cost) - (path.costs[k] + lam * (n + m - 2 * k))) < 1e-8
            assert abs(path.cost_for_penalty(lam) - float(lp.cost)) < 1e-8
            ours = partial_wasserstein_1d(x, y, penalty=lam, p=p)
            assert int(ours.transported) == path.mass_for_penalty(lam) == k
        for lam in rng.exponential(1.0, size=5):
            ours = partial_wasserstein_1d(x, y, penalty=float(lam), p=p)
            assert int(ours.transported) == path.mass_for_penalty(lam)
            assert abs(float(ours.cost) - path.cost_for_penalty(lam)) < 1e-9


# ----------------------------------------------- larger sizes: FFT sums
def test_fft_diagonal_sums_equal_direct_sums():
    rng = np.random.default_rng(0)
    x, y = (np.sort(a) for a in _shifted(rng, 3000, 2600, 2.0))
    N = len(x) + len(y)
    is_x = np.empty(N, bool)
    ic, jc = np.empty(N + 1, np.int64), np.empty(N + 1, np.int64)
    P.merged_corners(x, y, is_x, ic, jc)
    # the data is in the regime where the solver chooses the FFT sums
    assert P.chord_area(ic, jc, len(y)) > 24 * N * int(np.log2(N))
    assert P._fft_is_accurate(x, y)[0]
    fast = P.diag_prefix_p2(x - 1.0, y - 1.0, ic, jc)
    slow, slow_lo = np.empty(N + 1), np.empty(N + 1)
    P.diag_prefix_direct(x, y, ic, jc, 2.0, slow, slow_lo)
    slow += slow_lo
    # runs between consecutive corners of a level: the only differences the solvers use
    last, worst, scale = {}, 0.0, 0.0
    for t in range(N + 1):
        d = ic[t] - jc[t]
        if d in last:
            s = last[d]
            worst = max(worst, abs((fast[t] - fast[s]) - (slow[t] - slow[s])))
            scale = max(scale, abs(slow[t] - slow[s]))
        last[d] = t
    assert worst < 1e-11 * scale


def test_p2_penalised_agrees_with_state_pruned_programme_on_shifted_data():
    rng = np.random.default_rng(1)
    for shift, lam in [(0.5, 0.7), (2.0, 3.0), (0.1, 0.05)]:
        x, y = (np.sort(a) for a in _shifted(rng, 1500, 1400, shift))
        a, b = np.empty(len(x), np.int64), np.empty(len(x), np.int64)
        ka = P.solve_one(x, y, lam, 2.0, a)
        kb = P.solve_sorted(x, y, lam, 2.0, b)

        def total(mt, k, x=x, y=y, lam=lam):
            return _cost_of(x, y, mt, 2.0) + lam * (len(x) + len(y) - 2 * k)

        assert abs(total(a, ka) - total(b, kb)) < 1e-9 * total(b, kb)
        assert ka == kb
        _assert_matching(a, len(y))


@pytest.mark.parametrize("far", [1e3, 1e6])
def test_far_outliers_keep_the_solution_exact(far):
    # FFT sums would be too coarse next to the bulk's spread: the runs are summed
    # directly, and double-length prefix sums keep cheap runs exact after costly ones
    rng = np.random.default_rng(13)
    x, y = rng.normal(size=1500), rng.normal(size=1400) + 0.5
    x[:75] += far
    y[:30] -= far
    xs, ys = np.sort(x), np.sort(y)
    assert not P._fft_is_accurate(xs, ys)[0]
    for lam in [0.05, 0.7]:
        a, b = np.empty(1500, np.int64), np.empty(1500, np.int64)
        ka = P.solve_one(xs, ys, lam, 2.0, a)
        kb = P.solve_sorted(xs, ys, lam, 2.0, b)

        def total(mt, k, lam=lam):
            return _cost_of(xs, ys, mt, 2.0) + lam * (2900 - 2 * k)

        assert abs(total(a, ka) - total(b, kb)) < 1e-12 * total(b, kb)
    path = partial_wasserstein_1d_path(x, y, p=2)
    for k in [10, 700, 1390, 1400]:
        cost = _cost_of(x, y, path.assignment(k), 2)
        res = partial_wasserstein_1d(x, y, p=2, n_transported=k)
        assert abs(float(res.cost) - cost) <= 1e-12 * cost
        assert abs(path.costs[k] - cost) <= 1e-9 * cost
    # cheap masses, far below the outliers' scale (where the LP solvers lose digits): at a
    # penalty making k pairs optimal, the independent state-pruned programme agrees
    for k in [100, 700]:
        lam = path.penalty_for_mass(k)
        b = np.empty(1500, np.int64)
        kb = P.solve_sorted(xs, ys, lam, 2.0, b)
        ref = _cost_of(xs, ys, b, 2.0) + lam * (2900 - 2 * kb)
        ours = path.costs[k] + lam * (2900 - 2 * k)
        assert abs(ours - ref) < 1e-10 * ref


@pytest.mark.parametrize("p", [2.0, 3.0])
def test_mass_form_matches_pot_1d_at_scale(p):
    rng = np.random.default_rng(6)
    x, y = _shifted(rng, 1500, 1300, 0.5)
    path = partial_wasserstein_1d_path(x, y, p=p)
    ind_x, ind_y, marginal = ot.partial.partial_wasserstein_1d(x, y, p=p)
    ref = np.concatenate(([0.0], np.cumsum(marginal)))
    np.testing.assert_allclose(path.costs, ref, rtol=1e-9, atol=1e-9)
    for k in [1, 200, 1000, 1300]:
        res = partial_wasserstein_1d(x, y, p=p, n_transported_samples=k)
        assert res.transported == k
        assert abs(float(res.cost) - ref[k]) < 1e-9 * ref[k]
        # continuous data: the matched sets are unique
        assert set(path.u_indices[:k].tolist()) == set(ind_x[:k].tolist())
        assert set(path.v_indices[:k].tolist()) == set(ind_y[:k].tolist())
        # the returned penalty makes the matching optimal for the penalised form
        pen = partial_wasserstein_1d(x, y, penalty=float(res.penalty), p=p)
        assert int(pen.transported) == k
        assert abs(float(pen.transport_cost) - ref[k]) < 1e-9 * ref[k]


def test_pot_1d_solver_truncates_fractional_p_and_ours_follows_the_lp():
    # POT 0.9.7's ot.partial.partial_wasserstein_1d with p = 1.5 returns the p = 1
    # marginal costs (the exponent is truncated to an integer): the LP is the reference
    rng = np.random.default_rng(8)
    x, y = rng.normal(size=30), rng.normal(size=26) + 0.5
    _, _, pot_15 = ot.partial.partial_wasserstein_1d(x, y, p=1.5)
    _, _, pot_1 = ot.partial.partial_wasserstein_1d(x, y, p=1)
    np.testing.assert_allclose(pot_15, pot_1)
    M = np.abs(x[:, None] - y[None, :]) ** 1.5
    path = partial_wasserstein_1d_path(x, y, p=1.5)
    for k in [1, 13, 26]:
        lp = ot.partial.partial_wasserstein2(np.ones(30), np.ones(26), M, m=k)
        assert abs(path.costs[k] - lp) < 1e-9 * max(1.0, lp)
        assert abs(np.sum(pot_15[:k]) - lp) > 1e-3 * lp


def test_solve_batch_interface_mixes_direct_and_fft_rows():
    rng = np.random.default_rng(2)
    xs = np.sort(rng.normal(size=(4, 1500)), axis=1)
    ys = np.sort(rng.normal(size=(4, 1400)), axis=1)
    ys[1] += 3.0  # long runs: this row takes the FFT sums
    ys[3] += 0.3
    ys = np.sort(ys, axis=1)
    lams = np.array([0.2, 5.0, 1.0, 0.01])
    for p in [2.0, 1.5]:
        match, counts = np.empty((4, 1500), np.int64), np.empty(4, np.int64)
        P.solve_batch(xs, ys, lams, p, match, counts)
        for b in range(4):
            ref = np.empty(1500, np.int64)
            kr = P.solve_sorted(xs[b], ys[b], lams[b], p, ref)

            def total(mt, k, b=b, p=p):
                return _cost_of(xs[b], ys[b], mt, p) + lams[b] * (2900 - 2 * k)

            assert abs(total(match[b], counts[b]) - total(ref, kr)) < 1e-9 * total(ref, kr)


@pytest.mark.parametrize("p", [1.0, 2.0, 1.5])
def test_batched_mass_form_equals_rows_and_pot(p):
    rng = np.random.default_rng(12)
    x, y = rng.normal(size=(4, 1200)), rng.normal(size=(4, 1100))
    y[1] += 3.0  # this row's direct sums are expensive: FFT (p = 2) or direct per row
    y[2, :50] -= 9.0
    res = partial_wasserstein_1d(x, y, p=p, n_transported=900)
    assert res.transported.tolist() == [900] * 4
    for b in range(4):
        row = partial_wasserstein_1d(x[b], y[b], p=p, n_transported=900)
        assert abs(float(row.cost) - res.cost[b]) < 1e-9 * float(row.cost)
        _, _, marginal = ot.partial.partial_wasserstein_1d(x[b], y[b], 900, p=int(p))
        if p != 1.5:
            assert abs(res.cost[b] - np.sum(marginal)) < 1e-9 * np.sum(marginal)
        # the penalty returned with each row makes its matching optimal there too
        pen = partial_wasserstein_1d(x[b], y[b], penalty=float(res.penalty[b]), p=p)
        assert int(pen.transported) == 900
        assert abs(float(pen.transport_cost) - res.cost[b]) < 1e-9 * res.cost[b]


# ------------------------------------------------------ API and inputs
def test_n_transported_samples_is_an_alias():
    rng = np.random.default_rng(9)
    x, y = rng.normal(size=30), rng.normal(size=25)
    a = partial_wasserstein_1d(x, y, p=2, n_transported=7)
    b = partial_wasserstein_1d(x, y, p=2, n_transported_samples=7)
    assert float(a.cost) == float(b.cost)
    np.testing.assert_array_equal(a.assignment, b.assignment)
    # the third positional argument stays the penalty
    c = partial_wasserstein_1d(x, y, 7.0)
    assert float(c.penalty) == 7.0 and int(c.transported) == 25
    with pytest.raises(ValueError, match="n_transported or its alias n_transported_samples"):
        partial_wasserstein_1d(x, y, n_transported=3, n_transported_samples=3)
    with pytest.raises(ValueError, match="exactly one of penalty and n_transported"):
        partial_wasserstein_1d(x, y, 1.0, n_transported_samples=3)
    with pytest.raises(ValueError, match=r"n_transported must be <= min\(n, m\) = 25"):
        partial_wasserstein_1d(x, y, n_transported_samples=26)


def test_path_torch_input_and_assignment():
    x = torch.tensor([3.0, 0.0, 1.0, 10.0], dtype=torch.float32)
    y = torch.tensor([1.2, 0.1], dtype=torch.float32)
    path = partial_wasserstein_1d_path(x, y)
    assert isinstance(path.costs, torch.Tensor) and path.costs.dtype == torch.float32
    assert path.u_indices.dtype == torch.int64
    torch.testing.assert_close(path.costs, torch.tensor([0.0, 0.01, 0.05]), atol=1e-6, rtol=0)
    a = path.assignment(2)
    assert isinstance(a, torch.Tensor) and a.tolist() == [-1, 1, 0, -1]
    assert path.assignment(1).tolist() == [-1, 1, -1, -1]
    assert path.mass_for_penalty(0.001) == 0 and path.mass_for_penalty(100.0) == 2


def test_path_is_permutation_invariant_and_symmetric():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=40), rng.normal(size=33) + 0.4
    base = partial_wasserstein_1d_path(x, y, p=2)
    perm = partial_wasserstein_1d_path(x[::-1].copy(), rng.permutation(y), p=2)
    swap = partial_wasserstein_1d_path(y, x, p=2)
    np.testing.assert_allclose(perm.costs, base.costs, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(swap.costs, base.costs, rtol=1e-12, atol=1e-12)
    # full mass: the monotone coupling of the 33 points matched
    assert abs(base.costs[-1] - _cost_of(x, y, base.assignment(33), 2)) < 1e-10


@pytest.mark.parametrize(
    "args, kwargs, exc, match",
    [
        ((np.zeros((2, 3)), np.ones(3)), {}, ValueError, "must be 1D"),
        ((np.zeros(3), np.ones(3)), {"p": 0.5}, ValueError, "p must be >= 1"),
        ((np.zeros(3), np.array([1.0, np.nan])), {}, ValueError, "v_values"),
    ],
)
def test_path_bad_arguments(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        partial_wasserstein_1d_path(*args, **kwargs)


def test_path_methods_reject_bad_arguments():
    path = partial_wasserstein_1d_path(np.zeros(4), np.ones(3))
    with pytest.raises(ValueError, match=r"k must be <= min\(n, m\) = 3"):
        path.penalty_for_mass(4)
    with pytest.raises(TypeError, match="k must be an integer"):
        path.assignment(1.5)
    with pytest.raises(ValueError, match="penalty must be non-negative"):
        path.mass_for_penalty(-1.0)
