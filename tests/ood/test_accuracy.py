"""Accuracy prediction under shift: COT against an LP and closed forms, exactness on the source."""

import numpy as np
import pytest
import torch
from scipy.optimize import linprog

from mintlab.ood import (
    COT,
    COTT,
    AverageConfidence,
    AverageThresholdedConfidence,
    DifferenceOfConfidences,
    apply_temperature,
    confidence_transport,
    fit_temperature,
)


def _probs(rng, n, k, sharp=3.0):
    logits = rng.normal(scale=sharp, size=(n, k))
    P = np.exp(logits - logits.max(1, keepdims=True))
    return P / P.sum(1, keepdims=True)


def _lp_cost(P, pi):
    """min sum gamma_ik * ||p_i - e_k||_1 / 2 over couplings, by scipy's LP solver."""
    n, k = P.shape
    M = 0.5 * np.abs(P[:, :, None] - np.eye(k)[None]).sum(1)  # (n, k): ||p_i - e_k||_1 / 2
    A_rows = np.kron(np.eye(n), np.ones((1, k)))
    A_cols = np.kron(np.ones((1, n)), np.eye(k))
    res = linprog(M.ravel(), A_eq=np.vstack([A_rows, A_cols]),
                  b_eq=np.r_[np.full(n, 1 / n), pi], bounds=(0, None), method="highs")
    return res.fun


def test_cot_equals_the_transport_lp_on_small_cases():
    rng = np.random.default_rng(0)
    for _ in range(20):
        n, k = rng.integers(3, 12), rng.integers(2, 5)
        P = _probs(rng, n, k)
        pi = rng.dirichlet(np.ones(k))
        cost, plan, per_sample = confidence_transport(P, pi)
        assert cost == pytest.approx(_lp_cost(P, pi), abs=1e-10)
        np.testing.assert_allclose(plan.sum(1), 1 / n, atol=1e-12)
        np.testing.assert_allclose(plan.sum(0), pi, atol=1e-12)
        assert np.mean(per_sample) == pytest.approx(cost)


def test_cot_closed_forms():
    # confident predictions: the error is the total variation between predicted and source labels
    rng = np.random.default_rng(1)
    y_pred = rng.integers(0, 4, size=50)
    P = np.eye(4)[y_pred]
    y_src = np.repeat(np.arange(4), [40, 30, 20, 10])  # source proportions 0.4, 0.3, 0.2, 0.1
    pi = np.bincount(y_src) / 100
    hist = np.bincount(y_pred, minlength=4) / 50
    cot = COT(calibrate=False).fit(np.eye(4)[y_src] * 0.7 + 0.075, y_src)
    assert cot.predict_error(P) == pytest.approx(0.5 * np.abs(hist - pi).sum())
    # predicted labels distributed exactly as pi: COT = 1 - average confidence
    P = _probs(rng, 40, 4)
    pi = np.bincount(P.argmax(1), minlength=4) / 40
    cost, _, _ = confidence_transport(P, pi)
    assert cost == pytest.approx(1 - P.max(1).mean())


def test_source_equals_target_gives_the_source_accuracy():
    rng = np.random.default_rng(2)
    P = _probs(rng, 300, 5, sharp=1.5)
    y = np.where(rng.random(300) < 0.8, P.argmax(1), rng.integers(0, 5, 300))
    for est in (DifferenceOfConfidences(), AverageThresholdedConfidence(),
                AverageThresholdedConfidence(score="max_confidence"), COTT()):
        est.fit(P, y)
        assert est.predict_accuracy(P) == pytest.approx(est.source_accuracy_, abs=1e-12), est
    assert COTT().fit(P, y).source_accuracy_ == pytest.approx(np.mean(P.argmax(1) == y))


