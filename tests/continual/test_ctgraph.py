"""CT-graph environment (``ct-graph``): Gymnasium contract, rules, optimal returns, errors."""

import itertools

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from mintlab.continual.envs import (
    CRASH,
    DECISION,
    END,
    ENV_ID,
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
    task_similarity,
)

CONFIGS = [
    CTGraphConfig(),
    CTGraphConfig(branching=3, depth=2, wait_prob=0.3, observation="2d", noise=0.05),
    CTGraphConfig(branching=2, depth=3, mdp_decisions=False, n_decision_obs=2, mdp_waits=True,
                  reward="linear", reward_std=0.1),
]


@pytest.mark.parametrize("cfg", CONFIGS)
def test_check_env_passes(cfg):
    check_env(CTGraphEnv(cfg, task=all_tasks(cfg)[-1]), skip_render_check=True)


def test_registered_id():
    env = gym.make(ENV_ID, config=CTGraphConfig(depth=1), task=(1,))
    obs, info = env.reset(seed=0)
    assert obs.shape == (CTGraphConfig(depth=1).n_observations + 1,)
    assert info["task"] == (1,)


@pytest.mark.parametrize("cfg", CONFIGS)
def test_seeded_resets_are_reproducible(cfg):
    def rollout(seed):
        env = CTGraphEnv(cfg, task=0)
        obs, _ = env.reset(seed=seed)
        out = [obs]
        rng = np.random.default_rng(7)
        for _ in range(60):
            obs, r, term, trunc, _ = env.step(int(rng.integers(cfg.n_actions)))
            out.append(obs)
            out.append(np.array([r]))
            if term or trunc:
                obs, _ = env.reset()
                out.append(obs)
        return np.concatenate([o.ravel() for o in out])

    assert np.array_equal(rollout(3), rollout(3))
    if cfg.noise > 0 or not cfg.mdp_decisions or cfg.reward_std > 0:  # randomness visible
        assert not np.array_equal(rollout(3), rollout(4))


class _Reference:
    """The rules as written in the paper, one step at a time, in plain Python."""

    def __init__(self, cfg, goal):
        self.cfg, self.goal = cfg, list(goal)
        self.kind, self.path, self.done = HOME, [], False

    def step(self, a, leave_wait):
        c = self.cfg
        if self.kind == HOME:
            self.kind = WAIT
            return 0.0
        if self.kind == WAIT:
            if a != 0:
                self.kind, self.done = CRASH, True
                return c.crash_reward
            if not leave_wait:
                return 0.0
            if len(self.path) == c.depth:
                self.kind = END
                return c.high_reward if self.path == self.goal else 0.0
            self.kind = DECISION
            return 0.0
        if self.kind == DECISION:
            if a == 0:
                self.kind, self.done = CRASH, True
                return c.crash_reward
            self.path.append(a - 1)
            self.kind = WAIT
            return 0.0
        if self.kind == END:
            self.kind, self.done = HOME, True
            return 0.0
        raise AssertionError


@pytest.mark.parametrize("seed", range(5))
def test_transitions_match_a_plain_reference(seed):
    rng = np.random.default_rng(seed)
    cfg = CTGraphConfig(branching=int(rng.integers(2, 4)), depth=int(rng.integers(1, 4)),
                        crash_reward=-0.5, max_episode_steps=500)
    for episode in range(40):
        goal = tuple(int(x) for x in rng.integers(0, cfg.branching, cfg.depth))
        env = CTGraphEnv(cfg, task=goal)
        ref = _Reference(cfg, goal)
        env.reset(seed=episode)
        # mostly sensible actions, so that episodes get deep into the graph
        while not ref.done:
            if ref.kind == WAIT:
                a = 0 if rng.random() < 0.9 else int(rng.integers(1, cfg.n_actions))
            elif ref.kind == DECISION:
                a = int(rng.integers(1, cfg.n_actions)) if rng.random() < 0.9 else 0
            else:
                a = int(rng.integers(cfg.n_actions))
            _, r, term, trunc, info = env.step(a)
            r_ref = ref.step(a, leave_wait=True)
            assert r == pytest.approx(r_ref)
            assert info["state"] == ref.kind
            assert term == ref.done and not trunc


