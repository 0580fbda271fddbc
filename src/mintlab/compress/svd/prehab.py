"""Low-Rank Prehab: a short fine-tune that prepares weights for SVD, and the recovery fine-tune.

:func:`prehab` minimises ``task loss + lambda_t * mean_l rank_surrogate(W_l S_l)``
over the weights of the targeted linear layers, where ``S_l`` is the
Cholesky factor of the layer's calibration input covariance (fixed before
the fine-tune, as in the paper: the surrogate acts in the whitened space
that SVD-LLM-style truncation uses). Surrogates:

* ``"stable_rank"`` (default): ``||M||_F^2 / ||M||_2^2``, the spectral norm by
  power iteration (its gradient ``u v^T`` at the converged singular pair);
* ``"nuclear"``: ``||M||_* / ||M||_F``, scale-free nuclear norm.

``lambda_t`` rises exponentially from ``lam / 100`` to ``lam`` over the first
``warmup`` steps. After prehab, compress with any method of
:func:`~mintlab.compress.svd.compress_model`; :func:`finetune` is the
recovery fine-tune of all trainable parameters.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from ..._validation import check_int
from ._calib import check_batches, collect_statistics, find_linear_layers, resolve_objective
from .methods import _cholesky

__all__ = ["prehab", "finetune", "stable_rank", "effective_rank"]


def _spectral_norm(M: torch.Tensor, iters: int = 30) -> torch.Tensor:
    with torch.no_grad():
        v = torch.ones(M.shape[1], dtype=M.dtype, device=M.device) / math.sqrt(M.shape[1])
        for _ in range(iters):
            u = M @ v
            u = u / u.norm().clamp_min(1e-30)
            v = M.T @ u
            v = v / v.norm().clamp_min(1e-30)
    return u @ M @ v


def stable_rank(M: torch.Tensor, iters: int = 30) -> torch.Tensor:
    """``||M||_F^2 / ||M||_2^2`` (differentiable; between 1 and ``rank(M)``)."""
    return (M * M).sum() / _spectral_norm(M, iters) ** 2


def effective_rank(M: torch.Tensor) -> torch.Tensor:
    """``||M||_* / ||M||_F`` (differentiable)."""
    return torch.linalg.svdvals(M).sum() / M.norm()


def _batches_forever(batches: list) -> Iterable:
    return itertools.cycle(batches)


def prehab(model: nn.Module, train_batches: Any, *, calibration: Any = None, steps: int = 100,
           lr: float = 1e-4, lam: float = 0.05, warmup: int | None = None,
           surrogate: str = "stable_rank", include: Any = None, exclude: Any = None,
           objective=None, progress: bool = False) -> dict[str, Any]:
    """Fine-tune ``model`` in place towards low-rank whitened weights; returns a log.

    Parameters
    ----------
    model : nn.Module
    train_batches : iterable of batches
        Task batches, cycled for ``steps`` steps.
    calibration : iterable of batches, optional
        For the whitening factors (default: ``train_batches``).
    steps, lr : int, float
        Adam steps and learning rate (all trainable parameters move).
    lam : float
        Final weight of the rank surrogate.
    warmup : int, optional
        Steps of the exponential ``lambda`` ramp (default ``steps // 2``).
    surrogate : {"stable_rank", "nuclear"}

    Returns
    -------
    dict
        ``task_loss`` and ``surrogate`` per step, and the mean surrogate
        before and after.
    """
    from tqdm.auto import tqdm

    if surrogate not in ("stable_rank", "nuclear"):
        raise ValueError(f"surrogate must be 'stable_rank' or 'nuclear', got {surrogate!r}")
    steps = check_int(steps, "steps", minimum=1)
    if not (isinstance(lam, (int, float)) and lam >= 0 and math.isfinite(lam)):
        raise ValueError(f"lam must be a finite number >= 0, got {lam!r}")
    batches = check_batches(train_batches, "train_batches")
    calib = check_batches(calibration, "calibration") if calibration is not None else batches
    obj = resolve_objective(objective, batches[0])
    layers = find_linear_layers(model, include, exclude)
    stats, _ = collect_statistics(model, layers, calib, obj, inputs=True)
    whiteners = {n: _cholesky(stats[n].covariance).to(layers[n].weight.dtype) for n in layers}
    fn = stable_rank if surrogate == "stable_rank" else effective_rank
    warmup = max(1, steps // 2 if warmup is None else int(warmup))

    def surrogate_value():
        return torch.stack([fn(lin.weight @ whiteners[n]) for n, lin in layers.items()]).mean()

    with torch.no_grad():
        before = float(surrogate_value())
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    log = {"task_loss": [], "surrogate": [], "surrogate_before": before}
    was = model.training
    model.train()
    it = _batches_forever(batches)
    for step in tqdm(range(steps), desc="prehab", disable=not progress):
        lam_t = lam if step >= warmup else lam / 100 * 100 ** (step / warmup)
        task = obj.loss(model, next(it))
        reg = surrogate_value()
        loss = task + lam_t * reg
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        log["task_loss"].append(float(task.detach()))
        log["surrogate"].append(float(reg.detach()))
    model.train(was)
    with torch.no_grad():
        log["surrogate_after"] = float(surrogate_value())
    return log


def finetune(model: nn.Module, train_batches: Any, *, steps: int = 100, lr: float = 1e-4,
             objective=None, progress: bool = False) -> list[float]:
    """Adam on all trainable parameters for ``steps`` steps (cycling the batches); the losses."""
    from tqdm.auto import tqdm

    steps = check_int(steps, "steps", minimum=1)
    batches = check_batches(train_batches, "train_batches")
    obj = resolve_objective(objective, batches[0])
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    was = model.training
    model.train()
    losses = []
    it = _batches_forever(batches)
    for _ in tqdm(range(steps), desc="fine-tune", disable=not progress):
        loss = obj.loss(model, next(it))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    model.train(was)
    return losses
