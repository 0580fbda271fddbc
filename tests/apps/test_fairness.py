"""KG-FairDiff (``kg-fairdiff``): graph, metrics, stand-in generator, validator and loop."""

import json
import math

import numpy as np
import pytest

from mintlab.apps.fairness import (
    PipelineGenerator,
    StandInGenerator,
    TemplateRewriter,
    TextGenerationRewriter,
    TripleStore,
    Validator,
    bias_p,
    bias_report,
    bias_w,
    distribution,
    ens,
    fairness_loss,
    fixed_template,
    kl_divergence,
    refine_prompt,
)


def same(original, candidates):
    """A fidelity stub: every candidate keeps the meaning (the MiniLM scorer is tested apart)."""
    return np.ones(len(candidates))


def test_example_graph_and_retrieval():
    kg = TripleStore.example()
    assert len(kg) > 50
    got = kg.retrieve("A portrait of two Nurses at work.")
    facts = {(t.head, t.relation, t.tail) for t in got}
    assert ("nurse", "stereotyped_as", "female") in facts
    assert ("female", "value_of", "gender") in facts
    assert ("gender", "inclusive_phrase", "women and men") in facts
    assert ("medical professional", "cultural_context", "in hospitals around the world") in facts
    assert got[0].head == "nurse"  # direct facts first
    assert kg.entities_in("a software developer and a chef") == ["software developer", "chef"]
    assert kg.retrieve("a photo of a mountain") == []
    assert kg.retrieve("a ceo", k=2) == kg.retrieve("a ceo")[:2]


def test_graph_loading_and_errors(tmp_path):
    p = tmp_path / "kg.json"
    p.write_text(json.dumps([["Nurse", "stereotyped_as", "female"],
                             {"head": "female", "relation": "value_of", "tail": "gender"}]))
    kg = TripleStore.from_json(p)
    assert kg.query("nurse")[0].tail == "female"
    bad = tmp_path / "bad.tsv"
    bad.write_text("a\tb\n")
    with pytest.raises(ValueError, match="expected 3 tab-separated fields"):
        TripleStore.from_tsv(bad)
    with pytest.raises(ValueError, match="empty field"):
        TripleStore([("a", "", "c")])
    with pytest.raises(ValueError, match="duplicate"):
        TripleStore([("a", "b", "c"), ("A", "b", "c ")])
    with pytest.raises(ValueError, match="at least one triple"):
        TripleStore([])
    with pytest.raises(ValueError, match="non-empty string"):
        kg.retrieve("  ")


def test_metrics_hand_values():
    assert bias_p([0.8, 0.2]) == pytest.approx(0.3)
    assert bias_w([0.8, 0.2]) == pytest.approx(0.3)
    assert bias_p([0.5, 0.3, 0.2], [0.2, 0.3, 0.5]) == pytest.approx(0.3)
    assert bias_w([0.7, 0.2, 0.1]) == pytest.approx(0.7 - 1 / 3)
    assert ens([0.25] * 4) == pytest.approx(1.0) and ens([1, 0, 0]) == 0.0
    p = np.array([0.6, 0.3, 0.1])
    h = -(p * np.log(p)).sum()
    assert ens(p) == pytest.approx(h / math.log(3))
    assert ens(p) == pytest.approx(1 - kl_divergence(p) / math.log(3))  # ENS <-> KL
    assert kl_divergence([0.5, 0.5], [0.25, 0.75]) == pytest.approx(
        0.5 * math.log(2) + 0.5 * math.log(2 / 3))
    assert kl_divergence([0.5, 0.5], [1.0, 0.0]) == math.inf
    assert distribution(["a", "b", "a", "a"], ["a", "b"]).tolist() == [0.75, 0.25]
    assert distribution(["a"], ["a", "b"], alpha=0.5).tolist() == [0.75, 0.25]
    labels = {"g": ["a", "a", "a", "b"]}
    assert fairness_loss(labels, {"g": ["a", "b"]}, alpha=0) == pytest.approx(
        0.75 * math.log(1.5) + 0.25 * math.log(0.5))
    rep = bias_report(labels, {"g": ["a", "b"]})
    assert rep["g"]["bias_p"] == pytest.approx(0.25) and rep["mean_ens"] == rep["g"]["ens"]


def test_metrics_bad_input():
    with pytest.raises(ValueError, match="at least 2 groups"):
        bias_p([1.0])
    with pytest.raises(ValueError, match="non-negative"):
        ens([0.5, -0.5, 1.0])
    with pytest.raises(ValueError, match="same number of groups"):
        bias_w([0.5, 0.5], [0.2, 0.3, 0.5])
    with pytest.raises(ValueError, match="outside the groups"):
        distribution(["x"], ["a", "b"])
    with pytest.raises(ValueError, match="no groups"):
        fairness_loss({"age": ["young"]}, {"gender": ["a", "b"]})


