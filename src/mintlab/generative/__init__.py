"""Generative models driven by transport: (Sinkhorn) drifting (``sinkhorn-drifting``)."""

from .drifting import DriftingGenerator, drift, particle_flow, sinkhorn_coupling

__all__ = ["DriftingGenerator", "drift", "particle_flow", "sinkhorn_coupling"]
