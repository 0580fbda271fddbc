"""Fairness metrics of generated-image attributes (``kg-fairdiff``).

For one attribute with ``K`` groups, ``p`` is the observed distribution of
the generated images' labels and ``q`` the target distribution (uniform by
default):

* **Bias-P** ``= 1/2 sum_a |p_a - q_a|``: the total-variation distance to the
  target, the share of images that would have to change group;
* **Bias-W** ``= max_a |p_a - q_a|``: the worst group's deviation from its
  target share;
* **ENS** ``= H(p) / log K = 1 - KL(p || U) / log K``: entropy normalised to
  [0, 1], 1 when every group is equally represented, 0 when one group takes
  everything;
* the **fairness loss** the refinement loop minimises is ``KL(p~ || q)``
  summed over attributes, with ``p~`` the label frequencies smoothed by
  ``alpha`` pseudo-counts (so that an unseen group gives a finite loss).

These are mintlab's definitions. The paper states that its Bias-P / Bias-W
are divergences from target distributions and ENS a function of the KL
divergence; its exact formulas were not available to us, so the names follow
the paper and the formulas are the ones above.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import torch

from ..._validation import check_nonnegative, describe
from ...typing import ArrayLike

__all__ = ["distribution", "bias_p", "bias_w", "ens", "kl_divergence", "fairness_loss",
           "bias_report"]


def _dist(p: Any, name: str = "p") -> np.ndarray:
    if isinstance(p, torch.Tensor):
        if p.is_complex() or p.dtype == torch.bool:
            raise TypeError(f"{name} must hold real numbers, got dtype {p.dtype}")
        p = p.detach().cpu().double().numpy()
    elif isinstance(p, (str, bytes)) or not isinstance(p, (np.ndarray, list, tuple,
                                                           numbers.Real, np.generic)):
        raise TypeError(f"{name} must be a 1D array of group shares, got {describe(p)}")
    try:
        arr = np.asarray(p, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must hold real numbers, got {describe(p)}") from None
    if arr.ndim != 1 or len(arr) < 2:
        raise ValueError(f"{name} must be a distribution over at least 2 groups, got shape "
                         f"{arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite, got {int((~np.isfinite(arr)).sum())} NaN or "
                         "infinite value(s)")
    if (arr < 0).any():
        raise ValueError(f"{name} must be non-negative, got minimum {arr.min():.4g}")
    if arr.sum() <= 0:
        raise ValueError(f"{name} must have a positive sum, got a sum of 0")
    return arr / arr.sum()


def _pair(p: Any, q: Any) -> tuple[np.ndarray, np.ndarray]:
    p = _dist(p)
    q = np.full(len(p), 1.0 / len(p)) if q is None else _dist(q, "q")
    if len(q) != len(p):
        raise ValueError(f"p and q must have the same number of groups, got {len(p)} and "
                         f"{len(q)}")
    return p, q


def _seq(x: Any, name: str) -> list[Any]:
    if isinstance(x, (str, bytes)) or not isinstance(x, Iterable):
        raise TypeError(f"{name} must be a list, got {type(x).__name__}")
    return list(x)


def distribution(labels: Iterable[Any], groups: Iterable[Any], alpha: float = 0.0) -> np.ndarray:
    """Frequencies of ``groups`` among ``labels`` (plus ``alpha`` pseudo-counts each)."""
    labels = _seq(labels, "labels")
    groups = _seq(groups, "groups")
    if not groups or len(set(groups)) != len(groups):
        raise ValueError(f"groups must list distinct groups, at least one, got {groups}")
    alpha = check_nonnegative(alpha, "alpha")
    unknown = set(labels) - set(groups)
    if unknown:
        raise ValueError(f"labels outside the groups {groups}: {sorted(map(str, unknown))}")
    if not labels and alpha <= 0:
        raise ValueError("labels must not be empty (or give alpha > 0)")
    counts = np.array([labels.count(g) for g in groups], float) + alpha
    return counts / counts.sum()


def bias_p(p: ArrayLike, q: ArrayLike | None = None) -> float:
    """Total-variation distance between ``p`` and the target ``q`` (uniform by default).

    >>> bias_p([0.8, 0.2])
    0.3
    """
    p, q = _pair(p, q)
    return round(float(0.5 * np.abs(p - q).sum()), 15)


def bias_w(p: ArrayLike, q: ArrayLike | None = None) -> float:
    """Largest deviation of a group's share from its target.

    >>> round(bias_w([0.7, 0.2, 0.1]), 4)
    0.3667
    """
    p, q = _pair(p, q)
    return float(np.abs(p - q).max())


def ens(p: ArrayLike) -> float:
    """Normalised entropy ``H(p) / log K``.

    >>> ens([0.5, 0.5]), ens([1.0, 0.0])
    (1.0, 0.0)
    """
    p = _dist(p)
    nz = p[p > 0]
    h = float(-(nz * np.log(nz)).sum())
    return h / float(np.log(len(p))) if h > 0 else 0.0


def kl_divergence(p: ArrayLike, q: ArrayLike | None = None) -> float:
    """``KL(p || q) = sum p log(p / q)`` (``q`` uniform by default; infinite where ``q`` = 0
    < ``p``)."""
    p, q = _pair(p, q)
    nz = p > 0
    with np.errstate(divide="ignore"):
        return float((p[nz] * np.log(p[nz] / q[nz])).sum())


def _check_maps(labels: Any, groups: Any, targets: Any) -> None:
    for name, m in (("labels", labels), ("groups", groups)):
        if not isinstance(m, Mapping):
            raise TypeError(f"{name} must be a mapping attribute -> list, got "
                            f"{type(m).__name__}")
    if targets is not None and not isinstance(targets, Mapping):
        raise TypeError(f"targets must be a mapping attribute -> distribution or None, got "
                        f"{type(targets).__name__}")
    if not labels:
        raise ValueError("labels must hold at least one attribute, got an empty mapping")
    for attr in labels:
        if attr not in groups:
            raise ValueError(f"groups lacks the attribute {attr!r} of labels (no groups given "
                             "for it)")


def fairness_loss(labels: Mapping[str, Any], groups: Mapping[str, Any],
                  targets: Mapping[str, Any] | None = None, alpha: float = 0.5) -> float:
    """Sum over attributes of ``KL(p~ || q)``, ``p~`` the smoothed label frequencies."""
    _check_maps(labels, groups, targets)
    alpha = check_nonnegative(alpha, "alpha")
    total = 0.0
    for attr, labs in labels.items():
        q = None if targets is None or attr not in targets else targets[attr]
        total += kl_divergence(distribution(labs, groups[attr], alpha), q)
    return total


def bias_report(labels: Mapping[str, Any], groups: Mapping[str, Any],
                targets: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Bias-P, Bias-W and ENS per attribute (and their means) for a set of generated images."""
    _check_maps(labels, groups, targets)
    out: dict[str, Any] = {}
    for attr, labs in labels.items():
        p = distribution(labs, groups[attr])
        q = None if targets is None or attr not in targets else targets[attr]
        out[attr] = {"bias_p": bias_p(p, q), "bias_w": bias_w(p, q), "ens": ens(p)}
    for key in ("bias_p", "bias_w", "ens"):
        out[f"mean_{key}"] = float(np.mean([out[a][key] for a in labels]))
    return out
