"""KG-FairDiff (``kg-fairdiff``): knowledge-graph-guided prompt refinement for fair
text-to-image generation.

:mod:`~.knowledge` (triple store and retrieval), :mod:`~.generation` (the
generator interface, an adapter for real models, and the documented offline
stand-in), :mod:`~.metrics` (Bias-P, Bias-W, ENS, the fairness loss),
:mod:`~.refine` (rewriters, the validator and the closed loop with its
termination bound).
"""

from .generation import AttributeGenerator, PipelineGenerator, StandInGenerator
from .knowledge import EXAMPLE_KG, Triple, TripleStore
from .metrics import bias_p, bias_report, bias_w, distribution, ens, fairness_loss, kl_divergence
from .refine import (
    FIXED_TEMPLATE,
    MiniLMFidelity,
    RefinementResult,
    TemplateRewriter,
    TextGenerationRewriter,
    Validator,
    fixed_template,
    refine_prompt,
)

__all__ = ["AttributeGenerator", "PipelineGenerator", "StandInGenerator", "Triple",
           "TripleStore", "EXAMPLE_KG", "bias_p", "bias_w", "ens", "kl_divergence",
           "distribution", "fairness_loss", "bias_report", "TemplateRewriter",
           "TextGenerationRewriter", "MiniLMFidelity", "Validator", "RefinementResult",
           "refine_prompt", "fixed_template", "FIXED_TEMPLATE"]
