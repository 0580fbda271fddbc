"""Long-sequence classification tasks in the spirit of Long Range Arena, generated offline.

Three task kinds, each deterministic from a seed and returned as numpy arrays:

* :func:`make_listops`: nested ListOps expressions (``MAX``, ``MIN``, ``MED``
  and ``SM`` = sum modulo 10 over digits) as token sequences; the label is
  the value of the expression (10 classes).
* :func:`make_pathfinder`: small grey images in which two dots are, or are
  not, joined by one dashed curve among distractor curves; flattened row by
  row they are pixel sequences of length ``side ** 2`` (2 classes).
* :func:`make_byte_text`: byte windows of the shipped corpora, either which
  corpus (King James Bible or Jane Austen, 2 classes) or which of Austen's
  six novels (6 classes); the windows of a split come only from that split's
  chapters (see :mod:`mintlab.datasets.corpus`).

Sequences are padded with token 0 on the right where lengths vary
(``LISTOPS_VOCAB[0]`` is the padding token); every generator validates its
arguments and never downloads anything.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from .._validation import check_array, check_choice, check_int, check_positive
from ..typing import ArrayLike
from .corpus import AUSTEN_NOVELS, CORPUS_SPLITS, corpus_chapters, load_text_corpus

__all__ = ["LISTOPS_VOCAB", "LISTOPS_OPERATORS", "BYTE_TEXT_TASKS", "make_listops",
           "listops_value", "make_pathfinder", "make_byte_text"]

LISTOPS_OPERATORS = ("MAX", "MIN", "MED", "SM")
LISTOPS_VOCAB = ("<pad>", *(str(d) for d in range(10)), *(f"[{op}" for op in LISTOPS_OPERATORS),
                 "]")
"""Token strings by id: 0 pads, 1-10 are the digits 0-9, 11-14 open an operator, 15 closes."""
_DIGIT0, _OP0, _CLOSE = 1, 11, 15
BYTE_TEXT_TASKS = ("corpus", "austen_novel")


def _rng_seed(seed: Any) -> np.random.Generator:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be a non-negative int, got {type(seed).__name__} {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return np.random.default_rng(int(seed))


# ------------------------------------------------------------------ ListOps
def _apply(op: int, args: list[int]) -> int:
    name = LISTOPS_OPERATORS[op]
    if name == "MAX":
        return max(args)
    if name == "MIN":
        return min(args)
    if name == "MED":
        return int(np.median(args))  # the lower integer of an even count's middle mean
    return sum(args) % 10


def listops_value(tokens: ArrayLike) -> int:
    """The value of one ListOps token sequence (ids of :data:`LISTOPS_VOCAB`, padding ignored).

    ``tokens`` is one sequence ``(length,)`` of integer ids (numpy, torch or a
    list; floats holding whole numbers are accepted).

    Examples
    --------
    >>> ids = {t: i for i, t in enumerate(LISTOPS_VOCAB)}
    >>> listops_value([ids[t] for t in "[MAX 2 [MIN 7 4 ] 3 ]".split()])
    4
    """
    if isinstance(tokens, (str, bytes)):
        raise TypeError(f"tokens must be a sequence of integer ids, got {type(tokens).__name__}")
    ids = check_array(tokens, "tokens", ndim=1)
    if ids.is_floating_point():
        if not bool((ids == ids.round()).all()):
            raise ValueError("tokens must hold integer ids, got non-integer values")
        ids = ids.long()
    lo, hi = int(ids.min()), int(ids.max())
    if lo < 0 or hi >= len(LISTOPS_VOCAB):
        raise ValueError(f"tokens must be ids in [0, {len(LISTOPS_VOCAB)}) (below "
                         f"{len(LISTOPS_VOCAB)}), got values in [{lo}, {hi}]")
    stack: list[tuple[int, list[int]]] = []
    value = None
    for t in ids.tolist():
        if t == 0:
            continue
        if _DIGIT0 <= t < _OP0:
            d = t - _DIGIT0
            if not stack:
                value = d
            else:
                stack[-1][1].append(d)
        elif _OP0 <= t < _CLOSE:
            stack.append((t - _OP0, []))
        elif t == _CLOSE:
            if not stack or not stack[-1][1]:
                raise ValueError("tokens must be a well-formed ListOps expression, got an "
                                 "unmatched or empty ']'")
            op, args = stack.pop()
            v = _apply(op, args)
            if stack:
                stack[-1][1].append(v)
            else:
                value = v
        else:
            raise ValueError(f"tokens must be ids below {len(LISTOPS_VOCAB)}, got {t}")
    if stack or value is None:
        raise ValueError("tokens must be a complete ListOps expression")
    return value


def _grow(budget: int, depth: int, max_depth: int, max_args: int, rng: np.random.Generator,
          out: list[int]) -> int:
    """Append an expression of at most ``budget`` tokens to ``out``; return its value."""
    if budget < 4 or depth >= max_depth:
        d = int(rng.integers(10))
        out.append(_DIGIT0 + d)
        return d
    k = int(rng.integers(2, min(max_args, budget - 2) + 1))
    # split the inner budget at random among the k arguments (each gets at least 1 token)
    cuts = np.sort(rng.choice(np.arange(1, budget - 2), size=k - 1, replace=False))
    shares = np.diff(np.concatenate([[0], cuts, [budget - 2]]))
    op = int(rng.integers(len(LISTOPS_OPERATORS)))
    out.append(_OP0 + op)
    args = [_grow(int(s), depth + 1, max_depth, max_args, rng, out) for s in shares]
    out.append(_CLOSE)
    return _apply(op, args)


def make_listops(n_seq: int, max_length: int, *, min_length: int | None = None,
                 max_depth: int = 10, max_args: int = 10,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random ListOps expressions of ``min_length`` to ``max_length`` tokens and their values.

    Each expression is grown top-down into a token budget drawn uniformly in
    ``[min_length, max_length]``: an operator node of 2 to ``max_args``
    arguments shares its budget among them at random, down to ``max_depth``
    levels, where digits end it (so an expression may be shorter than its
    budget, never longer). ``min_length`` defaults to ``max_length // 2``.

    Parameters
    ----------
    n_seq : int
        Number of expressions.
    max_length : int
        Longest expression and the padded width (at least 5 tokens).
    min_length : int, optional
        Smallest token budget, in ``[1, max_length]``.
    max_depth, max_args : int
        Nesting limit (>= 1) and most arguments per operator (>= 2).
    seed : int

    Returns
    -------
    tokens : ndarray (n_seq, max_length) of int64
        Ids of :data:`LISTOPS_VOCAB`, right-padded with 0.
    labels : ndarray (n_seq,) of int64
        The value of each expression, 0-9.

    Examples
    --------
    >>> X, y = make_listops(3, 64, seed=0)
    >>> X.shape, bool((y == [listops_value(x) for x in X]).all())
    ((3, 64), True)
    """
    n_seq = check_int(n_seq, "n_seq", minimum=1)
    max_length = check_int(max_length, "max_length", minimum=5)
    min_length = max_length // 2 if min_length is None else check_int(min_length, "min_length",
                                                                       minimum=1)
    if min_length > max_length:
        raise ValueError(f"min_length must be <= max_length ({max_length}), got {min_length}")
    max_depth = check_int(max_depth, "max_depth", minimum=1)
    max_args = check_int(max_args, "max_args", minimum=2)
    rng = _rng_seed(seed)
    tokens = np.zeros((n_seq, max_length), np.int64)
    labels = np.zeros(n_seq, np.int64)
    for i in range(n_seq):
        out: list[int] = []
        labels[i] = _grow(int(rng.integers(min_length, max_length + 1)), 0, max_depth,
                          max_args, rng, out)
        tokens[i, :len(out)] = out
    return tokens, labels


