"""The API fuzzer's vocabulary: cases, argument roles and the breakages each role admits.

Each ``fuzz_registry_*.py`` beside this file declares, for every public
callable of one or more subpackages, a :class:`Case`: how to build a valid
call (for numpy and for torch inputs, at sizes drawn by hypothesis) and the
*role* of each argument. From the roles the harness derives the invalid calls
(one argument broken at a time: NaN, inf, empty, wrong number of dimensions,
wrong type, out-of-range values...) and ``test_fuzz_api.py`` asserts that

* every valid call returns finite values of the input's kind (numpy in, numpy
  out; torch in, torch out with the same dtype and device);
* every invalid call raises ``ValueError`` / ``TypeError`` (``ArtifactError``
  is a ``ValueError``) whose message names the broken argument, never a raw
  torch / numpy / scipy error and never a NaN or infinite result;
* every seeded call leaves the global torch, numpy and ``random`` states as
  they were.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import numbers
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

#: Subpackages whose ``__all__`` the fuzzer covers.
SUBPACKAGES = (
    "mintlab.transport", "mintlab.pot", "mintlab.embed", "mintlab.nn", "mintlab.ood",
    "mintlab.registration", "mintlab.scale", "mintlab.generative", "mintlab.compress",
    "mintlab.compress.svd", "mintlab.compress.quant", "mintlab.continual", "mintlab.distill",
    "mintlab.apps", "mintlab.apps.fairness", "mintlab.apps.surgical", "mintlab.continual.envs",
    "mintlab.continual.rl", "mintlab.pot.partial", "mintlab.datasets", "mintlab.models",
    "mintlab.experiments",
)


@dataclasses.dataclass(frozen=True)
class Sizes:
    """Problem sizes drawn by hypothesis for one valid call (small, so calls take milliseconds)."""

    n: int = 6      # points / samples in the first measure or batch
    m: int = 5      # points in the second measure
    d: int = 3      # dimension
    k: int = 4      # a small count: sets, classes, projections...
    seed: int = 0


class Inputs(dict):
    """Keyword arguments of one call, plus the positional ones in ``args``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(kwargs)
        self.args = list(args)


def kwargs_of(args: tuple, kwargs: Mapping[str, Any]) -> Inputs:
    inp = Inputs(**kwargs)
    inp.args = list(args)
    return inp


@dataclasses.dataclass
class Case:
    """How to call one public callable validly, and what each argument is.

    Parameters
    ----------
    target : str
        Dotted name of the public callable (``"mintlab.transport.wasserstein_1d"``)
        or of a class (its constructor is the call).
    build : callable ``(kind, sizes) -> Inputs``
        Fresh valid arguments for ``kind`` in ``("numpy", "torch")``. Arguments
        named in ``roles`` must be passed as keywords so they can be broken.
    roles : dict
        Argument name -> role (a key of :data:`BREAKERS`). Arguments without a
        role are never broken.
    kinds : tuple of str
        Array kinds the callable accepts (``("numpy", "torch")``, ``("torch",)``,
        or ``("none",)`` for calls that take no arrays).
    call : callable ``(target_obj, inputs) -> result``, optional
        How to run it (default ``target_obj(*inputs.args, **inputs)``); e.g.
        ``lambda cls, kw: cls(**kw).fit(X)``. For classes whose constructor only
        stores hyper-parameters (scikit-learn style), the breaking usually shows
        in ``fit``: put the data arguments in ``inputs`` and route them in ``call``.
    check_output : bool
        Check finiteness and kind of the result of a valid call.
    seeded : bool or None
        Whether the global-RNG test covers it (default: the callable takes ``seed``).
    skip_breakers : dict
        ``{(arg, breaker): reason}`` for breakages that are in fact valid input here
        (a reason is required, e.g. "extra leading axes are batch axes").
    known_failures : dict
        ``{(arg or "valid", breaker or kind): reason}`` -- failures accepted for now;
        the test marks them xfail (strict) so fixing one forces removing it.
    """

    target: str
    build: Callable[[str, Sizes], Inputs]
    roles: dict[str, str] = dataclasses.field(default_factory=dict)
    kinds: tuple[str, ...] = ("numpy", "torch")
    call: Callable[[Any, Inputs], Any] | None = None
    check_output: bool = True
    seeded: bool | None = None
    skip_breakers: dict[tuple[str, str], str] = dataclasses.field(default_factory=dict)
    known_failures: dict[tuple[str, str], str] = dataclasses.field(default_factory=dict)
    id: str | None = None  # distinguishes several cases for one target

    @property
    def name(self) -> str:
        return self.id or self.target

    def resolve(self) -> Any:
        return resolve(self.target)

    def run(self, inputs: Inputs) -> Any:
        obj = self.resolve()
        if self.call is not None:
            return self.call(obj, inputs)
        return obj(*inputs.args, **inputs)


