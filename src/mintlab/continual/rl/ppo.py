"""Lifelong PPO agents on Stable-Baselines3: a masked policy and a fine-tuned baseline.

:class:`MaskedActorCriticPolicy` is an SB3 ``ActorCriticPolicy`` whose trunk,
actor head and critic head are :class:`~mintlab.continual.rl.masks.MaskedLinear`
layers (``lrl-modulating-masks``): SB3's PPO trains whichever task's mask is
active, and parameters of other tasks get no gradient, so the optimiser
leaves them untouched. :class:`MaskAgent` drives it through a task sequence;
:class:`FineTuneAgent` is the single-network PPO baseline that forgets, and
:class:`MultiHeadAgent` the baseline with a shared trunk and one head per task.
Agents run on a :class:`~mintlab.continual.envs.CTGraphConfig` (tasks are
leaves; :class:`CTGraphVecEnv` hands a
:class:`~mintlab.continual.envs.VecCTGraph` to SB3 without a Python loop over
copies) or on a :class:`~mintlab.continual.envs.MiniGridTasks` family (tasks
are MiniGrid environment ids with one observation and action format).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.vec_env.base_vec_env import VecEnv
from torch import nn

from ..._random import GlobalRNGSlot
from ..._validation import check_int, check_nonnegative, check_positive, check_probability
from .._checks import check_bool, check_callable, item_list
from ..envs.ctgraph import (
    CTGraphConfig,
    TaskLike,
    VecCTGraph,
    _path,
    _task_code,
    run_policy,
)
from ..metrics import LifelongLog
from .masks import MaskedMLP, consolidate, mask_scores, set_community_masks, set_task, use_task

__all__ = ["CTGraphVecEnv", "MaskedActorCriticPolicy", "MaskAgent", "FineTuneAgent",
           "MultiHeadAgent", "PPOSettings", "evaluate_return", "TaskRecord", "run_task_sequence"]


def _check_hidden(hidden: Any, allow_empty: bool = False) -> tuple[int, ...]:
    out = tuple(check_int(h, "hidden[i]", minimum=1)
                for h in item_list(hidden, "hidden", "layer widths"))
    if not out and not allow_empty:
        raise ValueError("hidden must hold at least one width")
    return out


def _leaf_path(config: CTGraphConfig, task) -> tuple[int, ...]:
    return _path(config, _task_code(config, task))


def _is_minigrid(config: Any) -> bool:
    from ..envs.minigrid_tasks import MiniGridTasks

    return isinstance(config, MiniGridTasks)


def _check_config(config: Any) -> Any:
    if config is None:
        return CTGraphConfig()
    if not isinstance(config, CTGraphConfig) and not _is_minigrid(config):
        raise TypeError(f"config must be a CTGraphConfig or a MiniGridTasks, got "
                        f"{type(config).__name__}")
    return config


def _task_key(config: Any, task: Any, name: str = "task") -> Any:
    """The canonical form of ``task``: a leaf path (CT-graph) or an environment id (MiniGrid)."""
    if _is_minigrid(config):
        return config.check_task(task, name)
    return _path(config, _task_code(config, task, name))


def _optimal_return(config: Any, task: Any) -> float:
    if _is_minigrid(config):
        return config.optimal_return(task)
    from ..envs.ctgraph import optimal_return

    return optimal_return(config, task)


class CTGraphVecEnv(VecEnv):
    """A :class:`VecCTGraph` as a Stable-Baselines3 ``VecEnv`` (same-step autoreset).

    Episode returns and lengths of finished copies are reported in
    ``info["episode"]`` (SB3's Monitor convention), the last observation in
    ``info["terminal_observation"]`` and truncation in ``TimeLimit.truncated``.
    """

    def __init__(self, env: VecCTGraph) -> None:
        if not isinstance(env, VecCTGraph):
            raise TypeError(f"env must be a VecCTGraph, got {type(env).__name__}")
        self.env = env
        self.render_mode = None
        super().__init__(env.num_envs, env.single_observation_space, env.single_action_space)
        self._actions: np.ndarray | None = None

    def reset(self) -> np.ndarray:
        seed = self._seeds[0]
        obs, _ = self.env.reset(seed=seed)
        self._reset_seeds()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions).reshape(self.num_envs).astype(np.int64)

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        obs, r, term, trunc, info = self.env.step(self._actions)
        done = term | trunc
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        for i in np.flatnonzero(done):
            infos[i] = {"terminal_observation": info["final_obs"][i],
                        "TimeLimit.truncated": bool(trunc[i]),
                        "episode": {"r": float(info["episode_return"][i]),
                                    "l": int(info["episode_length"][i])}}
        return obs, r, done, infos

    def close(self) -> None:
        pass

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        if attr_name == "render_mode":
            return [None] * len(list(self._get_indices(indices)))
        return [getattr(self.env, attr_name)] * len(list(self._get_indices(indices)))

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        setattr(self.env, attr_name, value)

    def env_method(self, method_name: str, *method_args: Any, indices: Any = None,
                   **method_kwargs: Any) -> list[Any]:
        out = getattr(self.env, method_name)(*method_args, **method_kwargs)
        return [out] * len(list(self._get_indices(indices)))

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False] * len(list(self._get_indices(indices)))


class _MaskedExtractor(nn.Module):
    """Shared masked trunk: SB3's ``mlp_extractor`` contract (latent_dim_pi / latent_dim_vf)."""

    def __init__(self, features_dim, hidden, n_tasks, linear_comb, n_community, seed):
        super().__init__()
        self.trunk = MaskedMLP((features_dim, *hidden), n_tasks, linear_comb=linear_comb,
                               n_community=n_community, seed=seed)
        self.latent_dim_pi = self.latent_dim_vf = hidden[-1]

    def forward(self, features):
        h = self.trunk(features)
        return h, h

    def forward_actor(self, features):
        return self.trunk(features)

    def forward_critic(self, features):
        return self.trunk(features)


class MaskedActorCriticPolicy(ActorCriticPolicy):
    """SB3 actor-critic policy built from masked layers (``lrl-modulating-masks``).

    Extra keyword arguments (through PPO's ``policy_kwargs``): ``n_tasks``,
    ``hidden`` (trunk widths, default ``(200, 200, 200)`` as in the paper), ``linear_comb``,
    ``n_community``, ``backbone_seed``. Every layer, heads included, is a
    :class:`~mintlab.continual.rl.masks.MaskedLinear` without bias, as in the
    paper; only mask scores (and the combination betas) are trainable.
    """

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space,
                 lr_schedule: Callable[[float], float], *, n_tasks: int = 1,
                 hidden: Sequence[int] = (200, 200, 200), linear_comb: bool = False,
                 n_community: int = 0, backbone_seed: int = 0, **kwargs):
        self.n_tasks = check_int(n_tasks, "n_tasks", minimum=1)
        self.hidden = tuple(check_int(h, "hidden[i]", minimum=1) for h in hidden)
        if not self.hidden:
            raise ValueError("hidden must hold at least one width")
        self.linear_comb = check_bool(linear_comb, "linear_comb")
        self.n_community = check_int(n_community, "n_community", minimum=0)
        self.backbone_seed = check_int(backbone_seed, "backbone_seed", minimum=0)
        if not isinstance(observation_space, spaces.Box):
            raise TypeError("observation_space must be a gymnasium Box space, got "
                            f"{type(observation_space).__name__}")
        if not isinstance(action_space, spaces.Discrete):
            raise TypeError("action_space must be a gymnasium Discrete space "
                            f"(MaskedActorCriticPolicy picks one of n actions), got "
                            f"{type(action_space).__name__}")
        check_callable(lr_schedule, "lr_schedule")
        kwargs["ortho_init"] = False
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)

    def _build_mlp_extractor(self) -> None:
        # SB3 annotates mlp_extractor as MlpExtractor; any module with its contract works
        self.mlp_extractor = _MaskedExtractor(  # type: ignore[assignment]
            self.features_dim, self.hidden, self.n_tasks, self.linear_comb, self.n_community,
            self.backbone_seed)

    def _build(self, lr_schedule) -> None:
        super()._build(lr_schedule)
        h = self.hidden[-1]
        n_actions = int(cast(spaces.Discrete, self.action_space).n)
        self.action_net = MaskedMLP((h, n_actions), self.n_tasks,
                                    seed=self.backbone_seed + 100, activate_last=False,
                                    linear_comb=self.linear_comb, n_community=self.n_community)
        # SB3 annotates value_net as nn.Linear; any module mapping latents to one value works
        self.value_net = MaskedMLP(  # type: ignore[assignment]
            (h, 1), self.n_tasks, seed=self.backbone_seed + 200, activate_last=False,
            linear_comb=self.linear_comb, n_community=self.n_community)
        # SB3 types optimizer_class as type[Optimizer], whose stub constructor takes no lr
        self.optimizer = self.optimizer_class(self.parameters(),  # type: ignore[call-arg]
                                              lr=lr_schedule(1), **self.optimizer_kwargs)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(n_tasks=self.n_tasks, hidden=self.hidden, linear_comb=self.linear_comb,
                    n_community=self.n_community, backbone_seed=self.backbone_seed)
        return data


