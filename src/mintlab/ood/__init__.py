"""Accuracy prediction under distribution shift from a model's probabilities (``cot``, ``cott``).

``fit(source_probs, source_labels)`` on labelled held-out source data, then
``predict_accuracy(target_probs)`` on an unlabelled target set; works with
probabilities from any model.
"""

from .accuracy import (
    COT,
    COTT,
    AverageConfidence,
    AverageThresholdedConfidence,
    DifferenceOfConfidences,
    apply_temperature,
    confidence_transport,
    fit_temperature,
)

__all__ = ["COT", "COTT", "AverageConfidence", "DifferenceOfConfidences",
           "AverageThresholdedConfidence", "fit_temperature", "apply_temperature",
           "confidence_transport"]
