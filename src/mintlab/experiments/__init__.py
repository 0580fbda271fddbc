"""Reproductions: one module per paper slug, each registering an :class:`Experiment`.

Each module states its paper's ``CLAIMS``, a frozen ``Settings`` dataclass with
``QUICK`` and ``FULL`` instances, the verdict ``EXPECTED`` in quick mode, and
``run(settings, seed) -> Result``. ``mintlab run SLUG`` runs one over its seeds;
``mintlab run --all --quick`` runs every experiment and writes ``report.html``
with a verdict per paper.
"""

from ._core import Check, Experiment, Result, Settings, Verdict, judge, merge_results
from .catalog import FAMILIES, PAPERS, Paper
from .registry import experiments, get_experiment, register, slugs, status
from .runner import RunRecord, run_experiments, run_seed, write_report

__all__ = [
    "Check",
    "Experiment",
    "Result",
    "Settings",
    "Verdict",
    "judge",
    "merge_results",
    "run_seed",
    "Paper",
    "PAPERS",
    "FAMILIES",
    "register",
    "get_experiment",
    "experiments",
    "slugs",
    "status",
    "RunRecord",
    "run_experiments",
    "write_report",
]
