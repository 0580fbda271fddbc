"""``kg-fairdiff``: knowledge-graph-guided prompt refinement lowers demographic bias.

**The image generator is a stand-in.** No text-to-image model can run here, so
images are replaced by :class:`~mintlab.apps.fairness.StandInGenerator`: a
documented table of attribute distributions per subject and of how prompt
cues move them (``mintlab/apps/fairness/data/standin_generator.json``). What
this reproduction tests is the method's machinery (retrieval from the
example knowledge graph, template rewriting, the validator with real
all-MiniLM-L6-v2 fidelity, the closed loop and its termination bound, the
metrics), not how much a real generator's bias would fall.

For 14 occupation prompts ("a photo of a <subject>") and uniform targets over
gender (2 groups), ethnicity (4) and age (3), three prompts are compared: the
raw prompt, a fixed demographic template appended to it, and the prompt
KG-FairDiff's loop returns (64 images per evaluation, minimum improvement
0.01, fidelity threshold 0.6). Bias is then measured on fresh images (a seed
the loop never saw): Bias-P, Bias-W, ENS per attribute, averaged, and
Bias-P of the joint gender x ethnicity distribution (intersectional).
"""

from __future__ import annotations

import numpy as np

from ._core import Experiment, Result
from .registry import register

CLAIM = ("A closed loop that retrieves knowledge-graph context, rewrites the prompt and accepts "
         "only refinements that lower a divergence-based fairness loss while keeping semantic "
         "fidelity reduces gender, race, age and intersectional disparities, and terminates "
         "within a finite bound.")

TAU = 0.6


def _scores(gen, prompt, n, seed):
    from mintlab.apps.fairness import bias_report, distribution
    from mintlab.apps.fairness.metrics import bias_p

    labels = gen.generate(prompt, n, seed)
    rep = bias_report(labels, gen.groups)
    joint = [f"{g}|{e}" for g, e in zip(labels["gender"], labels["ethnicity"], strict=True)]
    groups = [f"{g}|{e}" for g in gen.groups["gender"] for e in gen.groups["ethnicity"]]
    rep["intersectional_bias_p"] = bias_p(distribution(joint, groups))
    return rep


def run(quick: bool = True, seed: int = 0) -> Result:
    import matplotlib.pyplot as plt

    from mintlab.apps.fairness import (
        MiniLMFidelity,
        StandInGenerator,
        TripleStore,
        Validator,
        fixed_template,
        refine_prompt,
    )

    res = Result()
    kg, gen, fid = TripleStore.example(), StandInGenerator(), MiniLMFidelity()
    n_eval = 1000 if quick else 5000
    rows = {"raw": [], "template": [], "kg-fairdiff": []}
    fidelity = {"template": [], "kg-fairdiff": []}
    iters, bounds, evals, examples = [], [], [], []
    for k, subject in enumerate(gen.table["subjects"]):
        prompt = f"a photo of a {subject}"
        out = refine_prompt(prompt, kg, gen, fidelity=fid, validator=Validator(TAU, 0.01),
                            n_images=64, max_iter=20, seed=seed + k)
        iters.append(out.iterations)
        bounds.append(out.bound)
        evals.append(out.n_evaluations)
        prompts = {"raw": prompt, "template": fixed_template(prompt), "kg-fairdiff": out.prompt}
        for name, p in prompts.items():
            rows[name].append(_scores(gen, p, n_eval, seed + 10_000 + k))
        fidelity["template"].append(float(fid(prompt, [prompts["template"]])[0]))
        fidelity["kg-fairdiff"].append(float(fid(prompt, [out.prompt])[0]))
        if k < 4:
            examples.append((prompt, out.prompt))

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
    kgm, raw, tpl = mean["kg-fairdiff"], mean["raw"], mean["template"]
    note = " (stand-in generator: see the experiment's description)"
    for m, label in (("mean_bias_p", "Bias-P"), ("mean_bias_w", "Bias-W")):
        res.check(f"kg_lowers_{label.lower().replace('-', '_')}_vs_raw", kgm[m] / raw[m], 1.0,
                  "<", description=f"{label} (mean over attributes and 14 prompts), KG-FairDiff "
                                   f"/ raw prompt ({kgm[m]:.3f} vs {raw[m]:.3f})" + note)
        res.check(f"kg_lowers_{label.lower().replace('-', '_')}_vs_template",
                  kgm[m] / tpl[m], 1.0, "<",
                  description=f"{label}, KG-FairDiff / fixed template ({kgm[m]:.3f} vs "
                              f"{tpl[m]:.3f})" + note)
    res.check("kg_lowers_intersectional_bias", kgm["intersectional_bias_p"]
              / raw["intersectional_bias_p"], 1.0, "<",
              description="Bias-P of the joint gender x ethnicity distribution, KG-FairDiff / "
                          f"raw ({kgm['intersectional_bias_p']:.3f} vs "
                          f"{raw['intersectional_bias_p']:.3f})" + note)
    res.check("fidelity_kept", min(fidelity["kg-fairdiff"]), TAU, ">=",
              description="lowest MiniLM cosine between a refined prompt and its original "
                          f"(threshold {TAU}; the fixed template's lowest: "
                          f"{min(fidelity['template']):.3f})")
    res.check("loop_terminates_within_bound", res.metrics["max_iterations_over_bound"], 1.0,
              "<=", description="largest iterations / floor(L0 / delta) + 1 over the prompts")

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


EXPERIMENT = register(Experiment("kg-fairdiff", CLAIM, run))
