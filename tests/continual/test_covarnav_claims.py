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


def test_subset_score_prefers_forget_accuracy_of_unseen_images():
    import torch

    from mintlab.experiments.covarnav import _subset_score

    class Const(torch.nn.Module):  # always predicts class 0
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return torch.cat([torch.ones(len(x), 1), torch.zeros(len(x), 2)], 1) + 0 * self.w

    T = {"X_val": torch.zeros(4, 3), "y_val": torch.tensor([0, 0, 1, 2])}  # accuracy 0.5
    Xf = torch.zeros(4, 3)
    assert np.isclose(_subset_score(Const(), T, Xf, torch.tensor([0, 0, 1, 1])), 0.5)
    assert np.isclose(_subset_score(Const(), T, Xf, torch.tensor([0, 0, 0, 0])), 0.0)
    assert np.isclose(_subset_score(Const(), T, Xf, torch.tensor([1, 1, 1, 1])), 0.0)


def test_tiny_run_reports_both_settings():
    import dataclasses

    from mintlab.experiments import covarnav

    s = dataclasses.replace(covarnav.QUICK, seeds=1, n_train=200, n_val=100, n_test=200,
                            channels=(2,), hidden=8, train_epochs=1, forget_fraction=0.1,
                            unlearn_epochs=1, n_inverted_per_class=2, inversion_steps=2,
                            lrs=(0.01,))
    res = covarnav.run(s, seed=0)
    claims = {c.claim for c in res.checks.values()}
    assert claims == set(covarnav.CLAIMS)
    assert "subset_test_accuracy_kept" in res.checks
    for k in ("class_retrained_membership_auc", "subset_retrained_forget_set_accuracy",
              "class_CovarNav_retained_gap_to_retrained"):
        assert 0.0 <= res.metrics[k] <= 1.0 or k.endswith("gap_to_retrained")