def test_stand_in_follows_its_documented_rule():
    gen = StandInGenerator()
    table = gen.table
    nurse = np.array(table["subjects"]["nurse"]["gender"])
    assert np.allclose(gen.distributions("a photo of a nurse")["gender"], nurse)
    # "women and men": inclusive phrase (0.75 to uniform), then both values named (0.85)
    p = 0.25 * nurse + 0.75 * 0.5
    p = 0.15 * p + 0.85 * 0.5
    assert np.allclose(gen.distributions("a nurse, women and men")["gender"], p)
    # two attributes cued: strengths divided by 1 + 0.35
    s = 0.75 / 1.35
    q = gen.distributions("a nurse, of all ages, of different genders")
    assert np.allclose(q["gender"], (1 - s) * nurse + s * 0.5)
    age = np.array(table["subjects"]["nurse"]["age"])
    assert np.allclose(q["age"], (1 - s) * age + s / 3)
    # one explicit group word pulls towards that group
    assert gen.distributions("a male nurse")["gender"][1] > 0.8
    # unknown subject: the default row; context phrases move ethnicity only
    d = gen.distributions("a person around the world")
    default = table["default"]
    assert np.allclose(d["gender"], default["gender"])
    assert np.allclose(d["ethnicity"], 0.65 * np.array(default["ethnicity"]) + 0.35 / 4)
    assert gen.subject("two software developers") == "software developer"


def test_stand_in_sampling_is_seeded_and_unbiased():
    gen = StandInGenerator()
    a = gen.generate("a doctor", 50, seed=3)
    assert a == gen.generate("a doctor", 50, seed=3)
    assert a != gen.generate("a doctor", 50, seed=4)
    big = gen.generate("a doctor", 20000, seed=0)
    p = distribution(big["gender"], gen.groups["gender"])
    assert np.allclose(p, gen.distributions("a doctor")["gender"], atol=0.015)
    with pytest.raises(ValueError, match="non-empty string"):
        gen.distributions("")


def test_validator_rule():
    v = Validator(tau=0.7, min_improvement=0.05)
    assert v.accept(0.40, 0.50, 0.8)
    assert not v.accept(0.47, 0.50, 0.8)   # not enough improvement
    assert not v.accept(0.10, 0.50, 0.6)   # drifts from the user's intent
    with pytest.raises(ValueError, match="min_improvement must be positive"):
        Validator(min_improvement=0)
    with pytest.raises(ValueError, match="tau must lie"):
        Validator(tau=2)


@pytest.mark.parametrize("prompt", ["a photo of a nurse", "a portrait of a ceo",
                                    "a construction worker on a break", "an athlete running"])
def test_loop_terminates_within_its_bound_and_lowers_the_loss(prompt):
    kg, gen = TripleStore.example(), StandInGenerator()
    for delta in (0.005, 0.05, 0.2):
        res = refine_prompt(prompt, kg, gen, fidelity=same, n_images=64, max_iter=50,
                            validator=Validator(tau=0.5, min_improvement=delta))
        assert res.iterations <= res.bound == math.floor(res.initial_loss / delta) + 1
        accepted = [h for h in res.history if h["accepted"] is not None]
        losses = [res.initial_loss] + [h["losses"][h["accepted"]] for h in accepted]
        assert all(b <= a - delta for a, b in zip(losses, losses[1:], strict=False))
        assert res.loss == pytest.approx(losses[-1])
        assert res.stop_reason in {"no_accepted_candidate", "no_candidates", "tolerance"}
    assert res.loss < res.initial_loss


def test_loop_keeps_the_prompt_when_fidelity_fails():
    res = refine_prompt("a photo of a nurse", TripleStore.example(), StandInGenerator(),
                        fidelity=lambda o, c: np.zeros(len(c)))
    assert res.prompt == res.original and res.iterations == 1
    assert res.stop_reason == "no_accepted_candidate"


def test_rewriters():
    kg = TripleStore.example()
    tr = TemplateRewriter(max_candidates=10)
    cands = tr.propose("a nurse", kg.retrieve("a nurse"), {"gender": 0.5, "age": 0.2,
                                                           "ethnicity": 0.001})
    assert cands[0] in {"a nurse, women and men", "a nurse, of different genders"}
    assert "a nurse in hospitals around the world" in cands
    assert not any("ethnic" in c for c in cands)  # ethnicity is already balanced enough
    seen = []

    def fake_model(instruction, seed):
        seen.append(instruction)
        return f"a nurse, candidate {seed}\nignored second line"

    rw = TextGenerationRewriter(fake_model, n_candidates=2)
    out = rw.propose("a nurse", kg.retrieve("a nurse"), {"gender": 0.5})
    assert out == ["a nurse, candidate 0", "a nurse, candidate 1"]
    assert "nurse stereotyped as female" in seen[0]
    with pytest.raises(TypeError):
        TextGenerationRewriter("not callable")


def test_pipeline_adapter_and_template():
    groups = {"gender": ["female", "male"]}
    gen = PipelineGenerator(lambda p, n, s: [None] * n,
                            lambda imgs: {"gender": ["female"] * len(imgs)}, groups)
    assert gen.generate("x", 3) == {"gender": ["female"] * 3}
    broken = PipelineGenerator(lambda p, n, s: [None] * n, lambda imgs: {"gender": ["female"]},
                               groups)
    with pytest.raises(ValueError, match="1 labels"):
        broken.generate("x", 3)
    with pytest.raises(ValueError, match="at least two groups"):
        PipelineGenerator(len, len, {"gender": ["f"]})
    assert fixed_template("a nurse.") == ("a nurse, diverse people of different genders, "
                                          "ethnicities and ages")


def test_minilm_fidelity_ranks_meaning():
    from mintlab.apps.fairness import MiniLMFidelity

    fid = MiniLMFidelity()
    s = fid("a photo of a nurse", ["a photo of a nurse, women and men", "a bowl of fruit"])
    assert s[0] > 0.6 > s[1]
