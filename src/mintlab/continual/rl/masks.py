"""Modulating masks (``lrl-modulating-masks``): one frozen random network, one binary mask per task.

Each :class:`MaskedLinear` holds a weight matrix drawn once from a seed and
never trained (signed constants ``+-sqrt(2 / fan_in)``, as in Supermasks in
Superposition) and, per task ``t``, a real-valued score matrix ``S_t``. The
layer computes ``x @ (W * M_t)^T`` with the binary mask ``M_t = [S_t >= 0]``;
gradients reach ``S_t`` straight through the threshold. Switching task
switches mask, so learning task ``t`` touches only ``S_t``: earlier tasks'
policies are kept exactly.

Linear combination (``linear_comb=True``): a new task's mask starts from the
masks already learned. Its scores are
``softmax(beta)_own * S_t + sum_k softmax(beta)_k * stopgrad(S_k)`` over the
learned tasks ``k`` (and over community masks imported from other agents, for
``mosaic``); ``beta`` is learned with ``S_t``, starting with half the weight on
the new task's own scores and the other half shared equally. When the task
ends, :meth:`MaskedLinear.consolidate` folds the combination into ``S_t``, after
which the task's mask no longer depends on the others.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..._random import make_generator
from ..._validation import check_int, check_probability
from .._checks import check_bool, check_module

__all__ = ["MaskedLinear", "MaskedMLP", "masked_layers", "set_task", "use_task", "consolidate",
           "mask_scores", "set_community_masks", "binary_masks"]


class _Threshold(torch.autograd.Function):
    """``[s >= 0]`` forward, identity backward (straight-through estimator)."""

    @staticmethod
    def forward(ctx, scores):
        return (scores >= 0).to(scores.dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad


class MaskedLinear(nn.Module):
    """A linear layer with frozen random weights and a learned binary mask per task.

    Parameters
    ----------
    in_features, out_features : int
    n_tasks : int
        Task slots (one score matrix each).
    linear_comb : bool, default False
        Start a new task's mask from a learned combination of the learned
        tasks' masks (and of community masks).
    n_community : int, default 0
        Slots for masks imported from other agents (``mosaic``).
    seed : int, default 0
        Seed of the frozen weights and of the initial scores: agents that
        share masks must share it.

    Shapes: input ``(..., in_features)``, output ``(..., out_features)``.

    Examples
    --------
    >>> layer = MaskedLinear(4, 3, n_tasks=2, seed=0)
    >>> x = torch.randn(5, 4)
    >>> layer.task = 1
    >>> layer(x).shape
    torch.Size([5, 3])
    >>> layer(x).sum().backward()
    >>> [name for name, p in layer.named_parameters() if p.grad is not None]
    ['scores.1']
    """

    weight: torch.Tensor
    learned: torch.Tensor
    community: torch.Tensor
    n_active_community: torch.Tensor

    def __init__(self, in_features: int, out_features: int, n_tasks: int, *,
                 linear_comb: bool = False, n_community: int = 0, seed: int = 0) -> None:
        super().__init__()
        self.in_features = check_int(in_features, "in_features", minimum=1)
        self.out_features = check_int(out_features, "out_features", minimum=1)
        self.n_tasks = check_int(n_tasks, "n_tasks", minimum=1)
        self.n_community = check_int(n_community, "n_community", minimum=0)
        self.linear_comb = check_bool(linear_comb, "linear_comb")
        g = make_generator(check_int(seed, "seed", minimum=0))
        bound = 1.0 / math.sqrt(self.in_features)  # kaiming_uniform(a=sqrt(5)) bound
        sign = torch.rand(out_features, in_features, generator=g) < 0.5
        std = math.sqrt(2.0 / in_features)
        self.register_buffer("weight", torch.where(sign, -std, std))
        self.scores = nn.ParameterList([
            nn.Parameter((torch.rand(out_features, in_features, generator=g) * 2 - 1) * bound)
            for _ in range(self.n_tasks)])
        n_logits = self.n_tasks + self.n_community
        self.betas = nn.ParameterList([nn.Parameter(torch.zeros(n_logits))
                                       for _ in range(self.n_tasks)])
        self.register_buffer("learned", torch.zeros(self.n_tasks, dtype=torch.bool))
        self.register_buffer("community", torch.zeros(self.n_community, out_features,
                                                      in_features))
        self.register_buffer("n_active_community", torch.zeros((), dtype=torch.long))
        self.task = 0
        self._cache: tuple[Any, torch.Tensor] | None = None

    # ---- composition ---------------------------------------------------------------------
    def _sources(self, t: int) -> list[int]:
        """Learned tasks whose masks enter the combination for task ``t``."""
        if not self.linear_comb or bool(self.learned[t]):
            return []
        return [k for k in range(self.n_tasks) if k != t and bool(self.learned[k])]

    def composing(self, t: int | None = None) -> bool:
        t = self.task if t is None else t
        return bool(self._sources(t)) or (int(self.n_active_community) > 0
                                          and not bool(self.learned[t]))

    def combination_weights(self, t: int | None = None) -> torch.Tensor:
        """Softmax weights over (own scores, learned tasks..., community masks...)."""
        t = self.task if t is None else t
        idx = [t] + self._sources(t) + [self.n_tasks + c
                                        for c in range(int(self.n_active_community))]
        return torch.softmax(self.betas[t][idx], dim=0)

    def effective_scores(self, t: int | None = None) -> torch.Tensor:
        """The scores that are thresholded into task ``t``'s mask."""
        t = self.task if t is None else self._slot(t)
        own = self.scores[t]
        if not self.composing(t):
            return own
        w = self.combination_weights(t)
        parts = [own] + [self.scores[k].detach() for k in self._sources(t)]
        parts += [self.community[c] for c in range(int(self.n_active_community))]
        total = w[0] * parts[0]
        for wi, p in zip(w[1:], parts[1:], strict=True):
            total = total + wi * p
        return total

    def _slot(self, t: Any, name: str = "task") -> int:
        t = check_int(t, name, minimum=0)
        if t >= self.n_tasks:
            raise ValueError(f"{name} must be < n_tasks ({self.n_tasks}), got {t}")
        return t

    def mask(self, t: int | None = None) -> torch.Tensor:
        """Binary mask of task ``t`` (straight-through to the scores)."""
        return _Threshold.apply(self.effective_scores(t))

    def _cache_key(self):
        t = self.task
        used = [self.scores[t], self.betas[t]] + [self.scores[k] for k in self._sources(t)]
        return (t, int(self.n_active_community), self.community._version,
                tuple(p._version for p in used), self.weight.dtype, self.weight.device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"x must have shape (..., {self.in_features}), got {tuple(x.shape)}")
        if torch.is_grad_enabled():
            self._cache = None
            w = self.weight * self.mask()
        else:  # acting (rollouts, evaluation): reuse the masked weights until a score changes
            key = self._cache_key()
            if self._cache is None or self._cache[0] != key:
                self._cache = (key, self.weight * self.mask())
            w = self._cache[1]
        return F.linear(x, w.to(x.dtype))

    # ---- task bookkeeping ----------------------------------------------------------------
    @torch.no_grad()
    def begin(self, t: int) -> None:
        """Make ``t`` the active task; a new composing task gets its initial betas."""
        t = self._slot(t)
        self.task = t
        if not bool(self.learned[t]):
            self._reset_betas(t)

    @torch.no_grad()
    def _reset_betas(self, t: int, own_weight: float = 0.5) -> None:
        """Start the combination with ``own_weight`` on the task's own scores and the rest
        shared equally by the other sources (learned tasks, community masks)."""
        n_other = len(self._sources(t)) + int(self.n_active_community)
        b = self.betas[t]
        b.zero_()
        if n_other:
            idx = [t] + self._sources(t) + [self.n_tasks + c
                                            for c in range(int(self.n_active_community))]
            w = min(max(float(own_weight), 1e-4), 1 - 1e-4)
            logits = torch.tensor([w] + [(1 - w) / n_other] * n_other).log()
            b[idx] = logits.to(b.dtype)

    @torch.no_grad()
    def consolidate(self, t: int | None = None) -> None:
        """Fold task ``t``'s combination into its own scores and mark it learned."""
        t = self.task if t is None else self._slot(t)
        self.scores[t].copy_(self.effective_scores(t))
        self.learned[t] = True
        self.n_active_community.zero_()

    @torch.no_grad()
    def set_community(self, masks: Sequence[torch.Tensor], own_weight: float = 0.5) -> None:
        """Import score matrices from other agents into the active task's combination.

        The current combination is first folded into the active task's own
        scores (so what was learned from earlier imports is kept), then the new
        masks replace the old ones and the betas restart with ``own_weight``
        on the own scores (MOSAIC uses ``0.5 + 0.5 * r`` for an agent whose
        normalised return is ``r``: the better it already does, the less it
        takes from others).
        """
        own_weight = check_probability(own_weight, "own_weight")
        if len(masks) > self.n_community:
            raise ValueError(f"at most {self.n_community} community masks fit, got {len(masks)}")
        t = self.task
        if self.composing(t):
            self.scores[t].copy_(self.effective_scores(t))
        for c, m in enumerate(masks):
            if tuple(m.shape) != (self.out_features, self.in_features):
                raise ValueError(f"community mask {c} must have shape "
                                 f"{(self.out_features, self.in_features)}, got {tuple(m.shape)}")
            self.community[c] = m.to(self.community)
        self.n_active_community.fill_(len(masks))
        self.learned[t] = False
        self._reset_betas(t, own_weight)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"n_tasks={self.n_tasks}, linear_comb={self.linear_comb}, "
                f"n_community={self.n_community}")


