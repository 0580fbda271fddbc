"""mintlab: fast, faithful implementations of fifty transport and learning papers.

Subpackages: :mod:`mintlab.transport` (distances and plans between two
measures), :mod:`mintlab.embed` (one measure in, a vector out),
:mod:`mintlab.ood` (accuracy prediction under shift),
:mod:`mintlab.registration` (point-cloud registration by partial transport),
:mod:`mintlab.generative` (transport-driven generative models),
:mod:`mintlab.compress` (models stored as a seed plus a few numbers),
:mod:`mintlab.scale` (the same embeddings and indexes on Dask),
:mod:`mintlab.datasets` (offline data), :mod:`mintlab.experiments` (the
papers' reproductions).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
