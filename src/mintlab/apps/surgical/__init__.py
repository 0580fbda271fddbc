"""Surgical data science: a soft-tissue deformation surrogate (``surgformer``) with its
finite-element data generator, and zero-shot gesture recognition from text prompts
(``surgical-gesture``)."""

from . import deformation, fem, gestures
from .deformation import (
    MeshHierarchy,
    NodeMLP,
    PlainGNN,
    SurgFormer,
    displacement_error,
    fit_deformation_model,
    make_deformation_dataset,
    predict_displacements,
)
from .fem import TetMesh, box_mesh, ellipsoid_mesh, solve_elasticity, stiffness_matrix

__all__ = ["deformation", "fem", "gestures", "SurgFormer", "PlainGNN", "NodeMLP",
           "MeshHierarchy", "make_deformation_dataset", "fit_deformation_model",
           "predict_displacements", "displacement_error", "TetMesh", "box_mesh",
           "ellipsoid_mesh", "solve_elasticity", "stiffness_matrix"]
