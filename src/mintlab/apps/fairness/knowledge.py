"""A small triple store for KG-FairDiff (``kg-fairdiff``): load, query, retrieve for a prompt.

Triples are ``(head, relation, tail)`` strings. Retrieval finds the graph's
entities mentioned in a prompt (whole-word, case-insensitive, longest match
first, simple plural forms) and follows them: a subject's ``is_a`` class,
its ``stereotyped_as`` values, the attribute each value belongs to
(``value_of``), that attribute's ``inclusive_phrase`` triples, the values'
``counterpart_of`` and the class's ``cultural_context``. Each retrieved
triple is scored by the hop at which it was reached, so direct facts about
the prompt come first.

:meth:`TripleStore.example` loads the small hand-written graph shipped with
mintlab (``data/example_kg.tsv``); it is an example for tests and demos, not
the paper's graph.
"""

from __future__ import annotations

import csv
import os
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..._artifacts import check_file, read_json
from ..._validation import check_int
from ...errors import ArtifactError

__all__ = ["Triple", "TripleStore", "EXAMPLE_KG"]

EXAMPLE_KG = Path(__file__).with_name("data") / "example_kg.tsv"


@dataclass(frozen=True)
class Triple:
    head: str
    relation: str
    tail: str

    def __post_init__(self) -> None:
        for name in ("head", "relation", "tail"):
            v = getattr(self, name)
            if not isinstance(v, str):
                raise TypeError(f"{name} must be a string, got {type(v).__name__}")
            if not v.strip():
                raise ValueError(f"{name} must be a non-empty string, got {v!r}")

    def text(self) -> str:
        return f"{self.head} {self.relation.replace('_', ' ')} {self.tail}"


def _norm(s: str) -> str:
    return " ".join(str(s).strip().lower().split())


