"""``mosaic``: agents that select, fetch and compose each other's masks learn faster.

Four agents learn one CT-graph task each (branching 2, depth 3, masks on a
shared frozen backbone of three 200-unit layers, PPO). They form two
families: each family sees its own observation set (two input distributions
of the same graph, ``image_seed`` 1 and 2) and its two agents' tasks are
sibling leaves (the same first two decisions). Every 1,024 steps each agent
embeds its recent (state, action, reward) samples with the collective's
Wasserstein task embedding, queries the others and, under

* **MOSAIC**: imports up to two masks from peers whose task embedding has
  cosine similarity >= 0.5 and whose return is higher than its own, composed
  with its own mask by a learned linear combination (initial own share
  ``0.5 + 0.5 r``), then fine-tunes;
* **indiscriminate sharing**: imports every peer's mask, whatever the
  similarity or return;
* **isolated**: imports nothing.

An agent stops when its greedy return reaches 90 % of the optimal return
(checked every round) or after 30,000 steps. The score is the total number
of steps the collective spends until every agent is done. Quick mode: two
repetitions (seeds); full mode: five, with three agents per family.
"""

from __future__ import annotations

import numpy as np

from ._core import Experiment, Result
from ._sets_common import one_torch_thread
from .registry import register

CLAIM = ("Agents that select peers' masks by cosine similarity of Wasserstein task "
         "embeddings and by performance, compose them with their own and fine-tune, reach a "
         "return threshold in fewer total steps than isolated agents and than indiscriminate "
         "sharing.")

BUDGET = 30_000
MODES = ("isolated", "mosaic", "all")


def _collective(seed, per_family, sharing, embedding, configs):
    from mintlab.continual.envs import make_tasks
    from mintlab.continual.rl import MosaicAgent, MosaicCollective

    agents = []
    for f, cfg in enumerate(configs):
        tasks = make_tasks(cfg, per_family, shared_prefix=cfg.depth - 1 if per_family <= 2
                           else cfg.depth - 2, seed=10 * seed + f)
        for j, task in enumerate(tasks):
            agents.append(MosaicAgent(f"family {f} agent {j}", cfg, [task],
                                      n_community=len(configs) * per_family - 1,
                                      seed=100 * seed + len(agents)))
    return MosaicCollective(agents, embedding, sharing=sharing, similarity_threshold=0.5,
                            top_n=2, threshold=0.9, round_steps=1024)


def run(quick: bool = True, seed: int = 0) -> Result:
    import matplotlib.pyplot as plt

    from mintlab.continual.envs import CTGraphConfig
    from mintlab.continual.rl import cosine_similarity, fit_sar_embedding

    res = Result()
    configs = [CTGraphConfig(branching=2, depth=3, image_seed=s) for s in (1, 2)]
    reps = [seed + k for k in range(2 if quick else 5)]
    per_family = 2 if quick else 3
    totals = {m: [] for m in MODES}
    solved = {m: 0 for m in MODES}
    same_family, n_imports, within, across = 0, 0, [], []
    with one_torch_thread():
        for s in reps:
            emb = fit_sar_embedding(configs, seed=s)
            for mode in MODES:
                coll = _collective(s, per_family, mode, emb, configs)
                out = coll.run(BUDGET)
                totals[mode].append(out.total_steps)
                solved[mode] += out.solved
                if mode == "mosaic":
                    for name, imports in out.imports.items():
                        fam = name.split(" agent")[0]
                        for _, peers in imports:
                            n_imports += len(peers)
                            same_family += sum(p.split(" agent")[0] == fam for p in peers)
                    vecs = [(a.name.split(" agent")[0], a.known[0].embedding)
                            for a in coll.agents]
                    for i in range(len(vecs)):
                        for j in range(i + 1, len(vecs)):
                            c = cosine_similarity(vecs[i][1], vecs[j][1])
                            (within if vecs[i][0] == vecs[j][0] else across).append(c)
    n_tasks = len(reps) * len(configs) * per_family
    mean = {m: float(np.mean(v)) for m, v in totals.items()}
    for m in MODES:
        res.metrics[f"{m}_total_steps"] = mean[m]
        res.metrics[f"{m}_solved_fraction"] = solved[m] / n_tasks
    res.metrics.update({"mosaic_imports": n_imports,
                        "mosaic_same_family_import_fraction": same_family / max(n_imports, 1),
                        "final_similarity_within_family": float(np.mean(within)),
                        "final_similarity_across_families": float(np.mean(across))})
    res.check("mosaic_fewer_steps_than_isolated", mean["mosaic"] / mean["isolated"], 1.0, "<",
              description="total steps of the collective until every agent reached 90 % of "
                          f"the optimal return (or {BUDGET:,}), MOSAIC / isolated "
                          f"({mean['mosaic']:.0f} vs {mean['isolated']:.0f}, mean of "
                          f"{len(reps)} repetitions)")
    res.check("mosaic_fewer_steps_than_indiscriminate", mean["mosaic"] / mean["all"], 1.0, "<",
              description="the same, MOSAIC / importing every peer's mask "
                          f"({mean['mosaic']:.0f} vs {mean['all']:.0f})")
    res.check("mosaic_imports_from_own_family", same_family / max(n_imports, 1), 0.9, ">=",
              description=f"share of MOSAIC's {n_imports} imported masks that come from agents "
                          "with the same input distribution (the embedding's similarity does "
                          "the selecting)")

    fig, ax = plt.subplots(figsize=(5, 3.6))
    labels = {"isolated": "isolated", "mosaic": "MOSAIC", "all": "indiscriminate"}
    ax.bar([labels[m] for m in MODES], [mean[m] for m in MODES],
           yerr=[np.std(totals[m]) for m in MODES], capsize=4)
    ax.set_ylabel("total steps to threshold (collective)")
    fig.tight_layout()
    res.figures["mosaic"] = fig
    return res


EXPERIMENT = register(Experiment("mosaic", CLAIM, run))
