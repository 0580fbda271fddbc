"""Whole-model reparameterisation: a module's weights generated from a few trained tensors.

:class:`Reparameterized` is what PRANC and MCNC share: which parameters are
generated (the *selection*), a forward pass that generates them and calls
the wrapped model with them (``torch.func.functional_call``), and the
export / rebuild contract (:class:`CompressedModel`). A subclass says how
weights are generated from its trained tensors.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from ._basis import check_seed
from ._io import load_tensors, save_tensors, tensor_bytes

__all__ = ["Reparameterized", "CompressedModel", "rebuild", "init_bound", "select_parameters"]

# modules whose parameters are generated when ``include`` is None
_DEFAULT_MODULES = (nn.Linear, nn.Bilinear, nn.Embedding, nn.EmbeddingBag,
                    nn.Conv1d, nn.Conv2d, nn.Conv3d,
                    nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)

_METHODS: dict[str, type[Reparameterized]] = {}

IncludeLike = Sequence[str] | str | Callable[[str, nn.Parameter], bool] | None


@dataclass(frozen=True)
class CompressedModel:
    """What a compressed model is stored as: a seed, a config and a few tensors.

    Attributes
    ----------
    method : str
        ``"pranc"`` or ``"mcnc"``.
    seed : int
        The seed every random tensor of the method is generated from.
    config : dict
        The method's hyper-parameters and the names and shapes of the
        generated parameters (checked against the model on rebuild).
    tensors : dict[str, torch.Tensor]
        The trained tensors of the method (e.g. ``"coefficients"``), plus
        ``"dense.<name>"`` for parameters kept as they are and
        ``"buffer.<name>"`` for the model's buffers (e.g. batch-norm
        statistics).
    """

    method: str
    seed: int
    config: dict[str, Any]
    tensors: dict[str, torch.Tensor] = field(repr=False)

    @property
    def nbytes(self) -> int:
        """Bytes stored: every tensor's values plus 8 for the seed."""
        return tensor_bytes(self.tensors) + 8

    def save(self, path) -> Path:
        """Write to a ``.safetensors`` file (method, seed and config in its metadata)."""
        meta = {"format": "mintlab.compress/1", "method": self.method, "seed": self.seed,
                "config": self.config}
        return save_tensors(path, self.tensors, meta)

    @classmethod
    def load(cls, path) -> CompressedModel:
        """Read a file written by :meth:`save`."""
        tensors, meta = load_tensors(path)
        if meta.get("format") != "mintlab.compress/1":
            raise ValueError(f"{str(path)!r} holds no compressed model "
                             f"(format {meta.get('format')!r})")
        return cls(meta["method"], int(meta["seed"]), meta["config"], tensors)


def init_bound(model: nn.Module, name: str, params: dict | None = None) -> float:
    """Half-width of the uniform distribution PyTorch's default init uses for ``name``.

    Linear/conv weights (and their biases): ``1 / sqrt(fan_in)``. Embedding
    weights (default init N(0, 1)): ``sqrt(3)``, the uniform bound of unit
    variance. Any other tensor: ``1 / sqrt(fan_in)`` if it has two or more
    axes, ``1 / sqrt(numel)`` otherwise.
    """
    module_name, _, leaf = name.rpartition(".")
    module = model.get_submodule(module_name) if module_name else model
    param = (params if params is not None else dict(model.named_parameters()))[name]
    if isinstance(module, nn.Embedding | nn.EmbeddingBag) and leaf == "weight":
        return math.sqrt(3.0)
    weight = getattr(module, "weight", None)
    if param.ndim < 2 and isinstance(weight, torch.Tensor) and weight.ndim >= 2 \
            and leaf != "weight":
        param = weight  # a bias takes its weight's fan-in, as PyTorch's default init does
    if param.ndim >= 2:
        fan_in, _ = nn.init._calculate_fan_in_and_fan_out(param)
        return 1.0 / math.sqrt(max(fan_in, 1))
    return 1.0 / math.sqrt(max(param.numel(), 1))


