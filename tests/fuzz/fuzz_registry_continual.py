"""Fuzz cases: continual learning (streams, strategies, metrics), CT-graph, lifelong RL, OOD."""

from __future__ import annotations

import functools

import numpy as np
import torch
from _fuzz_harness import Case, Inputs, arr, labels, rand, randn, simplex

# ---------------------------------------------------------------------------- helpers
_PPO_KW = dict(n_envs=2, n_steps=8, batch_size=8, n_epochs=1)


def _settings():
    from mintlab.continual.rl import PPOSettings

    return PPOSettings(**_PPO_KW)


def _cfg(depth: int = 1):
    from mintlab.continual.envs import CTGraphConfig

    return CTGraphConfig(branching=2, depth=depth)


def _mlp(d: int, k: int, **kw):
    from mintlab.continual import ContinualMLP

    return ContinualMLP(d, [8], [k], seed=0, **kw)


def _xy(s):
    X = torch.from_numpy(np.random.default_rng(s.seed).standard_normal((s.n, s.d))).float()
    return X, labels("torch", s.n, 2, seed=s.seed)


def _task(X, y, n_classes=2, task_id=0):
    from mintlab.continual import Task

    return Task(task_id, "t", X, y, X, y, n_classes)


_STRATEGY_ROLES = {"model": "module", "X_train": "points", "y_train": "labels",
                   "epochs": "pos_int", "batch_size": "pos_int", "lr": "pos_float",
                   "optimizer": "choice", "momentum": "prob", "seed": "seed", "progress": "bool"}


def _strategy_case(name, extra=None, extra_roles=None, model_kw=None, skip=None, roles=None):
    def build(kind, s):
        X, y = _xy(s)
        kw = dict(model=_mlp(s.d, 2, **(model_kw or {})), X_train=X, y_train=y, epochs=1,
                  batch_size=4, lr=0.05, optimizer="sgd", momentum=0.0, seed=s.seed,
                  progress=False)
        kw.update(extra or {})
        return Inputs(**kw)

    def call(cls, kw):
        kw = dict(kw)
        task = _task(kw.pop("X_train"), kw.pop("y_train"))
        model = kw.pop("model")
        strat = cls(model, **kw).train(task)
        return strat.evaluate([task])

    r = dict(roles if roles is not None else _STRATEGY_ROLES)
    r.update(extra_roles or {})
    return Case(target=f"mintlab.continual.{name}", build=build, call=call, roles=r,
                kinds=("torch",), skip_breakers=skip or {})


_FEW_ROLES = {"model": "module", "X_train": "points", "y_train": "labels", "seed": "seed"}


def _plugin_case(name, extra, extra_roles, model_kw=None, skip=None):
    """A method plugin inside a plain Strategy: its own arguments are what is fuzzed."""
    def build(kind, s):
        X, y = _xy(s)
        return Inputs(model=_mlp(s.d, 2, **(model_kw or {})), X_train=X, y_train=y,
                      seed=s.seed, **extra)

    def call(cls, kw):
        from mintlab.continual import Strategy

        kw = dict(kw)
        task = _task(kw.pop("X_train"), kw.pop("y_train"))
        model, seed = kw.pop("model"), kw.pop("seed")
        strat = Strategy(model, plugins=[cls(**kw)], epochs=1, batch_size=4, seed=seed)
        return strat.train(task).train(task).evaluate([task])

    return Case(target=f"mintlab.continual.{name}", build=build, call=call,
                roles={**_FEW_ROLES, **extra_roles}, kinds=("torch",),
                skip_breakers=skip or {})


# ---------------------------------------------------------------------------- OOD
def _ood_build(kind, s, proportions=False):
    k = max(2, s.k)
    kw = dict(calibrate=True, source_probs=simplex(kind, s.n, k, seed=s.seed),
              source_labels=labels(kind, s.n, k, seed=s.seed),
              target_probs=simplex(kind, s.m, k, seed=s.seed + 1))
    if proportions:
        kw["label_proportions"] = simplex(kind, k, seed=s.seed + 2)
    return Inputs(**kw)


def _ood_call(cls, kw):
    est = cls(calibrate=kw["calibrate"]).fit(kw["source_probs"], kw["source_labels"])
    if "label_proportions" in kw:
        return est.predict_accuracy(kw["target_probs"], label_proportions=kw["label_proportions"])
    return est.predict_accuracy(kw["target_probs"])


