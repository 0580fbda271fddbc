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

The data is checked once, at the public entry point, before anything runs:
every batch's layout and values (one reduction per device, not one read per
batch), then one forward pass on the first batch, in eval mode, to check the
ids or labels against the model's number of outputs.
"""

from __future__ import annotations

import numbers
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from ..._validation import check_finite, check_int
from .._reparam import check_module

_T = TypeVar("_T")

#: The label that ``F.cross_entropy`` ignores by default (its ``ignore_index``).
IGNORE_INDEX = -100

__all__ = ["Objective", "LayerStats", "causal_lm_objective", "classification_objective",
           "resolve_objective", "find_linear_layers", "collect_statistics", "check_batches",
           "prepare_batches", "check_layout", "score", "check_before_training",
           "largest_index", "check_index_range"]


@dataclass(frozen=True)
class Objective:
    """How a calibration batch is scored: ``loss(model, batch)`` and ``logits(model, batch)``."""

    loss: Callable[[nn.Module, Any], torch.Tensor]
    logits: Callable[[nn.Module, Any], torch.Tensor]
    name: str = "custom"

    def __post_init__(self) -> None:
        for arg in ("loss", "logits"):
            if not callable(getattr(self, arg)):
                raise TypeError(f"{arg} must be a callable (model, batch) -> tensor, got "
                                f"{type(getattr(self, arg)).__name__}")
        if not isinstance(self.name, str):
            raise TypeError(f"name must be a str, got {type(self.name).__name__}")


def _lm_logits(model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
    out = model(batch[:, :-1])
    return out.reshape(-1, out.shape[-1])


def _lm_loss(model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(_lm_logits(model, batch), batch[:, 1:].reshape(-1))


def _cls_logits(model: nn.Module, batch: Any) -> torch.Tensor:
    return model(batch[0])


def _cls_loss(model: nn.Module, batch: Any) -> torch.Tensor:
    return F.cross_entropy(model(batch[0]), batch[1])


def causal_lm_objective() -> Objective:
    """Batches ``(B, T + 1)`` of token ids: the model reads ``[:, :-1]``, predicts ``[:, 1:]``."""
    return Objective(_lm_loss, _lm_logits, "causal-lm")


def classification_objective() -> Objective:
    """Batches ``(x, y)``: cross-entropy of ``model(x)`` against the labels ``y``.

    ``y`` holds class indices (``(N,)``, or ``(N, d1, ...)`` for logits
    ``(N, C, d1, ...)``; ``-100`` is ignored, as by ``F.cross_entropy``) or
    float class probabilities shaped like the logits.
    """
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


def check_batches(calibration: Any, name: str = "calibration") -> list[Any]:
    """The calibration batches as a list; a clear error if there are none or one is unusable.

    One pass over the data: every tensor in a batch (a tensor, a tuple/list
    of them, or a dict of them) must be non-empty and, if floating, finite.
    """
    if calibration is None:
        raise ValueError(f"{name} is required: an iterable of batches (e.g. a DataLoader)")
    if torch.is_tensor(calibration):
        raise TypeError(f"{name} must be an iterable of batches, not one tensor; wrap it in a list")
    if isinstance(calibration, (str, bytes)) or not isinstance(calibration, Iterable):
        raise TypeError(f"{name} must be an iterable of batches (e.g. a list or a DataLoader), "
                        f"got {type(calibration).__name__}")
    batches = list(calibration)
    if not batches:
        raise ValueError(f"{name} must hold at least one batch")
    floats: list[tuple[str, torch.Tensor]] = []
    for i, batch in enumerate(batches):
        _check_batch(batch, f"{name}[{i}]", floats)
    if floats and not _all_true([torch.isfinite(t.detach()).all() for _, t in floats]):
        for where, t in floats:
            check_finite(t.detach(), where)
    return batches


def _all_true(flags: list[torch.Tensor]) -> bool:
    """Whether every 0-d boolean flag is true: one read per device, not one per flag."""
    by_device: dict[torch.device, list[torch.Tensor]] = {}
    for f in flags:
        by_device.setdefault(f.device, []).append(f)
    return all(bool(torch.stack(fs).all()) for fs in by_device.values())


def _check_batch(batch: Any, where: str, floats: list[tuple[str, torch.Tensor]]) -> None:
    """Kinds and sizes of one batch; its floating tensors go to ``floats`` (checked together)."""
    if torch.is_tensor(batch):
        if batch.numel() == 0:
            raise ValueError(f"{where} must not be empty, got shape {tuple(batch.shape)}")
        if batch.is_floating_point():
            floats.append((where, batch))
    elif isinstance(batch, (tuple, list)):
        if not batch:
            raise ValueError(f"{where} must not be an empty {type(batch).__name__}")
        for j, part in enumerate(batch):
            if torch.is_tensor(part) or isinstance(part, (tuple, list, Mapping)):
                _check_batch(part, f"{where}[{j}]", floats)
    elif isinstance(batch, Mapping):
        for key, part in batch.items():
            if torch.is_tensor(part):
                _check_batch(part, f"{where}[{key!r}]", floats)
    elif batch is None or isinstance(batch, (str, bytes, numbers.Number)):
        raise TypeError(f"{where} must be a batch (a tensor, a tuple of tensors or a dict of "
                        f"tensors), got {type(batch).__name__}")


def prepare_batches(calibration: Any, objective: Objective | None,
                    name: str = "calibration") -> tuple[list[Any], Objective]:
    """:func:`check_batches`, then the objective; batches checked against a default objective.

    The default objectives need every batch of the first batch's kind:
    ``(B, T + 1)`` integer tensors with ``T >= 1`` (causal LM), or ``(x, y)``
    pairs with labels ``y`` of one row per row of ``x`` (classification; see
    :func:`classification_objective`).
    """
    batches = check_batches(calibration, name)
    try:
        obj = resolve_objective(objective, batches[0])
    except TypeError as err:
        raise TypeError(f"{name}: {err}") from None
    check_layout(batches, obj, name)
    return batches, obj


def check_layout(batches: list[Any], objective: Objective, name: str = "calibration") -> None:
    """Every batch in the layout the built-in objectives read (no check for custom ones).

    Classification labels ``y`` are integer class indices ``>= 0`` (or
    ``-100``, which the loss ignores) of shape ``(N,)`` or ``(N, d1, ...)``,
    or float class probabilities ``(N, C, ...)``; ``N`` is the number of rows
    of ``x``.
    """
    if objective.name == "causal-lm":
        for i, b in enumerate(batches):
            if not (torch.is_tensor(b) and b.dim() == 2 and not b.is_floating_point()
                    and b.dtype != torch.bool and b.shape[1] >= 2):
                raise ValueError(f"{name}[{i}] must be a (B, T + 1) integer token batch with "
                                 f"T >= 1 like {name}[0], got {_describe(b)}")
        for i, (lo, _hi) in enumerate(_extrema(batches, ignore=False)):
            if lo is not None and lo < 0:
                raise ValueError(f"{name}[{i}] must hold token ids >= 0, got minimum {lo}")
    elif objective.name == "classification":
        indices: list[tuple[int, torch.Tensor]] = []
        for i, b in enumerate(batches):
            ok = isinstance(b, (tuple, list)) and len(b) == 2 and all(map(torch.is_tensor, b))
            if not ok:
                raise ValueError(f"{name}[{i}] must be an (x, y) pair of tensors like "
                                 f"{name}[0], got {_describe(b)}")
            x, y = b
            if y.dtype == torch.bool or y.dim() == 0 or y.is_complex():
                raise ValueError(f"{name}[{i}][1] (the labels y) must be integer class indices "
                                 f"(N,) or float class probabilities (N, C), got {_describe(y)}")
            if y.is_floating_point() and y.dim() < 2:
                raise ValueError(f"{name}[{i}][1] (the labels y) must be an integer tensor of "
                                 f"class indices, or float class probabilities (N, C, ...) "
                                 f"shaped like the logits, got {_describe(y)}")
            if x.dim() == 0 or x.shape[0] != y.shape[0]:
                raise ValueError(f"{name}[{i}] must hold one label per row of x, got x of shape "
                                 f"{tuple(x.shape)} and y of shape {tuple(y.shape)}")
            if not y.is_floating_point():
                indices.append((i, y))
        extrema = _extrema([y for _, y in indices], ignore=True)
        for (i, _), (lo, _hi) in zip(indices, extrema, strict=True):
            if lo is not None and lo < 0:
                raise ValueError(f"{name}[{i}][1] (the labels y) must be class indices >= 0 "
                                 f"(or {IGNORE_INDEX}, which the loss ignores), got minimum {lo}")


def _extrema(tensors: list[torch.Tensor],
             ignore: bool) -> list[tuple[int | None, int | None]]:
    """``(min, max)`` of each integer tensor, ``IGNORE_INDEX`` left out if ``ignore``.

    One read per device for all the tensors together; ``(None, None)`` for a
    tensor whose every entry is ignored.
    """
    pairs: list[torch.Tensor] = []
    for t in tensors:
        t = t.detach()
        if ignore and t.dtype != torch.uint8:
            keep = t != IGNORE_INDEX
            info = torch.iinfo(t.dtype)
            lo, hi = torch.where(keep, t, info.max).amin(), torch.where(keep, t, info.min).amax()
            pairs.append(torch.stack((lo.long(), hi.long(), keep.any().long())))
        else:
            pairs.append(torch.stack((t.amin().long(), t.amax().long(), t.new_ones(()).long())))
    out: list[tuple[int | None, int | None]] = [(None, None)] * len(tensors)
    by_device: dict[torch.device, list[int]] = {}
    for k, p in enumerate(pairs):
        by_device.setdefault(p.device, []).append(k)
    for idx in by_device.values():
        for k, (lo, hi, any_kept) in zip(idx, torch.stack([pairs[k] for k in idx]).tolist(),
                                         strict=True):
            if any_kept:
                out[k] = (lo, hi)
    return out


def largest_index(batches: list[Any], objective: Objective) -> int | None:
    """The largest token id (causal LM) or class index (classification) in ``batches``; else None.

    Labels equal to ``-100`` (ignored by the loss) and float class
    probabilities do not count.
    """
    if objective.name == "causal-lm":
        tensors = list(batches)
        ignore = False
    elif objective.name == "classification":
        tensors = [b[1] for b in batches if not b[1].is_floating_point()]
        ignore = True
    else:
        return None
    his = [hi for _lo, hi in _extrema(tensors, ignore) if hi is not None]
    return max(his) if his else None


def _n_outputs(logits: torch.Tensor) -> int | None:
    """The class axis of ``F.cross_entropy``: axis 1 (the last one for ``(N, C)`` logits)."""
    if logits.dim() == 0:
        return None
    return int(logits.shape[1] if logits.dim() >= 2 else logits.shape[0])


def check_index_range(largest: int | None, logits: torch.Tensor, name: str) -> None:
    """Token ids / labels against the model's number of outputs (the logits' class axis, 1)."""
    n = _n_outputs(logits)
    if largest is not None and n is not None and largest >= n:
        raise ValueError(f"{name} holds index {largest} but the model has {n} "
                         f"outputs: token ids and labels must lie in [0, {n})")


@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """``model`` in eval mode; afterwards every submodule gets back its own mode."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, mode in modes:
            m.training = mode


