"""Saving, loading and merging compressed models.

A model produced by :func:`~mintlab.compress.svd.compress_model` (its
factorised layers are :class:`~mintlab.compress.svd.LowRankLinear`) or by
:func:`~mintlab.compress.quant.quantize_model` (:class:`~mintlab.compress.quant.QuantLinear`)
is saved as a folder of three files:

``compressed.json``
    format name and version, mintlab version, method, the model's class,
    and per compressed layer its kind, shape, rank (low rank) or bit widths
    and whether it is rotated (quantised), plus the compression report when
    one is given;
``model.safetensors``
    every tensor of the model's state: the low-rank factors, the quantised
    layers' float weights and rotations (as tensors, so learned ConQuR
    rotations reload exactly; the quantised weights are recomputed from
    them on load), and the untouched layers; tensors shared between several
    names (tied embeddings) are stored once;
``config.json``
    for Hugging Face models only: the model's ``config.to_dict()``, from
    which :func:`load_compressed` rebuilds the base architecture offline
    (``from_config``, no download), so the loaded model is a
    ``PreTrainedModel`` that ``generate`` works on.

Components that ``io-svd``'s hybrid path stores in 8 bits are saved as their
dequantised float values, with their flags, so the loaded logits are
identical; the file is not smaller for them.

:func:`merge_low_rank` turns the low-rank layers back into dense
``nn.Linear`` layers for tools that only understand standard models.
"""

from __future__ import annotations

import copy
import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from .._artifacts import load_safetensors as _load_tensors
from .._artifacts import read_json, save_safetensors, write_json
from ..errors import ArtifactError
from .quant import QuantLinear
from .svd.layers import LowRankLinear

__all__ = ["save_compressed", "load_compressed", "merge_low_rank", "FORMAT", "FORMAT_VERSION"]

#: Name of the format written in ``compressed.json``.
FORMAT = "mintlab-compressed"
#: Version of the format; :func:`load_compressed` reads this version only.
FORMAT_VERSION = 1
_META, _WEIGHTS, _CONFIG = "compressed.json", "model.safetensors", "config.json"
_DERIVED = ("weight_q", "weight_rot")  # QuantLinear buffers recomputed from weight_fp, rotation
_DTYPES = {str(t): t for t in (torch.float32, torch.float64, torch.float16, torch.bfloat16)}


def _is_hf(model: nn.Module) -> bool:
    try:
        from transformers import PreTrainedModel
    except ImportError:
        return False
    return isinstance(model, PreTrainedModel)


def _layer_records(model: nn.Module) -> dict[str, dict[str, Any]]:
    records: dict[str, dict[str, Any]] = {}
    for name, mod in model.named_modules():
        if isinstance(mod, LowRankLinear):
            records[name] = {"kind": "low-rank", "in_features": mod.in_features,
                             "out_features": mod.out_features, "rank": mod.rank,
                             "bias": mod.bias is not None, "dtype": str(mod.up.dtype),
                             "int8_components": int(mod.int8_components.sum())}
        elif isinstance(mod, QuantLinear):
            records[name] = {"kind": "quant", "in_features": mod.in_features,
                             "out_features": mod.out_features, "bias": mod.bias is not None,
                             "dtype": str(mod.weight_fp.dtype), "w_bits": mod.w_bits,
                             "a_bits": mod.a_bits, "rotated": mod.rotation is not None,
                             "quantize": bool(mod.quantize)}
    return records


