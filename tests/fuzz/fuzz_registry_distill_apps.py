"""Fuzz cases: distillation, applications (fairness, surgical) and the experiments API."""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import functools
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
from _fuzz_harness import Case, Inputs, rand, randn, simplex

from mintlab._random import seeded_global_rng

D = "mintlab.distill."
_MISSING_CLASSES = ("labels run from 0 to their maximum; a class without images is allowed "
                    "(it gets none)")
F = "mintlab.apps.fairness."
S = "mintlab.apps.surgical."
E = "mintlab.experiments."

# ----------------------------------------------------------------------------- helpers
def _images(s, size=8, per_class=2, seed=None):
    """``(k * per_class, size, size)`` float images in [0, 1] and labels with every class."""
    k = s.k
    g = np.random.default_rng(s.seed if seed is None else seed)
    X = torch.from_numpy(g.random((k * per_class, size, size)).astype(np.float32))
    y = torch.arange(k).repeat_interleave(per_class)
    return X, y


def _net(n_classes, size=8, width=4, depth=2):
    from mintlab.distill import ConvNet

    with seeded_global_rng(0):
        return ConvNet(n_classes, size, width=width, depth=depth)


def _data(X, y, k):
    return {"X_train": X, "y_train": y, "X_test": X, "y_test": y, "n_classes": k,
            "image_size": X.shape[-1] if isinstance(X, torch.Tensor) and X.ndim == 3 else 8,
            "name": "fuzz"}


def _with_data():
    """A ``call`` that moves ``X_train`` / ``y_train`` into a data dict."""
    def call(fn, kw):
        kw = dict(kw)
        X, y = kw.pop("X_train"), kw.pop("y_train")
        k = int(kw.pop("_k"))
        return fn(data=_data(X, y, k), **kw)
    return call


def _probs(s, views=2):
    return simplex("torch", views, s.n, s.k, seed=s.seed).float()


@functools.lru_cache(maxsize=1)
def _prompt_vae():
    from mintlab.distill import PromptVAE

    with seeded_global_rng(0):
        return PromptVAE(n_pretrain_classes=2).eval()


@functools.lru_cache(maxsize=1)
def _superres():
    from mintlab.distill import SuperResVAE

    with seeded_global_rng(0):
        return SuperResVAE().eval()


# ----------------------------------------------------------------------------- distill
def _kd_train_call(fn, kw):
    kw = dict(kw)
    data = _data(kw.pop("_X_data"), kw.pop("_y_data"), int(kw.pop("_k")))
    return fn(data, **kw)