def test_temperature_scaling():
    rng = np.random.default_rng(3)
    P = _probs(rng, 500, 3, sharp=6.0)  # over-confident
    y = np.where(rng.random(500) < 0.7, P.argmax(1), rng.integers(0, 3, 500))
    T = fit_temperature(P, y)
    assert T > 1
    Q = apply_temperature(P, T)
    assert np.array_equal(Q.argmax(1), P.argmax(1))
    nll = lambda R: -np.mean(np.log(R[np.arange(500), y]))  # noqa: E731
    assert nll(Q) < nll(P)
    assert nll(Q) <= nll(apply_temperature(P, T * 1.1)) + 1e-9
    assert nll(Q) <= nll(apply_temperature(P, T / 1.1)) + 1e-9
    np.testing.assert_allclose(apply_temperature(P, 1.0), P, atol=1e-12)


def test_torch_inputs_and_known_label_proportions():
    rng = np.random.default_rng(4)
    P = _probs(rng, 100, 3)
    y = P.argmax(1)
    cot = COT().fit(torch.tensor(P), torch.tensor(y))
    a = cot.predict_accuracy(torch.tensor(P))
    assert a == pytest.approx(cot.predict_accuracy(P))
    shifted = P[y == 0]
    assert cot.predict_accuracy(shifted, label_proportions=[1, 0, 0]) > \
        cot.predict_accuracy(shifted) + 0.3


def test_ac_is_mean_confidence():
    P = np.array([[0.9, 0.1], [0.4, 0.6], [0.5, 0.5]])
    assert AverageConfidence(calibrate=False).fit(P, [0, 1, 0]).predict_accuracy(P) == \
        pytest.approx(2.0 / 3)


def test_bad_inputs():
    P = np.array([[0.9, 0.1], [0.2, 0.8]])
    with pytest.raises(ValueError, match="probabilities"):
        COT().fit(np.array([[2.0, -1.0], [0.5, 0.5]]), [0, 1])
    with pytest.raises(ValueError, match="softmax outputs, not logits"):
        COT().fit(np.array([[3.0, 1.0], [0.5, 0.5]]), [0, 1])
    with pytest.raises(ValueError, match="shape"):
        COT().fit(np.array([0.5, 0.5]), [0])
    with pytest.raises(ValueError, match="finite"):
        COT().fit(np.array([[np.nan, 1.0], [0.5, 0.5]]), [0, 1])
    with pytest.raises(ValueError, match="source_labels must have shape"):
        COT().fit(P, [0])
    with pytest.raises(TypeError, match="integer"):
        COT().fit(P, [0.0, 1.0])
    with pytest.raises(ValueError, match=r"lie in \[0, 1\]"):
        COT().fit(P, [0, 2])
    with pytest.raises(RuntimeError, match="not fitted"):
        COTT().predict_accuracy(P)
    with pytest.raises(ValueError, match="3 columns"):
        COT().fit(np.full((2, 3), 1 / 3), [0, 1]).predict_accuracy(P)
    with pytest.raises(ValueError, match="label_proportions"):
        COT().fit(P, [0, 1]).predict_accuracy(P, label_proportions=[1, 2, 3])
    with pytest.raises(TypeError, match="class probabilities"):
        COT().fit("probs", [0, 1])
    with pytest.raises(ValueError, match="score"):
        AverageThresholdedConfidence(score="energy")
    with pytest.raises(ValueError, match="label_proportions"):
        confidence_transport(P, [1.0])
    with pytest.raises(ValueError, match="probabilities"):
        confidence_transport(-P, [0.5, 0.5])
    with pytest.raises(ValueError, match="temperature"):
        apply_temperature(P, 0.0)


def test_cot_agrees_with_pot():
    """COT's transport cost against POT's exact solver on random problems (external check)."""
    import ot

    rng = np.random.default_rng(7)
    for n, k in ((30, 3), (400, 10)):
        P = rng.dirichlet(np.full(k, 0.4), size=n)
        pi = rng.dirichlet(np.ones(k))
        ref = ot.emd2(np.full(n, 1.0 / n), pi, 1.0 - P)
        assert confidence_transport(P, pi)[0] == pytest.approx(float(ref), abs=1e-10)
