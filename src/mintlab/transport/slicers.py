"""How to slice: directions that project ``(n, d)`` point clouds to lines."""

from __future__ import annotations

import torch

from .._random import SeedLike, make_generator, randn
from .._validation import check_int

__all__ = ["random_directions"]


def random_directions(
    d: int, n_projections: int, seed: SeedLike = None, *, dtype=torch.float64, device=None
) -> torch.Tensor:
    """Directions drawn uniformly on the sphere S^{d-1}, as the columns of a ``(d, L)`` matrix.

    Same layout as POT's ``ot.sliced.get_random_projections``; the same integer
    ``seed`` gives the same directions on every machine.

    Examples
    --------
    >>> theta = random_directions(3, 5, seed=0)
    >>> tuple(theta.shape), [round(float(v), 12) for v in theta.norm(dim=0)]
    ((3, 5), [1.0, 1.0, 1.0, 1.0, 1.0])
    """
    d = check_int(d, "d", minimum=1)
    n_projections = check_int(n_projections, "n_projections", minimum=1)
    g = make_generator(seed)
    theta = randn(d, n_projections, generator=g, dtype=dtype, device=device)
    return theta / theta.norm(dim=0, keepdim=True)
