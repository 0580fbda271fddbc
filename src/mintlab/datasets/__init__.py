"""Offline, procedural data used by the experiments and available to users."""

from .corpus import CORPUS_SPLITS, load_corpus_verses, load_text_corpus
from .digits import load_digits_split, rotate_digits
from .glyphs import affine_deform, glyph_templates, load_glyph_split, make_glyph_classes
from .graphs import GRAPH_FAMILIES, make_graph_classes
from .pointclouds import (
    SHAPES,
    make_point_cloud_classes,
    make_set_retrieval_corpus,
    sample_shape,
)
from .tasks import make_digit_tasks, make_gaussian_tasks

__all__ = ["SHAPES", "sample_shape", "make_point_cloud_classes", "make_set_retrieval_corpus",
           "GRAPH_FAMILIES", "make_graph_classes", "make_digit_tasks", "make_gaussian_tasks",
           "load_digits_split", "rotate_digits",
           "CORPUS_SPLITS", "load_text_corpus", "load_corpus_verses",
           "affine_deform", "glyph_templates", "make_glyph_classes", "load_glyph_split"]
