"""The unlearning score that ``covarnav`` compares CovarNav and its baselines on."""

import numpy as np

from mintlab.experiments.covarnav import _unlearning_score


def test_unlearning_score_averages_forget_error_and_retained_accuracy():
    rng = np.random.default_rng(0)
    forget = np.zeros(200, bool)
    forget[:23] = True
    correct = (rng.random(200) < 0.7).astype(float)
    score = _unlearning_score(correct, forget)
    expected = 0.5 * (1 - correct[forget].mean()) + 0.5 * correct[~forget].mean()
    assert score.shape == (200,)
    assert np.isclose(score.mean(), expected)


def test_unlearning_score_extremes():
    forget = np.array([True, True, False, False, False])
    exact = np.array([0.0, 0.0, 1.0, 1.0, 1.0])  # forgets the class, keeps the rest
    untouched = np.ones(5)  # still classifies the forgotten class
    assert np.isclose(_unlearning_score(exact, forget).mean(), 1.0)
    assert np.isclose(_unlearning_score(untouched, forget).mean(), 0.5)
    assert np.isclose(_unlearning_score(1 - exact, forget).mean(), 0.0)
