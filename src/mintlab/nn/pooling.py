"""Permutation-invariant global pooling of sets: ``(batch, n, d)`` + mask -> ``(batch, k)``.

Papers: ``backbone-vs-pooling`` (the pooling zoo and pairwise combinations),
``constrained-swe`` (sliced-Wasserstein embedding pooling whose slicers are
trained under a transport-plan constraint), ``emperor`` (sliced Gaussian
mixture moments), ``slosh`` (the sliced-Wasserstein embedding itself).

Every pooling is an ``nn.Module`` built with ``in_features`` (``d``) that
exposes ``out_features`` (``k``) and is called as ``pool(x, mask=None)``
where ``mask`` is boolean ``(batch, n)``, ``True`` at real elements. Padded
elements never change the output (tested), and the output does not depend
on the order of the elements.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from .._random import make_generator
from .._validation import check_choice, check_int, check_nonnegative, check_positive
from ..embed._checks import check_bool, check_seed, no_global_draws
from ..transport.plans import _soft_sort_kernel, _uniform_monotone
from ..typing import SeedLike
from ._common import check_set, masked_weights

__all__ = [
    "SetPooling",
    "MeanPooling",
    "SumPooling",
    "MaxPooling",
    "GeMPooling",
    "SortPooling",
    "FSPool",
    "CovariancePooling",
    "AttentionPooling",
    "SWEPooling",
    "ConstrainedSWEPooling",
    "EMPERORPooling",
    "ConcatPooling",
    "POOLINGS",
    "make_pooling",
]


class SetPooling(nn.Module):
    """Base class: checks the input and holds ``in_features`` / ``out_features``."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.in_features = check_int(in_features, "in_features", minimum=1)
        self.out_features = check_int(out_features, "out_features", minimum=1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        mask = check_set(x, mask, self.in_features)
        return self._pool(x, mask)

    def _pool(self, x, mask):  # pragma: no cover - abstract
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"


class MeanPooling(SetPooling):
    """Average over the real elements."""

    def __init__(self, in_features: int) -> None:
        super().__init__(in_features, in_features)

    def _pool(self, x, mask):
        return torch.einsum("bn,bnd->bd", masked_weights(x, mask), x)


class SumPooling(SetPooling):
    """Sum over the real elements (DeepSets' original pooling)."""

    def __init__(self, in_features: int) -> None:
        super().__init__(in_features, in_features)

    def _pool(self, x, mask):
        return x.sum(1) if mask is None else (x * mask.unsqueeze(-1)).sum(1)


class MaxPooling(SetPooling):
    """Feature-wise maximum over the real elements (PointNet's pooling)."""

    def __init__(self, in_features: int) -> None:
        super().__init__(in_features, in_features)

    def _pool(self, x, mask):
        if mask is not None:
            x = x.masked_fill(~mask.unsqueeze(-1), float("-inf"))
        return x.amax(1)


class GeMPooling(SetPooling):
    """Generalised mean ``(mean_i max(x_i, eps)^p)^(1/p)`` with a learnable ``p``.

    ``p = 1`` is mean pooling and ``p -> inf`` max pooling; meant for
    non-negative (post-ReLU) features, smaller values are clamped to ``eps``.
    """

    def __init__(self, in_features: int, p: float = 3.0, eps: float = 1e-6,
                 learn_p: bool = True) -> None:
        super().__init__(in_features, in_features)
        p = check_positive(p, "p")
        self.eps = check_positive(eps, "eps")
        self.p = nn.Parameter(torch.tensor(float(p)), requires_grad=check_bool(learn_p, "learn_p"))

    def _pool(self, x, mask):
        p = self.p.clamp(min=1.0)
        m = torch.einsum("bn,bnd->bd", masked_weights(x, mask), x.clamp(min=self.eps).pow(p))
        return m.pow(1.0 / p)


class SortPooling(SetPooling):
    """FSPool-style pooling: sort every feature over the set, weight by relative rank.

    Each feature ``c`` is sorted in decreasing order over the ``n_b`` real
    elements and summed with weights ``w_c(r)``, ``r = rank / (n_b - 1)`` in
    ``[0, 1]``, a learnable piecewise-linear function with ``n_pieces``
    pieces, so sets of any size share the weights.
    """

    def __init__(self, in_features: int, n_pieces: int = 20) -> None:
        super().__init__(in_features, in_features)
        self.n_pieces = check_int(n_pieces, "n_pieces", minimum=1)
        self.weight = nn.Parameter(torch.randn(in_features, self.n_pieces + 1) / math.sqrt(2.0))

    def _pool(self, x, mask):
        B, n, _ = x.shape
        if mask is None:
            counts = torch.full((B,), n, device=x.device)
            xs = torch.sort(x, dim=1, descending=True).values
        else:
            counts = mask.sum(1)
            xs = torch.sort(x.masked_fill(~mask.unsqueeze(-1), float("-inf")), dim=1,
                            descending=True).values
            xs = torch.where(torch.isinf(xs), torch.zeros_like(xs), xs)
        ranks = torch.arange(n, device=x.device, dtype=x.dtype).unsqueeze(0)
        r = ranks / (counts.unsqueeze(1) - 1).clamp(min=1).to(x.dtype)  # (B, n)
        pos = r.clamp(0, 1) * self.n_pieces
        i0 = pos.floor().long().clamp(max=self.n_pieces - 1)
        frac = (pos - i0.to(x.dtype)).unsqueeze(-1)  # (B, n, 1)
        w = self.weight.T  # (K + 1, d)
        wr = (1 - frac) * w[i0] + frac * w[i0 + 1]  # (B, n, d)
        valid = (ranks < counts.unsqueeze(1)).unsqueeze(-1).to(x.dtype)
        return (wr * xs * valid).sum(1)


class FSPool(SetPooling):
    """Featurewise sort pooling (FSPool, Zhang, Hare and Prügel-Bennett 2020), learned.

    Every element first goes through a learned per-element encoder
    (``Linear(d, width) - ReLU - Linear(width, out_features)``; none when
    ``width`` is ``None``, then ``out_features`` must equal ``in_features``),
    then each output feature is sorted over the set and summed with learned
    weights that are a piecewise-linear function of the relative rank (the
    :class:`SortPooling` weights, so sets of any size share them).
    Output: ``out_features`` values per set.

    Parameters
    ----------
    in_features : int
    out_features : int, optional
        Default ``in_features``.
    width : int or None, default None
        Hidden width of the per-element encoder; ``None``: no encoder.
    n_pieces : int, default 20
    seed : int, optional
        Seeds the initial weights (``None``: a fresh seed from the operating system).

    Examples
    --------
    >>> pool = FSPool(2, out_features=8, width=16, seed=0)
    >>> pool(torch.randn(3, 10, 2)).shape
    torch.Size([3, 8])
    """

    def __init__(self, in_features: int, out_features: int | None = None,
                 width: int | None = None, n_pieces: int = 20, seed: SeedLike = None) -> None:
        d = check_int(in_features, "in_features", minimum=1)
        check_seed(seed)
        k = d if out_features is None else check_int(out_features, "out_features", minimum=1)
        if width is None and k != d:
            raise ValueError(f"out_features must equal in_features ({d}) when width is None "
                             f"(no per-element encoder), got {k}")
        super().__init__(d, k)
        self.width = None if width is None else check_int(width, "width", minimum=1)
        g = make_generator(seed)
        self.encoder: nn.Module
        if self.width is None:
            self.encoder = nn.Identity()
        else:
            with no_global_draws():  # redrawn from seed below
                first, second = nn.Linear(d, self.width), nn.Linear(self.width, k)
            with torch.no_grad():
                for lin in (first, second):
                    bound = 1.0 / math.sqrt(lin.in_features)
                    lin.weight.copy_((torch.rand(lin.weight.shape, generator=g) * 2 - 1) * bound)
                    lin.bias.copy_((torch.rand(lin.bias.shape, generator=g) * 2 - 1) * bound)
            self.encoder = nn.Sequential(first, nn.ReLU(), second)
        with no_global_draws():  # redrawn from seed below
            self.sort = SortPooling(k, n_pieces)
        with torch.no_grad():
            self.sort.weight.copy_(torch.randn(self.sort.weight.shape, generator=g)
                                   / math.sqrt(2.0))

    def _pool(self, x, mask):
        return self.sort._pool(self.encoder(x), mask)


class CovariancePooling(SetPooling):
    """Mean and the upper triangle of the covariance over the set: ``d + d (d + 1) / 2``."""

    def __init__(self, in_features: int, with_mean: bool = True) -> None:
        d = check_int(in_features, "in_features", minimum=1)
        super().__init__(d, (d if with_mean else 0) + d * (d + 1) // 2)
        self.with_mean = check_bool(with_mean, "with_mean")
        iu = torch.triu_indices(d, d)
        self.register_buffer("_iu", iu, persistent=False)

    def _pool(self, x, mask):
        w = masked_weights(x, mask)
        mean = torch.einsum("bn,bnd->bd", w, x)
        xc = x - mean.unsqueeze(1)
        cov = torch.einsum("bn,bnd,bne->bde", w, xc, xc)
        tri = cov[:, self._iu[0], self._iu[1]]
        return torch.cat([mean, tri], -1) if self.with_mean else tri


class AttentionPooling(SetPooling):
    """Pooling by multihead attention (PMA, Set Transformer): ``k`` learned seeds attend to the set.

    Output: the ``k`` seed outputs concatenated, ``k * d``. ``n_heads``
    defaults to the largest of 4, 2, 1 that divides ``d``.
    """

    def __init__(self, in_features: int, n_seeds: int = 1, n_heads: int | None = None) -> None:
        from .sets import MultiheadAttentionBlock

        k = check_int(n_seeds, "n_seeds", minimum=1)
        super().__init__(in_features, k * in_features)
        if n_heads is None:
            n_heads = next(h for h in (4, 2, 1) if in_features % h == 0)
        self.seeds = nn.Parameter(torch.randn(1, k, in_features) / math.sqrt(in_features))
        self.block = MultiheadAttentionBlock(in_features, n_heads)

    def _pool(self, x, mask):
        out = self.block._attend(self.seeds.expand(x.shape[0], -1, -1), x, mask)
        return out.reshape(x.shape[0], -1)


def _masked_quantiles(P, mask, levels):
    """Linearly interpolated quantiles of every column of ``P`` (B, n, L) over real rows.

    Returns (B, M, L) at ``levels`` (M,); the order statistic ``i`` sits at
    level ``(i + 1/2) / n_b``.
    """
    B, n, _ = P.shape
    if mask is None:
        ps = torch.sort(P, dim=1).values
        counts = torch.full((B, 1, 1), n, device=P.device, dtype=P.dtype)
    else:
        fill = P.detach().abs().amax() + 1.0
        ps = torch.sort(torch.where(mask.unsqueeze(-1), P, fill), dim=1).values
        counts = mask.sum(1).to(P.dtype).view(B, 1, 1)
    u = (levels.view(1, -1, 1) * counts - 0.5).clamp(min=0)
    u = torch.minimum(u, counts - 1)
    i0 = u.floor()
    frac = u - i0
    i0 = i0.long()
    i1 = torch.minimum(i0 + 1, (counts - 1).long())
    L = P.shape[2]
    i0 = i0.expand(B, -1, L)
    i1 = i1.expand(B, -1, L)
    return (1 - frac) * torch.gather(ps, 1, i0) + frac * torch.gather(ps, 1, i1)


class SWEPooling(SetPooling):
    """Sliced-Wasserstein embedding pooling with learnable slicers and reference.

    The set and a learnable reference of ``n_reference`` points are projected
    on ``n_slices`` unit directions; on every slice the set's quantile
    function is sampled at the reference's ``M`` levels and the reference's
    sorted projections are subtracted (the 1D Monge map from the reference,
    displaced). Output ``n_slices * M`` values divided by ``sqrt(L M)``, so
    the Euclidean distance between two outputs is the sliced 2-Wasserstein
    distance along these slices (exactly, for sets of ``M`` points).

    Parameters
    ----------
    in_features : int
    n_slices : int, default 16
    n_reference : int, default 16
    learn_slices, learn_reference : bool, default True
        ``False`` keeps the initial random directions / reference fixed.
    seed : int, optional
        Seeds the initial directions (orthonormal frames when
        ``n_slices <= in_features``) and reference (standard normal).
    """

    def __init__(self, in_features: int, n_slices: int = 16, n_reference: int = 16,
                 learn_slices: bool = True, learn_reference: bool = True,
                 seed: SeedLike = None) -> None:
        L = check_int(n_slices, "n_slices", minimum=1)
        M = check_int(n_reference, "n_reference", minimum=1)
        learn_slices = check_bool(learn_slices, "learn_slices")
        learn_reference = check_bool(learn_reference, "learn_reference")
        super().__init__(in_features, L * M)
        self.n_slices, self.n_reference = L, M
        g = make_generator(seed)
        theta = torch.randn(in_features, L, generator=g, dtype=torch.float64)
        if L <= in_features:
            theta = torch.linalg.qr(theta).Q
        theta = (theta / theta.norm(dim=0, keepdim=True)).float()
        self.directions = nn.Parameter(theta, requires_grad=learn_slices)
        ref = torch.randn(M, in_features, generator=g, dtype=torch.float64).float()
        self.reference = nn.Parameter(ref, requires_grad=learn_reference)
        self.register_buffer("levels", (torch.arange(M, dtype=torch.float32) + 0.5) / M,
                             persistent=False)

    def unit_directions(self) -> torch.Tensor:
        """The slicing directions, normalised to unit length: (d, L)."""
        return self.directions / self.directions.norm(dim=0, keepdim=True).clamp_min(1e-12)

    def _slices(self, x, mask):
        theta = self.unit_directions().to(x.dtype)
        P = x @ theta  # (B, n, L)
        q = _masked_quantiles(P, mask, self.levels.to(x.dtype))  # (B, M, L)
        r = torch.sort(self.reference.to(x.dtype) @ theta, dim=0).values  # (M, L)
        return P, q, r, theta

    def _pool(self, x, mask):
        _, q, r, _ = self._slices(x, mask)
        emb = (q - r.unsqueeze(0)).transpose(1, 2)  # (B, L, M)
        return emb.reshape(x.shape[0], -1) / math.sqrt(self.n_slices * self.n_reference)


class ConstrainedSWEPooling(SWEPooling):
    r"""SWE pooling with slicers trained under a transport-plan constraint (``constrained-swe``).

    For every slice ``l`` the (soft-sorted) 1D plan between each set and the
    reference, lifted to the points, has a cost :math:`c_l` in the original
    space; it is never below the optimal transport cost and equals it when the
    slice orders the points as the optimal plan does. Training solves

    .. math:: \min_{\text{model}} \ \text{loss} \quad \text{s.t.} \quad
              \bar c_l \le \varepsilon_l \quad (l = 1..L)

    by a primal-dual method: the model minimises
    ``loss + sum_l lambda_l (c_l - eps_l)`` (:meth:`penalty`, soft plans, so
    the slicers get gradients) and :meth:`dual_step` raises ``lambda_l`` by
    ``dual_lr * (hard c_l - eps_l)``, clipped at zero.

    ``constraint="relative"`` (default) measures ``c_l`` per set relative to
    the exact optimal transport cost between the set and the reference (POT's
    ``emd``; differentiated with its plan held fixed, the envelope theorem)
    and asks ``mean c_l / OT <= 1 + slack``: 1D plans within ``slack`` of the
    full plan, a unitless constraint whose multipliers do not depend on the
    features' scale. ``"absolute"`` uses
    ``epsilon`` as given, as in the authors' code.

    Usage::

        pool = ConstrainedSWEPooling(d, n_slices=4)
        for xb, yb, mb in loader:
            loss = criterion(head(pool(backbone(xb), mb)), yb) + pool.penalty()
            loss.backward(); opt.step(); opt.zero_grad()
            pool.dual_step()

    Slice outputs are weighted by ``softmax(-lambda / tau)`` times ``L``, so
    slices that violate their constraint count less, as in the paper.
    """

    lambdas: torch.Tensor  # the multipliers, a buffer (n_slices,)

    def __init__(self, in_features: int, n_slices: int = 4, n_reference: int = 16,
                 constraint: str = "relative", slack: float = 0.1, epsilon: float = 1.0,
                 dual_lr: float = 0.1, temperature: float = 0.1, tau: float = 1.0,
                 seed: SeedLike = None) -> None:
        super().__init__(in_features, n_slices, n_reference, seed=seed)
        self.constraint = check_choice(constraint, "constraint", ("relative", "absolute"))
        self.slack = check_nonnegative(slack, "slack")
        self.epsilon = check_nonnegative(epsilon, "epsilon")
        self.dual_lr = check_nonnegative(dual_lr, "dual_lr")
        self.temperature = check_positive(temperature, "temperature")
        self.tau = check_positive(tau, "tau")
        self.register_buffer("lambdas", torch.zeros(n_slices))
        self._soft = None
        self._hard = None
        self._bound = None

    def _pool(self, x, mask):
        P, q, r, theta = self._slices(x, mask)
        emb = (q - r.unsqueeze(0)).transpose(1, 2)  # (B, L, M)
        w = torch.softmax(-self.lambdas.to(x.dtype) / self.tau, 0) * self.n_slices
        out = (emb * w.view(1, -1, 1)).reshape(x.shape[0], -1)
        if self.training and torch.is_grad_enabled():
            self._record_costs(x, mask, P, theta)
        return out / math.sqrt(self.n_slices * self.n_reference)

    def _record_costs(self, x, mask, P, theta):
        """Per-slice lifted-plan costs (soft for the penalty, hard for the dual step).

        Batched over sets and slices: soft-sorted set ranks (padding never
        selected) -> the monotone coupling of the set's ``n_b`` ranks and the
        reference's ``M`` ranks -> soft-sorted reference points.
        """
        B, n, _ = x.shape
        M = self.n_reference
        ref = self.reference.to(x.dtype)
        R = ref @ theta  # (M, L)
        C = torch.cdist(x, ref.unsqueeze(0).expand(B, -1, -1)) ** 2  # (B, n, M)
        if mask is None:
            counts = torch.full((B,), n, dtype=x.dtype, device=x.device)
            pad = None
        else:
            counts = mask.sum(1).to(x.dtype)
            pad = ~mask.unsqueeze(1)  # (B, 1, n), True at padding
            C = C * mask.unsqueeze(-1).to(x.dtype)
        # monotone coupling of uniform on the first n_b of n ranks and on M ranks: (B, n, M)
        Q = _uniform_monotone(M, n, x.dtype, x.device, counts=counts.view(B, 1, 1))
        Q = Q.transpose(1, 2)
        # the forward pass checked its inputs: the unchecked kernel avoids a sync per call
        Pv = P.transpose(1, 2)
        if pad is not None:  # padding sorts last (as soft_sort_matrix(pad=...) does)
            Pv = Pv.masked_fill(pad, Pv.detach().abs().amax() + 1.0)
        Ss = _soft_sort_kernel(Pv, float(self.temperature), pad)  # (B, L, n, n)
        Sr = _soft_sort_kernel(R.T, float(self.temperature))  # (L, M, M)
        # soft lifted plan of slice l: Ss^T Q Sr, (B, L, n, M); its cost against C
        plans = Ss.transpose(-1, -2) @ Q.unsqueeze(1) @ Sr.unsqueeze(0)
        soft = (plans * C.unsqueeze(1)).sum((-1, -2))  # (B, L)
        with torch.no_grad():
            Pd = P.detach()
            if mask is not None:
                Pd = Pd.masked_fill(~mask.unsqueeze(-1), float("inf"))  # padding ranks last
            oi = torch.argsort(Pd, 1).transpose(1, 2)  # (B, L, n): rank -> point
            orr = torch.argsort(R.detach(), 0).T  # (L, M)
            # hard plan cost: sum over rank pairs of Q[i, k] C[order_x[i], order_r[k]]
            rows = torch.gather(C.detach().unsqueeze(1).expand(B, oi.shape[1], n, M), 2,
                                oi.unsqueeze(-1).expand(-1, -1, -1, M))  # (B, L, n, M)
            gathered = torch.gather(rows, 3, orr.view(1, -1, 1, M).expand(B, -1, n, -1))
            hard = (Q.unsqueeze(1) * gathered).sum((-1, -2))
        if self.constraint == "relative":
            import ot

            wx = masked_weights(x, mask).detach().double().cpu().numpy()
            Cn = C.detach().double().cpu().numpy()
            b_ref = np.full(M, 1.0 / M)
            G = np.zeros((B, n, M))
            for b in range(B):
                keep = wx[b] > 0
                a = wx[b][keep]
                G[b][keep] = ot.emd(a / a.sum(), b_ref, Cn[b][keep])
            # the optimal cost with its plan held fixed: its gradient is the optimal
            # cost's gradient (envelope theorem), so moving the reference or the
            # features cannot meet the constraint by lowering both sides
            bound = (torch.as_tensor(G, dtype=C.dtype, device=C.device) * C).sum((1, 2))
            # unitless: each slice's plan cost over the optimal cost, per set
            opt = bound.unsqueeze(1).clamp_min(1e-12)
            self._soft = (soft / opt).mean(0)
            self._hard = (hard / opt.detach()).mean(0)
            self._bound = 1.0 + self.slack
        else:
            self._soft = soft.mean(0)
            self._hard = hard.mean(0)
            self._bound = self.epsilon

    def slice_costs(self) -> torch.Tensor | None:
        """Mean hard lifted-plan cost per slice from the last training forward pass
        (relative to the optimal cost with ``constraint="relative"``)."""
        return self._hard

    def bound(self) -> float | None:
        """The constraint level ``eps`` used at the last training forward pass."""
        return self._bound

    def penalty(self) -> torch.Tensor:
        """``sum_l lambda_l (soft c_l - eps)`` from the last training forward pass (0 if none)."""
        if self._soft is None:
            return self.lambdas.new_zeros(())
        lam = self.lambdas.to(self._soft.dtype)
        return (lam * (self._soft - self._bound)).sum()

    @torch.no_grad()
    def dual_step(self) -> None:
        """Dual ascent on the multipliers from the last training pass' hard costs."""
        if self._hard is None:
            return
        self.lambdas += self.dual_lr * (self._hard.to(self.lambdas.dtype) - self._bound)
        self.lambdas.clamp_(min=0)
        self._soft = None


class EMPERORPooling(SetPooling):
    """Sliced Gaussian-mixture moments (``emperor``): per slice the weights, means and
    standard deviations of a ``n_components`` 1D GMM fitted by EM (unrolled, so
    differentiable). Output ``n_slices * 3 * n_components``.
    """

    def __init__(self, in_features: int, n_slices: int = 16, n_components: int = 2,
                 n_iter: int = 10, learn_slices: bool = False, seed: SeedLike = None) -> None:
        L = check_int(n_slices, "n_slices", minimum=1)
        learn_slices = check_bool(learn_slices, "learn_slices")
        K = check_int(n_components, "n_components", minimum=1)
        super().__init__(in_features, L * 3 * K)
        self.n_slices, self.n_components = L, K
        self.n_iter = check_int(n_iter, "n_iter", minimum=1)
        g = make_generator(seed)
        theta = torch.randn(in_features, L, generator=g, dtype=torch.float64)
        theta = (theta / theta.norm(dim=0, keepdim=True)).float()
        self.directions = nn.Parameter(theta, requires_grad=learn_slices)

    def _pool(self, x, mask):
        from ..embed.moments import fit_gmm_1d

        theta = self.directions / self.directions.norm(dim=0, keepdim=True).clamp_min(1e-12)
        P = (x @ theta.to(x.dtype)).transpose(1, 2)  # (B, L, n)
        w = masked_weights(x, mask).unsqueeze(1).expand_as(P)
        pi, mu, sd = fit_gmm_1d(P, w, n_components=self.n_components, n_iter=self.n_iter,
                                tol=0.0)
        return torch.cat([pi, mu, sd], -1).reshape(x.shape[0], -1)


class ConcatPooling(SetPooling):
    """Several poolings side by side: their outputs concatenated (``backbone-vs-pooling``)."""

    def __init__(self, *poolings: SetPooling) -> None:
        if not poolings:
            raise ValueError("poolings must hold at least one SetPooling, got none")
        for i, p in enumerate(poolings):
            if not isinstance(p, SetPooling):
                raise TypeError(f"poolings[{i}] must be a SetPooling module, got "
                                f"{type(p).__name__}")
        d = poolings[0].in_features
        if any(p.in_features != d for p in poolings):
            raise ValueError("all poolings must have the same in_features, got "
                             f"{[p.in_features for p in poolings]}")
        super().__init__(d, sum(p.out_features for p in poolings))
        self.poolings = nn.ModuleList(poolings)

    def _pool(self, x, mask):
        return torch.cat([p._pool(x, mask) for p in self.poolings], -1)


POOLINGS = {
    "mean": MeanPooling,
    "sum": SumPooling,
    "max": MaxPooling,
    "gem": GeMPooling,
    "sort": SortPooling,
    "fspool": FSPool,
    "covariance": CovariancePooling,
    "pma": AttentionPooling,
    "swe": SWEPooling,
    "cswe": ConstrainedSWEPooling,
    "emperor": EMPERORPooling,
}


def make_pooling(name: str, in_features: int, **kwargs: Any) -> SetPooling:
    """A pooling by name (one of :data:`POOLINGS`); ``"a+b"`` concatenates two or more.

    Examples
    --------
    >>> pool = make_pooling("mean+max", 8)
    >>> pool(torch.randn(2, 5, 8)).shape
    torch.Size([2, 16])
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    parts = name.split("+")
    for part in parts:
        check_choice(part, "pooling name", tuple(POOLINGS))
    if len(parts) > 1:
        return ConcatPooling(*(POOLINGS[p](in_features, **kwargs.get(p, {})) for p in parts))
    return POOLINGS[name](in_features, **kwargs)
