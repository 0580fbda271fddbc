"""Reproductions: one module per paper slug, each registering an :class:`Experiment`.

``mintlab run SLUG`` runs one; ``mintlab run --all --quick`` runs every
implemented experiment and writes ``report.html``.
"""

from ._core import Check, Experiment, Result
from .catalog import FAMILIES, PAPERS, Paper
from .registry import experiments, get_experiment, register, slugs, status
from .runner import RunRecord, run_experiments, write_report

__all__ = [
    "Check",
    "Experiment",
    "Result",
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