DISTILL = [
    Case(target=D + "load_distill_data",
         build=lambda kind, s: Inputs(name="digits", seed=s.seed % 3, n_classes=10,
                                      train_per_class=1, test_per_class=1),
         roles={"name": "choice", "seed": "seed", "n_classes": "pos_int",
                "train_per_class": "pos_int", "test_per_class": "pos_int"},
         kinds=("none",)),
    Case(target=D + "ConvNet",
         build=lambda kind, s: Inputs(n_classes=s.k, image_size=8, width=4, depth=2,
                                      in_channels=1),
         roles={"n_classes": "pos_int", "image_size": "pos_int", "width": "pos_int",
                "depth": "pos_int", "in_channels": "pos_int"},
         kinds=("none",)),
    Case(target=D + "ConvNet", id=D + "ConvNet.forward",
         build=lambda kind, s: Inputs(x=_images(s)[0], _k=s.k),
         call=lambda cls, kw: _net(kw["_k"])(kw["x"]),
         roles={"x": "images"}, kinds=("torch",),
         skip_breakers={
             ("x", "nan"): "the forward pass reads no values (it runs at every training step): "
                           "a diverged input gives NaN logits, as in any torch layer",
             ("x", "inf"): "the forward pass reads no values (it runs at every training step)",
             ("x", "empty"): "an empty batch gives empty logits, as in any torch layer"}),
    Case(target=D + "train_teacher",
         build=lambda kind, s: Inputs(X_train=_images(s)[0], y_train=_images(s)[1], _k=s.k,
                                      width=4, depth=1, epochs=1, seed=s.seed, cache=False),
         call=_with_data(),
         roles={"X_train": "images", "y_train": "labels", "width": "pos_int",
                "depth": "pos_int", "epochs": "pos_int", "seed": "seed", "cache": "bool"},
         kinds=("torch",), check_output=False),
    Case(target=D + "augment",
         build=lambda kind, s: Inputs(images=_images(s)[0], seed=s.seed, shift=0.15),
         roles={"images": "images", "seed": "seed", "shift": "nonneg_float"},
         kinds=("torch",)),
    Case(target=D + "predict_proba",
         build=lambda kind, s: Inputs(model=_net(s.k), X=_images(s)[0], batch_size=3,
                                      temperature=1.0),
         roles={"model": "module", "X": "images", "batch_size": "pos_int",
                "temperature": "pos_float"},
         kinds=("torch",)),
    Case(target=D + "DistilledSet",
         build=lambda kind, s: Inputs(method="x", images=_images(s)[0], labels=_images(s)[1],
                                      n_classes=s.k),
         roles={"images": "images", "labels": "labels", "n_classes": "nonneg_int"},
         kinds=("torch",)),
    Case(target=D + "evaluate",
         build=lambda kind, s: Inputs(
             distilled=_subset(s), X_train=_images(s)[0], y_train=_images(s)[1], _k=s.k,
             epochs=1, lr=3e-3, batch_size=4, width=4, seed=s.seed, temperature=1.0),
         call=_with_data(),
         roles={"distilled": "module", "X_train": "images", "y_train": "labels",
                "epochs": "pos_int", "lr": "pos_float", "batch_size": "pos_int",
                "width": "pos_int", "seed": "seed", "temperature": "pos_float"},
         kinds=("torch",)),
    Case(target=D + "quantize_images",
         build=lambda kind, s: Inputs(X=_images(s)[0]),
         roles={"X": "array"}, kinds=("torch",)),
    Case(target=D + "kd_loss",
         build=lambda kind, s: Inputs(student_logits=randn("torch", s.n, s.k, seed=s.seed),
                                      teacher=randn("torch", s.n, s.k, seed=s.seed + 1),
                                      temperature=4.0, teacher_is_prob=False),
         roles={"student_logits": "matrix", "teacher": "matrix", "temperature": "pos_float",
                "teacher_is_prob": "bool"},
         kinds=("torch",)),
    Case(target=D + "kd_loss", id=D + "kd_loss.probabilities",
         build=lambda kind, s: Inputs(student_logits=randn("torch", s.n, s.k, seed=s.seed),
                                      teacher=simplex("torch", s.n, s.k, seed=s.seed + 1),
                                      temperature=2.0, teacher_is_prob=True),
         roles={"teacher": "probs", "temperature": "pos_float"},
         kinds=("torch",)),
    Case(target=D + "HintLoss",
         build=lambda kind, s: Inputs(student_dim=s.d, teacher_dim=s.k),
         roles={"student_dim": "pos_int", "teacher_dim": "pos_int"}, kinds=("none",)),
    Case(target=D + "HintLoss", id=D + "HintLoss.forward",
         build=lambda kind, s: Inputs(
             student_features=randn("torch", s.n, 3, seed=s.seed).float(),
             teacher_features=randn("torch", s.n, 5, seed=s.seed + 1).float()),
         call=lambda cls, kw: _seeded(lambda: cls(3, 5))(**kw),
         roles={"student_features": "matrix", "teacher_features": "matrix"},
         kinds=("torch",)),
    Case(target=D + "relational_kd_loss",
         build=lambda kind, s: Inputs(student_emb=randn("torch", s.n, s.d, seed=s.seed),
                                      teacher_emb=randn("torch", s.n, s.d + 1, seed=s.seed + 1)),
         roles={"student_emb": "points", "teacher_emb": "points"}, kinds=("torch",)),
    Case(target=D + "train_student_kd",
         build=lambda kind, s: Inputs(
             X=_images(s)[0], y=_images(s)[1], teacher=_net(s.k), _k=s.k, mode="kd",
             _X_data=_images(s)[0], _y_data=_images(s)[1],
             temperature=4.0, epochs=1, lr=3e-3, batch_size=4, width=4, weight=1.0,
             seed=s.seed),
         call=_kd_train_call,
         roles={"X": "images", "y": "labels", "teacher": "module", "mode": "choice",
                "temperature": "pos_float", "epochs": "pos_int", "lr": "pos_float",
                "batch_size": "pos_int", "width": "pos_int", "weight": "nonneg_float",
                "seed": "seed"},
         kinds=("torch",)),
    Case(target=D + "random_subset",
         build=lambda kind, s: Inputs(X=_images(s)[0], y=_images(s)[1], ipc=1, seed=s.seed),
         roles={"X": "images", "y": "labels", "ipc": "pos_int", "seed": "seed"},
         skip_breakers={("y", "too_big"): _MISSING_CLASSES},
         kinds=("torch",)),
    Case(target=D + "herding",
         build=lambda kind, s: Inputs(X=_images(s)[0], y=_images(s)[1], ipc=1,
                                      features=lambda X: X.flatten(1)),
         roles={"X": "images", "y": "labels", "ipc": "pos_int", "features": "module"},
         kinds=("torch",)),
    *[Case(target=D + name,
           build=lambda kind, s: Inputs(X=_images(s)[0], y=_images(s)[1], ipc=1, image_size=8,
                                        iterations=1, lr=0.1, real_batch=2, seed=s.seed,
                                        width=4),
           roles={"X": "images", "y": "labels", "ipc": "pos_int", "image_size": "pos_int",
                  "iterations": "pos_int", "lr": "pos_float", "real_batch": "pos_int",
                  "seed": "seed", "width": "pos_int"},
           kinds=("torch",))
      for name in ("gradient_matching", "distribution_matching")],
    Case(target=D + "relabel",
         build=lambda kind, s: Inputs(X=_images(s)[0], y=_images(s)[1], ipc=1,
                                      teacher=_net(s.k), n_views=2, seed=s.seed, candidates=2,
                                      temperature=1.0),
         roles={"X": "images", "y": "labels", "ipc": "pos_int", "teacher": "module",
                "n_views": "pos_int", "seed": "seed", "candidates": "pos_int",
                "temperature": "pos_float"},
         kinds=("torch",)),
    Case(target=D + "gradient_distance",
         build=lambda kind, s: Inputs(
             g_real=[randn("torch", 3, s.d, seed=s.seed), randn("torch", 3, seed=s.seed + 1)],
             g_syn=[randn("torch", 3, s.d, seed=s.seed + 2), randn("torch", 3, seed=s.seed + 3)]),
         roles={"g_real": "sets", "g_syn": "sets"},
         kinds=("torch",)),
    Case(target=D + "distribution_matching_loss",
         build=lambda kind, s: Inputs(emb_real=randn("torch", s.n, s.d, seed=s.seed),
                                      emb_syn=randn("torch", s.m, s.d, seed=s.seed + 1)),
         roles={"emb_real": "points", "emb_syn": "points"}, kinds=("torch",)),
    Case(target=D + "soft_labels_for_views",
         build=lambda kind, s: Inputs(teacher=_net(s.k), images=_images(s)[0], n_views=2,
                                      base_seed=s.seed, temperature=1.0),
         roles={"teacher": "module", "images": "images", "n_views": "pos_int",
                "base_seed": "seed", "temperature": "pos_float"},
         kinds=("torch",)),
    Case(target=D + "RawLabels", build=lambda kind, s: Inputs(P=_probs(s)),
         call=lambda cls, kw: cls(**kw).decode(), roles={"P": "probs"}, kinds=("torch",)),
    Case(target=D + "TopKLabels", build=lambda kind, s: Inputs(P=_probs(s), k=2),
         call=lambda cls, kw: cls(**kw).decode(), roles={"P": "probs", "k": "pos_int"},
         kinds=("torch",)),
    Case(target=D + "QuantizedLabels", build=lambda kind, s: Inputs(P=_probs(s), bits=4),
         call=lambda cls, kw: cls(**kw).decode(), roles={"P": "probs", "bits": "pos_int"},
         kinds=("torch",)),
    Case(target=D + "PCALabels", build=lambda kind, s: Inputs(P=_probs(s), k=2),
         call=lambda cls, kw: cls(**kw).decode(), roles={"P": "probs", "k": "pos_int"},
         kinds=("torch",)),
    Case(target=D + "VQLabels",
         build=lambda kind, s: Inputs(P=_probs(s), n_codebooks=1, codebook_size=4, code_dim=2,
                                      hidden=4, steps=1, lr=2e-3, batch_size=4, seed=s.seed),
         call=lambda cls, kw: cls(**kw).decode(),
         roles={"P": "probs", "n_codebooks": "pos_int", "codebook_size": "pos_int",
                "code_dim": "pos_int", "hidden": "pos_int", "steps": "pos_int",
                "lr": "pos_float", "batch_size": "pos_int", "seed": "seed"},
         kinds=("torch",)),
    Case(target=D + "SoftLabelVQAE",
         build=lambda kind, s: Inputs(n_classes=s.k, n_codebooks=1, codebook_size=4,
                                      code_dim=2, hidden=4),
         roles={"n_classes": "pos_int", "n_codebooks": "pos_int", "codebook_size": "pos_int",
                "code_dim": "pos_int", "hidden": "pos_int"},
         kinds=("none",)),
    Case(target=D + "SoftLabelVQAE", id=D + "SoftLabelVQAE.codes",
         build=lambda kind, s: Inputs(P=simplex("torch", s.n, 4, seed=s.seed).float()),
         call=lambda cls, kw: _seeded(lambda: cls(4, n_codebooks=1, codebook_size=4,
                                                  code_dim=2, hidden=4)).codes(kw["P"]),
         roles={"P": "matrix"}, kinds=("torch",)),
    Case(target=D + "pretrain_generator",
         build=lambda kind, s: Inputs(kind="superres", n_classes=2, first_class=100,
                                      per_class=2, steps=1, seed=s.seed % 4, cache=False),
         roles={"kind": "choice", "n_classes": "pos_int", "first_class": "nonneg_int",
                "per_class": "pos_int", "steps": "pos_int", "seed": "seed", "cache": "bool"},
         kinds=("none",)),
    Case(target=D + "d3m",
         build=lambda kind, s: Inputs(X=_images(s, size=16)[0], y=_images(s, size=16)[1],
                                      generator=_prompt_vae(), vectors_per_class=1, steps=1,
                                      lr=5e-2, per_epoch=2, seed=s.seed),
         call=lambda f, kw: f(**kw).sampler(0),
         roles={"X": "images", "y": "labels", "generator": "module",
                "vectors_per_class": "pos_int", "steps": "pos_int", "lr": "pos_float",
                "per_epoch": "pos_int", "seed": "seed"},
         kinds=("torch",)),
    Case(target=D + "PromptVAE",
         build=lambda kind, s: Inputs(size=16, latent=4, cond_dim=4, n_pretrain_classes=s.k,
                                      beta=2.0),
         roles={"size": "pos_int", "latent": "pos_int", "cond_dim": "pos_int",
                "n_pretrain_classes": "pos_int", "beta": "nonneg_float"},
         kinds=("none",)),
    Case(target=D + "SuperResVAE",
         build=lambda kind, s: Inputs(size=16, latent=4, beta=1.0),
         roles={"size": "pos_int", "latent": "pos_int", "beta": "nonneg_float"},
         kinds=("none",)),
    Case(target=D + "patch_coreset",
         build=lambda kind, s: Inputs(X=_images(s)[0], y=_images(s)[1], n_per_class=1,
                                      teacher=_net(s.k), crop=0.75, crops_per_image=1,
                                      seed=s.seed),
         roles={"X": "images", "y": "labels", "n_per_class": "pos_int", "teacher": "module",
                "crop": "ratio", "crops_per_image": "pos_int", "seed": "seed"},
         skip_breakers={("crop", "one"): "a crop of the whole image (crop=1) is valid"},
         kinds=("torch",)),
    Case(target=D + "coreset_expansion",
         build=lambda kind, s: Inputs(low=_images(s)[0], labels=_images(s)[1],
                                      upsampler=_superres(), variability=1.0, seed=s.seed),
         call=lambda f, kw: f(**kw).sampler(0),
         roles={"low": "images", "labels": "labels", "upsampler": "module",
                "variability": "nonneg_float", "seed": "seed"},
         skip_breakers={("labels", "too_big"): _MISSING_CLASSES},
         kinds=("torch",)),
    Case(target=D + "bilinear_coreset",
         build=lambda kind, s: Inputs(low=_images(s, size=4)[0], labels=_images(s, size=4)[1],
                                      size=8),
         call=lambda f, kw: f(**kw).sampler(0),
         roles={"low": "images", "labels": "labels", "size": "pos_int"},
         skip_breakers={("labels", "too_big"): _MISSING_CLASSES},
         kinds=("torch",)),
]