def save_compressed(model: nn.Module, folder: str | os.PathLike[str], *,
                    report: Any = None) -> Path:
    """Save a compressed model to ``folder`` (created if needed; files written atomically).

    Parameters
    ----------
    model : nn.Module
        A model from :func:`~mintlab.compress.svd.compress_model` or
        :func:`~mintlab.compress.quant.quantize_model` (any module holding
        :class:`~mintlab.compress.svd.LowRankLinear` or
        :class:`~mintlab.compress.quant.QuantLinear` layers).
    folder : str or os.PathLike
        Where the files go (see the module notes).
    report : CompressionReport or QuantReport, optional
        Stored in ``compressed.json`` (its ``to_json()``), with its method.

    Returns
    -------
    pathlib.Path
        The folder.

    Raises
    ------
    ValueError
        For a bare compressed layer (wrap it in a module) or a model
        without compressed layers.
    TypeError
        When ``report`` does not give JSON data; checked, like everything
        else, before any file is written. ``compressed.json`` is removed
        first and written last, so a save cut short leaves a folder that
        :func:`load_compressed` refuses rather than a mix of old and new
        files.

    Examples
    --------
    >>> import tempfile
    >>> from mintlab.compress.svd import compress_model
    >>> small, rep = compress_model(nn.Sequential(nn.Linear(8, 8)), "svd", 0.5)
    >>> path = save_compressed(small, tempfile.mkdtemp(), report=rep)
    >>> sorted(p.name for p in path.iterdir())
    ['compressed.json', 'model.safetensors']
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if not isinstance(folder, (str, os.PathLike)):
        raise TypeError(f"folder must be a path (str or os.PathLike), got {type(folder).__name__}")
    if isinstance(model, (LowRankLinear, QuantLinear)):
        raise ValueError(f"model must be a module holding compressed layers, got a bare "
                         f"{type(model).__name__}: wrap it in a module, e.g. "
                         f"nn.Sequential(layer)")
    layers = _layer_records(model)
    if not layers:
        raise ValueError("model must hold compressed layers (LowRankLinear or QuantLinear, from "
                         "compress_model or quantize_model), found none")
    to_json = getattr(report, "to_json", None)
    if report is not None and not callable(to_json):
        raise TypeError(f"report must be None or a CompressionReport / QuantReport, got "
                        f"{type(report).__name__}")
    out = Path(folder)
    if out.exists() and not out.is_dir():
        raise ValueError(f"folder must be a directory, got the file {str(out)!r}")
    state = model.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    seen: dict[tuple[int, int, tuple[int, ...], tuple[int, ...], str], str] = {}
    for key, t in state.items():
        if key.rpartition(".")[2] in _DERIVED and key.rpartition(".")[0] in layers:
            continue
        # the same storage, offset, shape, strides and dtype: the same values (a transposed view
        # of a stored tensor is not an alias of it)
        ident = (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape),
                 tuple(t.stride()), str(t.dtype))
        if t.numel() and ident in seen:
            aliases[key] = seen[ident]
            continue
        seen[ident] = key
        tensors[key] = t
    hf = _is_hf(model)
    floats = [t.dtype for t in state.values() if t.is_floating_point()]
    meta: dict[str, Any] = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "mintlab_version": _version(),
        "method": getattr(report, "method", None) or getattr(report, "rotation", None),
        "model_class": type(model).__name__, "model_module": type(model).__module__,
        "hugging_face": hf, "layers": layers, "aliases": aliases,
        # the dtype most tensors have: a Hugging Face base is rebuilt in it
        "dtype": str(max(set(floats), key=floats.count)) if floats else None,
        "report": None if report is None else _plain(to_json()),  # type: ignore[misc]
    }
    try:  # everything that can fail is checked before a file is touched
        json.dumps(meta, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise TypeError(f"report must give JSON data from its to_json() (a CompressionReport or "
                        f"QuantReport does), got {type(report).__name__} whose data fails: "
                        f"{err}") from None
    config = (json.loads(cast(Any, model).config.to_json_string(use_diff=False)) if hf
              else None)
    out.mkdir(parents=True, exist_ok=True)
    # compressed.json is written last and removed first: a folder whose writing was cut short
    # has no description and cannot be loaded as a mix of old and new files
    (out / _META).unlink(missing_ok=True)
    if hf:
        write_json(config, out / _CONFIG)
    save_safetensors(tensors, out / _WEIGHTS, metadata={"format": FORMAT})
    write_json(meta, out / _META)
    return out


def _plain(obj: Any) -> Any:
    """JSON-safe copy: non-finite floats become None, tuples lists."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _version() -> str:
    from .. import __version__

    return __version__


def _base_from_config(folder: Path, meta: dict[str, Any]) -> nn.Module:
    cfg_path = folder / _CONFIG
    cfg_dict = read_json(cfg_path, what="model config", required=("model_type",))
    try:
        import transformers
        from transformers import AutoConfig, AutoModelForCausalLM
    except ImportError:  # pragma: no cover - transformers is installed with the model extras
        raise ImportError("loading a Hugging Face model needs transformers: "
                          "pip install transformers") from None
    cfg_dict = dict(cfg_dict)
    model_type = cfg_dict.pop("model_type")
    try:
        config = AutoConfig.for_model(model_type, **cfg_dict)
    except (ValueError, KeyError, TypeError) as err:
        raise ArtifactError(cfg_path, f"the model config cannot be rebuilt by transformers "
                                      f"{transformers.__version__}: {err}") from None
    cls = getattr(transformers, str(meta.get("model_class")), None)
    with torch.device("cpu"):
        if isinstance(cls, type) and hasattr(cls, "_from_config"):
            base = cls._from_config(config)
        else:
            base = AutoModelForCausalLM.from_config(config)
    dtype = meta.get("dtype")
    if dtype is not None:  # rebuilt in the saved dtype, so the layers agree with the loaded ones
        if dtype not in _DTYPES:
            raise ArtifactError(folder / _META, f"the 'dtype' entry must be one of "
                                                f"{sorted(_DTYPES)}, got {dtype!r}")
        base = base.to(_DTYPES[dtype])
    return base


