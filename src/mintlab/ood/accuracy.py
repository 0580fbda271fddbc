"""Predicting a classifier's accuracy on unlabelled data: COT, COTT and the confidence baselines.

Every estimator takes class probabilities from any model: ``fit`` on
labelled source (validation) data, then ``predict_accuracy`` on the
probabilities of an unlabelled target set.

* :class:`COT` (``cot``, ``cott``): the error is the optimal transport cost
  between the target's probability vectors and the source label
  distribution, with cost ``1/2 ||p - e_k||_1 = 1 - p_k`` between a
  probability vector ``p`` and the one-hot vector of class ``k``:
  ``err = min_gamma sum_ik gamma_ik (1 - p_ik)`` over couplings of the
  uniform measure on the target samples and the label proportions ``pi``.
* :class:`COTT` (``cott``): the same coupling, thresholded: a target
  sample counts as an error when its transport cost exceeds a threshold
  fitted on the source so that, there, the share of samples above it is the
  source error.
* Baselines: :class:`AverageConfidence` (AC), :class:`DifferenceOfConfidences`
  (DoC), :class:`AverageThresholdedConfidence` (ATC).

By default every estimator first calibrates the probabilities by
temperature scaling fitted on the source (``p -> softmax(log p / T)``), as
the papers do.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import torch

from .._validation import check_choice, check_positive, describe
from ..transport.exact import emd
from ..typing import ArrayLike

__all__ = ["AverageConfidence", "DifferenceOfConfidences", "AverageThresholdedConfidence",
           "COT", "COTT", "fit_temperature", "apply_temperature", "confidence_transport"]


# ---------------------------------------------------------------------- inputs
def _numeric(x: Any, name: str, what: str) -> np.ndarray:
    """``x`` as a numpy array of real numbers, or a ``TypeError``.

    Tensors are copied to the CPU; anything else that ``np.asarray`` turns into a
    numeric array is accepted (numpy arrays, lists, tuples, pandas objects, ...).
    """
    if isinstance(x, torch.Tensor):
        if x.dtype == torch.bool or x.is_complex():
            raise TypeError(f"{name} must hold {what}, got {describe(x)}")
        return x.detach().cpu().numpy()
    if isinstance(x, str | bytes) or x is None:
        raise TypeError(f"{name} must be an array of {what}, got {type(x).__name__}")
    try:
        a = np.asarray(x)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of {what}, got a {type(x).__name__} that "
                        "numpy cannot read as a rectangular array") from None
    if a.dtype == object or a.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold {what}, got dtype {a.dtype}")
    return a


def _torch_like(value: np.ndarray, *inputs: Any) -> Any:
    """``value`` as a tensor with the device (and floating dtype) of the first torch input."""
    for x in inputs:
        if isinstance(x, torch.Tensor):
            dtype = x.dtype if x.is_floating_point() else torch.get_default_dtype()
            return torch.as_tensor(value).to(device=x.device, dtype=dtype)
    return value


def _probs(P, name, n_classes=None):
    P = _numeric(P, name, "class probabilities").astype(np.float64)
    if P.ndim != 2 or P.shape[0] == 0 or P.shape[1] < 2:
        raise ValueError(f"{name} must have shape (n, n_classes) with n >= 1 and n_classes "
                         f">= 2, got {P.shape}")
    if n_classes is not None and P.shape[1] != n_classes:
        raise ValueError(f"{name} must have {n_classes} columns (the classes seen in fit), got "
                         f"{P.shape[1]}")
    if not np.isfinite(P).all():
        raise ValueError(f"{name} must be finite")
    if (P < 0).any() or np.abs(P.sum(1) - 1.0).max() > 1e-6:
        raise ValueError(f"{name} must hold probabilities: non-negative rows summing to 1 "
                         f"(largest deviation {np.abs(P.sum(1) - 1.0).max():.3g}); pass softmax "
                         "outputs, not logits")
    return P


def _labels(y, n, n_classes, name="source_labels", probs_name="source_probs"):
    y = _numeric(y, name, "integer class indices")
    if y.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) to match {probs_name}, got "
                         f"{y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"{name} must hold integer class indices, got dtype {y.dtype}")
    if y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"{name} must lie in [0, {n_classes - 1}], got values in "
                         f"[{y.min()}, {y.max()}]")
    return y.astype(np.int64)


# ---------------------------------------------------------------- calibration
def apply_temperature(P: ArrayLike, temperature: float) -> Any:
    """``softmax(log P / T)``: temperature scaling of probabilities (argmax unchanged).

    Returns an array of the input's kind (numpy in, numpy out; torch in, torch out).
    """
    Q = _apply_temperature(_probs(P, "P"), check_positive(temperature, "temperature"))
    return _torch_like(Q, P)


def _apply_temperature(P: np.ndarray, temperature: float) -> np.ndarray:
    if temperature == 1.0:
        return P.copy()
    logp = np.log(np.clip(P, 1e-300, None)) / temperature
    logp -= logp.max(1, keepdims=True)
    Q = np.exp(logp)
    return Q / Q.sum(1, keepdims=True)


def fit_temperature(P: ArrayLike, y: ArrayLike) -> float:
    """The temperature ``T`` minimising the negative log-likelihood of ``y`` under ``P``.

    Examples
    --------
    >>> import numpy as np
    >>> P = np.array([[0.99, 0.01], [0.99, 0.01], [0.01, 0.99], [0.99, 0.01]])
    >>> fit_temperature(P, np.array([0, 1, 1, 0])) > 1   # over-confident: soften
    True
    """
    from scipy.optimize import minimize_scalar

    Pn = _probs(P, "P")
    yn = _labels(y, len(Pn), Pn.shape[1], "y", "P")

    def nll(log_t):
        Q = _apply_temperature(Pn, float(np.exp(log_t)))
        return -np.mean(np.log(np.clip(Q[np.arange(len(yn)), yn], 1e-300, None)))

    res = minimize_scalar(nll, bounds=(np.log(1e-2), np.log(1e2)), method="bounded",
                          options={"xatol": 1e-6})
    return float(np.exp(res.x))


def confidence_transport(P: ArrayLike, label_proportions: ArrayLike
                         ) -> tuple[float, Any, Any]:
    """The optimal coupling of COT: ``(cost, plan, per_sample_cost)``.

    ``plan`` (n, K) couples the uniform measure on the rows of ``P`` with
    ``label_proportions``; ``per_sample_cost[i]`` is the transport cost of
    sample ``i`` (in units of ``||p - e_k||_1 / 2``) averaged over its mass.
    Exact (POT's network simplex). ``plan`` and ``per_sample_cost`` are of
    the input's kind (numpy or torch).
    """
    Pn = _probs(P, "P")
    cost, plan, per_sample = _confidence_transport(
        Pn, _proportions(label_proportions, Pn.shape[1]))
    return cost, _torch_like(plan, P, label_proportions), _torch_like(per_sample, P,
                                                                       label_proportions)


def _proportions(label_proportions: Any, K: int | None) -> np.ndarray:
    b = _numeric(label_proportions, "label_proportions", "non-negative numbers")
    b = b.astype(np.float64)
    if (K is not None and b.shape != (K,)) or b.ndim != 1 or not np.isfinite(b).all() \
            or (b < 0).any() or b.sum() <= 0:
        raise ValueError(f"label_proportions must be {K if K is not None else 'K'} finite "
                         f"non-negative numbers with a positive sum, got {b!r}")
    return b


def _confidence_transport(P: np.ndarray, b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    n, K = P.shape
    if b.shape != (K,):
        raise ValueError(f"label_proportions must be {K} non-negative numbers with a positive "
                         f"sum, got {b!r}")
    M = 1.0 - P  # = ||p - e_k||_1 / 2 for a probability vector p
    a = np.full(n, 1.0 / n)
    plan = emd(a, b / b.sum(), M, numItermax=max(100_000, 50 * n * K))
    per_sample = n * (plan * M).sum(1)
    return float((plan * M).sum()), plan, per_sample


# ------------------------------------------------------------------ estimators
class _Estimator:
    """Shared fit: probabilities (calibrated), source accuracy and label proportions."""

    def __init__(self, calibrate: bool = True) -> None:
        if not isinstance(calibrate, bool | np.bool_):
            raise TypeError(f"calibrate must be True or False, got {type(calibrate).__name__} "
                            f"{calibrate!r}")
        self.calibrate = bool(calibrate)

    def fit(self, source_probs: ArrayLike, source_labels: ArrayLike) -> Self:
        """Learn what the method needs from labelled source (held-out) data; returns self."""
        P = _probs(source_probs, "source_probs")
        y = _labels(source_labels, len(P), P.shape[1])
        self.n_classes_ = P.shape[1]
        self.temperature_ = fit_temperature(P, y) if self.calibrate else 1.0
        P = _apply_temperature(P, self.temperature_)
        self.source_accuracy_ = float((P.argmax(1) == y).mean())
        self.source_confidence_ = float(P.max(1).mean())
        self.label_proportions_ = np.bincount(y, minlength=self.n_classes_) / len(y)
        self._fit(P, y)
        return self

    def _fit(self, P, y):
        pass

    def _target(self, target_probs):
        if not hasattr(self, "n_classes_"):
            raise RuntimeError(f"this {type(self).__name__} is not fitted yet: call "
                               "fit(source_probs, source_labels) first")
        P = _probs(target_probs, "target_probs", self.n_classes_)
        return _apply_temperature(P, self.temperature_)

    def _proportions(self, label_proportions):
        if label_proportions is None:
            return self.label_proportions_
        pi = _proportions(label_proportions, self.n_classes_)
        return pi / pi.sum()

    def predict_accuracy(self, target_probs: ArrayLike) -> float:  # pragma: no cover
        """Estimated accuracy of the model on the target samples."""
        raise NotImplementedError

    def predict_error(self, target_probs: ArrayLike) -> float:
        """``1 - predict_accuracy(target_probs)``."""
        return 1.0 - self.predict_accuracy(target_probs)


class AverageConfidence(_Estimator):
    """AC: the accuracy is the mean top-class probability on the target.

    Examples
    --------
    >>> import numpy as np
    >>> P = np.array([[0.9, 0.1], [0.3, 0.7]])
    >>> AverageConfidence(calibrate=False).fit(P, [0, 1]).predict_accuracy(P)
    0.8
    """

    def predict_accuracy(self, target_probs: ArrayLike) -> float:
        return float(self._target(target_probs).max(1).mean())


class DifferenceOfConfidences(_Estimator):
    """DoC: source accuracy shifted by the change of mean confidence from source to target."""

    def predict_accuracy(self, target_probs: ArrayLike) -> float:
        P = self._target(target_probs)
        return self.source_accuracy_ + float(P.max(1).mean()) - self.source_confidence_


def _score(P, score):
    if score == "max_confidence":
        return P.max(1)
    return (P * np.log(np.clip(P, 1e-300, None))).sum(1)  # negative entropy


class AverageThresholdedConfidence(_Estimator):
    """ATC: the share of target samples whose confidence score exceeds a source-fitted threshold.

    The threshold ``t`` makes the share of source samples scoring below it
    equal to the source error. ``score``: ``"negative_entropy"`` (the ATC
    paper's better variant) or ``"max_confidence"``.
    """

    def __init__(self, calibrate: bool = True, score: str = "negative_entropy") -> None:
        super().__init__(calibrate)
        self.score = check_choice(score, "score", ("negative_entropy", "max_confidence"))

    def _fit(self, P, y):
        s = np.sort(_score(P, self.score))
        n_err = int(round((1.0 - self.source_accuracy_) * len(s)))
        # t sits between the n_err lowest scores and the rest
        self.threshold_ = -np.inf if n_err == 0 else float(s[n_err - 1])

    def predict_accuracy(self, target_probs: ArrayLike) -> float:
        return float((_score(self._target(target_probs), self.score) > self.threshold_).mean())


class COT(_Estimator):
    r"""Confidence optimal transport (``cot``): error = OT cost to the source label distribution.

    .. math:: \widehat{err} = \min_{\gamma \in \Pi(\frac1n \mathbf 1, \pi)}
              \sum_{i,k} \gamma_{ik} \tfrac12 \lVert p_i - e_k \rVert_1

    with :math:`\pi` the source label proportions. When the target's
    predicted label histogram matches :math:`\pi`, this is ``1 - AC``; when
    the predicted labels shift away from :math:`\pi` (pseudo-label shift),
    mass must travel to other classes and the estimated error grows. The
    transport problem (n x K) is solved exactly.

    Examples
    --------
    >>> import numpy as np
    >>> P = np.eye(2)[[0, 0, 0, 1]]          # confident, 3/4 predicted class 0
    >>> cot = COT(calibrate=False).fit(np.eye(2)[[0, 1]], [0, 1])   # source: half and half
    >>> cot.predict_error(P)                 # a quarter of the mass must change class
    0.25
    """

    def predict_accuracy(self, target_probs: ArrayLike,
                         label_proportions: ArrayLike | None = None) -> float:
        """Estimated accuracy; ``label_proportions`` replaces the source's when the target's
        label distribution is known to differ (true label shift)."""
        cost, _, _ = _confidence_transport(self._target(target_probs),
                                           self._proportions(label_proportions))
        return 1.0 - cost


class COTT(_Estimator):
    """Confidence optimal transport with thresholding (``cott``).

    The COT coupling gives each target sample a transport cost; the
    estimated error is the share of target samples whose cost exceeds a
    threshold ``t``. ``t`` is fitted on the source: with the same coupling
    (source probabilities to source label proportions), the share of source
    samples above ``t`` equals the source error.
    """

    def _fit(self, P, y):
        _, _, c = _confidence_transport(P, self.label_proportions_)
        c = np.sort(c)[::-1]
        n_err = int(round((1.0 - self.source_accuracy_) * len(c)))
        self.threshold_ = np.inf if n_err == 0 else float(c[n_err - 1])

    def predict_accuracy(self, target_probs: ArrayLike,
                         label_proportions: ArrayLike | None = None) -> float:
        """Estimated accuracy; ``label_proportions`` as for :meth:`COT.predict_accuracy`."""
        _, _, c = _confidence_transport(self._target(target_probs),
                                        self._proportions(label_proportions))
        return 1.0 - float((c >= self.threshold_).mean())
