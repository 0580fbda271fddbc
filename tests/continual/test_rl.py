"""Modulating masks (``lrl-modulating-masks``), the SB3 agents and MOSAIC (``mosaic``)."""

import math

import numpy as np
import pytest
import torch

from mintlab.continual.envs import CTGraphConfig, VecCTGraph
from mintlab.continual.rl import (
    CTGraphVecEnv,
    FineTuneAgent,
    MaskAgent,
    MaskedLinear,
    MaskedMLP,
    MosaicAgent,
    MosaicCollective,
    PPOSettings,
    consolidate,
    cosine_similarity,
    fit_sar_embedding,
    mask_scores,
    run_task_sequence,
    sar_dataset,
    set_community_masks,
    set_task,
)
from mintlab.continual.rl.masks import use_task

SMALL = dict(hidden=(32, 32), settings=PPOSettings(n_envs=8, n_steps=32, batch_size=128))


def _trainable(model):
    return {n for n, p in model.named_parameters() if p.requires_grad}


def test_backbone_is_frozen_signed_constants():
    layer = MaskedLinear(10, 7, n_tasks=3, seed=5)
    assert "weight" in dict(layer.named_buffers())
    assert torch.allclose(layer.weight.abs(), torch.full((7, 10), math.sqrt(2 / 10)))
    assert torch.equal(layer.weight, MaskedLinear(10, 7, n_tasks=3, seed=5).weight)
    assert not torch.equal(layer.weight, MaskedLinear(10, 7, n_tasks=3, seed=6).weight)


def test_only_the_active_task_scores_receive_gradients():
    net = MaskedMLP((6, 16, 4), n_tasks=3, seed=0)
    set_task(net, 1)
    net(torch.randn(5, 6)).pow(2).sum().backward()
    with_grad = {n for n, p in net.named_parameters() if p.grad is not None}
    assert with_grad == {"layers.0.scores.1", "layers.1.scores.1"}
    assert all(not p.requires_grad for p in net.buffers())


def test_straight_through_gradient():
    """dL/dS equals dL/dM for y = x (W * M)^T with M = [S >= 0] (computed by hand)."""
    torch.manual_seed(0)
    layer = MaskedLinear(5, 3, n_tasks=1, seed=0).double()
    x = torch.randn(4, 5, dtype=torch.float64)
    g = torch.randn(4, 3, dtype=torch.float64)
    (layer(x) * g).sum().backward()
    by_hand = (g.T @ x) * layer.weight  # dL/dM
    assert torch.allclose(layer.scores[0].grad, by_hand)


def test_switching_masks_restores_exact_outputs():
    cfg = CTGraphConfig(depth=1)
    agent = MaskAgent(cfg, n_tasks=2, seed=0, **SMALL)
    obs = np.stack([VecCTGraph(cfg, 1, seed=i).reset()[0][0] for i in range(4)]
                   + [np.eye(1, cfg.observation_shape[0], k)[0].astype(np.float32)
                      for k in range(cfg.observation_shape[0])])
    agent.learn(0, (0,), 512)
    agent.end_task()
    with torch.no_grad():
        before = agent.policy.get_distribution(torch.as_tensor(obs)).distribution.logits.clone()
    scores_before = [s.clone() for s in mask_scores(agent.policy, 0)]
    agent.learn(1, (1,), 1024)
    agent.end_task()
    use_task(agent.policy, 0)
    with torch.no_grad():
        after = agent.policy.get_distribution(torch.as_tensor(obs)).distribution.logits
    assert torch.equal(before, after)
    assert all(torch.equal(a, b) for a, b in zip(scores_before, mask_scores(agent.policy, 0),
                                                 strict=True))
    trainable = _trainable(agent.policy)
    assert trainable and all(".scores." in n or ".betas." in n for n in trainable)


def test_masked_policy_learns_a_ct_graph_task():
    cfg = CTGraphConfig(depth=1)
    agent = MaskAgent(cfg, n_tasks=1, seed=0, **SMALL)
    rec = agent.learn(0, (1,), 8192, eval_every=512, threshold=0.9, stop_at_threshold=True)
    assert rec.steps_to_threshold is not None
    assert agent.evaluate(0, (1,)) == 1.0