def resolve(dotted: str) -> Any:
    """Import ``"pkg.mod.Name"`` (or ``"pkg.mod.Class.method"``)."""
    parts = dotted.split(".")
    # a public name shadows a submodule of the same name (``svd.prehab``): attribute first
    parent, _, last = dotted.rpartition(".")
    if parent:
        try:
            return getattr(importlib.import_module(parent), last)
        except (ImportError, AttributeError):
            pass
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


# ------------------------------------------------------------------ array helpers
def arr(kind: str, x: Any, dtype: Any = None) -> Any:
    """``x`` as a float64 numpy array (kind ``"numpy"``) or torch tensor (``"torch"``)."""
    a = np.asarray(x, dtype=np.float64 if dtype is None else dtype)
    if kind == "torch":
        return torch.from_numpy(a.copy())
    return a


def randn(kind: str, *shape: int, seed: int = 0) -> Any:
    return arr(kind, np.random.default_rng(seed).standard_normal(shape))


def rand(kind: str, *shape: int, seed: int = 0) -> Any:
    return arr(kind, np.random.default_rng(seed).random(shape))


def simplex(kind: str, *shape: int, seed: int = 0) -> Any:
    w = np.random.default_rng(seed).random(shape) + 0.1
    return arr(kind, w / w.sum(axis=-1, keepdims=True))


def labels(kind: str, n: int, n_classes: int, seed: int = 0) -> Any:
    y = np.arange(n) % n_classes
    np.random.default_rng(seed).shuffle(y)
    return torch.from_numpy(y) if kind == "torch" else y


# ------------------------------------------------------------------ breakers
def _is_array(x: Any) -> bool:
    return isinstance(x, (np.ndarray, torch.Tensor))


def _float_copy(x: Any) -> Any:
    """A C-contiguous float copy (so ``reshape(-1)`` is a view and writes reach the copy)."""
    if isinstance(x, torch.Tensor):
        y = x.detach().clone() if x.is_floating_point() else x.detach().double()
        return y.contiguous()
    return np.array(x, dtype=np.float64, copy=True, order="C")


def _with_value(x: Any, value: float) -> Any:
    y = _float_copy(x)
    y.reshape(-1)[0] = value
    return y


def _nan(x: Any) -> Any:
    return _with_value(x, math.nan)


def _inf(x: Any) -> Any:
    return _with_value(x, math.inf)


def _empty_first(x: Any) -> Any:
    return x[:0]


def _empty_last(x: Any) -> Any:
    return x[..., :0]


def _add_axis(x: Any) -> Any:
    return x[None]


def _drop_axis(x: Any) -> Any:
    return x[0]


def _string(_: Any) -> Any:
    return "not an array"


def _negative(x: Any) -> Any:
    y = _float_copy(x)
    y.reshape(-1)[0] = -1.0
    return y


def _zeros(x: Any) -> Any:
    return _float_copy(x) * 0


def _wrong_length(x: Any) -> Any:
    return x[:-1] if x.shape[0] > 1 else (np.concatenate([x, x]) if isinstance(x, np.ndarray)
                                           else torch.cat([x, x]))


def _label_too_big(y: Any) -> Any:
    z = y.copy(order="C") if isinstance(y, np.ndarray) else y.clone().contiguous()
    z.reshape(-1)[0] = 10_000
    return z


def _label_negative(y: Any) -> Any:
    z = y.copy(order="C") if isinstance(y, np.ndarray) else y.clone().contiguous()
    z.reshape(-1)[0] = -1
    return z


def _label_fraction(y: Any) -> Any:
    z = _float_copy(y)
    z.reshape(-1)[0] = 0.5
    return z


def _list_empty(_: Any) -> Any:
    return []


def _list_nan(sets: Any) -> Any:
    out = list(sets)
    out[0] = _nan(out[0])
    return out


def _list_empty_member(sets: Any) -> Any:
    out = list(sets)
    out[0] = out[0][:0]
    return out


def _list_dim_mismatch(sets: Any) -> Any:
    out = list(sets)
    first = out[0]
    out[0] = first[:, :-1] if first.shape[-1] > 1 else (
        np.concatenate([first, first], axis=-1) if isinstance(first, np.ndarray)
        else torch.cat([first, first], dim=-1))
    return out


