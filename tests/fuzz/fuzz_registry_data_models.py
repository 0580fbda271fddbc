"""Fuzz cases: data sets (shipped loaders and generators) and the pretrained models.

Loaders of shipped data are called with small sizes; generators with a few
tiny items. The pretrained models (SmolLM2-135M, EfficientNet-Lite0,
all-MiniLM-L6-v2) load once per worker (cached below); their calls use a few
tokens or 8 x 8 images at the smallest resolution (32 px). Lists of strings
(sentences, passages of words) get the ``texts`` role; arguments that take
option names, or sequences of names, the ``choice`` role: its bare string and
number breakers exercise the type and value checks.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from _fuzz_harness import Case, Inputs, Sizes, arr, rand, randn

import mintlab.datasets as ds


# --------------------------------------------------------------- shared models
@functools.cache
def _lm() -> tuple[Any, Any]:
    from mintlab.models import load_causal_lm

    return load_causal_lm()


@functools.cache
def _encoder() -> Any:
    from mintlab.models import load_image_encoder

    return load_image_encoder()


@functools.cache
def _sentence() -> tuple[Any, Any]:
    from mintlab.models import load_sentence_encoder

    return load_sentence_encoder()


def _batch(s: Sizes) -> Any:
    """Preprocessed images ``(n, 3, 32, 32)`` for the encoder's methods."""
    import torch

    g = torch.Generator().manual_seed(s.seed)
    return _encoder().preprocess(torch.rand(s.n, 8, 8, generator=g, dtype=torch.float32),
                                 size=32)


def _images(kind: str, s: Sizes, side: int = 8) -> Any:
    """Grey images in [0, 1] with at least one bright pixel each."""
    x = np.random.default_rng(s.seed).random((s.n, side, side))
    x[:, 0, 0] = 1.0
    return arr(kind, x)


_LISTOPS_IDS = {t: i for i, t in enumerate(ds.LISTOPS_VOCAB)}
_EXPR = [_LISTOPS_IDS[t] for t in "[MAX 2 [MIN 7 4 ] 3 ]".split()]
_TEXT = "In the beginning God created the heaven and the earth. " * 3
_ANY_TEXT = "any other string is a text, which is valid input"
_NONE_DEFAULT = "None selects the default pretrained model"

NONE = ("none",)
NP = ("numpy",)


def _tasks() -> ds.ImageTasks:
    classes = np.array([[0, 3], [2, 5]])
    return ds.ImageTasks(train=[], test=[], classes=classes, n_fashion=np.array([1, 1]))


