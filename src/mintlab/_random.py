"""One way to take randomness: ``seed: int | numpy state | torch.Generator | None``.

Methods that store a model as "coefficients + a seed" (PRANC, NOLA, MCNC) rely
on :func:`make_generator` giving the same stream for the same integer seed on
every machine, so integer seeds always build a fresh CPU generator; random
tensors are drawn on the CPU and then moved to the target device.

POT's functions take ``seed`` as an int or a numpy random state; so do ours:
a ``np.random.RandomState`` or ``np.random.Generator`` is asked for one
integer, which seeds a fresh torch generator. The caller's numpy stream thus
advances (two calls with the same state give different draws, as in POT),
and the draws are reproducible from the state's seed, but they are not the
numbers POT would draw from that state.
"""

from __future__ import annotations

import contextlib
import numbers
import random as _py_random
from collections.abc import Callable, Iterator

import numpy as np
import torch

__all__ = ["make_generator", "SeedLike", "randn", "rand", "seeded_global_rng", "GlobalRNGSlot",
           "stream_seed"]

from .typing import DeviceLike, SeedLike  # noqa: E402  (SeedLike is re-exported)

_SEED_BOUND = 2**63 - 1  # exclusive upper bound of a seed drawn from a numpy state


def stream_seed(seed: int, *keys: object) -> int:
    """A 63-bit seed for the named stream ``keys`` under ``seed`` (BLAKE2b of their text).

    Use it wherever one user seed must give several independent draws (a
    task's sample, a method's basis, a layer's block): the streams depend
    only on ``(seed, keys)``, never on the order in which they are drawn,
    and two different key tuples never share a formula's collisions (as
    ``seed * 31 + task`` does for ``(0, 31)`` and ``(1, 0)``).

    Examples
    --------
    >>> stream_seed(0, "pranc", "fc.weight", 0) == stream_seed(0, "pranc", "fc.weight", 0)
    True
    >>> stream_seed(0, "a") != stream_seed(1, "a")
    True
    """
    import hashlib

    text = "\x1f".join([str(int(seed)), *map(str, keys)]).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little") >> 1


def make_generator(seed: SeedLike = None) -> torch.Generator:
    """Turn ``seed`` into a ``torch.Generator``.

    Parameters
    ----------
    seed : int, np.random.RandomState, np.random.Generator, torch.Generator or None
        An integer in ``[0, 2**64)`` gives a new CPU generator seeded with it
        (reproducible across machines); a torch generator is returned as is
        (its state advances); a numpy ``RandomState`` or ``Generator`` is asked
        for one integer in ``[0, 2**63 - 1)`` that seeds a new CPU generator
        (so the numpy state advances by one draw); ``None`` draws a fresh seed
        from the operating system.

    Returns
    -------
    torch.Generator

    Examples
    --------
    >>> g = make_generator(0)
    >>> float(torch.rand(1, generator=g)) == float(torch.rand(1, generator=make_generator(0)))
    True
    >>> import numpy as np
    >>> a = torch.rand(1, generator=make_generator(np.random.RandomState(3)))
    >>> bool(a == torch.rand(1, generator=make_generator(np.random.RandomState(3))))
    True
    """
    if isinstance(seed, torch.Generator):
        return seed
    if seed is None:
        g = torch.Generator()
        g.seed()
        return g
    if isinstance(seed, np.random.RandomState):
        seed = int(seed.randint(0, _SEED_BOUND, dtype=np.int64))
    elif isinstance(seed, np.random.Generator):
        seed = int(seed.integers(0, _SEED_BOUND))
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(
            "seed must be an int, a np.random.RandomState, a np.random.Generator, a "
            f"torch.Generator or None, got {type(seed).__name__}"
        )
    if not 0 <= int(seed) < 2**64:
        raise ValueError(f"seed must be an integer in [0, 2**64), got {int(seed)}")
    g = torch.Generator()
    g.manual_seed(int(seed))
    return g