def _list_string(_: Any) -> Any:
    return ["not an array"]


def _mask_wrong_shape(m: Any) -> Any:
    return m[..., :-1]


def _mask_float(m: Any) -> Any:
    return m.double() if isinstance(m, torch.Tensor) else np.asarray(m, dtype=np.float64)


def _mask_row(value: bool) -> Callable[[Any], Any]:
    def breaker(m: Any) -> Any:
        z = m.clone() if isinstance(m, torch.Tensor) else np.array(m, copy=True)
        z[0] = value
        return z
    return breaker


def _texts_first_number(texts: Any) -> Any:
    return [12345, *list(texts)[1:]]


def _scalar(v: Any) -> Callable[[Any], Any]:
    return lambda _: v


def _module_string(_: Any) -> Any:
    return "not a module"


#: role -> {breaker id: function of the valid value -> invalid value}
BREAKERS: dict[str, dict[str, Callable[[Any], Any]]] = {
    # a batch of 1D samples (..., n): batch axes are valid, so no axis breakers
    "values": {"nan": _nan, "inf": _inf, "empty": _empty_last, "string": _string},
    # a point cloud (n, d)
    "points": {"nan": _nan, "inf": _inf, "empty": _empty_first, "1d": _drop_axis,
               "3d": _add_axis, "string": _string},
    # a batch of point clouds (b, n, d) or a single (n, d): only value breakers
    "points_batch": {"nan": _nan, "inf": _inf, "string": _string},
    # a matrix (n, m) (cost / distance / Gram matrices, weight matrices)
    "matrix": {"nan": _nan, "inf": _inf, "1d": _drop_axis, "3d": _add_axis, "string": _string},
    # any finite array where only the values and the type matter
    "array": {"nan": _nan, "inf": _inf, "string": _string},
    # non-negative weights with positive sum (..., n)
    "weights": {"nan": _nan, "negative": _negative, "zero_sum": _zeros,
                "wrong_length": _wrong_length, "string": _string},
    # probability vectors along the last axis
    "probs": {"nan": _nan, "negative": _negative, "zero_sum": _zeros, "string": _string},
    # images (n, h, w) or (n, c, h, w)
    "images": {"nan": _nan, "inf": _inf, "empty": _empty_first, "1d": lambda x: x.reshape(-1),
               "string": _string},
    # integer class labels (n,) in [0, n_classes)
    "labels": {"too_big": _label_too_big, "negative": _label_negative,
               "fraction": _label_fraction, "wrong_length": _wrong_length, "string": _string},
    # token ids (batch, length) in [0, vocab)
    "tokens": {"too_big": _label_too_big, "negative": _label_negative,
               "fraction": _label_fraction, "string": _string},
    # a list of point sets, each (n_i, d)
    "sets": {"empty_list": _list_empty, "nan": _list_nan, "empty_set": _list_empty_member,
             "dim_mismatch": _list_dim_mismatch, "string": _list_string},
    # a boolean set mask (batch, n), True = a real element
    "mask": {"wrong_shape": _mask_wrong_shape, "float": _mask_float,
             "empty_row": _mask_row(False), "string": _string},
    # PyTorch's key_padding_mask (batch, m), True = ignore this key
    "padding_mask": {"wrong_shape": _mask_wrong_shape, "float": _mask_float,
                     "all_padded_row": _mask_row(True), "string": _string},
    # a list of strings (sentences, passages, prompts)
    "texts": {"empty_list": _list_empty, "string": lambda _: "not a list",
              "number": lambda _: 12345, "non_string_item": _texts_first_number},
    # scalars
    "pos_int": {"zero": _scalar(0), "negative": _scalar(-1), "float": _scalar(2.5),
                "string": _scalar("3")},
    "nonneg_int": {"negative": _scalar(-1), "float": _scalar(2.5), "string": _scalar("3")},
    "pos_float": {"zero": _scalar(0.0), "negative": _scalar(-1.0), "nan": _scalar(math.nan),
                  "inf": _scalar(math.inf), "string": _scalar("1")},
    "nonneg_float": {"negative": _scalar(-1.0), "nan": _scalar(math.nan), "inf": _scalar(math.inf),
                     "string": _scalar("1")},
    "real": {"nan": _scalar(math.nan), "inf": _scalar(math.inf), "string": _scalar("1")},
    "ratio": {"zero": _scalar(0.0), "one": _scalar(1.0), "above": _scalar(1.5),
              "negative": _scalar(-0.2), "nan": _scalar(math.nan), "string": _scalar("0.5")},
    "prob": {"above": _scalar(1.5), "negative": _scalar(-0.2), "nan": _scalar(math.nan),
             "string": _scalar("0.5")},
    "choice": {"unknown": _scalar("no-such-option"), "number": _scalar(12345)},
    "seed": {"string": _scalar("seed"), "float": _scalar(1.5)},
    "module": {"string": _module_string, "none": _scalar(None)},
    "bool": {"string": _scalar("yes")},
}


