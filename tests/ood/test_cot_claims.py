"""The cot / cott testbed: properties that hold by construction, and a tiny end-to-end build."""

import dataclasses

import numpy as np
import pytest
import torch

from mintlab.datasets import load_fashion_mnist
from mintlab.experiments._ood_common import (
    SUPERCLASSES,
    ShiftSettings,
    _split,
    cnn,
    cot_pot_agreement,
    run_testbed,
    shifted,
    subpopulation_index,
    superclass_split,
    top_pseudo_label_shift,
)

TINY = ShiftSettings(seeds=1, n_train=300, n_val=200, n_test=100, epochs=1,
                     corruptions=("contrast", "rotation"), severities=(3,),
                     novel_shares=(0.5, 1.0), per_superclass=30)


def test_cnn_is_seeded_without_the_global_generator():
    a, b, c = cnn(10, 4, 0), cnn(10, 4, 0), cnn(10, 4, 1)
    for pa, pb, pc in zip(a.parameters(), b.parameters(), c.parameters(), strict=True):
        assert torch.equal(pa, pb)
        assert not torch.equal(pa, pc)
    torch.manual_seed(123)  # the global generator does not change a seeded model
    assert all(torch.equal(p, q) for p, q in zip(cnn(10, 4, 0).parameters(), a.parameters(),
                                                 strict=True))
    assert cnn(3, 4, 0)(torch.zeros(2, 1, 28, 28)).shape == (2, 3)


def test_source_split_is_disjoint_and_balanced():
    _, y, tr, va = _split(1000, 300, seed=0)
    assert len(np.intersect1d(tr, va)) == 0
    assert np.array_equal(np.bincount(y[tr]), np.full(10, 100))
    assert np.array_equal(np.bincount(y[va]), np.full(10, 30))


def test_subpopulation_targets_keep_superclass_proportions():
    rng = np.random.default_rng(0)
    sup, seen, novel = superclass_split(rng)
    for members, s, n in zip(SUPERCLASSES.values(), seen, novel, strict=True):
        assert len(s) == 2 and sorted([*s, *n]) == sorted(members)
        assert (sup[list(members)] == sup[members[0]]).all()
    _, yt = load_fashion_mnist("test", source="subset")
    for share in (0.0, 0.4, 1.0):
        idx = subpopulation_index(yt, seen, novel, share, 50, rng)
        assert len(np.unique(idx)) == len(idx) == 150
        assert np.array_equal(np.bincount(sup[yt[idx]]), [50, 50, 50])  # no label shift
        is_novel = np.isin(yt[idx], np.concatenate(novel))
        assert is_novel.sum() == 3 * round(share * 50)


def test_cot_agrees_with_pot_on_the_metric_problems():
    assert cot_pot_agreement(0) < 1e-10


@pytest.mark.slow
def test_tiny_testbed_builds_once_per_process():
    targets = run_testbed(TINY, 0)
    again = run_testbed(dataclasses.replace(TINY, seeds=3), 0)  # seeds do not change the key
    assert again is targets
    names = [t.name for t in targets]
    assert names == ["clean test", "contrast 3", "rotation 3", "novel subclasses 0.5",
                     "novel subclasses 1"]
    for t in targets:
        assert 0 <= t.accuracy <= 1 and 0 <= t.pseudo_label_shift <= 1
        assert set(t.estimates) == {"AC", "DoC", "ATC", "COT", "COTT"}
        assert all(-1e-9 <= v <= 1 + 1e-9 for v in t.estimates.values())
    assert [t.kind for t in shifted(targets)] == ["corruption"] * 2 + ["subpopulation"] * 2
    top = top_pseudo_label_shift(shifted(targets), 0.25)
    assert len(top) == 1
    assert top[0].pseudo_label_shift == max(t.pseudo_label_shift for t in shifted(targets))
    assert len(top_pseudo_label_shift(shifted(targets), 1e-9)) == 1
    assert len(top_pseudo_label_shift(shifted(targets), 1.0)) == 4
