"""Fuzz cases: compression (PRANC, MCNC, NOLA / LoRA adapters, whitened SVD, ConQuR quantisation,
saved compressed models).

The models are tiny (a 2-layer MLP, or an embedding + MLP language model over a
vocabulary of 16 tokens) and built under a forked, seeded torch RNG, so a build
neither depends on nor moves the global RNG. Calibration data for the language
model are ``(B, 2)`` token windows: a window shortened by one column no longer
holds a next token, so the ``dim_mismatch`` breaker is a real breakage.
"""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path
from typing import Any

import torch
from _fuzz_harness import Case, Inputs, Sizes
from torch import nn

from mintlab.compress import (
    PRANC,
    LoRAConfig,
    NOLAConfig,
    apply_nola,
    save_adapter,
    save_compressed,
)
from mintlab.compress.quant import QuantLinear, quantize_model, random_orthogonal
from mintlab.compress.svd import LowRankLinear, causal_lm_objective, compress_model

VOCAB = 16

_TMP = Path(tempfile.mkdtemp(prefix="mintlab-fuzz-compress-"))


def _seeded(seed: int, make):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return make()


def _mlp(s: Sizes, hidden: int = 5) -> nn.Module:
    return _seeded(s.seed, lambda: nn.Sequential(nn.Linear(s.d, hidden), nn.ReLU(),
                                                 nn.Linear(hidden, s.k)))


def _x(s: Sizes, rows: int | None = None) -> torch.Tensor:
    g = torch.Generator().manual_seed(s.seed)
    return torch.randn(rows or s.n, s.d, generator=g)


def _randn(s: Sizes, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(s.seed + 1))


def _y(s: Sizes) -> torch.Tensor:
    return torch.arange(s.n) % s.k


class _LM(nn.Module):
    def __init__(self, dim: int = 6, hidden: int = 8) -> None:
        super().__init__()
        self.emb = nn.Embedding(VOCAB, dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, VOCAB)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.fc1(self.emb(idx))))


def _lm(s: Sizes) -> nn.Module:
    return _seeded(s.seed, _LM)


def _tokens(s: Sizes, n_batches: int = 2) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(s.seed)
    return [torch.randint(0, VOCAB, (4 * s.n, 2), generator=g) for _ in range(n_batches)]


def _without(kw: Inputs, *names: str) -> dict[str, Any]:
    return {k: v for k, v in kw.items() if k not in names}


def _construct_and_run(cls, kw: Inputs):
    """Build ``cls(**kw)`` (minus the input ``x``) and run it on ``x``."""
    return cls(*kw.args, **_without(kw, "x"))(kw["x"])


def _nola(s: Sizes):
    return apply_nola(_mlp(s), NOLAConfig(rank=1, n_basis_A=3, n_basis_B=2, seed=s.seed))


def _pranc_export(s: Sizes):
    return PRANC(_mlp(s), n_coefficients=s.k, seed=s.seed).export()


def _saved_adapter(s: Sizes) -> Path:
    return save_adapter(_nola(s), _TMP / f"adapter-{s.seed}-{s.d}-{s.k}.safetensors")


def _saved_compressed(s: Sizes) -> Path:
    return _pranc_export(s).save(_TMP / f"pranc-{s.seed}-{s.d}-{s.k}.safetensors")


_FOLDERS = itertools.count()


def _base(s: Sizes) -> nn.Module:
    """An MLP wide enough that ``svd`` at ratio 0.5 factorises its first layer."""
    return _seeded(s.seed, lambda: nn.Sequential(nn.Linear(s.d, 8), nn.ReLU(),
                                                 nn.Linear(8, 8), nn.ReLU(),
                                                 nn.Linear(8, s.k)))


def _low_rank(s: Sizes):
    """``(model, report)``: ``_base`` compressed by plain SVD (draws nothing)."""
    return compress_model(_base(s), "svd", 0.5)


def _quantized(s: Sizes):
    return quantize_model(_base(s), w_bits=4, a_bits=8, rotation="hadamard", seed=s.seed)


def _folder(s: Sizes, what: str) -> Path:
    return _TMP / f"{what}-{s.seed}-{s.d}-{s.k}-{next(_FOLDERS)}"


def _saved_model(s: Sizes, make=_low_rank) -> Path:
    model, report = make(s)
    return save_compressed(model, _folder(s, "saved"), report=report)


