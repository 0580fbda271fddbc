"""Calibration statistics for post-training compression, gathered with hooks.

One pass over a calibration loader accumulates, per ``nn.Linear`` layer and
in float64, only running sums of bounded size (never the activations):

* ``xtx`` — the mean outer product of the layer's inputs ``E[x x^T]``
  (``in x in``) and ``abs_mean`` — ``E|x|`` per input channel;
* ``grad`` — the gradient of the mean calibration loss with respect to the
  weight (``out x in``), optionally one gradient per batch;
* ``out_metric`` — the output-side metric ``E[g g^T]`` (``out x out``),
  where ``g`` is the gradient at the layer's output of the negative
  log-likelihood of labels *sampled from the model's own* top-K predictive
  distribution. Its expectation is ``sum_s J_s^T F_s J_s`` with ``F_s`` the
  Fisher of the top-K softmax: the Gauss-Newton matrix of the second-order
  expansion of KL(original || perturbed) over the top-K token probabilities.

An :class:`Objective` says how a batch is scored: ``loss(model, batch)``
(a scalar, the mean loss) and ``logits(model, batch)`` (``(N, V)`` logits of
the predictive distribution). :func:`resolve_objective` picks the causal-LM
objective for ``(B, T + 1)`` integer batches and the classification one for
``(x, y)`` pairs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Objective", "LayerStats", "causal_lm_objective", "classification_objective",
           "resolve_objective", "find_linear_layers", "collect_statistics", "check_batches"]


@dataclass(frozen=True)
class Objective:
    """How a calibration batch is scored: ``loss(model, batch)`` and ``logits(model, batch)``."""

    loss: Callable[[nn.Module, Any], torch.Tensor]
    logits: Callable[[nn.Module, Any], torch.Tensor]
    name: str = "custom"


def _lm_logits(model, batch):
    out = model(batch[:, :-1])
    return out.reshape(-1, out.shape[-1])


def _lm_loss(model, batch):
    return F.cross_entropy(_lm_logits(model, batch), batch[:, 1:].reshape(-1))


def _cls_logits(model, batch):
    return model(batch[0])


def _cls_loss(model, batch):
    return F.cross_entropy(model(batch[0]), batch[1])


def causal_lm_objective() -> Objective:
    """Batches ``(B, T + 1)`` of token ids: the model reads ``[:, :-1]``, predicts ``[:, 1:]``."""
    return Objective(_lm_loss, _lm_logits, "causal-lm")


def classification_objective() -> Objective:
    """Batches ``(x, y)``: cross-entropy of ``model(x)`` against the integer labels ``y``."""
    return Objective(_cls_loss, _cls_logits, "classification")


def resolve_objective(objective: Objective | None, batch: Any) -> Objective:
    """``objective`` if given, else the default for the kind of ``batch``."""
    if objective is not None:
        if not isinstance(objective, Objective):
            raise TypeError(f"objective must be an Objective, got {type(objective).__name__}")
        return objective
    if torch.is_tensor(batch) and batch.dim() == 2 and not batch.is_floating_point():
        return causal_lm_objective()
    if isinstance(batch, (tuple, list)) and len(batch) == 2 and torch.is_tensor(batch[1]):
        return classification_objective()
    raise TypeError(
        "cannot infer how to score these calibration batches: pass objective=Objective(loss=..., "
        "logits=...); the defaults take (B, T + 1) integer token batches or (x, y) pairs")


def check_batches(calibration: Any, name: str = "calibration") -> list:
    """The calibration batches as a list; a clear error if there are none."""
    if calibration is None:
        raise ValueError(f"{name} is required: an iterable of batches (e.g. a DataLoader)")
    if torch.is_tensor(calibration):
        raise TypeError(f"{name} must be an iterable of batches, not one tensor; wrap it in a list")
    batches = list(calibration)
    if not batches:
        raise ValueError(f"{name} must hold at least one batch")
    return batches


def find_linear_layers(model: nn.Module, include: Any = None,
                       exclude: Any = None) -> dict[str, nn.Linear]:
    """The model's ``nn.Linear`` layers by qualified name, filtered.

    ``include`` / ``exclude`` are a name substring, a list of them, or a
    predicate ``f(name, module) -> bool``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")

    def matcher(spec):
        if spec is None:
            return None
        if callable(spec):
            return spec
        subs = [spec] if isinstance(spec, str) else list(spec)
        return lambda name, _m: any(s in name for s in subs)

    inc, exc = matcher(include), matcher(exclude)
    layers = {n: m for n, m in model.named_modules() if type(m) is nn.Linear
              and (inc is None or inc(n, m)) and (exc is None or not exc(n, m))}
    if not layers:
        raise ValueError("model has no nn.Linear layers to compress"
                         + (" after include/exclude" if include or exclude else ""))
    return layers


