"""Text classification from the shipped corpora: which Austen novel a passage comes from.

Passages are runs of ``length`` consecutive words inside one chapter (words:
lower-cased letter runs, with inner apostrophes), cut without overlap from the
start of each chapter. The corpus's chapter split applies (``train``,
``calibration``, ``test``; see :mod:`mintlab.datasets.corpus`), so training and
held-out passages never share a chapter. Labels are the novels' indices in
:data:`~mintlab.datasets.corpus.AUSTEN_NOVELS` (publication order).

>>> P, y = austen_passages("test", length=32, per_class=5, seed=0)
>>> len(P), len(P[0]), sorted(set(y.tolist()))
(30, 32, [0, 1, 2, 3, 4, 5])
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .._validation import check_int
from ._checks import check_numpy_rng
from .corpus import AUSTEN_NOVELS, CORPUS_SPLITS, _split_of, corpus_chapters

__all__ = ["AUSTEN_TITLES", "austen_passages", "build_vocabulary", "encode_passages"]

AUSTEN_TITLES = tuple(title for title, _, _ in AUSTEN_NOVELS)
"""The class names of :func:`austen_passages`, in label order."""
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")
PAD, UNKNOWN = 0, 1  # reserved token ids of :func:`encode_passages`


@functools.lru_cache(maxsize=1)
def _chapter_words() -> tuple[tuple[int, str, tuple[str, ...]], ...]:
    """``(novel index, split, words)`` for every chapter of the Austen corpus."""
    novel_of = np.repeat(np.arange(len(AUSTEN_NOVELS)), [c for _, _, c in AUSTEN_NOVELS])
    chapters = corpus_chapters("austen")
    if len(chapters) != len(novel_of):  # pragma: no cover - asset integrity
        raise RuntimeError(f"the Austen corpus has {len(chapters)} chapters, the novel table "
                           f"{len(novel_of)}")
    return tuple((int(novel_of[i]), _split_of(i), tuple(_WORD.findall(" ".join(ch).lower())))
                 for i, ch in enumerate(chapters))


def austen_passages(split: str | Sequence[str] = "train", length: int = 64,
                    per_class: int | None = None,
                    seed: Any = 0) -> tuple[list[tuple[str, ...]], np.ndarray]:
    """Passages of ``length`` words and the index of their novel.

    Parameters
    ----------
    split : str or tuple of str
        One of ``"train"``, ``"calibration"``, ``"test"``, or several (their union).
    length : int, default 64
        Words per passage.
    per_class : int or None
        Passages drawn per novel without replacement with ``seed`` (balanced
        classes); ``None`` keeps every passage in corpus order.
    seed : int or numpy.random.Generator, default 0

    Returns
    -------
    passages : list of tuple of str
    labels : ndarray of int64, shape (len(passages),)
    """
    if isinstance(split, str):
        splits: tuple[str, ...] = (split,)
    elif isinstance(split, Iterable):
        splits = tuple(split)
    else:
        raise TypeError(f"split must be one of {CORPUS_SPLITS} or a tuple of them, got "
                        f"{type(split).__name__} {split!r}")
    if not splits:
        raise ValueError(f"split must be one of {CORPUS_SPLITS} or a tuple of them, got none")
    for s in splits:
        if not isinstance(s, str) or s not in CORPUS_SPLITS:
            raise ValueError(f"split must be one of {CORPUS_SPLITS} or a tuple of them, got "
                             f"{s!r}")
    length = check_int(length, "length", minimum=1)
    if per_class is not None:
        per_class = check_int(per_class, "per_class", minimum=1)
    rng = check_numpy_rng(seed)
    by_class: list[list[tuple[str, ...]]] = [[] for _ in AUSTEN_NOVELS]
    for novel, s, words in _chapter_words():
        if s in splits:
            by_class[novel].extend(words[i:i + length]
                                   for i in range(0, len(words) - length + 1, length))
    if per_class is None:
        everything = [p for c in by_class for p in c]
        all_labels = np.concatenate([np.full(len(c), k) for k, c in enumerate(by_class)])
        return everything, all_labels.astype(np.int64)
    fewest = min(len(c) for c in by_class)
    if per_class > fewest:
        raise ValueError(f"per_class must be at most {fewest} (the passages of {length} words "
                         f"of the smallest novel in split {splits}), got {per_class}")
    passages: list[tuple[str, ...]] = []
    labels: list[int] = []
    for k, c in enumerate(by_class):
        for i in np.sort(rng.choice(len(c), per_class, replace=False)):
            passages.append(c[i])
            labels.append(k)
    return passages, np.asarray(labels, dtype=np.int64)


def _check_passages(passages: Any, name: str = "passages") -> list[Sequence[str]]:
    if isinstance(passages, (str, bytes)) or not isinstance(passages, Iterable):
        raise TypeError(f"{name} must be a sequence of passages (sequences of words), got "
                        f"{type(passages).__name__}")
    out: list[Sequence[str]] = []
    for i, p in enumerate(passages):
        # any non-string iterable of words (lists, tuples, rows of a numpy array of str, ...)
        words = None if isinstance(p, (str, bytes)) or not isinstance(p, Iterable) else tuple(p)
        if words is None or not all(isinstance(w, str) for w in words):
            raise TypeError(f"{name} must hold sequences of words (str), got {name}[{i}] = "
                            f"{p!r:.60}")
        out.append(words)
    if not out:
        raise ValueError(f"{name} must hold at least one passage, got none")
    return out


def build_vocabulary(passages: Iterable[Sequence[str]], size: int) -> dict[str, int]:
    """The ``size`` most frequent words of ``passages`` (ties by first appearance), with ids
    from 2 on; id 0 is padding and 1 an unknown word."""
    size = check_int(size, "size", minimum=1)
    words = _check_passages(passages)
    counts = Counter(w for p in words for w in p)
    return {w: i + 2 for i, (w, _) in enumerate(counts.most_common(size))}


def encode_passages(passages: Iterable[Sequence[str]],
                    vocabulary: Mapping[str, int]) -> np.ndarray:
    """Token ids ``(n, length)`` int64 of equal-length passages (unknown words: 1)."""
    if not isinstance(vocabulary, Mapping):
        raise TypeError(f"vocabulary must be a dict word -> id (from build_vocabulary), got "
                        f"{type(vocabulary).__name__}")
    bad = [(w, i) for w, i in vocabulary.items()
           if not isinstance(w, str) or isinstance(i, bool) or not isinstance(i, (int, np.integer))
           or i < 0]
    if bad:
        raise ValueError(f"vocabulary must map words to non-negative integer ids, got "
                         f"{bad[0]!r}")
    items = _check_passages(passages)
    lengths = {len(p) for p in items}
    if len(lengths) > 1:
        raise ValueError(f"passages must have one length, got lengths {sorted(lengths)}")
    return np.asarray([[vocabulary.get(w, UNKNOWN) for w in p] for p in items],
                      dtype=np.int64).reshape(len(items), -1)
