"""The fifty papers mintlab implements: slug, family and title.

The slug is the paper's name everywhere in the code base (experiment module,
tests, docs). The list is known to the registry before an experiment exists,
so ``mintlab list`` can show what is still planned.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Paper", "PAPERS", "FAMILIES"]


@dataclass(frozen=True)
class Paper:
    slug: str
    family: str
    title: str


_T = "transport"
_S = "sets, graphs & distributions"
_A = "attention"
_G = "generative"
_C = "compression"
_L = "continual & lifelong learning"
_D = "distillation"
_P = "applications"

PAPERS: tuple[Paper, ...] = tuple(
    Paper(*row)
    for row in [
        ("sopt", _T, "Sliced Optimal Partial Transport"),
        ("lopt", _T, "Linear Optimal Partial Transport Embedding"),
        ("ptlp", _T, "PTLp: Partial Transport Lp Distances"),
        ("lcot", _T, "LCOT: Linear Circular Optimal Transport"),
        ("s3w", _T, "Stereographic Spherical Sliced Wasserstein Distances"),
        ("lssot", _T, "Linear Spherical Sliced Optimal Transport: A Fast Metric for Comparing "
                      "Spherical Data"),
        ("pgw", _T, "Partial Gromov-Wasserstein Metric"),
        ("lpgw", _T, "Linear Partial Gromov-Wasserstein Embedding"),
        ("fpgw", _T, "Fused Partial Gromov-Wasserstein for Structured Objects"),
        ("min-gsgw", _T, "Min Generalized Sliced Gromov Wasserstein: A Scalable Path to Gromov "
                         "Wasserstein"),
        ("est-plans", _T, "Expected Sliced Transport Plans"),
        ("min-stp", _T, "Efficient Transferable Optimal Transport via Min-Sliced Transport Plans"),
        ("rethinking-sw", _T, "Understanding Learning with Sliced-Wasserstein Requires Rethinking "
                              "Informative Slices"),
        ("rcdt-ns", _T, "Radon Cumulative Distribution Transform Subspace Modeling for Image "
                        "Classification"),
        ("opt-registration", _T, "Partial Transport for Point-Cloud Registration"),
        ("slosh", _S, "SLOSH: Set LOcality Sensitive Hashing via Sliced-Wasserstein Embeddings"),
        ("wegl", _S, "Wasserstein Embedding for Graph Learning"),
        ("constrained-swe", _S, "Constrained Sliced Wasserstein Embedding"),
        ("emperor", _S, "EMPEROR: Efficient Moment-Preserving Representation of Distributions"),
        ("backbone-vs-pooling", _S, "Equivariant vs. Invariant Layers: A Comparison of Backbone "
                                    "and Pooling for Point Cloud Classification"),
        ("task-embedding", _S, "Wasserstein Task Embedding for Measuring Task Similarities"),
        ("cot", _S, "Predicting Out-of-Distribution Error with Confidence Optimal Transport"),
        ("cott", _S, "Characterizing Out-of-Distribution Error via Optimal Transport"),
        ("espformer", _A, "ESPFormer: Doubly-Stochastic Attention with Expected Sliced Transport "
                          "Plans"),
        ("lotformer", _A, "LOTFormer: Doubly-Stochastic Linear Attention via Low-Rank Optimal "
                          "Transport"),
        ("luna", _A, "LUNA: Linear Universal Neural Attention with Generalization Guarantees"),
        ("sinkhorn-drifting", _G, "Sinkhorn-Drifting Generative Models"),
        ("transport-mean-flows", _G, "Transport Based Mean Flows for Generative Modeling"),
        ("nola", _C, "NOLA: Compressing LoRA using Linear Combination of Random Basis"),
        ("pranc", _C, "PRANC: Pseudo RAndom Networks for Compacting Deep Models"),
        ("mcnc", _C, "MCNC: Manifold-Constrained Reparameterization for Neural Compression"),
        ("io-svd", _C, "IO-SVD: Input-Output Whitened SVD for Adaptive-Rank LLM Compression"),
        ("zs-svd", _C, "Zero Sum SVD: Balancing Loss Sensitivity for Low Rank LLM Compression"),
        ("prehab", _C, "Low-Rank Prehab: Preparing Neural Networks for SVD Compression"),
        ("conqur", _C, "ConQuR: Corner Aligned Activation Quantization via Optimized Rotations "
                       "for LLMs"),
        ("lifelong-metrics", _L, "A Domain-Agnostic Approach for Characterization of Lifelong "
                                 "Learning Systems"),
        ("sparse-hetero-dropout", _L, "Sparsity and Heterogeneous Dropout for Continual Learning "
                                      "in the Null Space of Neural Activations"),
        ("mtl-vs-cl", _L, "Is Multi-Task Learning an Upper Bound for Continual Learning?"),
        ("brainwash", _L, "BrainWash: A Poisoning Attack to Forget in Continual Learning"),
        ("covarnav", _L, "CovarNav: Machine Unlearning via Model Inversion and Covariance "
                         "Navigation"),
        ("lrl-modulating-masks", _L, "Lifelong Reinforcement Learning with Modulating Masks"),
        ("ct-graph", _L, "The Configurable Tree Graph (CT-graph): Measurable Problems in Partially "
                         "Observable and Distal Reward Environments for Lifelong Reinforcement "
                         "Learning"),
        ("mosaic", _L, "Policy Search, Retrieval, and Composition via Task Similarity in "
                       "Collaborative Agentic Systems"),
        ("vq-soft-labels", _D, "Vector-Quantized Soft Label Compression for Dataset Distillation"),
        ("d3m", _D, "One Category One Prompt: Dataset Distillation using Diffusion Models"),
        ("coreset-expansion", _D, "Diffusion-Augmented Coreset Expansion for Scalable Dataset "
                                  "Distillation"),
        ("kd-dd-survey", _D, "Knowledge Distillation and Dataset Distillation of Large Language "
                             "Models: Emerging Trends, Challenges, and Future Directions"),
        ("kg-fairdiff", _P, "KG-FairDiff: Knowledge Graph-Guided Prompt Refinement for "
                            "Demographically Fair Text-to-Image Generation"),
        ("surgical-gesture", _P, "Zero-shot Prompt-based Video Encoder for Surgical Gesture "
                                 "Recognition"),
        ("surgformer", _P, "SurgFormer: Scalable Learning of Organ Deformation with Resection "
                           "Support and Real-Time Inference"),
    ]
)

FAMILIES: tuple[str, ...] = (_T, _S, _A, _G, _C, _L, _D, _P)
