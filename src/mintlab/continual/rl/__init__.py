"""Lifelong reinforcement learning: modulating masks (``lrl-modulating-masks``) and MOSAIC
(``mosaic``) on PPO from Stable-Baselines3, on CT-graph and MiniGrid tasks."""

from .masks import (
    MaskedLinear,
    MaskedMLP,
    binary_masks,
    consolidate,
    mask_scores,
    masked_layers,
    set_community_masks,
    set_task,
)
from .mosaic import (
    MosaicAgent,
    MosaicCollective,
    MosaicResult,
    cosine_similarity,
    fit_sar_embedding,
    random_sar,
    sar_dataset,
)
from .ppo import (
    CTGraphVecEnv,
    FineTuneAgent,
    MaskAgent,
    MaskedActorCriticPolicy,
    MultiHeadActorCriticPolicy,
    MultiHeadAgent,
    PPOSettings,
    TaskRecord,
    evaluate_return,
    run_task_sequence,
)

__all__ = ["MaskedLinear", "MaskedMLP", "masked_layers", "set_task", "consolidate",
           "mask_scores", "binary_masks", "set_community_masks", "CTGraphVecEnv",
           "MaskedActorCriticPolicy", "MaskAgent", "FineTuneAgent", "MultiHeadAgent",
           "MultiHeadActorCriticPolicy", "PPOSettings", "TaskRecord",
           "evaluate_return", "run_task_sequence", "MosaicAgent", "MosaicCollective",
           "MosaicResult", "sar_dataset", "random_sar", "fit_sar_embedding", "cosine_similarity"]