def masked_layers(model: nn.Module) -> Iterator[MaskedLinear]:
    """The :class:`MaskedLinear` layers of ``model``, in order."""
    check_module(model, "model")
    return (m for m in model.modules() if isinstance(m, MaskedLinear))


def _layers(model: nn.Module) -> list[MaskedLinear]:
    layers = list(masked_layers(model))
    if not layers:
        raise ValueError("model has no MaskedLinear layers")
    return layers


def set_task(model: nn.Module, task: int) -> None:
    """Switch every masked layer of ``model`` to ``task`` (a new task gets fresh betas)."""
    for m in _layers(model):
        m.begin(task)


def use_task(model: nn.Module, task: int) -> None:
    """Make ``task`` active in every masked layer without touching its betas (to act or
    evaluate with a task's mask; :func:`set_task` starts training a task)."""
    for m in _layers(model):
        m.task = m._slot(task)


def consolidate(model: nn.Module, task: int | None = None) -> None:
    """Consolidate ``task`` (default: the active one) in every masked layer."""
    for m in _layers(model):
        m.consolidate(task)


def mask_scores(model: nn.Module, task: int) -> list[torch.Tensor]:
    """The effective score matrices of ``task`` in every masked layer (what an agent shares)."""
    layers = _layers(model)
    for m in layers:
        m._slot(task)
    with torch.no_grad():
        return [m.effective_scores(task).detach().clone() for m in layers]


