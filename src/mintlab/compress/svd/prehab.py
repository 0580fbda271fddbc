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
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from ..._validation import check_choice, check_int, check_nonnegative, check_positive
from .._reparam import check_module
from ._calib import (
    Objective,
    _collect_statistics,
    check_before_training,
    find_linear_layers,
    prepare_batches,
    score,
)
from .methods import _check_tensor, _cholesky

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
    """``||M||_F^2 / ||M||_2^2`` (differentiable; between 1 and ``rank(M)``).

    ``M`` must be a finite, non-zero 2-D floating tensor (the ratio is
    undefined at 0). Its values are checked only on the CPU: on an
    accelerator, reading them would force a device sync per training step,
    so there a zero or non-finite ``M`` gives NaN instead of an error.

    Examples
    --------
    >>> value = float(stable_rank(torch.diag(torch.tensor([3.0, 1.0]))))  # (9 + 1) / 9
    >>> round(value, 6) == round(10 / 9, 6)
    True
    """
    _check_matrix(M)
    iters = check_int(iters, "iters", minimum=1)
    return _stable_rank(M, iters)


def effective_rank(M: torch.Tensor) -> torch.Tensor:
    """``||M||_* / ||M||_F`` (differentiable; ``M`` finite, non-zero, 2-D).

    As for :func:`stable_rank`, the values of ``M`` are checked on the CPU
    only (no device sync per call): elsewhere a zero ``M`` gives NaN.
    """
    _check_matrix(M)
    return _effective_rank(M)


def _check_matrix(M: Any, name: str = "M") -> None:
    """Kind and shape always; values (finite, not all zero) only on the CPU (no device sync)."""
    _check_tensor(M, name, ndim=2, values="cpu")
    if M.device.type == "cpu" and not bool((M.detach() != 0).any()):
        raise ValueError(f"{name} must not be the zero matrix (its rank surrogate is 0 / 0)")


def _stable_rank(M: torch.Tensor, iters: int = 30) -> torch.Tensor:
    return (M * M).sum() / _spectral_norm(M, iters) ** 2


def _effective_rank(M: torch.Tensor, iters: int = 30) -> torch.Tensor:
    return torch.linalg.svdvals(M).sum() / M.norm()


def _batches_forever(batches: list[Any]) -> Iterator[Any]:
    return itertools.cycle(batches)


def prehab(model: nn.Module, train_batches: Any, *, calibration: Any = None, steps: int = 100,
           lr: float = 1e-4, lam: float = 0.05, warmup: int | None = None,
           surrogate: str = "stable_rank", include: Any = None, exclude: Any = None,
           objective: Objective | None = None, progress: bool = False) -> dict[str, Any]:
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

    check_module(model)
    surrogate = check_choice(surrogate, "surrogate", ("stable_rank", "nuclear"))
    steps = check_int(steps, "steps", minimum=1)
    lr = check_positive(lr, "lr")
    lam = check_nonnegative(lam, "lam")
    if warmup is not None:
        warmup = check_int(warmup, "warmup", minimum=0)
    batches, obj = prepare_batches(train_batches, objective, "train_batches")
    calib = prepare_batches(calibration, objective, "calibration")[0] \
        if calibration is not None else batches
    layers = find_linear_layers(model, include, exclude)
    check_before_training(model, batches, obj, "train_batches")
    if calibration is not None:
        check_before_training(model, calib, obj, "calibration")
    stats, _ = _collect_statistics(model, layers, calib, obj, inputs=True)
    whiteners = {n: _cholesky(stats[n].covariance).to(layers[n].weight.dtype) for n in layers}
    fn = _stable_rank if surrogate == "stable_rank" else _effective_rank
    warmup = max(1, steps // 2 if warmup is None else int(warmup))

    def surrogate_value() -> torch.Tensor:
        return torch.stack([fn(lin.weight @ whiteners[n]) for n, lin in layers.items()]).mean()

    with torch.no_grad():
        before = float(surrogate_value())
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    task_losses: list[float] = []
    surrogates: list[float] = []
    log: dict[str, Any] = {"task_loss": task_losses, "surrogate": surrogates,
                           "surrogate_before": before}
    was = model.training
    model.train()
    it = _batches_forever(batches)
    for step in tqdm(range(steps), desc="prehab", disable=not progress):
        lam_t = lam if step >= warmup else lam / 100 * 100 ** (step / warmup)
        where = f"train_batches[{step % len(batches)}]"
        task = score(obj.loss, model, next(it), where)
        reg = surrogate_value()
        loss = task + lam_t * reg
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        task_losses.append(float(task.detach()))
        surrogates.append(float(reg.detach()))
    model.train(was)
    with torch.no_grad():
        log["surrogate_after"] = float(surrogate_value())
    return log


def finetune(model: nn.Module, train_batches: Any, *, steps: int = 100, lr: float = 1e-4,
             objective: Objective | None = None, progress: bool = False) -> list[float]:
    """Adam on all trainable parameters for ``steps`` steps (cycling the batches); the losses."""
    from tqdm.auto import tqdm

    check_module(model)
    steps = check_int(steps, "steps", minimum=1)
    lr = check_positive(lr, "lr")
    batches, obj = prepare_batches(train_batches, objective, "train_batches")
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError("model has no trainable parameter (every requires_grad is False)")
    check_before_training(model, batches, obj, "train_batches")
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    was = model.training
    model.train()
    losses = []
    it = _batches_forever(batches)
    for step in tqdm(range(steps), desc="fine-tune", disable=not progress):
        loss = score(obj.loss, model, next(it), f"train_batches[{step % len(batches)}]")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    model.train(was)
    return losses