def _subset(s):
    from mintlab.distill import random_subset

    X, y = _images(s)
    return random_subset(X, y, 1, seed=0)


def _seeded(make):
    with seeded_global_rng(0):
        return make()


# ----------------------------------------------------------------------------- fairness
_GROUPS = {"gender": ["female", "male"], "age": ["young", "middle", "older"]}


def _t2i(prompt, n, seed):
    return list(range(n))


def _classify(images):
    n = len(images)
    return {"gender": [("female", "male")[i % 2] for i in range(n)],
            "age": [("young", "middle", "older")[i % 3] for i in range(n)]}


def _store():
    from mintlab.apps.fairness import TripleStore

    return TripleStore.example()


def _stand_in():
    from mintlab.apps.fairness import StandInGenerator

    return StandInGenerator()


def _fidelity(original, candidates):
    return np.full(len(candidates), 0.9)


def _labels(s):
    return {"gender": [("female", "male")[i % 2] for i in range(s.n)],
            "age": [("young", "older")[i % 2] for i in range(s.n)]}


@functools.lru_cache(maxsize=1)
def _minilm():
    from mintlab.apps.fairness import MiniLMFidelity

    return MiniLMFidelity()


def _triples_file(kind, s):
    import json

    path = _tmp_dir("mintlab-fuzz-kg-") / "kg.json"
    path.write_text(json.dumps([["nurse", "stereotyped_as", "female"],
                                {"head": "female", "relation": "value_of", "tail": "gender"}]))
    return Inputs(path=path)


