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
from .corruptions import (
    CORRUPTION_PARAMETERS,
    CORRUPTIONS,
    SEVERITIES,
    corrupt,
    corruption_suite,
)
from .digits import load_digits_split, rotate_digits
from .glyphs import affine_deform, glyph_templates, load_glyph_split, make_glyph_classes
from .graphs import (
    FEATURE_COUPLINGS,
    GRAPH_FAMILIES,
    load_mutag,
    make_featured_graph_classes,
    make_graph_classes,
)
from .image_clouds import ImagePointClouds, image_point_clouds, sample_image_points
from .images import (
    FASHION_MNIST_CLASSES,
    IMAGE_SPLITS,
    fashion_mnist_full_available,
    fashion_mnist_subset_index,
    load_fashion_mnist,
    load_mnist,
)
from .long_range import (
    BYTE_TEXT_TASKS,
    LISTOPS_OPERATORS,
    LISTOPS_VOCAB,
    listops_value,
    make_byte_text,
    make_listops,
    make_pathfinder,
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
from .tasks import (
    IMAGE_TASK_CLASSES,
    ImageTasks,
    make_digit_tasks,
    make_gaussian_tasks,
    make_image_tasks,
)
from .text_classes import AUSTEN_TITLES, austen_passages, build_vocabulary, encode_passages

__all__ = ["SHAPES", "sample_shape", "make_point_cloud_classes", "make_set_retrieval_corpus",
           "GRAPH_FAMILIES", "make_graph_classes", "FEATURE_COUPLINGS", "load_mutag",
           "make_featured_graph_classes", "make_digit_tasks", "make_gaussian_tasks",
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
           "require_asset",
           "CORRUPTIONS", "SEVERITIES", "CORRUPTION_PARAMETERS", "corrupt", "corruption_suite",
           "IMAGE_TASK_CLASSES", "ImageTasks", "make_image_tasks",
           "AUSTEN_TITLES", "austen_passages", "build_vocabulary", "encode_passages",
           "BYTE_TEXT_TASKS", "LISTOPS_OPERATORS", "LISTOPS_VOCAB", "listops_value",
           "make_byte_text", "make_listops", "make_pathfinder"]
