"""Min generalized sliced Gromov–Wasserstein: GW plans from a pair of slicers.

Paper: ``min-gsgw``. Each space is pushed to the line by its own slicer
(linear directions, polynomials or small MLPs); the monotone plan between the
two projections is lifted back to a plan between the clouds and scored with
the full Gromov–Wasserstein objective. The slicer pair is chosen from random
starts and refined by gradient descent on a soft-sorted surrogate.

The amortised variant (:class:`AmortizedGSGWSlicer`) is a network that maps
a pair of clouds to push-forward values of their points in one forward pass:
it is trained across many pairs (:func:`fit_amortized_gsgw`) and applied to
unseen pairs without any per-pair optimisation
(:func:`amortized_gsgw_plan`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .._validation import ArrayIO, check_int, check_positive, check_weights
from ..typing import ArrayLike, DeviceLike, SeedLike

__all__ = ["MinGSGWResult", "min_generalized_sliced_gromov_wasserstein",
           "AmortizedGSGWSlicer", "fit_amortized_gsgw", "amortized_gsgw_plan"]

#: support entries on which random-start candidates are ranked (estimated GW objective)
_RANK_SAMPLE = 512

@dataclass(frozen=True)
class MinGSGWResult:
    """Result of :func:`min_generalized_sliced_gromov_wasserstein`.

    Attributes
    ----------
    plan : array of shape (n, m)
        The lifted monotone plan of the two slicers.
    cost : array of shape ()
        Its GW objective ``sum (|x_i - x_k| - |y_j - y_l|)^2 plan_ij plan_kl``.
    slicers : tuple of two torch.nn.Module
        ``(n, dx) -> (n, 1)`` and ``(m, dy) -> (m, 1)``; :meth:`transfer`
        applies them to a new pair without training.
    history : list of float
        Full-data cost at each evaluation.
    """

    plan: Any
    cost: Any
    slicers: tuple
    history: list

    def transfer(self, X: ArrayLike, Y: ArrayLike, a: ArrayLike | None = None,
                 b: ArrayLike | None = None) -> MinGSGWResult:
        """The lifted plan of these (fixed) slicers between a new pair, and its GW cost."""
        if len(self.slicers) == 1 and isinstance(self.slicers[0], AmortizedGSGWSlicer):
            return amortized_gsgw_plan(self.slicers[0], X, Y, a, b)
        return _gsgw_apply(self.slicers, X, Y, a, b, list(self.history))


def _gw_of_sparse_plan(Xs, Yt, src, tgt, w, chunk=2048):
    """GW objective of a plan given by its support (src, tgt, w), distances computed on the fly."""
    total = Xs.new_zeros(())
    Xp, Yp = Xs[src], Yt[tgt]
    for s in range(0, len(w), chunk):
        d1 = torch.cdist(Xp[s:s + chunk], Xp)
        d2 = torch.cdist(Yp[s:s + chunk], Yp)
        total = total + (w[s:s + chunk, None] * w[None, :] * (d1 - d2) ** 2).sum()
    return total


def _gw_estimate(Xs, Yt, src, tgt, w, idx):
    """Estimate of the GW objective from support entries ``idx`` drawn by mass.

    The mean over all S^2 pairs of the drawn entries, zero diagonal included, so
    its expectation is (1 - 1/S) times the objective: a common factor that
    leaves the ranking of candidate slicers unchanged.
    """
    xs, yt = Xs[src[idx]], Yt[tgt[idx]]
    return float(((torch.cdist(xs, xs) - torch.cdist(yt, yt)) ** 2).mean())


def _soft_gw_loss(xb, yb, s, t, temperature, scales=None):
    """GW objective of the soft lifted plan between two minibatches of equal size ``B``.

    Both sets of slicer values are soft-sorted (SoftSort, temperature relative
    to the values' spread, or to the constants ``scales``); the plan
    ``P_s^T P_t / B`` is scored exactly.
    """
    from .plans import _soft_sort_kernel

    B = xb.shape[0]
    if scales is None:
        scales = (float(s.detach().std().clamp_min(1e-12)),
                  float(t.detach().std().clamp_min(1e-12)))
    Ps = _soft_sort_kernel(s, temperature * scales[0])
    Pt = _soft_sort_kernel(t, temperature * scales[1])
    G = Ps.transpose(0, 1) @ Pt / B
    D1, D2 = torch.cdist(xb, xb), torch.cdist(yb, yb)
    r, c = G.sum(1), G.sum(0)
    tens = (D1 * D1 @ r)[:, None] + (D2 * D2 @ c)[None, :] - 2 * D1 @ G @ D2.T
    return (tens * G).sum()


def _gsgw_clouds(io, X, Y, a, b):
    Xs = io.tensor(X, "X", ndim=2)
    Yt = io.tensor(Y, "Y", ndim=2)
    aw = None if a is None else check_weights(
        io.tensor(a, "a", ndim=1, shape=(Xs.shape[0],)), "a")
    bw = None if b is None else check_weights(
        io.tensor(b, "b", ndim=1, shape=(Yt.shape[0],)), "b")
    return Xs, Yt, aw, bw


def _gsgw_lift(slicers, Xs, Yt, aw, bw):
    from .plans import _lift, _slicer_column

    with torch.no_grad():
        ps = _slicer_column(slicers[0], Xs).unsqueeze(0)
        pt = _slicer_column(slicers[1], Yt).unsqueeze(0)
    src, tgt, mass = _lift(ps, pt, aw, bw)
    return src[0], tgt[0], mass[0]


def _gsgw_apply(slicers, X, Y, a, b, history):
    from .plans import _densify

    io = ArrayIO(X, Y, a, b)
    Xs, Yt, aw, bw = _gsgw_clouds(io, X, Y, a, b)
    src, tgt, w = _gsgw_lift(slicers, Xs, Yt, aw, bw)
    cost = _gw_of_sparse_plan(Xs, Yt, src, tgt, w)
    plan = _densify(src[None], tgt[None], w[None], Xs.shape[0], Yt.shape[0], True, io)
    return MinGSGWResult(plan, io.out(cost), slicers, history)


def min_generalized_sliced_gromov_wasserstein(X: ArrayLike, Y: ArrayLike,
                                              a: ArrayLike | None = None,
                                              b: ArrayLike | None = None,
                                              slicers: str | Sequence[nn.Module] | None = None,
                                              n_init: int = 32, n_iter: int = 100,
                                              lr: float = 0.01, temperature: float = 0.1,
                                              batch_size: int | None = 128, eval_every: int = 10,
                                              seed: SeedLike = None, progress: bool = False,
                                              hidden: int = 32) -> MinGSGWResult:
    r"""Min generalized sliced Gromov–Wasserstein (``min-gsgw``): GW plans from two slicers.

    A slicer per space assigns each point a value on the line; the monotone
    coupling of the two sets of values, lifted to the points, is a plan
    between the spaces whose GW objective (Euclidean distances within each
    space)

    .. math:: \sum_{ijkl} (\|x_i - x_k\| - \|y_j - y_l\|)^2 \gamma_{ij} \gamma_{kl}

    is minimised over the slicers. The search starts from the best of
    ``n_init`` random pairs of directions (either orientation; ranked on an
    estimate from 512 support entries when the plan has more), then
    descends a smooth surrogate: on minibatches, both sets are soft-sorted
    (SoftSort, temperature relative to the projections' spread), the soft
    plan's GW objective is computed exactly and minimised with Adam; the
    best slicers on the full data are kept, so the result is never worse
    than its start. The spaces may have different dimensions; one exact
    evaluation costs ``O((n + m)^2)`` distances, never an ``n x n`` matrix in
    memory.

    Parameters
    ----------
    X : array of shape (n, dx)
    Y : array of shape (m, dy)
    a, b : optional weights (uniform if omitted)
    slicers : None, "linear", "mlp" or a pair of torch.nn.Module
        ``None`` or ``"linear"``: two linear slicers. ``"mlp"``: two
        generalized slicers (:class:`~mintlab.transport.slicers.ResidualMLPSlicer`,
        a direction plus a network correction of width ``hidden``) started at
        the best random pair of directions. A pair of modules
        ``(n, dx) -> (n, 1)`` and ``(m, dy) -> (m, 1)`` is optimised as given
        (copied).
    n_init, n_iter, lr, temperature, batch_size, eval_every, seed, progress
        As in :func:`~mintlab.transport.min_sliced_plan`.
    hidden : int, default 32
        Hidden width of the ``"mlp"`` slicers.

    Returns
    -------
    MinGSGWResult
        ``plan`` (dense), ``cost``, ``slicers``, ``history``; ``transfer``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(40, 2)) * [3.0, 1.0]
    >>> Y = X @ np.array([[0.0, -1.0], [1.0, 0.0]]) + 5.0  # a rotated, shifted copy
    >>> res = min_generalized_sliced_gromov_wasserstein(X, Y, n_iter=100, seed=0)
    >>> res.plan.sum(0)[:2], bool(float(res.cost) < 1e-9)   # the isometry is found
    (array([0.025, 0.025]), True)
    """
    import copy

    from torch import nn

    from .._random import make_generator
    from .plans import _slicer_column
    from .slicers import LinearSlicer, ResidualMLPSlicer, random_directions

    n_iter = check_int(n_iter, "n_iter", minimum=0)
    eval_every = check_int(eval_every, "eval_every", minimum=1)
    lr = check_positive(lr, "lr")
    temperature = check_positive(temperature, "temperature")
    batch_size = check_int(batch_size, "batch_size", minimum=2)
    io = ArrayIO(X, Y, a, b)
    Xs, Yt, aw, bw = _gsgw_clouds(io, X, Y, a, b)
    Xs, Yt = Xs.detach(), Yt.detach()
    n, m = Xs.shape[0], Yt.shape[0]
    g = make_generator(seed)

    def full_cost(pair):
        src, tgt, w = _gsgw_lift(pair, Xs, Yt, aw, bw)
        with torch.no_grad():
            return float(_gw_of_sparse_plan(Xs, Yt, src, tgt, w))

    if slicers is None or isinstance(slicers, str):
        kind = "linear" if slicers is None else slicers
        if kind not in ("linear", "mlp"):
            raise ValueError(f"slicers must be None, 'linear', 'mlp' or a pair of "
                             f"torch.nn.Module, got {slicers!r}")
        k = check_int(n_init, "n_init", minimum=1)
        hidden = check_int(hidden, "hidden", minimum=1)
        tx = random_directions(Xs.shape[1], k, g, dtype=io.dtype, device=io.device)
        ty = random_directions(Yt.shape[1], k, g, dtype=io.dtype, device=io.device)
        idx = None
        best: tuple[float, tuple[LinearSlicer, LinearSlicer]] | None = None
        pair: tuple[nn.Module, ...]
        for i in range(k):
            for sign in (1.0, -1.0):
                cand = (LinearSlicer(Xs.shape[1], directions=tx[:, i:i + 1], dtype=io.dtype),
                        LinearSlicer(Yt.shape[1], directions=sign * ty[:, i:i + 1],
                                     dtype=io.dtype))
                src, tgt, w = _gsgw_lift(cand, Xs, Yt, aw, bw)
                if len(w) <= _RANK_SAMPLE:
                    with torch.no_grad():
                        c = float(_gw_of_sparse_plan(Xs, Yt, src, tgt, w))
                else:
                    if idx is None or (aw is not None or bw is not None or n != m):
                        idx = torch.multinomial(w.detach().cpu(), _RANK_SAMPLE,
                                                replacement=True, generator=g).to(w.device)
                    with torch.no_grad():
                        c = _gw_estimate(Xs, Yt, src, tgt, w, idx)
                if best is None or c < best[0]:
                    best = (c, cand)
        assert best is not None  # n_init >= 1 candidates were scored
        pair = best[1]
        if kind == "mlp":
            pair = (ResidualMLPSlicer(Xs.shape[1], hidden=hidden, seed=g,
                                      directions=best[1][0].directions.detach(), dtype=io.dtype),
                    ResidualMLPSlicer(Yt.shape[1], hidden=hidden, seed=g,
                                      directions=best[1][1].directions.detach(), dtype=io.dtype))
        best_cost = full_cost(pair)
    else:
        if not (isinstance(slicers, tuple | list) and len(slicers) == 2
                and all(isinstance(s, nn.Module) for s in slicers)):
            raise TypeError("slicers must be None, 'linear', 'mlp' or a pair of torch.nn.Module")
        pair = tuple(copy.deepcopy(s) for s in slicers)
        best_cost = full_cost(pair)
    best_state = [copy.deepcopy(s.state_dict()) for s in pair]
    history = [best_cost]
    params = [q for s in pair for q in s.parameters() if q.requires_grad]
    if n_iter > 0 and params:
        B = min(batch_size, n, m)
        opt = torch.optim.Adam(params, lr=lr)
        steps = range(n_iter)
        if progress:
            from tqdm.auto import tqdm

            steps = tqdm(steps, desc="min-GSGW", leave=False)
        ua = torch.full((n,), 1.0 / n, dtype=io.dtype) if aw is None else aw.detach().cpu()
        ub = torch.full((m,), 1.0 / m, dtype=io.dtype) if bw is None else bw.detach().cpu()
        with torch.enable_grad():
            for it in steps:
                ib = torch.multinomial(ua, B, replacement=aw is not None, generator=g)
                jb = torch.multinomial(ub, B, replacement=bw is not None, generator=g)
                xb, yb = Xs[ib.to(io.device)], Yt[jb.to(io.device)]
                loss = _soft_gw_loss(xb, yb, _slicer_column(pair[0], xb),
                                     _slicer_column(pair[1], yb), temperature)
                opt.zero_grad()
                loss.backward()
                opt.step()
                if (it + 1) % eval_every == 0 or it == n_iter - 1:
                    cval = full_cost(pair)
                    history.append(cval)
                    if cval < best_cost:
                        best_cost = cval
                        best_state = [copy.deepcopy(sl.state_dict()) for sl in pair]
    for sl, st in zip(pair, best_state, strict=True):
        sl.load_state_dict(st)
    return _gsgw_apply(tuple(pair), X, Y, a, b, history)


# ------------------------------------------------------------------ amortised
def _canonical_coordinates(Z, w=None):
    """Coordinates of a cloud in its own principal frame, in units of its RMS radius.

    Centred at the (weighted) mean, rotated to the principal axes (largest
    variance first), each axis oriented so the third moment is non-negative,
    divided by the root mean square distance to the centre. A rigid motion of
    the cloud leaves the result unchanged (up to the orientation of axes
    whose third moment is zero, i.e. a reflection, which GW cannot see).
    """
    n = Z.shape[0]
    w = torch.full((n,), 1.0 / n, dtype=Z.dtype, device=Z.device) if w is None else w
    c = (w[:, None] * Z).sum(0)
    Zc = Z - c
    cov = (w[:, None] * Zc).T @ Zc
    _, V = torch.linalg.eigh(cov)
    U = Zc @ V.flip(-1)
    sign = torch.where((w[:, None] * U**3).sum(0) < 0, -1.0, 1.0).to(Z.dtype)
    U = U * sign
    rms = (w * (Zc * Zc).sum(1)).sum().clamp_min(1e-300).sqrt()
    return U / rms


class AmortizedGSGWSlicer(torch.nn.Module):
    r"""Amortised min-GSGW slicer: push-forward values for a pair of clouds in one pass.

    Each cloud is put in its own principal frame (:func:`_canonical_coordinates`:
    centred, principal axes, third-moment orientation, unit RMS radius), so
    the values are unchanged by rigid motions. A permutation-invariant
    encoder (a per-point network, mean-pooled) summarises each cloud; a
    shared head maps every point's coordinates together with the summaries
    of its own cloud and of the other cloud to its value on the line:

    .. math:: s_i = \text{head}(u_i, \bar\phi(X), \bar\phi(Y)), \quad
              t_j = \text{head}(v_j, \bar\phi(Y), \bar\phi(X))

    Sorting ``s`` and ``t`` gives the lifted monotone plan. Train it across
    pairs with :func:`fit_amortized_gsgw`; apply it with
    :func:`amortized_gsgw_plan`.

    Parameters
    ----------
    d : int
        Dimension of both spaces.
    hidden : int, default 32
    embed : int, default 8
        Size of a cloud's summary.
    seed : int, numpy or torch generator, or None
    dtype, device : torch dtype and device of the network's weights; inputs
        must be on the same device.

    Examples
    --------
    >>> net = AmortizedGSGWSlicer(3, hidden=8, embed=4, seed=0)
    >>> s, t = net(torch.randn(10, 3, dtype=torch.float64), torch.randn(12, 3, dtype=torch.float64))
    >>> tuple(s.shape), tuple(t.shape)
    ((10,), (12,))
    """

    def __init__(self, d: int, hidden: int = 32, embed: int = 8, seed: SeedLike = None, *,
                 dtype: torch.dtype = torch.float64, device: DeviceLike = None) -> None:
        from torch import nn

        from .._random import make_generator

        super().__init__()
        self.in_features = check_int(d, "d", minimum=1)
        hidden = check_int(hidden, "hidden", minimum=1)
        embed = check_int(embed, "embed", minimum=1)
        g = make_generator(seed)

        def linear(i, o):
            # skip torch's default initialisation: it would draw from the global generator
            layer = nn.utils.skip_init(nn.Linear, i, o, dtype=dtype,
                                       device=device if device is not None else
                                       torch.empty(0).device)
            with torch.no_grad():
                w = torch.randn(o, i, generator=g, dtype=dtype) / i**0.5
                layer.weight.copy_(w.to(layer.weight.device))
                layer.bias.zero_()
            return layer

        act = nn.LeakyReLU(0.2)
        self.encoder = nn.Sequential(linear(d, hidden), act, linear(hidden, embed))
        self.head = nn.Sequential(linear(d + 2 * embed, hidden), act, linear(hidden, hidden),
                                  act, linear(hidden, 1))

    def _values(self, U, e_self, e_other):
        ctx = torch.cat([e_self, e_other]).expand(U.shape[0], -1)
        return self.head(torch.cat([U, ctx], dim=1))[:, 0]

    def scores(self, U: torch.Tensor, V: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Values from canonical coordinates ``U`` (n, d) and ``V`` (m, d)."""
        ex, ey = self.encoder(U).mean(0), self.encoder(V).mean(0)
        return self._values(U, ex, ey), self._values(V, ey, ex)

    def forward(self, X: torch.Tensor, Y: torch.Tensor, a: torch.Tensor | None = None,
                b: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if X.shape[-1] != self.in_features or Y.shape[-1] != self.in_features:
            raise ValueError(f"X and Y must have {self.in_features} columns for this network, "
                             f"got shapes {tuple(X.shape)} and {tuple(Y.shape)}")
        w0 = next(self.head.parameters())  # the first layer's weight
        dtype, device = w0.dtype, w0.device
        if X.device != device or Y.device != device:
            raise ValueError(f"X and Y must be on the network's device {device}, got "
                             f"{X.device} and {Y.device} (move the network with .to())")
        U = _canonical_coordinates(X.to(dtype), None if a is None else a.to(dtype))
        V = _canonical_coordinates(Y.to(dtype), None if b is None else b.to(dtype))
        return self.scores(U, V)


def amortized_gsgw_plan(net: AmortizedGSGWSlicer, X: ArrayLike, Y: ArrayLike,
                        a: ArrayLike | None = None, b: ArrayLike | None = None) -> MinGSGWResult:
    """The min-GSGW plan of a trained :class:`AmortizedGSGWSlicer` on a pair: one forward pass.

    Returns a :class:`MinGSGWResult` (``plan``, ``cost`` = its GW objective,
    ``slicers = (net,)``, empty ``history``); no optimisation step runs.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(30, 3))
    >>> res = amortized_gsgw_plan(AmortizedGSGWSlicer(3, seed=0), X, X[::-1] + 2.0)
    >>> bool(float(res.cost) < 1e-9)   # a translated copy: the values coincide
    True
    """
    from .plans import _densify, _lift

    if not isinstance(net, AmortizedGSGWSlicer):
        raise TypeError(f"net must be an AmortizedGSGWSlicer, got {type(net).__name__}")
    io = ArrayIO(X, Y, a, b)
    Xs, Yt, aw, bw = _gsgw_clouds(io, X, Y, a, b)
    with torch.no_grad():
        s, t = net(Xs, Yt, aw, bw)
    src, tgt, w = _lift(s.to(Xs.dtype)[None], t.to(Xs.dtype)[None], aw, bw)
    src, tgt, w = src[0], tgt[0], w[0]
    cost = _gw_of_sparse_plan(Xs, Yt, src, tgt, w)
    plan = _densify(src[None], tgt[None], w[None], Xs.shape[0], Yt.shape[0], True, io)
    return MinGSGWResult(plan, io.out(cost), (net,), [])


def fit_amortized_gsgw(net: AmortizedGSGWSlicer, pairs: Iterable[tuple[ArrayLike, ArrayLike]],
                       n_steps: int = 300, lr: float = 0.01, temperature: float = 0.1,
                       batch_size: int | None = 128, seed: SeedLike = None) -> list[float]:
    """Train an :class:`AmortizedGSGWSlicer` across pairs of clouds (in place).

    Each step draws one pair and ``batch_size`` points of each cloud (the
    summaries use the whole clouds), soft-sorts the network's values on the
    minibatch (as :func:`min_generalized_sliced_gromov_wasserstein` does per
    pair) and takes an Adam step on the soft plan's GW objective.

    Parameters
    ----------
    net : AmortizedGSGWSlicer
    pairs : iterable of (X, Y)
        Training pairs of uniform clouds, arrays ``(n, d)`` and ``(m, d)``
        (moved to the network's device and dtype).
    n_steps : int, default 300
    lr : float, default 0.01
    temperature : float, default 0.1
    batch_size : int, default 128
    seed : int, numpy or torch generator, or None

    Returns
    -------
    list of float
        The minibatch loss of every step.
    """
    from .._random import make_generator

    if not isinstance(net, AmortizedGSGWSlicer):
        raise TypeError(f"net must be an AmortizedGSGWSlicer, got {type(net).__name__}")
    n_steps = check_int(n_steps, "n_steps", minimum=0)
    B = check_int(batch_size, "batch_size", minimum=2)
    lr = check_positive(lr, "lr")
    temperature = check_positive(temperature, "temperature")
    if isinstance(pairs, str | bytes) or not hasattr(pairs, "__iter__"):
        raise TypeError(f"pairs must be an iterable of (X, Y) pairs of clouds, got "
                        f"{type(pairs).__name__}")
    pairs = list(pairs)
    if len(pairs) == 0:
        raise ValueError("pairs must hold at least one (X, Y) pair, got none")
    g = make_generator(seed)
    dtype, device = net.head[0].weight.dtype, net.head[0].weight.device
    data = []
    for k, pair in enumerate(pairs):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"pairs[{k}] must be an (X, Y) pair of clouds, got "
                             f"{type(pair).__name__}")
        X, Y = pair
        io = ArrayIO(X, Y)
        try:
            Xs, Yt, _, _ = _gsgw_clouds(io, X, Y, None, None)
        except (TypeError, ValueError) as err:  # say which pair
            raise type(err)(f"pairs[{k}]: {err}") from None
        if Xs.shape[1] != net.in_features or Yt.shape[1] != net.in_features:
            raise ValueError(f"pairs[{k}] must hold clouds with {net.in_features} columns "
                             f"for this network, got shapes {tuple(Xs.shape)} and "
                             f"{tuple(Yt.shape)}")
        Xs, Yt = Xs.detach().to(dtype=dtype, device=device), Yt.detach().to(dtype=dtype,
                                                                             device=device)
        data.append((Xs, Yt, _canonical_coordinates(Xs), _canonical_coordinates(Yt)))
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    losses = []
    with torch.enable_grad():
        for _ in range(n_steps):
            Xs, Yt, U, V = data[int(torch.randint(len(data), (1,), generator=g))]
            b = min(B, Xs.shape[0], Yt.shape[0])
            ib = torch.randperm(Xs.shape[0], generator=g)[:b]
            jb = torch.randperm(Yt.shape[0], generator=g)[:b]
            ex, ey = net.encoder(U).mean(0), net.encoder(V).mean(0)
            s, t = net._values(U[ib], ex, ey), net._values(V[jb], ey, ex)
            loss = _soft_gw_loss(Xs[ib], Yt[jb], s, t, temperature)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
    return losses
