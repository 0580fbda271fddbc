"""MOSAIC's agents import from their own family (``mosaic``).

The experiment's former ``mosaic_imports_from_own_family`` check is expected
by construction: the two families see disjoint observation sets, so the
Wasserstein task embeddings of their (state, action, reward) samples are far
apart across families and close within one, and the selection rule keeps only
peers above the similarity threshold.
"""

import numpy as np

from mintlab.continual.envs import CTGraphConfig
from mintlab.continual.rl import (
    MosaicAgent,
    MosaicCollective,
    PPOSettings,
    cosine_similarity,
    fit_sar_embedding,
    random_sar,
    sar_dataset,
)
from mintlab.continual.rl.mosaic import _Known


def _embed(emb, cfg, task, seed):
    o, a, r = random_sar(cfg, 512, task=task, seed=seed)
    return emb.transform([sar_dataset(o, a, r, cfg.n_actions)])[0]


def test_embeddings_separate_the_families():
    configs = [CTGraphConfig(branching=2, depth=3, image_seed=s) for s in (1, 2)]
    emb = fit_sar_embedding(configs, seed=0)
    vecs = {(f, k): _embed(emb, cfg, (0, 1, k), seed=10 * f + k + 100)
            for f, cfg in enumerate(configs) for k in range(2)}
    within = [cosine_similarity(vecs[(f, 0)], vecs[(f, 1)]) for f in range(2)]
    across = [cosine_similarity(vecs[(0, i)], vecs[(1, j)]) for i in range(2) for j in range(2)]
    assert min(within) > max(across)
    assert min(within) >= 0.5 > max(across)  # the collective's threshold splits them


def test_selection_imports_only_from_the_own_family():
    configs = [CTGraphConfig(branching=2, depth=3, image_seed=s) for s in (1, 2)]
    emb = fit_sar_embedding(configs, seed=0)
    small = dict(hidden=(16, 16), settings=PPOSettings(n_envs=4, n_steps=16, batch_size=64))
    agents = [MosaicAgent(f"family {f} agent {j}", cfg, [(0, 1, j)], n_community=3,
                          seed=2 * f + j, **small)
              for f, cfg in enumerate(configs) for j in range(2)]
    for i, a in enumerate(agents):
        f, j = divmod(i, 2)
        a.known = {0: _Known(_embed(emb, configs[f], (0, 1, j), seed=100 + i), 0.2 + 0.1 * i)}
    coll = MosaicCollective(agents, emb, similarity_threshold=0.5, top_n=2)
    for a in agents:
        a.current_return = 0.0
        chosen = coll._select(a, a.known[0].embedding)
        fam = a.name.split(" agent")[0]
        assert chosen, a.name
        assert all(p.name.split(" agent")[0] == fam for _, _, p, _ in chosen)
    assert np.isfinite([a.known[0].ret for a in agents]).all()


def test_experiment_families_share_observations_but_not_decisions():
    """The experiment's three families: a family's tasks share their first decision, families
    0 and 1 see the same observations and differ in it (their policies conflict), family 2
    sees another observation set."""
    from mintlab.experiments.mosaic import FAMILIES, _family_tasks

    for depth, per_family in ((2, 2), (3, 3)):
        fams = _family_tasks(depth, per_family, seed=4)
        assert len(fams) == 3
        for tasks in fams:
            assert len(set(tasks)) == per_family
            assert all(len(t) == depth for t in tasks)
            assert len({t[0] for t in tasks}) == 1
        assert fams[0][0][0] != fams[1][0][0]
    assert FAMILIES[0][0] == FAMILIES[1][0] != FAMILIES[2][0]