_OOD_ROLES = {"calibrate": "bool", "source_probs": "probs", "source_labels": "labels",
              "target_probs": "probs"}

OOD_CASES = [
    Case(target="mintlab.ood.COT", build=functools.partial(_ood_build, proportions=True),
         call=_ood_call, roles={**_OOD_ROLES, "label_proportions": "weights"}),
    Case(target="mintlab.ood.COTT", build=functools.partial(_ood_build, proportions=True),
         call=_ood_call, roles={**_OOD_ROLES, "label_proportions": "weights"}),
    Case(target="mintlab.ood.AverageConfidence", build=_ood_build, call=_ood_call,
         roles=_OOD_ROLES),
    Case(target="mintlab.ood.DifferenceOfConfidences", build=_ood_build, call=_ood_call,
         roles=_OOD_ROLES),
    Case(target="mintlab.ood.AverageThresholdedConfidence",
         build=lambda kind, s: Inputs(score="max_confidence", **_ood_build(kind, s)),
         call=lambda cls, kw: cls(calibrate=kw["calibrate"], score=kw["score"]).fit(
             kw["source_probs"], kw["source_labels"]).predict_accuracy(kw["target_probs"]),
         roles={**_OOD_ROLES, "score": "choice"}),
    Case(target="mintlab.ood.fit_temperature",
         build=lambda kind, s: Inputs(P=simplex(kind, s.n, s.k, seed=s.seed),
                                      y=labels(kind, s.n, s.k, seed=s.seed)),
         roles={"P": "probs", "y": "labels"}),
    Case(target="mintlab.ood.apply_temperature",
         build=lambda kind, s: Inputs(P=simplex(kind, s.n, s.k, seed=s.seed), temperature=1.5),
         roles={"P": "probs", "temperature": "pos_float"}),
    Case(target="mintlab.ood.confidence_transport",
         build=lambda kind, s: Inputs(P=simplex(kind, s.n, s.k, seed=s.seed),
                                      label_proportions=simplex(kind, s.k, seed=s.seed + 1)),
         roles={"P": "probs", "label_proportions": "weights"}),
]


# ---------------------------------------------------------------------------- streams
def _task_build(kind, s):
    X, y = _xy(s)
    return Inputs(task_id=0, name="t", X_train=X, y_train=y, X_test=X[:-1].clone(),
                  y_test=y[:-1].clone(), n_classes=2)


def _lifelong_log():
    from mintlab.continual import LifelongLog

    log = LifelongLog(["a", "b"])
    log.add_evaluation({"a": 0.5, "b": 0.5})
    log.add_training("a", [0.6, 0.8, 0.9])
    log.add_evaluation({"a": 0.9, "b": 0.6})
    log.add_training("b", [0.7, 0.8, 0.9])
    log.add_evaluation({"a": 0.8, "b": 0.9})
    return log


def _log_call(cls, kw):
    log = cls(kw["task_names"])
    log.add_evaluation({"a": 0.5, "b": 0.5})
    log.add_training("a", kw["curve"])
    log.add_evaluation({"a": 0.9, "b": 0.6})
    return log.to_json()


def _stream_build(kind, s):
    X, y = _xy(s)
    return Inputs(name="s", tasks=(_task(X, y),), scenario="domain-incremental")


def _run_stream_build(kind, s):
    from mintlab.continual import Naive

    X, y = _xy(s)
    return Inputs(strategy=Naive(_mlp(s.d, 2), epochs=1, batch_size=4, seed=s.seed),
                  stream=[_task(X, y)], evaluate_initial=True, progress=False)