def _exact_optimal_value(cfg, goal):
    """Finite-horizon value iteration on the full MDP (the oracle for optimal_return)."""
    b, D, p, H = cfg.branching, cfg.depth, cfg.wait_prob, cfg.horizon
    states = [(HOME, 0, ())] + [(k, len(path), path) for k in (WAIT, DECISION)
                                for n in range(D + 1) for path in itertools.product(range(b),
                                                                                  repeat=n)
                                if not (k == DECISION and n == D)]
    states.append((END, D, ()))
    V = {s: 0.0 for s in states}
    for _ in range(H):  # V_k: best expected return with k steps left
        new = {}
        for s in states:
            kind, n, path = s
            best = -np.inf
            for a in range(b + 1):
                if kind == HOME:
                    v = V[(WAIT, 0, ())]
                elif kind == END:
                    v = 0.0
                elif kind == WAIT:
                    if a != 0:
                        v = cfg.crash_reward
                    elif n == D:
                        r = cfg.high_reward if list(path) == list(goal) else 0.0
                        v = p * V[s] + (1 - p) * (r + V[(END, D, ())])
                    else:
                        v = p * V[s] + (1 - p) * V[(DECISION, n, path)]
                else:
                    v = cfg.crash_reward if a == 0 else V[(WAIT, n + 1, path + (a - 1,))]
                best = max(best, v)
            new[s] = best
        V = new
    return V[(HOME, 0, ())]


@pytest.mark.parametrize("cfg", [CTGraphConfig(depth=2, wait_prob=0.4, max_episode_steps=11),
                                 CTGraphConfig(branching=3, depth=1, wait_prob=0.6,
                                               max_episode_steps=7),
                                 CTGraphConfig(depth=3, wait_prob=0.0)])
