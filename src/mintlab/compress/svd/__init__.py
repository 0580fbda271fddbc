"""Post-training low-rank compression by whitened SVD (svd-llm, zs-svd, io-svd, prehab).

:func:`compress_model` is the one entry point (methods ``svd``, ``asvd``,
``svd-llm``, ``zs-svd``, ``io-svd``, with ``io-svd``'s hybrid 8-bit path);
:func:`prehab` is the low-rank pre-conditioning fine-tune run before it, and
:func:`finetune` the recovery ("rehab") fine-tune after it.
"""

from ._calib import (
    LayerStats,
    Objective,
    causal_lm_objective,
    classification_objective,
    collect_statistics,
    find_linear_layers,
)
from .layers import LowRankLinear
from .methods import (
    METHODS,
    CompressionReport,
    Whitening,
    compress_model,
    quantize_int8_per_vector,
    uniform_rank,
    whitened_decomposition,
    whitening_factor,
)
from .prehab import effective_rank, finetune, prehab, stable_rank

__all__ = ["compress_model", "CompressionReport", "METHODS", "LowRankLinear", "Objective",
           "causal_lm_objective", "classification_objective", "collect_statistics",
           "find_linear_layers", "LayerStats", "uniform_rank", "whitened_decomposition",
           "quantize_int8_per_vector", "whitening_factor", "Whitening", "prehab", "finetune",
           "stable_rank", "effective_rank"]