FAIRNESS = [
    Case(target=F + "PipelineGenerator",
         build=lambda kind, s: Inputs(text_to_image=_t2i, classify=_classify, groups=_GROUPS),
         roles={"text_to_image": "module", "classify": "module"}, kinds=("none",)),
    Case(target=F + "PipelineGenerator", id=F + "PipelineGenerator.generate",
         build=lambda kind, s: Inputs(prompt="a photo of a nurse", n=s.n, seed=s.seed),
         call=lambda cls, kw: cls(_t2i, _classify, _GROUPS).generate(**kw),
         roles={"n": "pos_int", "seed": "seed"}, kinds=("none",), seeded=True),
    Case(target=F + "StandInGenerator", build=lambda kind, s: Inputs(table=None),
         call=lambda cls, kw: cls(**kw).distributions("a photo of a nurse"), kinds=("none",)),
    Case(target=F + "StandInGenerator", id=F + "StandInGenerator.generate",
         build=lambda kind, s: Inputs(prompt="a photo of two nurses", n=s.n, seed=s.seed),
         call=lambda cls, kw: _stand_in().generate(**kw),
         roles={"n": "pos_int", "seed": "seed"}, kinds=("none",), seeded=True),
    Case(target=F + "Triple",
         build=lambda kind, s: Inputs(head="nurse", relation="stereotyped_as", tail="female"),
         roles={"head": "choice", "relation": "choice", "tail": "choice"},
         skip_breakers={(a, "unknown"): "any non-empty string is a valid field"
                        for a in ("head", "relation", "tail")},
         kinds=("none",)),
    Case(target=F + "TripleStore",
         build=lambda kind, s: Inputs(triples=[("nurse", "stereotyped_as", "female"),
                                               ("female", "value_of", "gender")]),
         call=lambda cls, kw: cls(**kw).retrieve("two nurses"), kinds=("none",)),
    Case(target=F + "TripleStore", id=F + "TripleStore.retrieve",
         build=lambda kind, s: Inputs(prompt="a photo of a nurse", k=s.k),
         call=lambda cls, kw: _store().retrieve(**kw), roles={"k": "nonneg_int"},
         kinds=("none",)),
    Case(target=F + "TripleStore", id=F + "TripleStore.from_json", build=_triples_file,
         call=lambda cls, kw: len(cls.from_json(kw["path"])), kinds=("none",)),
    *[Case(target=F + name,
           build=lambda kind, s: Inputs(p=simplex(kind, s.k, seed=s.seed),
                                        q=simplex(kind, s.k, seed=s.seed + 1)),
           roles={"p": "probs", "q": "probs"})
      for name in ("bias_p", "bias_w", "kl_divergence")],
    Case(target=F + "ens", build=lambda kind, s: Inputs(p=simplex(kind, s.k, seed=s.seed)),
         roles={"p": "probs"}),
    Case(target=F + "distribution",
         build=lambda kind, s: Inputs(labels=_labels(s)["gender"], groups=["female", "male"],
                                      alpha=0.5),
         roles={"alpha": "nonneg_float"}, kinds=("none",)),
    Case(target=F + "fairness_loss",
         build=lambda kind, s: Inputs(labels=_labels(s), groups=_GROUPS, alpha=0.5),
         roles={"labels": "module", "groups": "module", "alpha": "nonneg_float"},
         kinds=("none",)),
    Case(target=F + "bias_report",
         build=lambda kind, s: Inputs(labels=_labels(s), groups=_GROUPS),
         roles={"labels": "module", "groups": "module"}, kinds=("none",)),
    Case(target=F + "TemplateRewriter",
         build=lambda kind, s: Inputs(max_candidates=s.k, min_loss=0.01),
         roles={"max_candidates": "pos_int", "min_loss": "nonneg_float"}, kinds=("none",)),
    Case(target=F + "TemplateRewriter", id=F + "TemplateRewriter.propose",
         build=lambda kind, s: Inputs(prompt="a photo of a nurse",
                                      triples=_store().retrieve("a photo of a nurse"),
                                      attribute_loss={"gender": 0.4, "age": 0.2}),
         call=lambda cls, kw: cls().propose(**kw),
         roles={"triples": "module", "attribute_loss": "module"}, kinds=("none",)),
    Case(target=F + "TextGenerationRewriter",
         build=lambda kind, s: Inputs(generate=lambda text, seed: f"a nurse, variant {seed}",
                                      n_candidates=s.k),
         call=lambda cls, kw: cls(**kw).propose("a nurse", [], {"gender": 0.3}),
         roles={"generate": "module", "n_candidates": "pos_int"}, kinds=("none",)),
    Case(target=F + "MiniLMFidelity",
         build=lambda kind, s: Inputs(original="a photo of a nurse",
                                      candidates=["a photo of a nurse, women and men"]),
         call=lambda cls, kw: _minilm()(**kw), roles={"candidates": "module"},
         kinds=("none",)),
    Case(target=F + "Validator",
         build=lambda kind, s: Inputs(tau=0.6, min_improvement=0.01),
         call=lambda cls, kw: cls(**kw).accept(0.1, 0.5, 0.9),
         roles={"tau": "real", "min_improvement": "pos_float"}, kinds=("none",)),
    Case(target=F + "refine_prompt",
         build=lambda kind, s: Inputs(prompt="a photo of a nurse", store=_store(),
                                      generator=_stand_in(), fidelity=_fidelity, n_images=16,
                                      max_iter=2, tolerance=0.0, alpha=0.5, seed=s.seed),
         roles={"store": "module", "generator": "module", "fidelity": "module",
                "n_images": "pos_int", "max_iter": "pos_int", "tolerance": "nonneg_float",
                "alpha": "nonneg_float", "seed": "seed"},
         skip_breakers={("fidelity", "none"): "None selects the default MiniLM fidelity"},
         kinds=("none",)),
    Case(target=F + "fixed_template",
         build=lambda kind, s: Inputs(prompt="a photo of a nurse"), kinds=("none",)),
]


