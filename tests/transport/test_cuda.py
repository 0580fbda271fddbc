"""Array kind, dtype and device of every public transport function.

Two parts:

- CPU (always run): every public function of :mod:`mintlab.transport` returns
  numpy float64 for numpy input and torch of the input dtype for float32 torch
  input (every floating array in the result, dataclass fields included).
- CUDA (marker ``cuda``, skipped without a GPU): the 1D kernels, sliced
  distances, plans, partial kernels and couplings run on CUDA tensors, return
  CUDA tensors of the input dtype, and match the CPU result.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect

import numpy as np
import pytest
import torch

import mintlab.transport as T
from mintlab.transport.couplings import couple

N, M, D = 9, 7, 3


# ------------------------------------------------------------------ inputs
def _rng(seed=0):
    return np.random.default_rng(seed)


def _cloud(n, d=D, seed=0, shift=0.0):
    return _rng(seed).normal(size=(n, d)) + shift


def _sphere(n, d=D, seed=0):
    x = _cloud(n, d, seed)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _dist(X):
    return np.linalg.norm(X[:, None] - X[None], axis=-1)


def _unif(n):
    return np.full(n, 1.0 / n)


def _signal(n, seed):
    return _rng(seed).random(n) + 0.1


def _pairs():
    return {"X": _cloud(N, seed=1), "Y": _cloud(M, seed=2, shift=1.0)}


# name -> (positional arrays, keyword arrays, keyword options). Arrays are converted to the
# tested kind; options are passed as is.
def _cases():
    X, Y = _cloud(N, seed=1), _cloud(M, seed=2, shift=1.0)
    u, v = _rng(3).random(N), _rng(4).random(M)
    S, St = _sphere(N, seed=5), _sphere(M, seed=6)
    cost = ((X[:, None] - Y[None]) ** 2).sum(-1)
    sw = ([X, Y], {}, {"n_projections": 8, "seed": 0})
    return {
        "wasserstein_1d": ([u, v], {}, {"p": 2}),
        "quantile_function": ([np.array([0.1, 0.6]), np.array([0.5, 1.0]),
                               np.array([1.0, 2.0])], {}, {}),
        "wasserstein_1d_plan": ([u, v], {}, {"p": 2}),
        "partial_wasserstein_1d": ([u, v], {}, {"penalty": 0.1, "p": 2}),
        "circle_wasserstein": ([u, v], {}, {"p": 2}),
        "linear_circular_embedding": ([np.linspace(0, 1, 5, endpoint=False), u], {}, {}),
        "linear_circular_ot": ([u, v], {}, {}),
        "emd": ([_unif(N), _unif(M), cost], {}, {}),
        "emd2": ([_unif(N), _unif(M), cost], {}, {}),
        "partial_wasserstein_lp": ([_unif(N), _unif(M), cost], {}, {"penalty": 1.0}),
        "stereographic_projection": ([S[:, :]], {}, {}),
        "spherical_equidistant_map": ([S], {}, {}),
        "sliced_wasserstein_distance": sw,
        "max_sliced_wasserstein_distance": ([X, Y], {}, {"n_projections": 4, "n_iter": 3,
                                                         "seed": 0}),
        "generalized_sliced_wasserstein_distance": sw,
        "energy_based_sliced_wasserstein_distance": sw,
        "sliced_partial_wasserstein": ([X, Y], {}, {"penalty": 1.0, "n_projections": 8,
                                                    "seed": 0}),
        "s3w_distance": ([S, St], {}, {"n_projections": 8, "n_rotations": 2, "pool_size": 4,
                                       "seed": 0}),
        "linear_sliced_wasserstein_sphere": ([S, St], {}, {"n_projections": 8, "seed": 0}),
        "sphere_to_circle": ([S], {"frames": T.random_frames(D, 4, seed=0).numpy()}, {}),
        "fused_partial_gromov_wasserstein": ([cost, _dist(X), _dist(Y)], {},
                                             {"max_iter": 5}),
        "partial_gromov_barycenter": ([[_dist(X), _dist(Y)]], {},
                                      {"n_points": 4, "max_iter": 2, "seed": 0}),
        "partial_gromov_wasserstein": ([_dist(X), _dist(Y)], {}, {"max_iter": 5}),
        "gromov_cost_matrix": ([X], {}, {}),
        "min_generalized_sliced_gromov_wasserstein": ([X, Y], {}, {"n_init": 2, "n_iter": 2,
                                                                   "seed": 0}),
        "amortized_gsgw_plan": ([X, Y], {}, {"net": "amortized"}),
        "ptlp_distance": ([_signal(8, 7), _signal(8, 8)], {}, {"penalty": 1.0}),
        "tlp_distance": ([_signal(8, 7), _signal(8, 8)], {}, {}),
        "sliced_ptlp_distance": ([_signal(8, 7), _signal(8, 8)], {},
                                 {"penalty": 1.0, "n_projections": 4, "seed": 0}),
        "radon_cdt": ([_rng(9).random((2, 8, 8)) + 0.1], {}, {"angles": np.array([0.0, 45.0])}),
        "expected_sliced_plan": sw,
        "min_sliced_plan": ([X, Y], {}, {"n_projections": 4, "n_iter": 2, "seed": 0}),
        "soft_sort_matrix": ([u], {}, {"temperature": 0.1}),
        "couple": ([X, Y], {}, {"method": "sinkhorn", "reg": 1.0}),
        # batches and matrices
        "sliced_wasserstein_matrix": ([[X, Y, X[:5]]], {}, {"n_projections": 8, "seed": 0}),
        "s3w_matrix": ([[S, St]], {}, {"n_projections": 8, "n_rotations": 2, "pool_size": 4,
                                       "seed": 0}),
        "circle_wasserstein_matrix": ([[u, v, u[:4]]], {}, {"p": 2}),
        "sliced_partial_wasserstein_matrix": ([[X, Y]], {}, {"penalty": 1.0,
                                                             "n_projections": 8, "seed": 0}),
        "linear_sliced_wasserstein_sphere_matrix": ([[S, St]], {}, {"n_projections": 8,
                                                                    "seed": 0}),
        "partial_wasserstein_1d_path": ([u, v], {}, {}),
        "sliced_estimate": ([X, Y], {}, {"n_projections": 8, "seed": 0}),
    }


# functions whose inputs are not data arrays: they take a dtype (checked separately) or
# return a module
_DTYPE_ARG = {"random_directions": (D, 4), "orthonormal_directions": (D, 3),
              "random_rotations": (D, 2), "random_frames": (D, 4),
              "fibonacci_directions": (3, 8), "sample_directions": (D, 4)}
_NOT_ARRAYS = {"make_slicer": "returns a torch module (its dtype is an argument)",
               "fit_amortized_gsgw": "trains a network in place and returns it"}
_TORCH_ONLY = {"soft_sort_matrix"}  # documented torch-only (differentiable layer helper)


_SUBMODULES = ("line", "sliced", "slicers", "plans", "exact", "gromov", "signals",
               "sliced_gromov", "batch", "couplings")


def _registry():
    """Public functions of ``mintlab.transport`` and of its submodules' ``__all__``."""
    found = {n: getattr(T, n) for n in getattr(T, "__all__", [])}
    for mod_name in _SUBMODULES:
        try:
            mod = importlib.import_module(f"mintlab.transport.{mod_name}")
        except ImportError:
            continue
        for n in getattr(mod, "__all__", []):
            found.setdefault(n, getattr(mod, n))
    return {n: f for n, f in found.items() if inspect.isfunction(f)}


