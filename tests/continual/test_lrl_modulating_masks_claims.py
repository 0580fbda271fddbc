"""Modulating masks keep every learned task; a fine-tuned network cannot (``lrl-modulating-masks``).

The experiment's former ``masks_no_forgetting`` and ``fine_tuning_forgets``
checks hold by construction: the backbone is frozen and each task has its own
mask on every layer (heads included), and greedy evaluation is deterministic,
so learning a new task leaves an old task's policy bit for bit unchanged;
and a deterministic policy reaches one leaf only, so a network that solves
one needle task must score zero on any other.
"""

import numpy as np
import torch

from mintlab.continual.envs import CTGraphConfig, all_tasks
from mintlab.continual.rl import FineTuneAgent, MaskAgent, PPOSettings, run_task_sequence
from mintlab.continual.rl.masks import use_task

SMALL = dict(hidden=(32, 32), settings=PPOSettings(n_envs=8, n_steps=32, batch_size=128))


def _logits(agent, obs):
    with torch.no_grad():
        return agent.policy.get_distribution(torch.as_tensor(obs)).distribution.logits.clone()


def test_masks_no_forgetting():
    cfg = CTGraphConfig(depth=1)
    tasks = [(0,), (1,)]
    agent = MaskAgent(cfg, len(tasks), seed=2, **SMALL)
    obs = np.eye(cfg.observation_shape[0], dtype=np.float32)  # every one-hot observation
    kw = dict(threshold=0.9, eval_every=512)
    _, recs = run_task_sequence(agent, tasks[:1], 8192, **kw)
    assert recs[0].steps_to_threshold is not None
    use_task(agent.policy, 0)
    before = _logits(agent, obs)
    ret_before = agent.evaluate(0, tasks[0])
    for i, t in enumerate(tasks[1:], start=1):
        agent.learn(i, t, 1024)
        agent.end_task()
    use_task(agent.policy, 0)
    assert torch.equal(_logits(agent, obs), before)
    assert agent.evaluate(0, tasks[0]) == ret_before


def test_a_deterministic_policy_scores_on_one_leaf_only():
    """The oracle behind ``fine_tuning_forgets``: needle rewards on different leaves are
    mutually exclusive for any deterministic policy."""
    cfg = CTGraphConfig(depth=1)
    agent = FineTuneAgent(cfg, seed=0, **SMALL)
    _, recs = run_task_sequence(agent, [(1,)], 8192, threshold=1.0, eval_every=512)
    assert recs[0].steps_to_threshold is not None
    returns = {t: agent.evaluate(0, t) for t in all_tasks(cfg)}
    assert returns[(1,)] == 1.0
    assert sum(returns.values()) == 1.0
    # and learning the other leaf to the optimum takes the first one to zero
    _, recs = run_task_sequence(agent, [(0,)], 8192, threshold=1.0, eval_every=512)
    assert recs[0].steps_to_threshold is not None
    assert agent.evaluate(0, (1,)) == 0.0