# --------------------------------------------------------------- pathfinder
def _curve(rng: np.random.Generator, side: int, length: float, step: float = 0.5,
           turn: float = 0.15) -> np.ndarray:
    """A smooth random walk of ``length`` pixels inside the image; points ``(k, 2)``."""
    lo, hi = 1.0, side - 2.0
    p = rng.uniform(lo, hi, 2)
    angle = rng.uniform(0, 2 * np.pi)
    pts = [p.copy()]
    for _ in range(int(length / step)):
        angle += rng.normal(0, turn)
        q = p + step * np.array([np.cos(angle), np.sin(angle)])
        if not (lo <= q[0] <= hi and lo <= q[1] <= hi):  # turn back from the border
            angle += np.pi
            q = p + step * np.array([np.cos(angle), np.sin(angle)])
            q = np.clip(q, lo, hi)
        p = q
        pts.append(p.copy())
    return np.asarray(pts)


def _draw_dashed(img: np.ndarray, pts: np.ndarray, dash: float, gap: float, value: float,
                 step: float = 0.5) -> None:
    period = dash + gap
    for i, p in enumerate(pts):
        if (i * step) % period < dash:
            r, c = int(p[0] + 0.5), int(p[1] + 0.5)
            img[r, c] = max(img[r, c], value)


def _draw_dot(img: np.ndarray, p: np.ndarray, value: float) -> None:
    r, c = int(p[0] + 0.5), int(p[1] + 0.5)
    img[max(r - 1, 0):r + 1, max(c - 1, 0):c + 1] = value