CONTINUAL_CASES = [
    Case(target="mintlab.continual.Task", build=_task_build, kinds=("torch",),
         roles={"task_id": "nonneg_int", "X_train": "points", "y_train": "labels",
                "X_test": "points", "y_test": "labels", "n_classes": "pos_int"}),
    Case(target="mintlab.continual.TaskStream", build=_stream_build, kinds=("torch",),
         roles={"tasks": "module", "scenario": "choice"}),
    Case(target="mintlab.continual.split_digits", kinds=("none",),
         build=lambda kind, s: Inputs(n_tasks=(1, 2, 5)[s.k % 3], seed=s.seed),
         roles={"n_tasks": "pos_int", "seed": "seed"}),
    Case(target="mintlab.continual.permuted_digits", kinds=("none",),
         build=lambda kind, s: Inputs(n_tasks=2, seed=s.seed),
         roles={"n_tasks": "pos_int", "seed": "seed"}),
    Case(target="mintlab.continual.rotated_digits", kinds=("none",),
         build=lambda kind, s: Inputs(n_tasks=2, max_degrees=30.0, seed=s.seed),
         roles={"n_tasks": "pos_int", "max_degrees": "real", "seed": "seed"}),
    Case(target="mintlab.continual.mnist1d_stream", kinds=("none",),
         build=lambda kind, s: Inputs(n_tasks=2, kind="split", n_samples=200, seed=s.seed),
         roles={"n_tasks": "pos_int", "kind": "choice", "n_samples": "pos_int",
                "seed": "seed"}),
    Case(target="mintlab.continual.continual_swiss_roll", kinds=("none",),
         build=lambda kind, s: Inputs(n_tasks=s.k, n_train=s.n, n_test=s.m, turns=1.5,
                                      noise=0.1, seed=s.seed),
         roles={"n_tasks": "pos_int", "n_train": "pos_int", "n_test": "pos_int",
                "turns": "pos_float", "noise": "nonneg_float", "seed": "seed"}),
    Case(target="mintlab.continual.gaussian_mixture_stream", kinds=("none",),
         build=lambda kind, s: Inputs(n_tasks=2, n_classes=s.k, dim=s.d, per_class=4,
                                      separation=2.0, shift=0.5, scenario="task-incremental",
                                      seed=s.seed),
         roles={"n_tasks": "pos_int", "n_classes": "pos_int", "dim": "pos_int",
                "per_class": "pos_int", "separation": "pos_float", "shift": "nonneg_float",
                "scenario": "choice", "seed": "seed"}),
    Case(target="mintlab.continual.LifelongLog", kinds=("numpy", "torch"),
         build=lambda kind, s: Inputs(task_names=["a", "b"],
                                      curve=rand(kind, s.n, seed=s.seed)),
         call=_log_call, roles={"task_names": "module", "curve": "values"}),
    Case(target="mintlab.continual.lifelong_metrics", kinds=("none",),
         build=lambda kind, s: Inputs(log=_lifelong_log(),
                                      ste={"a": [0.5, 0.7, 0.9], "b": [0.6, 0.8, 0.9]},
                                      transfer_method="ratio"),
         roles={"log": "module", "transfer_method": "choice"}),
    Case(target="mintlab.continual.ContinualMLP", kinds=("torch",),
         build=lambda kind, s: Inputs(in_features=s.d, hidden=[8], head_sizes=[s.k],
                                      k_winner_density=0.5, hetero_dropout=0.5, bias=True,
                                      seed=s.seed),
         call=lambda cls, kw: cls(**kw)(torch.zeros(3, kw["in_features"])),
         roles={"in_features": "pos_int", "k_winner_density": "ratio",
                "hetero_dropout": "nonneg_float", "bias": "bool", "seed": "seed"},
         skip_breakers={("k_winner_density", "one"): "density 1 keeps every unit: valid"}),
    Case(target="mintlab.continual.KWinner", kinds=("torch",),
         build=lambda kind, s: Inputs(width=s.k + 2, density=0.5, hetero_dropout=0.0),
         call=lambda cls, kw: cls(**kw)(torch.randn(3, kw["width"],
                                                    generator=torch.Generator().manual_seed(0))),
         roles={"width": "pos_int", "density": "ratio", "hetero_dropout": "nonneg_float"},
         skip_breakers={("density", "one"): "density 1 keeps every unit: valid"}),
    _strategy_case("Strategy"),
    _strategy_case("Naive"),
    _strategy_case("Joint", roles=_FEW_ROLES),
    _strategy_case("Replay", extra={"memory_per_task": 4}, roles=_FEW_ROLES,
                   extra_roles={"memory_per_task": "pos_int"}),
    _strategy_case("EWC", extra={"ewc_lambda": 10.0, "fisher_samples": 4}, roles=_FEW_ROLES,
                   extra_roles={"ewc_lambda": "nonneg_float", "fisher_samples": "pos_int"}),
    _strategy_case("GPM", extra={"threshold": 0.9, "memory_samples": 4}, roles=_FEW_ROLES,
                   extra_roles={"threshold": "ratio", "memory_samples": "pos_int"},
                   skip={("threshold", "one"): "threshold 1 keeps all the energy: valid"}),
    _strategy_case("SparseGPM", extra={"threshold": 0.9, "memory_samples": 4},
                   roles=_FEW_ROLES, model_kw={"k_winner_density": 0.5, "hetero_dropout": 1.0},
                   extra_roles={"threshold": "ratio", "memory_samples": "pos_int"},
                   skip={("threshold", "one"): "threshold 1 keeps all the energy: valid"}),
    *[Case(target=f"mintlab.continual.{name}", kinds=("none",),
           build=lambda kind, s: Inputs(n_tasks=5, n_train=20, n_test=10, seed=s.seed),
           roles={"n_tasks": "pos_int", "n_train": "pos_int", "n_test": "pos_int",
                  "seed": "seed"})
      for name in ("split_fashion_mnist", "split_mnist")],
    *[Case(target=f"mintlab.continual.{name}", kinds=("none",),
           build=lambda kind, s: Inputs(n_tasks=2, n_train=20, n_test=10, seed=s.seed),
           roles={"n_tasks": "pos_int", "n_train": "pos_int", "n_test": "pos_int",
                  "seed": "seed"})
      for name in ("permuted_fashion_mnist", "permuted_mnist", "rotated_fashion_mnist",
                   "rotated_mnist")],
    Case(target="mintlab.continual.image_stream", kinds=("none",),
         build=lambda kind, s: Inputs(dataset="mnist", kind="split", n_tasks=5,
                                      scenario="class-incremental", n_train=20, n_test=10,
                                      max_degrees=90.0, seed=s.seed),
         roles={"dataset": "choice", "kind": "choice", "n_tasks": "pos_int",
                "scenario": "choice", "n_train": "pos_int", "n_test": "pos_int",
                "max_degrees": "real", "seed": "seed"}),
    Case(target="mintlab.continual.ContinualConvNet", kinds=("torch",),
         build=lambda kind, s: Inputs(in_shape=(1, 8, 8), channels=[2], hidden=4,
                                      head_sizes=[s.k], seed=s.seed),
         call=lambda cls, kw: cls(**kw)(torch.zeros(3, 64)),
         roles={"hidden": "pos_int", "seed": "seed"}),
    _plugin_case("ReplayPlugin", {"memory_per_task": 4}, {"memory_per_task": "pos_int"}),
    _plugin_case("EWCPlugin", {"ewc_lambda": 10.0, "fisher_samples": 4},
                 {"ewc_lambda": "nonneg_float", "fisher_samples": "pos_int"}),
    _plugin_case("GPMPlugin", {"threshold": 0.9, "memory_samples": 4},
                 {"threshold": "ratio", "memory_samples": "pos_int"},
                 skip={("threshold", "one"): "threshold 1 keeps all the energy: valid"}),
    _plugin_case("SparseGPMPlugin", {"threshold": 0.9, "memory_samples": 4},
                 {"threshold": "ratio", "memory_samples": "pos_int"},
                 model_kw={"k_winner_density": 0.5, "hetero_dropout": 1.0},
                 skip={("threshold", "one"): "threshold 1 keeps all the energy: valid"}),
    Case(target="mintlab.continual.run_stream", kinds=("torch",), build=_run_stream_build,
         call=lambda fn, kw: fn(*kw.args, **kw).to_json(),
         roles={"strategy": "module", "evaluate_initial": "bool", "progress": "bool"}),
]