def _public_functions():
    return sorted(_registry())


def _convert(x, kind, dtype=torch.float32, device="cpu"):
    if isinstance(x, list):
        return [_convert(v, kind, dtype, device) for v in x]
    if isinstance(x, np.ndarray):
        return torch.as_tensor(x, dtype=dtype, device=device) if kind == "torch" else x
    return x


def _call(name, kind, dtype=torch.float32, device="cpu"):
    args, kwargs, options = _cases()[name]
    options = dict(options)
    a = [_convert(x, kind, dtype, device) for x in args]
    if options.pop("net", None) == "amortized":
        from mintlab.transport.sliced_gromov import AmortizedGSGWSlicer

        net = AmortizedGSGWSlicer(D, seed=0)
        if kind == "torch":
            net = net.to(device=device, dtype=dtype)
        a.insert(0, net)
    k = {key: _convert(x, kind, dtype, device) for key, x in kwargs.items()}
    return _registry()[name](*a, **k, **options)


def _arrays(value, path="result"):
    """Every array in a result: tensors, numpy arrays, inside tuples/lists/dicts/dataclasses."""
    if isinstance(value, (torch.Tensor, np.ndarray)):
        yield path, value
    elif isinstance(value, (tuple, list)):
        for i, v in enumerate(value):
            yield from _arrays(v, f"{path}[{i}]")
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _arrays(v, f"{path}[{k!r}]")
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            if not f.name.startswith("_"):  # private caches are not part of the result
                yield from _arrays(getattr(value, f.name), f"{path}.{f.name}")
    elif hasattr(value, "tocoo"):  # scipy sparse
        yield path, value.tocoo().data


def _kind_problems(value, kind, dtype, device="cpu"):
    problems = []
    for path, arr in _arrays(value):
        if kind == "torch":
            if not isinstance(arr, torch.Tensor):
                problems.append(f"{path}: {type(arr).__name__} for torch input")
            elif arr.is_floating_point() and arr.dtype != dtype:
                problems.append(f"{path}: {arr.dtype} for {dtype} input")
            elif arr.device.type != torch.device(device).type:
                problems.append(f"{path}: on {arr.device} for {device} input")
        else:
            if isinstance(arr, torch.Tensor):
                problems.append(f"{path}: torch.Tensor for numpy input")
            elif np.issubdtype(arr.dtype, np.floating) and arr.dtype != np.float64:
                problems.append(f"{path}: {arr.dtype} for numpy (float64) input")
    return problems