# ----------------------------------------------------------------------------- surgical
@functools.lru_cache(maxsize=1)
def _mesh():
    from mintlab.apps.surgical import box_mesh

    return box_mesh((2, 1, 1))


@functools.lru_cache(maxsize=1)
def _dataset():
    from mintlab.apps.surgical import make_deformation_dataset

    return make_deformation_dataset(2, cells=2, cut_fraction=0.0, seed=0)


def _hierarchy(n_nodes=None):
    from mintlab.apps.surgical import MeshHierarchy

    nodes = _mesh().nodes if n_nodes is None else _dataset().mesh.nodes
    return MeshHierarchy(nodes, sizes=(4, 2), seed=0)


def _graph_batch(s):
    from mintlab.apps.surgical.fem import mesh_edges

    mesh = _mesh()
    n = mesh.n_nodes
    g = np.random.default_rng(s.seed)
    x = torch.from_numpy(np.c_[mesh.nodes, g.normal(size=(n, 3)), np.zeros(n)]).float()
    e = torch.from_numpy(mesh_edges(mesh).T.copy()).long()
    return Inputs(x=x, edges=torch.cat([e, e.flip(0)], 1), graph=torch.zeros(n, dtype=torch.long),
                  cut=torch.zeros(n, dtype=torch.bool))