def _draw(fn: Callable[..., torch.Tensor], shape: tuple[int, ...], generator: torch.Generator,
          dtype: torch.dtype, device: DeviceLike) -> torch.Tensor:
    gen_device = generator.device
    t = fn(*shape, generator=generator, dtype=dtype, device=gen_device)
    return t.to(device) if device is not None else t


def randn(
    *shape: int, generator: torch.Generator, dtype: torch.dtype = torch.float64,
    device: DeviceLike = None
) -> torch.Tensor:
    """Standard normal draws from ``generator``, moved to ``device``."""
    return _draw(torch.randn, shape, generator, dtype, device)


def rand(*shape: int, generator: torch.Generator, dtype: torch.dtype = torch.float64,
         device: DeviceLike = None) -> torch.Tensor:
    """Uniform [0, 1) draws from ``generator``, moved to ``device``."""
    return _draw(torch.rand, shape, generator, dtype, device)


@contextlib.contextmanager
def seeded_global_rng(seed: int) -> Iterator[None]:
    """Run a block with torch's global generators seeded, and give the caller's back after.

    ``torch.nn`` initialisers, dropout and a few other torch calls draw from
    the global generator and take no ``generator=``. Code that builds or
    trains such modules from a seed runs inside this context: the global CPU
    generator (and every CUDA one) is seeded with ``seed`` on entry, as
    torch's own manual seeding would, and the caller's states are restored on exit,
    so the caller's stream never sees the library's draws.

    Parameters
    ----------
    seed : int
        Non-negative seed.

    Examples
    --------
    >>> before = torch.random.get_rng_state()
    >>> with seeded_global_rng(0):
    ...     a = torch.nn.Linear(3, 2).weight.detach().clone()
    >>> with seeded_global_rng(0):
    ...     b = torch.nn.Linear(3, 2).weight.detach().clone()
    >>> bool(torch.equal(a, b)), bool(torch.equal(before, torch.random.get_rng_state()))
    (True, True)
    """
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or int(seed) < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    with torch.random.fork_rng(devices=range(torch.cuda.device_count())
                               if torch.cuda.is_available() else []):
        torch.random.default_generator.manual_seed(int(seed))
        if torch.cuda.is_available():
            torch.cuda.manual_seed_all(int(seed))
        yield


def _global_states() -> tuple:
    cuda = (torch.cuda.get_rng_state_all()
            if torch.cuda.is_available() and torch.cuda.is_initialized() else None)
    return (torch.get_rng_state(), cuda, np.random.get_state(),  # noqa: NPY002
            _py_random.getstate())


def _set_global_states(states: tuple) -> None:
    cpu, cuda, numpy_state, py_state = states
    torch.set_rng_state(cpu)
    if cuda is not None:
        torch.cuda.set_rng_state_all(cuda)
    np.random.set_state(numpy_state)  # noqa: NPY002
    _py_random.setstate(py_state)


class GlobalRNGSlot:
    """A private copy of the global torch / numpy / ``random`` states for one owner.

    Third-party trainers (Stable-Baselines3's PPO, for one) seed and draw from
    the process-wide generators and take no generator argument. An object that
    wraps such a trainer keeps a slot and runs every call into the trainer
    inside :meth:`active`: the slot's states are swapped in on entry and saved
    back, with the caller's restored, on exit. The owner's stream is then the
    one it would have had alone (same numbers as running it by itself), and
    the caller's stream never sees its draws. Nested use is a no-op.

    Examples
    --------
    >>> slot = GlobalRNGSlot()
    >>> before = torch.get_rng_state()
    >>> with slot.active():
    ...     a = torch.rand(1)
    >>> torch.equal(before, torch.get_rng_state())  # the caller's stream is untouched
    True
    >>> with slot.active():
    ...     b = torch.rand(1)   # continues the slot's stream: a new draw, not ``a`` again
    >>> bool(a != b) and torch.equal(before, torch.get_rng_state())
    True
    """

    def __init__(self) -> None:
        self._states: tuple | None = None
        self._depth = 0

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        caller = _global_states()
        if self._states is not None:
            _set_global_states(self._states)
        self._depth = 1
        try:
            yield
        finally:
            self._depth = 0
            self._states = _global_states()
            _set_global_states(caller)
