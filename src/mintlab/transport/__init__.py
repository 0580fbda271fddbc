"""Transport between two measures: costs and plans.

Papers: ``sopt``, ``lcot`` (1D kernels in :mod:`mintlab.transport.line`).
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
]
