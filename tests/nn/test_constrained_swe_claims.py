"""``constrained-swe``: the batched plan costs against a per-set oracle, and what the
constraint does to held-out plans.

The experiment judges accuracy (constrained vs unconstrained slicers); that
training under the plan constraint brings held-out 1D plans closer to the
optimal plan is tested here.
"""

import numpy as np
import ot
import torch

from mintlab.nn import ConstrainedSWEPooling
from mintlab.transport.plans import _uniform_monotone, soft_sort_matrix


def _loop_costs(pool, x, mask):
    """Per-set soft and hard lifted-plan costs over the optimal cost, one set at a time."""
    theta = pool.unit_directions()
    R = pool.reference @ theta
    soft, hard = [], []
    for b in range(x.shape[0]):
        xb = x[b][mask[b]]
        n, M = xb.shape[0], pool.n_reference
        C = torch.cdist(xb, pool.reference) ** 2
        P = xb @ theta
        Q = _uniform_monotone(n, M, x.dtype, "cpu")
        plans = soft_sort_matrix(P.T, pool.temperature).transpose(1, 2) @ Q @ soft_sort_matrix(
            R.T, pool.temperature)
        opt = ot.emd2(np.full(n, 1 / n), np.full(M, 1 / M), C.detach().numpy())
        soft.append((plans * C).sum((1, 2)) / opt)
        hard.append(torch.stack([(Q * C[torch.argsort(P[:, s])][:, torch.argsort(R[:, s])]).sum()
                                 for s in range(theta.shape[1])]).detach() / opt)
    return torch.stack(soft).mean(0), torch.stack(hard).mean(0)


def test_batched_costs_match_one_set_at_a_time():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 11, 6, generator=g, dtype=torch.float64)
    mask = torch.ones(4, 11, dtype=torch.bool)
    mask[1, 7:] = False
    mask[3, 3:] = False
    pool = ConstrainedSWEPooling(6, n_slices=3, n_reference=5, temperature=0.3, seed=1).double()
    pool.train()
    pool(x, mask)
    soft, hard = _loop_costs(pool, x, mask)
    torch.testing.assert_close(pool._soft, soft)
    torch.testing.assert_close(pool.slice_costs(), hard)
    # gradients of the penalty reach the slices through the soft plans
    pool.lambdas.fill_(1.0)
    grad = torch.autograd.grad(pool.penalty(), pool.directions)[0]
    ref = torch.autograd.grad((soft - pool.bound()).sum(), pool.directions)[0]
    torch.testing.assert_close(grad, ref)


def _sets(n_sets, seed, d=12, n=24):
    g = torch.Generator().manual_seed(seed)
    scales = torch.linspace(2.0, 0.2, d)  # anisotropic: some directions carry the spread
    return torch.randn(n_sets, n, d, generator=g) * scales


def test_constraint_lowers_held_out_plan_cost():
    from mintlab.experiments.constrained_swe import plan_ratios

    train, held_out = _sets(64, 0), _sets(16, 1)
    pool = ConstrainedSWEPooling(12, n_slices=3, n_reference=8, slack=0.0, dual_lr=0.5, seed=0)
    before = plan_ratios(pool, held_out.numpy(), 16)
    opt = torch.optim.Adam([pool.directions], lr=0.05)
    pool.train()
    for step in range(25):
        batch = train[(step * 16) % 64:(step * 16) % 64 + 16]
        pool(batch)
        loss = pool.penalty()
        opt.zero_grad()
        loss.backward()
        opt.step()
        pool.dual_step()
    after = plan_ratios(pool, held_out.numpy(), 16)
    assert after.mean() < before.mean() - 0.01
