"""Exact transport by linear programming, on top of POT's network simplex.

These are the oracles of the test suite and the exact variants used by later
embeddings. They are not differentiable: torch input is solved on the CPU in
float64 and returned as torch on the input's device and dtype.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import ot
import torch

from .._validation import ArrayIO, check_nonnegative

__all__ = ["emd", "emd2", "partial_wasserstein_lp", "ExactPartialTransport"]


def _problem(a, b, M, *, normalize: bool):
    io = ArrayIO(a, b, M)
    Mt = io.tensor(M, "M", ndim=2)
    n, m = Mt.shape
    # default uniform weights in float64: in float32, n * (1/n) can miss 1 by more than rtol
    at = io.tensor(a, "a", ndim=1) if a is not None else torch.full((n,), 1.0 / n,
                                                                    dtype=torch.float64)
    bt = io.tensor(b, "b", ndim=1) if b is not None else torch.full((m,), 1.0 / m,
                                                                    dtype=torch.float64)
    if at.shape[0] != n:
        raise ValueError(f"a must have shape ({n},) to match M's {n} rows, got {tuple(at.shape)}")
    if bt.shape[0] != m:
        raise ValueError(f"b must have shape ({m},) to match M's {m} columns, "
                         f"got {tuple(bt.shape)}")
    for w, name in ((at, "a"), (bt, "b")):
        if bool((w < 0).any()):
            raise ValueError(f"{name} must be non-negative, got minimum {float(w.min()):.4g}")
        if float(w.sum()) <= 0:
            raise ValueError(f"{name} must have a positive sum")
    a_np = at.detach().cpu().double().numpy()
    b_np = bt.detach().cpu().double().numpy()
    if normalize:
        if not np.isclose(a_np.sum(), b_np.sum(), rtol=1e-9):
            raise ValueError(f"a and b must have the same total mass, got {a_np.sum():.6g} "
                             f"and {b_np.sum():.6g}")
        b_np = b_np * (a_np.sum() / b_np.sum())
    return io, a_np, b_np, Mt.detach().cpu().double().numpy()


def emd(a, b, M, *, num_itermax: int = 1_000_000):
    """Exact optimal transport plan (POT's network simplex).

    Parameters
    ----------
    a : array of shape (n,) or None
        Source weights (uniform if None).
    b : array of shape (m,) or None
        Target weights with the same total as ``a`` (uniform if None).
    M : array of shape (n, m)
        Cost matrix.

    Returns
    -------
    array of shape (n, m)
        The optimal plan.

    Examples
    --------
    >>> import numpy as np
    >>> emd(None, None, np.array([[0.0, 1.0], [1.0, 0.0]]))
    array([[0.5, 0. ],
           [0. , 0.5]])
    """
    io, a_np, b_np, M_np = _problem(a, b, M, normalize=True)
    G = ot.emd(a_np, b_np, M_np, numItermax=num_itermax)
    return io.out(torch.as_tensor(G, dtype=io.dtype, device=io.device))


def emd2(a, b, M, *, num_itermax: int = 1_000_000):
    """Exact optimal transport cost ``<plan, M>`` (POT's network simplex). See :func:`emd`."""
    io, a_np, b_np, M_np = _problem(a, b, M, normalize=True)
    G = ot.emd(a_np, b_np, M_np, numItermax=num_itermax)
    return io.out(torch.as_tensor(float((G * M_np).sum()), dtype=io.dtype, device=io.device))


@dataclass(frozen=True)
class ExactPartialTransport:
    """Result of :func:`partial_wasserstein_lp`: ``cost`` (penalised objective),
    ``transport_cost``, ``transported`` (mass moved) and the ``plan`` (n, m)."""

    cost: Any
    transport_cost: Any
    transported: Any
    plan: Any


def partial_wasserstein_lp(a, b, M, penalty):
    r"""Penalised optimal partial transport solved exactly as one balanced LP.

    .. math::
        \min_{\gamma \ge 0,\ \gamma 1 \le a,\ \gamma^T 1 \le b}
        \langle \gamma, M \rangle + \lambda (|a| - |\gamma|) + \lambda (|b| - |\gamma|)

    solved by adding a dummy point on each side (mass ``|b|`` and ``|a|``) that
    absorbs destroyed and created mass at price ``penalty``, then POT's exact
    network simplex. Weights are not normalised (unbalanced masses allowed).

    Returns
    -------
    ExactPartialTransport

    Examples
    --------
    >>> import numpy as np
    >>> r = partial_wasserstein_lp(np.ones(2), np.ones(1), np.array([[0.5], [9.0]]), penalty=1.0)
    >>> float(r.cost), float(r.transported)
    (1.5, 1.0)
    """
    lam = check_nonnegative(penalty, "penalty")
    if a is None or b is None:
        raise TypeError("a and b must be arrays (the masses are not normalised here)")
    io, a_np, b_np, M_np = _problem(a, b, M, normalize=False)
    n, m = M_np.shape
    big = np.zeros((n + 1, m + 1))
    big[:n, :m] = M_np
    big[:n, m] = lam
    big[n, :m] = lam
    aa = np.r_[a_np, b_np.sum()]
    bb = np.r_[b_np, a_np.sum()]
    G = ot.emd(aa, bb, big, numItermax=10_000_000)
    plan = G[:n, :m]
    transport = float((plan * M_np).sum())
    mass = float(plan.sum())
    cost = transport + lam * (a_np.sum() - mass) + lam * (b_np.sum() - mass)

    def t(x):
        return torch.as_tensor(x, dtype=io.dtype, device=io.device)

    return ExactPartialTransport(io.out(t(cost)), io.out(t(transport)), io.out(t(mass)),
                                 io.out(t(plan)))