# -------------------------------------------------------------------- CPU
def test_every_public_function_is_covered():
    covered = set(_cases()) | set(_DTYPE_ARG) | set(_NOT_ARRAYS)
    missing = [n for n in _public_functions() if n not in covered]
    assert not missing, f"add a case for these public functions: {missing}"


@pytest.mark.parametrize("name", sorted(_cases()))
@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_kind_and_dtype_are_kept(name, kind):
    if name not in _public_functions():
        pytest.skip(f"{name} is not public in mintlab.transport")
    if kind == "numpy" and name in _TORCH_ONLY:
        pytest.skip(f"{name} takes torch tensors only")
    out = _call(name, kind)
    problems = _kind_problems(out, kind, torch.float32)
    assert not problems, f"{name}: " + "; ".join(problems)


@pytest.mark.parametrize("name", sorted(_DTYPE_ARG))
def test_direction_samplers_honour_dtype(name):
    if name not in _public_functions():
        pytest.skip(f"{name} is not public in mintlab.transport")
    out = _registry()[name](*_DTYPE_ARG[name], seed=0, dtype=torch.float32)
    problems = _kind_problems(out, "torch", torch.float32)
    assert not problems, f"{name}: " + "; ".join(problems)


# ------------------------------------------------------------------- CUDA
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

_CUDA_CASES = ["wasserstein_1d", "wasserstein_1d_plan", "circle_wasserstein",
               "partial_wasserstein_1d", "partial_wasserstein_1d_path", "linear_circular_ot",
               "quantile_function", "sliced_wasserstein_distance",
               "energy_based_sliced_wasserstein_distance", "sliced_partial_wasserstein",
               "s3w_distance", "linear_sliced_wasserstein_sphere", "sliced_estimate",
               "sliced_wasserstein_matrix", "circle_wasserstein_matrix",
               "sliced_partial_wasserstein_matrix", "expected_sliced_plan", "min_sliced_plan",
               "soft_sort_matrix"]


def _close(a, b, path, dtype):
    tol = 1e-4 if dtype == torch.float32 else 1e-9
    a, b = a.detach().cpu().double(), b.detach().cpu().double()
    assert a.shape == b.shape, f"{path}: shape {tuple(a.shape)} on CUDA, {tuple(b.shape)} on CPU"
    if a.is_floating_point():
        torch.testing.assert_close(a, b, atol=tol, rtol=tol, msg=f"{path} differs")


@pytest.mark.cuda
@cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", _CUDA_CASES)
def test_kernels_run_on_cuda_and_match_cpu(name, dtype):
    if name not in _public_functions():
        pytest.skip(f"{name} is not public in mintlab.transport")
    gpu = _call(name, "torch", dtype, "cuda")
    cpu = _call(name, "torch", dtype, "cpu")
    problems = _kind_problems(gpu, "torch", dtype, "cuda")
    assert not problems, f"{name}: " + "; ".join(problems)
    if name == "min_sliced_plan":  # an optimisation: check kinds and the plan's marginals only
        torch.testing.assert_close(gpu.plan.sum(1).cpu(), cpu.plan.sum(1), atol=1e-4, rtol=0)
        return
    for (path, g), (_, c) in zip(_arrays(gpu), _arrays(cpu), strict=True):
        _close(g, c, path, dtype)


@pytest.mark.cuda
@cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("method,kw", [("exact", {}), ("sinkhorn", {"reg": 1.0}),
                                       ("partial", {"mass": 0.5}),
                                       ("partial", {"mass": 0.5, "reg": 1.0}),
                                       ("sliced", {"projections": np.eye(D)})])
def test_couplings_run_on_cuda(method, kw, dtype):
    pts = _pairs()
    x0 = torch.as_tensor(pts["X"][:M], dtype=dtype, device="cuda")
    x1 = torch.as_tensor(pts["Y"], dtype=dtype, device="cuda")
    gpu = couple(x0, x1, method, dense=True, **kw)
    cpu = couple(x0.cpu(), x1.cpu(), method, dense=True, **kw)
    assert gpu.plan.device.type == "cuda" and gpu.plan.dtype == dtype
    if gpu.src is not None:
        assert gpu.src.device.type == "cuda" and gpu.src.dtype == torch.long
    _close(gpu.plan, cpu.plan, "plan", dtype)
    _close(gpu.cost, cpu.cost, "cost", dtype)
    i, j = gpu.sample_pairs(16, seed=torch.Generator(device="cuda").manual_seed(0))
    assert i.device.type == "cuda" and j.device.type == "cuda"
    i, j = gpu.sample_pairs(16, seed=0)  # a CPU generator also works
    assert i.device.type == "cuda"