@dataclass
class LayerStats:
    """Running calibration sums of one linear layer (float64)."""

    xtx: torch.Tensor | None = None
    abs_sum: torch.Tensor | None = None
    n_tokens: int = 0
    grad: torch.Tensor | None = None
    batch_grads: list = field(default_factory=list)
    gtg: torch.Tensor | None = None
    n_out_tokens: int = 0

    @property
    def covariance(self) -> torch.Tensor:
        """``E[x x^T]`` over the calibration tokens."""
        return self.xtx / max(self.n_tokens, 1)

    @property
    def abs_mean(self) -> torch.Tensor:
        """``E|x|`` per input channel."""
        return self.abs_sum / max(self.n_tokens, 1)

    @property
    def out_metric(self) -> torch.Tensor | None:
        """``E[g g^T]`` over the calibration tokens (``None`` if not collected)."""
        return None if self.gtg is None else self.gtg / max(self.n_out_tokens, 1)


def _sampled_nll(logits: torch.Tensor, top_k: int, generator: torch.Generator) -> torch.Tensor:
    """Sum over rows of -log p~(y) with y drawn from the renormalised top-K softmax p~."""
    k = min(int(top_k), logits.shape[-1])
    sub = logits if k == logits.shape[-1] else logits.gather(
        -1, logits.detach().topk(k, dim=-1).indices)
    logp = F.log_softmax(sub.float(), dim=-1)
    probs = logp.detach().exp().cpu()
    y = torch.multinomial(probs, 1, generator=generator).to(logits.device)
    return -logp.gather(-1, y).sum()


def collect_statistics(model: nn.Module, layers: dict[str, nn.Linear], calibration: Iterable,
                       objective: Objective, *, inputs: bool = True, gradients: bool = False,
                       batch_gradients: bool = False, output_metric: bool = False,
                       top_k: int = 32, seed: int = 0,
                       progress: bool = False) -> tuple[dict[str, LayerStats], float]:
    """One streaming pass over ``calibration``; returns the per-layer sums and the seconds taken.

    Memory is bounded by the sums (``in^2 + out * in + out^2`` per layer),
    whatever the number of batches.
    """
    from tqdm.auto import tqdm

    stats = {name: LayerStats() for name in layers}
    handles = []
    capture = {"inputs": inputs, "outputs": False}

    def pre_hook(name):
        def hook(_mod, args):
            if not capture["inputs"]:
                return
            x = args[0].detach().reshape(-1, args[0].shape[-1]).double()
            st = stats[name]
            if st.xtx is None:
                st.xtx = torch.zeros(x.shape[1], x.shape[1], dtype=torch.float64, device=x.device)
                st.abs_sum = torch.zeros(x.shape[1], dtype=torch.float64, device=x.device)
            st.xtx.addmm_(x.T, x)
            st.abs_sum += x.abs().sum(0)
            st.n_tokens += x.shape[0]
        return hook

    def fwd_hook(name):
        def hook(_mod, _args, out):
            if not capture["outputs"] or not out.requires_grad:
                return

            def grad_hook(g):
                g2 = g.detach().reshape(-1, g.shape[-1]).double()
                st = stats[name]
                if st.gtg is None:
                    st.gtg = torch.zeros(g2.shape[1], g2.shape[1], dtype=torch.float64,
                                         device=g2.device)
                st.gtg.addmm_(g2.T, g2)
                st.n_out_tokens += g2.shape[0]
            out.register_hook(grad_hook)
        return hook

    for name, mod in layers.items():
        handles.append(mod.register_forward_pre_hook(pre_hook(name)))
        if output_metric:
            handles.append(mod.register_forward_hook(fwd_hook(name)))

    params = [m.weight for m in layers.values()]
    req = [p.requires_grad for p in params]
    was_training = model.training
    model.eval()
    gen = torch.Generator().manual_seed(int(seed))
    t0 = time.perf_counter()
    batches = list(calibration)
    try:
        for p in params:
            p.requires_grad_(True)
        for batch in tqdm(batches, desc="calibration", disable=not progress):
            capture["inputs"] = inputs
            if gradients or batch_gradients:
                loss = objective.loss(model, batch)
                grads = torch.autograd.grad(loss, params)
                for name, g in zip(layers, grads, strict=True):
                    st = stats[name]
                    g = g.detach().double()
                    st.grad = g / len(batches) if st.grad is None else st.grad + g / len(batches)
                    if batch_gradients:
                        st.batch_grads.append(g.float())
            elif inputs:
                with torch.no_grad():
                    objective.logits(model, batch)
            capture["inputs"] = False
            if output_metric:
                capture["outputs"] = True
                nll = _sampled_nll(objective.logits(model, batch), top_k, gen)
                torch.autograd.grad(nll, params, allow_unused=True)
                capture["outputs"] = False
    finally:
        for h in handles:
            h.remove()
        for p, r in zip(params, req, strict=True):
            p.requires_grad_(r)
        model.train(was_training)
    return stats, time.perf_counter() - t0
