"""``kg-fairdiff``: the loop's guarantees, which hold by construction, as unit tests.

Two properties the experiment used to judge as claims cannot fail: the
validator accepts only refinements with fidelity >= tau (and the original
prompt has fidelity 1), and the minimum-improvement rule bounds the number of
iterations by floor(L0 / delta) + 1 (the paper's finite-termination bound).
They are tested here, at the experiment's settings and beyond them, with a
fidelity function whose scores are known (an independent oracle for the
check), over every subject of the stand-in generator.
"""

import hashlib
import math

import numpy as np
import pytest

from mintlab.apps.fairness import StandInGenerator, TripleStore, Validator, refine_prompt
from mintlab.experiments.kg_fairdiff import LOOP_IMAGES, MAX_ITER, MIN_IMPROVEMENT, TAU


def scattered(original, candidates):
    """Fidelity scores spread over [0.3, 1), fixed per (original, candidate) pair."""
    out = []
    for c in candidates:
        h = int(hashlib.sha256(f"{original}|{c}".encode()).hexdigest()[:8], 16)
        out.append(0.3 + 0.7 * h / 2**32)
    return np.array(out)


def _subjects():
    return StandInGenerator().table["subjects"]


@pytest.mark.parametrize("seed", [0, 1])
def test_every_returned_prompt_keeps_fidelity_above_tau(seed):
    kg, gen = TripleStore.example(), StandInGenerator()
    changed = 0
    for k, subject in enumerate(_subjects()):
        prompt = f"a photo of a {subject}"
        out = refine_prompt(prompt, kg, gen, fidelity=scattered,
                            validator=Validator(TAU, MIN_IMPROVEMENT), n_images=LOOP_IMAGES,
                            max_iter=MAX_ITER, seed=100 * seed + k)
        if out.prompt == prompt:
            continue
        changed += 1
        assert scattered(prompt, [out.prompt])[0] >= TAU
        # every accepted step kept fidelity to the user's original prompt
        for h in out.history:
            if h["accepted"] is not None:
                assert h["fidelity"][h["accepted"]] >= TAU
    assert changed > 0  # the property is exercised, not vacuous


@pytest.mark.parametrize("delta", [MIN_IMPROVEMENT, 0.05])
def test_the_loop_stops_within_its_bound_without_an_iteration_cap(delta):
    kg, gen = TripleStore.example(), StandInGenerator()
    same = lambda o, c: np.ones(len(c))  # noqa: E731 - every candidate keeps the meaning
    for k, subject in enumerate(_subjects()):
        out = refine_prompt(f"a photo of a {subject}", kg, gen, fidelity=same,
                            validator=Validator(TAU, delta), n_images=LOOP_IMAGES,
                            max_iter=10_000, seed=k)
        bound = math.floor(out.initial_loss / delta) + 1
        assert out.bound == bound
        assert out.iterations <= bound
        assert out.stop_reason != "max_iter"
        assert out.loss <= out.initial_loss
