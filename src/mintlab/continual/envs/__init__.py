"""Reinforcement-learning environments for lifelong learning (``ct-graph``).

``gymnasium.make("mintlab/CTGraph-v0", config=..., task=...)`` works after
``import mintlab`` (the package registers it when Gymnasium is imported) and
after ``import mintlab.continual.envs``.
"""

import gymnasium as gym

from mintlab import _register_gym_envs

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
from .minigrid_tasks import MINIGRID_ACTIONS, MiniGridTasks, encode_minigrid_view

ENV_ID = "mintlab/CTGraph-v0"
_register_gym_envs(gym)

__all__ = ["CTGraphConfig", "CTGraphEnv", "VecCTGraph", "all_tasks", "make_tasks",
           "task_similarity", "optimal_return", "optimal_episode_length",
           "random_policy_success", "run_policy", "steps_per_second", "ENV_ID", "HOME", "WAIT",
           "DECISION", "END", "CRASH", "MiniGridTasks", "MINIGRID_ACTIONS",
           "encode_minigrid_view"]
