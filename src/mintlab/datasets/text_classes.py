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

import numpy as np

from .._validation import check_int
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


def austen_passages(split="train", length: int = 64, per_class: int | None = None,
                    seed=0) -> tuple[list[tuple[str, ...]], np.ndarray]:
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
    splits = (split,) if isinstance(split, str) else tuple(split)
    for s in splits:
        if s not in CORPUS_SPLITS:
            raise ValueError(f"split must be one of {CORPUS_SPLITS} or a tuple of them, got "
                             f"{s!r}")
    length = check_int(length, "length", minimum=1)
    by_class: list[list[tuple[str, ...]]] = [[] for _ in AUSTEN_NOVELS]
    for novel, s, words in _chapter_words():
        if s in splits:
            by_class[novel].extend(words[i:i + length]
                                   for i in range(0, len(words) - length + 1, length))
    if per_class is None:
        passages = [p for c in by_class for p in c]
        labels = np.concatenate([np.full(len(c), k) for k, c in enumerate(by_class)])
        return passages, labels.astype(np.int64)
    per_class = check_int(per_class, "per_class", minimum=1)
    fewest = min(len(c) for c in by_class)
    if per_class > fewest:
        raise ValueError(f"per_class must be at most {fewest} (the passages of {length} words "
                         f"of the smallest novel in split {splits}), got {per_class}")
    rng = np.random.default_rng(seed)
    passages, labels = [], []
    for k, c in enumerate(by_class):
        for i in np.sort(rng.choice(len(c), per_class, replace=False)):
            passages.append(c[i])
            labels.append(k)
    return passages, np.asarray(labels, dtype=np.int64)


def build_vocabulary(passages, size: int) -> dict[str, int]:
    """The ``size`` most frequent words of ``passages`` (ties by first appearance), with ids
    from 2 on; id 0 is padding and 1 an unknown word."""
    size = check_int(size, "size", minimum=1)
    counts = Counter(w for p in passages for w in p)
    return {w: i + 2 for i, (w, _) in enumerate(counts.most_common(size))}


def encode_passages(passages, vocabulary: dict[str, int]) -> np.ndarray:
    """Token ids ``(n, length)`` int64 of equal-length passages (unknown words: 1)."""
    lengths = {len(p) for p in passages}
    if len(lengths) > 1:
        raise ValueError(f"passages must have one length, got lengths {sorted(lengths)}")
    return np.asarray([[vocabulary.get(w, UNKNOWN) for w in p] for p in passages],
                      dtype=np.int64).reshape(len(passages), -1)