def _set_module(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, child, new)


def _build_layer(rec: dict[str, Any], where: Path, name: str) -> nn.Module:
    try:
        dtype = _DTYPES[rec["dtype"]]
        if rec["kind"] == "low-rank":
            return LowRankLinear(rec["in_features"], rec["out_features"], rec["rank"],
                                 rec["bias"], dtype=dtype)
        if rec["kind"] == "quant":
            lin = nn.Linear(rec["in_features"], rec["out_features"], bias=rec["bias"],
                            dtype=dtype)
            R = torch.eye(rec["in_features"], dtype=dtype) if rec["rotated"] else None
            q = QuantLinear(lin, rec["w_bits"], rec["a_bits"], R)
            q.quantize = bool(rec.get("quantize", True))
            return q
    except (KeyError, TypeError, ValueError) as err:
        raise ArtifactError(where, f"the record of layer {name!r} is unusable ({err}); the file "
                                   f"was written by another program or version") from None
    raise ArtifactError(where, f"layer {name!r} has unknown kind {rec.get('kind')!r}")


def load_compressed(folder: str | os.PathLike[str],
                    model: nn.Module | Callable[[], nn.Module] | None = None) -> nn.Module:
    """Load a model saved by :func:`save_compressed`, in evaluation mode, on the CPU.

    Parameters
    ----------
    folder : str or os.PathLike
        The folder :func:`save_compressed` wrote.
    model : nn.Module or callable, optional
        The base architecture: a module (modified in place: its compressed
        layers are replaced and every tensor loaded), or a factory called
        with no arguments that returns one. Not needed for Hugging Face
        models, which are rebuilt from ``config.json`` offline.

    Returns
    -------
    nn.Module
        The compressed model with the saved tensors; for a Hugging Face
        model a ``PreTrainedModel`` of the saved class.

    Raises
    ------
    mintlab.ArtifactError
        When a file is missing, empty, truncated, corrupted, of another
        format version, or does not match the architecture (missing or
        unexpected tensors, other shapes); the message names the file.

    Examples
    --------
    >>> import tempfile
    >>> from mintlab.compress.svd import compress_model
    >>> base = nn.Sequential(nn.Linear(8, 8))
    >>> small, _ = compress_model(base, "svd", 0.5)
    >>> folder = save_compressed(small, tempfile.mkdtemp())
    >>> type(load_compressed(folder, lambda: nn.Sequential(nn.Linear(8, 8)))[0]).__name__
    'LowRankLinear'
    """
    if not isinstance(folder, (str, os.PathLike)):
        raise TypeError(f"folder must be a path (str or os.PathLike), got {type(folder).__name__}")
    if model is not None and not isinstance(model, nn.Module) and not callable(model):
        raise TypeError(f"model must be None, an nn.Module or a callable returning one, got "
                        f"{type(model).__name__}")
    root = Path(folder)
    if not root.is_dir():
        raise ArtifactError(root, "no such folder: save the model with save_compressed first")
    meta_path = root / _META
    meta = read_json(meta_path, what="compressed-model description",
                     required=("format", "format_version", "layers"))
    if meta["format"] != FORMAT:
        raise ArtifactError(meta_path, f"the file is in format {meta['format']!r}, not {FORMAT!r}")
    if meta["format_version"] != FORMAT_VERSION:
        raise ArtifactError(meta_path, f"format version {meta['format_version']!r} cannot be "
                                       f"read by this mintlab (reads version {FORMAT_VERSION})")
    layers = meta["layers"]
    if not isinstance(layers, dict):
        raise ArtifactError(meta_path, "the 'layers' entry must be a JSON object")
    if model is None:
        if not meta.get("hugging_face"):
            raise ValueError(f"model is required for a {meta.get('model_class')} (not a Hugging "
                             f"Face model): pass the base architecture, or a factory "
                             f"returning it")
        base = _base_from_config(root, meta)
    elif isinstance(model, nn.Module):
        base = model
    else:
        base = model()
        if not isinstance(base, nn.Module):
            raise TypeError(f"model() must return an nn.Module, got {type(base).__name__}")
    weights_path = root / _WEIGHTS
    tensors, _ = _load_tensors(weights_path, what="compressed-model weights")
    # everything is built and checked before ``base`` is changed: a failed load leaves it as it was
    built: dict[str, nn.Module] = {}
    for name, rec in layers.items():
        if not isinstance(rec, dict):
            raise ArtifactError(meta_path, f"the record of layer {name!r} must be an object")
        if name == "":
            raise ArtifactError(meta_path, "a layer is recorded as the whole model (name ''); "
                                           "save_compressed does not write such files")
        try:
            base.get_submodule(name)
        except AttributeError:
            raise ArtifactError(meta_path, f"layer {name!r} is not in the given architecture "
                                           f"{type(base).__name__}: wrong base model?") from None
        built[name] = _build_layer(rec, meta_path, name)
    aliases = meta.get("aliases") or {}
    if not isinstance(aliases, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in aliases.items()):
        raise ArtifactError(meta_path, f"the 'aliases' entry must be a JSON object mapping tensor "
                                       f"names to tensor names, got {type(aliases).__name__}")
    for key, src in aliases.items():
        if src in tensors:
            tensors[key] = tensors[src]

    def replaced(key: str) -> bool:
        parts = key.split(".")
        return any(".".join(parts[:i]) in built for i in range(1, len(parts)))

    expected = {k: v for k, v in base.state_dict().items() if not replaced(k)}
    for name, layer in built.items():
        expected.update({f"{name}.{k}": v for k, v in layer.state_dict().items()})
    derived = {k for k in expected if k.rpartition(".")[2] in _DERIVED
               and k.rpartition(".")[0] in layers}
    missing = sorted(set(expected) - set(tensors) - derived)
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        raise ArtifactError(weights_path, f"the weights do not match the architecture: missing "
                                          f"{missing[:5]}{'...' if len(missing) > 5 else ''}, "
                                          f"unexpected {unexpected[:5]}"
                                          f"{'...' if len(unexpected) > 5 else ''}")
    for k, t in tensors.items():
        if tuple(t.shape) != tuple(expected[k].shape):
            raise ArtifactError(weights_path, f"tensor {k!r} has shape {tuple(t.shape)} but the "
                                              f"architecture needs {tuple(expected[k].shape)}")
    for name, layer in built.items():
        _set_module(base, name, layer)
    base.load_state_dict(tensors, strict=False)
    for name in layers:
        mod = base.get_submodule(name)
        if isinstance(mod, QuantLinear):
            mod.refresh()
    base.eval()
    return base


