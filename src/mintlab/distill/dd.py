"""Dataset-distillation baselines (``kd-dd-survey``): subsets, matching, relabelling.

All take the real training images ``X (n, H, W)``, labels ``y`` and an
images-per-class budget ``ipc`` and return a
:class:`~mintlab.distill.DistilledSet`:

* :func:`random_subset` — ``ipc`` real images per class;
* :func:`herding` — per class, greedily the images whose running mean best
  tracks the class mean in a feature space (Welling's herding);
* :func:`gradient_matching` — dataset condensation (Zhao et al.): synthetic
  images, initialised from real ones, learned so that the gradient of the
  classification loss they induce in randomly initialised networks matches
  the real data's, class by class (:func:`gradient_distance`: sum over
  output units of ``1 - cos``);
* :func:`distribution_matching` — Zhao and Bilen: synthetic images learned so
  that their mean embedding under random networks matches the real class
  mean (:func:`distribution_matching_loss`);
* :func:`relabel` — the SRe2L / RDED recipe: few images (RDED-style: the
  real images the teacher is most confident on) and many teacher soft labels,
  one per image and augmented view, stored by a label codec.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from .._random import seeded_global_rng
from .._validation import check_int, check_positive, check_temperature
from . import _checks
from .data import DistilledSet, view_seed
from .labels import RawLabels
from .models import ConvNet, _augment, _predict_proba

__all__ = ["random_subset", "herding", "gradient_matching", "distribution_matching", "relabel",
           "gradient_distance", "distribution_matching_loss", "soft_labels_for_views"]


def check_images_and_labels(X: Any, y: Any, ipc: Any, *,
                            every_class: bool = False) -> tuple[int, int]:
    """Validate ``X (n, H, W)``, ``y (n,)`` and a per-class budget; (ipc, n_classes).

    ``n_classes`` is ``max(y) + 1``; a class below it without images is allowed
    (it gets none) unless ``every_class``.
    """
    return _checks.images_and_labels(X, y, ipc, every_class=every_class)


def random_subset(X: torch.Tensor, y: torch.Tensor, ipc: int, *, seed: int = 0) -> DistilledSet:
    """``ipc`` real images per class, drawn with ``seed``."""
    ipc, k = check_images_and_labels(X, y, ipc)
    seed = _checks.seed(seed)
    return _random_subset(X, y, ipc, k, seed)


def _random_subset(X: torch.Tensor, y: torch.Tensor, ipc: int, k: int,
                   seed: int) -> DistilledSet:
    g = torch.Generator().manual_seed(seed)
    idx = torch.cat([(y == c).nonzero().flatten()[torch.randperm(int((y == c).sum()),
                                                                 generator=g)[:ipc]]
                     for c in range(k)])
    return DistilledSet("random", X[idx], y[idx], k)


def herding(X: torch.Tensor, y: torch.Tensor, ipc: int,
            features: Callable[[torch.Tensor], torch.Tensor]) -> DistilledSet:
    """Herding in ``features(X)`` (e.g. a teacher's embedding), per class."""
    ipc, k = check_images_and_labels(X, y, ipc, every_class=True)
    _checks.callable_(features, "features")
    with torch.no_grad():
        Fx = features(X)
    if not isinstance(Fx, torch.Tensor) or Fx.dim() != 2 or Fx.shape[0] != X.shape[0]:
        raise ValueError(f"features must map X to an (n, d) tensor with n = {X.shape[0]}, got "
                         f"{_checks.describe(Fx)}")
    _checks.tensor(Fx, "features(X)")
    chosen = []
    for c in range(k):
        ids = (y == c).nonzero().flatten()
        f = Fx[ids]
        mu = f.mean(0)
        total = torch.zeros_like(mu)
        picked: list[int] = []
        for t in range(ipc):
            cand = (mu - (total + f) / (t + 1)).norm(dim=1)
            if picked:
                cand[picked] = float("inf")
            j = int(cand.argmin())
            picked.append(j)
            total = total + f[j]
        chosen.append(ids[picked])
    idx = torch.cat(chosen)
    return DistilledSet("herding", X[idx], y[idx], k)


def gradient_distance(g_real: list[torch.Tensor], g_syn: list[torch.Tensor]) -> torch.Tensor:
    """Sum over layers and output units of ``1 - cos(g_real, g_syn)`` (biases: one unit each)."""
    for name, gs in (("g_real", g_real), ("g_syn", g_syn)):
        if not isinstance(gs, (list, tuple)) or not gs:
            raise TypeError(f"{name} must be a non-empty list of gradient tensors, got "
                            f"{_checks.describe(gs)}")
        for i, t in enumerate(gs):
            _checks.tensor(t, f"{name}[{i}]")
    if len(g_real) != len(g_syn):
        raise ValueError(f"g_real and g_syn must hold one gradient per parameter each, got "
                         f"{len(g_real)} and {len(g_syn)}")
    for i, (a, b) in enumerate(zip(g_real, g_syn, strict=True)):
        if a.shape != b.shape:
            raise ValueError(f"g_real[{i}] and g_syn[{i}] must have the same shape, got "
                             f"{tuple(a.shape)} and {tuple(b.shape)}")
    return _gradient_distance(list(g_real), list(g_syn))


def _gradient_distance(g_real: list[torch.Tensor], g_syn: list[torch.Tensor]) -> torch.Tensor:
    total: Any = 0.0  # a tensor after the first layer
    for a, b in zip(g_real, g_syn, strict=True):
        if a.dim() == 1:
            a, b = a[None], b[None]
        a2, b2 = a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)
        total = total + (1 - F.cosine_similarity(a2, b2, dim=1, eps=1e-8)).sum()
    return cast(torch.Tensor, total)


