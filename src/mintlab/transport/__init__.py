"""Transport between two measures: costs and plans.

Papers: ``sopt``, ``lcot`` (1D kernels in :mod:`mintlab.transport.line`),
``s3w``, ``rethinking-sw`` (slicers in :mod:`mintlab.transport.slicers`, sliced
distances in :mod:`mintlab.transport.sliced`), ``est-plans``, ``min-stp``
(plans from slices in :mod:`mintlab.transport.plans`), ``pgw`` (partial
Gromov–Wasserstein in :mod:`mintlab.transport.gromov`), ``min-gsgw`` (in
:mod:`mintlab.transport.sliced_gromov`).
"""

from .exact import ExactPartialTransport, emd, emd2, partial_wasserstein_lp
from .gromov import (
    PartialGWBarycenter,
    PartialGWResult,
    fused_partial_gromov_wasserstein,
    gromov_cost_matrix,
    partial_gromov_barycenter,
    partial_gromov_wasserstein,
)
from .line import (
    MonotonePlan,
    PartialTransport1D,
    circle_wasserstein,
    linear_circular_embedding,
    linear_circular_ot,
    partial_wasserstein_1d,
    quantile_function,
    wasserstein_1d,
    wasserstein_1d_plan,
)
from .plans import (
    MinSlicedPlan,
    SlicedPlan,
    expected_sliced_plan,
    min_sliced_plan,
    soft_sort_matrix,
)
from .signals import ptlp_distance, radon_cdt, sliced_ptlp_distance, tlp_distance
from .sliced import (
    energy_based_sliced_wasserstein_distance,
    generalized_sliced_wasserstein_distance,
    linear_sliced_wasserstein_sphere,
    max_sliced_wasserstein_distance,
    s3w_distance,
    sliced_partial_wasserstein,
    sliced_wasserstein_distance,
)
from .sliced_gromov import (
    AmortizedGSGWSlicer,
    MinGSGWResult,
    amortized_gsgw_plan,
    fit_amortized_gsgw,
    min_generalized_sliced_gromov_wasserstein,
)
from .slicers import (
    CircularSlicer,
    LinearSlicer,
    MLPSlicer,
    PolynomialSlicer,
    ResidualMLPSlicer,
    make_slicer,
    orthonormal_directions,
    random_directions,
    random_frames,
    random_rotations,
    sphere_to_circle,
    spherical_equidistant_map,
    stereographic_projection,
)

__all__ = [
    "wasserstein_1d",
    "quantile_function",
    "wasserstein_1d_plan",
    "MonotonePlan",
    "partial_wasserstein_1d",
    "PartialTransport1D",
    "circle_wasserstein",
    "linear_circular_embedding",
    "linear_circular_ot",
    "emd",
    "emd2",
    "partial_wasserstein_lp",
    "ExactPartialTransport",
    "random_directions",
    "orthonormal_directions",
    "random_rotations",
    "LinearSlicer",
    "PolynomialSlicer",
    "CircularSlicer",
    "MLPSlicer",
    "ResidualMLPSlicer",
    "make_slicer",
    "stereographic_projection",
    "spherical_equidistant_map",
    "sliced_wasserstein_distance",
    "max_sliced_wasserstein_distance",
    "generalized_sliced_wasserstein_distance",
    "energy_based_sliced_wasserstein_distance",
    "sliced_partial_wasserstein",
    "s3w_distance",
    "linear_sliced_wasserstein_sphere",
    "random_frames",
    "sphere_to_circle",
    "fused_partial_gromov_wasserstein",
    "PartialGWBarycenter",
    "partial_gromov_barycenter",
    "partial_gromov_wasserstein",
    "PartialGWResult",
    "gromov_cost_matrix",
    "min_generalized_sliced_gromov_wasserstein",
    "MinGSGWResult",
    "AmortizedGSGWSlicer",
    "amortized_gsgw_plan",
    "fit_amortized_gsgw",
    "ptlp_distance",
    "tlp_distance",
    "sliced_ptlp_distance",
    "radon_cdt",
    "expected_sliced_plan",
    "SlicedPlan",
    "min_sliced_plan",
    "MinSlicedPlan",
    "soft_sort_matrix",
]
