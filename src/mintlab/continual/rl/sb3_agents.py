"""Feed-forward and recurrent PPO agents on one CT-graph task (``ct-graph``).

:func:`train_ppo` trains Stable-Baselines3's ``PPO`` with an MLP policy
(``kind="mlp"``) or sb3-contrib's ``RecurrentPPO`` with an LSTM policy
(``kind="lstm"``) on a :class:`~mintlab.continual.envs.VecCTGraph`, evaluates
the deterministic policy after every rollout and reports when it first
reached a success threshold (its sample cost) and its success rate at the end
of the budget. Runs are deterministic per ``seed``, use one torch thread
while they train, and leave the caller's global random states untouched.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..._random import GlobalRNGSlot, stream_seed
from ..._validation import check_choice, check_int, check_probability
from ..envs import CTGraphConfig, VecCTGraph
from ..envs.ctgraph import _task_code

__all__ = ["PPORun", "train_ppo", "greedy_success"]

_INSTALL = "pip install 'mintlab[rl]'"


def _require(kind: str):
    """The trainer class of ``kind``, or an ImportError naming the extra to install."""
    try:
        if kind == "mlp":
            from stable_baselines3 import PPO
            return PPO
        from sb3_contrib import RecurrentPPO
        return RecurrentPPO
    except ImportError as exc:
        pkg = "stable-baselines3" if kind == "mlp" else "sb3-contrib"
        raise ImportError(f"the {kind!r} PPO agent needs {pkg}: {_INSTALL}") from exc


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass
class PPORun:
    """What one PPO training run on a CT-graph task measured.

    Attributes
    ----------
    steps : list of int
        Environment steps at each evaluation (after every rollout).
    success : list of float
        Success rate of the deterministic policy at each evaluation.
    steps_to_threshold : float
        Environment steps at the first evaluation whose success rate reached
        the threshold; ``total_steps`` when none did (censored).
    solved : bool
        Whether the threshold was reached within the budget.
    final_success : float
        Success rate at the last evaluation.
    """

    steps: list[int] = field(default_factory=list)
    success: list[float] = field(default_factory=list)
    steps_to_threshold: float = float("nan")
    solved: bool = False
    final_success: float = 0.0


def greedy_success(model, config: CTGraphConfig, task, n_episodes: int = 32,
                   seed: int = 0) -> float:
    """Success rate of ``model``'s deterministic policy on ``task``.

    Runs ``n_episodes`` episodes in parallel copies of the graph and counts
    those that reach the rewarded leaf (return at least ``high_reward``).

    Parameters
    ----------
    model : stable_baselines3.PPO or sb3_contrib.RecurrentPPO
        A trained agent (recurrent agents carry their LSTM state through the
        episode).
    config : CTGraphConfig
    task : leaf index or path
        The rewarded leaf.
    n_episodes : int, default 32
    seed : int, default 0
        Seeds the wait transitions and random observations of the copies.

    Returns
    -------
    float
        The fraction of episodes that reached the rewarded leaf.

    Examples
    --------
    >>> from mintlab.continual.rl.sb3_agents import train_ppo
    >>> cfg = CTGraphConfig(depth=1, mdp_waits=True)
    >>> run, model = train_ppo(cfg, (1,), total_steps=1024, seed=0, return_model=True)
    >>> 0.0 <= greedy_success(model, cfg, (1,)) <= 1.0
    True
    """
    n = check_int(n_episodes, "n_episodes", minimum=1)
    env = VecCTGraph(config, n, tasks=_task_code(config, task), seed=seed)
    obs, _ = env.reset()
    ret = np.full(n, np.nan)
    state, start = None, np.ones(n, bool)
    recurrent = hasattr(model.policy, "lstm_actor")
    for _ in range(config.horizon):
        if recurrent:
            a, state = model.predict(obs, state=state, episode_start=start, deterministic=True)
        else:
            a, _ = model.predict(obs, deterministic=True)
        obs, _, term, trunc, info = env.step(np.asarray(a))
        done = term | trunc
        new = done & np.isnan(ret)
        ret[new] = info["episode_return"][new]
        start = done
        if not np.isnan(ret).any():
            break
    return float(np.mean(np.nan_to_num(ret, nan=0.0) >= config.high_reward))


def train_ppo(config: CTGraphConfig, task, *, kind: str = "mlp", total_steps: int = 20_000,
              seed: int = 0, n_envs: int = 16, n_steps: int = 32, batch_size: int = 256,
              n_epochs: int = 8, hidden: int = 64,
              learning_rate: float | None = None, ent_coef: float = 0.01, threshold: float = 0.9,
              eval_episodes: int = 32, stop_at_threshold: bool = False,
              return_model: bool = False):
    """Train a feed-forward or recurrent PPO agent on one CT-graph task.

    Parameters
    ----------
    config : CTGraphConfig
        The graph.
    task : leaf index or path
        The rewarded leaf.
    kind : {"mlp", "lstm"}, default "mlp"
        ``"mlp"``: Stable-Baselines3 ``PPO`` with an MLP policy (two hidden
        layers of ``hidden`` units); ``"lstm"``: sb3-contrib ``RecurrentPPO``
        with one LSTM of ``hidden`` units shared by actor and critic, before
        MLP heads of one hidden layer.
    total_steps : int, default 20000
        Environment steps of training (rounded up to whole rollouts).
    seed : int, default 0
        Seeds the agent (weights, sampling) and the environments.
    n_envs, n_steps : int
        Parallel copies and steps per copy in a rollout.
    batch_size, n_epochs : int
        Minibatch size and passes over each rollout.
    hidden : int, default 64
    learning_rate : float, optional
        PPO's Adam step; default 1e-3 for ``"mlp"`` and 3e-3 for ``"lstm"``
        (the better of the two for each agent on the CT-graph).
    ent_coef : float, default 0.01
        PPO's entropy bonus.
    threshold : float, default 0.9
        Success rate that counts as solved.
    eval_episodes : int, default 32
        Episodes of each evaluation of the deterministic policy.
    stop_at_threshold : bool, default False
        Stop training at the first evaluation that reaches ``threshold``.
    return_model : bool, default False
        Also return the trained model.

    Returns
    -------
    PPORun, or (PPORun, model) with ``return_model``

    Raises
    ------
    ImportError
        When stable-baselines3 (or sb3-contrib for ``"lstm"``) is missing.

    Examples
    --------
    >>> run = train_ppo(CTGraphConfig(depth=1, mdp_waits=True), (1,), total_steps=4096,
    ...                 seed=0)
    >>> run.steps[-1] >= 4096 or run.solved
    True
    """
    if not isinstance(config, CTGraphConfig):
        raise TypeError(f"config must be a CTGraphConfig, got {type(config).__name__}")
    check_choice(kind, "kind", ("mlp", "lstm"))
    code = _task_code(config, task)
    total = check_int(total_steps, "total_steps", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    n_envs = check_int(n_envs, "n_envs", minimum=1)
    n_steps = check_int(n_steps, "n_steps", minimum=2)
    hidden = check_int(hidden, "hidden", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=2)
    n_epochs = check_int(n_epochs, "n_epochs", minimum=1)
    threshold = check_probability(threshold, "threshold")
    eval_episodes = check_int(eval_episodes, "eval_episodes", minimum=1)
    if learning_rate is None:
        learning_rate = 1e-3 if kind == "mlp" else 3e-3
    elif isinstance(learning_rate, bool) or not isinstance(learning_rate, int | float) or not (
            0 < learning_rate < float("inf")):
        raise ValueError(f"learning_rate must be a positive finite number, got "
                         f"{learning_rate!r}")
    Trainer = _require(kind)
    from stable_baselines3.common.callbacks import BaseCallback

    from .ppo import CTGraphVecEnv

    run = PPORun()
    eval_seed = stream_seed(seed, "ct-graph-eval")

    class _Eval(BaseCallback):
        def _on_step(self) -> bool:
            return True

        def _on_rollout_end(self) -> None:
            s = greedy_success(self.model, config, code, eval_episodes,
                               seed=(eval_seed + len(run.steps)) % 2**32)
            run.steps.append(int(self.model.num_timesteps))
            run.success.append(s)
            if s >= threshold and not run.solved:
                run.solved = True
                run.steps_to_threshold = float(self.model.num_timesteps)

        def _on_training_start(self) -> None:
            pass

    class _Stop(_Eval):
        def _on_step(self) -> bool:
            return not run.solved

    env = CTGraphVecEnv(VecCTGraph(config, n_envs, tasks=code,
                                   seed=stream_seed(seed, "ct-graph-env")))
    batch = n_envs * n_steps
    kw = dict(n_steps=n_steps, batch_size=min(batch, batch_size), n_epochs=n_epochs, gamma=0.99,
              learning_rate=learning_rate, ent_coef=ent_coef, verbose=0, device="cpu",
              seed=stream_seed(seed, "ct-graph-agent") % 2**31)
    pk: dict[str, Any]
    if kind == "mlp":
        policy, pk = "MlpPolicy", dict(net_arch=[hidden, hidden])
    else:
        policy, pk = "MlpLstmPolicy", dict(lstm_hidden_size=hidden, net_arch=[hidden],
                                           shared_lstm=True, enable_critic_lstm=False)
    slot = GlobalRNGSlot()
    with slot.active(), _one_thread():
        model = Trainer(policy, env, policy_kwargs=pk, **kw)
        model.learn(total_timesteps=total,
                    callback=_Stop() if stop_at_threshold else _Eval())
    if not run.solved:
        run.steps_to_threshold = float(max(total, run.steps[-1] if run.steps else total))
    run.final_success = run.success[-1] if run.success else 0.0
    return (run, model) if return_model else run