def distribution_matching_loss(emb_real: torch.Tensor, emb_syn: torch.Tensor) -> torch.Tensor:
    """``|| mean(emb_real) - mean(emb_syn) ||^2``."""
    _checks.tensor(emb_real, "emb_real", ndim=2)
    _checks.tensor(emb_syn, "emb_syn", ndim=2)
    if emb_real.shape[1] != emb_syn.shape[1]:
        raise ValueError(f"emb_syn must have {emb_real.shape[1]} columns to match emb_real, got "
                         f"shape {tuple(emb_syn.shape)}")
    return _dm_loss(emb_real, emb_syn)


def _dm_loss(emb_real: torch.Tensor, emb_syn: torch.Tensor) -> torch.Tensor:
    return ((emb_real.mean(0) - emb_syn.mean(0)) ** 2).sum()


def _matching(method, X, y, ipc, *, image_size, iterations, lr, real_batch, seed, width,
              class_loss, frozen):
    """The loop both matching methods share: synthetic images initialised from real ones, a
    fresh random ConvNet per iteration, one real batch per class, ``class_loss`` summed."""
    ipc, k = check_images_and_labels(X, y, ipc, every_class=True)
    image_size = check_int(image_size, "image_size", minimum=1)
    if tuple(X.shape[1:]) != (image_size, image_size):
        raise ValueError(f"X must hold {image_size}x{image_size} images (image_size), got shape "
                         f"{tuple(X.shape)}")
    iterations = check_int(iterations, "iterations", minimum=1)
    lr = check_positive(lr, "lr")
    real_batch = check_int(real_batch, "real_batch", minimum=1)
    seed = _checks.seed(seed)
    width = check_int(width, "width", minimum=1)
    base = _random_subset(X, y, ipc, k, seed)
    syn, ys = base.images.clone().requires_grad_(True), base.labels
    opt = torch.optim.SGD([syn], lr=lr, momentum=0.5)
    g = torch.Generator().manual_seed(seed + 1)
    by_class = [(y == c).nonzero().flatten() for c in range(k)]
    for it in range(check_int(iterations, "iterations", minimum=1)):
        with seeded_global_rng(seed * 7 + it):
            net = ConvNet(k, image_size, width=width)
        if frozen:
            for p in net.parameters():
                p.requires_grad_(False)
        loss = 0.0
        for c in range(k):
            ids = by_class[c][torch.randint(0, len(by_class[c]), (real_batch,), generator=g)]
            loss = loss + class_loss(net, ids, syn[ys == c], c, it)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            syn.clamp_(0, 1)
    return DistilledSet(method, syn.detach(), ys, k)


