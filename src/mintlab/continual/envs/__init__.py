"""Reinforcement-learning environments for lifelong learning (``ct-graph``).

Importing this package registers ``mintlab/CTGraph-v0`` with Gymnasium, so
``gymnasium.make("mintlab/CTGraph-v0", config=..., task=...)`` works after
``import mintlab.continual.envs``.
"""

import gymnasium as gym

from .ctgraph import (
    CRASH,
    DECISION,
    END,
    HOME,
    WAIT,
    CTGraphConfig,
    CTGraphEnv,
    VecCTGraph,
    all_tasks,
    make_tasks,
    optimal_episode_length,
    optimal_return,
    random_policy_success,
    run_policy,
    steps_per_second,
    task_similarity,
)

ENV_ID = "mintlab/CTGraph-v0"
if ENV_ID not in gym.registry:
    gym.register(id=ENV_ID, entry_point="mintlab.continual.envs.ctgraph:CTGraphEnv")

__all__ = ["CTGraphConfig", "CTGraphEnv", "VecCTGraph", "all_tasks", "make_tasks",
           "task_similarity", "optimal_return", "optimal_episode_length",
           "random_policy_success", "run_policy", "steps_per_second", "ENV_ID", "HOME", "WAIT",
           "DECISION", "END", "CRASH"]
