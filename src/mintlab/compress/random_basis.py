"""A model stored as a seed and a few numbers: PRANC (``pranc``) and MCNC (``mcnc``).

Both wrap any ``torch.nn.Module`` and generate its weights (all linear,
convolution and embedding parameters by default, or a chosen subset) from a
handful of trained tensors and a seed; only those tensors train.

* :class:`PRANC`: the weights are a linear combination of ``n_coefficients``
  frozen random networks, ``theta = sum_j alpha_j theta_j``; the basis is
  regenerated block by block from the seed in the forward and backward
  passes, so it never has to be held in memory.
* :class:`MCNC`: the weights are cut into chunks of ``chunk_size`` values;
  each chunk is ``beta_c * phi(z_c) / ||phi(z_c)||``, a point of a frozen
  random sinusoidal manifold ``phi: R^k -> R^d`` scaled by an amplitude;
  only the codes ``z`` and amplitudes ``beta`` train.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

import torch
from torch import nn

from mintlab._validation import check_int, check_positive

from ._basis import Stream, uniform
from ._reparam import IncludeLike, Reparameterized

__all__ = ["PRANC", "MCNC"]

#: PRANC basis blocks hold about this many values (1 MiB in float32). The block
#: layout is part of the basis' definition (it depends on ``n_coefficients``
#: only), never on the memory a caller allows.
BLOCK_VALUES = 1 << 18


class _BasisProduct(torch.autograd.Function):
    """``B @ alpha`` with ``B`` produced block by block by ``make_block`` in both passes.

    Results are written into preallocated outputs (``out=`` / in-place
    ``addmv_``), so no small allocation sits between two blocks and the
    allocator can reuse one block's memory for the next.
    """

    @staticmethod
    def forward(ctx, coefficients, make_block, n_blocks, n):
        ctx.make_block, ctx.n_blocks = make_block, n_blocks
        ctx.save_for_backward(coefficients)
        out = coefficients.new_empty(n)
        start = 0
        for b in range(n_blocks):
            block = make_block(b)
            torch.mv(block, coefficients, out=out[start:start + block.shape[0]])
            start += block.shape[0]
            del block
        return out

    @staticmethod
    def backward(ctx, grad):
        (coefficients,) = ctx.saved_tensors
        out = torch.zeros_like(coefficients)
        start = 0
        for b in range(ctx.n_blocks):
            block = ctx.make_block(b)
            out.addmv_(block.T, grad[start:start + block.shape[0]])
            start += block.shape[0]
            del block
        return out, None, None, None


class PRANC(Reparameterized):
    r"""Pseudo-random networks: weights = a linear combination of frozen random networks.

    .. math:: \theta = \sum_{j=1}^{k} \alpha_j \theta_j

    where each basis network :math:`\theta_j` is drawn like PyTorch's default
    initialisation (uniform, half-width :func:`~mintlab.compress.init_bound`
    per tensor) from the seed, and only :math:`\alpha` trains. The model is
    stored as ``(seed, alpha)`` plus any parameter not selected. Training
    starts from :math:`\alpha = e_1`, i.e. from the random network
    :math:`\theta_1` (paper: ``pranc``).

    Parameters
    ----------
    model : torch.nn.Module
        The network; its selected parameters are frozen and generated.
    n_coefficients : int
        Number of basis networks ``k``.
    seed : int
        Seed of the basis (stored with the model).
    include, exclude : optional
        Which parameters to generate: ``None`` = every parameter of the
        linear, convolution and embedding layers; else ``fnmatch`` patterns
        on parameter names or a callable ``(name, parameter) -> bool``.
    cache_basis : {"auto", True, False}
        Keep the generated basis blocks in memory (fast training) or
        regenerate them in every forward and backward pass (memory: one
        block of about 1 MiB). ``"auto"`` caches when the basis takes at most
        ``max_cache_bytes``. The weights are the same either way.
    max_cache_bytes : int
        Memory budget of ``cache_basis="auto"``.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    >>> pr = PRANC(net, n_coefficients=20, seed=0)
    >>> pr(torch.zeros(5, 8)).shape
    torch.Size([5, 3])
    >>> [tuple(p.shape) for p in pr.trainable_parameters()]
    [(20,)]
    """

    method = "pranc"

    def __init__(self, model: nn.Module, n_coefficients: int = 1000, seed: int = 0,
                 include: IncludeLike = None, exclude: Sequence[str] | str | None = None,
                 cache_basis: bool | str = "auto", max_cache_bytes: int = 1 << 28) -> None:
        n_coefficients = check_int(n_coefficients, "n_coefficients", minimum=1)
        if cache_basis not in ("auto", True, False):
            raise ValueError(f"cache_basis must be 'auto', True or False, got {cache_basis!r}")
        max_cache_bytes = check_int(max_cache_bytes, "max_cache_bytes", minimum=0)
        super().__init__(model, seed, include, exclude)
        self.n_coefficients = n_coefficients
        self.max_cache_bytes = max_cache_bytes
        ref = dict(model.named_parameters())[self.param_names[0]]
        k = self.n_coefficients
        self.rows_per_block = max(1, BLOCK_VALUES // k)
        n_values = sum(math.prod(s) for s in self.shapes)
        if cache_basis == "auto":
            cache_basis = n_values * k * ref.element_size() <= self.max_cache_bytes
        self.cache_basis = bool(cache_basis)
        init = torch.zeros(k, dtype=ref.dtype, device=ref.device)
        init[0] = 1.0
        self.coefficients = nn.Parameter(init)
        self._cache: dict[tuple, list[list[torch.Tensor]]] = {}
        #: random tensors read from a file saved with include_basis (None: from the seed)
        self._stored_basis: list[torch.Tensor] | None = None

    def method_config(self) -> dict[str, Any]:
        return {"n_coefficients": self.n_coefficients}

    def random_streams(self) -> dict[str, Stream]:
        return {f"pranc/{name}/0": (("pranc", name, 0),
                                    (min(self.rows_per_block, math.prod(shape)),
                                     self.n_coefficients))
                for name, shape in zip(self.param_names, self.shapes, strict=True)}

    def basis_tensors(self) -> dict[str, torch.Tensor]:
        return {name: torch.cat([self.basis_block(i, b, torch.float32, "cpu")
                                 for b in range(self._n_blocks(i))])
                for i, name in enumerate(self.param_names)}

    def load_basis(self, tensors: Mapping[str, torch.Tensor],
                   fail: Callable[[str], NoReturn]) -> None:
        if set(tensors) != set(self.param_names):
            fail(f"the stored PRANC basis covers {sorted(tensors)[:5]}, the model generates "
                 f"{sorted(self.param_names)[:5]}")
        stored = []
        for name, shape in zip(self.param_names, self.shapes, strict=True):
            t = tensors[name]
            want = (math.prod(shape), self.n_coefficients)
            if tuple(t.shape) != want or not t.is_floating_point():
                fail(f"the stored basis of {name!r} has shape {tuple(t.shape)} "
                     f"({t.dtype}), expected {want} (floating)")
            if not bool(torch.isfinite(t).all()):
                fail(f"the stored basis of {name!r} holds NaN or infinite values (corrupted?)")
            stored.append(t)
        self._stored_basis = stored
        self._cache.clear()

    def compressed_tensors(self) -> dict[str, torch.Tensor]:
        return {"coefficients": self.coefficients}

    def _n_blocks(self, i: int) -> int:
        return -(-math.prod(self.shapes[i]) // self.rows_per_block)

    def basis_block(self, i: int, b: int, dtype: torch.dtype | None = None,
                    device: torch.device | str | None = None) -> torch.Tensor:
        """Rows ``[b R, (b+1) R)`` of parameter ``i``'s basis, shape ``(rows, k)``.

        Row ``r`` of parameter ``i`` holds the value of that parameter's
        ``r``-th entry in each of the ``k`` basis networks.
        """
        n = math.prod(self.shapes[i])
        rows = min(self.rows_per_block, n - b * self.rows_per_block)
        if self._stored_basis is not None:
            start = b * self.rows_per_block
            block = self._stored_basis[i][start:start + rows]
        else:
            bound = self.bounds[i]
            block = uniform((rows, self.n_coefficients), self.seed, "pranc",
                            self.param_names[i], b, low=-bound, high=bound)
        c = self.coefficients
        return block.to(device=device or c.device, dtype=dtype or c.dtype)

    def _cached_blocks(self) -> list[list[torch.Tensor]]:
        c = self.coefficients
        key = (c.dtype, c.device)
        if key not in self._cache:
            self._cache.clear()
            self._cache[key] = [[self.basis_block(i, b) for b in range(self._n_blocks(i))]
                                for i in range(len(self.shapes))]
        return self._cache[key]

    def generate(self) -> dict[str, torch.Tensor]:
        c = self.coefficients
        cached = self._cached_blocks() if self.cache_basis else None
        out = {}
        for i, (name, shape) in enumerate(zip(self.param_names, self.shapes, strict=True)):
            if cached is not None:
                make = cached[i].__getitem__
            else:
                def make(b, i=i):
                    return self.basis_block(i, b)
            flat = _BasisProduct.apply(c, make, self._n_blocks(i), math.prod(shape))
            out[name] = flat.view(shape)
        return out

    def _apply(self, fn, recurse=True):
        self._cache.clear()  # dtype/device may change: rebuild the cache lazily
        return super()._apply(fn, recurse)


class _SineGenerator(nn.Module):
    """The frozen random manifold of MCNC: a sinusoidal MLP ``R^k -> R^d``.

    SIREN-style: layer 1 has weights ``U(-1/k, 1/k)``, later layers
    ``U(-sqrt(6/h)/w0, sqrt(6/h)/w0)``, every hidden layer is
    ``sin(w0 (W x + b))``; all weights come from the seed's streams.
    """

    def __init__(self, code_dim, chunk_size, hidden, depth, frequency, seed, dtype, device):
        super().__init__()
        self.frequency = frequency
        dims = [code_dim] + [hidden] * depth + [chunk_size]
        self.weights, self.biases = [], []
        for layer, (fan_in, fan_out) in enumerate(zip(dims[:-1], dims[1:], strict=True)):
            bound = 1.0 / fan_in if layer == 0 else math.sqrt(6.0 / fan_in) / frequency
            w = uniform((fan_out, fan_in), seed, "mcnc", "generator", layer, "weight",
                        low=-bound, high=bound, dtype=dtype, device=device)
            b = uniform((fan_out,), seed, "mcnc", "generator", layer, "bias",
                        low=-1.0 / math.sqrt(fan_in), high=1.0 / math.sqrt(fan_in),
                        dtype=dtype, device=device)
            self.register_buffer(f"w{layer}", w, persistent=False)
            self.register_buffer(f"b{layer}", b, persistent=False)
        self.n_layers = len(dims) - 1

    def forward(self, z):
        h = z
        for layer in range(self.n_layers):
            w, b = getattr(self, f"w{layer}"), getattr(self, f"b{layer}")
            h = torch.nn.functional.linear(h, w, b)
            if layer < self.n_layers - 1:
                h = torch.sin(self.frequency * h)
        return h


class MCNC(Reparameterized):
    r"""Manifold-constrained compression: weight chunks on a frozen random manifold.

    Each selected tensor is flattened and cut into chunks of ``chunk_size``
    values ``d`` (the last chunk of each tensor is zero-padded). Chunk ``c``
    is

    .. math:: \theta_c = \beta_c \, \phi(z_c) / \lVert \phi(z_c) \rVert,
              \qquad z_c \in \mathbb{R}^k,\ \beta_c \in \mathbb{R}

    with :math:`\phi` a frozen random sinusoidal MLP generated from the seed;
    only the codes :math:`z` and amplitudes :math:`\beta` train, ``k + 1``
    numbers per ``d`` weights (paper: ``mcnc``). Codes start uniform in
    ``[-1, 1]^k`` and amplitudes at the norm of a default-initialised chunk,
    so training starts from a random network of the usual scale.

    Parameters
    ----------
    model : torch.nn.Module
        The network; its selected parameters are frozen and generated.
    code_dim : int
        ``k``, the manifold's dimension.
    chunk_size : int
        ``d``, the number of weights per chunk.
    hidden, depth : int
        Width and number of hidden layers of the generator.
    frequency : float
        ``w0`` of the sine activations (higher: a more wiggly manifold that
        covers the sphere more densely).
    seed : int
        Seed of the generator and of the initial codes (stored with the model).
    include, exclude : optional
        As for :class:`PRANC`.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    >>> mc = MCNC(net, code_dim=3, chunk_size=32, seed=0)
    >>> mc(torch.zeros(5, 8)).shape
    torch.Size([5, 3])
    >>> sum(p.numel() for p in mc.trainable_parameters())   # (3 + 1) numbers per chunk, 8 chunks
    32
    """

    method = "mcnc"

    def __init__(self, model: nn.Module, code_dim: int = 8, chunk_size: int = 256,
                 hidden: int = 64, depth: int = 2, frequency: float = 30.0, seed: int = 0,
                 include: IncludeLike = None,
                 exclude: Sequence[str] | str | None = None) -> None:
        code_dim = check_int(code_dim, "code_dim", minimum=1)
        chunk_size = check_int(chunk_size, "chunk_size", minimum=1)
        hidden = check_int(hidden, "hidden", minimum=1)
        depth = check_int(depth, "depth", minimum=1)
        frequency = check_positive(frequency, "frequency")
        super().__init__(model, seed, include, exclude)
        self.code_dim, self.chunk_size = code_dim, chunk_size
        self.hidden, self.depth, self.frequency = hidden, depth, frequency
        ref = dict(model.named_parameters())[self.param_names[0]]
        self.generator = _SineGenerator(self.code_dim, self.chunk_size, self.hidden, self.depth,
                                        self.frequency, self.seed, ref.dtype, ref.device)
        self.chunks_per_tensor = tuple(-(-math.prod(s) // self.chunk_size) for s in self.shapes)
        n_chunks = sum(self.chunks_per_tensor)
        codes = uniform((n_chunks, self.code_dim), self.seed, "mcnc", "codes-init",
                        dtype=ref.dtype, device=ref.device)
        # norm of a chunk of d values drawn U(-b, b): b * sqrt(d / 3)
        amp = torch.cat([torch.full((c,), b * math.sqrt(self.chunk_size / 3.0))
                         for c, b in zip(self.chunks_per_tensor, self.bounds, strict=True)])
        self.codes = nn.Parameter(codes)
        self.amplitudes = nn.Parameter(amp.to(dtype=ref.dtype, device=ref.device))

    def method_config(self) -> dict[str, Any]:
        return {"code_dim": self.code_dim, "chunk_size": self.chunk_size, "hidden": self.hidden,
                "depth": self.depth, "frequency": self.frequency}

    def compressed_tensors(self) -> dict[str, torch.Tensor]:
        return {"codes": self.codes, "amplitudes": self.amplitudes}

    def _generator_shapes(self) -> dict[str, tuple[int, ...]]:
        dims = [self.code_dim] + [self.hidden] * self.depth + [self.chunk_size]
        out: dict[str, tuple[int, ...]] = {}
        for layer, (fan_in, fan_out) in enumerate(zip(dims[:-1], dims[1:], strict=True)):
            out[f"{layer}/weight"] = (fan_out, fan_in)
            out[f"{layer}/bias"] = (fan_out,)
        return out

    def random_streams(self) -> dict[str, Stream]:
        out: dict[str, Stream] = {}
        for k, shape in self._generator_shapes().items():
            layer, kind = k.split("/")
            out[f"mcnc/generator/{k}"] = (("mcnc", "generator", int(layer), kind), shape)
        return out

    def basis_tensors(self) -> dict[str, torch.Tensor]:
        out = {}
        for k in self._generator_shapes():
            layer, kind = k.split("/")
            buf = getattr(self.generator, ("w" if kind == "weight" else "b") + layer)
            out[f"generator.{layer}.{kind}"] = buf.detach().to("cpu", torch.float32).clone()
        return out

    def load_basis(self, tensors: Mapping[str, torch.Tensor],
                   fail: Callable[[str], NoReturn]) -> None:
        shapes = {f"generator.{k.replace('/', '.')}": s
                  for k, s in self._generator_shapes().items()}
        if set(tensors) != set(shapes):
            fail(f"the stored MCNC generator holds {sorted(tensors)[:6]}, the model needs "
                 f"{sorted(shapes)[:6]}")
        with torch.no_grad():
            for key, shape in shapes.items():
                t = tensors[key]
                if tuple(t.shape) != shape or not t.is_floating_point():
                    fail(f"the stored generator tensor {key!r} has shape {tuple(t.shape)}, "
                         f"expected {shape}")
                if not bool(torch.isfinite(t).all()):
                    fail(f"the stored generator tensor {key!r} holds NaN or infinite values")
                _, layer, kind = key.split(".")
                buf = getattr(self.generator, ("w" if kind == "weight" else "b") + layer)
                buf.copy_(t)

    def generate(self) -> dict[str, torch.Tensor]:
        direction = self.generator(self.codes)
        direction = direction / direction.norm(dim=1, keepdim=True).clamp_min(1e-12)
        chunks = direction * self.amplitudes[:, None]
        out, start = {}, 0
        for name, shape, c in zip(self.param_names, self.shapes, self.chunks_per_tensor,
                                  strict=True):
            out[name] = chunks[start:start + c].reshape(-1)[:math.prod(shape)].view(shape)
            start += c
        return out