@dataclass(frozen=True)
class PPOSettings:
    """PPO hyper-parameters (Stable-Baselines3 names).

    The defaults suit small CT-graphs: 16 copies x 64 steps per rollout, 4
    epochs of minibatches of 256, Adam, entropy bonus 0.05.
    """

    n_envs: int = 16
    n_steps: int = 64
    batch_size: int = 256
    n_epochs: int = 4
    learning_rate: float = 3e-3
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.05
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("n_envs", "n_steps", "batch_size", "n_epochs"):
            check_int(getattr(self, name), name, minimum=1)
        for name in ("learning_rate", "clip_range"):  # SB3 also takes a schedule here
            v = getattr(self, name)
            if not callable(v):
                check_positive(v, name)
        check_probability(self.gamma, "gamma")
        check_probability(self.gae_lambda, "gae_lambda")
        check_nonnegative(self.ent_coef, "ent_coef")
        check_nonnegative(self.vf_coef, "vf_coef")
        check_positive(self.max_grad_norm, "max_grad_norm")
        if not isinstance(self.extra, dict):
            raise TypeError(f"extra must be a dict of further PPO arguments, got "
                            f"{type(self.extra).__name__}")

    def ppo_kwargs(self) -> dict[str, Any]:
        return dict(n_steps=self.n_steps, batch_size=self.batch_size, n_epochs=self.n_epochs,
                    learning_rate=self.learning_rate, gamma=self.gamma,
                    gae_lambda=self.gae_lambda, clip_range=self.clip_range,
                    ent_coef=self.ent_coef, vf_coef=self.vf_coef,
                    max_grad_norm=self.max_grad_norm, **self.extra)