# ---------------------------------------------------------------------------- CT-graph
def _cfg_build(kind, s):
    return Inputs(branching=2, depth=2, wait_prob=0.1, observation="1d", n_end_obs=4,
                  mdp_decisions=True, mdp_waits=False, high_reward=1.0, crash_reward=0.0,
                  reward="needle", reward_std=0.0, noise=0.0, max_episode_steps=30,
                  image_seed=s.seed)


def _env_call(cls, kw):
    env = cls(**kw)
    env.reset(seed=0)
    obs, r, *_ = env.step(env.optimal_action())
    return obs, r


def _vec_call(cls, kw):
    env = cls(**kw)
    env.reset()
    obs, r, *_ = env.step(env.optimal_actions())
    return obs, r


_NONE_CFG = {("config", "none"): "config=None means the default graph (branching 2, depth 2)"}

ENV_CASES = [
    Case(target="mintlab.continual.envs.encode_minigrid_view", kinds=("none",),
         build=lambda kind, s: Inputs(image=np.ones((s.k, 7, 7, 3), np.uint8)), roles={}),
    Case(target="mintlab.continual.envs.MiniGridTasks", kinds=("none",), check_output=False,
         build=lambda kind, s: Inputs(env_ids=["MiniGrid-Empty-5x5-v0"], max_steps=s.k + 4),
         call=lambda cls, kw: cls(**kw).evaluate(lambda o: np.zeros(len(o), int), 0,
                                                 n_episodes=2),
         roles={"max_steps": "pos_int"}),
    Case(target="mintlab.continual.envs.CTGraphConfig", kinds=("none",), build=_cfg_build,
         roles={"branching": "pos_int", "depth": "pos_int", "wait_prob": "prob",
                "observation": "choice", "n_end_obs": "pos_int", "mdp_decisions": "bool",
                "mdp_waits": "bool", "high_reward": "real", "crash_reward": "real",
                "reward": "choice", "reward_std": "nonneg_float", "noise": "nonneg_float",
                "max_episode_steps": "pos_int", "image_seed": "nonneg_int"}),
    Case(target="mintlab.continual.envs.CTGraphEnv", kinds=("none",), call=_env_call,
         build=lambda kind, s: Inputs(config=_cfg(2), task=s.k % 4),
         roles={"config": "module", "task": "nonneg_int"}, skip_breakers=_NONE_CFG),
    Case(target="mintlab.continual.envs.VecCTGraph", kinds=("none",), call=_vec_call,
         build=lambda kind, s: Inputs(config=_cfg(2), n_envs=s.k, tasks=1, seed=s.seed),
         roles={"config": "module", "n_envs": "pos_int", "tasks": "nonneg_int",
                "seed": "seed"}, skip_breakers=_NONE_CFG),
    Case(target="mintlab.continual.envs.all_tasks", kinds=("none",),
         build=lambda kind, s: Inputs(config=_cfg(2)), roles={"config": "module"},
         skip_breakers=_NONE_CFG),
    Case(target="mintlab.continual.envs.make_tasks", kinds=("none",),
         build=lambda kind, s: Inputs(config=_cfg(3), n_tasks=2, shared_prefix=1, seed=s.seed),
         roles={"config": "module", "n_tasks": "pos_int", "shared_prefix": "nonneg_int",
                "seed": "seed"}, skip_breakers=_NONE_CFG),
    Case(target="mintlab.continual.envs.task_similarity",
         build=lambda kind, s: Inputs(a=arr(kind, [0, 1, 1], np.int64),
                                      b=arr(kind, [0, 1, 0], np.int64)),
         roles={"a": "values", "b": "values"}),
    Case(target="mintlab.continual.envs.optimal_return", kinds=("none",),
         build=lambda kind, s: Inputs(config=_cfg(2), task=1, gamma=0.9),
         roles={"config": "module", "task": "nonneg_int", "gamma": "prob"},
         skip_breakers=_NONE_CFG),
    Case(target="mintlab.continual.envs.optimal_episode_length", kinds=("none",),
         build=lambda kind, s: Inputs(config=_cfg(2)), roles={"config": "module"},
         skip_breakers=_NONE_CFG),
    Case(target="mintlab.continual.envs.random_policy_success", kinds=("none",),
         build=lambda kind, s: Inputs(config=_cfg(2)), roles={"config": "module"},
         skip_breakers=_NONE_CFG),
    Case(target="mintlab.continual.envs.run_policy", kinds=("none",),
         build=lambda kind, s: Inputs(env=_vec(s), policy="optimal", n_episodes=s.k,
                                      max_steps=50),
         roles={"env": "module", "policy": "choice", "n_episodes": "pos_int",
                "max_steps": "pos_int"}),
    Case(target="mintlab.continual.envs.steps_per_second", kinds=("none",),
         build=lambda kind, s: Inputs(config=_cfg(2), n_envs=4, n_steps=64, seed=s.seed),
         roles={"config": "module", "n_envs": "pos_int", "n_steps": "pos_int", "seed": "seed"},
         skip_breakers=_NONE_CFG),
]