def check_before_training(model: nn.Module, batches: list[Any], objective: Objective,
                          name: str) -> None:
    """Once, before the first step: score the first batch (eval mode, no gradient, no RNG)
    and check every batch's ids or labels against the model's number of outputs.

    Every submodule keeps its training mode (a frozen BatchNorm stays in eval).
    """
    if objective.name not in ("causal-lm", "classification"):
        return
    largest = largest_index(batches, objective)
    soft = [(i, b[1]) for i, b in enumerate(batches)
            if objective.name == "classification" and b[1].is_floating_point()
            and b[1].dim() >= 2]
    if largest is None and not soft:
        return
    with _eval_mode(model), torch.no_grad():
        logits = score(objective.logits, model, batches[0], f"{name}[0]")
    check_index_range(largest, logits, name)
    n = _n_outputs(logits)
    for i, y in soft:
        if n is not None and y.shape[1] != n:
            raise ValueError(f"{name}[{i}][1] (the labels y) holds probabilities over "
                             f"{y.shape[1]} classes but the model has {n} outputs, got y of "
                             f"shape {tuple(y.shape)}")


def _describe(b: Any) -> str:
    if torch.is_tensor(b):
        return f"a tensor of shape {tuple(b.shape)} and dtype {b.dtype}"
    return f"a {type(b).__name__}"