def evaluate_return(predict: Callable, config: Any, task: TaskLike, *,
                    n_episodes: int = 32, seed: int = 0) -> float:
    """Mean return of ``predict(obs) -> actions`` on ``task`` over ``n_episodes`` episodes
    (``config`` a :class:`CTGraphConfig` or a
    :class:`~mintlab.continual.envs.minigrid_tasks.MiniGridTasks`)."""
    check_callable(predict, "predict")
    if _is_minigrid(config):
        return config.evaluate(predict, task, n_episodes=n_episodes, seed=seed)
    n_envs = min(check_int(n_episodes, "n_episodes", minimum=1), 64)
    env = VecCTGraph(config, n_envs, tasks=task, seed=seed)
    rets, _ = run_policy(env, predict, n_episodes)
    return float(rets.mean())


@dataclass
class TaskRecord:
    """What happened while an agent learned one task.

    ``curve`` holds ``(steps, evaluated return)`` pairs; ``steps_to_threshold``
    is the first number of steps at which the evaluated return reached the
    threshold (``None`` if it never did).
    """

    task_id: int
    task: Any
    steps: int
    seconds: float
    curve: list = field(default_factory=list)
    steps_to_threshold: int | None = None


class _EvalCallback(BaseCallback):
    def __init__(self, agent, task_id, task, every, threshold, n_episodes, seed, record,
                 stop_at_threshold, deterministic=True):
        super().__init__()
        self.deterministic = deterministic
        self.agent, self.task_id, self.task = agent, task_id, task
        self.every, self.threshold, self.n_episodes = every, threshold, n_episodes
        self.seed, self.record, self.stop = seed, record, stop_at_threshold
        self._next = every
        self._start = None

    def _on_training_start(self):
        self._start = self.num_timesteps

    def _on_step(self) -> bool:
        done = self.num_timesteps - self._start
        if done < self._next:
            return True
        self._next += self.every
        ret = self.agent.evaluate(self.task_id, self.task, n_episodes=self.n_episodes,
                                  seed=self.seed, deterministic=self.deterministic)
        steps = self.record.steps + done
        self.record.curve.append((steps, ret))
        if self.threshold is not None and ret >= self.threshold \
                and self.record.steps_to_threshold is None:
            self.record.steps_to_threshold = steps
            if self.stop:
                return False
        return True


