"""MOSAIC (``mosaic``): agents that find, fetch and compose each other's masks.

Each agent learns its own tasks with modulating masks
(:class:`~mintlab.continual.rl.ppo.MaskAgent`). Every communication round:

1. the agent embeds its current task: its recent (state, action, reward)
   samples form a labelled dataset (features ``[state, one-hot action]``,
   label = rewarded or not) that the collective's shared Wasserstein
   :class:`~mintlab.embed.TaskEmbedding` turns into a vector;
2. it sends the vector and its current return to every peer; each peer answers
   with its most similar known task (cosine similarity of embeddings) and that
   task's return;
3. it keeps the answers with similarity >= ``similarity_threshold`` and a
   return above its own, and takes the ``top_n`` most similar;
4. when that selection differs from the last one, it fetches those masks and
   composes them with its own: the imported score matrices enter a learned
   softmax combination with the agent's scores, its own share starting at
   ``0.5 + 0.5 r`` for normalised return ``r``
   (:meth:`MaskedLinear.set_community`), and PPO fine-tunes the combination.
   (The authors' code re-imports every round; re-folding the same masks each
   round would keep restarting the combination weights.)

``sharing="isolated"`` switches communication off; ``sharing="all"``
imports every peer's mask whatever its similarity or return (indiscriminate
sharing). The shared embedding (its reference measure and label landmarks)
is fitted once on random-policy experience of the agents' environments, the
counterpart of the seeded reference all MOSAIC agents share.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..._validation import check_choice, check_int, check_probability
from ...embed import TaskEmbedding
from ...typing import ArrayLike
from .._checks import check_real, float_array, int_array, item_list
from ..envs.ctgraph import (
    CTGraphConfig,
    TaskLike,
    VecCTGraph,
    _path,
    _task_code,
    optimal_return,
)
from .ppo import MaskAgent, PPOSettings

__all__ = ["sar_dataset", "random_sar", "fit_sar_embedding", "MosaicAgent", "MosaicCollective",
           "MosaicResult", "cosine_similarity"]


def sar_dataset(obs: ArrayLike, actions: ArrayLike, rewards: ArrayLike, n_actions: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """(state, action, reward) samples as a labelled dataset for :class:`TaskEmbedding`.

    Returns ``(features (n, obs_dim + n_actions), labels (n,))`` with features
    ``[flattened state, one-hot action]`` and label 1 for rewarded samples.
    """
    obs = float_array(obs, "obs", min_size=0)
    a = int_array(actions, "actions", min_size=0).reshape(-1)
    r = float_array(rewards, "rewards", min_size=0).reshape(-1)
    n = len(a)
    if obs.ndim == 0:
        raise ValueError(f"obs must have one row per sample, got shape {obs.shape}")
    if n == 0 or obs.shape[0] != n or r.shape[0] != n:
        raise ValueError(f"obs, actions and rewards must hold the same non-zero number of "
                         f"samples, got {obs.shape[0]}, {n} and {r.shape[0]}")
    n_actions = check_int(n_actions, "n_actions", minimum=1)
    if a.min() < 0 or a.max() >= n_actions:
        raise ValueError(f"actions must lie in [0, {n_actions}), got [{a.min()}, {a.max()}]")
    onehot = np.eye(n_actions)[a]
    return np.c_[obs.reshape(n, -1), onehot], (r > 0).astype(np.int64)


def random_sar(config: CTGraphConfig, n_samples: int = 512, *, task: TaskLike = 0,
               seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n_samples`` (state, action, reward) samples of a uniformly random policy."""
    n = check_int(n_samples, "n_samples", minimum=1)
    if not isinstance(config, CTGraphConfig):
        raise TypeError(f"config must be a CTGraphConfig, got {type(config).__name__}")
    env = VecCTGraph(config, 32, tasks=task, seed=check_int(seed, "seed", minimum=0))
    obs, _ = env.reset()
    O: list[np.ndarray] = []
    A: list[np.ndarray] = []
    R: list[np.ndarray] = []
    while sum(len(a) for a in A) < n:
        a = env.random_actions()
        nxt, r, *_ = env.step(a)
        O.append(obs)
        A.append(a)
        R.append(r)
        obs = nxt
    return np.concatenate(O)[:n], np.concatenate(A)[:n], np.concatenate(R)[:n]


