"""A drop-in for the POT functions mintlab implements: ``import mintlab.pot as ot``.

Every name here has POT's signature (positional order, keyword names,
defaults), POT's batching convention (1D solvers batch over trailing axes),
POT's return types (tuples, ``log=True`` dicts with POT's keys, numpy scalars
of the input's dtype) and POT's errors, and is computed by mintlab's
kernels (:mod:`mintlab.transport`). Each docstring names the mintlab
function that runs and any documented difference. Seeds may be an int, a
``np.random.RandomState``, a ``np.random.Generator``, a ``torch.Generator``
or None; random directions come from mintlab's generators, so they are not
the numbers POT draws for the same seed.

Names mintlab does not implement are not forwarded to POT: asking for one
raises ``AttributeError`` that lists the covered names; call ``ot.<name>``
from POT itself for those.

Examples
--------
>>> import numpy as np
>>> import mintlab.pot as ot
>>> X = np.random.RandomState(0).randn(30, 2)
>>> float(ot.sliced_wasserstein_distance(X, X, seed=np.random.RandomState(0)))
0.0
"""

from __future__ import annotations

from . import lp, partial, sliced
from ._compat import POTInputError
from .lp import (
    binary_search_circle,
    emd,
    emd2,
    linear_circular_ot,
    semidiscrete_wasserstein2_unif_circle,
    wasserstein_1d,
    wasserstein_circle,
)
from .sliced import (
    expected_sliced_plan,
    linear_sliced_wasserstein_sphere,
    max_sliced_wasserstein_distance,
    min_sliced_transport_plan,
    sliced_wasserstein_distance,
)

__all__ = [
    "emd",
    "emd2",
    "wasserstein_1d",
    "binary_search_circle",
    "wasserstein_circle",
    "semidiscrete_wasserstein2_unif_circle",
    "linear_circular_ot",
    "sliced_wasserstein_distance",
    "max_sliced_wasserstein_distance",
    "linear_sliced_wasserstein_sphere",
    "min_sliced_transport_plan",
    "expected_sliced_plan",
    "lp",
    "sliced",
    "partial",
    "POTInputError",
]


def _missing(module: str, name: str, covered) -> AttributeError:
    return AttributeError(
        f"{module} has no attribute {name!r}: mintlab implements only "
        f"{', '.join(sorted(covered))}; call POT's ot.{name} for the rest"
    )


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    raise _missing("mintlab.pot", name, [n for n in __all__ if n != "POTInputError"])


for _mod in (lp, sliced, partial):
    def _make(mod):
        def _getattr(name: str):
            if name.startswith("__"):
                raise AttributeError(name)
            raise _missing(mod.__name__, name, mod.__all__)
        return _getattr

    setattr(_mod, "__getattr__", _make(_mod))  # noqa: B010 (a module attribute)
del _mod
