"""Image generators as KG-FairDiff sees them: a prompt in, attribute labels of images out.

KG-FairDiff only needs, for a prompt, the demographic labels of the images a
text-to-image model draws for it. :class:`AttributeGenerator` is that
interface. :class:`PipelineGenerator` adapts any text-to-image callable and
any attribute classifier a user has. :class:`StandInGenerator` is the
**offline stand-in** mintlab's reproduction uses, because no text-to-image
model can run here: its behaviour is a table (``data/standin_generator.json``)
written for mintlab, not measured from any model:

1. each subject (occupation) has a base distribution per attribute (gender,
   ethnicity, age), skewed the way text-to-image models are reported to be;
   a prompt naming no known subject gets the table's default;
2. prompt cues move an attribute's distribution ``p`` towards a target
   ``r``: ``p <- (1 - s) p + s r``, applied in the order generic diversity
   words (``r`` uniform, strength 0.2), cultural context (ethnicity only,
   0.35), an attribute's inclusive phrase ("women and men", "of all ages":
   ``r`` uniform, 0.75), explicit group words ("female", "older": ``r``
   uniform over the groups named, 0.85);
3. the specific cues (inclusive phrases and explicit words) share the
   prompt's attention: when ``k`` attributes carry one, each strength is
   divided by ``1 + 0.35 (k - 1)``;
4. labels of ``n`` images are drawn independently per attribute from the
   resulting distributions (seeded).

Cue words match whole words, case-insensitively.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np

from ..._artifacts import read_json
from ..._validation import check_int
from ...errors import ArtifactError

__all__ = ["AttributeGenerator", "StandInGenerator", "PipelineGenerator", "STANDIN_TABLE"]

STANDIN_TABLE = Path(__file__).with_name("data") / "standin_generator.json"


class AttributeGenerator(Protocol):
    """Anything that maps a prompt to the attribute labels of ``n`` generated images."""

    groups: Mapping[str, list]

    def generate(self, prompt: str, n: int, seed: int = 0) -> dict[str, list]:
        """``{attribute: [label of image 1, ..., label of image n]}``."""
        ...


def _check_prompt(prompt: Any, name: str = "prompt") -> str:
    if not isinstance(prompt, str):
        raise TypeError(f"{name} must be a string, got {type(prompt).__name__}")
    if not prompt.strip():
        raise ValueError(f"{name} must be a non-empty string, got {prompt!r}")
    return prompt


def _check_table(table: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` naming what is wrong in a stand-in behaviour table."""
    for key in ("attributes", "subjects", "default", "cues"):
        if key not in table:
            raise ValueError(f"table lacks the entry {key!r}")
    attrs = table["attributes"]
    if not isinstance(attrs, Mapping) or not attrs:
        raise ValueError("table['attributes'] must map each attribute to its groups")
    for a, groups in attrs.items():
        if not isinstance(groups, list) or len(groups) < 2:
            raise ValueError(f"table['attributes'][{a!r}] must list at least two groups, "
                             f"got {groups!r}")
    if not isinstance(table["subjects"], Mapping):
        raise ValueError("table['subjects'] must map each subject to its distributions")
    cues = table["cues"]
    if not isinstance(cues, Mapping):
        raise ValueError("table['cues'] must be a mapping")
    for key in ("strength", "values", "inclusive", "generic", "context", "dilution"):
        if key not in cues:
            raise ValueError(f"table['cues'] lacks the entry {key!r}")
    strength = cues["strength"]
    for key in ("generic", "context", "inclusive", "values"):
        if not isinstance(strength, Mapping) or key not in strength:
            raise ValueError(f"table['cues']['strength'] lacks the entry {key!r}")
        v = strength[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
            raise ValueError(f"table['cues']['strength'][{key!r}] must lie in [0, 1], got {v!r}")
    context = cues["context"]
    if not isinstance(context, Mapping) or "phrases" not in context or "attribute" not in context:
        raise ValueError("table['cues']['context'] must hold 'phrases' and 'attribute'")
    known = {v for groups in attrs.values() for v in groups}
    if not isinstance(cues["values"], Mapping):
        raise ValueError("table['cues']['values'] must map each group to its cue words")
    unknown = sorted(set(cues["values"]) - known)
    if unknown:
        raise ValueError(f"table['cues']['values'] names groups of no attribute: {unknown}")
    for name, spec in [("default", table["default"])] + list(table["subjects"].items()):
        if not isinstance(spec, Mapping):
            raise ValueError(f"table entry {name!r} must map attributes to distributions")
        for a, g in attrs.items():
            if a not in spec:
                raise ValueError(f"table entry {name!r} lacks attribute {a!r}")
            try:
                p = np.asarray(spec[a], float)
            except (TypeError, ValueError):
                p = np.full(1, np.nan)
            if p.shape != (len(g),) or not np.isfinite(p).all() or (p < 0).any() \
                    or abs(p.sum() - 1) > 1e-6:
                raise ValueError(f"table entry {name!r}, attribute {a!r}: expected a "
                                 f"distribution over {g}, got {spec[a]}")


def _has(text: str, phrase: str) -> bool:
    return re.search(rf"\b{re.escape(phrase)}\b", text) is not None


class StandInGenerator:
    """The documented offline stand-in for a text-to-image model + attribute classifier.

    Parameters
    ----------
    table : path or dict, optional
        The behaviour table (default: the one shipped with mintlab).

    Examples
    --------
    >>> gen = StandInGenerator()
    >>> gen.distributions("a photo of a nurse")["gender"].round(2).tolist()
    [0.92, 0.08]
    >>> gen.distributions("a photo of a nurse, women and men")["gender"].round(2).tolist()
    [0.52, 0.48]
    """

    is_stand_in = True

    def __init__(self, table: str | os.PathLike[str] | Mapping[str, Any] | None = None) -> None:
        if table is None or isinstance(table, (str, os.PathLike)):
            path = Path(table or STANDIN_TABLE)
            loaded = read_json(path, what="generator table",
                               required=("attributes", "subjects", "default", "cues"))
            try:
                _check_table(loaded)
            except (TypeError, ValueError, KeyError, AttributeError) as err:
                raise ArtifactError(path, f"the generator table is malformed: {err}") from None
            spec: Mapping[str, Any] = loaded
        elif not isinstance(table, Mapping):
            raise TypeError(f"table must be a path or a mapping, got {type(table).__name__}")
        else:
            _check_table(table)
            spec = table
        self.table: Mapping[str, Any] = spec
        self.groups = {a: list(v) for a, v in spec["attributes"].items()}
        self._subjects = sorted(spec["subjects"], key=len, reverse=True)

    def subject(self, prompt: str) -> str | None:
        """The table subject the prompt names (longest match, plural 's' allowed)."""
        text = _check_prompt(prompt).lower()
        for s in self._subjects:
            if re.search(rf"\b{re.escape(s)}s?\b", text):
                return s
        return None

    def distributions(self, prompt: str) -> dict[str, np.ndarray]:
        """The attribute distributions of images drawn for ``prompt`` (the rule above)."""
        _check_prompt(prompt)
        text = " ".join(prompt.lower().split())
        cues = self.table["cues"]
        strength = cues["strength"]
        subj = self.subject(text)
        base = self.table["subjects"][subj] if subj else self.table["default"]
        value_attr = {v: a for a, gs in self.groups.items() for v in gs}
        named: dict[str, list[str]] = {a: [] for a in self.groups}
        for value, words in cues["values"].items():
            if any(_has(text, w) for w in words):
                named[value_attr[value]].append(value)
        inclusive = {a: any(_has(text, ph) for ph in cues["inclusive"].get(a, []))
                     for a in self.groups}
        k = sum(1 for a in self.groups if inclusive[a] or named[a])
        dilute = 1.0 + cues["dilution"] * max(k - 1, 0)
        generic = any(_has(text, w) for w in cues["generic"])
        context = any(_has(text, w) for w in cues["context"]["phrases"])
        out = {}
        for a, gs in self.groups.items():
            p = np.asarray(base[a], float).copy()
            uniform = np.full(len(gs), 1.0 / len(gs))
            if generic:
                p = (1 - strength["generic"]) * p + strength["generic"] * uniform
            if context and a == cues["context"]["attribute"]:
                p = (1 - strength["context"]) * p + strength["context"] * uniform
            if inclusive[a]:
                s = strength["inclusive"] / dilute
                p = (1 - s) * p + s * uniform
            if named[a]:
                r = np.array([1.0 if g in named[a] else 0.0 for g in gs])
                s = strength["values"] / dilute
                p = (1 - s) * p + s * r / r.sum()
            out[a] = p / p.sum()
        return out

    def generate(self, prompt: str, n: int, seed: int = 0) -> dict[str, list]:
        """Labels of ``n`` images, drawn from :meth:`distributions` with ``seed``."""
        n = check_int(n, "n", minimum=1)
        seed = check_int(seed, "seed", minimum=0)
        rng = np.random.default_rng(seed)
        return {a: [self.groups[a][i] for i in rng.choice(len(p), size=n, p=p)]
                for a, p in self.distributions(prompt).items()}


class PipelineGenerator:
    """Adapt a real text-to-image model and attribute classifier.

    Parameters
    ----------
    text_to_image : callable
        ``text_to_image(prompt, n, seed) -> images`` (any image objects).
    classify : callable
        ``classify(images) -> {attribute: [label per image]}``.
    groups : mapping
        ``{attribute: [group, ...]}``, the labels ``classify`` can return.
    """

    is_stand_in = False

    def __init__(self, text_to_image: Callable[..., Any], classify: Callable[..., Any],
                 groups: Mapping[str, Any]) -> None:
        for name, fn in (("text_to_image", text_to_image), ("classify", classify)):
            if not callable(fn):
                raise TypeError(f"{name} must be callable, got {type(fn).__name__}")
        if not isinstance(groups, Mapping) or not groups:
            raise TypeError(f"groups must be a non-empty mapping attribute -> [group, ...], got "
                            f"{type(groups).__name__}")
        for a, v in groups.items():
            if isinstance(v, (str, bytes)) or not hasattr(v, "__len__") or len(v) < 2:
                raise ValueError(f"groups must map each attribute to at least two groups, got "
                                 f"{v!r} for {a!r}")
        self.text_to_image, self.classify = text_to_image, classify
        self.groups = {a: list(v) for a, v in groups.items()}

    def generate(self, prompt: str, n: int, seed: int = 0) -> dict[str, list]:
        """Labels of ``n`` images drawn by ``text_to_image`` and read by ``classify``."""
        _check_prompt(prompt)
        n = check_int(n, "n", minimum=1)
        seed = check_int(seed, "seed", minimum=0)
        labels = self.classify(self.text_to_image(prompt, n, seed))
        if not isinstance(labels, Mapping):
            raise TypeError(f"classify must return a mapping attribute -> labels, got "
                            f"{type(labels).__name__}")
        for a, labs in labels.items():
            if a not in self.groups:
                raise ValueError(f"classify returned an unknown attribute {a!r}")
            if len(labs) != n:
                raise ValueError(f"classify returned {len(labs)} labels for {a!r}, expected {n}")
        return cast("dict[str, list]", labels)