def _vec(s):
    from mintlab.continual.envs import VecCTGraph

    return VecCTGraph(_cfg(2), 4, tasks=1, seed=s.seed)


# ---------------------------------------------------------------------------- lifelong RL
def _mmlp(n_community=0):
    from mintlab.continual.rl import MaskedMLP

    return MaskedMLP([3, 4, 2], 2, n_community=n_community, linear_comb=True, seed=0)


def _community_build(kind, s):
    from mintlab.continual.rl import mask_scores

    return Inputs(model=_mmlp(1), masks=[mask_scores(_mmlp(), 0)], own_weight=0.5)


def _policy_build(kind, s):
    from gymnasium import spaces

    return Inputs(observation_space=spaces.Box(0.0, 1.0, (s.d,), np.float32),
                  action_space=spaces.Discrete(3), lr_schedule=lambda _: 1e-3, n_tasks=2,
                  hidden=(8,), linear_comb=False, n_community=0, backbone_seed=0)


def _multihead_policy_build(kind, s):
    from gymnasium import spaces

    return Inputs(observation_space=spaces.Box(0.0, 1.0, (s.d,), np.float32),
                  action_space=spaces.Discrete(3), lr_schedule=lambda _: 1e-3, n_tasks=2,
                  net_arch=[8])


def _policy_call(cls, kw):
    kw = dict(kw)
    policy = cls(kw.pop("observation_space"), kw.pop("action_space"), kw.pop("lr_schedule"),
                 **kw)
    with torch.no_grad():
        return policy.predict_values(torch.zeros(2, policy.observation_space.shape[0]))


