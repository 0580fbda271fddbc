"""Type aliases for mintlab's public API.

mintlab's functions take numpy arrays or torch tensors (and, where a sequence
of numbers makes sense, Python lists) and return the same kind they were
given. These aliases name those conventions so signatures read the same
everywhere and a type checker can follow them.

Examples
--------
>>> import numpy as np
>>> from mintlab.typing import ArrayLike, SeedLike
>>> def mean_of(x: ArrayLike, *, seed: SeedLike = None) -> float:
...     return float(np.mean(np.asarray(x)))
>>> mean_of([1.0, 2.0, 3.0])
2.0
"""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike
from typing import TypeAlias, TypeVar

import numpy as np
import torch

__all__ = ["ArrayLike", "Array", "ArrayT", "SeedLike", "DeviceLike", "PathLike_", "Number"]

#: A real scalar.
Number: TypeAlias = int | float | np.floating | np.integer

#: A numpy array or a torch tensor: what mintlab returns (the kind of the input).
Array: TypeAlias = np.ndarray | torch.Tensor

#: What mintlab accepts as array data: numpy arrays, torch tensors, nested
#: sequences of numbers, or scalars where the argument allows one.
ArrayLike: TypeAlias = (np.ndarray | torch.Tensor | Sequence[float] | Sequence[Sequence[float]]
                        | float | int)

#: An array type variable, for functions whose output kind follows the input's.
ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)

#: A source of randomness: ``None`` (fresh entropy), an integer seed, a numpy
#: ``RandomState`` or ``Generator`` (as POT and scikit-learn take), or a
#: ``torch.Generator`` (as torch takes). See :func:`mintlab.transport.make_generator`.
SeedLike: TypeAlias = (int | np.integer | np.random.RandomState | np.random.Generator
                       | torch.Generator | None)

#: A torch device or its name.
DeviceLike: TypeAlias = str | torch.device | None

#: A file-system path.
PathLike_: TypeAlias = "str | PathLike[str]"
