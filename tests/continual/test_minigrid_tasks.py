"""MiniGrid task families and the PPO agents on them (``lrl-modulating-masks``)."""

import numpy as np
import pytest
import torch

pytest.importorskip("minigrid")

from mintlab.continual.envs import CTGraphConfig, MiniGridTasks, encode_minigrid_view  # noqa: E402
from mintlab.continual.metrics import accuracy_matrix  # noqa: E402
from mintlab.continual.rl import (  # noqa: E402
    FineTuneAgent,
    MaskAgent,
    MultiHeadAgent,
    PPOSettings,
    run_task_sequence,
)
from mintlab.continual.rl.masks import use_task  # noqa: E402

SMALL = dict(hidden=(16,), settings=PPOSettings(n_envs=4, n_steps=32, batch_size=64,
                                                 n_epochs=1))
EMPTY = "MiniGrid-Empty-5x5-v0"
LAVA = "MiniGrid-LavaGapS5-v0"


def test_encoding_is_one_hot_per_cell():
    img = np.zeros((7, 7, 3), dtype=np.uint8)
    img[..., 0] = 1  # empty
    img[2, 3] = (4, 0, 2)  # a locked door
    img[5, 6] = (8, 1, 0)  # the goal
    v = encode_minigrid_view(img).reshape(7, 7, 14)
    assert v.sum() == 49 + 1  # one object indicator per cell, one door-state indicator
    assert v[2, 3, 4] == 1 and v[2, 3, 11 + 2] == 1
    assert v[5, 6, 8] == 1 and v[5, 6, 11:].sum() == 0
    assert v[0, 0, 1] == 1
    batch = encode_minigrid_view(np.stack([img, img]))
    assert batch.shape == (2, 686) and np.array_equal(batch[0], batch[1])


def test_encoding_rejects_wrong_shapes():
    with pytest.raises(ValueError, match="image"):
        encode_minigrid_view(np.zeros((7, 7)))


def test_family_validates_its_arguments():
    with pytest.raises(ValueError, match="env_ids"):
        MiniGridTasks(["MiniGrid-Nope-v0"])
    with pytest.raises(TypeError, match="env_ids"):
        MiniGridTasks(EMPTY)
    with pytest.raises(ValueError, match="actions"):
        MiniGridTasks([EMPTY], actions=("jump",))
    fam = MiniGridTasks([EMPTY, LAVA])
    assert fam.check_task(1) == LAVA and fam.check_task(EMPTY) == EMPTY
    with pytest.raises(ValueError, match="task"):
        fam.check_task(2)
    with pytest.raises(ValueError, match="task"):
        fam.check_task("MiniGrid-DoorKey-5x5-v0")
    with pytest.raises(TypeError, match="task"):
        fam.check_task(1.5)
    with pytest.raises(TypeError, match="config"):
        MaskAgent("MiniGrid-Empty-5x5-v0", 2)


def test_scripted_shortest_path_earns_minigrid_reward():
    """Empty 5x5: the agent starts at (1, 1) facing east, the goal is at (3, 3); forward,
    forward, right, forward, forward reaches it in 5 steps, and MiniGrid pays
    1 - 0.9 * 5 / 100 (its documented reward)."""
    fam = MiniGridTasks([EMPTY])
    plan = [2, 2, 1, 2, 2]  # indices into (left, right, forward, pickup, toggle)
    step = {"k": 0}

    def scripted(obs):
        a = plan[min(step["k"], len(plan) - 1)]
        step["k"] += 1
        return np.full(len(obs), a)

    assert fam.evaluate(scripted, EMPTY, n_episodes=4) == pytest.approx(1 - 0.9 * 5 / 100)
    # turning in place never reaches the goal
    assert fam.evaluate(lambda o: np.zeros(len(o), int), EMPTY, n_episodes=2) == 0.0


def test_vec_env_matches_the_family_format():
    fam = MiniGridTasks([EMPTY, LAVA])
    venv = fam.vec_env(LAVA, 3, seed=4)
    obs = venv.reset()
    assert obs.shape == (3, 686) and obs.dtype == np.float32
    assert venv.action_space.n == 5
    obs, r, done, infos = venv.step(np.zeros(3, int))
    assert obs.shape == (3, 686) and r.shape == (3,)


def _logits(agent, obs):
    with torch.no_grad():
        return agent.policy.get_distribution(torch.as_tensor(obs)).distribution.logits.clone()


def test_masks_keep_a_minigrid_task_exactly():
    fam = MiniGridTasks([EMPTY, LAVA])
    agent = MaskAgent(fam, 2, seed=0, **SMALL)
    obs = fam.vec_env(EMPTY, 8, seed=1).reset()
    agent.learn(0, EMPTY, 256)
    agent.end_task()
    use_task(agent.policy, 0)
    before = _logits(agent, obs)
    agent.learn(1, LAVA, 512)
    agent.end_task()
    use_task(agent.policy, 0)
    assert torch.equal(_logits(agent, obs), before)


def test_multi_head_keeps_old_heads_and_shares_the_trunk():
    cfg = CTGraphConfig(depth=1)
    agent = MultiHeadAgent(cfg, 2, seed=0, **SMALL)
    agent.learn(0, (0,), 256)
    agent.end_task()
    heads = [h.weight.detach().clone() for h in agent.policy.action_net.heads]
    trunk = [p.detach().clone() for p in agent.policy.mlp_extractor.parameters()]
    agent.learn(1, (1,), 256)
    agent.end_task()
    assert torch.equal(agent.policy.action_net.heads[0].weight, heads[0])
    assert not torch.equal(agent.policy.action_net.heads[1].weight, heads[1])
    assert any(not torch.equal(p, q)
               for p, q in zip(agent.policy.mlp_extractor.parameters(), trunk, strict=True))
    with pytest.raises(ValueError, match="task_id"):
        agent.evaluate(2, (0,))


def test_sequence_on_minigrid_logs_every_task():
    fam = MiniGridTasks([EMPTY, LAVA])
    agent = FineTuneAgent(fam, seed=0, **SMALL)
    log, recs = run_task_sequence(agent, [EMPTY, LAVA], 256, eval_every=128, eval_episodes=2,
                                  deterministic=False)
    assert [r.task for r in recs] == [EMPTY, LAVA]
    assert all(r.steps >= 256 for r in recs)
    R, _ = accuracy_matrix(log)
    assert R.shape == (2, 2) and np.all((R >= 0) & (R < 1))
    with pytest.raises(TypeError, match="deterministic"):
        run_task_sequence(agent, [EMPTY], 128, deterministic="no")