def _surg(cls_name):
    import mintlab.apps.surgical as surg

    with seeded_global_rng(0):
        if cls_name == "SurgFormer":
            return surg.SurgFormer(_hierarchy(), width=8, depth=1, heads=2)
        return getattr(surg, cls_name)(width=8, depth=1)


def _surg_forward(name, cls, kw):
    return _surg(name)(**kw)


def _fixed(mesh):
    z = mesh.nodes[:, 2]
    return z <= z.min() + 1e-9


SURGICAL = [
    Case(target=S + "SurgFormer",
         build=lambda kind, s: Inputs(hierarchy=_hierarchy(), width=8, depth=1, heads=2,
                                      use_cut_embedding=True),
         roles={"hierarchy": "module", "width": "pos_int", "depth": "pos_int",
                "heads": "pos_int", "use_cut_embedding": "bool"},
         kinds=("none",)),
    *[Case(target=S + name, id=S + name + ".forward",
           build=lambda kind, s: _graph_batch(s),
           call=functools.partial(_surg_forward, name),
           roles={"x": "matrix", "edges": "array", "graph": "array", "cut": "array"},
           kinds=("torch",))
      for name in ("SurgFormer", "PlainGNN", "NodeMLP")],
    *[Case(target=S + name, build=lambda kind, s: Inputs(width=8, depth=s.k),
           roles={"width": "pos_int", "depth": "pos_int"}, kinds=("none",))
      for name in ("PlainGNN", "NodeMLP")],
    Case(target=S + "MeshHierarchy",
         build=lambda kind, s: Inputs(nodes=randn(kind, s.n, 3, seed=s.seed), sizes=(3, 2),
                                      seed=s.seed),
         call=lambda cls, kw: cls(**kw).assign,
         roles={"nodes": "points", "seed": "seed"}, kinds=("numpy",)),
    Case(target=S + "make_deformation_dataset",
         build=lambda kind, s: Inputs(n_cases=1, cells=2, cut_fraction=0.0, lateral=0.5,
                                      E=3.0, nu=0.45, seed=s.seed),
         call=lambda f, kw: [c.u for c in f(**kw).cases],
         roles={"n_cases": "pos_int", "cells": "pos_int", "cut_fraction": "prob",
                "lateral": "nonneg_float", "E": "pos_float", "nu": "real", "seed": "seed"},
         kinds=("numpy",)),
    Case(target=S + "fit_deformation_model",
         build=lambda kind, s: Inputs(model=_surg("NodeMLP"), dataset=_dataset(),
                                      train_idx=np.array([0, 1]), epochs=1, batch_size=2,
                                      lr=1e-3, seed=s.seed),
         roles={"model": "module", "dataset": "module", "train_idx": "labels",
                "epochs": "pos_int", "batch_size": "pos_int", "lr": "pos_float",
                "seed": "seed"},
         skip_breakers={("train_idx", "wrong_length"): "any number of case indices is valid"},
         kinds=("numpy",)),
    Case(target=S + "predict_displacements",
         build=lambda kind, s: Inputs(model=_surg("NodeMLP"), dataset=_dataset(),
                                      idx=np.array([1, 0])),
         roles={"model": "module", "dataset": "module", "idx": "labels"},
         skip_breakers={("idx", "wrong_length"): "any number of case indices is valid"},
         kinds=("numpy",)),
    Case(target=S + "displacement_error",
         build=lambda kind, s: Inputs(pred=randn(kind, s.n, 3, seed=s.seed),
                                      true=randn(kind, s.n, 3, seed=s.seed + 1)),
         roles={"pred": "points", "true": "points"}),
    Case(target=S + "TetMesh",
         build=lambda kind, s: Inputs(nodes=_mesh().nodes.copy(), tets=_mesh().tets.copy()),
         call=lambda cls, kw: cls(**kw).volumes(),
         roles={"nodes": "points", "tets": "matrix"}, kinds=("numpy",)),
    Case(target=S + "box_mesh",
         build=lambda kind, s: Inputs(shape=(s.k, 1, 1), size=(1.0, 0.5, 0.5)),
         call=lambda f, kw: f(**kw).volumes(), kinds=("none",)),
    Case(target=S + "ellipsoid_mesh",
         build=lambda kind, s: Inputs(radii=np.array([1.0, 0.7, 0.5]), cells=2),
         call=lambda f, kw: f(**kw).volumes(),
         roles={"radii": "array", "cells": "pos_int"}, kinds=("numpy",)),
    Case(target=S + "solve_elasticity",
         build=lambda kind, s: Inputs(mesh=_mesh(), forces=randn(kind, _mesh().n_nodes, 3,
                                                                  seed=s.seed),
                                      fixed=_fixed(_mesh()), E=1.0, nu=0.3),
         call=lambda f, kw: f(**kw).u,
         roles={"mesh": "module", "forces": "points", "E": "pos_float", "nu": "real"},
         kinds=("numpy",)),
    Case(target=S + "stiffness_matrix",
         build=lambda kind, s: Inputs(mesh=_mesh(), E=1.0, nu=0.3),
         call=lambda f, kw: f(**kw).toarray(),
         roles={"mesh": "module", "E": "pos_float", "nu": "real"}, kinds=("numpy",)),
]