def breakers_for(case: Case, inputs: Inputs) -> list[tuple[str, str, Callable[[Any], Any]]]:
    """All ``(arg, breaker_id, fn)`` of ``case`` that apply to these valid ``inputs``."""
    out = []
    for arg, role in case.roles.items():
        if role not in BREAKERS:
            raise KeyError(f"{case.name}: unknown role {role!r} for {arg!r}")
        if arg not in inputs:
            raise KeyError(f"{case.name}: role given for {arg!r} but build() does not pass it "
                           "as a keyword")
        for bid, fn in BREAKERS[role].items():
            if (arg, bid) in case.skip_breakers:
                continue
            value = inputs[arg]
            if not _is_array(value) and (role in ("mask", "padding_mask")
                                         or bid in ("1d", "3d", "empty", "wrong_length")):
                continue
            if bid == "1d" and _is_array(value) and value.ndim < 2:
                continue
            out.append((arg, bid, fn))
    return out


# ------------------------------------------------------------------ result checks
def iter_leaves(result: Any, path: str = "result"):
    """Yield ``(path, leaf)`` for every array / number in a result (dataclasses, tuples, dicts)."""
    if isinstance(result, (np.ndarray, torch.Tensor)):
        yield path, result
    elif isinstance(result, (bool, str, bytes)) or result is None:
        return
    elif isinstance(result, numbers.Number):
        yield path, result
    elif dataclasses.is_dataclass(result) and not isinstance(result, type):
        for f in dataclasses.fields(result):
            yield from iter_leaves(getattr(result, f.name), f"{path}.{f.name}")
    elif isinstance(result, Mapping):
        for k, v in result.items():
            yield from iter_leaves(v, f"{path}[{k!r}]")
    elif isinstance(result, (list, tuple)):
        for i, v in enumerate(result[:50]):
            yield from iter_leaves(v, f"{path}[{i}]")


def check_result(result: Any, kind: str, dtype: torch.dtype = torch.float64) -> list[str]:
    """Problems with a valid call's result: non-finite values, or the wrong array kind."""
    problems = []
    for path, leaf in iter_leaves(result):
        if isinstance(leaf, torch.Tensor):
            if kind == "numpy":
                problems.append(f"{path} is a torch tensor for numpy input")
            if leaf.is_floating_point():
                if not bool(torch.isfinite(leaf.detach()).all()):
                    problems.append(f"{path} holds NaN or inf")
                if kind == "torch" and leaf.dtype not in (dtype, torch.float32, torch.float16,
                                                           torch.bfloat16):
                    problems.append(f"{path} has dtype {leaf.dtype}")
        elif isinstance(leaf, np.ndarray):
            if kind == "torch" and leaf.dtype.kind == "f" and leaf.ndim > 0:
                problems.append(f"{path} is a numpy array for torch input")
            if leaf.dtype.kind in "fc" and not np.isfinite(leaf).all():
                problems.append(f"{path} holds NaN or inf")
        elif isinstance(leaf, numbers.Number) and not isinstance(leaf, bool):
            if isinstance(leaf, (float, np.floating)) and not math.isfinite(float(leaf)):
                problems.append(f"{path} is {leaf}")
    return problems


def has_seed(case: Case) -> bool:
    if case.seeded is not None:
        return case.seeded
    import inspect

    obj = case.resolve()
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return False
    return "seed" in sig.parameters or "random_state" in sig.parameters


def public_callables() -> list[str]:
    """Dotted names of every callable in the covered subpackages' ``__all__``."""
    names = []
    for pkg in SUBPACKAGES:
        mod = importlib.import_module(pkg)
        for n in getattr(mod, "__all__", []):
            obj = getattr(mod, n, None)
            if callable(obj) and not (isinstance(obj, type) and issubclass(obj, BaseException)):
                names.append(f"{pkg}.{n}")
    return names
