"""``mosaic``: agents that select, fetch and compose each other's masks learn faster.

Agents learn one CT-graph task each (branching 2, depth 3; depth 2 in quick
mode, where a depth-3 task takes most agents the whole budget; masks on a shared
frozen backbone of three 200-unit layers, PPO). They form two families: each
family sees its own observation set (two input distributions of the same
graph, ``image_seed`` 1 and 2) and its agents' tasks share their first
decisions (sibling leaves with two agents per family). Every 1,024 steps each
agent embeds its recent (state, action, reward) samples with the
collective's Wasserstein task embedding, queries the others and, under

* **MOSAIC**: imports up to two masks from peers whose task embedding has
  cosine similarity >= 0.5 and whose return is higher than its own, composed
  with its own mask by a learned linear combination (initial own share
  ``0.5 + 0.5 r``), then fine-tunes;
* **indiscriminate sharing**: imports every peer's mask, whatever the
  similarity or return (global sharing);
* **isolated**: imports nothing.

An agent stops when its greedy return reaches 90 % of the optimal return
(checked every round) or after the step budget (then counted as the budget,
and the task as unsolved).

Claims and how each is judged (steps to the threshold per agent, paired
between modes: the same agents, tasks and seeds; pooled over seeds, 95%
bootstrap intervals):

1. ``faster_than_isolated``: MOSAIC agents need fewer steps than isolated ones;
2. ``faster_than_global_sharing``: MOSAIC agents need fewer steps than agents
   that import every peer's mask.

Which family the imported masks come from, and the embeddings' similarity
within and across families, are reported as metrics (with disjoint
observation sets per family, selecting the own family is expected by
construction and is a unit test).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._core import Experiment, Result, Settings
from ._sets_common import one_torch_thread
from .registry import register

CLAIMS = {
    "faster_than_isolated": "MOSAIC, which selects peers' policies by performance signals and "
                            "cosine similarity on Wasserstein task embeddings, composes them "
                            "and fine-tunes, outperforms isolated learners in learning speed.",
    "faster_than_global_sharing": "MOSAIC outperforms global sharing approaches in learning "
                                  "speed.",
}


@dataclass(frozen=True, kw_only=True)
class MosaicSettings(Settings):
    depth: int  # depth of the CT-graph (branching 2)
    per_family: int  # agents per family (two families, one observation set each)
    budget: int  # environment steps per agent at most


QUICK = MosaicSettings(seeds=3, depth=2, per_family=2, budget=10_000)
FULL = MosaicSettings(seeds=5, depth=3, per_family=3, budget=30_000)
EXPECTED = "not reproduced at this scale"

MODES = ("isolated", "mosaic", "all")
LABELS = {"isolated": "isolated", "mosaic": "MOSAIC", "all": "indiscriminate"}


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


def run(settings: MosaicSettings = QUICK, seed: int = 0) -> Result:
    import matplotlib.pyplot as plt

    from mintlab.continual.envs import CTGraphConfig
    from mintlab.continual.rl import cosine_similarity, fit_sar_embedding

    res = Result(seed=seed)
    configs = [CTGraphConfig(branching=2, depth=settings.depth, image_seed=s) for s in (1, 2)]
    steps, solved = {}, {}
    same_family, n_imports = 0, 0
    within: list[Any] = []
    across: list[Any] = []
    with one_torch_thread():
        emb = fit_sar_embedding(configs, seed=seed)
        for mode in MODES:
            coll = _collective(seed, settings.per_family, mode, emb, configs)
            out = coll.run(settings.budget)
            names = sorted(out.steps_to_threshold)
            per_agent = [out.steps_to_threshold[k][0] for k in names]
            steps[mode] = np.array([settings.budget if s is None else s for s in per_agent],
                                   float)
            solved[mode] = out.solved / out.n_tasks
            if mode == "mosaic":
                for name, imports in out.imports.items():
                    fam = name.split(" agent")[0]
                    for _, peers in imports:
                        n_imports += len(peers)
                        same_family += sum(p.split(" agent")[0] == fam for p in peers)
                vecs = [(a.name.split(" agent")[0], a.known[0].embedding) for a in coll.agents]
                for i in range(len(vecs)):
                    for j in range(i + 1, len(vecs)):
                        c = cosine_similarity(vecs[i][1], vecs[j][1])
                        (within if vecs[i][0] == vecs[j][0] else across).append(c)
    for m in MODES:
        res.metrics[f"{m}_total_steps"] = float(steps[m].sum())
        res.metrics[f"{m}_solved_fraction"] = solved[m]
    res.metrics.update({"mosaic_imports": n_imports,
                        "mosaic_same_family_import_fraction": same_family / max(n_imports, 1),
                        "final_similarity_within_family": float(np.mean(within)),
                        "final_similarity_across_families": float(np.mean(across))})

    res.compare("mosaic_fewer_steps_than_isolated", steps["mosaic"], steps["isolated"],
                better="lower", claim="faster_than_isolated",
                known_gap="MOSAIC agents need {ours:.0f} steps on average and isolated ones "
                          "{baseline:.0f} (interval of the difference [{low:.0f}, {high:.0f}] "
                          "over {n} agents): on the quick run's shallow graph every agent "
                          "reaches the threshold within a few communication rounds whether or "
                          "not it shares, so there is little for sharing to speed up; the "
                          "depth-3 tasks where it can matter do not fit the quick budget",
                description=f"steps per agent until its greedy return reached 90 % of the "
                            f"optimal return (budget {settings.budget:,} when unsolved), MOSAIC "
                            "vs isolated agents")
    res.compare("mosaic_fewer_steps_than_indiscriminate", steps["mosaic"], steps["all"],
                better="lower", claim="faster_than_global_sharing",
                known_gap="MOSAIC agents need {ours:.0f} steps on average and agents importing "
                          "every peer's mask {baseline:.0f} (interval of the difference "
                          "[{low:.0f}, {high:.0f}] over {n} agents): on the quick run's "
                          "shallow graph every agent is done within a few rounds either way",
                description="the same steps per agent, MOSAIC vs importing every peer's mask")

    fig, ax = plt.subplots(figsize=(5, 3.6))
    ax.bar([LABELS[m] for m in MODES], [steps[m].mean() for m in MODES],
           yerr=[steps[m].std() for m in MODES], capsize=4)
    ax.axhline(settings.budget, color="k", ls=":", lw=1)
    ax.set_ylabel("steps to threshold per agent")
    fig.tight_layout()
    res.figures["mosaic"] = fig
    return res


EXPERIMENT = register(Experiment(
    "mosaic", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="synthetic: CT-graph (branching 2, depth 2 quick / 3 full), two observation sets",
    full_scale="the paper's MiniGrid and CT-graph curricula with 3+ families of 3+ agents, "
               "overlapping observation sets, ablations of the similarity and performance "
               "filters and 5+ seeds; CPU days",
))
