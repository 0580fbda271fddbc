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
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, NoReturn, TypeVar

import torch
from torch import nn

from .._artifacts import require_keys
from ..errors import ArtifactError
from ._basis import Stream, check_seed, rng_problem, rng_record
from ._io import load_tensors, save_tensors, tensor_bytes

__all__ = ["Reparameterized", "CompressedModel", "rebuild", "init_bound", "select_parameters"]

# modules whose parameters are generated when ``include`` is None
_DEFAULT_MODULES = (nn.Linear, nn.Bilinear, nn.Embedding, nn.EmbeddingBag,
                    nn.Conv1d, nn.Conv2d, nn.Conv3d,
                    nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)

_METHODS: dict[str, type[Reparameterized]] = {}

IncludeLike = Sequence[str] | str | Callable[[str, nn.Parameter], bool] | None

_FORMAT = "mintlab.compress/1"
_R = TypeVar("_R", bound="Reparameterized")


def check_module(model: Any, name: str = "model") -> nn.Module:
    """``model`` if it is a ``torch.nn.Module``, else a ``TypeError`` naming ``name``."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module, got {type(model).__name__}")
    return model


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
        With ``include_basis=True``, ``"basis.<name>"`` holds the random
        tensors themselves, and rebuilding uses them instead of the seed.
    source : str or None
        The file it was read from (set by :meth:`load`): a file that does not
        fit the model it is rebuilt into raises :class:`~mintlab.ArtifactError`
        naming it.
    rng : dict or None
        The generator, the torch version and a fingerprint of the first
        block of every random stream, taken when the model was exported.
        Rebuilding from the seed checks the fingerprints and refuses, naming
        the stream and both torch versions, when this torch would draw other
        numbers (another version or generator): loading would otherwise
        give other weights without a word.
    """

    method: str
    seed: int
    config: dict[str, Any]
    tensors: dict[str, torch.Tensor] = field(repr=False)
    #: the file this was read from (:meth:`load`), named by errors on rebuild
    source: str | None = field(default=None, repr=False, compare=False)
    rng: dict[str, Any] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.method, str):
            raise TypeError(f"method must be a str, got {type(self.method).__name__}")
        if _METHODS and self.method not in _METHODS:
            raise ValueError(f"method must be one of {sorted(_METHODS)} (unknown compression "
                             f"method {self.method!r})")
        check_seed(self.seed)
        if not isinstance(self.config, Mapping):
            raise TypeError(f"config must be a dict, got {type(self.config).__name__}")
        if not isinstance(self.tensors, Mapping):
            raise TypeError(f"tensors must be a dict of name -> torch.Tensor, got "
                            f"{type(self.tensors).__name__}")
        for k, v in self.tensors.items():
            if not isinstance(k, str) or not isinstance(v, torch.Tensor):
                raise TypeError(f"tensors must map str names to torch tensors, got "
                                f"{type(k).__name__} -> {type(v).__name__}")

    def fail(self, problem: str) -> NoReturn:
        """Raise :class:`ArtifactError` naming :attr:`source` (``ValueError`` if none)."""
        if self.source is not None:
            raise ArtifactError(self.source, problem)
        raise ValueError(f"exported: {problem}")

    @property
    def nbytes(self) -> int:
        """Bytes stored: every tensor's values plus 8 for the seed."""
        return tensor_bytes(self.tensors) + 8

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write to a ``.safetensors`` file atomically (method, seed, config in its metadata)."""
        meta = {"format": _FORMAT, "method": self.method, "seed": self.seed,
                "config": self.config}
        if self.rng is not None:
            meta["rng"] = self.rng
        return save_tensors(path, self.tensors, meta)

    @property
    def includes_basis(self) -> bool:
        """Whether the random tensors are stored (rebuilding then needs no generator)."""
        return any(k.startswith("basis.") for k in self.tensors)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> CompressedModel:
        """Read a file written by :meth:`save`.

        Raises
        ------
        ArtifactError
            The file is missing, empty, truncated or corrupted, holds another
            format, or its method, seed or config is unusable. A file that
            does not fit the model it is rebuilt into raises it too, from
            :func:`rebuild`.
        """
        what = "compressed model file"
        tensors, meta = load_tensors(path, what=what)
        if meta.get("format") != _FORMAT:
            raise ArtifactError(path, f"the file holds no compressed model (format "
                                      f"{meta.get('format')!r}, expected {_FORMAT!r})")
        require_keys(meta, ["method", "seed", "config"], path, what)
        method, seed, config = meta["method"], meta["seed"], meta["config"]
        if not isinstance(method, str) or (_METHODS and method not in _METHODS):
            raise ArtifactError(path, f"the {what} names an unknown method {method!r}; "
                                      f"known: {sorted(_METHODS)}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ArtifactError(path, f"the {what} holds an invalid seed {seed!r} (a "
                                      "non-negative int is stored)")
        if not isinstance(config, dict):
            raise ArtifactError(path, f"the {what} holds a config that is not a JSON object")
        _check_config(config, lambda problem: ArtifactError(path, problem))
        rng = meta.get("rng")
        if rng is not None and not isinstance(rng, dict):
            raise ArtifactError(path, f"the {what} holds a random-number record that is not a "
                                      f"JSON object: {rng!r}")
        return cls(method, seed, config, tensors, source=os.fspath(path), rng=rng)


def _check_config(config: Mapping[str, Any], error: Callable[[str], Exception]) -> None:
    """The selection in a stored config: ``param_names`` (str) and ``shapes`` (int lists) agree."""
    missing = [k for k in ("param_names", "shapes") if k not in config]
    if missing:
        raise error(f"the config lacks {missing}")
    names, shapes = config["param_names"], config["shapes"]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise error(f"config['param_names'] must be a list of parameter names, got {names!r}")
    if not isinstance(shapes, list) or not all(
            isinstance(sh, list) and all(isinstance(v, int) and v >= 0 for v in sh)
            for sh in shapes):
        raise error(f"config['shapes'] must be a list of shapes (lists of ints), got {shapes!r}")
    if len(names) != len(shapes) or not names:
        raise error(f"config has {len(names)} parameter names and {len(shapes)} shapes; they "
                    "must be equally many, at least one")


def init_bound(model: nn.Module, name: str,
               params: Mapping[str, torch.Tensor] | None = None) -> float:
    """Half-width of the uniform distribution PyTorch's default init uses for ``name``.

    Linear/conv weights (and their biases): ``1 / sqrt(fan_in)``. Embedding
    weights (default init N(0, 1)): ``sqrt(3)``, the uniform bound of unit
    variance. Any other tensor: ``1 / sqrt(fan_in)`` if it has two or more
    axes, ``1 / sqrt(numel)`` otherwise.
    """
    check_module(model)
    if not isinstance(name, str):
        raise TypeError(f"name must be a parameter name (str), got {type(name).__name__}")
    if params is not None and not isinstance(params, Mapping):
        raise TypeError(f"params must be None or a dict of name -> parameter, got "
                        f"{type(params).__name__}")
    table = params if params is not None else dict(model.named_parameters())
    if name not in table:
        raise ValueError(f"name {name!r} is not a parameter of model; its parameters are "
                         f"{sorted(table)[:20]}")
    module_name, _, leaf = name.rpartition(".")
    module = model.get_submodule(module_name) if module_name else model
    param = table[name]
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

    def __init_subclass__(cls, **kwargs: Any) -> None:
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

    def random_streams(self) -> dict[str, Stream]:
        """Every random stream the weights depend on: ``label -> (keys, first block shape)``."""
        return {}

    def basis_tensors(self) -> dict[str, torch.Tensor]:
        """The random tensors themselves (float32, CPU), by label, for ``include_basis``."""
        return {}

    def load_basis(self, tensors: Mapping[str, torch.Tensor],
                   fail: Callable[[str], NoReturn]) -> None:
        """Use stored random tensors instead of the seed's (``fail(problem)`` on a mismatch)."""
        if tensors:
            fail(f"{type(self).__name__} stores no random tensors, got {sorted(tensors)[:5]}")

    # ------------------------------------------------------------------ the model
    def forward(self, *args: Any, **kwargs: Any) -> Any:
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

    def export(self, include_basis: bool = False) -> CompressedModel:
        """Everything needed to rebuild the model: seed, config, trained tensors.

        Parameters
        ----------
        include_basis : bool
            Also store the random tensors, so that the model rebuilds with
            any torch version or generator (at the cost of their size).
        """
        if not isinstance(include_basis, bool):
            raise TypeError(f"include_basis must be a bool, got {type(include_basis).__name__}")
        tensors = {k: v.detach().clone() for k, v in self.compressed_tensors().items()}
        selected = set(self.param_names)
        for n, p in self.model.named_parameters():
            if n not in selected:
                tensors[f"dense.{n}"] = p.detach().clone()
        for n, b in self.model.named_buffers():
            tensors[f"buffer.{n}"] = b.detach().clone()
        if include_basis:
            tensors.update({f"basis.{k}": v for k, v in self.basis_tensors().items()})
        return CompressedModel(self.method, self.seed, self._config(), tensors,
                               rng=rng_record(self.seed, self.random_streams()))

    def save(self, path: str | os.PathLike[str], include_basis: bool = False) -> Path:
        """``export(include_basis).save(path)``: a ``.safetensors`` file, written atomically."""
        return self.export(include_basis).save(path)

    @classmethod
    def from_export(cls: type[_R], model: nn.Module, exported: CompressedModel) -> _R:
        """The wrapper of ``model`` holding the trained tensors of ``exported``.

        A mismatch between ``exported`` and ``model`` (another architecture,
        other shapes, missing or extra tensors) raises
        :class:`~mintlab.ArtifactError` naming the file ``exported`` was
        loaded from (``ValueError`` for an export that never was a file).
        """
        check_module(model)
        if not isinstance(exported, CompressedModel):
            raise TypeError(f"exported must be a CompressedModel, got {type(exported).__name__}")
        if exported.method != cls.method:
            exported.fail(f"it holds a {exported.method!r} model, not {cls.method!r}")
        cfg = dict(exported.config)
        _check_config(cfg, lambda problem: _as_error(exported, problem))
        names = list(cfg.pop("param_names"))
        shapes = [tuple(s) for s in cfg.pop("shapes")]
        params = dict(model.named_parameters())
        for n, s in zip(names, shapes, strict=True):
            if n not in params:
                exported.fail(f"model has no parameter {n!r} (the exported model was built on "
                              "another architecture)")
            if tuple(params[n].shape) != s:
                exported.fail(f"parameter {n!r} has shape {tuple(params[n].shape)} in model but "
                              f"{s} in the exported model")
        try:
            wrapper = cls(model, seed=exported.seed, include=list(names), **cfg)
        except (TypeError, ValueError) as err:
            exported.fail(f"its {cls.method} config {cfg} cannot rebuild the model: {err}")
        basis = {k[6:]: v for k, v in exported.tensors.items() if k.startswith("basis.")}
        if basis:
            wrapper.load_basis(basis, exported.fail)
        elif exported.rng is not None:
            problem = rng_problem(exported.rng, exported.seed, wrapper.random_streams())
            if problem is not None:
                exported.fail(problem)
        own = wrapper.compressed_tensors()
        buffers = dict(model.named_buffers())
        selected = set(names)
        expected = set(own) | {f"dense.{n}" for n in params if n not in selected} \
            | {f"buffer.{n}" for n in buffers}
        missing = sorted(expected - set(exported.tensors))
        if missing:
            exported.fail(f"tensors {missing[:10]} of the model are missing from the export")
        with torch.no_grad():
            for key, value in exported.tensors.items():
                target: torch.Tensor | None
                if key.startswith("basis."):
                    continue
                if key.startswith("dense."):
                    target = params.get(key[6:])
                elif key.startswith("buffer."):
                    target = buffers.get(key[7:])
                else:
                    target = own.get(key)
                if target is None:
                    exported.fail(f"exported tensor {key!r} has no counterpart in the model")
                if tuple(target.shape) != tuple(value.shape):
                    exported.fail(f"exported tensor {key!r} has shape {tuple(value.shape)}, the "
                                  f"model expects {tuple(target.shape)}")
                # the method's trained tensors must be finite; parameters and buffers kept
                # as they were may hold infinities (a causal mask of -inf), never NaN
                if key in own and value.is_floating_point() \
                        and not bool(torch.isfinite(value).all()):
                    exported.fail(f"exported tensor {key!r} holds NaN or infinite values "
                                  "(corrupted?)")
                if key not in own and value.is_floating_point() and bool(value.isnan().any()):
                    exported.fail(f"exported tensor {key!r} holds NaN values (corrupted?)")
                target.copy_(value)
        return wrapper

    def stored_bytes(self) -> int:
        """Bytes of :meth:`export` (trained tensors, unselected parameters, buffers, seed)."""
        selected = set(self.param_names)
        kept = [p for n, p in self.model.named_parameters() if n not in selected]
        return (tensor_bytes(self.compressed_tensors()) + tensor_bytes(kept)
                + tensor_bytes(list(self.model.buffers())) + 8)

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


def _as_error(exported: CompressedModel, problem: str) -> Exception:
    if exported.source is not None:
        return ArtifactError(exported.source, problem)
    return ValueError(f"exported: {problem}")


def rebuild(model: nn.Module, exported: CompressedModel) -> nn.Module:
    """Write the weights stored in ``exported`` into ``model`` (same architecture) and return it.

    With the device, dtype and thread count the model was trained with, the
    weights are the same bit for bit as those the compressed model used;
    elsewhere they agree to floating-point rounding (the random tensors
    themselves are identical everywhere).
    """
    check_module(model)
    if not isinstance(exported, CompressedModel):
        raise TypeError(f"exported must be a CompressedModel, got {type(exported).__name__}")
    if exported.method not in _METHODS:
        exported.fail(f"unknown compression method {exported.method!r}; known: "
                      f"{sorted(_METHODS)}")
    wrapper = _METHODS[exported.method].from_export(model, exported)
    model = wrapper.materialize()
    params = dict(model.named_parameters())
    for name in wrapper.param_names:  # a plain model again: its weights may be fine-tuned
        params[name].requires_grad_(True)
    return model