class _ProgressCallback(BaseCallback):
    """A tqdm bar over environment steps."""

    def __init__(self, total: int, desc: str):
        super().__init__()
        self.total, self.desc = total, desc
        self.bar: Any = None

    def _on_training_start(self):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=self.total, desc=self.desc, leave=False)

    def _on_step(self) -> bool:
        self.bar.update(self.training_env.num_envs)
        return True

    def _on_training_end(self):
        self.bar.close()


def _own_rng(method: Callable) -> Callable:
    """Run an agent method with the agent's own global-RNG slot swapped in."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._rng.active():
            return method(self, *args, **kwargs)

    return wrapper


class _Agent:
    """Common PPO driver: one SB3 model, one vectorised CT-graph, task by task.

    Stable-Baselines3 seeds and draws from the process-wide torch / numpy /
    ``random`` generators. Each agent keeps its own copy of those states
    (:class:`mintlab._random.GlobalRNGSlot`) and swaps it in around every call
    into SB3, so an agent's run is the same whether or not other agents (or
    the caller) draw random numbers in between, and the caller's generators
    are left as they were.
    """

    model: PPO

    def __init__(self, config: Any, settings: PPOSettings | None, seed: int,
                 device: str | torch.device):
        self.config = _check_config(config)
        self.settings = settings if settings is not None else PPOSettings()
        if not isinstance(self.settings, PPOSettings):
            raise TypeError(f"settings must be a PPOSettings, got {type(settings).__name__}")
        self.seed = check_int(seed, "seed", minimum=0)
        self._rng = GlobalRNGSlot()
        self.env: VecCTGraph | None = None
        if _is_minigrid(self.config):
            self.vec_env = self.config.vec_env(0, self.settings.n_envs, seed=self.seed)
        else:
            self.env = VecCTGraph(self.config, self.settings.n_envs, tasks=0, seed=self.seed)
            self.vec_env = CTGraphVecEnv(self.env)
        self.device = device
        self.records: list[TaskRecord] = []
        self.total_steps = 0
        self._current: tuple[int, tuple] | None = None

    def _select(self, task_id: int) -> None:
        pass

    @_own_rng
    def predict(self, obs: np.ndarray, task_id: int | None = None, deterministic: bool = True):
        """Actions for a batch of observations under ``task_id``'s policy."""
        if task_id is not None:
            self._select(task_id)
        actions, _ = self.model.predict(obs, deterministic=deterministic)
        return actions

    @_own_rng
    def evaluate(self, task_id: int, task, *, n_episodes: int = 32, deterministic: bool = True,
                 seed: int = 0) -> float:
        """Mean return on ``task`` with the policy of ``task_id`` (greedy by default)."""
        prev = self._current
        self._select(task_id)
        try:
            return evaluate_return(lambda o: self.predict(o, deterministic=deterministic),
                                   self.config, task, n_episodes=n_episodes, seed=seed)
        finally:
            if prev is not None:
                self._select(prev[0])

    @_own_rng
    def learn(self, task_id: int, task, steps: int, *, eval_every: int | None = None,
              threshold: float | None = None, eval_episodes: int = 32,
              stop_at_threshold: bool = False, progress: bool = False,
              eval_deterministic: bool = True) -> TaskRecord:
        """Train on ``task`` (with the policy slot ``task_id``) for ``steps`` environment steps.

        Steps are counted over all environment copies and rounded up to whole
        PPO rollouts (``n_envs * n_steps``). Calling again with the same
        ``task_id`` continues the task; another ``task_id`` ends the current
        task first. With ``eval_every``, the greedy policy is evaluated every
        that many steps and the record's ``steps_to_threshold`` set when the
        return first reaches ``threshold`` (training stops there with
        ``stop_at_threshold``; ``eval_deterministic=False`` evaluates the sampling policy
        instead of the greedy one). ``progress`` shows a tqdm bar.
        """
        steps = check_int(steps, "steps", minimum=1)
        task_id = check_int(task_id, "task_id", minimum=0)
        key = _task_key(self.config, task)
        current = self._current
        same = current is not None and current[0] == task_id
        if current is not None and same and key != current[1]:
            raise ValueError(f"task_id {task_id} is in training on task {current[1]}; "
                             f"call end_task() before giving it another task ({task})")
        if not same:
            if self.env is not None:
                self.env.set_tasks(key)
            else:
                self.vec_env = self.config.vec_env(key, self.settings.n_envs,
                                                   seed=self.seed + len(self.records))
                self.model.set_env(self.vec_env)
            self._begin(task_id)
            self.records.append(TaskRecord(task_id, key, 0, 0.0))
        self._current = (task_id, key)
        rec = self.records[-1]
        cb: BaseCallback | None = None
        if eval_every is not None:
            cb = _EvalCallback(self, task_id, task, check_int(eval_every, "eval_every",
                                                               minimum=1),
                               threshold, eval_episodes, self.seed + 1000, rec,
                               stop_at_threshold, check_bool(eval_deterministic,
                                                             "eval_deterministic"))
        if progress:
            bar = _ProgressCallback(steps, f"task {task_id}")
            cb = bar if cb is None else CallbackList([cb, bar])
        t0 = time.perf_counter()
        before = self.model.num_timesteps
        self.model.learn(steps, callback=cb, reset_num_timesteps=not same)
        done = self.model.num_timesteps - before if same else self.model.num_timesteps
        rec.steps += done
        rec.seconds += time.perf_counter() - t0
        self.total_steps += done
        return rec

    def _begin(self, task_id: int) -> None:
        pass

    @_own_rng
    def end_task(self) -> None:
        """Close the current task (masks consolidate; the baseline has nothing to do)."""
        self._current = None