# ----------------------------------------------------------------------------- experiments
def _toy_experiment():
    from mintlab.experiments import Experiment, Result, Settings

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class ToySettings(Settings):
        n: int = 5

    def run(settings, seed):
        r = Result(seed=seed)
        x = np.random.default_rng(seed).normal(size=settings.n)
        r.compare("gap", x + 1.0, x, claim="higher", margin=0.1)
        r.metrics["mean"] = float(x.mean())
        return r

    return Experiment("fuzz-toy", {"higher": "Ours is higher."}, run, ToySettings(seeds=1),
                      ToySettings(seeds=1, n=8), "reproduced")


_TOY = None


@contextlib.contextmanager
def _toy_registered():
    from mintlab.experiments import register
    from mintlab.experiments.registry import unregister

    global _TOY
    if _TOY is None:
        _TOY = _toy_experiment()
    register(_TOY, replace=True)
    try:
        yield _TOY
    finally:
        unregister("fuzz-toy")


def _with_toy(fn, kw):
    with _toy_registered():
        return fn(*kw.args, **kw)


def _toy_settings():
    return _TOY.quick if _TOY is not None else _toy_experiment().quick


_TMP_DIRS: list[str] = []


@atexit.register
def _remove_tmp_dirs():
    for d in _TMP_DIRS:
        shutil.rmtree(d, ignore_errors=True)


def _tmp_dir(prefix):
    d = tempfile.mkdtemp(prefix=prefix)
    _TMP_DIRS.append(d)
    return Path(d)


def _out_dir():
    return _tmp_dir("mintlab-fuzz-run-")


def _example_record():
    from mintlab.experiments.runner import _example_record as ex

    return ex({"err": 0.1, "rate": 0.5})


def _result(s):
    from mintlab.experiments import Result

    r = Result(seed=0)
    r.compare("gap", np.arange(s.n) + 1.0, np.arange(s.n, dtype=float), claim="k")
    return r


def _check_kwargs():
    return dict(name="c", claim="k", kind="check", passed=True, measured=0.1,
                interval=(0.0, 0.2), n=3, unit="seed", op="<=", threshold=0.5, reduce="all",
                ours=(0.1, 0.1, 0.1), seeds=(0, 1, 2))


