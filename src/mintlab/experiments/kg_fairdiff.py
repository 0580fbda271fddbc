"""``kg-fairdiff``: knowledge-graph-guided prompt refinement lowers demographic bias.

**The image generator is a stand-in.** No text-to-image model can run here, so
images are replaced by :class:`~mintlab.apps.fairness.StandInGenerator`: a
documented table of attribute distributions per subject and of how prompt
cues move them (``mintlab/apps/fairness/data/standin_generator.json``). What
this reproduction tests is the method's machinery (retrieval from the
example knowledge graph, template rewriting, the validator with real
all-MiniLM-L6-v2 fidelity, the closed loop, the metrics) on that table, not
how much a real generator's bias would fall: the outcomes are decided by the
table's cue strengths.

For 14 occupation prompts ("a photo of a <subject>") and uniform targets over
gender (2 groups), ethnicity (4) and age (3), three prompts are compared: the
raw prompt, a fixed demographic template appended to it, and the prompt
KG-FairDiff's loop returns (64 images per evaluation, minimum improvement
0.01, fidelity threshold 0.6). Bias is then measured on fresh images (a seed
the loop never saw): Bias-P, Bias-W and ENS per attribute, and Bias-P of the
joint gender x ethnicity distribution (intersectional).

Claims, judged prompt by prompt (paired over the 14 prompts and the seeds,
95% bootstrap interval of the Bias-P difference below 0):

1. ``reduces_disparities``: KG-FairDiff's prompt has lower Bias-P than the raw
   prompt for gender, ethnicity (race), age, and gender x ethnicity;
2. ``beats_fixed_templates``: it has lower Bias-P and Bias-W than the fixed
   demographic template, averaged over the three attributes.

The loop's guarantees (every returned prompt keeps MiniLM fidelity >= 0.6 to
the original; it stops within floor(L0 / delta) + 1 iterations) hold by
construction and are unit tests (``tests/apps/test_kg_fairdiff_claims.py``);
the run records the fidelities and iteration counts as metrics.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._core import Experiment, Result, Settings
from ._sets_common import one_torch_thread
from .registry import register

CLAIMS = {
    "reduces_disparities":
        "KG-FairDiff substantially reduces gender, race, age, and intersectional disparities "
        "while preserving prompt semantics.",
    "beats_fixed_templates":
        "Existing mitigations either require costly retraining or rely on fixed demographic "
        "templates that ignore cultural context.",
}

TAU = 0.6  # fidelity threshold of the validator
MIN_IMPROVEMENT = 0.01  # the validator's minimum loss decrease per accepted refinement
LOOP_IMAGES = 64  # images per candidate evaluation inside the loop
MAX_ITER = 20  # the loop's iteration cap
ATTRIBUTES = {"gender": "gender", "ethnicity": "race (ethnicity)", "age": "age"}


@dataclass(frozen=True, kw_only=True)
class KGFairDiffSettings(Settings):
    n_eval: int  # fresh images per prompt for the final bias measurement


QUICK = KGFairDiffSettings(seeds=3, n_eval=1000)
FULL = KGFairDiffSettings(seeds=5, n_eval=5000)
EXPECTED = "reproduced"


@functools.lru_cache(maxsize=1)
def _fidelity():
    """One MiniLM scorer per process (its embeddings are cached across seeds)."""
    from mintlab.apps.fairness import MiniLMFidelity

    return MiniLMFidelity()


def _stream(seed: int, prompt: int, purpose: int) -> int:
    """An independent integer seed for (run seed, prompt, purpose: 0 loop, 1 evaluation)."""
    return int(np.random.SeedSequence([seed, prompt, purpose]).generate_state(1)[0])


def _scores(gen, prompt, n, seed):
    from mintlab.apps.fairness import bias_report, distribution
    from mintlab.apps.fairness.metrics import bias_p

    labels = gen.generate(prompt, n, seed)
    rep = bias_report(labels, gen.groups)
    joint = [f"{g}|{e}" for g, e in zip(labels["gender"], labels["ethnicity"], strict=True)]
    groups = [f"{g}|{e}" for g in gen.groups["gender"] for e in gen.groups["ethnicity"]]
    rep["intersectional_bias_p"] = bias_p(distribution(joint, groups))
    return rep


def run(settings: KGFairDiffSettings = QUICK, seed: int = 0) -> Result:
    with one_torch_thread():  # MiniLM on one thread: fastest here, no oversubscription
        return _run(settings, seed)


def _run(settings: KGFairDiffSettings, seed: int) -> Result:
    import matplotlib.pyplot as plt

    from mintlab.apps.fairness import (
        StandInGenerator,
        TripleStore,
        Validator,
        fixed_template,
        refine_prompt,
    )

    res = Result(seed=seed)
    kg, gen, fid = TripleStore.example(), StandInGenerator(), _fidelity()
    rows: dict[str, list[dict[str, Any]]] = {"raw": [], "template": [], "kg-fairdiff": []}
    fidelity: dict[str, list[float]] = {"template": [], "kg-fairdiff": []}
    iters, bounds, evals, examples = [], [], [], []
    for k, subject in enumerate(gen.table["subjects"]):
        prompt = f"a photo of a {subject}"
        out = refine_prompt(prompt, kg, gen, fidelity=fid,
                            validator=Validator(TAU, MIN_IMPROVEMENT), n_images=LOOP_IMAGES,
                            max_iter=MAX_ITER, seed=_stream(seed, k, 0))
        iters.append(out.iterations)
        bounds.append(out.bound)
        evals.append(out.n_evaluations)
        prompts = {"raw": prompt, "template": fixed_template(prompt), "kg-fairdiff": out.prompt}
        for name, p in prompts.items():
            rows[name].append(_scores(gen, p, settings.n_eval, _stream(seed, k, 1)))
        fidelity["template"].append(float(fid(prompt, [prompts["template"]])[0]))
        fidelity["kg-fairdiff"].append(float(fid(prompt, [out.prompt])[0]))
        if k < 4:
            examples.append((prompt, out.prompt))

    def per_prompt(name, key):
        if key in ATTRIBUTES:
            return np.array([r[key]["bias_p"] for r in rows[name]])
        return np.array([r[key] for r in rows[name]])

    mean = {name: {m: float(np.mean([r[m] for r in rs]))
                   for m in ("mean_bias_p", "mean_bias_w", "mean_ens", "intersectional_bias_p")}
            for name, rs in rows.items()}
    for name, ms in mean.items():
        for m, v in ms.items():
            res.metrics[f"{name}_{m}"] = v
    for name, f in fidelity.items():
        res.metrics[f"{name}_min_fidelity"] = min(f)
        res.metrics[f"{name}_mean_fidelity"] = float(np.mean(f))
    res.metrics.update({"mean_iterations": float(np.mean(iters)),
                        "max_iterations_over_bound": float(max(i / b for i, b in
                                                               zip(iters, bounds, strict=True))),
                        "mean_candidate_evaluations": float(np.mean(evals)),
                        "generator_is_stand_in": 1.0})

    note = " (stand-in generator: see the experiment's description)"
    for key, label in [*ATTRIBUTES.items(), ("intersectional_bias_p", "gender x ethnicity")]:
        name = key.replace("_bias_p", "")
        res.compare(f"kg_lowers_{name}_bias_vs_raw", per_prompt("kg-fairdiff", key),
                    per_prompt("raw", key), better="lower", claim="reduces_disparities",
                    description=f"Bias-P of {label}, per prompt: KG-FairDiff's prompt vs the "
                                f"raw prompt" + note)
    for key, label in (("mean_bias_p", "Bias-P"), ("mean_bias_w", "Bias-W")):
        res.compare(f"kg_lowers_{key}_vs_template", per_prompt("kg-fairdiff", key),
                    per_prompt("template", key), better="lower", claim="beats_fixed_templates",
                    description=f"{label} averaged over gender, ethnicity and age, per prompt: "
                                f"KG-FairDiff vs the fixed demographic template" + note)

    fig, (ax, tx) = plt.subplots(2, 1, figsize=(7, 6), height_ratios=[3, 2])
    names = list(rows)
    x = np.arange(3)
    for i, name in enumerate(names):
        ax.bar(x + (i - 1) * 0.27, [mean[name][m] for m in ("mean_bias_p", "mean_bias_w",
                                                            "mean_ens")],
               width=0.27, label=name)
    ax.set_xticks(x, ["Bias-P (lower better)", "Bias-W (lower better)", "ENS (higher better)"])
    ax.set_title("stand-in generator")
    ax.legend()
    tx.axis("off")
    tx.text(0, 1, "\n".join(f"{a}  ->  {b}" for a, b in examples), va="top", fontsize=7,
            wrap=True)
    fig.tight_layout()
    res.figures["kg_fairdiff"] = fig
    return res


EXPERIMENT = register(Experiment(
    "kg-fairdiff", CLAIMS, run, QUICK, FULL, EXPECTED,
    data="synthetic: a hand-written stand-in generator table (no image model); real "
         "all-MiniLM-L6-v2 for fidelity; an example knowledge graph",
    full_scale="eight text-to-image backbones generating hundreds of images per prompt, an "
               "attribute classifier, an LLM rewriter and the ~1,200-triple knowledge graph",
))