class MaskAgent(_Agent):
    """A lifelong PPO agent with one modulating mask per task (``lrl-modulating-masks``).

    Parameters
    ----------
    config : CTGraphConfig or MiniGridTasks
        The environment all tasks share (CT-graph tasks differ in the rewarded
        leaf; MiniGrid tasks are environment ids of one
        :class:`~mintlab.continual.envs.minigrid_tasks.MiniGridTasks` family).
    n_tasks : int
        Mask slots.
    linear_comb : bool, default False
        MASK LC: a new task starts from a learned combination of the masks of
        the tasks learned so far (MASK RI, the default, starts from random
        scores).
    hidden : tuple of int, default (200, 200, 200)
    n_community : int, default 0
        Slots for masks imported from other agents (``mosaic``).
    backbone_seed : int, default 0
        Seed of the frozen random weights (agents that exchange masks share it).
    settings : PPOSettings, optional
    seed : int, default 0
        Seeds PPO and the environment copies.

    Examples
    --------
    >>> from mintlab.continual.envs import CTGraphConfig
    >>> agent = MaskAgent(CTGraphConfig(depth=1), n_tasks=2, seed=0)
    >>> rec = agent.learn(0, (1,), steps=1024)
    >>> agent.end_task()
    >>> rec.steps
    1024
    """

    def __init__(self, config: CTGraphConfig | None = None, n_tasks: int = 4, *,
                 linear_comb: bool = False, hidden: Sequence[int] = (200, 200, 200),
                 n_community: int = 0, backbone_seed: int = 0,
                 settings: PPOSettings | None = None, seed: int = 0,
                 device: str | torch.device = "cpu") -> None:
        super().__init__(config, settings, seed, device)
        self.n_tasks = check_int(n_tasks, "n_tasks", minimum=1)
        linear_comb = check_bool(linear_comb, "linear_comb")
        hidden = _check_hidden(hidden)
        n_community = check_int(n_community, "n_community", minimum=0)
        backbone_seed = check_int(backbone_seed, "backbone_seed", minimum=0)
        self.learned: set[int] = set()
        with self._rng.active():
            self.model = PPO(MaskedActorCriticPolicy, self.vec_env, seed=self.seed, device=device,
                             verbose=0,
                             policy_kwargs=dict(n_tasks=self.n_tasks, hidden=tuple(hidden),
                                                linear_comb=linear_comb, n_community=n_community,
                                                backbone_seed=backbone_seed),
                             **self.settings.ppo_kwargs())
        self._active: int | None = None

    @property
    def policy(self) -> MaskedActorCriticPolicy:
        return cast(MaskedActorCriticPolicy, self.model.policy)

    def _select(self, task_id: int) -> None:
        task_id = check_int(task_id, "task_id")
        if not 0 <= task_id < self.n_tasks:
            raise ValueError(f"task_id must lie in [0, {self.n_tasks}), got {task_id}")
        if self._active == task_id:
            return
        use_task(self.policy, task_id)
        self._active = task_id

    def _begin(self, task_id: int) -> None:
        if self._current is not None:
            self.end_task()
        set_task(self.policy, task_id)
        self._active = task_id

    @_own_rng
    def end_task(self) -> None:
        """Consolidate the current task's mask (it no longer changes)."""
        if self._current is not None:
            consolidate(self.policy, self._current[0])
            self.learned.add(self._current[0])
        super().end_task()

    def copy_masks_from(self, other: MaskAgent) -> None:
        """Take ``other``'s masks, combination weights and learned tasks (same shapes needed):
        two variants can then continue from one shared start."""
        if not isinstance(other, MaskAgent):
            raise TypeError(f"other must be a MaskAgent, got {type(other).__name__}")
        if other._current is not None:
            raise RuntimeError("other has a task in training: call its end_task() first")
        self.policy.load_state_dict(other.policy.state_dict())
        self.learned = set(other.learned)
        self._active = None

    def shared_mask(self, task_id: int) -> list[torch.Tensor]:
        """The effective score matrices of ``task_id`` (what MOSAIC sends to a peer)."""
        return mask_scores(self.policy, task_id)

    def import_masks(self, masks: Sequence[Sequence[torch.Tensor]], own_weight: float = 0.5
                     ) -> None:
        """Compose masks received from peers into the current task's mask (``mosaic``).

        ``own_weight`` is the initial share of the agent's own scores in the
        combination (the rest is split equally between the imports).
        """
        if self._current is None:
            raise RuntimeError("import_masks needs a task in training (call learn first)")
        set_community_masks(self.policy, masks, own_weight)