EXPERIMENTS = [
    Case(target=E + "Check", build=lambda kind, s: Inputs(**_check_kwargs()),
         call=lambda cls, kw: cls(**kw).to_json(), kinds=("none",)),
    Case(target=E + "Experiment",
         build=lambda kind, s: Inputs(slug="fuzz-toy", claims={"higher": "Ours is higher."},
                                      run=lambda st, seed: None, quick=_toy_settings(),
                                      full=_toy_settings(), expected="reproduced"),
         roles={"run": "module", "quick": "module", "full": "module", "expected": "choice",
                "slug": "choice"},
         skip_breakers={("slug", "unknown"): "'no-such-option' is a well-formed slug; slugs "
                        "outside the catalog are allowed for tests"},
         kinds=("none",)),
    Case(target=E + "Result", id=E + "Result.compare",
         build=lambda kind, s: Inputs(name="gap", ours=rand(kind, s.n, seed=s.seed) + 1.0,
                                      baseline=rand(kind, s.n, seed=s.seed + 1), claim="k",
                                      better="higher", margin=0.1, paired=True),
         call=lambda cls, kw: cls(seed=0).compare(**kw),
         roles={"ours": "array", "baseline": "array", "better": "choice",
                "margin": "nonneg_float", "paired": "bool"},
         skip_breakers={(a, b): "NaN or infinite samples are a measured outcome: the check "
                        "is judged and fails, it is not a usage error"
                        for a in ("ours", "baseline") for b in ("nan", "inf")}),
    Case(target=E + "Result", id=E + "Result.check",
         build=lambda kind, s: Inputs(name="err", measured=rand(kind, s.n, seed=s.seed),
                                      threshold=1.0, op="<=", claim="k", reduce="all"),
         call=lambda cls, kw: cls(seed=0).check(**kw),
         roles={"measured": "array", "threshold": "real", "op": "choice", "reduce": "choice"},
         skip_breakers={("measured", b): "NaN or infinite samples are a measured outcome: the "
                        "check is judged and fails" for b in ("nan", "inf")}),
    Case(target=E + "Settings", build=lambda kind, s: Inputs(seeds=s.k),
         call=lambda cls, kw: cls(**kw).to_json(), roles={"seeds": "pos_int"},
         kinds=("none",)),
    Case(target=E + "Verdict",
         build=lambda kind, s: Inputs(held=1, total=2, claims={"a": True, "b": False}),
         call=lambda cls, kw: cls(**kw).label,
         roles={"held": "nonneg_int", "total": "nonneg_int"}, kinds=("none",)),
    Case(target=E + "judge",
         build=lambda kind, s: Inputs(claims={"k": "Ours is higher."}, result=_result(s)),
         roles={"claims": "module", "result": "module"}, kinds=("none",)),
    Case(target=E + "merge_results",
         build=lambda kind, s: Inputs(results=[_result(s), _result(s)]),
         roles={"results": "module"}, kinds=("none",)),
    Case(target=E + "run_seed",
         build=lambda kind, s: Inputs(slug="fuzz-toy", settings=_toy_settings(),
                                      seed=s.seed % 100, figures=False, threads=None),
         call=_with_toy,
         roles={"slug": "choice", "settings": "module", "seed": "seed", "figures": "bool",
                "threads": "pos_int"},
         kinds=("none",)),
    Case(target=E + "Paper",
         build=lambda kind, s: Inputs(slug="sopt", family="transport", title="SOPT"),
         kinds=("none",)),
    Case(target=E + "register",
         build=lambda kind, s: Inputs(experiment=_toy_experiment(), replace=True),
         call=lambda f, kw: _registered_then_removed(f, kw),
         roles={"experiment": "module", "replace": "bool"}, kinds=("none",)),
    Case(target=E + "get_experiment", build=lambda kind, s: Inputs(slug="fuzz-toy"),
         call=lambda f, kw: _with_toy(f, kw).slug, roles={"slug": "choice"},
         kinds=("none",)),
    Case(target=E + "status", build=lambda kind, s: Inputs(slug="fuzz-toy"),
         call=_with_toy, roles={"slug": "choice"},
         skip_breakers={("slug", "unknown"): "status reports 'planned' for any slug without an "
                        "experiment, as documented"},
         kinds=("none",)),
    Case(target=E + "RunRecord",
         build=lambda kind, s: Inputs(slug="toy", mode="quick", seeds=[0], seconds=1.0,
                                      claims={"k": "Ours is higher."}, expected="reproduced",
                                      settings={"seeds": 1}),
         call=lambda cls, kw: cls(**kw).to_json(), roles={"mode": "choice"}, kinds=("none",)),
    Case(target=E + "run_experiments",
         build=lambda kind, s: Inputs(slugs=["fuzz-toy"], out_dir=_out_dir(), mode="quick",
                                      seeds=1, base_seed=s.seed % 100, workers=None,
                                      threads=None, resume=False, progress=False),
         call=_with_toy,
         roles={"mode": "choice", "seeds": "pos_int", "base_seed": "seed",
                "workers": "pos_int", "threads": "pos_int", "resume": "bool",
                "progress": "bool"},
         kinds=("none",)),
    Case(target=E + "run_experiments", id=E + "run_experiments.slugs",
         build=lambda kind, s: Inputs(slug="fuzz-toy", out_dir=_out_dir(), seeds=1),
         call=lambda f, kw: _with_toy(lambda slug, **rest: f([slug], **rest), kw),
         roles={"slug": "choice"}, kinds=("none",)),
    Case(target=E + "write_report",
         build=lambda kind, s: Inputs(records=[_example_record()], out_dir=_out_dir()),
         call=lambda f, kw: str(f(**kw)), roles={"records": "module"}, kinds=("none",)),
]


def _registered_then_removed(f, kw):
    from mintlab.experiments.registry import unregister

    try:
        return f(**kw).slug
    finally:
        exp = kw.get("experiment")
        if getattr(exp, "slug", None) == "fuzz-toy":
            unregister("fuzz-toy")


CASES = DISTILL + FAIRNESS + SURGICAL + EXPERIMENTS

EXEMPT: dict[str, str] = {
    F + "AttributeGenerator": "a typing.Protocol describing the generator interface; it "
                              "cannot be instantiated or called",
    F + "RefinementResult": "the record refine_prompt returns; users read it, they do not "
                            "build it",
    E + "experiments": "takes no arguments: returns the registered experiments",
    E + "slugs": "takes no arguments: returns the catalog's slugs",
}