def _gram(s: Sizes) -> torch.Tensor:
    """A well-conditioned (d, d) Gram matrix of 4 d Gaussian rows."""
    x = _randn(s, 4 * s.d + 2, s.d)
    return x.T @ x / x.shape[0]


_LAYER_VALUES = ("a drop-in for nn.Linear: forward passes values through as nn.Linear does "
                 "(no per-call device sync); shapes and kinds are checked")
_NEG_DIM = "a negative dim counts axes from the end, as in torch"

CASES = [
    # ------------------------------------------------------------ PRANC / MCNC
    Case(
        target="mintlab.compress.PRANC",
        build=lambda kind, s: Inputs(model=_mlp(s), n_coefficients=s.k, seed=s.seed,
                                     cache_basis="auto", max_cache_bytes=1 << 20, x=_x(s)),
        roles={"model": "module", "n_coefficients": "pos_int", "seed": "seed",
               "cache_basis": "choice", "max_cache_bytes": "nonneg_int"},
        kinds=("torch",),
        call=_construct_and_run,
    ),
    Case(
        target="mintlab.compress.MCNC",
        build=lambda kind, s: Inputs(model=_mlp(s), code_dim=2, chunk_size=4 * s.k, hidden=6,
                                     depth=1, frequency=30.0, seed=s.seed, x=_x(s)),
        roles={"model": "module", "code_dim": "pos_int", "chunk_size": "pos_int",
               "hidden": "pos_int", "depth": "pos_int", "frequency": "pos_float",
               "seed": "seed"},
        kinds=("torch",),
        call=_construct_and_run,
    ),
    Case(
        target="mintlab.compress.CompressedModel",
        build=lambda kind, s: Inputs(method="pranc", seed=s.seed,
                                     config=dict(_pranc_export(s).config),
                                     tensors=dict(_pranc_export(s).tensors)),
        roles={"method": "choice", "seed": "seed"},
        kinds=("torch",),
        seeded=False,  # the seed is stored, nothing is drawn
    ),
    Case(
        target="mintlab.compress.CompressedModel.load",
        id="mintlab.compress.CompressedModel.load",
        build=lambda kind, s: Inputs(path=_saved_compressed(s)),
        roles={"path": "choice"},
        kinds=("torch",),
        skip_breakers={("path", "unknown"): "a missing file raises ArtifactError naming the "
                                            "file itself (tests/compress/"
                                            "test_validation_compress.py)"},
    ),
    Case(
        target="mintlab.compress.CompressedModel.save",
        id="mintlab.compress.CompressedModel.save",
        build=lambda kind, s: Inputs(_pranc_export(s), path=_TMP / f"save-{s.seed}.safetensors"),
        roles={"path": "choice"},
        kinds=("torch",),
        call=lambda fn, kw: fn(*kw.args, **kw) and None,
    ),
    Case(
        target="mintlab.compress.Reparameterized",
        build=lambda kind, s: Inputs(model=_mlp(s), seed=s.seed),
        roles={"model": "module", "seed": "seed"},
        kinds=("torch",),
        check_output=False,  # an abstract base: the instance has nothing to compute
    ),
    Case(
        target="mintlab.compress.rebuild",
        build=lambda kind, s: Inputs(model=_mlp(s), exported=_pranc_export(s), x=_x(s)),
        roles={"model": "module", "exported": "module"},
        kinds=("torch",),
        call=lambda fn, kw: fn(kw["model"], kw["exported"])(kw["x"]),
    ),
    Case(
        target="mintlab.compress.init_bound",
        build=lambda kind, s: Inputs(model=_mlp(s), name="0.weight"),
        roles={"model": "module", "name": "choice"},
        kinds=("torch",),
    ),
    Case(
        target="mintlab.compress.select_parameters",
        build=lambda kind, s: Inputs(model=_mlp(s), include="*.weight", exclude="2.*"),
        roles={"model": "module", "include": "choice", "exclude": "choice"},
        kinds=("torch",),
        skip_breakers={("exclude", "unknown"): "a pattern that matches nothing excludes "
                                               "nothing: valid"},
    ),
    # ------------------------------------------------------------ NOLA / LoRA
    Case(
        target="mintlab.compress.NOLAConfig",
        build=lambda kind, s: Inputs(rank=2, n_basis_A=s.k, n_basis_B=s.k, seed=s.seed,
                                     alpha=1.0, target_modules=["0"]),
        roles={"rank": "pos_int", "n_basis_A": "pos_int", "n_basis_B": "pos_int",
               "seed": "seed", "alpha": "pos_float", "target_modules": "choice"},
        kinds=("none",),
        seeded=False,  # the seed is stored, nothing is drawn
        skip_breakers={("target_modules", "unknown"): "a string is a regular expression over "
                                                      "module names; apply_nola rejects one "
                                                      "that matches no layer"},
    ),
    Case(
        target="mintlab.compress.LoRAConfig",
        build=lambda kind, s: Inputs(rank=2, seed=s.seed, alpha=2.0, target_modules=None),
        roles={"rank": "pos_int", "seed": "seed", "alpha": "pos_float",
               "target_modules": "choice"},
        kinds=("none",),
        seeded=False,
        skip_breakers={("target_modules", "unknown"): "a string is a regular expression over "
                                                      "module names; apply_lora rejects one "
                                                      "that matches no layer"},
    ),
    Case(
        target="mintlab.compress.NOLALayer",
        build=lambda kind, s: Inputs(
            base=nn.Linear(s.d, s.k), name="fc", x=_x(s),
            config=NOLAConfig(
                rank=1, n_basis_A=3, n_basis_B=2, seed=s.seed)),
        roles={"base": "module", "config": "module", "name": "choice"},
        kinds=("torch",),
        call=_construct_and_run,
        skip_breakers={("name", "unknown"): "any module name is valid (it keys the bases)"},
    ),
    Case(
        target="mintlab.compress.LoRALayer",
        build=lambda kind, s: Inputs(
            base=nn.Linear(s.d, s.k), name="fc", x=_x(s),
            config=LoRAConfig(
                rank=1, seed=s.seed)),
        roles={"base": "module", "config": "module", "name": "choice"},
        kinds=("torch",),
        call=_construct_and_run,
        skip_breakers={("name", "unknown"): "any module name is valid (it keys the init)"},
    ),
    Case(
        target="mintlab.compress.apply_nola",
        build=lambda kind, s: Inputs(
            model=_mlp(s), x=_x(s),
            config=NOLAConfig(
                rank=1, n_basis_A=3, n_basis_B=2, seed=s.seed)),
        roles={"model": "module", "config": "module"},
        kinds=("torch",),
        call=lambda fn, kw: fn(kw["model"], kw["config"])(kw["x"]),
    ),
    Case(
        target="mintlab.compress.apply_lora",
        build=lambda kind, s: Inputs(
            model=_mlp(s), x=_x(s), backend="mintlab",
            config=LoRAConfig(
                rank=1, seed=s.seed)),
        roles={"model": "module", "config": "module", "backend": "choice"},
        kinds=("torch",),
        call=lambda fn, kw: fn(kw["model"], kw["config"], backend=kw["backend"])(kw["x"]),
    ),
    Case(
        target="mintlab.compress.merge_adapter",
        build=lambda kind, s: Inputs(model=_nola(s), x=_x(s)),
        roles={"model": "module"},
        kinds=("torch",),
        call=lambda fn, kw: fn(kw["model"])(kw["x"]),
    ),
    Case(
        target="mintlab.compress.unmerge_adapter",
        build=lambda kind, s: Inputs(model=_nola(s), x=_x(s)),
        roles={"model": "module"},
        kinds=("torch",),
        call=lambda fn, kw: fn(kw["model"])(kw["x"]),
    ),
    Case(
        target="mintlab.compress.adapter_state_dict",
        build=lambda kind, s: Inputs(model=_nola(s)),
        roles={"model": "module"},
        kinds=("torch",),
    ),
    Case(
        target="mintlab.compress.save_adapter",
        build=lambda kind, s: Inputs(model=_nola(s), path=_TMP / f"save-{s.seed}.safetensors"),
        roles={"model": "module", "path": "choice"},
        kinds=("torch",),
        call=lambda fn, kw: fn(**kw) and None,
    ),
    Case(
        target="mintlab.compress.to_peft_lora",
        build=lambda kind, s: Inputs(model=_nola(s), folder=_TMP / f"peft-{s.seed}",
                                     base_model_name_or_path="mlp"),
        roles={"model": "module", "base_model_name_or_path": "choice"},
        kinds=("torch",),
        call=lambda fn, kw: fn(**kw) and None,
        skip_breakers={("base_model_name_or_path", "unknown"): "any text names a base model"},
    ),
    Case(
        target="mintlab.compress.load_adapter",
        build=lambda kind, s: Inputs(model=_mlp(s), path=_saved_adapter(s), x=_x(s)),
        roles={"model": "module", "path": "choice"},
        kinds=("torch",),
        call=lambda fn, kw: fn(kw["model"], kw["path"])(kw["x"]),
        skip_breakers={("path", "unknown"): "a missing file raises ArtifactError naming the "
                                            "file itself (tests/compress/"
                                            "test_validation_compress.py)"},
    ),
    # ------------------------------------------------------------ compressed-model files
    Case(
        target="mintlab.compress.save_compressed",
        build=lambda kind, s: (lambda mr: Inputs(model=mr[0], folder=_folder(s, "save"),
                                                 report=mr[1]))(_low_rank(s)),
        roles={"model": "module", "folder": "choice", "report": "module"},
        kinds=("torch",),
        call=lambda fn, kw: fn(**kw) and None,
        skip_breakers={("folder", "unknown"): "any text is a folder name, created if needed",
                       ("report", "none"): "the report is optional"},
    ),
    Case(
        target="mintlab.compress.save_compressed",
        id="mintlab.compress.save_compressed[quant]",
        build=lambda kind, s: (lambda mr: Inputs(model=mr[0], folder=_folder(s, "save-q"),
                                                 report=mr[1]))(_quantized(s)),
        kinds=("torch",),
        call=lambda fn, kw: fn(**kw) and None,
    ),
    Case(
        target="mintlab.compress.load_compressed",
        build=lambda kind, s: Inputs(folder=_saved_model(s), model=_base(s), x=_x(s)),
        roles={"folder": "choice", "model": "module"},
        kinds=("torch",),
        call=lambda fn, kw: fn(kw["folder"], kw["model"])(kw["x"]),
        skip_breakers={("folder", "unknown"): "a missing folder raises ArtifactError naming "
                                              "the folder itself (tests/compress/"
                                              "test_compressed_artifacts.py)"},
    ),
    Case(
        target="mintlab.compress.load_compressed",
        id="mintlab.compress.load_compressed[quant+factory]",
        build=lambda kind, s: Inputs(folder=_saved_model(s, _quantized),
                                     model=lambda: _base(s), x=_x(s)),
        kinds=("torch",),
        call=lambda fn, kw: fn(kw["folder"], kw["model"])(kw["x"]),
    ),
    Case(
        target="mintlab.compress.merge_low_rank",
        build=lambda kind, s: Inputs(model=_low_rank(s)[0], inplace=False, x=_x(s)),
        roles={"model": "module", "inplace": "bool"},
        kinds=("torch",),
        call=lambda fn, kw: fn(kw["model"], inplace=kw["inplace"])(kw["x"]),
    ),
    Case(
        target="mintlab.compress.count_trainable_parameters",
        build=lambda kind, s: Inputs(model=_nola(s)),
        roles={"model": "module"},
        kinds=("torch",),
    ),
    Case(
        target="mintlab.compress.adapter_bytes",
        build=lambda kind, s: Inputs(model=_nola(s)),
        roles={"model": "module"},
        kinds=("torch",),
    ),
    Case(
        target="mintlab.compress.peft_available",
        build=lambda kind, s: Inputs(),
        kinds=("none",),
    ),
    Case(
        target="mintlab.compress.fit_classifier",
        build=lambda kind, s: Inputs(_mlp(s), X=_x(s), y=_y(s), epochs=1, lr=1e-2,
                                     batch_size=4, seed=s.seed),
        roles={"X": "points", "y": "labels", "epochs": "pos_int", "lr": "pos_float",
               "batch_size": "pos_int", "seed": "seed"},
        kinds=("torch",),
    ),
    Case(
        target="mintlab.compress.accuracy",
        build=lambda kind, s: Inputs(_mlp(s), X=_x(s), y=_y(s), batch_size=4),
        roles={"X": "points", "y": "labels", "batch_size": "pos_int"},
        kinds=("torch",),
    ),
    # ------------------------------------------------------------ whitened SVD
    Case(
        target="mintlab.compress.svd.compress_model",
        build=lambda kind, s: Inputs(
            model=_lm(s), method="svd-llm", ratio=0.4, calibration=_tokens(s),
            quantize=None, alpha=0.5, top_k=4, output_damping=1e-2, min_rank=1,
            correction_batches=2, seed=s.seed, include="fc"),
        roles={"model": "module", "method": "choice", "ratio": "ratio",
               "calibration": "sets", "quantize": "choice", "alpha": "nonneg_float",
               "top_k": "pos_int", "output_damping": "pos_float", "min_rank": "nonneg_int",
               "correction_batches": "pos_int", "seed": "seed", "include": "choice"},
        kinds=("torch",),
    ),
    Case(
        target="mintlab.compress.svd.compress_model",
        id="mintlab.compress.svd.compress_model[zs-svd+correction]",
        build=lambda kind, s: Inputs(model=_lm(s), method="zs-svd", ratio=0.3,
                                     calibration=_tokens(s, 3), correction=True, seed=s.seed),
        kinds=("torch",),
    ),
    Case(
        target="mintlab.compress.svd.compress_model",
        id="mintlab.compress.svd.compress_model[io-svd+loss-aware]",
        build=lambda kind, s: Inputs(model=_lm(s), method="io-svd", ratio=0.3,
                                     calibration=_tokens(s), quantize="loss-aware",
                                     top_k=4, seed=s.seed),
        kinds=("torch",),
    ),
    Case(
        target="mintlab.compress.svd.compress_model",
        id="mintlab.compress.svd.compress_model[classification]",
        build=lambda kind, s: Inputs(model=_mlp(s), method="asvd", ratio=0.5,
                                     calibration=[(_x(s), _y(s))]),
        kinds=("torch",),
        seeded=False,  # asvd draws nothing
    ),
    Case(
        target="mintlab.compress.svd.LowRankLinear",
        build=lambda kind, s: Inputs(in_features=s.d, out_features=s.k, rank=1, bias=True,
                                     x=_x(s)),
        roles={"in_features": "pos_int", "out_features": "pos_int", "rank": "nonneg_int"},
        kinds=("torch",),
        call=_construct_and_run,
    ),
    Case(
        target="mintlab.compress.svd.LowRankLinear.from_factors",
        id="mintlab.compress.svd.LowRankLinear.from_factors",
        build=lambda kind, s: Inputs(up=_randn(s, s.k, 1), down=_randn(s, 1, s.d), x=_x(s)),
        roles={"up": "matrix", "down": "matrix"},
        kinds=("torch",),
        call=lambda fn, kw: fn(kw["up"], kw["down"])(kw["x"]),
    ),
    Case(
        target="mintlab.compress.svd.LowRankLinear.forward",
        id="mintlab.compress.svd.LowRankLinear.forward",
        build=lambda kind, s: Inputs(
            LowRankLinear.from_factors(_randn(s, s.k, 1), _randn(s, 1, s.d)), x=_x(s)),
        roles={"x": "points"},
        kinds=("torch",),
        skip_breakers={("x", "nan"): _LAYER_VALUES, ("x", "inf"): _LAYER_VALUES,
                       ("x", "empty"): "an empty batch (0, in) gives an empty output, as "
                                       "nn.Linear does",
                       ("x", "1d"): "a single (in,) input is valid for a linear layer",
                       ("x", "3d"): "leading axes are batch axes for a linear layer"},
    ),
    Case(
        target="mintlab.compress.svd.Objective",
        build=lambda kind, s: Inputs(loss=lambda m, b: m(b).sum(), logits=lambda m, b: m(b),
                                     name="custom"),
        roles={"loss": "module", "logits": "module"},
        kinds=("none",),
    ),
    Case(
        target="mintlab.compress.svd.causal_lm_objective",
        build=lambda kind, s: Inputs(),
        kinds=("none",),
    ),
    Case(
        target="mintlab.compress.svd.classification_objective",
        build=lambda kind, s: Inputs(),
        kinds=("none",),
    ),
    Case(
        target="mintlab.compress.svd.collect_statistics",
        build=lambda kind, s: (lambda m: Inputs(
            model=m, layers={"fc1": m.fc1, "fc2": m.fc2}, calibration=_tokens(s),
            objective=causal_lm_objective(), gradients=True, output_metric=True, top_k=4,
            seed=s.seed))(_lm(s)),
        roles={"model": "module", "layers": "module", "calibration": "sets",
               "objective": "module", "top_k": "pos_int", "seed": "seed"},
        kinds=("torch",),
    ),
    Case(
        target="mintlab.compress.svd.find_linear_layers",
        build=lambda kind, s: Inputs(model=_lm(s), include="fc", exclude="fc2"),
        roles={"model": "module", "include": "choice", "exclude": "choice"},
        kinds=("torch",),
        skip_breakers={("exclude", "unknown"): "a substring that matches nothing excludes "
                                               "nothing: valid"},
    ),
    Case(
        target="mintlab.compress.svd.uniform_rank",
        build=lambda kind, s: Inputs(out_features=s.n, in_features=s.m, ratio=0.5),
        roles={"out_features": "pos_int", "in_features": "pos_int", "ratio": "ratio"},
        kinds=("none",),
    ),
    Case(
        target="mintlab.compress.svd.whitened_decomposition",
        build=lambda kind, s: Inputs(
            weight=_x(s, s.k), S=torch.rand(s.d, generator=torch.Generator().manual_seed(1))
            + 0.5, R=torch.eye(s.k) * 2 + torch.triu(torch.ones(s.k, s.k), 1) * 0.1),
        roles={"weight": "matrix", "S": "array", "R": "matrix"},
        kinds=("torch",),
    ),
    Case(
        target="mintlab.compress.svd.whitening_factor",
        build=lambda kind, s: Inputs(covariance=_gram(s), damping=1e-6, max_condition=1e12),
        roles={"covariance": "matrix", "damping": "pos_float", "max_condition": "pos_float"},
        kinds=("torch",),
    ),
    Case(
        target="mintlab.compress.svd.whitening_factor",
        id="mintlab.compress.svd.whitening_factor[eigh-floor]",
        # indefinite: Cholesky fails, the eigenvalue floor takes over
        build=lambda kind, s: Inputs(covariance=_gram(s) - 2 * torch.eye(s.d,
                                                                         dtype=torch.float32)
                                     * _gram(s).diagonal().max()),
        kinds=("torch",),
        call=lambda fn, kw: (lambda w: (w.factor, w.factor_condition))(fn(**kw)),
    ),
    Case(
        target="mintlab.compress.svd.quantize_int8_per_vector",
        build=lambda kind, s: Inputs(v=_x(s), dim=1),
        roles={"v": "array", "dim": "nonneg_int"},
        kinds=("torch",),
        skip_breakers={("dim", "negative"): _NEG_DIM},
    ),
    Case(
        target="mintlab.compress.svd.prehab",
        build=lambda kind, s: Inputs(model=_lm(s), train_batches=_tokens(s),
                                     calibration=_tokens(s, 1), steps=2, lr=1e-3, lam=0.05,
                                     warmup=1, surrogate="stable_rank"),
        roles={"model": "module", "train_batches": "sets", "calibration": "sets",
               "steps": "pos_int", "lr": "pos_float", "lam": "nonneg_float",
               "warmup": "nonneg_int", "surrogate": "choice"},
        kinds=("torch",),
        # the dotted name also names the submodule svd/prehab.py, which resolve() imports
        call=lambda obj, kw: getattr(obj, "prehab", obj)(**kw),
        seeded=True,  # no seed, but its training loop must leave the global RNGs alone too
    ),
    Case(
        target="mintlab.compress.svd.finetune",
        build=lambda kind, s: Inputs(model=_lm(s), train_batches=_tokens(s), steps=2, lr=1e-3),
        roles={"model": "module", "train_batches": "sets", "steps": "pos_int",
               "lr": "pos_float"},
        kinds=("torch",),
    ),
    Case(
        target="mintlab.compress.svd.stable_rank",
        build=lambda kind, s: Inputs(M=_x(s), iters=10),
        roles={"M": "matrix", "iters": "pos_int"},
        kinds=("torch",),
    ),
    Case(
        target="mintlab.compress.svd.effective_rank",
        build=lambda kind, s: Inputs(M=_x(s)),
        roles={"M": "matrix"},
        kinds=("torch",),
    ),
    # ------------------------------------------------------------ ConQuR
    Case(
        target="mintlab.compress.quant.QuantLinear",
        build=lambda kind, s: Inputs(
            linear=nn.Linear(s.d, s.k), w_bits=4, a_bits=8, x=_x(s),
            rotation=random_orthogonal(s.d, seed=s.seed, dtype=torch.float32)),
        roles={"linear": "module", "w_bits": "pos_int", "a_bits": "pos_int",
               "rotation": "matrix"},
        kinds=("torch",),
        call=_construct_and_run,
    ),
    Case(
        target="mintlab.compress.quant.QuantLinear.forward",
        id="mintlab.compress.quant.QuantLinear.forward",
        build=lambda kind, s: Inputs(
            QuantLinear(
                _seeded(s.seed, lambda: nn.Linear(s.d, s.k))), x=_x(s)),
        roles={"x": "points"},
        kinds=("torch",),
        skip_breakers={("x", "nan"): _LAYER_VALUES, ("x", "inf"): _LAYER_VALUES,
                       ("x", "empty"): "an empty batch (0, in) gives an empty output, as "
                                       "nn.Linear does",
                       ("x", "1d"): "a single (in,) input is valid for a linear layer",
                       ("x", "3d"): "leading axes are batch axes for a linear layer"},
    ),
    Case(
        target="mintlab.compress.quant.quantize_symmetric",
        build=lambda kind, s: Inputs(x=_x(s), bits=4, dim=-1),
        roles={"x": "array", "bits": "pos_int", "dim": "nonneg_int"},
        kinds=("torch",),
        skip_breakers={("dim", "negative"): _NEG_DIM},
    ),
    Case(
        target="mintlab.compress.quant.quantize_model",
        build=lambda kind, s: Inputs(model=_lm(s), w_bits=4, a_bits=4, rotation="conqur",
                                     calibration=_tokens(s), epochs=1, momentum=0.9,
                                     seed=s.seed, include="fc"),
        roles={"model": "module", "w_bits": "pos_int", "a_bits": "pos_int",
               "rotation": "choice", "calibration": "sets", "epochs": "pos_int",
               "momentum": "prob", "seed": "seed", "include": "choice"},
        kinds=("torch",),
    ),
    Case(
        target="mintlab.compress.quant.hadamard_exists",
        build=lambda kind, s: Inputs(n=4 * s.n + s.k),
        roles={"n": "pos_int"},
        kinds=("none",),
    ),
    Case(
        target="mintlab.compress.quant.largest_hadamard_factor",
        build=lambda kind, s: Inputs(d=4 * s.n + s.k),
        roles={"d": "pos_int"},
        kinds=("none",),
    ),
    Case(
        target="mintlab.compress.quant.random_orthogonal",
        build=lambda kind, s: Inputs(d=s.k, seed=s.seed),
        roles={"d": "pos_int", "seed": "seed"},
        kinds=("none",),
    ),
    Case(
        target="mintlab.compress.quant.randomized_hadamard",
        build=lambda kind, s: Inputs(d=2 * s.k, seed=s.seed),
        roles={"d": "pos_int", "seed": "seed"},
        kinds=("none",),
    ),
    Case(
        target="mintlab.compress.quant.hadamard_matrix",
        build=lambda kind, s: Inputs(n=2 ** s.k),
        roles={"n": "pos_int"},
        kinds=("none",),
    ),
    Case(
        target="mintlab.compress.quant.procrustes",
        build=lambda kind, s: Inputs(M=_x(s, s.d + s.k)),
        roles={"M": "matrix"},
        kinds=("torch",),
    ),
    Case(
        target="mintlab.compress.quant.corner_alignment",
        build=lambda kind, s: Inputs(x=_x(s), R=random_orthogonal(
                s.d, seed=s.seed)),
        roles={"x": "points", "R": "matrix"},
        kinds=("torch",),
        skip_breakers={("x", "3d"): "leading axes of x are batch axes (rows of activations)"},
    ),
]

EXEMPT: dict[str, str] = {
    "mintlab.compress.svd.CompressionReport": "a result dataclass that compress_model fills "
                                              "and returns; users read it, never build it",
    "mintlab.compress.svd.LayerStats": "the running sums that collect_statistics fills and "
                                       "returns (all fields start empty); nothing to validate",
    "mintlab.compress.svd.Whitening": "a frozen result dataclass that whitening_factor "
                                      "returns (factor, path, condition numbers); users read "
                                      "it, never build it",
    "mintlab.compress.quant.QuantReport": "a result dataclass that quantize_model fills and "
                                          "returns; users read it, never build it",
}