class FineTuneAgent(_Agent):
    """The baseline: one PPO network (SB3's MlpPolicy) trained on each task in turn.

    It has no task slots: ``task_id`` is accepted for a common interface and
    ignored, so every task overwrites the same weights (catastrophic
    forgetting).
    """

    def __init__(self, config: CTGraphConfig | None = None, *,
                 hidden: Sequence[int] = (200, 200, 200), settings: PPOSettings | None = None,
                 seed: int = 0, device: str | torch.device = "cpu") -> None:
        super().__init__(config, settings, seed, device)
        hidden = _check_hidden(hidden, allow_empty=True)
        with self._rng.active():
            self.model = PPO("MlpPolicy", self.vec_env, seed=self.seed, device=device, verbose=0,
                             policy_kwargs=dict(net_arch=list(hidden)),
                             **self.settings.ppo_kwargs())


class _TaskHeads(nn.Module):
    """One linear head per task; ``task`` picks the head that maps the latent."""

    def __init__(self, in_features: int, out_features: int, n_tasks: int) -> None:
        super().__init__()
        self.heads = nn.ModuleList([nn.Linear(in_features, out_features)
                                    for _ in range(n_tasks)])
        self.task = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.heads[self.task](x)


class MultiHeadActorCriticPolicy(ActorCriticPolicy):
    """SB3 actor-critic policy with a shared trunk and one actor and critic head per task.

    Extra keyword argument (through PPO's ``policy_kwargs``): ``n_tasks``.
    Heads of tasks other than the active one get no gradient, so the
    optimiser leaves them untouched; the trunk is shared and keeps changing.
    """

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space,
                 lr_schedule: Callable[[float], float], *, n_tasks: int = 1, **kwargs):
        self.n_tasks = check_int(n_tasks, "n_tasks", minimum=1)
        if not isinstance(observation_space, spaces.Box) or len(observation_space.shape) != 1:
            raise TypeError("observation_space must be a gymnasium Box space of vectors, got "
                            f"{observation_space!r}")
        if not isinstance(action_space, spaces.Discrete):
            raise TypeError("action_space must be a gymnasium Discrete space, got "
                            f"{type(action_space).__name__}")
        check_callable(lr_schedule, "lr_schedule")
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)

    def _build(self, lr_schedule) -> None:
        super()._build(lr_schedule)
        n_actions = int(cast(spaces.Discrete, self.action_space).n)
        pi = _TaskHeads(self.mlp_extractor.latent_dim_pi, n_actions, self.n_tasks)
        vf = _TaskHeads(self.mlp_extractor.latent_dim_vf, 1, self.n_tasks)
        for head, gain in [(h, 0.01) for h in pi.heads] + [(h, 1.0) for h in vf.heads]:
            lin = cast(nn.Linear, head)
            nn.init.orthogonal_(lin.weight, gain=gain)
            nn.init.zeros_(lin.bias)
        self.action_net = pi
        # SB3 annotates value_net as nn.Linear; any module mapping latents to one value works
        self.value_net = vf  # type: ignore[assignment]
        self.optimizer = self.optimizer_class(self.parameters(),  # type: ignore[call-arg]
                                              lr=lr_schedule(1), **self.optimizer_kwargs)

    def set_head(self, task: int) -> None:
        """Act and learn with ``task``'s heads."""
        task = check_int(task, "task", minimum=0)
        if task >= self.n_tasks:
            raise ValueError(f"task must be < n_tasks ({self.n_tasks}), got {task}")
        cast(_TaskHeads, self.action_net).task = task
        cast(_TaskHeads, self.value_net).task = task

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(n_tasks=self.n_tasks)
        return data