CASES = [
    # ------------------------------------------------------------- point clouds
    Case(target="mintlab.datasets.sample_shape", kinds=NONE,
         build=lambda k, s: Inputs(shape=ds.SHAPES[s.seed % len(ds.SHAPES)], n=s.n,
                                   rng=np.random.default_rng(s.seed), aspect=1.1),
         roles={"shape": "choice", "n": "pos_int", "rng": "seed", "aspect": "pos_float"}),
    Case(target="mintlab.datasets.make_point_cloud_classes", kinds=NONE,
         build=lambda k, s: Inputs(n_per_class=2, shapes=("sphere", "cube"), n_points=s.n + 2,
                                   noise=0.02, rotate=True, seed=s.seed),
         roles={"n_per_class": "pos_int", "shapes": "choice", "n_points": "pos_int",
                "noise": "nonneg_float", "rotate": "bool", "seed": "seed"}),
    Case(target="mintlab.datasets.make_set_retrieval_corpus", kinds=NONE,
         build=lambda k, s: Inputs(n_sets=s.k, n_queries=2, n_points=s.n + 2, noise=0.02,
                                   query_noise=0.03, seed=s.seed),
         roles={"n_sets": "pos_int", "n_queries": "pos_int", "n_points": "pos_int",
                "noise": "nonneg_float", "query_noise": "nonneg_float", "seed": "seed"}),
    Case(target="mintlab.datasets.mesh_primitive", kinds=NONE,
         build=lambda k, s: Inputs(shape=ds.MESH_SHAPES[s.seed % len(ds.MESH_SHAPES)]),
         roles={"shape": "choice"}),
    Case(target="mintlab.datasets.sample_mesh_surface", kinds=NONE,
         build=lambda k, s: Inputs(shape="torus", n_points=s.n, seed=s.seed),
         roles={"shape": "choice", "n_points": "pos_int", "seed": "seed"}),
    Case(target="mintlab.datasets.make_mesh_point_cloud_classes", kinds=NONE,
         build=lambda k, s: Inputs(n_per_class=1, shapes=("box", "torus"), n_points=s.n,
                                   noise=0.01, rotate=True, seed=s.seed),
         roles={"n_per_class": "pos_int", "shapes": "choice", "n_points": "pos_int",
                "noise": "nonneg_float", "rotate": "bool", "seed": "seed"}),
    # ------------------------------------------------------------------ graphs
    Case(target="mintlab.datasets.make_graph_classes", kinds=NONE,
         build=lambda k, s: Inputs(n_per_class=1, families=("erdos_renyi", "watts_strogatz"),
                                   n_nodes=s.n + 5, seed=s.seed),
         roles={"n_per_class": "pos_int", "families": "choice", "n_nodes": "pos_int",
                "seed": "seed"}),
    Case(target="mintlab.datasets.make_featured_graph_classes", kinds=NONE,
         build=lambda k, s: Inputs(n_per_class=1, couplings=np.array([0.5, -0.5]), n_nodes=8,
                                   degree=3, n_features=s.d, seed=s.seed),
         roles={"n_per_class": "pos_int", "couplings": "array", "n_nodes": "pos_int",
                "degree": "pos_int", "n_features": "pos_int", "seed": "seed"}),
    Case(target="mintlab.datasets.load_mutag", kinds=NONE, build=lambda k, s: Inputs()),
    # ------------------------------------------------------------------- tasks
    Case(target="mintlab.datasets.make_digit_tasks", kinds=NONE,
         build=lambda k, s: Inputs(n_tasks=2, n_classes=s.k, per_class=3, n_components=4,
                                   seed=s.seed),
         roles={"n_tasks": "pos_int", "n_classes": "pos_int", "per_class": "pos_int",
                "n_components": "pos_int", "seed": "seed"}),
    Case(target="mintlab.datasets.make_gaussian_tasks", kinds=NONE,
         build=lambda k, s: Inputs(n_tasks=2, n_classes=s.k, per_class=3, dim=s.d, shift=1.0,
                                   seed=s.seed),
         roles={"n_tasks": "pos_int", "n_classes": "pos_int", "per_class": "pos_int",
                "dim": "pos_int", "shift": "real", "seed": "seed"}),
    Case(target="mintlab.datasets.make_image_tasks", kinds=NONE,
         build=lambda k, s: Inputs(n_tasks=2, n_classes=2, per_class=3, test_per_class=3,
                                   n_components=4, seed=s.seed),
         roles={"n_tasks": "pos_int", "n_classes": "pos_int", "per_class": "pos_int",
                "test_per_class": "pos_int", "n_components": "pos_int", "seed": "seed"}),
    Case(target="mintlab.datasets.ImageTasks", id="mintlab.datasets.ImageTasks.local_labels",
         kinds=NP,
         build=lambda k, s: Inputs(t=1, y=arr(k, [2, 5, 5, 2], dtype=np.int64)),
         call=lambda cls, kw: _tasks().local_labels(**kw),
         roles={"t": "nonneg_int", "y": "labels"},
         skip_breakers={("y", "wrong_length"): "any number of labels is valid"}),
    # ------------------------------------------------------------------ digits
    Case(target="mintlab.datasets.load_digits_split", kinds=NONE,
         build=lambda k, s: Inputs(seed=s.seed, val_fraction=0.15, test_fraction=0.25),
         roles={"seed": "seed", "val_fraction": "ratio", "test_fraction": "ratio"}),
    Case(target="mintlab.datasets.rotate_digits",
         build=lambda k, s: Inputs(X=randn(k, s.n, 64, seed=s.seed), quarter_turns=s.k),
         roles={"X": "matrix", "quarter_turns": "nonneg_int"},
         skip_breakers={("quarter_turns", "negative"): "negative quarter turns rotate "
                                                       "clockwise: valid input"}),
    # ---------------------------------------------------------------- corpora
    Case(target="mintlab.datasets.load_text_corpus", kinds=NONE,
         build=lambda k, s: Inputs(split="test", corpus=ds.CORPORA[s.seed % 2]),
         roles={"split": "choice", "corpus": "choice"}),
    Case(target="mintlab.datasets.load_corpus_verses", kinds=NONE,
         build=lambda k, s: Inputs(split="calibration", corpus=ds.CORPORA[s.seed % 2]),
         roles={"split": "choice", "corpus": "choice"}),
    Case(target="mintlab.datasets.corpus_chapters", kinds=NONE,
         build=lambda k, s: Inputs(corpus=ds.CORPORA[s.seed % 2]), roles={"corpus": "choice"}),
    Case(target="mintlab.datasets.austen_passages", kinds=NONE,
         build=lambda k, s: Inputs(split="test", length=s.n + 4, per_class=2, seed=s.seed),
         roles={"split": "choice", "length": "pos_int", "per_class": "pos_int",
                "seed": "seed"}),
    Case(target="mintlab.datasets.build_vocabulary", kinds=NONE,
         build=lambda k, s: Inputs(passages=[("a", "b", "c"), ("b", "c", "d")], size=s.k),
         roles={"passages": "texts", "size": "pos_int"}),
    Case(target="mintlab.datasets.encode_passages", kinds=NONE,
         build=lambda k, s: Inputs(passages=[("a", "b", "x"), ("b", "c", "d")],
                                   vocabulary={"a": 2, "b": 3, "c": 4}),
         roles={"passages": "texts", "vocabulary": "choice"}),
    Case(target="mintlab.datasets.listops_value",
         build=lambda k, s: Inputs(tokens=arr(k, _EXPR + [0] * s.k, dtype=np.int64)),
         roles={"tokens": "tokens"}),
    Case(target="mintlab.datasets.make_listops", kinds=NONE,
         build=lambda k, s: Inputs(n_seq=s.k, max_length=16, min_length=6, max_depth=3,
                                   max_args=3, seed=s.seed),
         roles={"n_seq": "pos_int", "max_length": "pos_int", "min_length": "pos_int",
                "max_depth": "pos_int", "max_args": "pos_int", "seed": "seed"}),
    Case(target="mintlab.datasets.make_pathfinder", kinds=NONE,
         build=lambda k, s: Inputs(n_images=s.k, side=8, n_distractors=1, curve_length=10.0,
                                   dash=2.0, gap=1.0, seed=s.seed),
         roles={"n_images": "pos_int", "side": "pos_int", "n_distractors": "nonneg_int",
                "curve_length": "pos_float", "dash": "pos_float", "gap": "pos_float",
                "seed": "seed"}),
    Case(target="mintlab.datasets.make_byte_text", kinds=NONE,
         build=lambda k, s: Inputs(n_seq=s.k, length=s.n * 4, task=ds.BYTE_TEXT_TASKS[s.seed % 2],
                                   split="test", seed=s.seed),
         roles={"n_seq": "pos_int", "length": "pos_int", "task": "choice", "split": "choice",
                "seed": "seed"}),
    # ------------------------------------------------------------------ glyphs
    Case(target="mintlab.datasets.affine_deform", kinds=NP,
         build=lambda k, s: Inputs(img=rand(k, 8, 8, seed=s.seed),
                                   rng=np.random.default_rng(s.seed), shear=0.2, translate=1.0,
                                   rotate=0.1, blur=0.5),
         roles={"img": "matrix", "rng": "seed", "shear": "nonneg_float",
                "translate": "nonneg_float", "rotate": "nonneg_float", "blur": "nonneg_float"}),
    Case(target="mintlab.datasets.glyph_templates", kinds=NONE,
         build=lambda k, s: Inputs(n_classes=s.k, size=8),
         roles={"n_classes": "pos_int", "size": "pos_int"}),
    Case(target="mintlab.datasets.make_glyph_classes", kinds=NONE,
         build=lambda k, s: Inputs(n_classes=s.k, per_class=2, size=8, seed=s.seed,
                                   first_class=1, noise=0.05),
         roles={"n_classes": "pos_int", "per_class": "pos_int", "size": "pos_int",
                "seed": "seed", "first_class": "nonneg_int", "noise": "nonneg_float"}),
    Case(target="mintlab.datasets.load_glyph_split", kinds=NONE,
         build=lambda k, s: Inputs(n_classes=s.k, train_per_class=2, test_per_class=1, size=8,
                                   seed=s.seed, first_class=0),
         roles={"n_classes": "pos_int", "train_per_class": "pos_int",
                "test_per_class": "pos_int", "size": "pos_int", "seed": "seed",
                "first_class": "nonneg_int"}),
    # ------------------------------------------------------------------ images
    Case(target="mintlab.datasets.load_fashion_mnist", kinds=NONE,
         build=lambda k, s: Inputs(split="test", n=s.n + 10, seed=s.seed, source="subset"),
         roles={"split": "choice", "n": "pos_int", "seed": "seed", "source": "choice"}),
    Case(target="mintlab.datasets.load_mnist", kinds=NONE,
         build=lambda k, s: Inputs(split="test", n=s.n + 10, seed=s.seed),
         roles={"split": "choice", "n": "pos_int", "seed": "seed"}),
    Case(target="mintlab.datasets.load_mnist1d", kinds=NONE,
         build=lambda k, s: Inputs(split="test", n=s.n + 10, seed=s.seed),
         roles={"split": "choice", "n": "pos_int", "seed": "seed"}),
    Case(target="mintlab.datasets.fashion_mnist_full_available", kinds=NONE,
         build=lambda k, s: Inputs(root="/nonexistent/fashion-mnist"),
         roles={"root": "choice"},
         skip_breakers={("root", "unknown"): "any string is a folder path; one without the "
                                             "files gives False"}),
    Case(target="mintlab.datasets.fashion_mnist_subset_index", kinds=NONE,
         build=lambda k, s: Inputs(split=ds.IMAGE_SPLITS[s.seed % 2]), roles={"split": "choice"}),
    Case(target="mintlab.datasets.image_point_clouds",
         build=lambda k, s: Inputs(images=_images(k, s), threshold=0.5, n_points=3),
         roles={"images": "images", "threshold": "prob", "n_points": "pos_int"}),
    Case(target="mintlab.datasets.sample_image_points",
         build=lambda k, s: Inputs(images=_images(k, s), n_points=s.k, seed=s.seed,
                                   threshold=0.5),
         roles={"images": "images", "n_points": "pos_int", "seed": "seed", "threshold": "prob"}),
    Case(target="mintlab.datasets.corrupt", kinds=NP,
         build=lambda k, s: Inputs(images=rand(k, s.n, 8, 8, seed=s.seed),
                                   corruption=ds.CORRUPTIONS[s.seed % len(ds.CORRUPTIONS)],
                                   severity=1 + s.seed % 5, seed=s.seed),
         roles={"images": "images", "corruption": "choice", "severity": "pos_int",
                "seed": "seed"}),
    Case(target="mintlab.datasets.corruption_suite", kinds=NP,
         build=lambda k, s: Inputs(images=rand(k, s.n, 8, 8, seed=s.seed),
                                   corruptions=["contrast", "rotation"], severities=(1, 3),
                                   seed=s.seed),
         call=lambda f, kw: list(f(**kw)),
         roles={"images": "images", "corruptions": "choice", "seed": "seed"}),
    # ------------------------------------------------------------------ assets
    Case(target="mintlab.datasets.asset", kinds=NONE,
         build=lambda k, s: Inputs(name=ds.asset_names()[s.seed % len(ds.ASSETS)]),
         roles={"name": "choice"}),
    Case(target="mintlab.datasets.asset_installed", kinds=NONE,
         build=lambda k, s: Inputs(name="kjv"), roles={"name": "choice"}),
    Case(target="mintlab.datasets.require_asset", kinds=NONE,
         build=lambda k, s: Inputs(name="austen"), roles={"name": "choice"}),
    Case(target="mintlab.datasets.asset_names", kinds=NONE, build=lambda k, s: Inputs()),
    # ------------------------------------------------------------ causal LM
    Case(target="mintlab.models.load_causal_lm", kinds=NONE,
         build=lambda k, s: Inputs(name="smollm2-135m", use_cache=True, progress=False),
         roles={"name": "choice", "use_cache": "bool", "progress": "bool"}),
    Case(target="mintlab.models.prepare_causal_lm", kinds=NONE,
         build=lambda k, s: Inputs(name="smollm2-135m", force=False, progress=False),
         roles={"name": "choice", "force": "bool", "progress": "bool"}),
    Case(target="mintlab.models.causal_lm_cache_path", kinds=NONE,
         build=lambda k, s: Inputs(name="smollm2-135m"), roles={"name": "choice"}),
    Case(target="mintlab.models.lm_perplexity", kinds=NONE,
         build=lambda k, s: Inputs(model=_lm()[0], tokenizer=_lm()[1], text_or_split=_TEXT,
                                   max_tokens=16, corpus="kjv", window=8, stride=4,
                                   batch_size=s.k),
         roles={"model": "module", "tokenizer": "module", "text_or_split": "choice",
                "max_tokens": "pos_int", "corpus": "choice", "window": "pos_int",
                "stride": "pos_int", "batch_size": "pos_int"},
         skip_breakers={("text_or_split", "unknown"): _ANY_TEXT}),
    Case(target="mintlab.models.greedy_continuation", kinds=NONE,
         build=lambda k, s: Inputs(model=_lm()[0], tokenizer=_lm()[1],
                                   prompt="The capital of France is", max_new_tokens=2),
         roles={"model": "module", "tokenizer": "module", "prompt": "choice",
                "max_new_tokens": "pos_int"},
         skip_breakers={("prompt", "unknown"): "any non-empty string is a prompt"}),
    # -------------------------------------------------------- image encoder
    Case(target="mintlab.models.load_image_encoder", kinds=NONE,
         build=lambda k, s: Inputs(name="efficientnet-lite0"), roles={"name": "choice"}),
    Case(target="mintlab.models.ImageEncoder", kinds=NONE,
         build=lambda k, s: Inputs(net=_encoder().net, image_size=224, mean=127.0, std=128.0),
         roles={"net": "module", "image_size": "pos_int", "mean": "real", "std": "pos_float"}),
    Case(target="mintlab.models.ImageEncoder", id="mintlab.models.ImageEncoder.preprocess",
         kinds=("torch",),
         build=lambda k, s: Inputs(images=_images(k, s), size=32),
         call=lambda cls, kw: _encoder().preprocess(**kw),
         roles={"images": "images", "size": "pos_int"}),
    Case(target="mintlab.models.ImageEncoder", id="mintlab.models.ImageEncoder.features",
         kinds=("torch",), build=lambda k, s: Inputs(x=_batch(s)),
         call=lambda cls, kw: _encoder().features(**kw), roles={"x": "images"}),
    Case(target="mintlab.models.ImageEncoder", id="mintlab.models.ImageEncoder.logits",
         kinds=("torch",), build=lambda k, s: Inputs(x=_batch(s)),
         call=lambda cls, kw: _encoder().logits(**kw), roles={"x": "images"}),
    Case(target="mintlab.models.ImageEncoder", id="mintlab.models.ImageEncoder.feature_map",
         kinds=("torch",), build=lambda k, s: Inputs(x=_batch(s), block=s.k),
         call=lambda cls, kw: _encoder().feature_map(**kw),
         roles={"x": "images", "block": "nonneg_int"}),
    Case(target="mintlab.models.image_features",
         build=lambda k, s: Inputs(images=_images(k, s), encoder=_encoder(), size=32,
                                   batch_size=s.k),
         roles={"images": "images", "encoder": "module", "size": "pos_int",
                "batch_size": "pos_int"},
         skip_breakers={("encoder", "none"): _NONE_DEFAULT}),
    Case(target="mintlab.models.image_logits",
         build=lambda k, s: Inputs(images=_images(k, s), encoder=_encoder(), size=32,
                                   batch_size=s.k),
         roles={"images": "images", "encoder": "module", "size": "pos_int",
                "batch_size": "pos_int"},
         skip_breakers={("encoder", "none"): _NONE_DEFAULT}),
    Case(target="mintlab.models.image_tokens",
         build=lambda k, s: Inputs(images=_images(k, s), encoder=_encoder(), size=32,
                                   block=s.k, batch_size=s.k, cache=False),
         roles={"images": "images", "encoder": "module", "size": "pos_int",
                "block": "nonneg_int", "batch_size": "pos_int", "cache": "bool"},
         skip_breakers={("encoder", "none"): _NONE_DEFAULT}),
    # ------------------------------------------------------ sentence encoder
    Case(target="mintlab.models.load_sentence_encoder", kinds=NONE,
         build=lambda k, s: Inputs(name="all-minilm-l6-v2"), roles={"name": "choice"}),
    Case(target="mintlab.models.sentence_embeddings", kinds=NONE,
         build=lambda k, s: Inputs(sentences=["A cat sat.", "Stock prices fell."][: 1 + s.seed % 2],
                                   encoder=_sentence(), batch_size=s.k, max_length=16),
         roles={"sentences": "texts", "encoder": "module", "batch_size": "pos_int",
                "max_length": "pos_int"},
         skip_breakers={("encoder", "none"): _NONE_DEFAULT}),
]

EXEMPT: dict[str, str] = {
    "mintlab.datasets.ImagePointClouds": "a frozen result container returned by "
                                         "image_point_clouds; it stores what it is given and "
                                         "computes nothing at construction",
}
