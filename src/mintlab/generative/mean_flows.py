"""One-step generation with mean flows on independent or OT-paired noise (``transport-mean-flows``).

Flow matching moves noise ``e`` to data ``x`` along ``z_t = (1 - t) x + t e``
with velocity ``v = e - x``. A mean flow learns the *average* velocity
``u(z_t, r, t)`` over ``[r, t]``, so one network evaluation jumps from noise
to data: ``x = e - u(e, 0, 1)``. It is trained with the mean-flow identity

.. math:: u(z_t, r, t) = v - (t - r) \\left(v \\cdot \\partial_z u + \\partial_t u\\right),

whose right-hand side (a Jacobian-vector product, no gradient) is the
regression target. Transport mean flows (the paper) pair each batch of
data with its noise by optimal transport instead of independently, which
straightens the paths a one-step jump has to follow.

:class:`MeanFlow` trains and samples; ``coupling`` picks the pairing
(``"independent"``, ``"ot"``: exact minibatch optimal assignment,
``"sliced"``: sorting along a random direction); ``FlowMatching`` is the
multi-step baseline (the same network with ``r = t``, integrated by Euler).
"""

from __future__ import annotations

import torch
from torch import nn

from .._random import make_generator
from .._validation import check_choice, check_finite, check_int, check_probability
from ..embed._checks import check_bool, check_seed, no_global_draws
from ..transport.couplings import couple
from ..typing import ArrayLike, SeedLike
from .drifting import seeded_init, training_setup

__all__ = ["MeanFlow", "pair_noise"]


def pair_noise(x: torch.Tensor, e: torch.Tensor, coupling: str = "ot",
               generator: torch.Generator | None = None) -> torch.Tensor:
    """Reorder the noise batch ``e`` to pair it with the data batch ``x``.

    ``"ot"``: the assignment minimising the total squared distance (exact,
    :func:`~mintlab.transport.couplings.couple` with ``method="exact"`` and
    the Hungarian-type solver);
    ``"sliced"``: matching ranks along one random direction (``method="sliced"``
    with that one direction); ``"independent"``: as given.
    """
    coupling = check_choice(coupling, "coupling", ("independent", "ot", "sliced"))
    if not isinstance(x, torch.Tensor) or not isinstance(e, torch.Tensor):
        raise TypeError("x and e must be torch tensors")
    if x.ndim != 2 or x.shape != e.shape or x.numel() == 0:
        raise ValueError(f"x and e must share one shape (n, d), non-empty, got "
                         f"{tuple(x.shape)} and {tuple(e.shape)}")
    check_finite(x.detach(), "x")
    check_finite(e.detach(), "e")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got "
                        f"{type(generator).__name__}")
    return _pair(x, e, coupling, generator)


def _pair(x: torch.Tensor, e: torch.Tensor, coupling: str,
          generator: torch.Generator | None) -> torch.Tensor:
    """:func:`pair_noise` without the checks (training loops check their data once)."""
    if coupling == "independent":
        return e
    if coupling == "ot":
        return e[couple(x.detach(), e.detach(), "exact", solver="assignment").permutation()]
    theta = torch.randn(x.shape[1], generator=generator).to(x.device, x.dtype)
    theta = theta / theta.norm()
    # one direction: the expected sliced plan is the rank-matching permutation
    return e[couple(x.detach(), e.detach(), "sliced", projections=theta[:, None]).permutation()]


class _Net(nn.Module):
    def __init__(self, dim, hidden, depth):
        super().__init__()
        layers, w = [], dim + 2
        for _ in range(depth):
            layers += [nn.Linear(w, hidden), nn.SiLU()]
            w = hidden
        layers.append(nn.Linear(w, dim))
        self.net = nn.Sequential(*layers)

    def forward(self, z, r, t):
        return self.net(torch.cat([z, t[:, None], (t - r)[:, None]], dim=1))