def merge_low_rank(model: nn.Module, *, inplace: bool = False) -> nn.Module:
    """Replace every :class:`~mintlab.compress.svd.LowRankLinear` by a dense ``nn.Linear``.

    The dense weight is ``up @ down`` (computed in float64, stored in the
    layer's dtype), the bias is kept, and so are the training mode and
    ``requires_grad`` (the dense weight is trainable when either factor
    was); outputs agree with the factorised layers to rounding.
    :class:`~mintlab.compress.quant.QuantLinear` layers are left as they
    are (their activation quantisation has no dense equivalent).

    Parameters
    ----------
    model : nn.Module
        A model with low-rank layers.
    inplace : bool, default False
        Modify ``model`` itself; else a deep copy is merged and returned.
        A bare ``LowRankLinear`` cannot replace itself: for one, the new
        ``nn.Linear`` is returned whatever ``inplace`` says (``inplace``
        then only skips the copy, and ``model`` is left unchanged).

    Returns
    -------
    nn.Module
        The merged model (``model`` itself when ``inplace``, except for a
        bare ``LowRankLinear``).

    Examples
    --------
    >>> from mintlab.compress.svd import compress_model
    >>> small, _ = compress_model(nn.Sequential(nn.Linear(8, 8)), "svd", 0.5)
    >>> type(merge_low_rank(small)[0]).__name__
    'Linear'
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if not isinstance(inplace, bool):
        raise TypeError(f"inplace must be a bool, got {type(inplace).__name__}")
    if isinstance(model, LowRankLinear):
        return _dense(model)  # a new layer; ``model`` is only read
    if not inplace:
        model = copy.deepcopy(model)
    for name, mod in list(model.named_modules()):
        if isinstance(mod, LowRankLinear):
            _set_module(model, name, _dense(mod))
    return model


def _dense(mod: LowRankLinear) -> nn.Linear:
    dtype, device = mod.up.dtype, mod.up.device
    lin = nn.Linear(mod.in_features, mod.out_features, bias=mod.bias is not None,
                    dtype=dtype, device=device)
    with torch.no_grad():
        lin.weight.copy_((mod.up.double() @ mod.down.double()).to(dtype))
        if mod.bias is not None and lin.bias is not None:
            lin.bias.copy_(mod.bias)
    lin.weight.requires_grad_(mod.up.requires_grad or mod.down.requires_grad)
    if mod.bias is not None and lin.bias is not None:
        lin.bias.requires_grad_(mod.bias.requires_grad)
    lin.train(mod.training)
    return lin

