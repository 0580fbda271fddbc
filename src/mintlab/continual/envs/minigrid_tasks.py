"""MiniGrid task families for lifelong reinforcement learning (``lrl-modulating-masks``).

:class:`MiniGridTasks` names a sequence of small MiniGrid environments (each
environment id is one task) that share one observation and action format, so
one network (or one masked backbone) can act in all of them:

* **observation**: the agent's egocentric 7 x 7 partial view, each cell coded
  as a one-hot object type (11 MiniGrid object kinds) and a one-hot door state
  (open, closed, locked), flattened to 686 floats in {0, 1};
* **actions**: a fixed subset of MiniGrid's actions, by default ``left``,
  ``right``, ``forward``, ``pickup`` and ``toggle`` (what Empty, LavaGap and
  DoorKey tasks need).

MiniGrid's own reward applies: ``1 - 0.9 * steps / max_steps`` on reaching
the goal, 0 otherwise, so every task's return lies in [0, 1).
``minigrid`` is an optional dependency (``pip install mintlab[rl]``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..._validation import check_int

__all__ = ["MiniGridTasks", "MINIGRID_ACTIONS", "encode_minigrid_view"]

#: MiniGrid's action indices by name.
MINIGRID_ACTIONS = {"left": 0, "right": 1, "forward": 2, "pickup": 3, "drop": 4, "toggle": 5,
                    "done": 6}
_N_OBJECTS = 11  # unseen, empty, wall, floor, door, key, ball, box, goal, lava, agent
_N_STATES = 3  # open, closed, locked
_VIEW = 7


def _require_minigrid():
    try:
        import minigrid  # noqa: F401
    except ImportError as e:  # pragma: no cover - depends on the installation
        raise ImportError("MiniGrid tasks need the optional dependency minigrid: "
                          "pip install mintlab[rl]") from e


def encode_minigrid_view(image: np.ndarray) -> np.ndarray:
    """One-hot code of MiniGrid's ``(7, 7, 3)`` view (object, colour, state), colour dropped.

    Parameters
    ----------
    image : ndarray of shape (..., 7, 7, 3)
        MiniGrid's ``obs["image"]``.

    Returns
    -------
    ndarray of shape (..., 686), float32
        Per cell 11 object-type indicators, then 3 door-state indicators.

    Examples
    --------
    >>> img = np.zeros((7, 7, 3), dtype=np.uint8)
    >>> img[..., 0] = 2  # walls everywhere
    >>> v = encode_minigrid_view(img)
    >>> v.shape, float(v.sum())
    ((686,), 49.0)
    """
    img = np.asarray(image)
    if img.ndim < 3 or img.shape[-3:] != (_VIEW, _VIEW, 3):
        raise ValueError(f"image must have shape (..., 7, 7, 3), got {img.shape}")
    obj = np.clip(img[..., 0].astype(np.int64), 0, _N_OBJECTS - 1)
    state = np.clip(img[..., 2].astype(np.int64), 0, _N_STATES - 1)
    is_door = obj == 4
    out = np.zeros(img.shape[:-3] + (_VIEW, _VIEW, _N_OBJECTS + _N_STATES), np.float32)
    np.put_along_axis(out, obj[..., None], 1.0, axis=-1)
    st = np.zeros(img.shape[:-3] + (_VIEW, _VIEW, _N_STATES), np.float32)
    np.put_along_axis(st, state[..., None], 1.0, axis=-1)
    out[..., _N_OBJECTS:] = st * is_door[..., None]
    return out.reshape(img.shape[:-3] + (-1,))


def _wrapper_class():
    import gymnasium as gym
    from gymnasium import spaces

    class _Flat(gym.Wrapper):
        """Flat one-hot view and a subset of actions."""

        def __init__(self, env, actions):
            super().__init__(env)
            self._actions = np.asarray(actions, np.int64)
            self.observation_space = spaces.Box(0.0, 1.0, (_VIEW * _VIEW
                                                            * (_N_OBJECTS + _N_STATES),),
                                                np.float32)
            self.action_space = spaces.Discrete(len(actions))

        def reset(self, **kw):
            obs, info = self.env.reset(**kw)
            return encode_minigrid_view(obs["image"]), info

        def step(self, action):
            obs, r, term, trunc, info = self.env.step(int(self._actions[int(action)]))
            return encode_minigrid_view(obs["image"]), float(r), term, trunc, info

    return _Flat


class MiniGridTasks:
    """A family of MiniGrid tasks with one observation and action format.

    Parameters
    ----------
    env_ids : sequence of str
        Registered MiniGrid environment ids; task ``i`` of a sequence may be
        given by its id or its index here.
    actions : sequence of str, default ("left", "right", "forward", "pickup", "toggle")
        The actions the agent may take (names of :data:`MINIGRID_ACTIONS`).
    max_steps : int, optional
        Episode step limit for every task (default: each environment's own).

    Examples
    --------
    >>> fam = MiniGridTasks(["MiniGrid-Empty-5x5-v0", "MiniGrid-LavaGapS5-v0"])
    >>> fam.check_task(1)
    'MiniGrid-LavaGapS5-v0'
    >>> fam.observation_shape, fam.n_actions
    ((686,), 5)
    """

    def __init__(self, env_ids: Sequence[str],
                 actions: Sequence[str] = ("left", "right", "forward", "pickup", "toggle"),
                 max_steps: int | None = None) -> None:
        _require_minigrid()
        import gymnasium as gym
        import minigrid  # noqa: F401  (registers the environments)

        if isinstance(env_ids, str) or not isinstance(env_ids, Sequence) or not env_ids:
            raise TypeError(f"env_ids must be a non-empty sequence of MiniGrid environment ids, "
                            f"got {env_ids!r}")
        for i, e in enumerate(env_ids):
            if not isinstance(e, str) or e not in gym.registry:
                raise ValueError(f"env_ids[{i}] must be a registered MiniGrid environment id, "
                                 f"got {e!r}")
        if isinstance(actions, str) or not isinstance(actions, Sequence) or not actions:
            raise TypeError(f"actions must be a non-empty sequence of action names, got "
                            f"{actions!r}")
        for a in actions:
            if a not in MINIGRID_ACTIONS:
                raise ValueError(f"actions must be names among {sorted(MINIGRID_ACTIONS)}, "
                                 f"got {a!r}")
        self.env_ids = tuple(env_ids)
        self.actions = tuple(actions)
        self.max_steps = None if max_steps is None else check_int(max_steps, "max_steps",
                                                                  minimum=1)
        self.observation_shape = (_VIEW * _VIEW * (_N_OBJECTS + _N_STATES),)
        self.n_actions = len(self.actions)

    def __repr__(self) -> str:
        return f"MiniGridTasks({list(self.env_ids)!r}, actions={list(self.actions)!r})"

    def check_task(self, task: Any, name: str = "task") -> str:
        """The environment id of ``task`` (an id of the family or its index)."""
        if isinstance(task, str):
            if task not in self.env_ids:
                raise ValueError(f"{name} must be one of {list(self.env_ids)}, got {task!r}")
            return task
        if isinstance(task, int | np.integer) and not isinstance(task, bool):
            if not 0 <= int(task) < len(self.env_ids):
                raise ValueError(f"{name} must be an index in [0, {len(self.env_ids)}) or an "
                                 f"environment id, got {task}")
            return self.env_ids[int(task)]
        raise TypeError(f"{name} must be a MiniGrid environment id or an index, got "
                        f"{type(task).__name__}")

    def make_env(self, task: Any, seed: int | None = None):
        """One wrapped Gymnasium environment of ``task`` (reset with ``seed`` on first use)."""
        import gymnasium as gym

        task = self.check_task(task)
        base = (gym.make(task) if self.max_steps is None
                else gym.make(task, max_steps=self.max_steps))
        env = _wrapper_class()(base, [MINIGRID_ACTIONS[a] for a in self.actions])
        if seed is not None:
            env.reset(seed=check_int(seed, "seed", minimum=0))
        return env

    def vec_env(self, task: Any, n_envs: int, seed: int = 0):
        """``n_envs`` copies of ``task`` as a Stable-Baselines3 ``VecEnv`` (episode statistics
        in ``info["episode"]``); copy ``i`` is seeded with ``seed + i``."""
        from stable_baselines3.common.monitor import Monitor
        from stable_baselines3.common.vec_env import DummyVecEnv

        n_envs = check_int(n_envs, "n_envs", minimum=1)
        seed = check_int(seed, "seed", minimum=0)
        task = self.check_task(task)
        venv = DummyVecEnv([(lambda: Monitor(self.make_env(task))) for _ in range(n_envs)])
        venv.seed(seed)
        return venv

    def optimal_return(self, task: Any) -> float:
        """An upper bound of the return (1: MiniGrid's reward before its step discount)."""
        self.check_task(task)
        return 1.0

    def evaluate(self, predict: Callable, task: Any, *, n_episodes: int = 16,
                 seed: int = 0) -> float:
        """Mean return of ``predict(obs) -> actions`` over ``n_episodes`` episodes of ``task``
        (episode ``i`` starts from the layout of seed ``seed + i``)."""
        n = check_int(n_episodes, "n_episodes", minimum=1)
        seed = check_int(seed, "seed", minimum=0)
        envs = [self.make_env(task) for _ in range(n)]
        obs = np.stack([e.reset(seed=seed + i)[0] for i, e in enumerate(envs)])
        ret = np.zeros(n)
        alive = np.ones(n, bool)
        while alive.any():
            idx = np.flatnonzero(alive)
            acts = np.asarray(predict(obs[idx])).reshape(-1)
            for k, i in enumerate(idx):
                o, r, term, trunc, _ = envs[i].step(int(acts[k]))
                ret[i] += r
                obs[i] = o
                if term or trunc:
                    alive[i] = False
        return float(ret.mean())
