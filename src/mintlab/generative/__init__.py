"""Generative models driven by transport.

* (Sinkhorn) drifting (``sinkhorn-drifting``): :func:`drift`, :func:`particle_flow`,
  :class:`DriftingGenerator`;
* mean flows with OT-paired noise (``transport-mean-flows``): :class:`MeanFlow`.
"""

from .drifting import DriftingGenerator, drift, particle_flow, sinkhorn_coupling
from .mean_flows import MeanFlow, pair_noise

__all__ = ["DriftingGenerator", "drift", "particle_flow", "sinkhorn_coupling", "MeanFlow",
           "pair_noise"]
