"""Unit tests of the ``sparse-hetero-dropout`` experiment's pieces (its quick run is tested
with every experiment in tests/experiments/test_quick_checks.py)."""

import numpy as np
import pytest
import torch

from mintlab.continual import GPM, GPMPlugin, SparseGPM, SparseGPMPlugin, continual_swiss_roll
from mintlab.continual.models import KWinner
from mintlab.experiments import sparse_hetero_dropout as shd


@pytest.fixture(scope="module")
def roll():
    return continual_swiss_roll(3, n_train=60, n_test=40, seed=0)


def test_pattern_overlap_against_hand_computed_values():
    k = 2
    # task 0 always uses units 0, 1; task 1 units 1, 2; task 2 half 0/1, half 2/3
    f0 = np.array([1.0, 1.0, 0.0, 0.0])
    f1 = np.array([0.0, 1.0, 1.0, 0.0])
    f2 = np.array([0.5, 0.5, 0.5, 0.5])
    # pairs: (0,1) -> 1/2, (0,2) -> 1/2, (1,2) -> 1/2
    assert shd.pattern_overlap([[f0], [f1], [f2]], k) == pytest.approx(0.5)
    assert shd.pattern_overlap([[f0], [f0]], k) == pytest.approx(1.0)
    disjoint = np.array([0.0, 0.0, 1.0, 1.0])
    assert shd.pattern_overlap([[f0], [disjoint]], k) == pytest.approx(0.0)
    # two layers average
    assert shd.pattern_overlap([[f0, f0], [disjoint, f0]], k) == pytest.approx(0.5)
    assert np.isnan(shd.pattern_overlap([[f0]], k))


def test_validation_tasks_hold_out_part_of_training_data_only(roll):
    val = shd.validation_tasks(roll, seed=3)
    for t, v in zip(roll, val, strict=True):
        n_val = round(shd.VALIDATION * len(t.y_train))
        assert len(v.y_test) == n_val and len(v.y_train) == len(t.y_train) - n_val
        train_rows = {tuple(r) for r in t.X_train.tolist()}
        assert {tuple(r) for r in v.X_test.tolist()} <= train_rows
        assert not {tuple(r) for r in v.X_test.tolist()} & {tuple(r) for r in v.X_train.tolist()}
        assert v.task_id == t.task_id
    again = shd.validation_tasks(roll, seed=3)
    assert all(torch.equal(a.X_test, b.X_test) for a, b in zip(val, again, strict=True))


def test_arms_differ_only_in_activation_and_dropout(roll):
    gpm = shd.make_learner("GPM", roll, 1, 0.97, 0)
    kw = shd.make_learner("GPM+kWTA", roll, 1, 0.97, 0)
    hd = shd.make_learner("GPM+kWTA+HD", roll, 1, 0.97, 0)
    assert type(gpm) is GPM and isinstance(gpm.plugin(GPMPlugin), GPMPlugin)
    assert isinstance(kw, SparseGPM) and isinstance(hd.plugin(SparseGPMPlugin), SparseGPMPlugin)
    assert not any(isinstance(m, KWinner) for m in gpm.model.modules())
    assert [m.hetero_dropout for m in kw.model.k_winners()] == [0.0, 0.0]
    assert [m.hetero_dropout for m in hd.model.k_winners()] == [shd.RHO, shd.RHO]
    assert all(m.k == round(shd.DENSITY * w) for m, w in zip(hd.model.k_winners(), shd.HIDDEN,
                                                              strict=True))
    for a, b in ((gpm, kw), (kw, hd)):
        assert a.threshold == b.threshold and a.lr == b.lr and a.epochs == b.epochs
        # same initial weights: the arms start from the same network
        for p, q in zip(a.model.parameters(), b.model.parameters(), strict=True):
            assert torch.equal(p, q)


def test_winner_frequencies_sum_to_k_per_layer(roll):
    learner = shd.make_learner("GPM+kWTA+HD", roll, 1, 0.97, 0)
    freqs = shd.winner_frequencies(learner.model, roll[0])
    assert len(freqs) == 2
    for f, w in zip(freqs, shd.HIDDEN, strict=True):
        assert f.shape == (w,) and f.min() >= 0 and f.max() <= 1
        assert f.sum() == pytest.approx(round(shd.DENSITY * w))


def test_train_arm_reports_memory_and_accuracy_matrix(roll):
    out = shd.train_arm("GPM+kWTA", roll, list(roll), 1, 0.97, 0)
    T = len(roll)
    assert out["R"].shape == (T, T)
    assert out["accuracy"] == pytest.approx(out["R"][-1].mean())
    assert out["items"].shape == (sum(len(t.y_test) for t in roll),)
    assert out["items"].mean() == pytest.approx(out["accuracy"])  # equal test sizes
    assert out["bwt"] == pytest.approx(np.mean([out["R"][-1, j] - out["R"][j, j]
                                                for j in range(T - 1)]))
    # layer inputs: 2 + bias, then 100 + bias twice; memory never exceeds the fan-in
    assert out["fan_in"] == [3, 101, 101]
    assert all(0 < m <= f for m, f in zip(out["memory"], out["fan_in"], strict=True))
    assert 0 <= out["overlap"] <= 1


def test_single_threshold_needs_no_sweep(roll):
    assert shd.select_threshold((0.9,), roll, 1, 0) == (0.9, {})
    th, scores = shd.select_threshold((0.9, 0.99), roll, 1, 0)
    assert set(scores) == {0.9, 0.99} and th == max(scores, key=scores.get)


def test_dropout_accuracy_restores_state_and_matches_eval_without_dropout(roll):
    from mintlab.experiments._continual_common import item_correct

    # without heterogeneous dropout, train mode selects the same winners as eval mode
    kw = shd.make_learner("GPM+kWTA", roll, 1, 0.97, 0).train(roll[0])
    layers = kw.model.k_winners()
    counts = [m.activation_counts.clone() for m in layers]
    acc = shd.dropout_accuracy(kw.model, roll[0], layers, counts, 0)
    assert acc == pytest.approx(item_correct(kw.model, roll[0].X_test, roll[0].y_test).mean())
    # with it, the counts, the generator and the mode are restored
    hd = shd.make_learner("GPM+kWTA+HD", roll, 1, 0.97, 0).train(roll[0])
    layers = hd.model.k_winners()
    saved = [m.activation_counts.clone() for m in layers]
    assert all(s.sum() > 0 for s in saved)
    zeros = [torch.zeros_like(s) for s in saved]
    hd.model.eval()
    shd.dropout_accuracy(hd.model, roll[1], layers, zeros, 0)
    assert all(torch.equal(m.activation_counts, s) for m, s in zip(layers, saved, strict=True))
    assert all(m.generator is None for m in layers) and not hd.model.training
    out = shd.train_arm("GPM+kWTA+HD", roll, list(roll), 1, 0.97, 0)
    assert 0 <= out["learning_accuracy_with_dropout"] <= 1
    assert out["learning_accuracy_later_tasks"] == pytest.approx(np.diag(out["R"])[1:].mean())