def make_pathfinder(n_images: int, side: int, *, n_distractors: int = 2,
                    curve_length: float | None = None, dash: float = 2.0, gap: float = 1.0,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Pathfinder-style images: are the two dots joined by one dashed curve? (label 1 = yes)

    Every image holds ``2 + n_distractors`` dashed curves (intensity 0.5) of
    ``curve_length`` pixels (default ``1.5 * side``) and two 2 x 2 dots
    (intensity 1). In a positive image the dots sit on both ends of the same
    curve; in a negative one on one end of two different curves, so both
    classes have the same curves and dots and only their connection differs.
    Classes alternate over the images (balanced).

    Returns
    -------
    images : ndarray (n_images, side, side) of float32 in [0, 1]
        Flatten row by row (``images.reshape(n_images, -1)``) for pixel sequences.
    labels : ndarray (n_images,) of int64

    Examples
    --------
    >>> X, y = make_pathfinder(4, 16, seed=0)
    >>> X.shape, y.tolist(), float(X.max())
    ((4, 16, 16), [1, 0, 1, 0], 1.0)
    """
    n_images = check_int(n_images, "n_images", minimum=1)
    side = check_int(side, "side", minimum=8)
    n_distractors = check_int(n_distractors, "n_distractors", minimum=0)
    curve_length = 1.5 * side if curve_length is None else check_positive(curve_length,
                                                                          "curve_length")
    dash = check_positive(dash, "dash")
    gap = check_positive(gap, "gap")
    rng = _rng_seed(seed)
    images = np.zeros((n_images, side, side), np.float32)
    labels = (np.arange(n_images) % 2 == 0).astype(np.int64)
    for i in range(n_images):
        img = images[i]
        curves = [_curve(rng, side, curve_length) for _ in range(2 + n_distractors)]
        for c in curves:
            _draw_dashed(img, c, dash, gap, 0.5)
        a, b = curves[0], curves[1]
        if labels[i]:
            ends = (a[0], a[-1])
        else:
            ends = (a[int(rng.integers(2)) * -1], b[int(rng.integers(2)) * -1])
        for p in ends:
            _draw_dot(img, p, 1.0)
    return images, labels


# ---------------------------------------------------------------- byte text
@functools.cache
def _class_texts(task: str, split: str) -> tuple[bytes, ...]:
    if task == "corpus":
        return tuple(load_text_corpus(split, corpus=c).encode("utf-8") for c in ("kjv", "austen"))
    from .corpus import _split_of

    chapters = corpus_chapters("austen")
    texts, start = [], 0
    for _, _, count in AUSTEN_NOVELS:
        picked = [ch for i, ch in enumerate(chapters[start:start + count], start)
                  if _split_of(i) == split]
        texts.append("\n\n".join("\n".join(ch) for ch in picked).encode("utf-8"))
        start += count
    return tuple(texts)


def make_byte_text(n_seq: int, length: int, *, task: str = "austen_novel",
                   split: str = "train", seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Byte windows of the shipped corpora, labelled by their source.

    ``task="corpus"``: King James Bible (0) or Jane Austen (1);
    ``task="austen_novel"``: which of Austen's six novels (in
    :data:`mintlab.datasets.AUSTEN_NOVELS` order). Classes alternate over the
    windows (balanced); each window starts at a uniformly random byte of its
    class's text of ``split`` (chapters of one split only, so train and test
    windows never share text).

    Returns
    -------
    tokens : ndarray (n_seq, length) of int64
        UTF-8 bytes, 0-255.
    labels : ndarray (n_seq,) of int64

    Examples
    --------
    >>> X, y = make_byte_text(4, 32, task="corpus", split="test", seed=0)
    >>> X.shape, y.tolist()
    ((4, 32), [0, 1, 0, 1])
    """
    n_seq = check_int(n_seq, "n_seq", minimum=1)
    length = check_int(length, "length", minimum=1)
    task = check_choice(task, "task", BYTE_TEXT_TASKS)
    split = check_choice(split, "split", CORPUS_SPLITS)
    rng = _rng_seed(seed)
    texts = _class_texts(task, split)
    shortest = min(len(t) for t in texts)
    if length > shortest:
        raise ValueError(f"length must be at most {shortest} bytes for task {task!r} and split "
                         f"{split!r} (the shortest class text), got {length}")
    labels = np.arange(n_seq, dtype=np.int64) % len(texts)
    tokens = np.zeros((n_seq, length), np.int64)
    for i, c in enumerate(labels):
        t = texts[c]
        s = int(rng.integers(0, len(t) - length + 1))
        tokens[i] = np.frombuffer(t[s:s + length], np.uint8)
    return tokens, labels
