"""POT's own published tests, run against :mod:`mintlab.pot`.

``tools/pot_tests.py`` (run at install time) extracts POT 0.9.7.post1's
``test/`` directory into ``.venv/share/pot-tests/``. Here a pytest
subprocess runs the POT tests listed in ``SELECTED`` with a small plugin
that rebinds POT's shared names (``ot.X``, ``ot.lp.X``, ``ot.sliced.X``,
``ot.partial.X``, ``ot.lp.solver_circle.X``) to the :mod:`mintlab.pot`
functions before collection, and provides the ``nx`` backend fixture and
``pytest.skip_backend`` that POT's tests expect from its conftest.
Substituted names are therefore what every selected test calls; POT's
internals keep their own bindings.

``SELECTED`` holds the POT tests that exercise the substituted names.
``LEFT_OUT`` lists the tests of those files that call them and are not run,
with the reason (a POT-only feature, or a POT behaviour we do not
reproduce, pinned by a test in ``test_pot_compat.py``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
POT_TESTS = Path(os.environ.get("MINTLAB_POT_TESTS", ROOT / ".venv" / "share" / "pot-tests"))

SELECTED = {
    "test_1d_solver.py": [
        "test_emd_1d_emd2_1d_with_weights",  # ot.emd with log=True against POT's emd_1d
        "test_wasserstein_1d",
        "test_wasserstein_1d_type_devices",
        "test_wasserstein_1d_plan",
        "test_emd_1d_emd2_1d",  # POT's emd_1d against ot.emd / ot.emd2
        "test_emd1d_type_devices",
        "test_emd1d_dual_with_weights",
    ],
    "test_circle_solver.py": [
        "test_wasserstein_1d_circle",
        "test_wasserstein1d_circle_devices",
        "test_wasserstein_1d_unif_circle",
        "test_wasserstein1d_unif_circle_devices",
        "test_binary_search_circle_log",
        "test_wasserstein_circle_bad_shape",
        "test_linear_circular_ot_devices",
        "test_linear_circular_ot_bad_shape",
        "test_linear_circular_ot_same_dist",
        "test_linear_circular_ot_different_dist",
        "test_linear_circular_embedding_shape",
        "test_linear_circular_ot_unif_circle",
    ],
    "test_partial.py": ["test_raise_errors", "test_partial_wasserstein_1d",
                        "test_partial_gromov_wasserstein"],
    "test_ot.py": [
        "test_emd_dimension_and_mass_mismatch",
        "test_emd_backends",
        "test_emd2_backends",
        "test_emd_emd2_types_devices",
        "test_emd2_gradients",
        "test_emd_emd2",
        "test_emd2_num_threads_compatibility",
        "test_emd_num_threads_deprecation_warning",
        "test_emd_empty",
        "test_emd2_multi",
        "test_warnings",
        "test_dual_variables",
        "test_emd__dual_warmstart",
        "test_north_west_mm_gluing",
        "test_north_west_mm_gluing_backends",
        "test_emd_lazy_warmstart",
        "test_emd2_lazy_returns_sparse_plan",
        "test_batch_center_ot_dual",
    ],
    "sliced/test_sliced_distances.py": [
        "test_get_random_projections",
        "test_sliced_same_dist",
        "test_sliced_bad_shapes",
        "test_sliced_log",
        "test_sliced_different_dists",
        "test_1d_sliced_equals_emd",
        "test_max_sliced_same_dist",
        "test_max_sliced_different_dists",
        "test_max_sliced_dim_check",
        "test_sliced_same_proj",
        "test_sliced_backend",
        "test_sliced_backend_type_devices",
        "test_max_sliced_backend",
        "test_max_sliced_backend_type_devices",
        "TestSlicedWassersteinScaler",
        "test_sliced_wasserstein_scaler_backend",
    ],
    "sliced/test_sliced_plans.py": [
        "test_sliced_permutations",
        "test_sliced_plans",
        "test_min_pivot_sliced",
        "test_expected_sliced",
        "test_sliced_plans_backends",
    ],
    "sliced/test_spherical_sliced.py": [
        "test_linear_sliced_sphere_same_dist",
        "test_linear_sliced_sphere_same_proj",
        "test_linear_sliced_sphere_bad_shapes",
        "test_linear_sliced_sphere_values_on_the_sphere",
        "test_linear_sliced_sphere_log",
        "test_linear_sliced_sphere_different_dists",
        "test_1d_linear_sliced_sphere_equals_emd",
        "test_linear_sliced_sphere_backend_type_devices",
        "test_1d_sliced_sphere_equals_emd",  # ot.binary_search_circle
        "test_sliced_sphere_log",
        "test_sliced_sphere_unif_log",
    ],
}

LEFT_OUT = {
    "test_ot.py::test_emd_sparse_vs_dense": "sparse cost matrices are POT-only",
    "test_ot.py::test_emd2_sparse_vs_dense": "sparse cost matrices are POT-only",
    "test_ot.py::test_emd2_sparse_gradients": "sparse cost matrices are POT-only",
    "test_ot.py::test_emd2_sparse_vs_dense_gradients": "sparse cost matrices are POT-only",
    "test_ot.py::test_emd_sparse_warmstart": "sparse cost matrices are POT-only",
    "sliced/test_spherical_sliced.py::test_projections_stiefel":
        "25 s inside POT's own sliced_wasserstein_sphere (not substituted); the frames of "
        "get_projections_sphere are checked by test_pot_compat.py",
    # the *_device_tf tests need TensorFlow, which is not installed (they would skip)
}

PLUGIN = textwrap.dedent('''
    """Rebind POT's shared names to mintlab.pot before POT's tests are collected."""
    import functools

    import pytest

    import ot
    import ot.lp
    import ot.lp.solver_circle
    import ot.partial
    import ot.sliced

    import mintlab.pot as mp

    _TOP = [n for n in mp.__all__ if n not in ("lp", "sliced", "partial", "POTInputError")]
    TARGETS = [(ot, mp, _TOP), (ot.lp, mp.lp, mp.lp.__all__),
               (ot.sliced, mp.sliced, mp.sliced.__all__),
               (ot.partial, mp.partial, mp.partial.__all__),
               (ot.lp.solver_circle, mp.lp,
                [n for n in mp.lp.__all__ if hasattr(ot.lp.solver_circle, n)])]
    for module, ours, names in TARGETS:
        for name in names:
            setattr(module, name, getattr(ours, name))


    def _skip_arg(arg, value, reason=None, getter=lambda x: x):
        """Skip a test when its keyword arguments ``arg`` take ``value`` (POT's helper)."""
        args = tuple(arg) if isinstance(arg, (tuple, list)) else (arg,)
        values = tuple(value) if len(args) > 1 and isinstance(value, (tuple, list)) else (value,)
        getters = list(getter) if isinstance(getter, (tuple, list)) else [getter] * len(args)
        reason = reason or f"Param {args} should be skipped for value {values}"

        def decorate(fn):
            @functools.wraps(fn)
            def run(*a, **kw):
                if all(k in kw and g(kw[k]) == v for k, v, g in zip(args, values, getters)):
                    pytest.skip(reason)
                return fn(*a, **kw)
            return run
        return decorate


    def pytest_configure(config):
        pytest.skip_arg = _skip_arg
        pytest.skip_backend = functools.partial(_skip_arg, "nx", getter=str)


    @pytest.fixture(params=ot.backend.get_backend_list())
    def nx(request):
        return request.param
''')


def _node_ids():
    ids = []
    for name, tests in SELECTED.items():
        if (POT_TESTS / name).exists():
            ids += [f"{name}::{t}" for t in tests]
    return ids


def test_selection_is_disjoint_from_left_out():
    chosen = {f"{f}::{t}" for f, ts in SELECTED.items() for t in ts}
    assert not chosen & set(LEFT_OUT)


def test_pot_own_tests_pass_against_mintlab_pot(tmp_path):
    if not POT_TESTS.is_dir():
        pytest.skip(f"POT's tests are not installed in {POT_TESTS}; run "
                    "`python tools/pot_tests.py` (the install step does)")
    ids = _node_ids()
    if not ids:
        pytest.skip(f"none of the selected POT test files is in {POT_TESTS}")
    missing = [f for f in SELECTED if not (POT_TESTS / f).exists()]
    (tmp_path / "_mintlab_pot_plugin.py").write_text(PLUGIN)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # not mintlab's own pytest settings
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(tmp_path), str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
        OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "_mintlab_pot_plugin", "--noconftest",
           "-p", "no:cacheprovider", "-c", str(tmp_path / "pytest.ini"), "--rootdir",
           str(POT_TESTS),
           "-W", "ignore::DeprecationWarning", *ids]
    proc = subprocess.run(cmd, cwd=POT_TESTS, env=env, capture_output=True, text=True,
                          timeout=600)
    tail = (proc.stdout + proc.stderr)[-6000:]
    assert proc.returncode == 0, f"POT's tests failed against mintlab.pot:\n{tail}"
    assert " passed" in proc.stdout, tail
    if missing:
        warnings.warn(f"POT test files not installed, not run: {missing} (see tools/pot_tests.py)",
                      UserWarning, stacklevel=1)