def test_optimal_return_equals_value_iteration(cfg):
    for goal in all_tasks(cfg)[:3]:
        assert optimal_return(cfg, goal) == pytest.approx(_exact_optimal_value(cfg, goal),
                                                          abs=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_optimal_policy_achieves_optimal_return(seed):
    rng = np.random.default_rng(seed)
    cfg = CTGraphConfig(branching=int(rng.integers(2, 4)), depth=int(rng.integers(1, 4)),
                        wait_prob=float(rng.choice([0.0, 0.3, 0.6])),
                        max_episode_steps=int(rng.integers(8, 30)))
    task = tuple(int(x) for x in rng.integers(0, cfg.branching, cfg.depth))
    rets, _ = run_policy(VecCTGraph(cfg, 1024, tasks=task, seed=seed), "optimal", 20_000)
    opt = optimal_return(cfg, task)
    se = max(np.sqrt(opt * (1 - opt) / len(rets)), 1e-12)
    assert abs(rets.mean() - opt) <= 4 * se + 1e-12
    if cfg.wait_prob == 0 and cfg.horizon >= 2 * cfg.depth + 3:
        assert np.all(rets == 1.0)


def test_random_policy_success_and_episode_length_formulas():
    cfg = CTGraphConfig(branching=2, depth=2, wait_prob=0.25, max_episode_steps=400)
    rets, _ = run_policy(VecCTGraph(cfg, 4096, tasks=1, seed=0), "random", 400_000)
    th = random_policy_success(cfg)
    assert abs(rets.mean() - th) <= 4 * np.sqrt(th * (1 - th) / len(rets))
    _, lens = run_policy(VecCTGraph(cfg, 1024, tasks=1, seed=1), "optimal", 20_000)
    assert lens.mean() == pytest.approx(optimal_episode_length(cfg), rel=0.02)


def test_vector_and_scalar_envs_agree():
    cfg = CTGraphConfig(branching=3, depth=2)  # deterministic: no waiting, Markov decisions
    vec = VecCTGraph(cfg, 1, tasks=(2, 1), seed=0)
    env = CTGraphEnv(cfg, task=(2, 1))
    o_v, _ = vec.reset()
    o_s, _ = env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(200):
        assert np.array_equal(o_v[0], o_s)
        a = int(rng.integers(cfg.n_actions)) if rng.random() < 0.3 else env.optimal_action()
        o_v, r_v, t_v, tr_v, info = vec.step(np.array([a]))
        o_s, r_s, t_s, tr_s, _ = env.step(a)
        assert (r_v[0], t_v[0], tr_v[0]) == (r_s, t_s, tr_s)
        if t_s or tr_s:
            assert np.array_equal(info["final_obs"][0], o_s)
            o_s, _ = env.reset()


def test_vector_env_autoreset_and_per_copy_tasks():
    cfg = CTGraphConfig(depth=2)
    env = VecCTGraph(cfg, 4, tasks=[0, 1, 2, 3], seed=0)
    assert env.tasks == all_tasks(cfg)
    env.reset()
    for _ in range(2 * cfg.depth + 3):
        obs, r, term, trunc, info = env.step(env.optimal_actions())
    assert term.all() and not trunc.any()
    assert info["_final_obs"].all() and np.all(info["episode_return"] == 1.0)
    assert np.all(info["episode_length"] == 2 * cfg.depth + 3)
    assert np.all(env.state == HOME)  # reset in the same step
    assert np.array_equal(obs, env.reset()[0])


def test_truncation_at_the_step_limit():
    cfg = CTGraphConfig(depth=1, wait_prob=0.9, max_episode_steps=5)
    env = VecCTGraph(cfg, 256, seed=0)
    env.reset()
    for _ in range(5):
        _, _, term, trunc, info = env.step(env.optimal_actions())
    assert trunc.any() and not (term & trunc).any()
    assert np.all(info["episode_length"][trunc] == 5)


def test_observations():
    cfg = CTGraphConfig(branching=2, depth=2, observation="2d")
    table = cfg.observation_table()
    assert table.shape == (cfg.n_observations, 12, 12)
    flat = table.reshape(len(table), -1)
    assert len(np.unique(flat, axis=0)) == len(table)  # every observation distinct
    assert np.array_equal(table, CTGraphConfig(observation="2d", depth=2).observation_table())
    one = CTGraphConfig(image_seed=1).observation_table()
    two = CTGraphConfig(image_seed=2).observation_table()
    assert one.shape == two.shape and not np.array_equal(one, two)
    assert np.array_equal(np.sort(one.argmax(1)), np.arange(len(one)))  # a permuted one-hot set
    env = CTGraphEnv(CTGraphConfig(depth=1), task=(0,))
    env.reset(seed=0)
    for _ in range(4):  # home -> wait -> decision -> wait -> leaf
        obs, r, *_ = env.step(env.optimal_action())
    assert r == 1.0 and obs[-1] == 1.0  # the reward cue is lit at the rewarded leaf
    # Markov decisions: each decision node has its own observation
    cfg = CTGraphConfig(branching=2, depth=3)
    seen = set()
    for task in all_tasks(cfg):
        env = CTGraphEnv(cfg, task=task)
        obs, _ = env.reset(seed=0)
        while True:
            if env._core.state[0] == DECISION:
                seen.add((int(env._core.level[0]), int(env._core.code[0]), obs.argmax()))
            obs, _, term, trunc, _ = env.step(env.optimal_action())
            if term or trunc:
                break
    assert len(seen) == cfg.n_decision_nodes == len({s[2] for s in seen})


def test_tasks_and_similarity():
    cfg = CTGraphConfig(branching=2, depth=4)
    tasks = make_tasks(cfg, 4, shared_prefix=2, seed=0)
    assert len(set(tasks)) == 4
    assert all(task_similarity(a, b) >= 0.5 for a in tasks for b in tasks)
    assert make_tasks(cfg, 4, shared_prefix=2, seed=0) == tasks
    assert task_similarity((0, 1, 1, 0), (0, 1, 1, 0)) == 1.0
    assert task_similarity((1, 1, 1, 0), (0, 1, 1, 0)) == 0.0
    assert len(all_tasks(cfg)) == 16


@pytest.mark.parametrize("kwargs, match", [
    (dict(branching=1), "branching must be >= 2"),
    (dict(depth=0), "depth must be >= 1"),
    (dict(wait_prob=1.0), "wait_prob must be < 1"),
    (dict(wait_prob=-0.1), "wait_prob must lie in"),
    (dict(depth=3, n_decision_obs=3), "observation set is too small"),
    (dict(mdp_waits=True, n_wait_obs=2), "observation set is too small"),
    (dict(observation="3d"), "observation must be one of"),
    (dict(reward="dense"), "reward must be one of"),
    (dict(noise=-1.0), "noise must be non-negative"),
    (dict(n_end_obs=0), "n_end_obs must be >= 1"),
    (dict(high_reward=float("nan")), "high_reward must be a finite number"),
])
def test_bad_configurations_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CTGraphConfig(**kwargs)


def test_bad_use_rejected():
    with pytest.raises(TypeError, match="branching must be an integer"):
        CTGraphConfig(branching=2.5)
    cfg = CTGraphConfig(depth=2)
    with pytest.raises(ValueError, match="path of 2 branch indices"):
        CTGraphEnv(cfg, task=(0, 2))
    with pytest.raises(ValueError, match="leaf index must lie in"):
        CTGraphEnv(cfg, task=4)
    env = CTGraphEnv(cfg)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action must be an integer"):
        env.step(3)
    vec = VecCTGraph(cfg, 4)
    with pytest.raises(ValueError, match="actions must lie in"):
        vec.step(np.array([0, 1, 2, 5]))
    with pytest.raises(ValueError, match="actions must be 4 integers"):
        vec.step(np.zeros(3, int))
    with pytest.raises(ValueError, match="one task per copy"):
        vec.set_tasks([0, 1])
    with pytest.raises(ValueError, match="only 2 tasks share"):
        make_tasks(cfg, 3, shared_prefix=1)
    with pytest.raises(TypeError, match="config must be a CTGraphConfig"):
        VecCTGraph({"depth": 2})


# ---- observability: what a memoryless policy can and cannot do (exhaustive oracles) ----------


def _memoryless_success(cfg, task, table):
    """Success rate of the memoryless policy ``table`` (observation id -> action)."""
    env = VecCTGraph(cfg, 64, tasks=task, seed=0)
    obs, _ = env.reset()
    ids = cfg.observation_table().argmax(1)  # one-hot position -> observation id
    lookup = np.zeros(len(ids) + 1, np.int64)
    lookup[ids] = np.arange(len(ids))
    rets = []
    for _ in range(cfg.horizon):
        a = np.array([table.get(int(lookup[o[:-1].argmax()]), 0) for o in obs])
        obs, _, term, trunc, info = env.step(a)
        rets += info["episode_return"][term | trunc].tolist()
    return float(np.mean(np.asarray(rets) >= cfg.high_reward))


def _oracle_table(cfg, task):
    """Observation id -> the optimal action, collected along the optimal path."""
    core = VecCTGraph(cfg, 1, tasks=task, seed=0)._core
    table = {}
    for _ in range(2 * cfg.depth + 2):
        table[int(core.observation_ids()[0])] = int(core.optimal_actions()[0])
        core.step(core.optimal_actions())
    return table


@pytest.mark.parametrize("task", [(0, 1), (1, 0), (1, 1, 0)])
def test_non_markov_decisions_defeat_every_memoryless_policy(task):
    markov = CTGraphConfig(depth=len(task), mdp_waits=True)
    assert _memoryless_success(markov, task, _oracle_table(markov, task)) == 1.0
    pomdp = CTGraphConfig(depth=len(task), mdp_waits=True, mdp_decisions=False)
    table = _oracle_table(pomdp, task)
    decision_ids = {i for i in table if 2 + pomdp._sizes[0] <= i < 2 + sum(pomdp._sizes[:2])}
    assert len(decision_ids) == 1  # every decision state shows the same observation
    (d,) = decision_ids
    for k in range(1, pomdp.n_actions):  # every choice at that observation fails
        assert _memoryless_success(pomdp, task, {**table, d: k}) == 0.0
    # a path that repeats one branch is solvable without memory
    same = tuple([task[0]] * len(task))
    assert _memoryless_success(pomdp, same, _oracle_table(pomdp, same)) == 1.0


def test_wait_states_show_their_node_only_when_markov():
    for mdp_waits, distinct in ((True, 7), (False, 1)):
        cfg = CTGraphConfig(depth=2, mdp_waits=mdp_waits, mdp_decisions=False)
        seen = set()
        for task in all_tasks(cfg):
            core = VecCTGraph(cfg, 1, tasks=task, seed=0)._core
            for _ in range(6):
                if core.state[0] == WAIT:
                    seen.add(int(core.observation_ids()[0]))
                core.step(core.optimal_actions())
        assert len(seen) == distinct


# ---- PPO agents (Stable-Baselines3, sb3-contrib) ----------------------------------------------


def test_feed_forward_ppo_learns_a_shallow_graph_and_is_seeded():
    import torch

    from mintlab.continual.rl.sb3_agents import train_ppo

    cfg = CTGraphConfig(depth=1, mdp_waits=True)
    torch.manual_seed(123)
    np.random.seed(5)  # noqa: NPY002 - SB3 seeds NumPy's global state: it must be restored
    before_t, before_np = torch.get_rng_state(), np.random.get_state()[1].copy()  # noqa: NPY002
    threads = torch.get_num_threads()
    a = train_ppo(cfg, (1,), total_steps=2048, seed=7)
    assert torch.equal(torch.get_rng_state(), before_t)  # the caller's streams are untouched
    assert np.array_equal(np.random.get_state()[1], before_np)  # noqa: NPY002
    assert torch.get_num_threads() == threads
    b = train_ppo(cfg, (1,), total_steps=2048, seed=7)
    assert a.success == b.success and a.steps == b.steps  # same seed, same run
    assert a.solved and a.steps_to_threshold <= 2048 and max(a.success) >= 0.9
    assert a.steps == sorted(a.steps) and a.steps[0] == 16 * 32  # one evaluation per rollout
    c = train_ppo(cfg, (1,), total_steps=8192, seed=7, stop_at_threshold=True)
    assert c.steps[-1] == c.steps_to_threshold  # stops at the first solving evaluation


def test_recurrent_ppo_runs_and_evaluates_with_its_state():
    from mintlab.continual.rl.sb3_agents import greedy_success, train_ppo

    cfg = CTGraphConfig(depth=2, mdp_waits=True, mdp_decisions=False)
    run, model = train_ppo(cfg, (0, 1), kind="lstm", total_steps=512, seed=0,
                           return_model=True)
    assert len(run.steps) == 1 and 0.0 <= run.final_success <= 1.0
    assert run.steps_to_threshold == 512 or run.solved
    assert greedy_success(model, cfg, (0, 1), 8, seed=1) == greedy_success(model, cfg, (0, 1),
                                                                           8, seed=1)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(kind="gru"), ValueError, "kind must be one of"),
    (dict(total_steps=0), ValueError, "total_steps"),
    (dict(seed=-1), ValueError, "seed"),
    (dict(threshold=1.5), ValueError, "threshold"),
    (dict(learning_rate=-1.0), ValueError, "learning_rate"),
    (dict(n_envs=0), ValueError, "n_envs"),
])
def test_train_ppo_rejects_bad_arguments(kwargs, error, match):
    from mintlab.continual.rl.sb3_agents import train_ppo

    with pytest.raises(error, match=match):
        train_ppo(CTGraphConfig(depth=1), (0,), **kwargs)
    with pytest.raises(TypeError, match="config must be a CTGraphConfig"):
        train_ppo({"depth": 1}, (0,))
    with pytest.raises(ValueError, match="task"):
        train_ppo(CTGraphConfig(depth=1), (3,))


def test_missing_sb3_contrib_names_the_extra(monkeypatch):
    import sys

    from mintlab.continual.rl.sb3_agents import _require

    monkeypatch.setitem(sys.modules, "sb3_contrib", None)
    with pytest.raises(ImportError, match=r"pip install 'mintlab\[rl\]'"):
        _require("lstm")
    assert _require("mlp").__name__ == "PPO"
