"""The registry of experiments: every slug of the catalog, implemented or planned."""

from __future__ import annotations

import importlib
import pkgutil

from ._core import Experiment
from .catalog import PAPERS, Paper

__all__ = ["register", "get_experiment", "experiments", "status", "paper", "slugs",
           "UnknownExperimentError"]


class UnknownExperimentError(KeyError, ValueError):
    """``slug`` names no registered experiment (a ``KeyError`` and a ``ValueError``)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def _check_slug(slug: object, name: str = "slug") -> str:
    if not isinstance(slug, str):
        raise TypeError(f"{name} must be a paper slug (a string), got {type(slug).__name__}")
    return slug

_REGISTRY: dict[str, Experiment] = {}
_LOADED = False
_BY_SLUG: dict[str, Paper] = {p.slug: p for p in PAPERS}


def register(experiment: Experiment, *, replace: bool = False) -> Experiment:
    """Add ``experiment`` to the registry and return it.

    The slug must be one of the catalog's fifty, unless ``replace`` is used by
    tests to install a temporary experiment under a new slug.
    """
    if not isinstance(experiment, Experiment):
        raise TypeError(f"experiment must be an Experiment, got {type(experiment).__name__}")
    if not isinstance(replace, bool):
        raise TypeError(f"replace must be a bool, got {type(replace).__name__}")
    if experiment.slug in _REGISTRY and not replace:
        raise ValueError(f"an experiment for {experiment.slug!r} is already registered")
    _REGISTRY[experiment.slug] = experiment
    return experiment


def unregister(slug: str) -> None:
    """Remove ``slug`` from the registry (used by tests)."""
    _REGISTRY.pop(slug, None)


def _load_all() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    from mintlab import experiments as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if not info.name.startswith("_") and info.name not in {"catalog", "registry", "runner"}:
            importlib.import_module(f"{pkg.__name__}.{info.name}")


def slugs() -> list[str]:
    """All catalog slugs, in the catalog's order."""
    return [p.slug for p in PAPERS]


def paper(slug: str) -> Paper:
    """The catalog entry of ``slug``."""
    _check_slug(slug)
    if slug not in _BY_SLUG:
        raise KeyError(slug)
    return _BY_SLUG[slug]


def experiments() -> dict[str, Experiment]:
    """Registered experiments by slug."""
    _load_all()
    return dict(_REGISTRY)


def get_experiment(slug: str) -> Experiment:
    """The experiment registered for ``slug``; ``KeyError`` if there is none.

    Imports only that paper's module (``mintlab.experiments.<slug with _>``)
    when it is not registered yet.
    """
    _check_slug(slug)
    if slug not in _REGISTRY and slug in _BY_SLUG:
        from mintlab import experiments as pkg

        name = f"{pkg.__name__}.{slug.replace('-', '_')}"
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name != name:
                raise
    if slug not in _REGISTRY:
        _load_all()
    if slug not in _REGISTRY:
        why = ("is planned but has no experiment yet" if slug in _BY_SLUG
               else "is not a paper slug")
        raise UnknownExperimentError(f"slug {slug!r} {why}; valid slugs: "
                                     f"{', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[slug]


def status(slug: str) -> str:
    """``"implemented"`` once ``slug`` has a registered experiment, else ``"planned"``."""
    _check_slug(slug)
    _load_all()
    return "implemented" if slug in _REGISTRY else "planned"
