"""Point-cloud registration driven by partial optimal transport (``opt-registration``)."""

from .core import RegistrationResult, correspondences, fit_transform_model, register

__all__ = ["register", "RegistrationResult", "fit_transform_model", "correspondences"]