def gradient_matching(X: torch.Tensor, y: torch.Tensor, ipc: int, *, image_size: int,
                      iterations: int = 200,
                      lr: float = 0.1, real_batch: int = 64, seed: int = 0,
                      width: int = 32) -> DistilledSet:
    """Dataset condensation by gradient matching (a fresh random ConvNet every iteration)."""
    def class_loss(net, ids, syn_c, c, it):
        params = list(net.parameters())
        g_real = [t.detach() for t in torch.autograd.grad(
            F.cross_entropy(net(X[ids]), y[ids]), params)]
        target = torch.full((len(syn_c),), c, dtype=torch.long)
        g_syn = torch.autograd.grad(F.cross_entropy(net(syn_c), target), params,
                                    create_graph=True)
        return _gradient_distance(g_real, list(g_syn))

    return _matching("gradient-matching", X, y, ipc, image_size=image_size,
                     iterations=iterations, lr=lr, real_batch=real_batch, seed=seed,
                     width=width, class_loss=class_loss, frozen=False)


def distribution_matching(X: torch.Tensor, y: torch.Tensor, ipc: int, *, image_size: int,
                          iterations: int = 300,
                          lr: float = 0.5, real_batch: int = 128, seed: int = 0,
                          width: int = 32) -> DistilledSet:
    """Distribution matching of mean embeddings under random ConvNets (augmented views)."""
    def class_loss(net, ids, syn_c, c, it):
        s = seed * 100003 + it * 131 + c
        return _dm_loss(net.features(_augment(X[ids], s)), net.features(_augment(syn_c, s)))

    return _matching("distribution-matching", X, y, ipc, image_size=image_size,
                     iterations=iterations, lr=lr, real_batch=real_batch, seed=seed,
                     width=width, class_loss=class_loss, frozen=True)


def soft_labels_for_views(teacher: nn.Module, images: torch.Tensor, n_views: int, base_seed: int,
                          temperature: float = 1.0) -> torch.Tensor:
    """The teacher's probabilities on each seeded augmented view: ``(n_views, n, C)``."""
    _checks.module(teacher, "teacher")
    _checks.images(images, "images")
    n_views = check_int(n_views, "n_views", minimum=1)
    base_seed = _checks.seed(base_seed, "base_seed")
    temperature = check_temperature(temperature)
    return _soft_labels_for_views(teacher, images, n_views, base_seed, temperature)


def _soft_labels_for_views(teacher: nn.Module, images: torch.Tensor, n_views: int,
                           base_seed: int, temperature: float) -> torch.Tensor:
    return torch.stack([_predict_proba(teacher, _augment(images, view_seed(base_seed, v)),
                                       temperature=temperature) for v in range(n_views)])


def relabel(X: torch.Tensor, y: torch.Tensor, ipc: int, teacher: nn.Module, *,
            n_views: int = 30, codec: Callable[[torch.Tensor], Any] | None = None, seed: int = 0,
            candidates: int = 5, temperature: float = 1.0) -> DistilledSet:
    """SRe2L / RDED: the most teacher-confident real images, with per-view soft labels.

    From ``candidates * ipc`` random images per class, keep the ``ipc`` with
    the lowest teacher loss (RDED's realism score); store the teacher's soft
    labels of ``n_views`` augmented views, through ``codec(P)`` (default
    :class:`~mintlab.distill.RawLabels`).
    """
    ipc, k = check_images_and_labels(X, y, ipc)
    _checks.module(teacher, "teacher")
    n_views = check_int(n_views, "n_views", minimum=1)
    if codec is not None and not callable(codec):
        raise TypeError(f"codec must be a label codec class or callable (P -> codec), got "
                        f"{type(codec).__name__}")
    seed = _checks.seed(seed)
    candidates = check_int(candidates, "candidates", minimum=1)
    temperature = check_temperature(temperature)
    g = torch.Generator().manual_seed(seed)
    picked = []
    with torch.no_grad():
        for c in range(k):
            ids = (y == c).nonzero().flatten()
            ids = ids[torch.randperm(len(ids), generator=g)[: max(ipc, candidates * ipc)]]
            if len(ids) == 0:  # a class without images gets none
                picked.append(ids)
                continue
            logits = _checks.class_scores(teacher(X[ids]), c, len(ids))
            loss = F.cross_entropy(logits, y[ids], reduction="none")
            picked.append(ids[loss.argsort()[:ipc]])
    idx = torch.cat(picked)
    images = X[idx]
    out = DistilledSet("relabel", images, None, k, view_base_seed=seed)
    assert out.images is not None
    P = _soft_labels_for_views(teacher, out.images, n_views, seed, temperature)
    out.soft_labels = (codec or RawLabels)(P)
    out.info["hard_labels"] = y[idx]
    return out
