"""The seeded training loop used by the compression experiments (shared with :mod:`mintlab.nn`)."""

from mintlab._training import accuracy, fit_classifier

__all__ = ["fit_classifier", "accuracy"]
