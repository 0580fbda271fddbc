"""Drifting generative dynamics with one-sided kernels or two-sided Sinkhorn couplings.

Paper: ``sinkhorn-drifting``. A batch of model samples ``x`` is pushed by a
drift that attracts it to the data ``y`` and repels it from itself
("cross minus self"):

.. math:: V(x_i) = \\sum_j A_{ij} (y_j - x_i) - \\sum_j B_{ij} (x_j - x_i).

* ``method="kernel"`` (drifting): ``A`` and ``B`` are Gibbs kernels
  ``exp(-c(x_i, .) / tau)`` normalised over each row only (one-sided);
  ``B`` leaves out ``x_i`` itself.
* ``method="sinkhorn"`` (Sinkhorn drifting): ``A = n P_xy`` and
  ``B = n P_xx`` with ``P`` the entropic optimal transport couplings
  (regularisation ``tau``) of the model batch with the data batch and with
  itself, both marginals enforced by Sinkhorn scaling; ``V`` is then the
  particle gradient of the Sinkhorn divergence, zero only when the model
  and data measures agree.

:func:`drift` computes the field, :func:`particle_flow` moves particles
along it, and :class:`DriftingGenerator` trains a one-step generator (an
MLP from noise) by regressing its samples onto ``x + V(x)``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .._random import make_generator
from .._validation import ArrayIO, check_array, check_choice, check_int, check_positive
from ..embed._checks import check_seed, no_global_draws
from ..transport.couplings import _sinkhorn_log, couple
from ..typing import Array, ArrayLike, SeedLike

__all__ = ["sinkhorn_coupling", "drift", "particle_flow", "DriftingGenerator"]


def _cost(X, Y, cost):
    D2 = torch.cdist(X, Y).square() if cost == "sqeuclidean" else torch.cdist(X, Y)
    return D2


def sinkhorn_coupling(X: ArrayLike, Y: ArrayLike, reg: float, cost: str = "euclidean",
                      n_iter: int = 100) -> Array:
    """Entropic OT coupling of the uniform measures on the rows of ``X`` and ``Y`` (log domain).

    Returns the ``(n, m)`` plan ``P`` with rows summing to ``1/n`` and columns
    to ``1/m`` (to the tolerance reached after ``n_iter`` scalings). Numpy in,
    numpy out; torch in, torch out.
    """
    io = ArrayIO(X, Y)
    X = io.tensor(X, "X", ndim=2)
    Y = io.tensor(Y, "Y", ndim=2, shape=(None, X.shape[1]))
    cost = check_choice(cost, "cost", ("euclidean", "sqeuclidean"))
    coupling = couple(X, Y, "sinkhorn", p=2 if cost == "sqeuclidean" else 1,
                      reg=check_positive(reg, "reg"),
                      max_iter=check_int(n_iter, "n_iter", minimum=1), tol=None)
    return io.out(coupling.plan)


def _sinkhorn(X, Y, reg, cost, n_iter):
    """The uniform log-domain Sinkhorn plan after exactly ``n_iter`` sweeps (no checks)."""
    return _sinkhorn_log(_cost(X, Y, cost), None, None, reg, n_iter, tol=None)[0]


def _drift(X, Y, tau, method, cost, n_iter):
    n = X.shape[0]
    # float64 inside: at low temperatures exp(-c / tau) underflows float32 into slow
    # subnormal numbers
    Xd, Yd = X.double(), Y.double()
    if method == "kernel":
        A = torch.softmax(-_cost(Xd, Yd, cost) / tau, dim=1)
        Cxx = _cost(Xd, Xd, cost) / tau
        Cxx = Cxx + torch.diag(torch.full((n,), float("inf"), dtype=Xd.dtype, device=X.device))
        B = torch.softmax(-Cxx, dim=1)
    else:
        A = n * _sinkhorn(Xd, Yd, tau, cost, n_iter)
        B = n * _sinkhorn(Xd, Xd, tau, cost, n_iter)
    A, B = A.to(X.dtype), B.to(X.dtype)
    return (A @ Y - A.sum(1, keepdim=True) * X) - (B @ X - B.sum(1, keepdim=True) * X)


def drift(X: ArrayLike, Y: ArrayLike, temperature: float, method: str = "sinkhorn",
          cost: str = "euclidean", n_iter: int = 100) -> Array:
    """The drift field at the model samples ``X`` (n, d) towards the data ``Y`` (m, d).

    Parameters
    ----------
    temperature : float
        ``tau``: kernel temperature / entropic regularisation, in units of the cost.
    method : {"sinkhorn", "kernel"}
    cost : {"euclidean", "sqeuclidean"}
    n_iter : int
        Sinkhorn scalings (``method="sinkhorn"``).

    Returns
    -------
    array of shape (n, d)

    Examples
    --------
    >>> import numpy as np
    >>> Y = np.random.default_rng(0).normal(size=(64, 2))
    >>> float(np.abs(drift(Y, Y, 0.5)).max()) < 1e-6   # model = data: no drift
    True
    """
    io = ArrayIO(X, Y)
    Xt = io.tensor(X, "X", ndim=2)
    Yt = io.tensor(Y, "Y", ndim=2, shape=(None, Xt.shape[1]))
    tau = check_positive(temperature, "temperature")
    method = check_choice(method, "method", ("sinkhorn", "kernel"))
    cost = check_choice(cost, "cost", ("euclidean", "sqeuclidean"))
    n_iter = check_int(n_iter, "n_iter", minimum=1)
    if Xt.shape[0] < 2:
        raise ValueError(f"X must hold at least 2 samples (the self term), got {Xt.shape[0]}")
    return io.out(_drift(Xt, Yt, tau, method, cost, n_iter))


def particle_flow(X: ArrayLike, Y: ArrayLike, temperature: float, method: str = "sinkhorn",
                  steps: int = 100, step_size: float = 0.5, cost: str = "euclidean",
                  n_iter: int = 100, progress: bool = False) -> Array:
    """Move particles ``X`` along the drift: ``x <- x + step_size * V(x)``, ``steps`` times."""
    io = ArrayIO(X, Y)
    Xt = io.tensor(X, "X", ndim=2).detach().clone()
    Yt = io.tensor(Y, "Y", ndim=2, shape=(None, Xt.shape[1])).detach()
    tau = check_positive(temperature, "temperature")
    method = check_choice(method, "method", ("sinkhorn", "kernel"))
    steps = check_int(steps, "steps", minimum=1)
    eta = check_positive(step_size, "step_size")
    cost = check_choice(cost, "cost", ("euclidean", "sqeuclidean"))
    n_iter = check_int(n_iter, "n_iter", minimum=1)
    if Xt.shape[0] < 2:
        raise ValueError(f"X must hold at least 2 samples (the self term), got {Xt.shape[0]}")
    it = range(steps)
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(it, desc=f"{method} drift", unit="step")
    for _ in it:
        Xt = Xt + eta * _drift(Xt, Yt, tau, method, cost, n_iter)
    return io.out(Xt)


def seeded_init(module, seed):
    """Re-draw the weights of every ``nn.Linear`` in ``module`` from ``seed``.

    The same scheme as PyTorch's default initialisation (uniform, bound
    ``1/sqrt(fan_in)``), drawn from a private generator, so building a model
    never touches the global random state.
    """
    g = make_generator(seed)
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, nn.Linear):
                bound = 1.0 / math.sqrt(layer.in_features)
                w = torch.rand(layer.weight.shape, generator=g, dtype=layer.weight.dtype)
                layer.weight.copy_((2 * w - 1) * bound)
                if layer.bias is not None:
                    b = torch.rand(layer.bias.shape, generator=g, dtype=layer.bias.dtype)
                    layer.bias.copy_((2 * b - 1) * bound)


def training_setup(module, data, dim, steps, batch_size, lr, progress, desc):
    """Checked data tensor, Adam optimiser, seeded generator and step iterator of a ``fit``."""
    p = next(module.parameters())
    if isinstance(data, torch.Tensor):
        data = data.detach()  # checked where it lives: no device round trip
    Y = check_array(data, "data", ndim=2).to(dtype=p.dtype, device=p.device)
    if Y.shape[1] != dim or Y.shape[0] < 2:
        raise ValueError(f"data must have shape (m, {dim}) with m >= 2, got {tuple(Y.shape)}")
    steps = check_int(steps, "steps", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=2)
    opt = torch.optim.Adam(module.parameters(), lr=check_positive(lr, "lr"))
    g = make_generator(module.seed)
    it = range(steps)
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(it, desc=desc, unit="step")
    return Y, opt, g, it, batch_size


class DriftingGenerator(nn.Module):
    """A one-step generator trained with (Sinkhorn) drifting.

    An MLP maps Gaussian noise to samples. Each training step draws a batch
    of samples ``x = f(z)`` and a batch of data, computes the drift ``V(x)``
    (no gradient) and takes a gradient step on
    ``|f(z) - stopgrad(x + V(x))|^2``; sampling is one forward pass.

    Parameters
    ----------
    dim : int
        Data dimension.
    noise_dim, hidden, depth : int
        Generator MLP.
    temperature, method, cost, n_iter
        As for :func:`drift`.
    seed : int
    """

    def __init__(self, dim: int, noise_dim: int | None = None, hidden: int = 128, depth: int = 3,
                 temperature: float = 0.1, method: str = "sinkhorn", cost: str = "euclidean",
                 n_iter: int = 50, seed: SeedLike = 0) -> None:
        super().__init__()
        self.dim = check_int(dim, "dim", minimum=1)
        self.noise_dim = check_int(self.dim if noise_dim is None else noise_dim, "noise_dim",
                                   minimum=1)
        self.temperature = check_positive(temperature, "temperature")
        self.method = check_choice(method, "method", ("sinkhorn", "kernel"))
        self.cost = check_choice(cost, "cost", ("euclidean", "sqeuclidean"))
        self.n_iter = check_int(n_iter, "n_iter", minimum=1)
        hidden = check_int(hidden, "hidden", minimum=1)
        make_generator(check_seed(seed))  # validates the seed
        self.seed = seed
        layers, w = [], self.noise_dim
        with no_global_draws():  # the weights are drawn from seed below
            for _ in range(check_int(depth, "depth", minimum=1)):
                layers += [nn.Linear(w, hidden), nn.SiLU()]
                w = hidden
            layers.append(nn.Linear(w, self.dim))
        self.net = nn.Sequential(*layers)
        seeded_init(self, seed)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Noise ``(n, noise_dim)`` -> samples ``(n, dim)``."""
        return self.net(z)

    def sample(self, n: int, seed: SeedLike = None) -> torch.Tensor:
        """``n`` samples (one forward pass), shape ``(n, dim)``."""
        n = check_int(n, "n", minimum=1)
        p = next(self.parameters())
        g = make_generator(check_seed(seed))
        z = torch.randn(n, self.noise_dim, generator=g).to(device=p.device, dtype=p.dtype)
        with torch.no_grad():
            return self(z)

    def fit(self, data: ArrayLike, steps: int = 1000, batch_size: int = 256, lr: float = 1e-3,
            progress: bool = False) -> list[float]:
        """Train on ``data`` (array ``(m, dim)``); returns the loss (mean ``|V|^2``) per step."""
        p = next(self.parameters())
        Y, opt, g, it, batch_size = training_setup(self, data, self.dim, steps, batch_size, lr,
                                                   progress, f"{self.method} drifting")
        losses = []
        for _ in it:
            z = torch.randn(batch_size, self.noise_dim, generator=g).to(p.device, p.dtype)
            idx = torch.randint(0, Y.shape[0], (batch_size,), generator=g).to(p.device)
            x = self(z)
            with torch.no_grad():
                V = _drift(x.detach(), Y[idx], self.temperature, self.method, self.cost,
                           self.n_iter)
                target = x.detach() + V
            loss = (x - target).square().sum(1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        return losses