class MultiHeadAgent(_Agent):
    """The multi-head PPO baseline: a shared trunk, one actor and critic head per task.

    Parameters
    ----------
    config : CTGraphConfig or MiniGridTasks
    n_tasks : int
        Head slots (task ``i`` of a sequence uses head ``i``).
    hidden : tuple of int, default (200, 200, 200)
        Trunk widths (separate actor and critic trunks, as SB3's ``MlpPolicy``).
    settings, seed, device
        As in :class:`MaskAgent`.

    Examples
    --------
    >>> from mintlab.continual.envs import CTGraphConfig
    >>> agent = MultiHeadAgent(CTGraphConfig(depth=1), n_tasks=2, hidden=(16,), seed=0)
    >>> agent.learn(1, (0,), steps=1024).steps
    1024
    """

    def __init__(self, config: Any = None, n_tasks: int = 4, *,
                 hidden: Sequence[int] = (200, 200, 200), settings: PPOSettings | None = None,
                 seed: int = 0, device: str | torch.device = "cpu") -> None:
        super().__init__(config, settings, seed, device)
        self.n_tasks = check_int(n_tasks, "n_tasks", minimum=1)
        hidden = _check_hidden(hidden, allow_empty=True)
        with self._rng.active():
            self.model = PPO(MultiHeadActorCriticPolicy, self.vec_env, seed=self.seed,
                             device=device, verbose=0,
                             policy_kwargs=dict(net_arch=list(hidden), n_tasks=self.n_tasks),
                             **self.settings.ppo_kwargs())

    @property
    def policy(self) -> MultiHeadActorCriticPolicy:
        return cast(MultiHeadActorCriticPolicy, self.model.policy)

    def _select(self, task_id: int) -> None:
        task_id = check_int(task_id, "task_id")
        if not 0 <= task_id < self.n_tasks:
            raise ValueError(f"task_id must lie in [0, {self.n_tasks}), got {task_id}")
        self.policy.set_head(task_id)

    def _begin(self, task_id: int) -> None:
        self._select(task_id)