def _agent_build(kind, s, fine_tune=False):
    kw = dict(config=_cfg(1), hidden=(8,), settings=_settings(), seed=s.seed)
    if not fine_tune:
        kw.update(n_tasks=2, linear_comb=False, n_community=0, backbone_seed=0)
    return Inputs(**kw)


def _agent_call(cls, kw):
    agent = cls(**kw)
    agent.learn(0, (1,), 16)
    return agent.evaluate(0, (1,), n_episodes=2)


def _sequence_build(kind, s):
    from mintlab.continual.rl import MaskAgent

    return Inputs(agent=MaskAgent(_cfg(1), 2, hidden=(8,), settings=_settings(), seed=0),
                  tasks=[(1,)], steps=16, threshold=0.9, eval_every=16, eval_episodes=2,
                  stop_at_threshold=True, start_at=0, end_at=1, progress=False)


def _mosaic_agent_build(kind, s):
    return Inputs(name="a", config=_cfg(2), curriculum=[(0, 1)], n_community=1,
                  settings=_settings(), seed=s.seed, backbone_seed=0, hidden=(8,))


def _mosaic_agent_call(cls, kw):
    agent = cls(**kw)
    agent.train(16)
    return agent.evaluate(2)


@functools.lru_cache(maxsize=1)
def _embedding():
    from mintlab.continual.rl import fit_sar_embedding

    return fit_sar_embedding([_cfg(2)], n_samples=32, n_references=4, seed=0)


@functools.lru_cache(maxsize=1)
def _mosaic_agents():
    from mintlab.continual.rl import MosaicAgent

    return tuple(MosaicAgent(f"agent {i}", _cfg(2), [(0, i)], n_community=1,
                             settings=_settings(), seed=i, hidden=(8,)) for i in range(2))


def _collective_build(kind, s):
    return Inputs(agents=list(_mosaic_agents()), embedding=_embedding(), sharing="mosaic",
                  similarity_threshold=0.5, top_n=1, threshold=0.9, round_steps=16,
                  eval_episodes=2, sar_samples=16)


