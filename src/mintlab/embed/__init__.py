"""Embeddings: ONE measure in, a vector out (scikit-learn estimators).

Papers: ``lopt`` (:class:`LinearOptimalPartialTransport`, with
:class:`LinearOT`), ``lcot`` (:class:`LinearCircularOT`), ``lssot``
(:class:`LinearSphericalSlicedOT`), ``rcdt-ns`` (:class:`RadonCDT`,
:class:`NearestSubspaceClassifier`), ``slosh`` (:class:`SlicedWassersteinEmbedding`,
:class:`PoolingEmbedding`, :class:`FSPoolEmbedding`, :class:`SLOSH`), ``emperor``
(:class:`EMPEROR`), ``wegl`` (:class:`WEGL`), ``task-embedding`` (:class:`TaskEmbedding`), ``lpgw``
(:class:`LinearPartialGromovWasserstein`).

Each estimator takes ``X`` as a list of point sets (optionally
``(points, weights)`` pairs) or an array of shape ``(K, n, d)`` or
``(K, n)``; see :func:`mintlab.embed._measures.as_measures`.
"""

from .circular import LinearCircularOT, LinearSphericalSlicedOT
from .graphs import WEGL
from .gromov import LinearPartialGromovWasserstein, lpgw_distance
from .index import SLOSH
from .lot import LinearOptimalPartialTransport, LinearOT
from .moments import EMPEROR
from .rcdt import NearestSubspaceClassifier, RadonCDT
from .sliced import FSPoolEmbedding, PoolingEmbedding, SlicedWassersteinEmbedding
from .tasks import TaskEmbedding

__all__ = ["LinearOT", "LinearOptimalPartialTransport", "LinearCircularOT",
           "LinearSphericalSlicedOT", "RadonCDT", "NearestSubspaceClassifier",
           "SlicedWassersteinEmbedding", "PoolingEmbedding", "FSPoolEmbedding", "SLOSH",
           "EMPEROR", "WEGL",
           "TaskEmbedding", "LinearPartialGromovWasserstein", "lpgw_distance"]
