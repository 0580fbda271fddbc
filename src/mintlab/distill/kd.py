"""Knowledge-distillation losses: soft targets, hints, relations.

* :func:`kd_loss` — Hinton et al.'s soft-target loss ``T^2 KL(p_t^T || p_s^T)``;
  with one-hot targets and ``T = 1`` it is the cross-entropy;
* :class:`HintLoss` — FitNets: a learned linear regressor maps the
  student's features to the teacher's, mean squared error;
* :func:`relational_kd_loss` — RKD's distance term: Huber loss between the
  student's and the teacher's pairwise distances, each normalised by its mean.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .._random import seeded_global_rng

__all__ = ["kd_loss", "HintLoss", "relational_kd_loss", "train_student_kd"]


def kd_loss(student_logits: torch.Tensor, teacher: torch.Tensor, temperature: float = 4.0,
            *, teacher_is_prob: bool = False) -> torch.Tensor:
    """Soft-target distillation loss, mean over the batch.

    ``teacher`` holds logits, or probabilities with ``teacher_is_prob=True``
    (then ``temperature`` only softens the student).
    """
    if student_logits.shape != teacher.shape:
        raise ValueError(f"student and teacher must have the same shape, got "
                         f"{tuple(student_logits.shape)} and {tuple(teacher.shape)}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    T = float(temperature)
    p_t = teacher if teacher_is_prob else F.softmax(teacher / T, -1)
    log_p_s = F.log_softmax(student_logits / T, -1)
    # sum_k p_t (log p_t - log p_s): cross-entropy minus the (constant) teacher entropy
    ent = torch.where(p_t > 0, p_t * torch.log(p_t.clamp_min(1e-30)), torch.zeros_like(p_t))
    return T * T * (ent - p_t * log_p_s).sum(-1).mean()


class HintLoss(nn.Module):
    """FitNets' hint loss: ``|| W f_s + b - f_t ||^2`` (mean), the regressor ``W`` learned."""

    def __init__(self, student_dim: int, teacher_dim: int):
        super().__init__()
        self.regressor = nn.Linear(student_dim, teacher_dim)

    def forward(self, student_features: torch.Tensor,
                teacher_features: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(self.regressor(student_features), teacher_features.detach())


def relational_kd_loss(student_emb: torch.Tensor, teacher_emb: torch.Tensor) -> torch.Tensor:
    """RKD distance-wise loss between two ``(n, d)`` embeddings of the same ``n`` samples."""
    if student_emb.shape[0] != teacher_emb.shape[0] or student_emb.shape[0] < 2:
        raise ValueError("student and teacher embeddings need the same n >= 2 rows")

    def normalised(e):
        d = torch.cdist(e, e)
        off = ~torch.eye(len(e), dtype=torch.bool, device=e.device)
        return d[off] / d[off].mean().clamp_min(1e-12)

    with torch.no_grad():
        t = normalised(teacher_emb)
    return F.smooth_l1_loss(normalised(student_emb), t)


def train_student_kd(data: dict, X: torch.Tensor, y: torch.Tensor, teacher: nn.Module, *,
                     mode: str = "kd", temperature: float = 4.0, epochs: int = 150,
                     lr: float = 3e-3, batch_size: int = 64, width: int = 32,
                     weight: float = 1.0, seed: int = 0) -> float:
    """Train a fresh ConvNet student on ``(X, y)`` (augmented each epoch); its test accuracy.

    ``mode``: ``"ce"`` (hard labels), ``"kd"`` (soft targets of the teacher on
    each augmented batch), ``"kd+hint"`` (plus FitNets' hint on the
    features), ``"kd+rkd"`` (plus RKD's distance loss on the features).
    """
    from .models import ConvNet, augment

    if mode not in ("ce", "kd", "kd+hint", "kd+rkd"):
        raise ValueError(f"mode must be 'ce', 'kd', 'kd+hint' or 'kd+rkd', got {mode!r}")
    with seeded_global_rng(seed):
        student = ConvNet(data["n_classes"], data["image_size"], width=width)
        hint = HintLoss(student.feature_dim, teacher.feature_dim) if mode == "kd+hint" else None
    params = list(student.parameters()) + (list(hint.parameters()) if hint else [])
    opt = torch.optim.Adam(params, lr=lr)
    g = torch.Generator().manual_seed(seed)
    teacher.eval()
    student.train()
    for e in range(epochs):
        Xe = augment(X, seed * 7919 + e)
        perm = torch.randperm(len(X), generator=g)
        for i in range(0, len(X), batch_size):
            b = perm[i: i + batch_size]
            fs = student.features(Xe[b])
            logits = student.classifier(fs)
            if mode == "ce":
                loss = F.cross_entropy(logits, y[b])
            else:
                with torch.no_grad():
                    ft = teacher.features(Xe[b])
                    lt = teacher.classifier(ft)
                loss = kd_loss(logits, lt, temperature)
                if hint is not None:
                    loss = loss + weight * hint(fs, ft)
                elif mode == "kd+rkd" and len(b) > 1:
                    loss = loss + weight * relational_kd_loss(fs, ft)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    student.eval()
    with torch.no_grad():
        return float((student(data["X_test"]).argmax(1) == data["y_test"]).float().mean())
