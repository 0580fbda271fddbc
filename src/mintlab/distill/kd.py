"""Knowledge-distillation losses: soft targets, hints, relations.

* :func:`kd_loss` — Hinton et al.'s soft-target loss ``T^2 KL(p_t^T || p_s^T)``;
  with one-hot targets and ``T = 1`` it is the cross-entropy;
* :class:`HintLoss` — FitNets: a learned linear regressor maps the
  student's features to the teacher's, mean squared error;
* :func:`relational_kd_loss` — RKD's distance term: Huber loss between the
  student's and the teacher's pairwise distances, each normalised by its mean.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from .._random import seeded_global_rng
from .._validation import (
    check_choice,
    check_int,
    check_nonnegative,
    check_positive,
    check_probability_vectors,
    check_temperature,
)
from . import _checks

__all__ = ["kd_loss", "HintLoss", "relational_kd_loss", "train_student_kd"]


def kd_loss(student_logits: torch.Tensor, teacher: torch.Tensor, temperature: float = 4.0,
            *, teacher_is_prob: bool = False) -> torch.Tensor:
    """Soft-target distillation loss, mean over the batch.

    ``teacher`` holds logits, or probabilities with ``teacher_is_prob=True``
    (then ``temperature`` only softens the student).
    """
    _checks.tensor(student_logits, "student_logits", ndim=(1, 2, 3))
    _checks.tensor(teacher, "teacher", ndim=(1, 2, 3))
    if student_logits.shape != teacher.shape:
        raise ValueError(f"student_logits and teacher must have the same shape, got "
                         f"{tuple(student_logits.shape)} and {tuple(teacher.shape)}")
    T = check_temperature(temperature)
    _checks.flag(teacher_is_prob, "teacher_is_prob")
    if teacher_is_prob:
        check_probability_vectors(teacher.detach(), "teacher")
    return _kd_loss(student_logits, teacher, T, teacher_is_prob)


def _kd_loss(student_logits: torch.Tensor, teacher: torch.Tensor, T: float,
             teacher_is_prob: bool = False) -> torch.Tensor:
    """:func:`kd_loss` without the argument checks (for training loops on checked data)."""
    p_t = teacher if teacher_is_prob else F.softmax(teacher / T, -1)
    log_p_s = F.log_softmax(student_logits / T, -1)
    # sum_k p_t (log p_t - log p_s): cross-entropy minus the (constant) teacher entropy
    ent = torch.where(p_t > 0, p_t * torch.log(p_t.clamp_min(1e-30)), torch.zeros_like(p_t))
    return T * T * (ent - p_t * log_p_s).sum(-1).mean()


class HintLoss(nn.Module):
    """FitNets' hint loss: ``|| W f_s + b - f_t ||^2`` (mean), the regressor ``W`` learned."""

    def __init__(self, student_dim: int, teacher_dim: int) -> None:
        super().__init__()
        student_dim = check_int(student_dim, "student_dim", minimum=1)
        teacher_dim = check_int(teacher_dim, "teacher_dim", minimum=1)
        self.regressor = nn.Linear(student_dim, teacher_dim)

    def forward(self, student_features: torch.Tensor,
                teacher_features: torch.Tensor) -> torch.Tensor:
        _checks.tensor(student_features, "student_features", ndim=2)
        _checks.tensor(teacher_features, "teacher_features", ndim=2)
        if student_features.shape[1] != self.regressor.in_features:
            raise ValueError(f"student_features must have shape (n, {self.regressor.in_features})"
                             f" (student_dim), got {tuple(student_features.shape)}")
        if teacher_features.shape != (student_features.shape[0], self.regressor.out_features):
            raise ValueError(f"teacher_features must have shape ({student_features.shape[0]}, "
                             f"{self.regressor.out_features}) to match student_features and "
                             f"teacher_dim, got {tuple(teacher_features.shape)}")
        w = self.regressor.weight
        if student_features.dtype != w.dtype:
            raise TypeError(f"student_features must have the regressor's dtype {w.dtype}, got "
                            f"{student_features.dtype} (convert with .to({w.dtype}) or the "
                            f"module with .to())")
        return self._hint(student_features, teacher_features)

    def _hint(self, student_features: torch.Tensor,
              teacher_features: torch.Tensor) -> torch.Tensor:
        """The loss without the argument checks (for training loops on checked data)."""
        return F.mse_loss(self.regressor(student_features), teacher_features.detach())


