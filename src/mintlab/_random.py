"""One way to take randomness: ``seed: int | torch.Generator | None``.

Methods that store a model as "coefficients + a seed" (PRANC, NOLA, MCNC) rely
on :func:`make_generator` giving the same stream for the same integer seed on
every machine, so integer seeds always build a fresh CPU generator; random
tensors are drawn on the CPU and then moved to the target device.
"""

from __future__ import annotations

import numbers

import torch

__all__ = ["make_generator", "SeedLike", "randn", "rand"]

SeedLike = int | torch.Generator | None


def make_generator(seed: SeedLike = None) -> torch.Generator:
    """Turn ``seed`` into a ``torch.Generator``.

    Parameters
    ----------
    seed : int, torch.Generator or None
        An integer gives a new CPU generator seeded with it (reproducible
        across machines); a generator is returned as is (its state advances);
        ``None`` draws a fresh seed from the operating system.

    Returns
    -------
    torch.Generator

    Examples
    --------
    >>> g = make_generator(0)
    >>> float(torch.rand(1, generator=g)) == float(torch.rand(1, generator=make_generator(0)))
    True
    """
    if isinstance(seed, torch.Generator):
        return seed
    if seed is None:
        g = torch.Generator()
        g.seed()
        return g
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(
            f"seed must be an int, a torch.Generator or None, got {type(seed).__name__}"
        )
    if int(seed) < 0:
        raise ValueError(f"seed must be non-negative, got {int(seed)}")
    g = torch.Generator()
    g.manual_seed(int(seed))
    return g


def _draw(fn, shape, generator, dtype, device):
    gen_device = generator.device
    t = fn(*shape, generator=generator, dtype=dtype, device=gen_device)
    return t.to(device) if device is not None else t


def randn(
    *shape: int, generator: torch.Generator, dtype=torch.float64, device=None
) -> torch.Tensor:
    """Standard normal draws from ``generator``, moved to ``device``."""
    return _draw(torch.randn, shape, generator, dtype, device)


def rand(*shape: int, generator: torch.Generator, dtype=torch.float64, device=None) -> torch.Tensor:
    """Uniform [0, 1) draws from ``generator``, moved to ``device``."""
    return _draw(torch.rand, shape, generator, dtype, device)