def binary_masks(model: nn.Module, task: int) -> list[torch.Tensor]:
    """The binary masks of ``task``, one per masked layer."""
    layers = _layers(model)
    for m in layers:
        m._slot(task)
    with torch.no_grad():
        return [(m.effective_scores(task) >= 0) for m in layers]


def set_community_masks(model: nn.Module, masks: Sequence[Sequence[torch.Tensor]],
                        own_weight: float = 0.5) -> None:
    """Import masks of other agents: ``masks[j]`` holds one score matrix per masked layer
    (see :meth:`MaskedLinear.set_community` for ``own_weight``)."""
    layers = _layers(model)
    own_weight = check_probability(own_weight, "own_weight")
    if isinstance(masks, str | bytes) or not isinstance(masks, Sequence):
        raise TypeError(f"masks must be a list of lists of score matrices, got "
                        f"{type(masks).__name__}")
    for j, mj in enumerate(masks):
        if isinstance(mj, str | bytes) or not isinstance(mj, Sequence):
            raise TypeError(f"masks[{j}] must be a list of score matrices, got "
                            f"{type(mj).__name__}")
        for i, m in enumerate(mj):
            if not isinstance(m, torch.Tensor):
                raise TypeError(f"masks[{j}][{i}] must be a torch.Tensor, got {type(m).__name__}")
            if not bool(torch.isfinite(m).all()):
                raise ValueError(f"masks[{j}][{i}] must be finite")
        if len(mj) != len(layers):
            raise ValueError(f"masks[{j}] must hold {len(layers)} score matrices (one per masked "
                             f"layer), got {len(mj)}")
    for i, layer in enumerate(layers):
        layer.set_community([mj[i] for mj in masks], own_weight)


class MaskedMLP(nn.Module):
    """A multilayer perceptron of :class:`MaskedLinear` layers with ReLU between them.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths, input first, e.g. ``(obs_dim, 64, 64)``.
    n_tasks : int
    linear_comb, n_community, seed
        As in :class:`MaskedLinear` (layer ``i`` uses ``seed + i``).
    activate_last : bool, default True
        Apply ReLU after the last layer too.

    Shapes: ``(..., sizes[0])`` to ``(..., sizes[-1])``.
    """

    def __init__(self, sizes: Sequence[int], n_tasks: int, *, linear_comb: bool = False,
                 n_community: int = 0, seed: int = 0, activate_last: bool = True) -> None:
        super().__init__()
        seed = check_int(seed, "seed", minimum=0)
        activate_last = check_bool(activate_last, "activate_last")
        sizes = [check_int(s, "sizes[i]", minimum=1) for s in sizes]
        if len(sizes) < 2:
            raise ValueError(f"sizes must hold at least an input and an output width, got {sizes}")
        self.layers = nn.ModuleList([
            MaskedLinear(a, b, n_tasks, linear_comb=linear_comb, n_community=n_community,
                         seed=seed + i)
            for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=False))])
        self.activate_last = activate_last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1 or self.activate_last:
                x = torch.relu(x)
        return x
