"""Bad input to the accuracy predictors is rejected with a message naming the argument, and
torch input gives torch output."""

import numpy as np
import pytest
import torch

from mintlab.ood import (
    COT,
    COTT,
    AverageThresholdedConfidence,
    apply_temperature,
    confidence_transport,
    fit_temperature,
)

P = np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.2, 0.8]])
Y = np.array([0, 1, 1, 1])


def test_torch_in_torch_out():
    Pt = torch.tensor(P, dtype=torch.float32)
    Q = apply_temperature(Pt, 2.0)
    assert isinstance(Q, torch.Tensor) and Q.dtype == torch.float32
    np.testing.assert_allclose(Q.numpy(), apply_temperature(P, 2.0), rtol=1e-6)
    cost, plan, per_sample = confidence_transport(Pt, torch.tensor([0.5, 0.5]))
    assert isinstance(cost, float)
    assert isinstance(plan, torch.Tensor) and isinstance(per_sample, torch.Tensor)
    ref = confidence_transport(P, [0.5, 0.5])
    assert cost == pytest.approx(ref[0])
    assert isinstance(ref[1], np.ndarray)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: apply_temperature(P, 0.0), ValueError, "temperature must be positive"),
    (lambda: apply_temperature(P, "2"), TypeError, "temperature must be a real number"),
    (lambda: apply_temperature("P", 2.0), TypeError, "P must be an array"),
    (lambda: apply_temperature(P * 2, 2.0), ValueError, "P must hold probabilities"),
    (lambda: fit_temperature(P, Y[:-1]), ValueError, r"y must have shape \(4,\) to match P"),
    (lambda: fit_temperature(P, Y + 0.5), TypeError, "y must hold integer class indices"),
    (lambda: confidence_transport(P, "uniform"), TypeError, "label_proportions must be"),
    (lambda: confidence_transport(P, [1.0, np.nan]), ValueError, "label_proportions must be 2"),
    (lambda: confidence_transport(P, [0.2, 0.3, 0.5]), ValueError,
     "label_proportions must be 2"),
    (lambda: COT(calibrate="yes"), TypeError, "calibrate must be True or False"),
    (lambda: AverageThresholdedConfidence(score="entropy"), ValueError, "score must be one of"),
    (lambda: COT().fit(P, Y).predict_accuracy(P[:, :1]), ValueError, "target_probs must have"),
    (lambda: COTT(calibrate=False).fit(P, Y).predict_accuracy(P, label_proportions=[1, -1]),
     ValueError, "label_proportions"),
    (lambda: COT().fit(P, [0, 1, 2, 1]), ValueError, r"source_labels must lie in \[0, 1\]"),
    (lambda: COT().predict_accuracy(P), RuntimeError, "not fitted yet"),
])
def test_bad_input_is_rejected(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_anything_numpy_can_read_is_accepted():
    pd = pytest.importorskip("pandas")
    ref = COT().fit(P, Y)
    est = COT().fit(pd.DataFrame(P), pd.Series(Y))
    assert est.predict_accuracy(pd.DataFrame(P)) == ref.predict_accuracy(P)
    assert est.predict_accuracy(P, label_proportions=pd.Series([0.5, 0.5])) == \
        ref.predict_accuracy(P, label_proportions=[0.5, 0.5])
    assert fit_temperature(P, pd.Series(Y)) == fit_temperature(P, Y)
    cost, plan, _ = confidence_transport(P, pd.Series([0.5, 0.5]))
    assert isinstance(plan, np.ndarray) and cost == confidence_transport(P, [0.5, 0.5])[0]
    with pytest.raises(TypeError, match="source_labels must hold integer class indices"):
        COT().fit(P, pd.Series(["a", "b", "a", "b"]))
    with pytest.raises(TypeError, match="source_labels must be an array"):
        COT().fit(P, None)


def test_numpy_in_float64_numpy_out():
    for Pin in (P.astype(np.float32), P.tolist()):
        Q = apply_temperature(Pin, 2.0)
        assert isinstance(Q, np.ndarray) and Q.dtype == np.float64
        _, plan, per_sample = confidence_transport(Pin, [0.5, 0.5])
        assert plan.dtype == np.float64 and per_sample.dtype == np.float64