def _as_patterns(value, argname: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        return list(value)
    raise TypeError(f"{argname} must be None, a name pattern, a list of name patterns or a "
                    f"callable (name, parameter) -> bool, got {type(value).__name__}")


def select_parameters(model: nn.Module, include: IncludeLike = None,
                      exclude: Sequence[str] | str | None = None) -> list[str]:
    """Names of the parameters of ``model`` picked by ``include`` minus ``exclude``.

    ``include=None`` picks every parameter of the linear, bilinear,
    embedding and convolution layers; patterns are ``fnmatch`` globs on the
    full parameter name (``"encoder.*.weight"``); a callable gets
    ``(name, parameter)``. A pattern that matches nothing is an error.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    named = dict(model.named_parameters())
    if not named:
        raise ValueError("model has no parameters to compress")
    if include is None:
        chosen = [f"{m}.{p}" if m else p
                  for m, mod in model.named_modules() if isinstance(mod, _DEFAULT_MODULES)
                  for p, _ in mod.named_parameters(recurse=False)]
        chosen = [n for n in named if n in set(chosen)]
    elif callable(include) and not isinstance(include, str):
        chosen = [n for n, p in named.items() if include(n, p)]
    else:
        patterns = _as_patterns(include, "include")
        for pat in patterns:
            if not any(fnmatch.fnmatchcase(n, pat) for n in named):
                raise ValueError(f"include pattern {pat!r} matches no parameter of the model; "
                                 f"its parameters are {sorted(named)[:20]}")
        chosen = [n for n in named if any(fnmatch.fnmatchcase(n, p) for p in patterns)]
    if exclude is not None:
        patterns = _as_patterns(exclude, "exclude")
        chosen = [n for n in chosen if not any(fnmatch.fnmatchcase(n, p) for p in patterns)]
    if not chosen:
        raise ValueError("no parameter of the model is selected for compression "
                         "(check include/exclude)")
    return chosen


class Reparameterized(nn.Module):
    """Base class: ``model``'s selected parameters generated by :meth:`generate`.

    The wrapped model is called through ``torch.func.functional_call`` with
    the generated tensors in place of the selected parameters, which are
    frozen. Parameters that are not selected keep their ``requires_grad``
    and are stored in full in :meth:`export`.
    """

    method: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.method:
            _METHODS[cls.method] = cls

    def __init__(self, model: nn.Module, seed: int, include: IncludeLike = None,
                 exclude: Sequence[str] | str | None = None) -> None:
        super().__init__()
        self.seed = check_seed(seed)
        names = select_parameters(model, include, exclude)
        params = dict(model.named_parameters())
        ref = params[names[0]]
        for n in names:
            p = params[n]
            if not p.is_floating_point():
                raise TypeError(f"parameter {n!r} has dtype {p.dtype}; only floating "
                                "parameters can be generated")
            if p.dtype != ref.dtype or p.device != ref.device:
                raise ValueError(f"selected parameters must share one dtype and device; "
                                 f"{names[0]!r} is {ref.dtype} on {ref.device}, {n!r} is "
                                 f"{p.dtype} on {p.device}")
        self.model = model
        self.param_names: tuple[str, ...] = tuple(names)
        self.shapes: tuple[tuple[int, ...], ...] = tuple(tuple(params[n].shape) for n in names)
        self.bounds: tuple[float, ...] = tuple(init_bound(model, n, params) for n in names)
        for n in names:
            params[n].requires_grad_(False)

    # --------------------------------------------------------------- subclass API
    def generate(self) -> dict[str, torch.Tensor]:  # pragma: no cover - abstract
        """The generated tensors, by parameter name (differentiable in the trained tensors)."""
        raise NotImplementedError

    def compressed_tensors(self) -> dict[str, torch.Tensor]:  # pragma: no cover - abstract
        """The method's trained tensors, by name."""
        raise NotImplementedError

    def method_config(self) -> dict[str, Any]:  # pragma: no cover - abstract
        """The keyword arguments that rebuild this method (besides model, seed, selection)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ the model
    def forward(self, *args, **kwargs):
        return torch.func.functional_call(self.model, self.generate(), args, kwargs,
                                          strict=False)

    def trainable_parameters(self) -> list[nn.Parameter]:
        """The parameters an optimiser should get (the method's tensors + unselected ones)."""
        return [p for p in self.parameters() if p.requires_grad]

    @torch.no_grad()
    def materialize(self) -> nn.Module:
        """Write the generated weights into the wrapped model and return it (plain inference)."""
        params = dict(self.model.named_parameters())
        for name, value in self.generate().items():
            params[name].copy_(value)
        return self.model

    # ---------------------------------------------------------------- storage
    def _config(self) -> dict[str, Any]:
        return {**self.method_config(), "param_names": list(self.param_names),
                "shapes": [list(s) for s in self.shapes]}

    def export(self) -> CompressedModel:
        """Everything needed to rebuild the model: seed, config, trained tensors."""
        tensors = {k: v.detach().clone() for k, v in self.compressed_tensors().items()}
        selected = set(self.param_names)
        for n, p in self.model.named_parameters():
            if n not in selected:
                tensors[f"dense.{n}"] = p.detach().clone()
        for n, b in self.model.named_buffers():
            tensors[f"buffer.{n}"] = b.detach().clone()
        return CompressedModel(self.method, self.seed, self._config(), tensors)

    @classmethod
    def from_export(cls, model: nn.Module, exported: CompressedModel):
        """The wrapper of ``model`` holding the trained tensors of ``exported``."""
        if not isinstance(exported, CompressedModel):
            raise TypeError(f"exported must be a CompressedModel, got {type(exported).__name__}")
        if exported.method != cls.method:
            raise ValueError(f"exported holds a {exported.method!r} model, not {cls.method!r}")
        cfg = dict(exported.config)
        names, shapes = cfg.pop("param_names"), [tuple(s) for s in cfg.pop("shapes")]
        params = dict(model.named_parameters())
        for n, s in zip(names, shapes, strict=True):
            if n not in params:
                raise ValueError(f"model has no parameter {n!r} (the exported model was "
                                 "built on another architecture)")
            if tuple(params[n].shape) != s:
                raise ValueError(f"parameter {n!r} has shape {tuple(params[n].shape)} in "
                                 f"model but {s} in the exported model")
        wrapper = cls(model, seed=exported.seed, include=list(names), **cfg)
        own = wrapper.compressed_tensors()
        buffers = dict(model.named_buffers())
        with torch.no_grad():
            for key, value in exported.tensors.items():
                if key.startswith("dense."):
                    target = params.get(key[6:])
                elif key.startswith("buffer."):
                    target = buffers.get(key[7:])
                else:
                    target = own.get(key)
                if target is None:
                    raise ValueError(f"exported tensor {key!r} has no counterpart in the model")
                if tuple(target.shape) != tuple(value.shape):
                    raise ValueError(f"exported tensor {key!r} has shape {tuple(value.shape)}, "
                                     f"the model expects {tuple(target.shape)}")
                target.copy_(value)
        return wrapper

    def stored_bytes(self) -> int:
        """Bytes of :meth:`export` (trained tensors, unselected parameters, buffers, seed)."""
        return self.export().nbytes

    def dense_bytes(self) -> int:
        """Bytes of the uncompressed model's parameters and buffers."""
        return tensor_bytes(list(self.model.parameters()) + list(self.model.buffers()))

    def compression_ratio(self) -> float:
        """``dense_bytes() / stored_bytes()``."""
        return self.dense_bytes() / self.stored_bytes()

    def extra_repr(self) -> str:
        n = sum(math.prod(s) for s in self.shapes)
        k = sum(t.numel() for t in self.compressed_tensors().values())
        return (f"generated={n} values in {len(self.shapes)} tensors from {k} trained, "
                f"seed={self.seed}")


def rebuild(model: nn.Module, exported: CompressedModel) -> nn.Module:
    """Write the weights stored in ``exported`` into ``model`` (same architecture) and return it.

    With the device, dtype and thread count the model was trained with, the
    weights are the same bit for bit as those the compressed model used;
    elsewhere they agree to floating-point rounding (the random tensors
    themselves are identical everywhere).
    """
    if not isinstance(exported, CompressedModel):
        raise TypeError(f"exported must be a CompressedModel, got {type(exported).__name__}")
    if exported.method not in _METHODS:
        raise ValueError(f"unknown compression method {exported.method!r}; "
                         f"known: {sorted(_METHODS)}")
    wrapper = _METHODS[exported.method].from_export(model, exported)
    model = wrapper.materialize()
    params = dict(model.named_parameters())
    for name in wrapper.param_names:  # a plain model again: its weights may be fine-tuned
        params[name].requires_grad_(True)
    return model
