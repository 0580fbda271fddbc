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

import torch
import torch.nn.functional as F

from .._random import seeded_global_rng
from .._validation import check_int
from .data import DistilledSet, view_seed
from .labels import RawLabels
from .models import ConvNet, augment, predict_proba

__all__ = ["random_subset", "herding", "gradient_matching", "distribution_matching", "relabel",
           "gradient_distance", "distribution_matching_loss", "soft_labels_for_views"]


def check_images_and_labels(X, y, ipc):
    """Validate ``X (n, H, W)``, ``y (n,)`` and a per-class budget; (ipc, n_classes)."""
    if not torch.is_tensor(X) or X.dim() != 3:
        raise ValueError(f"X must be an (n, H, W) tensor, got {tuple(getattr(X, 'shape', ()))}")
    if not torch.is_tensor(y) or y.shape != (X.shape[0],):
        raise ValueError("y must be a (n,) tensor of labels matching X")
    ipc = check_int(ipc, "ipc", minimum=1)
    counts = torch.bincount(y)
    if int(counts[counts > 0].min()) < ipc:
        raise ValueError(f"ipc={ipc} exceeds the smallest class ({int(counts[counts > 0].min())} "
                         f"images)")
    return ipc, int(y.max()) + 1


def random_subset(X, y, ipc: int, *, seed: int = 0) -> DistilledSet:
    """``ipc`` real images per class, drawn with ``seed``."""
    ipc, k = check_images_and_labels(X, y, ipc)
    g = torch.Generator().manual_seed(seed)
    idx = torch.cat([(y == c).nonzero().flatten()[torch.randperm(int((y == c).sum()),
                                                                 generator=g)[:ipc]]
                     for c in range(k)])
    return DistilledSet("random", X[idx], y[idx], k)


def herding(X, y, ipc: int, features: Callable[[torch.Tensor], torch.Tensor]) -> DistilledSet:
    """Herding in ``features(X)`` (e.g. a teacher's embedding), per class."""
    ipc, k = check_images_and_labels(X, y, ipc)
    with torch.no_grad():
        Fx = features(X)
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
    total = 0.0
    for a, b in zip(g_real, g_syn, strict=True):
        if a.dim() == 1:
            a, b = a[None], b[None]
        a2, b2 = a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)
        total = total + (1 - F.cosine_similarity(a2, b2, dim=1, eps=1e-8)).sum()
    return total


def distribution_matching_loss(emb_real: torch.Tensor, emb_syn: torch.Tensor) -> torch.Tensor:
    """``|| mean(emb_real) - mean(emb_syn) ||^2``."""
    return ((emb_real.mean(0) - emb_syn.mean(0)) ** 2).sum()


def _matching(method, X, y, ipc, *, image_size, iterations, lr, real_batch, seed, width,
              class_loss, frozen):
    """The loop both matching methods share: synthetic images initialised from real ones, a
    fresh random ConvNet per iteration, one real batch per class, ``class_loss`` summed."""
    ipc, k = check_images_and_labels(X, y, ipc)
    base = random_subset(X, y, ipc, seed=seed)
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


def gradient_matching(X, y, ipc: int, *, image_size: int, iterations: int = 200,
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
        return gradient_distance(g_real, list(g_syn))

    return _matching("gradient-matching", X, y, ipc, image_size=image_size,
                     iterations=iterations, lr=lr, real_batch=real_batch, seed=seed,
                     width=width, class_loss=class_loss, frozen=False)


def distribution_matching(X, y, ipc: int, *, image_size: int, iterations: int = 300,
                          lr: float = 0.5, real_batch: int = 128, seed: int = 0,
                          width: int = 32) -> DistilledSet:
    """Distribution matching of mean embeddings under random ConvNets (augmented views)."""
    def class_loss(net, ids, syn_c, c, it):
        s = seed * 100003 + it * 131 + c
        return distribution_matching_loss(net.features(augment(X[ids], s)),
                                          net.features(augment(syn_c, s)))

    return _matching("distribution-matching", X, y, ipc, image_size=image_size,
                     iterations=iterations, lr=lr, real_batch=real_batch, seed=seed,
                     width=width, class_loss=class_loss, frozen=True)


def soft_labels_for_views(teacher, images: torch.Tensor, n_views: int, base_seed: int,
                          temperature: float = 1.0) -> torch.Tensor:
    """The teacher's probabilities on each seeded augmented view: ``(n_views, n, C)``."""
    n_views = check_int(n_views, "n_views", minimum=1)
    return torch.stack([predict_proba(teacher, augment(images, view_seed(base_seed, v)),
                                      temperature=temperature) for v in range(n_views)])


def relabel(X, y, ipc: int, teacher, *, n_views: int = 30, codec=None, seed: int = 0,
            candidates: int = 5, temperature: float = 1.0) -> DistilledSet:
    """SRe2L / RDED: the most teacher-confident real images, with per-view soft labels.

    From ``candidates * ipc`` random images per class, keep the ``ipc`` with
    the lowest teacher loss (RDED's realism score); store the teacher's soft
    labels of ``n_views`` augmented views, through ``codec(P)`` (default
    :class:`~mintlab.distill.RawLabels`).
    """
    ipc, k = check_images_and_labels(X, y, ipc)
    g = torch.Generator().manual_seed(seed)
    picked = []
    with torch.no_grad():
        for c in range(k):
            ids = (y == c).nonzero().flatten()
            ids = ids[torch.randperm(len(ids), generator=g)[: max(ipc, candidates * ipc)]]
            loss = F.cross_entropy(teacher(X[ids]), y[ids], reduction="none")
            picked.append(ids[loss.argsort()[:ipc]])
    idx = torch.cat(picked)
    images = X[idx]
    out = DistilledSet("relabel", images, None, k, view_base_seed=seed)
    P = soft_labels_for_views(teacher, out.images, n_views, seed, temperature)
    out.soft_labels = (codec or RawLabels)(P)
    out.info["hard_labels"] = y[idx]
    return out