def test_linear_combination_starts_half_own_and_consolidates():
    net = MaskedMLP((4, 6), n_tasks=3, linear_comb=True, seed=0)
    layer = net.layers[0]
    for t in (0, 1):
        set_task(net, t)
        with torch.no_grad():
            layer.scores[t].normal_()
        consolidate(net)
    set_task(net, 2)
    w = layer.combination_weights()
    assert torch.allclose(w, torch.tensor([0.5, 0.25, 0.25]))
    expect = 0.5 * layer.scores[2] + 0.25 * layer.scores[0] + 0.25 * layer.scores[1]
    assert torch.allclose(layer.effective_scores(), expect)
    net(torch.randn(3, 4)).sum().backward()
    assert layer.betas[2].grad is not None and layer.scores[2].grad is not None
    assert layer.scores[0].grad is None and layer.scores[1].grad is None
    consolidate(net)
    combined = layer.effective_scores(2).detach().clone()
    with torch.no_grad():
        layer.scores[0].add_(5.0)  # later changes elsewhere no longer reach task 2
    assert torch.equal(layer.effective_scores(2), combined)
    # a random-init layer (MASK RI) never combines
    ri = MaskedLinear(4, 6, n_tasks=2, seed=0)
    ri.begin(0)
    ri.consolidate()
    ri.begin(1)
    assert not ri.composing() and torch.equal(ri.effective_scores(), ri.scores[1])


def test_imported_masks_compose_and_weigh_by_own_share():
    peer = MaskedMLP((4, 8, 3), n_tasks=1, n_community=2, seed=0)
    me = MaskedMLP((4, 8, 3), n_tasks=1, n_community=2, seed=0)
    with torch.no_grad():
        for layer in peer.layers:
            layer.scores[0].normal_()
    set_task(me, 0)
    x = torch.randn(64, 4)
    set_community_masks(me, [mask_scores(peer, 0)], own_weight=1e-4)  # nearly all the peer's
    use_task(peer, 0)
    assert torch.equal(me(x).argmax(1), peer(x).argmax(1))
    layer = me.layers[0]
    set_community_masks(me, [mask_scores(peer, 0), mask_scores(peer, 0)], own_weight=0.6)
    assert torch.allclose(layer.combination_weights(), torch.tensor([0.6, 0.2, 0.2]))
    with pytest.raises(ValueError, match="at most 2 community masks"):
        layer.set_community([layer.scores[0]] * 3)
    with pytest.raises(ValueError, match="must have shape"):
        layer.set_community([torch.zeros(2, 2)])
    with pytest.raises(ValueError, match="2 score matrices"):
        set_community_masks(me, [[layer.scores[0]]])


def test_acting_cache_follows_score_updates():
    layer = MaskedLinear(3, 2, n_tasks=1, seed=0)
    x = torch.randn(5, 3)
    with torch.no_grad():
        y0 = layer(x)
        layer.scores[0].neg_()
        y1 = layer(x)
    assert not torch.equal(y0, y1)
    assert torch.equal(y1, layer(x).detach())


def test_fine_tuning_forgets_and_masks_do_not():
    cfg = CTGraphConfig(depth=1)
    tasks = [(0,), (1,)]
    kw = dict(threshold=0.9, eval_every=512)
    log_m, _ = run_task_sequence(MaskAgent(cfg, 2, seed=1, **SMALL), tasks, 8192, **kw)
    log_f, _ = run_task_sequence(FineTuneAgent(cfg, seed=1, **SMALL), tasks, 8192, **kw)
    from mintlab.continual.metrics import accuracy_matrix

    Rm, _ = accuracy_matrix(log_m)
    Rf, _ = accuracy_matrix(log_f)
    assert Rm[0, 0] == Rm[1, 0] == 1.0 and Rm[1, 1] == 1.0
    assert Rf[0, 0] == 1.0 and Rf[1, 1] == 1.0 and Rf[1, 0] == 0.0


def test_copy_masks_and_agent_errors():
    cfg = CTGraphConfig(depth=1)
    a = MaskAgent(cfg, 2, seed=0, **SMALL)
    a.learn(0, (0,), 256)
    b = MaskAgent(cfg, 2, seed=1, **SMALL)
    with pytest.raises(RuntimeError, match="end_task"):
        b.copy_masks_from(a)
    with pytest.raises(ValueError, match="call end_task"):
        a.learn(0, (1,), 256)
    a.end_task()
    b.copy_masks_from(a)
    assert b.learned == {0}
    assert all(torch.equal(x, y) for x, y in zip(mask_scores(a.policy, 0),
                                                 mask_scores(b.policy, 0), strict=True))
    with pytest.raises(RuntimeError, match="task in training"):
        a.import_masks([mask_scores(a.policy, 0)])
    with pytest.raises(TypeError, match="config must be a CTGraphConfig"):
        MaskAgent("ct", 2)
    with pytest.raises(ValueError, match="task_id must lie in"):
        a.evaluate(5, (0,))