class MeanFlow(nn.Module):
    """A one-step (or few-step) generator: the average velocity of a flow, as an MLP.

    Parameters
    ----------
    dim : int
    hidden, depth : int
        MLP width and number of hidden layers; inputs ``(z, t, t - r)``.
    coupling : {"ot", "sliced", "independent"}
        Pairing of noise with data in each batch (``"ot"``: transport mean
        flows; ``"independent"``: the plain mean flow).
    flow_fraction : float
        Share of each batch trained with ``r = t`` (plain flow matching),
        as in the mean-flow recipe.
    multistep_only : bool
        Train only with ``r = t``: the multi-step flow-matching baseline
        (sample it with ``steps > 1``).
    seed : int
    """

    def __init__(self, dim: int, hidden: int = 128, depth: int = 3, coupling: str = "ot",
                 flow_fraction: float = 0.75, multistep_only: bool = False,
                 seed: SeedLike = 0) -> None:
        super().__init__()
        self.dim = check_int(dim, "dim", minimum=1)
        self.coupling = check_choice(coupling, "coupling", ("independent", "ot", "sliced"))
        self.flow_fraction = check_probability(flow_fraction, "flow_fraction")
        self.multistep_only = check_bool(multistep_only, "multistep_only")
        make_generator(check_seed(seed))  # validates the seed
        self.seed = seed
        with no_global_draws():  # the weights are drawn from seed below
            self.u = _Net(self.dim, check_int(hidden, "hidden", minimum=1),
                          check_int(depth, "depth", minimum=1))
        seeded_init(self, seed)

    def forward(self, z: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The average velocity ``u(z, r, t)``: ``(n, dim)`` from ``z (n, dim)``, ``r, t (n,)``."""
        return self.u(z, r, t)

    def _times(self, n, g, like):
        t = torch.rand(n, generator=g)
        r = torch.rand(n, generator=g)
        t, r = torch.maximum(t, r), torch.minimum(t, r)
        if self.multistep_only:
            r = t.clone()
        else:
            same = torch.rand(n, generator=g) < self.flow_fraction
            r = torch.where(same, t, r)
        return r.to(like.device, like.dtype), t.to(like.device, like.dtype)

    def loss(self, x, e, g):
        """The mean-flow regression loss on a data batch ``x`` and paired noise ``e``."""
        r, t = self._times(x.shape[0], g, x)
        z = (1 - t[:, None]) * x + t[:, None] * e
        v = e - x
        if self.multistep_only:  # r = t: the correction term vanishes, the target is v
            target = v.detach()
        else:
            _, dudt = torch.func.jvp(self.u, (z, r, t), (v, torch.zeros_like(r),
                                                         torch.ones_like(t)))
            target = (v - (t - r)[:, None] * dudt).detach()
        return (self.u(z, r, t) - target).square().sum(1).mean()

    def fit(self, data: ArrayLike, steps: int = 2000, batch_size: int = 256, lr: float = 1e-3,
            progress: bool = False) -> list[float]:
        """Train on ``data`` (array ``(m, dim)``); returns the loss per step."""
        p = next(self.parameters())
        Y, opt, g, it, batch_size = training_setup(self, data, self.dim, steps, batch_size, lr,
                                                   progress, f"mean flow ({self.coupling})")
        losses = []
        for _ in it:
            idx = torch.randint(0, Y.shape[0], (batch_size,), generator=g).to(p.device)
            x = Y[idx]
            e = torch.randn(batch_size, self.dim, generator=g).to(p.device, p.dtype)
            e = _pair(x, e, self.coupling, g)
            loss = self.loss(x, e, g)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        return losses

    @torch.no_grad()
    def sample(self, n: int, steps: int = 1, seed: SeedLike = None) -> torch.Tensor:
        """``n`` samples with ``steps`` jumps from ``t = 1`` (noise) to ``t = 0``.

        With ``steps=1`` this is one evaluation, ``e - u(e, 0, 1)``. For the
        multi-step baseline, each jump uses the instantaneous velocity
        ``u(z, t, t)`` (Euler).
        """
        steps = check_int(steps, "steps", minimum=1)
        n = check_int(n, "n", minimum=1)
        p = next(self.parameters())
        g = make_generator(check_seed(seed))
        z = torch.randn(n, self.dim, generator=g).to(p.device, p.dtype)
        ts = torch.linspace(1.0, 0.0, steps + 1, dtype=p.dtype, device=p.device)
        for t_hi, t_lo in zip(ts[:-1], ts[1:], strict=True):
            t = torch.full((n,), float(t_hi), dtype=p.dtype, device=p.device)
            r = t if self.multistep_only else torch.full_like(t, float(t_lo))
            z = z - (t_hi - t_lo) * self.u(z, r, t)
        return z
