"""Experiment, Result and Check: how a paper's claim is reproduced and judged."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Check", "Result", "Experiment"]

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    "<": operator.lt,
    ">=": operator.ge,
    ">": operator.gt,
}


@dataclass(frozen=True)
class Check:
    """One claim check: ``measured <op> threshold``.

    ``known_gap`` holds the reason when the paper's claim does not hold at our
    scale; such a check is still run and reported, but shown apart and not
    asserted by the experiment's test.
    """

    passed: bool
    measured: float
    threshold: float
    op: str = "<="
    known_gap: str | None = None
    description: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": bool(self.passed),
            "measured": _json_number(self.measured),
            "threshold": _json_number(self.threshold),
            "op": self.op,
            "known_gap": self.known_gap,
            "description": self.description,
        }


def _json_number(x: float) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


@dataclass
class Result:
    """What an experiment run produced.

    Attributes
    ----------
    metrics : dict[str, float]
        Named numbers measured in the run.
    checks : dict[str, Check]
        The claim checks, each against a baseline computed in the same run.
    figures : dict[str, matplotlib.figure.Figure]
        Figures, saved as ``<name>.png`` next to ``results.json``.
    """

    metrics: dict[str, float] = field(default_factory=dict)
    checks: dict[str, Check] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)

    def check(
        self,
        name: str,
        measured: float,
        threshold: float,
        op: str = "<=",
        *,
        known_gap: str | None = None,
        description: str = "",
    ) -> Check:
        """Record the check ``measured <op> threshold`` under ``name`` and return it."""
        if op not in _OPS:
            raise ValueError(f"op must be one of {sorted(_OPS)}, got {op!r}")
        measured = float(measured)
        threshold = float(threshold)
        passed = math.isfinite(measured) and _OPS[op](measured, threshold)
        c = Check(passed, measured, threshold, op, known_gap, description)
        self.checks[name] = c
        return c

    @property
    def failed_checks(self) -> list[str]:
        """Names of checks that failed and are not marked as a known gap."""
        return [k for k, c in self.checks.items() if not c.passed and c.known_gap is None]


@dataclass(frozen=True)
class Experiment:
    """A paper's claim reproduced at small scale.

    Parameters
    ----------
    slug : str
        The paper's slug (see ``mintlab list``).
    claim : str
        One sentence stating the paper's claim that the checks test.
    run : callable
        ``run(quick: bool, seed: int) -> Result``. ``quick=True`` must finish in
        well under a minute on two cores.
    """

    slug: str
    claim: str
    run: Callable[..., Result]