def score(fn: Callable[[nn.Module, Any], _T], model: nn.Module, batch: Any, where: str) -> _T:
    """``fn(model, batch)``; an ``IndexError`` (ids or labels out of range) names ``where``."""
    try:
        return fn(model, batch)
    except IndexError as err:
        raise ValueError(f"{where} holds indices the model cannot use (token ids beyond its "
                         f"vocabulary or labels beyond its classes?): {err}") from None


def find_linear_layers(model: nn.Module, include: Any = None,
                       exclude: Any = None) -> dict[str, nn.Linear]:
    """The model's ``nn.Linear`` layers by qualified name, filtered.

    ``include`` / ``exclude`` are a name substring, a list of them, or a
    predicate ``f(name, module) -> bool``.
    """
    check_module(model)

    def matcher(spec: Any, arg: str) -> Callable[[str, nn.Module], bool] | None:
        if spec is None:
            return None
        if callable(spec):
            return spec
        if isinstance(spec, str):
            subs = [spec]
        elif isinstance(spec, (list, tuple, set, frozenset)) and all(
                isinstance(s, str) for s in spec):
            subs = list(spec)
        else:
            raise TypeError(f"{arg} must be None, a name substring, a list of them or a "
                            f"predicate f(name, module) -> bool, got {spec!r}")
        return lambda name, _m: any(s in name for s in subs)

    inc, exc = matcher(include, "include"), matcher(exclude, "exclude")
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
        if self.xtx is None:
            raise ValueError("no layer inputs were collected (inputs=False, or the layer never "
                             "ran on the calibration data)")
        return self.xtx / max(self.n_tokens, 1)

    @property
    def abs_mean(self) -> torch.Tensor:
        """``E|x|`` per input channel."""
        if self.abs_sum is None:
            raise ValueError("no layer inputs were collected (inputs=False, or the layer never "
                             "ran on the calibration data)")
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
    whatever the number of batches. The model's and its submodules' training
    modes are the same afterwards.
    """
    check_module(model)
    if not isinstance(layers, Mapping):
        raise TypeError(f"layers must be a non-empty dict of name -> nn.Linear (see "
                        f"find_linear_layers), got {type(layers).__name__}")
    if not layers:
        raise ValueError("layers must be a non-empty dict of name -> nn.Linear (see "
                         "find_linear_layers), got an empty one")
    owned = {id(m) for m in model.modules()}
    for lname, mod in layers.items():
        if not isinstance(mod, nn.Linear):
            raise TypeError(f"layers[{lname!r}] must be an nn.Linear, got {type(mod).__name__}")
        if id(mod) not in owned:
            raise ValueError(f"layers[{lname!r}] is not a module of model")
    if not isinstance(objective, Objective):
        raise TypeError(f"objective must be an Objective (e.g. causal_lm_objective()), got "
                        f"{type(objective).__name__}")
    top_k = check_int(top_k, "top_k", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    batches = check_batches(calibration)
    check_layout(batches, objective)
    check_before_training(model, batches, objective, "calibration")
    return _collect_statistics(model, layers, batches, objective, inputs=inputs,
                               gradients=gradients, batch_gradients=batch_gradients,
                               output_metric=output_metric, top_k=top_k, seed=seed,
                               progress=progress)


def _collect_statistics(model: nn.Module, layers: Mapping[str, nn.Linear], batches: list[Any],
                        objective: Objective, *, inputs: bool = True, gradients: bool = False,
                        batch_gradients: bool = False, output_metric: bool = False,
                        top_k: int = 32, seed: int = 0,
                        progress: bool = False) -> tuple[dict[str, LayerStats], float]:
    """:func:`collect_statistics` on arguments and batches already checked."""
    from tqdm.auto import tqdm

    stats = {name: LayerStats() for name in layers}
    handles = []
    capture = {"inputs": inputs, "outputs": False}

    def pre_hook(name: str) -> Callable[..., None]:
        def hook(_mod: nn.Module, args: tuple[Any, ...]) -> None:
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

    def fwd_hook(name: str) -> Callable[..., None]:
        def hook(_mod: nn.Module, _args: Any, out: torch.Tensor) -> None:
            if not capture["outputs"] or not out.requires_grad:
                return

            def grad_hook(g: torch.Tensor) -> None:
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
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    gen = torch.Generator().manual_seed(int(seed))
    t0 = time.perf_counter()
    try:
        for p in params:
            p.requires_grad_(True)
        for i, batch in enumerate(tqdm(batches, desc="calibration", disable=not progress)):
            where = f"calibration[{i}]"
            capture["inputs"] = inputs
            if gradients or batch_gradients:
                loss = score(objective.loss, model, batch, where)
                grads = torch.autograd.grad(loss, params)
                for name, g in zip(layers, grads, strict=True):
                    st = stats[name]
                    g = g.detach().double()
                    st.grad = g / len(batches) if st.grad is None else st.grad + g / len(batches)
                    if batch_gradients:
                        st.batch_grads.append(g.float())
            elif inputs:
                with torch.no_grad():
                    score(objective.logits, model, batch, where)
            capture["inputs"] = False
            if output_metric:
                capture["outputs"] = True
                nll = _sampled_nll(score(objective.logits, model, batch, where), top_k, gen)
                torch.autograd.grad(nll, params, allow_unused=True)
                capture["outputs"] = False
    finally:
        for h in handles:
            h.remove()
        for p, r in zip(params, req, strict=True):
            p.requires_grad_(r)
        for m, mode in modes:
            m.training = mode
    return stats, time.perf_counter() - t0