def relational_kd_loss(student_emb: torch.Tensor, teacher_emb: torch.Tensor) -> torch.Tensor:
    """RKD distance-wise loss between two ``(n, d)`` embeddings of the same ``n`` samples."""
    _checks.tensor(student_emb, "student_emb", ndim=2)
    _checks.tensor(teacher_emb, "teacher_emb", ndim=2)
    if student_emb.shape[0] < 2:
        raise ValueError(f"student_emb must have n >= 2 rows, got shape "
                         f"{tuple(student_emb.shape)}")
    if student_emb.shape[0] != teacher_emb.shape[0]:
        raise ValueError(f"teacher_emb must have {student_emb.shape[0]} rows to match "
                         f"student_emb, got shape {tuple(teacher_emb.shape)}")
    return _rkd(student_emb, teacher_emb)


def _rkd(student_emb: torch.Tensor, teacher_emb: torch.Tensor) -> torch.Tensor:
    """:func:`relational_kd_loss` without the argument checks."""

    def normalised(e: torch.Tensor) -> torch.Tensor:
        d = torch.cdist(e, e)
        off = ~torch.eye(len(e), dtype=torch.bool, device=e.device)
        return d[off] / d[off].mean().clamp_min(1e-12)

    with torch.no_grad():
        t = normalised(teacher_emb)
    return F.smooth_l1_loss(normalised(student_emb), t)


def train_student_kd(data: Mapping[str, Any], X: torch.Tensor, y: torch.Tensor,
                     teacher: nn.Module, *,
                     mode: str = "kd", temperature: float = 4.0, epochs: int = 150,
                     lr: float = 3e-3, batch_size: int = 64, width: int = 32,
                     weight: float = 1.0, seed: int = 0) -> float:
    """Train a fresh ConvNet student on ``(X, y)`` (augmented each epoch); its test accuracy.

    ``mode``: ``"ce"`` (hard labels), ``"kd"`` (soft targets of the teacher on
    each augmented batch), ``"kd+hint"`` (plus FitNets' hint on the
    features), ``"kd+rkd"`` (plus RKD's distance loss on the features).
    """
    from .models import ConvNet, _augment

    check_choice(mode, "mode", ("ce", "kd", "kd+hint", "kd+rkd"))
    _checks.data_dict(data)
    _checks.images(X, "X")
    _checks.labels(y, "y", n=X.shape[0], n_classes=int(data["n_classes"]))
    if tuple(X.shape[1:]) != tuple(data["X_train"].shape[1:]):
        raise ValueError(f"X must hold images of the data's size {tuple(data['X_train'].shape[1:])}"
                         f", got shape {tuple(X.shape)}")
    _checks.module(teacher, "teacher")
    if mode == "kd+hint" and not isinstance(getattr(teacher, "feature_dim", None), int):
        raise TypeError("teacher must expose feature_dim, features() and classifier (a ConvNet) "
                        "for mode='kd+hint'")
    if mode != "ce" and not (callable(getattr(teacher, "features", None))
                             and callable(getattr(teacher, "classifier", None))):
        raise TypeError(f"teacher must have features() and classifier (a ConvNet) for "
                        f"mode={mode!r}, got {type(teacher).__name__}")
    temperature = check_temperature(temperature)
    epochs = check_int(epochs, "epochs", minimum=1)
    lr = check_positive(lr, "lr")
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    width = check_int(width, "width", minimum=1)
    weight = check_nonnegative(weight, "weight")
    seed = _checks.seed(seed)
    with seeded_global_rng(seed):
        student = ConvNet(data["n_classes"], data["image_size"], width=width)
        tnet = cast(Any, teacher)  # a ConvNet: features(), classifier, feature_dim
        hint = HintLoss(student.feature_dim, tnet.feature_dim) if mode == "kd+hint" else None
    params = list(student.parameters()) + (list(hint.parameters()) if hint else [])
    opt = torch.optim.Adam(params, lr=lr)
    g = torch.Generator().manual_seed(seed)
    teacher.eval()
    student.train()
    for e in range(epochs):
        Xe = _augment(X, seed * 7919 + e)
        perm = torch.randperm(len(X), generator=g)
        for i in range(0, len(X), batch_size):
            b = perm[i: i + batch_size]
            fs = student.features(Xe[b])
            logits = student.classifier(fs)
            if mode == "ce":
                loss = F.cross_entropy(logits, y[b])
            else:
                with torch.no_grad():
                    ft = tnet.features(Xe[b])
                    lt = tnet.classifier(ft)
                loss = _kd_loss(logits, lt, temperature)
                if hint is not None:
                    loss = loss + weight * hint._hint(fs, ft)
                elif mode == "kd+rkd" and len(b) > 1:
                    loss = loss + weight * _rkd(fs, ft)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    student.eval()
    with torch.no_grad():
        return float((student(data["X_test"]).argmax(1) == data["y_test"]).float().mean())
