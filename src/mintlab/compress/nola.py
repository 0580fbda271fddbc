"""NOLA adapters (``nola``) and same-shaped LoRA adapters, in the shape of Hugging Face PEFT.

A low-rank adapter adds ``scale * B A`` to a frozen layer's weight
(``A``: ``rank x in``, ``B``: ``out x rank``, ``scale = alpha / rank``).

* **LoRA** trains ``A`` and ``B`` directly: at least ``rank * (in + out)``
  numbers per layer.
* **NOLA** writes each factor as a linear combination of frozen random
  matrices generated from a seed,
  ``A = sum_i a_i A_i`` and ``B = sum_j b_j B_j``, and trains only the
  ``n_basis_A + n_basis_B`` coefficients, whatever the rank and the layer's
  size. Stored: the coefficients and the seed.

The API follows PEFT: a config dataclass, ``apply_nola(model, config)``
replacing the targeted ``nn.Linear`` / ``nn.Conv*d`` layers in place and
freezing everything else, ``merge_adapter`` / ``unmerge_adapter``, and
``save_adapter`` / ``load_adapter`` writing only the trained tensors (plus
seed and config) to a safetensors file. ``apply_lora(..., backend="auto")``
uses PEFT's own LoRA when ``peft`` is installed (the ``llm`` extra).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from mintlab._validation import check_choice, check_int, check_positive

from .._artifacts import require_keys
from .._random import seeded_global_rng
from ..errors import ArtifactError
from ._basis import Stream, check_seed, rng_problem, rng_record, stream_generator, uniform
from ._io import check_path, load_tensors, save_tensors, tensor_bytes
from ._reparam import check_module

__all__ = [
    "NOLAConfig", "LoRAConfig", "NOLALayer", "LoRALayer",
    "apply_nola", "apply_lora", "merge_adapter", "unmerge_adapter",
    "adapter_state_dict", "save_adapter", "load_adapter",
    "count_trainable_parameters", "adapter_bytes", "peft_available", "to_peft_lora",
]

_SUPPORTED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
_Base = nn.Linear | nn.Conv1d | nn.Conv2d | nn.Conv3d


def _check_targets(target_modules: Any,
                   name: str = "target_modules") -> tuple[str, ...] | str | None:
    if target_modules is None or isinstance(target_modules, str):
        return target_modules
    if isinstance(target_modules, Sequence) and target_modules and all(
            isinstance(t, str) and t for t in target_modules):
        return tuple(target_modules)
    raise TypeError(f"{name} must be None, a regular expression or a non-empty list of "
                    f"module names, got {target_modules!r}")


@dataclass(frozen=True)
class NOLAConfig:
    """Configuration of a NOLA adapter.

    Parameters
    ----------
    rank : int
        Rank of ``B A``.
    n_basis_A, n_basis_B : int
        Number of random basis matrices for each factor (the trained
        coefficients per layer: ``n_basis_A + n_basis_B``).
    target_modules : list of str, str or None
        As in PEFT: a list of module names, each matching a module whose
        name equals it or ends with ``"." + name``; a string is a regular
        expression matched against full module names; ``None`` targets
        every ``nn.Linear`` and ``nn.Conv*d``.
    seed : int
        Seed of the random bases (stored with the adapter).
    alpha : float
        ``scale = alpha / rank``, as in LoRA.
    """

    rank: int = 4
    n_basis_A: int = 32
    n_basis_B: int = 32
    target_modules: Sequence[str] | str | None = None
    seed: int = 0
    alpha: float = 1.0

    def __post_init__(self) -> None:
        check_int(self.rank, "rank", minimum=1)
        check_int(self.n_basis_A, "n_basis_A", minimum=1)
        check_int(self.n_basis_B, "n_basis_B", minimum=1)
        check_seed(self.seed)
        check_positive(self.alpha, "alpha")
        object.__setattr__(self, "target_modules", _check_targets(self.target_modules))


@dataclass(frozen=True)
class LoRAConfig:
    """Configuration of a LoRA adapter (same fields as PEFT's ``LoraConfig`` that we use).

    ``seed`` fixes the random initialisation of ``A`` (``B`` starts at zero).
    """

    rank: int = 1
    target_modules: Sequence[str] | str | None = None
    seed: int = 0
    alpha: float = 1.0

    def __post_init__(self) -> None:
        check_int(self.rank, "rank", minimum=1)
        check_seed(self.seed)
        check_positive(self.alpha, "alpha")
        object.__setattr__(self, "target_modules", _check_targets(self.target_modules))


# ------------------------------------------------------------------------- layers
def _check_layer_args(base: Any, config: Any, config_type: type, name: Any) -> None:
    if not isinstance(base, _SUPPORTED):
        raise TypeError(f"base must be an nn.Linear or nn.Conv1d/2d/3d (the layer the adapter "
                        f"wraps), got {type(base).__name__}")
    if not isinstance(config, config_type):
        raise TypeError(f"config must be a {config_type.__name__}, got {type(config).__name__}")
    if not isinstance(name, str):
        raise TypeError(f"name must be the module's name (a str; it keys the random bases), "
                        f"got {type(name).__name__}")


class _LowRankAdapter(nn.Module):
    """A frozen base layer plus ``scale * B A``; subclasses say where ``A`` and ``B`` come from."""

    base: _Base

    def __init__(self, base: nn.Module, rank: int, alpha: float) -> None:
        super().__init__()
        self.base = cast(_Base, base)
        for p in base.parameters():
            p.requires_grad_(False)
        w = self.base.weight
        self.out_features = w.shape[0]
        self.in_features = math.prod(w.shape[1:])
        self.rank = rank
        self.scale = alpha / rank
        self.merged = False

    def factors(self) -> tuple[torch.Tensor, torch.Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    def delta_weight(self) -> torch.Tensor:
        """``scale * B A`` in the shape of the base layer's weight."""
        A, B = self.factors()
        return (self.scale * (B @ A)).view(self.base.weight.shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.merged:
            return self.base(x)
        if isinstance(self.base, nn.Linear):
            A, B = self.factors()
            return self.base(x) + self.scale * F.linear(F.linear(x, A), B)
        weight = self.base.weight + self.delta_weight()
        return self.base._conv_forward(x, weight, self.base.bias)

    @torch.no_grad()
    def merge(self) -> None:
        """Add the adapter to the base weight (faster inference); idempotent."""
        if not self.merged:
            self.base.weight += self.delta_weight()
            self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        """Subtract the adapter from the base weight again; idempotent."""
        if self.merged:
            self.base.weight -= self.delta_weight()
            self.merged = False


class NOLALayer(_LowRankAdapter):
    r"""A NOLA adapter on one layer: :math:`\Delta W = s\,(\sum_j b_j B_j)(\sum_i a_i A_i)`.

    The bases ``A_i`` (``rank x in``, uniform with half-width
    ``1/sqrt(in)``, PyTorch's default for a ``rank x in`` weight) and
    ``B_j`` (``out x rank``, half-width ``1/sqrt(rank)``) are generated from
    ``(seed, module name)`` and not stored. Coefficients start at a random
    unit vector ``a`` (so ``A`` has LoRA's initial scale) and
    ``b = 0`` (so the adapter starts as the identity), as LoRA does.
    """

    def __init__(self, base: nn.Module, config: NOLAConfig, name: str) -> None:
        _check_layer_args(base, config, NOLAConfig, name)
        super().__init__(base, config.rank, config.alpha)
        self.config, self.module_name = config, name
        w = self.base.weight
        dtype, device = w.dtype, w.device
        r, n_in, n_out = config.rank, self.in_features, self.out_features
        ba, bb = 1.0 / math.sqrt(n_in), 1.0 / math.sqrt(r)
        self.register_buffer("basis_A", uniform((config.n_basis_A, r, n_in), config.seed, "nola",
                                                name, "A", low=-ba, high=ba, dtype=dtype,
                                                device=device),
                             persistent=False)
        self.register_buffer("basis_B", uniform((config.n_basis_B, n_out, r), config.seed, "nola",
                                                name, "B", low=-bb, high=bb, dtype=dtype,
                                                device=device),
                             persistent=False)
        g = stream_generator(config.seed, "nola", name, "alpha-init")
        a0 = torch.randn(config.n_basis_A, generator=g)
        a0 /= a0.norm()  # sum_i a_i^2 = 1: A then has the variance of one basis matrix
        self.nola_alpha = nn.Parameter(a0.to(dtype=dtype, device=device))
        self.nola_beta = nn.Parameter(torch.zeros(config.n_basis_B, dtype=dtype, device=device))

    basis_A: torch.Tensor
    basis_B: torch.Tensor
    config: NOLAConfig

    def factors(self) -> tuple[torch.Tensor, torch.Tensor]:
        A = torch.einsum("i,irn->rn", self.nola_alpha, self.basis_A)
        B = torch.einsum("j,jor->or", self.nola_beta, self.basis_B)
        return A, B

    def extra_repr(self) -> str:
        return (f"rank={self.rank}, n_basis_A={self.config.n_basis_A}, "
                f"n_basis_B={self.config.n_basis_B}, seed={self.config.seed}")


class LoRALayer(_LowRankAdapter):
    """A LoRA adapter on one layer: ``A`` Kaiming-uniform from the seed, ``B`` zero (as PEFT)."""

    def __init__(self, base: nn.Module, config: LoRAConfig, name: str) -> None:
        _check_layer_args(base, config, LoRAConfig, name)
        super().__init__(base, config.rank, config.alpha)
        self.config, self.module_name = config, name
        w = self.base.weight
        bound = 1.0 / math.sqrt(self.in_features)  # kaiming_uniform_(a=sqrt(5)) on (rank, in)
        A = uniform((config.rank, self.in_features), config.seed, "lora", name, "A",
                    low=-bound, high=bound, dtype=w.dtype, device=w.device)
        self.lora_A = nn.Parameter(A)
        self.lora_B = nn.Parameter(torch.zeros(self.out_features, config.rank, dtype=w.dtype,
                                               device=w.device))

    config: LoRAConfig

    def factors(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.lora_A, self.lora_B

    def extra_repr(self) -> str:
        return f"rank={self.rank}, seed={self.config.seed}"


# ---------------------------------------------------------------------- applying
def _matches(name: str, targets) -> bool:
    if targets is None:
        return True
    if isinstance(targets, str):
        return re.fullmatch(targets, name) is not None
    return any(name == t or name.endswith("." + t) for t in targets)


def _target_names(model: nn.Module, targets) -> list[str]:
    check_module(model)
    # None and a regular expression pick the supported layers among the matches; an explicit
    # list of names must name supported layers only
    names = [n for n, m in model.named_modules()
             if n and _matches(n, targets)
             and (isinstance(targets, tuple) or isinstance(m, (*_SUPPORTED, _LowRankAdapter)))]
    layers = [n for n, m in model.named_modules() if isinstance(m, _SUPPORTED)]
    if isinstance(targets, tuple):
        for t in targets:
            if not any(n == t or n.endswith("." + t) for n in names):
                raise ValueError(f"target module {t!r} is not in the model; its linear and "
                                 f"convolution layers are {layers[:30]}")
    if not names:
        raise ValueError(f"target_modules {targets!r} matches no layer; the model's linear "
                         f"and convolution layers are {layers[:30]}")
    modules = dict(model.named_modules())
    for n in names:
        if isinstance(modules[n], _LowRankAdapter):
            raise ValueError(f"module {n!r} already has an adapter")
        if not isinstance(modules[n], _SUPPORTED):
            raise TypeError(f"target module {n!r} is a {type(modules[n]).__name__}; adapters "
                            "wrap nn.Linear and nn.Conv1d/2d/3d")
    return names


def _replace(model: nn.Module, names: list[str], make) -> nn.Module:
    for p in model.parameters():
        p.requires_grad_(False)
    for n in names:
        parent_name, _, child = n.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, make(getattr(parent, child), n))
    return model


def apply_nola(model: nn.Module, config: NOLAConfig) -> nn.Module:
    """Put NOLA adapters on ``config.target_modules`` of ``model`` (in place) and return it.

    Every other parameter of the model is frozen: only the NOLA
    coefficients train.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    >>> net = apply_nola(net, NOLAConfig(rank=2, n_basis_A=5, n_basis_B=5))
    >>> count_trainable_parameters(net)   # (5 + 5) coefficients per adapted layer
    20
    """
    check_module(model)
    if not isinstance(config, NOLAConfig):
        raise TypeError(f"config must be a NOLAConfig, got {type(config).__name__}")
    names = _target_names(model, config.target_modules)
    return _replace(model, names, lambda base, n: NOLALayer(base, config, n))


def peft_available() -> bool:
    """Whether Hugging Face PEFT can be imported (the ``llm`` extra)."""
    try:
        import peft  # noqa: F401
    except ImportError:
        return False
    return True


def apply_lora(model: nn.Module, config: LoRAConfig, backend: str = "auto") -> nn.Module:
    """Put LoRA adapters on ``model`` and return the adapted model.

    Parameters
    ----------
    backend : {"auto", "peft", "mintlab"}
        ``"peft"`` returns PEFT's ``PeftModel`` (``get_peft_model`` with the
        same rank, alpha and targets, no dropout); ``"mintlab"`` adapts the
        model in place with :class:`LoRALayer`; ``"auto"`` uses PEFT when it
        is installed.
    """
    check_module(model)
    if not isinstance(config, LoRAConfig):
        raise TypeError(f"config must be a LoRAConfig, got {type(config).__name__}")
    backend = check_choice(backend, "backend", ["auto", "peft", "mintlab"])
    names = _target_names(model, config.target_modules)
    if backend == "auto":
        backend = "peft" if peft_available() else "mintlab"
    if backend == "mintlab":
        return _replace(model, names, lambda base, n: LoRALayer(base, config, n))
    if not peft_available():
        raise ImportError("backend='peft' needs Hugging Face PEFT: pip install 'mintlab[llm]'")
    from peft import LoraConfig, get_peft_model

    # PEFT annotates lora_alpha as int, but scales by lora_alpha / r as a float
    peft_config = LoraConfig(r=config.rank, lora_alpha=config.alpha,  # type: ignore[arg-type]
                             target_modules=names,
                             lora_dropout=0.0, bias="none")
    with seeded_global_rng(config.seed):
        return get_peft_model(model, peft_config)


def _adapters(model: nn.Module) -> dict[str, _LowRankAdapter]:
    check_module(model)
    found = {n: m for n, m in model.named_modules() if isinstance(m, _LowRankAdapter)}
    if not found:
        raise ValueError("model has no mintlab adapter (use apply_nola or apply_lora first)")
    return found


def merge_adapter(model: nn.Module) -> nn.Module:
    """Fold every adapter of ``model`` into its base weight (inference at base cost)."""
    for layer in _adapters(model).values():
        layer.merge()
    return model


def unmerge_adapter(model: nn.Module) -> nn.Module:
    """Undo :func:`merge_adapter`."""
    for layer in _adapters(model).values():
        layer.unmerge()
    return model


def adapter_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Only the trained tensors of the adapters, by ``<module>.<tensor>`` name."""
    out = {}
    for name, layer in _adapters(model).items():
        for pname, p in layer.named_parameters(recurse=False):
            out[f"{name}.{pname}"] = p.detach()
    return out


def _adapter_config(model) -> tuple[str, Any]:
    configs = {(type(layer).__name__, layer.config) for layer in _adapters(model).values()}
    if len(configs) != 1:
        raise ValueError("model carries adapters with different configs; save them separately")
    kind, config = configs.pop()
    return ("nola" if kind == "NOLALayer" else "lora"), config


def _nola_streams(model: nn.Module) -> dict[str, Stream]:
    """The random streams of every NOLA layer: ``nola/<module>/A`` and ``.../B``."""
    out: dict[str, Stream] = {}
    for name, layer in _adapters(model).items():
        if isinstance(layer, NOLALayer):
            cfg = layer.config
            out[f"nola/{name}/A"] = (("nola", name, "A"),
                                     (cfg.n_basis_A, cfg.rank, layer.in_features))
            out[f"nola/{name}/B"] = (("nola", name, "B"),
                                     (cfg.n_basis_B, layer.out_features, cfg.rank))
    return out


def save_adapter(model: nn.Module, path: str | os.PathLike[str], *,
                 include_basis: bool = False) -> Path:
    """Write the adapters' trained tensors, seed and config to a ``.safetensors`` file.

    The random bases of NOLA are not written: they are regenerated from the
    seed on load, and a fingerprint of each (with the torch version and the
    generator) is written instead, so that :func:`load_adapter` refuses a
    torch that would draw other bases. ``include_basis=True`` writes the
    bases too (``basis.<module>.A`` / ``.B``): the file then loads anywhere,
    at the cost of their size. The file is written to a temporary name and
    renamed, so a crash never leaves a half-written adapter.
    """
    check_module(model)
    path = check_path(path)
    if not isinstance(include_basis, bool):
        raise TypeError(f"include_basis must be a bool, got {type(include_basis).__name__}")
    method, config = _adapter_config(model)
    meta: dict[str, Any] = {"format": _ADAPTER_FORMAT, "method": method, "config": asdict(config),
                            "modules": sorted(_adapters(model))}
    tensors = dict(adapter_state_dict(model))
    if method == "nola":
        meta["rng"] = rng_record(config.seed, _nola_streams(model))
        if include_basis:
            for name, layer in _adapters(model).items():
                layer = cast(NOLALayer, layer)
                tensors[f"basis.{name}.A"] = layer.basis_A.detach().to("cpu", torch.float32)
                tensors[f"basis.{name}.B"] = layer.basis_B.detach().to("cpu", torch.float32)
    return save_tensors(path, tensors, meta)


_ADAPTER_FORMAT = "mintlab.adapter/1"


def _adapter_from_meta(path: str | os.PathLike[str], meta: dict[str, Any],
                       ) -> tuple[str, NOLAConfig | LoRAConfig, list[str]]:
    what = "adapter file"
    if meta.get("format") != _ADAPTER_FORMAT:
        raise ArtifactError(path, f"the file holds no mintlab adapter (format "
                                  f"{meta.get('format')!r}, expected {_ADAPTER_FORMAT!r})")
    require_keys(meta, ["method", "config", "modules"], path, what)
    method, cfg, modules = meta["method"], meta["config"], meta["modules"]
    if method not in ("nola", "lora"):
        raise ArtifactError(path, f"the {what} names an unknown adapter method {method!r} "
                                  "(known: 'nola', 'lora')")
    if not isinstance(modules, list) or not all(isinstance(m, str) for m in modules):
        raise ArtifactError(path, f"the {what}'s module list is not a list of names: "
                                  f"{modules!r}")
    if not isinstance(cfg, dict):
        raise ArtifactError(path, f"the {what}'s config is not a JSON object: {cfg!r}")
    cfg = dict(cfg)
    if isinstance(cfg.get("target_modules"), list):
        cfg["target_modules"] = tuple(cfg["target_modules"])
    config_type: type[NOLAConfig] | type[LoRAConfig] = NOLAConfig if method == "nola" \
        else LoRAConfig
    try:
        config = config_type(**cfg)
    except (TypeError, ValueError) as err:
        raise ArtifactError(path, f"the {what}'s {config_type.__name__} is unusable "
                                  f"(another version?): {err}") from None
    return method, config, modules


def load_adapter(model: nn.Module, path: str | os.PathLike[str]) -> nn.Module:
    """Apply the adapter saved at ``path`` to a fresh ``model`` and load its tensors.

    Raises
    ------
    ArtifactError
        The file is missing, empty, truncated or corrupted, holds another
        format, or does not fit ``model`` (other target modules, other
        shapes, missing or extra tensors); the message names the file and the
        mismatching module, tensor or shape. ``model`` is left as it was.
    """
    check_module(model)
    if isinstance(path, bool) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike file name, got {type(path).__name__}")
    tensors, meta = load_tensors(path, what="adapter file")
    method, config, modules = _adapter_from_meta(path, meta)
    try:
        names = _target_names(model, config.target_modules)
    except (TypeError, ValueError) as err:
        raise ArtifactError(path, f"the adapter does not fit model: {err}") from None
    if sorted(names) != sorted(modules):
        raise ArtifactError(path, f"the adapter was saved for modules {sorted(modules)}, the "
                                  f"model's targets are {sorted(names)}")
    requires_grad = {n: p.requires_grad for n, p in model.named_parameters()}
    if isinstance(config, NOLAConfig):
        model = apply_nola(model, config)
    else:
        model = apply_lora(model, config, backend="mintlab")
    try:
        basis = {k[6:]: v for k, v in tensors.items() if k.startswith("basis.")}
        tensors = {k: v for k, v in tensors.items() if not k.startswith("basis.")}
        if basis:
            _load_nola_basis(model, basis, path)
        elif method == "nola" and meta.get("rng") is not None:
            problem = rng_problem(meta["rng"], config.seed, _nola_streams(model))
            if problem is not None:
                raise ArtifactError(path, problem)
        own = adapter_state_dict(model)
        missing = sorted(set(own) - set(tensors))
        if missing:
            raise ArtifactError(path, f"the adapter lacks the tensors {missing[:10]} of the "
                                      "model's adapters")
        with torch.no_grad():
            for key, value in tensors.items():
                if key not in own:
                    raise ArtifactError(path, f"saved tensor {key!r} has no counterpart in the "
                                              "model's adapters")
                if own[key].shape != value.shape:
                    raise ArtifactError(path, f"saved tensor {key!r} has shape "
                                              f"{tuple(value.shape)}, the model's adapter "
                                              f"expects {tuple(own[key].shape)}")
                if value.is_floating_point() and not bool(torch.isfinite(value).all()):
                    raise ArtifactError(path, f"saved tensor {key!r} holds NaN or infinite "
                                              "values (corrupted?)")
                own[key].copy_(value)
    except ArtifactError:
        _remove_adapters(model, names, requires_grad)
        raise
    return model


@torch.no_grad()
def _load_nola_basis(model: nn.Module, basis: dict[str, torch.Tensor],
                     path: str | os.PathLike[str]) -> None:
    """Copy bases saved with ``include_basis=True`` into the NOLA layers of ``model``."""
    layers = {n: m for n, m in _adapters(model).items() if isinstance(m, NOLALayer)}
    want = {f"{n}.{k}" for n in layers for k in ("A", "B")}
    if set(basis) != want:
        raise ArtifactError(path, f"the adapter's stored bases {sorted(basis)[:6]} do not match "
                                  f"the model's NOLA layers {sorted(want)[:6]}")
    for n, layer in layers.items():
        for k, buf in (("A", layer.basis_A), ("B", layer.basis_B)):
            t = basis[f"{n}.{k}"]
            if tuple(t.shape) != tuple(buf.shape) or not t.is_floating_point():
                raise ArtifactError(path, f"stored basis {n}.{k} has shape {tuple(t.shape)}, "
                                          f"the layer needs {tuple(buf.shape)}")
            if not bool(torch.isfinite(t).all()):
                raise ArtifactError(path, f"stored basis {n}.{k} holds NaN or infinite values "
                                          "(corrupted?)")
            buf.copy_(t)


def _remove_adapters(model: nn.Module, names: list[str], requires_grad: dict[str, bool]) -> None:
    """Undo :func:`_replace`: put the base layers back and restore ``requires_grad``."""
    for n in names:
        parent_name, _, child = n.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        layer = getattr(parent, child)
        if isinstance(layer, _LowRankAdapter):
            setattr(parent, child, layer.base)
    for n, p in model.named_parameters():
        if n in requires_grad:
            p.requires_grad_(requires_grad[n])


def _peft_target_pattern(names: Sequence[str]) -> str:
    """A regular expression PEFT full-matches against module names: exactly ``names``."""
    return "^(?:" + "|".join(re.escape(n) for n in sorted(names)) + ")$"


def to_peft_lora(model: nn.Module, folder: str | os.PathLike[str], *,
                 base_model_name_or_path: str | None = None) -> Path:
    """Write the adapters of ``model`` as a PEFT LoRA adapter that ``PeftModel`` loads.

    NOLA's factors are linear combinations of random matrices, so each
    adapted layer's ``A = sum_i a_i A_i`` and ``B = sum_j b_j B_j`` are
    computed once and written as LoRA's ``lora_A`` / ``lora_B`` with
    ``lora_alpha = alpha`` (PEFT scales by ``lora_alpha / r`` as NOLA does),
    so any PEFT stack serves a NOLA-trained model with the same outputs
    (the file then holds the full factors, not the few coefficients:
    keep :func:`save_adapter` for storage). Works for mintlab's LoRA
    adapters too.

    Parameters
    ----------
    model : nn.Module
        A model carrying NOLA (or mintlab LoRA) adapters, not merged.
    folder : str or PathLike
        Created if missing; receives ``adapter_model.safetensors`` and
        ``adapter_config.json`` (PEFT's file names), written atomically.
    base_model_name_or_path : str or None
        Recorded in the config, as PEFT does.

    Returns
    -------
    Path
        The folder. Load it with ``PeftModel.from_pretrained(base, folder)``
        on a fresh copy of the base model.

    Examples
    --------
    >>> import tempfile, torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    >>> net = apply_nola(net, NOLAConfig(rank=2, n_basis_A=5, n_basis_B=5))
    >>> folder = to_peft_lora(net, tempfile.mkdtemp())
    >>> sorted(p.name for p in folder.iterdir())
    ['adapter_config.json', 'adapter_model.safetensors']
    """
    from .._artifacts import save_safetensors, write_json

    layers = _adapters(model)
    if isinstance(folder, bool) or not isinstance(folder, (str, os.PathLike)):
        raise TypeError(f"folder must be a str or os.PathLike folder name, got "
                        f"{type(folder).__name__}")
    if base_model_name_or_path is not None and not isinstance(base_model_name_or_path, str):
        raise TypeError(f"base_model_name_or_path must be a str or None, got "
                        f"{type(base_model_name_or_path).__name__}")
    merged = sorted(n for n, layer in layers.items() if layer.merged)
    if merged:
        raise ValueError(f"model has merged adapters on {merged[:5]}: a PEFT adapter is added "
                         "to the base weight, so call unmerge_adapter(model) first")
    configs = {(layer.rank, float(layer.scale)) for layer in layers.values()}
    if len(configs) != 1:
        raise ValueError(f"model carries adapters of different ranks or scales {sorted(configs)}; "
                         "a PEFT LoRA adapter has one rank and one alpha")
    (rank, scale), = configs
    alpha = scale * rank
    tensors: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        for name, layer in layers.items():
            A, B = layer.factors()
            w = layer.base.weight
            if isinstance(layer.base, nn.Linear):
                a, b = A, B
            else:  # lora_A: a conv with the base kernel; lora_B: a 1x1 conv (PEFT's layout)
                a = A.reshape(rank, *w.shape[1:])
                b = B.reshape(w.shape[0], rank, *([1] * (w.dim() - 2)))
            tensors[f"base_model.model.{name}.lora_A.weight"] = a.detach().cpu().contiguous()
            tensors[f"base_model.model.{name}.lora_B.weight"] = b.detach().cpu().contiguous()
    config = {"peft_type": "LORA", "task_type": None, "r": rank, "lora_alpha": alpha,
              "lora_dropout": 0.0, "bias": "none", "fan_in_fan_out": False,
              "target_modules": _peft_target_pattern(list(layers)), "modules_to_save": None,
              "init_lora_weights": True, "inference_mode": True, "use_rslora": False,
              "use_dora": False, "base_model_name_or_path": base_model_name_or_path}
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    save_safetensors(tensors, out / "adapter_model.safetensors", metadata={"format": "pt"})
    write_json(config, out / "adapter_config.json")
    return out


def count_trainable_parameters(model: nn.Module) -> int:
    """Number of parameter values with ``requires_grad`` (works for PEFT models too)."""
    check_module(model)
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def adapter_bytes(model: nn.Module) -> int:
    """Bytes an adapter of ``model`` stores: its trained tensors, plus 8 for the seed of NOLA."""
    check_module(model)
    if any(isinstance(m, _LowRankAdapter) for m in model.modules()):
        method, _ = _adapter_config(model)
        return tensor_bytes(adapter_state_dict(model)) + (8 if method == "nola" else 0)
    return tensor_bytes([p for p in model.parameters() if p.requires_grad])
