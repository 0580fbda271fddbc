"""The configurable tree graph (``ct-graph``): a transparent, distal-reward RL environment.

An episode walks down a tree with branching factor ``b`` and depth ``D``::

    home -> wait -> decision -> wait -> decision -> ... -> wait -> leaf (graph end)

* **home**: any action moves to the root's wait state.
* **wait**: action 0 (the wait action) leaves the state with probability
  ``1 - wait_prob`` (it stays with probability ``wait_prob``), to the next
  decision state, or to the leaf after the last decision; any other action
  crashes.
* **decision**: action ``k`` in ``1..b`` takes branch ``k - 1`` to the wait
  state below; action 0 crashes.
* **leaf** (graph end): entering it pays the reward of that leaf (a task puts
  ``high_reward`` on one leaf: "needle in a haystack"); the next action ends
  the episode.
* **crash**: pays ``crash_reward`` and ends the episode at once.

Observations are categorical: every state shows one observation drawn from the
set of its kind (home, crash, wait, decision, graph end), as a one-hot vector
(``"1d"``) or a 12 x 12 image (``"2d"``), with a reward cue (the last entry, or a
central square) lit at a rewarded leaf. With ``mdp_decisions`` each decision
node shows its own observation (the problem is Markov at decisions); otherwise a
random one of the set (partially observable). The same holds for wait states.
Each leaf is a task; tasks that share the first ``k`` decisions are similar to
degree ``k / D``.

:class:`CTGraphEnv` is the Gymnasium environment (id ``mintlab/CTGraph-v0``);
:class:`VecCTGraph` runs many copies in numpy, one array operation per step
for all of them (same-step autoreset), for millions of steps per second.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

try:
    import gymnasium as gym
    from gymnasium import spaces
    from gymnasium.vector import AutoresetMode, VectorEnv
except ImportError as exc:  # pragma: no cover - exercised only without the rl extra
    raise ImportError("mintlab.continual.envs needs gymnasium: pip install 'mintlab[rl]'") from exc

from ..._validation import check_choice, check_int, check_nonnegative, check_probability
from .._checks import check_bool, int_array, np_seed

__all__ = ["CTGraphConfig", "CTGraphEnv", "VecCTGraph", "all_tasks", "make_tasks",
           "task_similarity", "optimal_return", "optimal_episode_length",
           "random_policy_success", "run_policy", "steps_per_second", "HOME", "WAIT",
           "DECISION", "END", "CRASH"]

HOME, WAIT, DECISION, END, CRASH = 0, 1, 2, 3, 4

#: A task: a leaf index, or the path of ``depth`` branch indices to the rewarded leaf.
TaskLike = int | np.integer | Sequence[int]
#: A seed for ``numpy.random.default_rng``: what numpy takes there.
NumpySeed = (int | Sequence[int] | np.ndarray | np.random.Generator | np.random.SeedSequence
             | np.random.BitGenerator | None)
_IMAGE = 12  # side of a 2D observation


def _series(b: int, n: int) -> int:
    """1 + b + ... + b^(n-1): nodes in the first ``n`` levels of the tree."""
    return (b**n - 1) // (b - 1)


@dataclass(frozen=True)
class CTGraphConfig:
    """Shape, observations and rewards of a CT-graph.

    Parameters
    ----------
    branching : int, default 2
        Branches at each decision state (actions ``1..branching``); >= 2.
    depth : int, default 2
        Decision states on the way to a leaf; >= 1. There are
        ``branching ** depth`` leaves (tasks).
    wait_prob : float, default 0.0
        Probability in ``[0, 1)`` that the wait action keeps the agent in its
        wait state (wait states then last ``1 / (1 - wait_prob)`` steps on
        average).
    observation : {"1d", "2d"}, default "1d"
        One-hot vectors of length ``n_observations + 1`` or 12 x 12 images.
    n_wait_obs, n_decision_obs, n_end_obs : int or None
        Sizes of the observation sets of wait, decision and leaf states.
        ``None`` gives one observation per node where the kind is Markov
        (``mdp_*``) or per leaf, else a single shared observation for waits.
    mdp_decisions, mdp_waits : bool
        Give each decision (wait) node its own observation; the set must then
        hold at least one per node.
    high_reward, crash_reward : float
        Reward at the task's leaf and at a crash.
    reward : {"needle", "linear"}, default "needle"
        ``"needle"``: ``high_reward`` only at the task's leaf. ``"linear"``:
        ``high_reward`` times the weighted share of decisions that agree with
        the task's path (weights ``D, D-1, ..., 1``).
    reward_std : float, default 0.0
        Multiplicative Gaussian noise on the leaf reward.
    noise : float, default 0.0
        Uniform noise in ``[0, noise]`` added to every observation entry
        (clipped to 1).
    max_episode_steps : int or None
        Truncate episodes after this many steps; ``None``: four times the
        length of an optimal episode without waiting, at least 20.
    image_seed : int, default 0
        Seed of the observation set: the 2D patterns, or which one-hot code
        each observation gets in 1D. Two seeds give two input distributions
        for the same graph (same seed, same set on every machine).

    Examples
    --------
    >>> cfg = CTGraphConfig(branching=2, depth=3, wait_prob=0.2)
    >>> cfg.n_leaves, cfg.n_decision_nodes, cfg.n_actions
    (8, 7, 3)
    """

    branching: int = 2
    depth: int = 2
    wait_prob: float = 0.0
    observation: str = "1d"
    n_wait_obs: int | None = None
    n_decision_obs: int | None = None
    n_end_obs: int | None = None
    mdp_decisions: bool = True
    mdp_waits: bool = False
    high_reward: float = 1.0
    crash_reward: float = 0.0
    reward: str = "needle"
    reward_std: float = 0.0
    noise: float = 0.0
    max_episode_steps: int | None = None
    image_seed: int = 0
    _sizes: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        b = check_int(self.branching, "branching")
        if b < 2:
            raise ValueError(f"branching must be >= 2 (a decision needs two branches), got {b}")
        D = check_int(self.depth, "depth")
        if D < 1:
            raise ValueError(f"depth must be >= 1 (at least one decision), got {D}")
        p = check_probability(self.wait_prob, "wait_prob")
        if p >= 1:
            raise ValueError(f"wait_prob must be < 1 (else a wait state never ends), got {p}")
        check_choice(self.observation, "observation", ("1d", "2d"))
        check_choice(self.reward, "reward", ("needle", "linear"))
        check_bool(self.mdp_decisions, "mdp_decisions")
        check_bool(self.mdp_waits, "mdp_waits")
        for name in ("high_reward", "crash_reward", "reward_std", "noise"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise TypeError(f"{name} must be a finite number, got {type(v).__name__} {v!r}")
            if not math.isfinite(v):
                raise ValueError(f"{name} must be a finite number, got {v!r}")
        check_nonnegative(self.reward_std, "reward_std")
        check_nonnegative(self.noise, "noise")
        check_int(self.image_seed, "image_seed", minimum=0)
        n_wait_nodes, n_dec_nodes, n_leaves = _series(b, D + 1), _series(b, D), b**D
        sizes = {}
        for kind, given, mdp, default in (
                ("wait", self.n_wait_obs, self.mdp_waits, n_wait_nodes if self.mdp_waits else 1),
                ("decision", self.n_decision_obs, self.mdp_decisions,
                 n_dec_nodes if self.mdp_decisions else 1),
                ("end", self.n_end_obs, False, n_leaves)):
            n = default if given is None else check_int(given, f"n_{kind}_obs", minimum=1)
            need = {"wait": n_wait_nodes, "decision": n_dec_nodes}.get(kind)
            if mdp and n < need:
                raise ValueError(f"n_{kind}_obs must be >= {need} (one observation per {kind} "
                                 f"node) when mdp_{kind}s=True, got {n}: the observation set "
                                 "is too small")
            sizes[kind] = n
        H = self.max_episode_steps
        if H is not None:
            check_int(H, "max_episode_steps", minimum=1)
        object.__setattr__(self, "_sizes", (sizes["wait"], sizes["decision"], sizes["end"]))

    # ---- derived quantities -------------------------------------------------------------
    @property
    def n_leaves(self) -> int:
        """Leaves (graph ends), one task each."""
        return self.branching**self.depth

    @property
    def n_decision_nodes(self) -> int:
        return _series(self.branching, self.depth)

    @property
    def n_wait_nodes(self) -> int:
        return _series(self.branching, self.depth + 1)

    @property
    def n_actions(self) -> int:
        """The wait action 0 and one action per branch."""
        return self.branching + 1

    @property
    def n_observations(self) -> int:
        """Distinct categorical observations: home, crash and the three sets."""
        return 2 + sum(self._sizes)

    @property
    def observation_shape(self) -> tuple[int, ...]:
        return (self.n_observations + 1,) if self.observation == "1d" else (_IMAGE, _IMAGE)

    @property
    def horizon(self) -> int:
        """Episode step limit (``max_episode_steps`` or its default)."""
        if self.max_episode_steps is not None:
            return int(self.max_episode_steps)
        return max(20, 4 * (2 * self.depth + 3))

    def observation_table(self) -> np.ndarray:
        """The observation of every id, ``(n_observations, *observation_shape)`` float32."""
        n = self.n_observations
        rng = np.random.default_rng(self.image_seed)
        if self.observation == "1d":  # one-hot codes, their order drawn from the seed
            return np.eye(n, n + 1, dtype=np.float32)[rng.permutation(n)]
        from scipy.ndimage import rotate

        table = np.zeros((n, _IMAGE, _IMAGE), np.float32)
        seen = set()
        for i in range(n):
            while True:  # 3^16 patterns: a repeat is rare, but two ids must never look alike
                small = rng.integers(0, 3, size=(4, 4))
                if small.tobytes() not in seen:
                    seen.add(small.tobytes())
                    break
            img = np.kron(small, np.ones((3, 3))) / 2.0
            table[i] = np.clip(rotate(img, rng.uniform(0, 360), reshape=False, order=0), 0, 1)
        return table


def _check_config(config) -> CTGraphConfig:
    if config is None:
        return CTGraphConfig()
    if not isinstance(config, CTGraphConfig):
        raise TypeError(f"config must be a CTGraphConfig, got {type(config).__name__}")
    return config


def _task_code(config: CTGraphConfig, task, name: str = "task") -> int:
    """A task (path of ``depth`` branch indices, or a leaf index) as its leaf index."""
    b, D = config.branching, config.depth
    if isinstance(task, int | np.integer) and not isinstance(task, bool):
        if not 0 <= int(task) < b**D:
            raise ValueError(f"{name} as a leaf index must lie in [0, {b**D}), got {int(task)}")
        return int(task)
    try:
        path = [int(x) for x in task]
    except TypeError:
        raise TypeError(f"{name} must be a leaf index or a path of {D} branch indices, got "
                        f"{type(task).__name__}") from None
    if len(path) != D or any(not 0 <= x < b for x in path):
        raise ValueError(f"{name} must be a path of {D} branch indices in [0, {b}), got {path}")
    code = 0
    for x in path:
        code = code * b + x
    return code


def _path(config: CTGraphConfig, code: int) -> tuple[int, ...]:
    b, out = config.branching, []
    for _ in range(config.depth):
        out.append(code % b)
        code //= b
    return tuple(reversed(out))


def all_tasks(config: CTGraphConfig | None = None) -> list[tuple[int, ...]]:
    """Every task (leaf path) of ``config``, in leaf order."""
    config = _check_config(config)
    return [_path(config, c) for c in range(config.n_leaves)]


def task_similarity(a: Sequence[int], b: Sequence[int]) -> float:
    """Shared decision prefix of two task paths over the depth: 1 for equal tasks, 0 for
    tasks that part at the root.

    >>> task_similarity((0, 1, 1), (0, 1, 0))
    0.6666666666666666
    """
    a = tuple(int(x) for x in int_array(a, "a", ndim=1, min_size=0))
    b = tuple(int(x) for x in int_array(b, "b", ndim=1, min_size=0))
    if len(a) != len(b) or not a:
        raise ValueError(f"tasks a and b must be paths of one non-zero length, got {a} and {b}")
    k = 0
    while k < len(a) and a[k] == b[k]:
        k += 1
    return k / len(a)


def make_tasks(config: CTGraphConfig | None = None, n_tasks: int = 4, *,
               shared_prefix: int = 0, seed: NumpySeed = None) -> list[tuple[int, ...]]:
    """Draw ``n_tasks`` distinct tasks that all share their first ``shared_prefix`` decisions.

    ``shared_prefix`` sets the similarity of the tasks: any two of them have
    :func:`task_similarity` at least ``shared_prefix / depth``.

    Examples
    --------
    >>> cfg = CTGraphConfig(branching=2, depth=3)
    >>> tasks = make_tasks(cfg, 4, shared_prefix=1, seed=0)
    >>> len({t[0] for t in tasks})
    1
    """
    config = _check_config(config)
    b, D = config.branching, config.depth
    n = check_int(n_tasks, "n_tasks", minimum=1)
    k = check_int(shared_prefix, "shared_prefix", minimum=0)
    if k > D:
        raise ValueError(f"shared_prefix must be <= depth ({D}), got {k}")
    if n > b ** (D - k):
        raise ValueError(f"only {b ** (D - k)} tasks share a prefix of {k} decisions in a "
                         f"graph of depth {D} and branching {b}; asked for {n}")
    rng = np.random.default_rng(np_seed(seed))
    prefix = tuple(int(x) for x in rng.integers(0, b, size=k))
    rest = rng.choice(b ** (D - k), size=n, replace=False)
    sub = CTGraphConfig(branching=b, depth=D - k) if D > k else None
    return [prefix + (_path(sub, int(r)) if sub else ()) for r in rest]


def optimal_episode_length(config: CTGraphConfig | None = None) -> float:
    """Expected steps of an optimal episode with no step limit:
    ``2 + D + (D + 1) / (1 - wait_prob)`` (home, D decisions, D + 1 wait states,
    the leaf)."""
    config = _check_config(config)
    return 2 + config.depth + (config.depth + 1) / (1 - config.wait_prob)


def _reach_pmf(config: CTGraphConfig) -> tuple[np.ndarray, np.ndarray]:
    """Steps ``T`` at which the optimal policy enters the leaf, and their probabilities
    (within the horizon): ``T = 1 + D + sum of D + 1 geometric wait durations``."""
    from scipy.stats import nbinom

    D, p, H = config.depth, config.wait_prob, config.horizon
    base = 1 + D + (D + 1)  # every wait state left at the first try
    extra = np.arange(0, max(H - base + 1, 0))
    probs = nbinom.pmf(extra, D + 1, 1 - p) if p > 0 else (extra == 0).astype(float)
    return base + extra, probs


def optimal_return(config: CTGraphConfig | None = None, task: TaskLike | None = None,
                   gamma: float = 1.0) -> float:
    """Expected return of an optimal policy on ``task``, within the step limit.

    The optimal policy waits at wait states and follows the task's path; the
    leaf's reward arrives at step ``T`` with ``T - 2D - 2`` negative-binomial
    (extra steps spent waiting), so the expected (discounted) return is
    ``high_reward * E[gamma^(T-1); T <= horizon]``. No policy does better: any
    other action crashes or reaches a leaf of lower reward, and no action
    shortens a wait.

    Examples
    --------
    >>> optimal_return(CTGraphConfig(depth=2))
    1.0
    """
    config = _check_config(config)
    if task is not None:
        _task_code(config, task)
    g = check_probability(gamma, "gamma")
    T, probs = _reach_pmf(config)
    return float(config.high_reward * np.sum(probs * g ** (T - 1.0)))


def random_policy_success(config: CTGraphConfig | None = None) -> float:
    """Probability that a uniformly random policy reaches a given leaf (no step limit):
    ``[(1 - p) / (b + 1 - p)]^(D + 1) * (1 / (b + 1))^D``, which falls exponentially
    with depth (reward sparsity).
    """
    config = _check_config(config)
    b, D, p = config.branching, config.depth, config.wait_prob
    leave_wait = (1 - p) / (b + 1 - p)
    return float(leave_wait ** (D + 1) * (1.0 / (b + 1)) ** D)


class _Core:
    """The transition and observation rules of ``n`` CT-graphs, as array operations."""

    def __init__(self, config: CTGraphConfig, n: int, rng: np.random.Generator):
        self.config = config
        self.n = n
        self.rng = rng
        self.table = config.observation_table()
        c = config
        self.b, self.D = c.branching, c.depth
        n_wait, n_dec, n_end = c._sizes
        self.wait0 = 2
        self.dec0 = self.wait0 + n_wait
        self.end0 = self.dec0 + n_dec
        self.sizes = (n_wait, n_dec, n_end)
        self.level_offset = np.array([_series(self.b, lv) for lv in range(self.D + 1)], np.int64)
        self.depth_weight = np.arange(self.D, 0, -1, dtype=np.float64)
        self.state = np.zeros(n, np.int8)
        self.level = np.zeros(n, np.int64)
        self.code = np.zeros(n, np.int64)
        self.goal = np.zeros(n, np.int64)
        self.t = np.zeros(n, np.int64)
        self.cue = np.zeros(n, np.float32)
        self.ret = np.zeros(n, np.float64)

    def reset(self, rows=None):
        sl = slice(None) if rows is None else rows
        self.state[sl] = HOME
        self.level[sl] = 0
        self.code[sl] = 0
        self.t[sl] = 0
        self.cue[sl] = 0
        self.ret[sl] = 0

    def _leaf_reward(self, code, goal):
        c = self.config
        if c.reward == "needle":
            r = np.where(code == goal, c.high_reward, 0.0)
        else:
            match = np.zeros(code.shape, np.float64)
            cc, gg = code.copy(), goal.copy()
            for i in range(self.D):  # digits from the last decision up
                match += self.depth_weight[self.D - 1 - i] * (cc % self.b == gg % self.b)
                cc //= self.b
                gg //= self.b
            r = c.high_reward * match / self.depth_weight.sum()
        if c.reward_std > 0:
            r = r * (1.0 + c.reward_std * self.rng.standard_normal(r.shape))
        return r

    def step(self, a: np.ndarray):
        """Advance every copy by one action; returns (reward, terminated)."""
        st = self.state
        home, wait, dec, end = st == HOME, st == WAIT, st == DECISION, st == END
        r = np.zeros(self.n, np.float64)
        w0 = wait & (a == 0)
        if self.config.wait_prob > 0:
            w0 &= self.rng.random(self.n) >= self.config.wait_prob
        crash = (wait & (a != 0)) | (dec & (a == 0))
        to_end = w0 & (self.level == self.D)
        go = dec & (a > 0)
        st[home] = WAIT
        st[w0] = DECISION
        if to_end.any():
            st[to_end] = END
            rr = self._leaf_reward(self.code[to_end], self.goal[to_end])
            r[to_end] = rr
            hr = self.config.high_reward
            self.cue[to_end] = rr / hr if hr != 0 else 0.0
        if go.any():
            self.code[go] = self.code[go] * self.b + (a[go] - 1)
            self.level[go] += 1
            st[go] = WAIT
        if crash.any():
            st[crash] = CRASH
            r[crash] = self.config.crash_reward
        self.t += 1
        self.ret += r
        return r, crash | end

    def observation_ids(self, rows=None) -> np.ndarray:
        sl = slice(None) if rows is None else rows
        st, level, code = self.state[sl], self.level[sl], self.code[sl]
        ids = np.where(st == CRASH, 1, 0).astype(np.int64)
        n_wait, n_dec, n_end = self.sizes
        node = self.level_offset[level] + code
        for kind, start, n_kind, mdp in ((WAIT, self.wait0, n_wait, self.config.mdp_waits),
                                         (DECISION, self.dec0, n_dec,
                                          self.config.mdp_decisions)):
            m = st == kind
            if m.any():
                if mdp:
                    ids[m] = start + node[m]
                else:
                    ids[m] = start + self.rng.integers(0, n_kind, size=int(m.sum()))
        m = st == END
        ids[m] = self.end0 + code[m] % n_end
        return ids

    def observe(self, rows=None) -> np.ndarray:
        ids = self.observation_ids(rows)
        obs = self.table[ids]
        sl = slice(None) if rows is None else rows
        end = self.state[sl] == END
        if end.any():
            if self.config.observation == "1d":
                obs[end, -1] = self.cue[sl][end]
            else:
                obs[end, 3:9, 3:9] = self.cue[sl][end][:, None, None]
        if self.config.noise > 0:
            obs += self.rng.uniform(0, self.config.noise, size=obs.shape).astype(np.float32)
            np.clip(obs, 0.0, 1.0, out=obs)
        return obs

    def optimal_actions(self) -> np.ndarray:
        """Wait at wait states, follow the goal's path at decisions (0 elsewhere)."""
        a = np.zeros(self.n, np.int64)
        dec = self.state == DECISION
        if dec.any():
            shift = self.b ** (self.D - 1 - self.level[dec])
            a[dec] = (self.goal[dec] // shift) % self.b + 1
        return a


class CTGraphEnv(gym.Env):
    """The CT-graph as a Gymnasium environment (``ct-graph``); id ``mintlab/CTGraph-v0``.

    Parameters
    ----------
    config : CTGraphConfig, optional
        Graph shape, observations and rewards (default: branching 2, depth 2).
    task : path of ``depth`` branch indices or leaf index, default 0
        The rewarded leaf. ``reset(options={"task": ...})`` or :meth:`set_task`
        change it.

    Observations are float32 in ``[0, 1]`` of shape ``config.observation_shape``;
    actions ``Discrete(branching + 1)`` (0 = wait). ``info`` holds the state type
    (0 home, 1 wait, 2 decision, 3 leaf, 4 crash) and the task.

    Examples
    --------
    >>> env = CTGraphEnv(CTGraphConfig(depth=1), task=(1,))
    >>> obs, info = env.reset(seed=0)
    >>> total = 0.0
    >>> for _ in range(10):
    ...     obs, r, terminated, truncated, info = env.step(env.optimal_action())
    ...     total += r
    ...     if terminated or truncated:
    ...         break
    >>> total
    1.0
    """

    metadata = {"render_modes": []}

    def __init__(self, config: CTGraphConfig | None = None, task: TaskLike = 0) -> None:
        self.config = _check_config(config)
        self.action_space = spaces.Discrete(self.config.n_actions)
        self.observation_space = spaces.Box(0.0, 1.0, self.config.observation_shape, np.float32)
        self._core = _Core(self.config, 1, np.random.default_rng())
        self._core.goal[0] = _task_code(self.config, task)
        self._started = False

    @property
    def task(self) -> tuple[int, ...]:
        return _path(self.config, int(self._core.goal[0]))

    def set_task(self, task: TaskLike) -> None:
        """Move the reward to ``task`` (takes effect at once)."""
        self._core.goal[0] = _task_code(self.config, task)

    def _info(self):
        return {"state": int(self._core.state[0]), "task": self.task}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._core.rng = self.np_random
        if options and "task" in options:
            self.set_task(options["task"])
        self._core.reset()
        self._started = True
        return self._core.observe()[0], self._info()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if not self._started:
            raise RuntimeError("call reset() before step()")
        if not self.action_space.contains(action):
            raise ValueError(f"action must be an integer in [0, {self.config.n_actions}), "
                             f"got {action!r}")
        core = self._core
        was_end = core.state[0] == END
        r, term = core.step(np.array([int(action)]))
        if was_end:
            core.state[0] = HOME  # the episode ends at home, as in the reference
        truncated = bool(core.t[0] >= self.config.horizon and not term[0])
        if term[0] or truncated:
            self._started = False
        return core.observe()[0], float(r[0]), bool(term[0]), truncated, self._info()

    def optimal_action(self) -> int:
        """The optimal action in the current state (uses the hidden state: an oracle)."""
        return int(self._core.optimal_actions()[0])


class VecCTGraph(VectorEnv):
    """``n_envs`` CT-graphs stepped together in numpy (``ct-graph``).

    One call of :meth:`step` advances every copy with a handful of array
    operations. Finished copies reset in the same step (Gymnasium's
    ``AutoresetMode.SAME_STEP``): the returned observation is the new episode's
    first one, ``info["final_obs"]`` holds the last observation of the ended
    episode in the rows where ``info["_final_obs"]`` is True, and
    ``info["episode_return"]`` / ``info["episode_length"]`` give the ended
    episodes' return and length (NaN elsewhere).

    Parameters
    ----------
    config : CTGraphConfig, optional
    n_envs : int, default 64
    tasks : task, or list of ``n_envs`` tasks, default 0
        One task for every copy (a leaf index or a tuple path), or a list /
        array with one per copy.
    seed : int or None
        Seeds the wait transitions, random observations and noise.

    Examples
    --------
    >>> env = VecCTGraph(CTGraphConfig(depth=2), n_envs=8, tasks=(1, 0), seed=0)
    >>> obs, _ = env.reset()
    >>> rets = []
    >>> for _ in range(8):
    ...     obs, r, term, trunc, info = env.step(env.optimal_actions())
    ...     rets += info["episode_return"][term | trunc].tolist()
    >>> rets
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, config: CTGraphConfig | None = None, n_envs: int = 64,
                 tasks: TaskLike | Sequence[TaskLike] | np.ndarray = 0,
                 seed: NumpySeed = None) -> None:
        self.config = _check_config(config)
        self.num_envs = check_int(n_envs, "n_envs", minimum=1)
        self.single_observation_space = spaces.Box(0.0, 1.0, self.config.observation_shape,
                                                   np.float32)
        self.single_action_space = spaces.Discrete(self.config.n_actions)
        self.observation_space = spaces.Box(0.0, 1.0, (self.num_envs,)
                                            + self.config.observation_shape, np.float32)
        self.action_space = spaces.MultiDiscrete(np.full(self.num_envs, self.config.n_actions))
        self._core = _Core(self.config, self.num_envs, np.random.default_rng(np_seed(seed)))
        self.set_tasks(tasks)
        self._core.reset()

    def set_tasks(self, tasks: TaskLike | Sequence[TaskLike] | np.ndarray) -> None:
        """Set the rewarded leaf of every copy (takes effect at once).

        ``tasks`` is one task for all copies (a leaf index, or a *tuple* path),
        or a list / array with one task per copy.
        """
        if isinstance(tasks, int | np.integer | tuple) and not isinstance(tasks, bool):
            self._core.goal[:] = _task_code(self.config, tasks, "tasks")
            return
        if not isinstance(tasks, list | np.ndarray):
            raise TypeError("tasks must be a leaf index, a tuple path, or a list / array of "
                            f"{self.num_envs} tasks, got {type(tasks).__name__}")
        if len(tasks) != self.num_envs:
            raise ValueError(f"tasks must hold one task per copy ({self.num_envs}), got "
                             f"{len(tasks)}")
        self._core.goal[:] = [_task_code(self.config, t.item() if isinstance(t, np.generic)
                                         else t, f"tasks[{i}]") for i, t in enumerate(tasks)]

    @property
    def tasks(self) -> list[tuple[int, ...]]:
        return [_path(self.config, int(c)) for c in self._core.goal]

    @property
    def state(self) -> np.ndarray:
        """State type of every copy (read-only view)."""
        v = self._core.state.view()
        v.flags.writeable = False
        return v

    def reset(self, *, seed: NumpySeed = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        if seed is not None:
            self._core.rng = np.random.default_rng(np_seed(seed))
        if options and "tasks" in options:
            self.set_tasks(options["tasks"])
        self._core.reset()
        return self._core.observe(), {}

    def step(self, actions: Any
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        a = np.asarray(actions)
        if a.shape != (self.num_envs,) or not (np.issubdtype(a.dtype, np.integer) or (
                np.issubdtype(a.dtype, np.floating) and np.all(np.mod(a, 1) == 0))):
            raise ValueError(f"actions must be {self.num_envs} integers, got shape {a.shape} "
                             f"and dtype {a.dtype}")
        a = a.astype(np.int64, copy=False)
        if a.size and (a.min() < 0 or a.max() >= self.config.n_actions):
            raise ValueError(f"actions must lie in [0, {self.config.n_actions}), got values in "
                             f"[{a.min()}, {a.max()}]")
        core = self._core
        was_end = core.state == END
        r, term = core.step(a)
        core.state[was_end] = HOME
        trunc = (core.t >= self.config.horizon) & ~term
        done = term | trunc
        info = {}
        ep_ret = np.full(self.num_envs, np.nan)
        ep_len = np.full(self.num_envs, np.nan)
        if done.any():
            rows = np.flatnonzero(done)
            final = np.zeros((self.num_envs,) + self.config.observation_shape, np.float32)
            final[rows] = core.observe(rows)
            ep_ret[rows] = core.ret[rows]
            ep_len[rows] = core.t[rows]
            core.reset(rows)
            info["final_obs"], info["_final_obs"] = final, done.copy()
        info["episode_return"], info["episode_length"] = ep_ret, ep_len
        return core.observe(), r.astype(np.float32), term, trunc, info

    def optimal_actions(self) -> np.ndarray:
        """The optimal action of every copy (an oracle on the hidden state)."""
        return self._core.optimal_actions()

    def random_actions(self) -> np.ndarray:
        """Uniformly random actions for every copy, from the environment's generator."""
        return self._core.rng.integers(0, self.config.n_actions, size=self.num_envs)

    def close(self, **kwargs: Any) -> None:
        pass


def run_policy(env: VecCTGraph, policy: str | Callable[[np.ndarray], Any], n_episodes: int,
               max_steps: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Run ``policy`` on every copy of ``env`` and return episode returns and lengths.

    ``policy`` is ``"optimal"``, ``"random"`` or a callable ``obs -> actions``.
    Each copy contributes its first ``ceil(n_episodes / n_envs)`` episodes, so
    short episodes are not over-represented (taking the first episodes to end
    across copies would favour them). Returns two arrays of that many episodes
    per copy; ``max_steps`` bounds the vector steps (default: enough for every
    copy to finish its episodes).
    """
    if not isinstance(env, VecCTGraph):
        raise TypeError(f"env must be a VecCTGraph, got {type(env).__name__}")
    n_episodes = check_int(n_episodes, "n_episodes", minimum=1)
    if max_steps is not None:
        max_steps = check_int(max_steps, "max_steps", minimum=1)
    if not (callable(policy) or policy in ("optimal", "random")):
        raise ValueError(f"policy must be 'optimal', 'random' or a callable, got {policy!r}")
    per = -(-n_episodes // env.num_envs)
    rets = np.full((env.num_envs, per), np.nan)
    lens = np.full((env.num_envs, per), np.nan)
    count = np.zeros(env.num_envs, np.int64)
    obs, _ = env.reset()
    limit = max_steps if max_steps is not None else per * env.config.horizon
    for _ in range(int(limit)):
        if policy == "optimal":
            a = env.optimal_actions()
        elif policy == "random":
            a = env.random_actions()
        else:
            a = cast(Callable[[np.ndarray], Any], policy)(obs)
        obs, _, term, trunc, info = env.step(a)
        rows = np.flatnonzero((term | trunc) & (count < per))
        if rows.size:
            rets[rows, count[rows]] = info["episode_return"][rows]
            lens[rows, count[rows]] = info["episode_length"][rows]
            count[rows] += 1
            if count.min() >= per:
                break
    keep = ~np.isnan(rets)
    return rets[keep], lens[keep]


def steps_per_second(config: CTGraphConfig | None = None, n_envs: int | None = None,
                     n_steps: int = 100_000, seed: int = 0) -> float:
    """Random-action environment steps per second: :class:`VecCTGraph` with ``n_envs``
    copies, or (``n_envs=None``) one :class:`CTGraphEnv` stepped in a Python loop."""
    import time

    config = _check_config(config)
    n_steps = check_int(n_steps, "n_steps", minimum=1)
    if n_envs is not None:
        n_envs = check_int(n_envs, "n_envs", minimum=1)
    rng = np.random.default_rng(np_seed(seed))
    if n_envs is None:
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer)):
            raise TypeError(f"seed must be an int >= 0 or None when n_envs is None (a "
                            f"gymnasium reset seed), got {type(seed).__name__}")
        env = CTGraphEnv(config)
        env.reset(seed=None if seed is None else int(seed))
        actions = rng.integers(0, config.n_actions, n_steps)
        t0 = time.perf_counter()
        for a in actions:
            _, _, term, trunc, _ = env.step(int(a))
            if term or trunc:
                env.reset()
        return n_steps / (time.perf_counter() - t0)
    vec = VecCTGraph(config, n_envs, seed=seed)
    vec.reset()
    actions = rng.integers(0, config.n_actions, (16, vec.num_envs))
    t0 = time.perf_counter()
    done = 0
    while done < n_steps:
        vec.step(actions[(done // vec.num_envs) % 16])
        done += vec.num_envs
    return done / (time.perf_counter() - t0)
