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
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Triple", "TripleStore", "EXAMPLE_KG"]

EXAMPLE_KG = Path(__file__).with_name("data") / "example_kg.tsv"


@dataclass(frozen=True)
class Triple:
    head: str
    relation: str
    tail: str

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

    def __init__(self, triples: Iterable):
        self.triples: list[Triple] = []
        seen = set()
        for k, t in enumerate(triples):
            if isinstance(t, Triple):
                t = (t.head, t.relation, t.tail)
            if not isinstance(t, Sequence) or isinstance(t, str) or len(t) != 3:
                raise ValueError(f"triple {k} must be (head, relation, tail), got {t!r}")
            h, r, tl = (_norm(x) for x in t)
            if not (h and r and tl):
                raise ValueError(f"triple {k} has an empty field: {t!r}")
            if (h, r, tl) in seen:
                raise ValueError(f"triple {k} is a duplicate: {(h, r, tl)}")
            seen.add((h, r, tl))
            self.triples.append(Triple(h, r, tl))
        if not self.triples:
            raise ValueError("a TripleStore needs at least one triple")
        self._out = defaultdict(list)
        for t in self.triples:
            self._out[t.head].append(t)
        heads = sorted(self._out, key=len, reverse=True)
        self._patterns = [(h, re.compile(rf"\b{re.escape(h)}(?:s|es)?\b")) for h in heads]

    def __len__(self) -> int:
        return len(self.triples)

    # ---- loading ----------------------------------------------------------------------
    @classmethod
    def from_tsv(cls, path) -> TripleStore:
        """Load ``head<TAB>relation<TAB>tail`` lines (``#`` starts a comment line)."""
        rows = []
        with open(path, newline="", encoding="utf-8") as f:
            for n, row in enumerate(csv.reader(f, delimiter="\t"), 1):
                if not row or row[0].lstrip().startswith("#"):
                    continue
                if len(row) != 3:
                    raise ValueError(f"{path}:{n}: expected 3 tab-separated fields, got "
                                     f"{len(row)}")
                rows.append(row)
        return cls(rows)

    @classmethod
    def from_json(cls, path) -> TripleStore:
        """Load a JSON list of ``[head, relation, tail]`` or ``{"head", "relation", "tail"}``."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(data, list):
            raise ValueError(f"{path}: expected a JSON list of triples")
        rows = [(d["head"], d["relation"], d["tail"]) if isinstance(d, dict) else d
                for d in data]
        return cls(rows)

    @classmethod
    def example(cls) -> TripleStore:
        """The small example graph shipped with mintlab (not the paper's graph)."""
        return cls.from_tsv(EXAMPLE_KG)

    # ---- querying ---------------------------------------------------------------------
    def query(self, head: str | None = None, relation: str | None = None,
              tail: str | None = None) -> list[Triple]:
        """Triples matching every given field."""
        h, r, t = (None if x is None else _norm(x) for x in (head, relation, tail))
        pool = self._out.get(h, []) if h is not None else self.triples
        return [x for x in pool if (r is None or x.relation == r) and (t is None or x.tail == t)]

    def entities_in(self, text: str) -> list[str]:
        """Graph heads mentioned in ``text`` (longest first, no overlapping matches)."""
        s = _norm(text)
        found, taken = [], []
        for h, pat in self._patterns:
            for m in pat.finditer(s):
                if not any(m.start() < b and a < m.end() for a, b in taken):
                    found.append(h)
                    taken.append((m.start(), m.end()))
                    break
        return found

    def retrieve(self, prompt: str, k: int | None = None) -> list[Triple]:
        """Triples relevant to ``prompt``, closest first (see the module text)."""
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError("prompt must be a non-empty string")
        out, seen = [], set()

        def add(ts):
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
