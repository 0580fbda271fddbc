"""mintlab: fast, faithful implementations of fifty transport and learning papers.

Subpackages: :mod:`mintlab.transport` (distances and plans between two
measures), :mod:`mintlab.embed` (one measure in, a vector out),
:mod:`mintlab.ood` (accuracy prediction under shift),
:mod:`mintlab.registration` (point-cloud registration by partial transport),
:mod:`mintlab.generative` (transport-driven generative models),
:mod:`mintlab.compress` (models stored as a seed plus a few numbers),
:mod:`mintlab.scale` (the same embeddings and indexes on Dask),
:mod:`mintlab.datasets` (offline data), :mod:`mintlab.experiments` (the
papers' reproductions).

Importing mintlab makes its Gymnasium environments (``mintlab/CTGraph-v0``)
available to ``gymnasium.make`` without importing Gymnasium itself: they are
registered as soon as Gymnasium is imported (at once if it already is).
"""

import sys as _sys

__version__ = "0.1.0"

from .errors import ArtifactError, ArtifactNotFoundError  # noqa: E402  (no numpy / torch)

__all__ = ["__version__", "ArtifactError", "ArtifactNotFoundError"]

#: Gymnasium environment ids and their entry points (imported only by ``gymnasium.make``)
_GYM_ENVS = {"mintlab/CTGraph-v0": "mintlab.continual.envs.ctgraph:CTGraphEnv"}


def _register_gym_envs(gym) -> None:
    """Register :data:`_GYM_ENVS` with the Gymnasium module ``gym`` (once)."""
    for env_id, entry_point in _GYM_ENVS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point)


class _RegisterOnGymnasiumImport:
    """An import hook that registers mintlab's environments right after ``import gymnasium``.

    It finds Gymnasium's module spec with the other finders and wraps that
    spec's loader so the registration runs once the package has executed; then
    it removes itself. Importing mintlab thus costs nothing when Gymnasium is
    never used, and a mere ``importlib.util.find_spec("gymnasium")`` leaves it
    in place.
    """

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "gymnasium":
            return None
        for finder in _sys.meta_path:
            if finder is self:
                continue
            find = getattr(finder, "find_spec", None)
            spec = find(fullname, path, target) if find is not None else None
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        run = getattr(loader, "exec_module", None)
        if run is None:
            return spec

        def exec_module(module):
            try:
                run(module)
            finally:
                loader.__dict__.pop("exec_module", None)
            if self in _sys.meta_path:
                _sys.meta_path.remove(self)
            try:
                _register_gym_envs(module)
            except Exception as err:  # noqa: BLE001 - never break the user's import
                import warnings

                warnings.warn(f"mintlab could not register its Gymnasium environments: {err}",
                              RuntimeWarning, stacklevel=2)

        try:
            loader.exec_module = exec_module
        except (AttributeError, TypeError):  # a loader that takes no attributes
            return spec
        return spec


if "gymnasium" in _sys.modules:
    _register_gym_envs(_sys.modules["gymnasium"])
elif not any(isinstance(f, _RegisterOnGymnasiumImport) for f in _sys.meta_path):
    _sys.meta_path.insert(0, _RegisterOnGymnasiumImport())