RL_CASES = [
    Case(target="mintlab.continual.rl.MaskedLinear", kinds=("torch",),
         build=lambda kind, s: Inputs(in_features=s.d, out_features=s.k, n_tasks=2,
                                      linear_comb=False, n_community=0, seed=s.seed),
         call=lambda cls, kw: cls(**kw)(torch.zeros(3, kw["in_features"])),
         roles={"in_features": "pos_int", "out_features": "pos_int", "n_tasks": "pos_int",
                "linear_comb": "bool", "n_community": "nonneg_int", "seed": "seed"}),
    Case(target="mintlab.continual.rl.MaskedMLP", kinds=("torch",),
         build=lambda kind, s: Inputs(sizes=[s.d, 8, s.k], n_tasks=2, linear_comb=True,
                                      n_community=1, seed=s.seed, activate_last=False),
         call=lambda cls, kw: cls(**kw)(torch.zeros(3, kw["sizes"][0])),
         roles={"n_tasks": "pos_int", "linear_comb": "bool", "n_community": "nonneg_int",
                "seed": "seed", "activate_last": "bool"}),
    Case(target="mintlab.continual.rl.masked_layers", kinds=("none",),
         build=lambda kind, s: Inputs(model=_mmlp()), roles={"model": "module"},
         call=lambda fn, kw: list(fn(**kw))),
    Case(target="mintlab.continual.rl.set_task", kinds=("none",),
         build=lambda kind, s: Inputs(model=_mmlp(), task=1),
         roles={"model": "module", "task": "nonneg_int"}),
    Case(target="mintlab.continual.rl.consolidate", kinds=("none",),
         build=lambda kind, s: Inputs(model=_mmlp(), task=1),
         roles={"model": "module", "task": "nonneg_int"}),
    Case(target="mintlab.continual.rl.mask_scores", kinds=("torch",),
         build=lambda kind, s: Inputs(model=_mmlp(), task=1),
         roles={"model": "module", "task": "nonneg_int"}),
    Case(target="mintlab.continual.rl.binary_masks", kinds=("torch",),
         build=lambda kind, s: Inputs(model=_mmlp(), task=1),
         roles={"model": "module", "task": "nonneg_int"}),
    Case(target="mintlab.continual.rl.set_community_masks", kinds=("none",),
         build=_community_build,
         roles={"model": "module", "masks": "module", "own_weight": "prob"}),
    Case(target="mintlab.continual.rl.CTGraphVecEnv", kinds=("none",),
         build=lambda kind, s: Inputs(env=_vec(s)),
         call=lambda cls, kw: _sb3_step(cls(**kw)), roles={"env": "module"}),
    Case(target="mintlab.continual.rl.MaskedActorCriticPolicy", kinds=("torch",),
         build=_policy_build, call=_policy_call,
         roles={"observation_space": "module", "action_space": "module",
                "lr_schedule": "module", "n_tasks": "pos_int", "linear_comb": "bool",
                "n_community": "nonneg_int", "backbone_seed": "nonneg_int"}),
    Case(target="mintlab.continual.rl.MultiHeadActorCriticPolicy", kinds=("none",),
         build=_multihead_policy_build, call=_policy_call,
         roles={"observation_space": "module", "action_space": "module",
                "lr_schedule": "module", "n_tasks": "pos_int"}),
    Case(target="mintlab.continual.rl.MultiHeadAgent", kinds=("none",),
         build=lambda kind, s: Inputs(config=_cfg(1), n_tasks=2, hidden=(8,),
                                      settings=_settings(), seed=s.seed),
         call=_agent_call,
         roles={"config": "module", "n_tasks": "pos_int", "settings": "module", "seed": "seed"},
         skip_breakers={**_NONE_CFG, ("settings", "none"): "settings=None means the "
                                                         "default PPOSettings()"}),
    Case(target="mintlab.continual.rl.MaskAgent", kinds=("none",), build=_agent_build,
         call=_agent_call,
         roles={"config": "module", "n_tasks": "pos_int", "linear_comb": "bool",
                "n_community": "nonneg_int", "backbone_seed": "nonneg_int",
                "settings": "module", "seed": "seed"},
         skip_breakers={**_NONE_CFG, ("settings", "none"): "settings=None means the "
                                                         "default PPOSettings()"},
         ),
    Case(target="mintlab.continual.rl.FineTuneAgent", kinds=("none",),
         build=functools.partial(_agent_build, fine_tune=True), call=_agent_call,
         roles={"config": "module", "settings": "module", "seed": "seed"},
         skip_breakers={**_NONE_CFG, ("settings", "none"): "settings=None means the "
                                                         "default PPOSettings()"},
         ),
    Case(target="mintlab.continual.rl.PPOSettings", kinds=("none",),
         build=lambda kind, s: Inputs(**_PPO_KW, learning_rate=1e-3, gamma=0.99,
                                      gae_lambda=0.95, clip_range=0.2, ent_coef=0.01,
                                      vf_coef=0.5, max_grad_norm=0.5, extra={}),
         roles={"n_envs": "pos_int", "n_steps": "pos_int", "batch_size": "pos_int",
                "n_epochs": "pos_int", "learning_rate": "pos_float", "gamma": "prob",
                "gae_lambda": "prob", "clip_range": "pos_float", "ent_coef": "nonneg_float",
                "vf_coef": "nonneg_float", "max_grad_norm": "pos_float", "extra": "module"}),
    Case(target="mintlab.continual.rl.evaluate_return", kinds=("none",),
         build=lambda kind, s: Inputs(predict=lambda obs: np.zeros(len(obs), np.int64),
                                      config=_cfg(1), task=1, n_episodes=s.k, seed=s.seed),
         roles={"predict": "module", "config": "module", "task": "nonneg_int",
                "n_episodes": "pos_int", "seed": "seed"}, skip_breakers=_NONE_CFG),
    Case(target="mintlab.continual.rl.run_task_sequence", kinds=("none",),
         build=_sequence_build,
         roles={"agent": "module", "tasks": "module", "steps": "pos_int", "threshold": "prob",
                "eval_every": "pos_int", "eval_episodes": "pos_int",
                "stop_at_threshold": "bool", "start_at": "nonneg_int", "end_at": "nonneg_int",
                "progress": "bool"}),
    Case(target="mintlab.continual.rl.MosaicAgent", kinds=("none",), build=_mosaic_agent_build,
         call=_mosaic_agent_call,
         roles={"config": "module", "curriculum": "module", "n_community": "nonneg_int",
                "settings": "module", "seed": "seed", "backbone_seed": "nonneg_int"},
         skip_breakers={("settings", "none"): "settings=None means the default PPOSettings()"},
         ),
    Case(target="mintlab.continual.rl.MosaicCollective", kinds=("none",),
         build=_collective_build,
         roles={"agents": "module", "embedding": "module", "sharing": "choice",
                "similarity_threshold": "real", "top_n": "pos_int", "threshold": "prob",
                "round_steps": "pos_int", "eval_episodes": "pos_int", "sar_samples": "pos_int"}),
    Case(target="mintlab.continual.rl.sar_dataset", kinds=("numpy",),
         build=lambda kind, s: Inputs(obs=rand(kind, s.n, s.d, seed=s.seed),
                                      actions=labels(kind, s.n, 3, seed=s.seed),
                                      rewards=rand(kind, s.n, seed=s.seed + 1), n_actions=3),
         roles={"obs": "points", "actions": "labels", "rewards": "values",
                "n_actions": "pos_int"}),
    Case(target="mintlab.continual.rl.random_sar", kinds=("none",),
         build=lambda kind, s: Inputs(config=_cfg(2), n_samples=s.n * 8, task=1, seed=s.seed),
         roles={"config": "module", "n_samples": "pos_int", "task": "nonneg_int",
                "seed": "seed"}),
    Case(target="mintlab.continual.rl.fit_sar_embedding", kinds=("none",),
         build=lambda kind, s: Inputs(configs=[_cfg(2)], n_samples=32, n_references=4,
                                      label_dim=2, seed=s.seed),
         roles={"configs": "module", "n_samples": "pos_int", "n_references": "pos_int",
                "label_dim": "pos_int", "seed": "seed"}),
    Case(target="mintlab.continual.rl.cosine_similarity",
         build=lambda kind, s: Inputs(u=randn(kind, s.d, seed=s.seed),
                                      v=randn(kind, s.d, seed=s.seed + 1)),
         roles={"u": "array", "v": "array"}),
]


def _sb3_step(venv):
    venv.reset()
    venv.step_async(np.zeros(venv.num_envs, np.int64))
    obs, r, _, _ = venv.step_wait()
    return obs, r


CASES = OOD_CASES + CONTINUAL_CASES + ENV_CASES + RL_CASES

EXEMPT: dict[str, str] = {
    "mintlab.continual.Plugin": "a callback base class: no arguments, every hook is a no-op "
                                "meant to be overridden",
    "mintlab.continual.LifelongMetrics": "frozen result dataclass that lifelong_metrics "
                                         "returns; it holds computed values only",
    "mintlab.continual.rl.TaskRecord": "result record that the PPO agents fill while they "
                                       "learn; it holds computed values only",
    "mintlab.continual.rl.MosaicResult": "result dataclass that MosaicCollective.run returns; "
                                         "it holds computed values only",
}
