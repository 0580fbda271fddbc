"""The offline long-range task generators: labels against independent evaluators, splits,
determinism and argument errors."""

import numpy as np
import pytest

from mintlab.datasets import AUSTEN_NOVELS, corpus_chapters, load_text_corpus
from mintlab.datasets.long_range import (
    BYTE_TEXT_TASKS,
    LISTOPS_VOCAB,
    listops_value,
    make_byte_text,
    make_listops,
    make_pathfinder,
)


def _eval_text(tokens):
    """An independent ListOps evaluator: the expression as nested Python lists, recursively."""
    words = [LISTOPS_VOCAB[t] for t in tokens if t != 0]
    pos = 0

    def parse():
        nonlocal pos
        w = words[pos]
        pos += 1
        if w.isdigit():
            return int(w)
        args = []
        while words[pos] != "]":
            args.append(parse())
        pos += 1
        op = w[1:]
        s = sorted(args)
        return {"MAX": s[-1], "MIN": s[0], "SM": sum(args) % 10,
                "MED": (s[(len(s) - 1) // 2] + s[len(s) // 2]) // 2}[op]

    value = parse()
    assert pos == len(words)
    return value


def test_listops_labels_lengths_and_determinism():
    X, y = make_listops(60, 200, min_length=100, max_depth=4, max_args=6, seed=3)
    assert X.shape == (60, 200) and X.dtype == np.int64 and y.shape == (60,)
    lengths = (X > 0).sum(1)
    assert lengths.max() <= 200 and lengths.min() >= 1
    # padding only on the right
    for row, n in zip(X, lengths, strict=True):
        assert np.all(row[:n] > 0) and np.all(row[n:] == 0)
    assert [_eval_text(x) for x in X] == y.tolist() == [listops_value(x) for x in X]
    X2, y2 = make_listops(60, 200, min_length=100, max_depth=4, max_args=6, seed=3)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    assert not np.array_equal(X, make_listops(60, 200, min_length=100, max_depth=4,
                                              max_args=6, seed=4)[0])
    assert len(set(y.tolist())) >= 5


def test_listops_reaches_long_sequences_and_respects_the_depth():
    X, _ = make_listops(8, 2048, min_length=1024, max_depth=10, seed=0)
    assert (X > 0).sum(1).mean() > 1000
    X, _ = make_listops(20, 500, max_depth=2, seed=0)
    opens = np.isin(X, range(11, 15)).astype(int) - (X == 15).astype(int)
    assert np.cumsum(opens, 1).max() <= 2


def test_listops_value_examples_and_errors():
    ids = {t: i for i, t in enumerate(LISTOPS_VOCAB)}
    enc = [ids[t] for t in "[MED 1 2 3 8 ]".split()]
    assert listops_value(enc) == 2
    assert listops_value([ids[t] for t in "[SM 9 [MAX 3 7 ] ]".split()]) == 6
    with pytest.raises(ValueError, match="complete"):
        listops_value(enc[:-1])
    with pytest.raises(ValueError, match="below 16"):
        listops_value([99])


@pytest.mark.parametrize("kw, match", [({"n_seq": 0}, "n_seq"), ({"max_length": 4}, "max_length"),
                                       ({"min_length": 300}, "min_length"),
                                       ({"max_args": 1}, "max_args"),
                                       ({"seed": -1}, "seed")])
def test_listops_argument_errors(kw, match):
    args = {"n_seq": 2, "max_length": 100, **kw}
    with pytest.raises((ValueError, TypeError), match=match):
        make_listops(args.pop("n_seq"), args.pop("max_length"), **args)


def test_pathfinder_images_are_balanced_and_deterministic():
    X, y = make_pathfinder(40, 24, n_distractors=1, seed=2)
    assert X.shape == (40, 24, 24) and X.dtype == np.float32
    assert y.tolist() == [1, 0] * 20
    assert set(np.unique(X).tolist()) <= {0.0, 0.5, 1.0}
    dots = (X == 1).sum((1, 2))
    assert dots.min() >= 2 and dots.max() <= 8  # two 2 x 2 dots, possibly overlapping
    curve = (X == 0.5).sum((1, 2))
    assert curve.min() > 10
    # both classes draw the same numbers of curves and dots: no count gives the label away
    assert abs(curve[y == 1].mean() - curve[y == 0].mean()) < 0.25 * curve.mean()
    X2, _ = make_pathfinder(40, 24, n_distractors=1, seed=2)
    assert np.array_equal(X, X2)
    with pytest.raises(ValueError, match="side"):
        make_pathfinder(2, 4)
    with pytest.raises(ValueError, match="curve_length"):
        make_pathfinder(2, 16, curve_length=0.0)


@pytest.mark.parametrize("task", BYTE_TEXT_TASKS)
def test_byte_text_windows_come_from_their_class_and_split(task):
    X, y = make_byte_text(12, 48, task=task, split="test", seed=1)
    assert X.shape == (12, 48) and X.min() >= 0 and X.max() <= 255
    k = 2 if task == "corpus" else len(AUSTEN_NOVELS)
    assert y.tolist() == [i % k for i in range(12)]
    if task == "corpus":
        sources = [load_text_corpus(s, corpus=c).encode() for c in ("kjv", "austen")
                   for s in ("test", "train")]
        own = {0: sources[0], 1: sources[2]}
        train = {0: sources[1], 1: sources[3]}
    else:
        chapters = corpus_chapters("austen")
        starts = np.cumsum([0] + [c for _, _, c in AUSTEN_NOVELS])
        own, train = {}, {}
        for c in range(k):
            chs = list(enumerate(chapters))[starts[c]:starts[c + 1]]
            own[c] = "\n\n".join("\n".join(ch) for i, ch in chs if i % 20 == 7).encode()
            train[c] = "\n\n".join("\n".join(ch) for i, ch in chs
                                   if i % 20 not in (7, 13)).encode()
    for x, c in zip(X, y, strict=True):
        window = bytes(x.astype(np.uint8))
        assert window in own[c]
        assert window not in train[c]


def test_byte_text_errors_and_determinism():
    a = make_byte_text(4, 32, seed=5)
    b = make_byte_text(4, 32, seed=5)
    assert np.array_equal(a[0], b[0])
    with pytest.raises(ValueError, match="task"):
        make_byte_text(4, 32, task="bible")
    with pytest.raises(ValueError, match="split"):
        make_byte_text(4, 32, split="dev")
    with pytest.raises(ValueError, match="length must be at most"):
        make_byte_text(4, 10_000_000)