def run_task_sequence(agent: _Agent, tasks: Sequence, steps: int, *, threshold: float = 0.9,
                      eval_every: int = 1024, eval_episodes: int = 32,
                      stop_at_threshold: bool = True, start_at: int = 0,
                      end_at: int | None = None, log: LifelongLog | None = None,
                      progress: bool = False, deterministic: bool = True
                      ) -> tuple[LifelongLog, list[TaskRecord]]:
    """Learn ``tasks`` one after another and log every task's return after each one.

    Task ``i`` uses the policy slot ``i``; each gets at most ``steps``
    environment steps (less with ``stop_at_threshold`` once its greedy return
    reaches ``threshold`` times the optimal return). Before any training and
    after each task, every task is evaluated; the log is a
    :class:`~mintlab.continual.metrics.LifelongLog` (learning blocks carry the
    evaluated learning curves), so the lifelong-metrics suite and the
    accuracy-matrix scores apply. Only tasks ``start_at`` to ``end_at - 1`` are
    trained (all are evaluated): earlier ones may have been learned already,
    e.g. copied with :meth:`MaskAgent.copy_masks_from`; pass their ``log`` to
    continue it. ``deterministic=False`` evaluates the sampling policy instead of the
    greedy one (on partially observable tasks such as MiniGrid, a greedy policy can loop
    where the sampling one reaches the goal).

    Returns
    -------
    log : LifelongLog
    records : list of TaskRecord
        One per task trained here.
    """
    from tqdm.auto import tqdm

    if not isinstance(agent, _Agent):
        raise TypeError(f"agent must be a MaskAgent or FineTuneAgent, got {type(agent).__name__}")
    tasks = [_task_key(agent.config, t, f"tasks[{i}]")
             for i, t in enumerate(item_list(tasks, "tasks", "tasks"))]
    if not tasks:
        raise ValueError("tasks must hold at least one task")
    steps = check_int(steps, "steps", minimum=1)
    threshold = check_probability(threshold, "threshold")
    eval_every = check_int(eval_every, "eval_every", minimum=1)
    eval_episodes = check_int(eval_episodes, "eval_episodes", minimum=1)
    check_bool(stop_at_threshold, "stop_at_threshold")
    check_bool(progress, "progress")
    check_bool(deterministic, "deterministic")
    start_at = check_int(start_at, "start_at", minimum=0)
    if end_at is not None:
        end_at = check_int(end_at, "end_at", minimum=0)
    if log is not None and not isinstance(log, LifelongLog):
        raise TypeError(f"log must be a LifelongLog or None, got {type(log).__name__}")
    if isinstance(agent, MaskAgent | MultiHeadAgent) and len(tasks) > agent.n_tasks:
        raise ValueError(f"{len(tasks)} tasks but the agent has {agent.n_tasks} mask slots")
    names = [f"task {i}" for i in range(len(tasks))]

    def evaluate_all():
        return {names[j]: agent.evaluate(j, t, n_episodes=eval_episodes,
                                         deterministic=deterministic)
                for j, t in enumerate(tasks)}

    if log is None:
        log = LifelongLog(names)
        log.add_evaluation(evaluate_all())
    records = []
    end_at = len(tasks) if end_at is None else end_at
    if not 0 <= start_at <= end_at <= len(tasks):
        raise ValueError(f"need 0 <= start_at <= end_at <= {len(tasks)}, got start_at="
                         f"{start_at}, end_at={end_at}")
    for i in tqdm(range(start_at, end_at), desc="tasks", disable=not progress):
        goal = threshold * _optimal_return(agent.config, tasks[i])
        rec = agent.learn(i, tasks[i], steps, eval_every=eval_every, threshold=goal,
                          eval_episodes=eval_episodes, stop_at_threshold=stop_at_threshold,
                          progress=progress, eval_deterministic=deterministic)
        agent.end_task()
        records.append(rec)
        log.add_training(names[i], [r for _, r in rec.curve] or [0.0])
        log.add_evaluation(evaluate_all())
    return log, records