def fit_sar_embedding(configs: Sequence[CTGraphConfig], *, n_samples: int = 512,
                      n_references: int = 32, label_dim: int = 2,
                      seed: int = 0) -> TaskEmbedding:
    """The collective's shared task embedding, fitted on random-policy experience of each
    environment in ``configs`` (one reference task each)."""
    configs = item_list(configs, "configs", "CTGraphConfig")
    if not configs:
        raise ValueError("configs must name at least one environment")
    for i, c in enumerate(configs):
        if not isinstance(c, CTGraphConfig):
            raise TypeError(f"configs[{i}] must be a CTGraphConfig, got {type(c).__name__}")
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    n_references = check_int(n_references, "n_references", minimum=1)
    label_dim = check_int(label_dim, "label_dim", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    data = []
    for i, c in enumerate(configs):
        o, a, r = random_sar(c, n_samples, seed=seed + i)
        data.append(sar_dataset(o, a, r, c.n_actions))
    return TaskEmbedding(label_dim=label_dim, n_references=n_references, seed=seed).fit(data)


def cosine_similarity(u: ArrayLike, v: ArrayLike) -> float:
    """Cosine of the angle between two embeddings (0 if one of them is zero)."""
    u = float_array(u, "u", ndim=1)
    v = float_array(v, "v", ndim=1)
    if u.shape != v.shape:
        raise ValueError(f"u and v must have the same length, got {u.shape[0]} and {v.shape[0]}")
    nu, nv = np.linalg.norm(u), np.linalg.norm(v)
    return float(u @ v / (nu * nv)) if nu > 0 and nv > 0 else 0.0


@dataclass
class _Known:
    embedding: np.ndarray
    ret: float


class MosaicAgent:
    """One member of a MOSAIC collective: a :class:`MaskAgent` with a curriculum and a
    knowledge base of its tasks' embeddings and returns.

    Parameters
    ----------
    name : str
    config : CTGraphConfig
        Its environment (agents may differ in observation sets; masks are
        only meaningful between agents with the same network shapes and
        ``backbone_seed``).
    curriculum : sequence of tasks
        Learned in order; the agent moves on when a task's greedy return
        reaches the collective's threshold.
    n_community : int
        Slots for imported masks.
    settings, seed, backbone_seed, hidden
        As in :class:`MaskAgent`.
    """

    def __init__(self, name: str, config: CTGraphConfig, curriculum: Sequence, *,
                 n_community: int = 2, settings: PPOSettings | None = None, seed: int = 0,
                 backbone_seed: int = 0, hidden: Sequence[int] = (200, 200, 200)) -> None:
        if not isinstance(config, CTGraphConfig):
            raise TypeError(f"config must be a CTGraphConfig, got {type(config).__name__}")
        curriculum = item_list(curriculum, "curriculum", "tasks")
        if not curriculum:
            raise ValueError("curriculum must hold at least one task")
        self.name = str(name)
        self.config = config
        self.curriculum = [_path(config, _task_code(config, t, f"curriculum[{i}]"))
                           for i, t in enumerate(curriculum)]
        self.agent = MaskAgent(config, len(self.curriculum), n_community=n_community,
                               settings=settings, seed=seed, backbone_seed=backbone_seed,
                               hidden=hidden)
        self.position = 0
        self.known: dict[int, _Known] = {}
        self.current_return = 0.0
        self.steps_per_task: list[int] = [0] * len(self.curriculum)
        self.steps_to_threshold: list[int | None] = [None] * len(self.curriculum)
        self.curve: list[tuple[int, int, float]] = []  # (total steps, task, return)
        self.imports: list[tuple[int, list[str]]] = []
        self._last_import: tuple | None = None

    @property
    def done(self) -> bool:
        return self.position >= len(self.curriculum)

    @property
    def task(self):
        return None if self.done else self.curriculum[self.position]

    def train(self, steps: int) -> None:
        """Train the current task for ``steps`` environment steps."""
        if self.done:
            return
        self.agent.learn(self.position, self.task, steps)
        self.steps_per_task[self.position] += steps

    def evaluate(self, n_episodes: int = 32) -> float:
        if self.done:
            return self.current_return
        self.current_return = self.agent.evaluate(self.position, self.task,
                                                  n_episodes=n_episodes)
        self.curve.append((self.agent.total_steps, self.position, self.current_return))
        return self.current_return

    def recent_sar(self, n_samples: int = 512, seed: int = 0
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(states, actions, rewards) of the last PPO rollout, subsampled to ``n_samples``."""
        buf = self.agent.model.rollout_buffer
        obs = buf.observations.reshape(-1, *self.config.observation_shape)
        a = buf.actions.reshape(-1)
        r = buf.rewards.reshape(-1)
        if len(a) > n_samples:
            keep = np.random.default_rng(seed).choice(len(a), n_samples, replace=False)
            obs, a, r = obs[keep], a[keep], r[keep]
        return obs, a, r

    def embed(self, embedding: TaskEmbedding, n_samples: int = 512) -> np.ndarray:
        """Embed the current task from recent experience and store it in the knowledge base."""
        o, a, r = self.recent_sar(n_samples, seed=self.agent.total_steps)
        vec = embedding.transform([sar_dataset(o, a, r, self.config.n_actions)])[0]
        if not self.done:
            self.known[self.position] = _Known(vec, self.current_return)
        return vec

    def answer(self, query: np.ndarray) -> tuple[float, float, int] | None:
        """The known task most similar to ``query``: (similarity, return, task index)."""
        best = None
        for t, k in self.known.items():
            s = cosine_similarity(query, k.embedding)
            if best is None or s > best[0]:
                best = (s, k.ret, t)
        return best

    def finish_task(self, total_steps_at_threshold: int) -> None:
        self.steps_to_threshold[self.position] = total_steps_at_threshold
        self.known[self.position].ret = self.current_return
        self.agent.end_task()
        self.position += 1


@dataclass
class MosaicResult:
    """Outcome of :meth:`MosaicCollective.run`.

    ``steps_to_threshold[name]`` lists, per curriculum task, the agent's steps
    on that task until its greedy return first reached the threshold
    (``None`` if it never did within the budget); ``total_steps`` adds the
    steps every agent spent (the budget for unsolved tasks).
    """

    sharing: str
    steps_to_threshold: dict[str, list]
    total_steps: int
    solved: int
    n_tasks: int
    imports: dict[str, list] = field(default_factory=dict)
    curves: dict[str, list] = field(default_factory=dict)
    seconds: float = 0.0


class MosaicCollective:
    """Several :class:`MosaicAgent` s learning side by side, sharing masks (``mosaic``).

    Parameters
    ----------
    agents : sequence of MosaicAgent
    embedding : TaskEmbedding
        The shared embedding (see :func:`fit_sar_embedding`).
    sharing : {"mosaic", "isolated", "all"}, default "mosaic"
    similarity_threshold : float, default 0.5
        Criterion 1: minimum cosine similarity of a peer's task.
    top_n : int, default 2
        Masks imported per round at most (``"all"`` imports every peer's).
    threshold : float, default 0.9
        Fraction of the optimal return at which a task counts as solved.
    round_steps : int, default 1024
        Environment steps each agent trains between communication rounds.
    """

    def __init__(self, agents: Sequence[MosaicAgent], embedding: TaskEmbedding, *,
                 sharing: str = "mosaic", similarity_threshold: float = 0.5, top_n: int = 2,
                 threshold: float = 0.9, round_steps: int = 1024, eval_episodes: int = 32,
                 sar_samples: int = 512) -> None:
        agents = item_list(agents, "agents", "MosaicAgent")
        if len(agents) < 1 or not all(isinstance(a, MosaicAgent) for a in agents):
            raise TypeError("agents must be a non-empty sequence of MosaicAgent")
        names = [a.name for a in agents]
        if len(set(names)) != len(names):
            raise ValueError(f"agent names must be unique, got {names}")
        self.agents = list(agents)
        if not isinstance(embedding, TaskEmbedding):
            raise TypeError(f"embedding must be a fitted TaskEmbedding (see fit_sar_embedding), "
                            f"got {type(embedding).__name__}")
        self.embedding = embedding
        self.sharing = check_choice(sharing, "sharing", ("mosaic", "isolated", "all"))
        self.similarity_threshold = check_real(similarity_threshold, "similarity_threshold")
        if not -1.0 <= self.similarity_threshold <= 1.0:
            raise ValueError(f"similarity_threshold must lie in [-1, 1] (a cosine similarity), "
                             f"got {self.similarity_threshold}")
        self.top_n = check_int(top_n, "top_n", minimum=1)
        self.threshold = check_probability(threshold, "threshold")
        self.round_steps = check_int(round_steps, "round_steps", minimum=1)
        self.eval_episodes = check_int(eval_episodes, "eval_episodes", minimum=1)
        self.sar_samples = check_int(sar_samples, "sar_samples", minimum=8)
        need = len(self.agents) - 1 if self.sharing == "all" else self.top_n
        for a in self.agents:
            have = a.agent.policy.n_community
            if self.sharing != "isolated" and have < need:
                raise ValueError(f"agent {a.name} has {have} community mask slots, the "
                                 f"'{self.sharing}' sharing needs {need}")

    def _solved_at(self, agent: MosaicAgent) -> float:
        return self.threshold * optimal_return(agent.config, agent.task)

    def _select(self, agent: MosaicAgent, query: np.ndarray):
        """Peers' answers that pass the criteria, most similar first."""
        answers = []
        for peer in self.agents:
            if peer is agent:
                continue
            ans = peer.answer(query)
            if ans is None:
                continue
            sim, ret, t = ans
            if self.sharing == "mosaic" and not (sim >= self.similarity_threshold
                                                 and ret > agent.current_return):
                continue
            answers.append((sim, ret, peer, t))
        answers.sort(key=lambda x: (-x[0], -x[1]))
        return answers if self.sharing == "all" else answers[:self.top_n]

    def run(self, max_steps_per_task: int, *, progress: bool = False) -> MosaicResult:
        """Run rounds until every agent has solved its curriculum or spent its budget."""
        from tqdm.auto import tqdm

        budget = check_int(max_steps_per_task, "max_steps_per_task", minimum=1)
        t0 = time.perf_counter()
        n_rounds = -(-budget // self.round_steps) * max(len(a.curriculum) for a in self.agents)
        bar = tqdm(total=n_rounds, desc=f"mosaic ({self.sharing})", disable=not progress)
        for _ in range(n_rounds):
            active = [a for a in self.agents if not a.done]
            if not active:
                break
            for a in active:
                a.train(self.round_steps)
                ret = a.evaluate(self.eval_episodes)
                a.embed(self.embedding, self.sar_samples)
                if ret >= self._solved_at(a):
                    a.finish_task(a.steps_per_task[a.position])
                elif a.steps_per_task[a.position] >= budget:
                    a.agent.end_task()
                    a.position += 1
            if self.sharing != "isolated":
                for a in self.agents:
                    if a.done or a.position not in a.known:
                        continue
                    chosen = self._select(a, a.known[a.position].embedding)
                    key = (a.position, frozenset((p.name, t) for _, _, p, t in chosen))
                    if chosen and key != a._last_import:  # a new selection: fetch and compose
                        r = a.current_return / max(optimal_return(a.config, a.task), 1e-12)
                        a.agent.import_masks([p.agent.shared_mask(t) for _, _, p, t in chosen],
                                             own_weight=0.5 + 0.5 * min(max(r, 0.0), 1.0))
                        a.imports.append((a.agent.total_steps, [p.name for _, _, p, _ in chosen]))
                        a._last_import = key
            bar.update(1)
        bar.close()
        steps = {a.name: list(a.steps_to_threshold) for a in self.agents}
        total = sum(sum(a.steps_per_task) for a in self.agents)
        solved = sum(s is not None for v in steps.values() for s in v)
        return MosaicResult(self.sharing, steps, int(total), int(solved),
                            sum(len(a.curriculum) for a in self.agents),
                            {a.name: a.imports for a in self.agents},
                            {a.name: a.curve for a in self.agents},
                            time.perf_counter() - t0)

