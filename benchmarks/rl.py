"""Lifelong RL: CT-graph stepping and PPO training throughput.

Run: ``python -m benchmarks rl [--quick]``. Writes ``benchmarks/results/rl.json``.

* **Environment**: random actions on a CT-graph (branching 2, depth 3, wait
  probability 0.2, 1D observations). Ours: :class:`VecCTGraph` with 64 / 1,024
  / 8,192 copies. Anchors: Gymnasium's ``SyncVectorEnv`` over 64 of our
  :class:`CTGraphEnv` (how a Gymnasium user vectorises a single environment),
  and the single environment in a Python loop. The authors' ``gym-CTgraph``
  package needs torchvision, which does not install beside this torch build,
  so it is not timed here.
* **PPO** (Stable-Baselines3, 16 copies x 64 steps, 4 epochs, minibatch 256,
  three hidden layers of 200): the masked policy on our vectorised adapter
  against SB3's dense ``MlpPolicy`` on the same adapter (the cost of masks),
  and against the masked policy on SB3's ``DummyVecEnv`` over 16 single
  environments (the cost of stepping copies one by one).
"""

from __future__ import annotations

import sys
import time

import numpy as np

from mintlab.continual.envs import CTGraphConfig, CTGraphEnv, VecCTGraph, steps_per_second

from ._timing import report

CFG = CTGraphConfig(branching=2, depth=3, wait_prob=0.2)


def _sync_rate(n_envs, steps):
    import gymnasium as gym

    env = gym.vector.SyncVectorEnv([lambda: CTGraphEnv(CFG) for _ in range(n_envs)])
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    n = 0
    while n < steps:
        env.step(rng.integers(0, CFG.n_actions, n_envs))
        n += n_envs
    return n / (time.perf_counter() - t0)


def _ppo_rate(policy, vec, steps):
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv

    from mintlab.continual.rl import CTGraphVecEnv, MaskedActorCriticPolicy, PPOSettings

    settings = PPOSettings()
    if vec == "ours":
        venv = CTGraphVecEnv(VecCTGraph(CFG, settings.n_envs, seed=0))
    else:
        venv = DummyVecEnv([lambda: CTGraphEnv(CFG) for _ in range(settings.n_envs)])
    if policy == "masked":
        model = PPO(MaskedActorCriticPolicy, venv, seed=0, verbose=0,
                    policy_kwargs=dict(n_tasks=1), **settings.ppo_kwargs())
    else:
        model = PPO("MlpPolicy", venv, seed=0, verbose=0,
                    policy_kwargs=dict(net_arch=[200, 200, 200]), **settings.ppo_kwargs())
    model.learn(1024)
    t0 = time.perf_counter()
    model.learn(steps, reset_num_timesteps=False)
    return steps / (time.perf_counter() - t0)


def main(quick: bool | None = None) -> None:
    quick = "--quick" in sys.argv if quick is None else quick
    steps = 1_000_000 if quick else 10_000_000
    rows = []
    scalar = steps_per_second(CFG, None, 20_000 if quick else 100_000)
    sync = _sync_rate(64, 50_000 if quick else 200_000)
    for n in (64, 1024, 8192):
        rate = steps_per_second(CFG, n, steps)
        rows.append({"what": f"VecCTGraph, {n} copies", "steps/s": rate,
                     "x SyncVectorEnv(64)": rate / sync, "x single env loop": rate / scalar})
    rows.append({"what": "gymnasium SyncVectorEnv, 64 CTGraphEnv", "steps/s": sync,
                 "x SyncVectorEnv(64)": 1.0, "x single env loop": sync / scalar})
    rows.append({"what": "CTGraphEnv in a Python loop", "steps/s": scalar,
                 "x SyncVectorEnv(64)": scalar / sync, "x single env loop": 1.0})
    n_ppo = 10_240 if quick else 51_200
    masked = _ppo_rate("masked", "ours", n_ppo)
    dense = _ppo_rate("dense", "ours", n_ppo)
    dummy = _ppo_rate("masked", "dummy", n_ppo)
    rows.append({"what": "PPO, masked policy, VecCTGraph adapter", "steps/s": masked,
                 "x masked PPO": 1.0})
    rows.append({"what": "PPO, dense MlpPolicy, VecCTGraph adapter", "steps/s": dense,
                 "x masked PPO": dense / masked})
    rows.append({"what": "PPO, masked policy, SB3 DummyVecEnv", "steps/s": dummy,
                 "x masked PPO": dummy / masked})
    report("CT-graph and PPO throughput", rows, "benchmarks/results/rl.json")


if __name__ == "__main__":
    main()
