"""Transport between two measures: costs and plans.

Papers: ``sopt``, ``lcot`` (1D kernels in :mod:`mintlab.transport.line`; sliced
distances in :mod:`mintlab.transport.sliced`).
"""

from .exact import ExactPartialTransport, emd, emd2, partial_wasserstein_lp
from .line import (
    MonotonePlan,
    PartialTransport1D,
    circle_wasserstein,
    partial_wasserstein_1d,
    quantile_function,
    wasserstein_1d,
    wasserstein_1d_plan,
)
from .sliced import sliced_partial_wasserstein, sliced_wasserstein_distance
from .slicers import random_directions

__all__ = [
    "wasserstein_1d",
    "quantile_function",
    "wasserstein_1d_plan",
    "MonotonePlan",
    "partial_wasserstein_1d",
    "PartialTransport1D",
    "circle_wasserstein",
    "emd",
    "emd2",
    "partial_wasserstein_lp",
    "ExactPartialTransport",
    "random_directions",
    "sliced_wasserstein_distance",
    "sliced_partial_wasserstein",
]
