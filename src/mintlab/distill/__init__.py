"""Dataset and knowledge distillation at small scale.

Papers: ``kd-dd-survey``, ``vq-soft-labels``, ``d3m``, ``coreset-expansion``.

* data and models: :func:`load_distill_data` (digits, 100-class glyphs),
  :class:`ConvNet`, :func:`train_teacher` (cached), :func:`augment`;
* a distilled set and its exact storage: :class:`DistilledSet`; one
  evaluation protocol, :func:`evaluate` (a student trained from scratch);
* knowledge distillation: :func:`kd_loss`, :class:`HintLoss`,
  :func:`relational_kd_loss`;
* dataset distillation: :func:`random_subset`, :func:`herding`,
  :func:`gradient_matching`, :func:`distribution_matching`, :func:`relabel`;
* soft-label codecs: :class:`RawLabels`, :class:`TopKLabels`,
  :class:`QuantizedLabels`, :class:`PCALabels`, :class:`VQLabels`;
* generators: :func:`pretrain_generator`, :func:`d3m`,
  :func:`patch_coreset`, :func:`coreset_expansion`, :func:`bilinear_coreset`.
"""

from .coreset import bilinear_coreset, coreset_expansion, patch_coreset
from .data import DistilledSet, evaluate, quantize_images
from .dd import (
    distribution_matching,
    distribution_matching_loss,
    gradient_distance,
    gradient_matching,
    herding,
    random_subset,
    relabel,
    soft_labels_for_views,
)
from .generative import PromptVAE, SuperResVAE, d3m, pretrain_generator
from .kd import HintLoss, kd_loss, relational_kd_loss, train_student_kd
from .labels import PCALabels, QuantizedLabels, RawLabels, SoftLabelVQAE, TopKLabels, VQLabels
from .models import ConvNet, augment, load_distill_data, predict_proba, train_teacher

__all__ = [
    "load_distill_data", "ConvNet", "train_teacher", "augment", "predict_proba",
    "DistilledSet", "evaluate", "quantize_images",
    "kd_loss", "HintLoss", "relational_kd_loss", "train_student_kd",
    "random_subset", "herding", "gradient_matching", "distribution_matching", "relabel",
    "gradient_distance", "distribution_matching_loss", "soft_labels_for_views",
    "RawLabels", "TopKLabels", "QuantizedLabels", "PCALabels", "VQLabels", "SoftLabelVQAE",
    "pretrain_generator", "d3m", "PromptVAE", "SuperResVAE",
    "patch_coreset", "coreset_expansion", "bilinear_coreset",
]
