"""Every experiment's quick run reaches the verdict its module declares.

Each module declares its paper's ``CLAIMS`` and the verdict ``EXPECTED`` in
quick mode; this test runs the quick settings over all their seeds, exactly as
``mintlab run SLUG --quick`` does, and fails when a paper falls below its
expected verdict, when a check names no declared claim, or when a claim has no
check. A paper that rises above it passes with a warning that names it, so
the gain is seen and ``EXPECTED`` can be raised.
"""

import importlib
import warnings

import pytest

from mintlab.experiments import PAPERS, experiments, get_experiment, run_experiments
from mintlab.experiments._core import parse_verdict


def test_every_paper_has_an_experiment_with_declared_claims():
    assert set(experiments()) == {p.slug for p in PAPERS}
    for slug, exp in experiments().items():
        mod = importlib.import_module(f"mintlab.experiments.{slug.replace('-', '_')}")
        assert mod.CLAIMS is exp.claims, slug
        assert mod.QUICK is exp.quick and mod.FULL is exp.full, slug
        assert mod.EXPECTED == exp.expected, slug
        assert exp.full.seeds >= 3, f"{slug}: full mode needs at least 3 seeds"
        parse_verdict(exp.expected, len(exp.claims))


# one xdist worker runs the experiments and the Dask-cluster tests one after another, so the
# experiments' timing checks never share the cores with a cluster's worker processes
@pytest.mark.xdist_group("heavy")
@pytest.mark.parametrize("slug", [p.slug for p in PAPERS])
def test_quick_run_reaches_expected_verdict(slug, tmp_path):
    exp = get_experiment(slug)
    # one thread for torch, numba and BLAS, as `mintlab run --threads 1`: two test workers
    # share two cores
    (rec,) = run_experiments([slug], tmp_path, mode="quick", threads=1)
    assert rec.error is None, rec.error
    assert rec.verdict is not None
    for key in exp.claims:
        assert any(c.claim == key for c in rec.result.checks.values()), \
            f"claim {key!r} has no check"
    assert rec.change != "below", (
        f"{slug}: {rec.status}, expected {exp.expected}; claims: {rec.verdict.claims}; "
        + "; ".join(f"{k}: {c.measured:.4g} {c.interval} ({c.rule})"
                    for k, c in rec.result.checks.items() if not c.passed))
    if rec.change == "above":
        warnings.warn(f"{slug}: {rec.status}, above the expected {exp.expected}: raise EXPECTED",
                      stacklevel=1)
    assert rec.figure_files
