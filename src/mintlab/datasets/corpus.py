"""A real English text corpus shipped with the package: the King James Version.

Used by the language-model testbed of :mod:`mintlab.compress.testbed`.
Provenance and licence are in ``datasets/data/README.md``: public domain,
taken from Debian's ``bible-kjv-text``, verse labels stripped. Nothing is
downloaded; the compressed text (0.9 MB) is part of the package.

The splits are fixed and disjoint, by chapter (chapter ``i`` of the 1,189 in
canonical order is *test* if ``i % 20 == 7``, *calibration* if
``i % 20 == 13``, *train* otherwise): about 90 / 5 / 5 % of the text.
"""

from __future__ import annotations

import functools
import lzma
from importlib import resources

__all__ = ["CORPUS_SPLITS", "load_text_corpus", "load_corpus_verses", "corpus_chapters"]

CORPUS_SPLITS = ("train", "calibration", "test")
_TEST, _CALIBRATION, _PERIOD = 7, 13, 20


@functools.lru_cache(maxsize=1)
def corpus_chapters() -> tuple[tuple[str, ...], ...]:
    """All 1,189 chapters, each a tuple of its verses (plain strings)."""
    raw = resources.files("mintlab.datasets").joinpath("data/kjv.txt.xz").read_bytes()
    text = lzma.decompress(raw).decode("ascii")
    return tuple(tuple(ch.split("\n")) for ch in text.strip("\n").split("\n\n"))


def _split_of(i: int) -> str:
    r = i % _PERIOD
    return "test" if r == _TEST else "calibration" if r == _CALIBRATION else "train"


def _check_split(split: str) -> None:
    if split not in CORPUS_SPLITS:
        raise ValueError(f"split must be one of {CORPUS_SPLITS}, got {split!r}")


def load_corpus_verses(split: str = "train") -> list[str]:
    """The verses of one split, in canonical order (one string per verse).

    Examples
    --------
    >>> v = load_corpus_verses("test")
    >>> len(v) > 1000, v[0][:12]
    (True, 'And God reme')
    """
    _check_split(split)
    return [v for i, ch in enumerate(corpus_chapters()) if _split_of(i) == split for v in ch]


def load_text_corpus(split: str = "train") -> str:
    """The text of one split: verses joined by newlines, chapters by an empty line.

    Examples
    --------
    >>> len(load_text_corpus("train")) > 3_000_000
    True
    >>> load_text_corpus("train")[:33]
    'In the beginning God created the '
    """
    _check_split(split)
    chapters = [ch for i, ch in enumerate(corpus_chapters()) if _split_of(i) == split]
    return "\n\n".join("\n".join(ch) for ch in chapters) + "\n"