def test_sb3_vec_env_adapter():
    venv = CTGraphVecEnv(VecCTGraph(CTGraphConfig(depth=1), 3, seed=0))
    obs = venv.reset()
    assert obs.shape == (3, CTGraphConfig(depth=1).observation_shape[0])
    for _ in range(3):  # home -> wait -> decision, where waiting crashes
        obs, r, done, infos = venv.step(np.zeros(3, int))
    assert done.all()
    assert {"terminal_observation", "episode", "TimeLimit.truncated"} <= set(infos[0])
    assert infos[0]["episode"] == {"r": 0.0, "l": 3}


def test_sar_dataset_and_embedding_similarity():
    o = np.eye(4)[[0, 1, 2, 3]]
    X, y = sar_dataset(o, [0, 1, 2, 0], [0.0, 0.0, 1.0, 0.0], n_actions=3)
    assert X.shape == (4, 7) and y.tolist() == [0, 0, 1, 0]
    assert X[:, 4:].argmax(1).tolist() == [0, 1, 2, 0]
    with pytest.raises(ValueError, match="same non-zero number"):
        sar_dataset(o, [0, 1], [0.0, 1.0], 3)
    with pytest.raises(ValueError, match="actions must lie in"):
        sar_dataset(o, [0, 1, 2, 3], [0.0] * 4, 3)
    with pytest.raises(ValueError, match="finite"):
        sar_dataset(o * np.nan, [0] * 4, [0.0] * 4, 3)
    assert cosine_similarity(np.array([1.0, 0]), np.array([2.0, 0])) == pytest.approx(1.0)
    assert cosine_similarity(np.zeros(2), np.ones(2)) == 0.0


def _mosaic_agent(name, cfg, task, **kw):
    return MosaicAgent(name, cfg, [task], n_community=3, hidden=(16, 16),
                       settings=PPOSettings(n_envs=4, n_steps=16, batch_size=64), **kw)


def test_mosaic_selection_rule():
    """Criterion 1 (similarity >= threshold) and 2 (higher return), most similar first."""
    cfg = CTGraphConfig(depth=1)
    agents = [_mosaic_agent(f"a{i}", cfg, (0,), seed=i) for i in range(4)]
    emb = fit_sar_embedding([cfg], n_samples=64, n_references=4)
    coll = MosaicCollective(agents, emb, top_n=2, similarity_threshold=0.5)
    me = agents[0]
    me.current_return = 0.3
    from mintlab.continual.rl.mosaic import _Known

    query = np.array([1.0, 0.0])
    agents[1].known = {0: _Known(np.array([1.0, 0.1]), 0.9)}   # similar, better: chosen
    agents[2].known = {0: _Known(np.array([0.0, 1.0]), 1.0)}   # dissimilar: refused
    agents[3].known = {0: _Known(np.array([1.0, 0.0]), 0.2)}   # similar, worse: refused
    chosen = coll._select(me, query)
    assert [p.name for _, _, p, _ in chosen] == ["a1"]
    agents[3].known = {0: _Known(np.array([1.0, 0.0]), 0.5)}   # now better and most similar
    assert [p.name for _, _, p, _ in coll._select(me, query)] == ["a3", "a1"]
    coll_all = MosaicCollective(agents, emb, sharing="all")
    assert {p.name for _, _, p, _ in coll_all._select(me, query)} == {"a1", "a2", "a3"}


def test_mosaic_collective_runs_and_validates():
    cfg = CTGraphConfig(depth=1)
    agents = [_mosaic_agent(f"a{i}", cfg, (i % 2,), seed=i) for i in range(2)]
    emb = fit_sar_embedding([cfg], n_samples=64, n_references=4)
    out = MosaicCollective(agents, emb, round_steps=256, eval_episodes=4).run(4096)
    assert out.n_tasks == 2 and out.total_steps <= 2 * 4096 + 2 * 256
    assert set(out.steps_to_threshold) == {"a0", "a1"}
    with pytest.raises(ValueError, match="unique"):
        MosaicCollective([agents[0], agents[0]], emb)
    with pytest.raises(ValueError, match="sharing must be one of"):
        MosaicCollective(agents, emb, sharing="some")
    few = [MosaicAgent(f"b{i}", cfg, [(0,)], n_community=1, hidden=(8,), seed=i)
           for i in range(3)]
    with pytest.raises(ValueError, match="community mask slots"):
        MosaicCollective(few, emb, sharing="all")
    with pytest.raises(ValueError, match="curriculum"):
        MosaicAgent("c", cfg, [])