class TripleStore:
    """An in-memory knowledge graph of ``(head, relation, tail)`` triples.

    Parameters
    ----------
    triples : iterable of Triple or (head, relation, tail)
        Strings are lower-cased and whitespace-normalised; empty fields and
        duplicates are rejected.

    Examples
    --------
    >>> kg = TripleStore([("nurse", "stereotyped_as", "female"),
    ...                   ("female", "value_of", "gender"),
    ...                   ("gender", "inclusive_phrase", "women and men")])
    >>> [t.tail for t in kg.retrieve("a photo of two nurses")]
    ['female', 'gender', 'women and men']
    """

    def __init__(self, triples: Iterable[Triple | Sequence[str]]) -> None:
        if isinstance(triples, (str, bytes)) or not isinstance(triples, Iterable):
            raise TypeError(f"triples must be an iterable of (head, relation, tail), got "
                            f"{type(triples).__name__}")
        self.triples: list[Triple] = []
        seen = set()
        for k, t in enumerate(triples):
            if isinstance(t, Triple):
                t = (t.head, t.relation, t.tail)
            if not isinstance(t, Sequence) or isinstance(t, str) or len(t) != 3:
                raise ValueError(f"triples[{k}] must be (head, relation, tail), got {t!r}")
            if not all(isinstance(x, str) for x in t):
                raise TypeError(f"triples[{k}] must hold three strings, got {t!r}")
            h, r, tl = (_norm(x) for x in t)
            if not (h and r and tl):
                raise ValueError(f"triples[{k}] has an empty field: {t!r}")
            if (h, r, tl) in seen:
                raise ValueError(f"triples[{k}] is a duplicate: {(h, r, tl)}")
            seen.add((h, r, tl))
            self.triples.append(Triple(h, r, tl))
        if not self.triples:
            raise ValueError("triples must hold at least one triple, got none")
        self._out: defaultdict[str, list[Triple]] = defaultdict(list)
        for t in self.triples:
            self._out[t.head].append(t)
        heads = sorted(self._out, key=len, reverse=True)
        self._patterns = [(h, re.compile(rf"\b{re.escape(h)}(?:s|es)?\b")) for h in heads]

    def __len__(self) -> int:
        return len(self.triples)

    # ---- loading ----------------------------------------------------------------------
    @classmethod
    def _from_rows(cls, rows: list[Any], path: Path, what: str) -> TripleStore:
        try:
            return cls(rows)
        except (TypeError, ValueError) as err:
            raise ArtifactError(path, f"the {what} holds an invalid triple: {err}") from None

    @classmethod
    def from_tsv(cls, path: str | os.PathLike[str]) -> TripleStore:
        """Load ``head<TAB>relation<TAB>tail`` lines (``#`` starts a comment line).

        Raises :class:`~mintlab.ArtifactError` naming the file when it is
        missing, empty, not UTF-8 text or holds a malformed line.
        """
        p = check_file(path, "triple file")
        rows = []
        try:
            with open(p, newline="", encoding="utf-8") as f:
                for n, row in enumerate(csv.reader(f, delimiter="\t"), 1):
                    if not row or row[0].lstrip().startswith("#"):
                        continue
                    if len(row) != 3:
                        raise ArtifactError(p, f"line {n}: expected 3 tab-separated fields, "
                                               f"got {len(row)}")
                    rows.append(row)
        except UnicodeDecodeError as err:
            raise ArtifactError(p, f"the triple file is not UTF-8 text ({err.reason}); it is "
                                   "binary or corrupted") from None
        except csv.Error as err:
            raise ArtifactError(p, f"the triple file is not valid TSV: {err}") from None
        if not rows:
            raise ArtifactError(p, "the triple file holds no triples")
        return cls._from_rows(rows, p, "triple file")

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> TripleStore:
        """Load a JSON list of ``[head, relation, tail]`` or ``{"head", "relation", "tail"}``.

        Raises :class:`~mintlab.ArtifactError` naming the file when it is
        missing, empty, truncated, not JSON, or holds a malformed triple.
        """
        p = Path(path)
        data = read_json(p, what="triple file", kind=list)
        rows = []
        for k, d in enumerate(data):
            if isinstance(d, dict):
                missing = [f for f in ("head", "relation", "tail") if f not in d]
                if missing:
                    raise ArtifactError(p, f"triple {k} lacks the fields {missing}")
                rows.append((d["head"], d["relation"], d["tail"]))
            else:
                rows.append(d)
        if not rows:
            raise ArtifactError(p, "the triple file holds no triples")
        return cls._from_rows(rows, p, "triple file")

    @classmethod
    def example(cls) -> TripleStore:
        """The small example graph shipped with mintlab (not the paper's graph)."""
        return cls.from_tsv(EXAMPLE_KG)

    # ---- querying ---------------------------------------------------------------------
    def query(self, head: str | None = None, relation: str | None = None,
              tail: str | None = None) -> list[Triple]:
        """Triples matching every given field."""
        for name, v in (("head", head), ("relation", relation), ("tail", tail)):
            if v is not None and not isinstance(v, str):
                raise TypeError(f"{name} must be a string or None, got {type(v).__name__}")
        h, r, t = (None if x is None else _norm(x) for x in (head, relation, tail))
        pool = self._out.get(h, []) if h is not None else self.triples
        return [x for x in pool if (r is None or x.relation == r) and (t is None or x.tail == t)]

    def entities_in(self, text: str) -> list[str]:
        """Graph heads mentioned in ``text`` (longest first, no overlapping matches)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a string, got {type(text).__name__}")
        s = _norm(text)
        found: list[str] = []
        taken: list[tuple[int, int]] = []
        for h, pat in self._patterns:
            for m in pat.finditer(s):
                if not any(m.start() < b and a < m.end() for a, b in taken):
                    found.append(h)
                    taken.append((m.start(), m.end()))
                    break
        return found

    def retrieve(self, prompt: str, k: int | None = None) -> list[Triple]:
        """Triples relevant to ``prompt``, closest first (see the module text)."""
        if not isinstance(prompt, str):
            raise TypeError(f"prompt must be a string, got {type(prompt).__name__}")
        if not prompt.strip():
            raise ValueError("prompt must be a non-empty string, got an empty one")
        if k is not None:
            k = check_int(k, "k", minimum=0)
        out: list[Triple] = []
        seen: set[Triple] = set()

        def add(ts: Iterable[Triple]) -> None:
            for t in ts:
                if t not in seen:
                    seen.add(t)
                    out.append(t)

        for subject in self.entities_in(prompt):
            facts = self._out.get(subject, [])
            add(facts)
            for t in facts:
                add(self.query(t.tail, "value_of"))
                add(self.query(t.tail, "counterpart_of"))
                add(self.query(t.tail, "cultural_context"))
                for a in self.query(t.tail, "value_of"):
                    add(self.query(a.tail, "inclusive_phrase"))
        return out if k is None else out[:k]
