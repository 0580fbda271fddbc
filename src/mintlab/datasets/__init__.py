"""Offline data: real images, signals and corpora shipped or packaged, and procedural data.

Real assets (see ``mintlab data list`` and ``docs/data.md``): Fashion-MNIST
and MNIST images, MNIST-1D signals, the KJV and Jane Austen corpora, mesh
primitives; images also as weighted 2D point clouds. Procedural data: point
clouds, graphs, glyphs, tasks. Nothing is downloaded at run time; a loader
whose asset is missing raises :class:`MissingAssetError` naming the command
that installs it.
"""

from ._assets import (
    ASSETS,
    MissingAssetError,
    asset,
    asset_installed,
    asset_names,
    require_asset,
)
from .corpus import (
    AUSTEN_NOVELS,
    CORPORA,
    CORPUS_SPLITS,
    corpus_chapters,
    load_corpus_verses,
    load_text_corpus,
)
from .digits import load_digits_split, rotate_digits
from .glyphs import affine_deform, glyph_templates, load_glyph_split, make_glyph_classes
from .graphs import GRAPH_FAMILIES, make_graph_classes
from .image_clouds import ImagePointClouds, image_point_clouds, sample_image_points
from .images import (
    FASHION_MNIST_CLASSES,
    IMAGE_SPLITS,
    fashion_mnist_full_available,
    fashion_mnist_subset_index,
    load_fashion_mnist,
    load_mnist,
)
from .meshes import (
    MESH_SHAPES,
    make_mesh_point_cloud_classes,
    mesh_primitive,
    sample_mesh_surface,
)
from .pointclouds import (
    SHAPES,
    make_point_cloud_classes,
    make_set_retrieval_corpus,
    sample_shape,
)
from .signals import load_mnist1d
from .tasks import make_digit_tasks, make_gaussian_tasks

__all__ = ["SHAPES", "sample_shape", "make_point_cloud_classes", "make_set_retrieval_corpus",
           "GRAPH_FAMILIES", "make_graph_classes", "make_digit_tasks", "make_gaussian_tasks",
           "load_digits_split", "rotate_digits",
           "CORPORA", "CORPUS_SPLITS", "AUSTEN_NOVELS", "load_text_corpus",
           "load_corpus_verses", "corpus_chapters",
           "affine_deform", "glyph_templates", "make_glyph_classes", "load_glyph_split",
           "IMAGE_SPLITS", "FASHION_MNIST_CLASSES", "load_fashion_mnist", "load_mnist",
           "fashion_mnist_full_available", "fashion_mnist_subset_index", "load_mnist1d",
           "ImagePointClouds", "image_point_clouds", "sample_image_points",
           "MESH_SHAPES", "mesh_primitive", "sample_mesh_surface",
           "make_mesh_point_cloud_classes",
           "ASSETS", "MissingAssetError", "asset", "asset_names", "asset_installed",
           "require_asset"]
