"""Experiments, their settings, and how a paper's claims are judged.

An experiment measures one seed at a time: ``run(settings, seed) -> Result``.
Inside, every statement of the paper's abstract is tested either by
:meth:`Result.compare` (the method against the paper's baseline, on samples:
one value per seed or one per test item) or by :meth:`Result.check` (a
quantity with no baseline: an error bound, a correlation with an exact
solver). The runner then merges the results of all seeds
(:func:`merge_results`) and judges each comparison on the pooled samples: it
passes only if the whole 95% confidence interval of the difference clears
the margin, so a tie never passes. A claim holds when all its checks pass; the
paper's verdict counts the claims that hold (:func:`judge`).
"""

from __future__ import annotations

import dataclasses
import math
import operator
import re
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "Settings",
    "Check",
    "Result",
    "Experiment",
    "Verdict",
    "merge_results",
    "judge",
    "parse_verdict",
    "N_BOOTSTRAP",
]

#: bootstrap resamples for intervals over test items (fixed stream: same samples, same interval)
N_BOOTSTRAP = 2000
_LEVEL = 0.95

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    "<": operator.lt,
    ">=": operator.ge,
    ">": operator.gt,
}


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Every knob of an experiment that differs between its quick and full runs.

    Each experiment subclasses this (``@dataclass(frozen=True, kw_only=True)``)
    and defines two instances, ``QUICK`` and ``FULL``. ``seeds`` is how many
    seeds the runner measures; ``mintlab run --seeds N`` replaces it.
    """

    seeds: int = 3

    def __post_init__(self) -> None:
        if isinstance(self.seeds, bool) or not isinstance(self.seeds, int) or self.seeds < 1:
            raise ValueError(f"seeds must be a positive int, got {self.seeds!r}")

    def to_json(self) -> dict[str, Any]:
        return {k: _jsonable(v) for k, v in dataclasses.asdict(self).items()}


def _jsonable(v: Any) -> Any:
    if isinstance(v, bool | int | str) or v is None:
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else str(v)
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    return str(v)


# --------------------------------------------------------------------------- statistics


def _t_quantile(df: int) -> float:
    from scipy import stats

    return float(stats.t.ppf(0.5 + _LEVEL / 2, df))


def _t_interval(d: np.ndarray) -> tuple[float, float]:
    """Student-t 95% interval of the mean of ``d`` (needs two or more values)."""
    n = d.size
    if n < 2:
        return (math.nan, math.nan)
    m = float(d.mean())
    half = _t_quantile(n - 1) * float(d.std(ddof=1)) / math.sqrt(n)
    return (m - half, m + half)


def _welch_interval(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Welch 95% interval of ``mean(x) - mean(y)``."""
    if x.size < 2 or y.size < 2:
        return (math.nan, math.nan)
    vx, vy = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    se = math.sqrt(vx + vy)
    m = float(x.mean() - y.mean())
    if se == 0.0:
        return (m, m)
    df = (vx + vy) ** 2 / (vx**2 / (x.size - 1) + vy**2 / (y.size - 1))
    from scipy import stats

    half = float(stats.t.ppf(0.5 + _LEVEL / 2, df)) * se
    return (m - half, m + half)


def _group_bootstrap_means(values: np.ndarray, groups: np.ndarray,
                           rng: np.random.Generator) -> np.ndarray:
    """``N_BOOTSTRAP`` means of ``values`` resampled in two stages.

    First the groups (seeds) are resampled with replacement, when there are
    two or more; then the items within each chosen group. The spread thus holds
    both the seed-to-seed and the item-to-item variation.
    """
    keys = list(dict.fromkeys(groups.tolist()))
    B = N_BOOTSTRAP
    sums = np.empty((len(keys), B))
    counts = np.empty(len(keys))
    for g, key in enumerate(keys):
        v = values[groups == key]
        idx = rng.integers(0, v.size, size=(B, v.size))
        sums[g] = v[idx].sum(axis=1)
        counts[g] = v.size
    if len(keys) == 1:
        return sums[0] / counts[0]
    pick = rng.integers(0, len(keys), size=(B, len(keys)))
    total = sums[pick, np.arange(B)[:, None]].sum(axis=1)
    return total / counts[pick].sum(axis=1)


def _percentile_interval(boot: np.ndarray) -> tuple[float, float]:
    lo, hi = np.quantile(boot, [(1 - _LEVEL) / 2, (1 + _LEVEL) / 2])
    return (float(lo), float(hi))


# --------------------------------------------------------------------------- checks


@dataclass(frozen=True)
class Check:
    """One judged statement of a paper's claim.

    A *comparison* (``kind="compare"``) holds samples of the method
    (``ours``) and of the baseline, ``measured`` is the mean difference
    ``ours - baseline`` and ``interval`` its 95% confidence interval; it passes
    when the whole interval is above ``margin`` (``better="higher"``) or below
    ``-margin`` (``better="lower"``). A *check* (``kind="check"``) compares a
    quantity with ``threshold`` through ``op``: with samples per test item, the
    whole interval of their mean must satisfy it; with one value per seed,
    every seed must (``reduce="all"``) or the interval of the seeds' mean must
    (``reduce="mean"``).

    ``known_gap`` holds the reason when the claim does not hold at our scale;
    the claim is then reported as not reproduced, with that reason.
    """

    name: str
    claim: str
    kind: str
    passed: bool
    measured: float
    interval: tuple[float, float]
    n: int
    unit: str
    description: str = ""
    known_gap: str | None = None
    # comparisons
    better: str | None = None
    margin: float | None = None
    paired: bool | None = None
    ours_mean: float | None = None
    baseline_mean: float | None = None
    # checks
    op: str | None = None
    threshold: float | None = None
    reduce: str | None = None
    # raw samples and the seed of each, for merging and for results.json
    ours: tuple[float, ...] = ()
    baseline: tuple[float, ...] = ()
    seeds: tuple[int, ...] = ()
    # the known-gap text before it was filled, so pooled seeds can fill it again
    gap_template: str | None = None

    @property
    def rule(self) -> str:
        """The passing rule in words, e.g. ``"ours - baseline > 0.02"``."""
        if self.kind == "compare":
            if self.better == "higher":
                return f"ours - baseline > {_fmt(self.margin)}"
            return f"ours - baseline < {_fmt(-self.margin) if self.margin else '0'}"
        target = "mean" if self.unit == "item" or self.reduce == "mean" else "every seed"
        return f"{target} {self.op} {_fmt(self.threshold)}"

    def to_json(self, *, samples: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "claim": self.claim,
            "kind": self.kind,
            "passed": bool(self.passed),
            "measured": _json_number(self.measured),
            "interval": [_json_number(self.interval[0]), _json_number(self.interval[1])],
            "n": self.n,
            "unit": self.unit,
            "rule": self.rule,
            "known_gap": self.known_gap,
            "description": self.description,
        }
        if self.kind == "compare":
            out.update(better=self.better, margin=self.margin, paired=self.paired,
                       ours_mean=_json_number(self.ours_mean),
                       baseline_mean=_json_number(self.baseline_mean))
        else:
            out.update(op=self.op, threshold=_json_number(self.threshold), reduce=self.reduce)
        if samples:
            out["gap_template"] = self.gap_template
            out["samples"] = {
                "ours": [_json_number(v) for v in self.ours],
                **({"baseline": [_json_number(v) for v in self.baseline]}
                   if self.kind == "compare" else {}),
                "seed": list(self.seeds),
            }
        return out


    @classmethod
    def from_json(cls, name: str, d: Mapping[str, Any]) -> Check:
        """Rebuild a check from :meth:`to_json` (with samples), judging it again."""
        samples = d["samples"]
        ours = np.asarray([math.nan if v is None else v for v in samples["ours"]], float)
        base = np.asarray([math.nan if v is None else v for v in samples.get("baseline", [])],
                          float)
        seeds = np.asarray(samples["seed"], dtype=np.int64)
        if d["kind"] == "compare":
            return _judge_compare(name, d["claim"], ours, base, seeds, d["unit"],
                                  better=d["better"], margin=float(d["margin"]),
                                  paired=bool(d["paired"]), description=d["description"],
                                  known_gap=d.get("gap_template"))
        return _judge_check(name, d["claim"], ours, seeds, d["unit"],
                            threshold=float(d["threshold"]), op=d["op"], reduce=d["reduce"],
                            description=d["description"], known_gap=d.get("gap_template"))


def _json_number(x: float | None) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _fmt(v: float | None) -> str:
    if v is None:
        return "n/a"
    v = float(v)
    if not math.isfinite(v):
        return str(v)
    return f"{v:.4g}"


def _as_samples(x: Any, what: str) -> tuple[np.ndarray, str]:
    """``(values, unit)``: a scalar is one value for the seed, an array one per item.

    NaN and infinite samples are accepted: a check on them fails (a diverged
    method is a result, not a usage error). A bool counts as 1.0 or 0.0.
    """
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch tensor
        t = x.detach().cpu()
        x = (t.float() if str(t.dtype) == "torch.bfloat16" else t).numpy()
    if isinstance(x, (str, bytes)) or x is None:
        raise TypeError(f"{what} must be a number or a 1D array of samples, got "
                        f"{type(x).__name__}")
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be a number or a 1D array of numbers, got "
                        f"{type(x).__name__}") from None
    if arr.ndim == 0:
        return arr.reshape(1), "seed"
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{what} must be a number or a non-empty 1D array of samples, "
                         f"got shape {arr.shape}")
    return arr, "item"


class _GapFields(string.Formatter):
    """Formats a known-gap template; unknown fields raise a clear error."""

    def get_value(self, key, args, kwargs):  # noqa: D102
        if isinstance(key, str) and key not in kwargs:
            raise KeyError(f"known_gap refers to {{{key}}}, which is not one of {sorted(kwargs)}")
        return super().get_value(key, args, kwargs)


def _fill_gap(template: str | None, fields: Mapping[str, Any]) -> str | None:
    """Fill ``{ours}``, ``{baseline}``, ``{diff}``, ``{low}``, ``{high}``... from the run."""
    if template is None:
        return None
    return _GapFields().format(template, **fields)


def _judge_compare(name: str, claim: str, ours: np.ndarray, base: np.ndarray,
                   seeds: np.ndarray, unit: str, *, better: str, margin: float, paired: bool,
                   description: str, known_gap: str | None) -> Check:
    rng = np.random.default_rng(20_241_207)
    finite = bool(np.isfinite(ours).all() and np.isfinite(base).all())
    if unit == "seed":
        n = ours.size
        interval = (_t_interval(ours - base) if paired else _welch_interval(ours, base)) \
            if finite else (math.nan, math.nan)
    else:
        n = ours.size if paired else min(ours.size, base.size)
        if not finite:
            interval = (math.nan, math.nan)
        elif paired:
            interval = _percentile_interval(_group_bootstrap_means(ours - base, seeds, rng))
        else:
            # unpaired items: ``seeds`` labels ``ours`` followed by ``base``
            s_o, s_b = seeds[: ours.size], seeds[ours.size:]
            boot = (_group_bootstrap_means(ours, s_o, rng)
                    - _group_bootstrap_means(base, s_b, rng))
            interval = _percentile_interval(boot)
    measured = float(ours.mean() - base.mean())
    lo, hi = interval
    if better == "higher":
        passed = math.isfinite(lo) and lo > margin
    else:
        passed = math.isfinite(hi) and hi < -margin
    fields = dict(ours=float(ours.mean()), baseline=float(base.mean()), diff=measured,
                  low=lo, high=hi, n=n, margin=margin)
    return Check(name, claim, "compare", bool(passed), measured, (lo, hi), int(n), unit,
                 description, _fill_gap(known_gap, fields), better=better, margin=float(margin),
                 paired=paired, ours_mean=float(ours.mean()), baseline_mean=float(base.mean()),
                 ours=tuple(ours.tolist()), baseline=tuple(base.tolist()),
                 seeds=tuple(int(s) for s in seeds), gap_template=known_gap)


def _judge_check(name: str, claim: str, values: np.ndarray, seeds: np.ndarray, unit: str, *,
                 threshold: float, op: str, reduce: str, description: str,
                 known_gap: str | None) -> Check:
    rng = np.random.default_rng(20_241_207)
    finite = bool(np.isfinite(values).all())
    measured = float(values.mean())
    cmp = _OPS[op]
    if unit == "item":
        interval = (_percentile_interval(_group_bootstrap_means(values, seeds, rng))
                    if finite else (math.nan, math.nan))
        lo, hi = interval
        passed = finite and cmp(lo, threshold) and cmp(hi, threshold)
    elif reduce == "mean":
        interval = _t_interval(values) if finite else (math.nan, math.nan)
        lo, hi = interval
        passed = finite and math.isfinite(lo) and cmp(lo, threshold) and cmp(hi, threshold)
    else:  # every seed must satisfy it; the interval shown is the seeds' range
        interval = (float(values.min()), float(values.max())) if finite else (math.nan, math.nan)
        lo, hi = interval
        passed = finite and all(cmp(float(v), threshold) for v in values)
    fields = dict(measured=measured, low=lo, high=hi, n=values.size, threshold=threshold,
                  worst=(float(values.max()) if op in ("<", "<=") else float(values.min())))
    return Check(name, claim, "check", bool(passed), measured, (lo, hi), int(values.size), unit,
                 description, _fill_gap(known_gap, fields), op=op, threshold=float(threshold),
                 reduce=reduce, ours=tuple(values.tolist()), seeds=tuple(int(s) for s in seeds),
                 gap_template=known_gap)


def _check_name(name: Any, claim: Any) -> None:
    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]+", name):
        raise ValueError(f"name must be a snake_case string, got {name!r}")
    if not isinstance(claim, str) or not claim:
        raise ValueError(f"claim must name one of the experiment's CLAIMS, got {claim!r}")


def _check_real(value: Any, name: str, *, nonneg: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number, got {v}")
    if nonneg and v < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {v}")
    return v


def _check_text(value: Any, name: str, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string{' or None' if optional else ''}, got "
                        f"{type(value).__name__}")


# --------------------------------------------------------------------------- results


@dataclass
class Result:
    """What one seed of an experiment measured.

    Attributes
    ----------
    metrics : dict[str, float]
        Named numbers measured in the run (averaged over seeds when merged).
    checks : dict[str, Check]
        The judged statements, each naming the claim it tests.
    figures : dict[str, matplotlib.figure.Figure]
        Figures, saved as ``<name>.png`` next to ``results.json`` (those of the
        first seed).
    seed : int
        The seed the samples were measured with.
    """

    metrics: dict[str, float] = field(default_factory=dict)
    checks: dict[str, Check] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    per_seed_metrics: dict[str, list[float]] = field(default_factory=dict)

    def compare(
        self,
        name: str,
        ours: Any,
        baseline: Any,
        *,
        claim: str,
        better: str = "higher",
        margin: float = 0.0,
        paired: bool = True,
        description: str = "",
        known_gap: str | None = None,
    ) -> Check:
        """Judge "the method beats the baseline" on samples.

        Parameters
        ----------
        name : str
            Snake-case name of the comparison.
        ours, baseline : float or array of shape (n,)
            A number is this seed's one value (the runner pools seeds and uses a
            t interval over them); an array holds one value per test item
            (paired bootstrap over items, and over seeds once pooled).
        claim : str
            The key in the experiment's ``CLAIMS`` this comparison tests.
        better : {"higher", "lower"}
            Which direction favours the method.
        margin : float
            The difference the whole interval must clear (``>= 0``). A tie
            never passes, even with ``margin=0``.
        paired : bool
            Whether ``ours[i]`` and ``baseline[i]`` are measured on the same
            item or seed. Unpaired samples may differ in length.
        known_gap : str, optional
            Why the claim does not hold at our scale. A template filled from
            this comparison's numbers: ``{ours}``, ``{baseline}``, ``{diff}``,
            ``{low}``, ``{high}``, ``{n}``, ``{margin}``.
        """
        _check_name(name, claim)
        if better not in ("higher", "lower"):
            raise ValueError(f"better must be 'higher' or 'lower', got {better!r}")
        margin = _check_real(margin, "margin", nonneg=True)
        if not isinstance(paired, bool):
            raise TypeError(f"paired must be a bool, got {type(paired).__name__}")
        _check_text(description, "description")
        _check_text(known_gap, "known_gap", optional=True)
        o, unit_o = _as_samples(ours, "ours")
        b, unit_b = _as_samples(baseline, "baseline")
        if unit_o != unit_b:
            raise ValueError("ours and baseline must both be numbers (one per seed) or both "
                             f"arrays (one per item), got {unit_o} and {unit_b}")
        if paired and o.size != b.size:
            raise ValueError(f"paired samples must have equal length, got ours {o.size} and "
                             f"baseline {b.size}")
        seeds = np.full(o.size + (0 if paired else b.size), self.seed)
        c = _judge_compare(name, claim, o, b, seeds, unit_o, better=better, margin=margin,
                           paired=paired, description=description, known_gap=known_gap)
        self.checks[name] = c
        return c

    def check(
        self,
        name: str,
        measured: Any,
        threshold: float,
        op: str = "<=",
        *,
        claim: str,
        reduce: str = "all",
        description: str = "",
        known_gap: str | None = None,
    ) -> Check:
        """Judge a quantity that has no baseline: ``measured <op> threshold``.

        Parameters
        ----------
        measured : float or array of shape (n,)
            A number for this seed, or one value per test item (then the whole
            95% bootstrap interval of their mean must satisfy the rule).
        reduce : {"all", "mean"}
            For one number per seed: every seed must satisfy the rule
            (``"all"``: bounds and worst cases), or the t interval of the seeds'
            mean must (``"mean"``: averages).
        known_gap : str, optional
            Template filled with ``{measured}``, ``{low}``, ``{high}``,
            ``{worst}``, ``{n}``, ``{threshold}``.
        """
        _check_name(name, claim)
        if op not in _OPS:
            raise ValueError(f"op must be one of {sorted(_OPS)}, got {op!r}")
        if reduce not in ("all", "mean"):
            raise ValueError(f"reduce must be 'all' or 'mean', got {reduce!r}")
        values, unit = _as_samples(measured, "measured")
        threshold = _check_real(threshold, "threshold")
        _check_text(description, "description")
        _check_text(known_gap, "known_gap", optional=True)
        seeds = np.full(values.size, self.seed)
        c = _judge_check(name, claim, values, seeds, unit, threshold=threshold, op=op,
                         reduce=reduce, description=description, known_gap=known_gap)
        self.checks[name] = c
        return c

    @property
    def failed_checks(self) -> list[str]:
        """Names of checks that failed and are not marked as a known gap."""
        return [k for k, c in self.checks.items() if not c.passed and c.known_gap is None]


def _rejudge(c: Check, ours: np.ndarray, base: np.ndarray, seeds: np.ndarray) -> Check:
    if c.kind == "compare":
        assert c.better is not None and c.margin is not None and c.paired is not None
        return _judge_compare(c.name, c.claim, ours, base, seeds, c.unit, better=c.better,
                              margin=c.margin, paired=c.paired, description=c.description,
                              known_gap=c.gap_template)
    assert c.threshold is not None and c.op is not None and c.reduce is not None
    return _judge_check(c.name, c.claim, ours, seeds, c.unit, threshold=c.threshold, op=c.op,
                        reduce=c.reduce, description=c.description, known_gap=c.gap_template)


def merge_results(results: Sequence[Result]) -> Result:
    """Pool the samples of several seeds' results and judge every check again.

    Checks are matched by name and must agree in kind, claim and rule in every
    seed. Metrics are averaged over the seeds that report them (the per-seed
    values are kept in ``per_seed_metrics``). Figures come from the first
    result. Known-gap reasons are filled again from the pooled numbers.
    """
    if isinstance(results, (str, bytes)) or not isinstance(results, Sequence):
        raise TypeError(f"results must be a list of Result, got {type(results).__name__}")
    if not results:
        raise ValueError("results must hold at least one Result")
    for i, r in enumerate(results):
        if not isinstance(r, Result):
            raise TypeError(f"results[{i}] must be a Result, got {type(r).__name__}")
    names = list(dict.fromkeys(k for r in results for k in r.checks))
    merged = Result(figures=dict(results[0].figures), seed=results[0].seed)
    for name in names:
        parts = [r.checks[name] for r in results if name in r.checks]
        first = parts[0]
        for c in parts[1:]:
            same = (c.kind, c.claim, c.unit, c.better, c.margin, c.paired, c.op, c.threshold,
                    c.reduce, c.gap_template) == (first.kind, first.claim, first.unit,
                                                  first.better, first.margin, first.paired,
                                                  first.op, first.threshold, first.reduce,
                                                  first.gap_template)
            if not same:
                raise ValueError(f"check {name!r} is judged differently in different seeds")
        if first.kind == "compare" and not first.paired:
            # keep ours' samples before the baseline's in the seed labels
            ours = np.concatenate([np.asarray(c.ours) for c in parts])
            base = np.concatenate([np.asarray(c.baseline) for c in parts])
            seeds = np.concatenate([np.asarray(c.seeds[: len(c.ours)]) for c in parts]
                                   + [np.asarray(c.seeds[len(c.ours):]) for c in parts])
        else:
            ours = np.concatenate([np.asarray(c.ours) for c in parts])
            base = np.concatenate([np.asarray(c.baseline) for c in parts])
            seeds = np.concatenate([np.asarray(c.seeds) for c in parts])
        merged.checks[name] = _rejudge(first, ours, base, seeds)
    keys = list(dict.fromkeys(k for r in results for k in r.metrics))
    for k in keys:
        vals = [r.metrics[k] for r in results if k in r.metrics]
        try:
            nums = [float(v) for v in vals]
        except (TypeError, ValueError):
            merged.metrics[k] = vals[0]
            continue
        merged.per_seed_metrics[k] = nums
        merged.metrics[k] = float(np.mean(nums))
    return merged


# --------------------------------------------------------------------------- verdicts

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced at this scale"
_PARTLY = re.compile(r"partly reproduced \((\d+) of (\d+)\)")


@dataclass(frozen=True)
class Verdict:
    """How many of a paper's claims hold."""

    held: int
    total: int
    claims: dict[str, bool]

    def __post_init__(self) -> None:
        for name in ("held", "total"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{name} must be an int >= 0, got {v!r}")
        if self.held > self.total:
            raise ValueError(f"held must be <= total ({self.total}), got {self.held}")
        if not isinstance(self.claims, Mapping):
            raise TypeError(f"claims must be a dict claim -> holds, got "
                            f"{type(self.claims).__name__}")

    @property
    def label(self) -> str:
        if self.total and self.held == self.total:
            return REPRODUCED
        if self.held == 0:
            return NOT_REPRODUCED
        return f"partly reproduced ({self.held} of {self.total})"

    @property
    def rank(self) -> float:
        """Fraction of claims that hold, for sorting."""
        return self.held / self.total if self.total else 0.0


def parse_verdict(label: str, n_claims: int, name: str = "verdict") -> int:
    """The number of claims that hold in a verdict ``label`` (``name`` is its argument's name,
    for the messages)."""
    if not isinstance(label, str):
        raise TypeError(f"{name} must be a verdict string, got {type(label).__name__}")
    if label == REPRODUCED:
        return n_claims
    if label == NOT_REPRODUCED:
        return 0
    m = _PARTLY.fullmatch(label)
    if m is None:
        raise ValueError(f"{name} must be {REPRODUCED!r}, 'partly reproduced (k of n)' or "
                         f"{NOT_REPRODUCED!r}, got {label!r}")
    k, n = int(m.group(1)), int(m.group(2))
    if n != n_claims or not 0 < k < n:
        raise ValueError(f"{name} {label!r} does not fit {n_claims} claims")
    return k


def judge(claims: Mapping[str, str], result: Result) -> Verdict:
    """A claim holds when it has checks and all of them pass."""
    if not isinstance(claims, Mapping) or not claims:
        raise TypeError(f"claims must be a non-empty dict of short name -> sentence, got "
                        f"{type(claims).__name__}")
    if not isinstance(result, Result):
        raise TypeError(f"result must be a Result, got {type(result).__name__}")
    unknown = sorted({c.claim for c in result.checks.values()} - set(claims))
    if unknown:
        raise ValueError(f"checks name claims that are not in CLAIMS: {unknown}")
    holds = {}
    for key in claims:
        mine = [c for c in result.checks.values() if c.claim == key]
        holds[key] = bool(mine) and all(c.passed for c in mine)
    return Verdict(sum(holds.values()), len(claims), holds)


# --------------------------------------------------------------------------- experiments


@dataclass(frozen=True)
class Experiment:
    """A paper's claims reproduced at small scale.

    Parameters
    ----------
    slug : str
        The paper's slug (see ``mintlab list``).
    claims : dict[str, str]
        Short name -> one sentence of the abstract. Every check names one.
    run : callable
        ``run(settings, seed) -> Result``: measures one seed.
    quick, full : Settings
        The two settings: ``quick`` fits the demo budget, ``full`` is what the
        claim deserves.
    expected : str
        The verdict ``quick`` reaches at the committed settings; a run that
        falls below it exits with status 1.
    data : str
        The data or model the claims are tested on ("synthetic" when procedural).
    full_scale : str
        What a run at the paper's own scale would need.
    """

    slug: str
    claims: Mapping[str, str]
    run: Callable[..., Result]
    quick: Settings
    full: Settings
    expected: str
    data: str = "synthetic"
    full_scale: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.slug, str) or not re.fullmatch(r"[a-z0-9][a-z0-9-]*", self.slug):
            raise ValueError(f"slug must be a lower-case, hyphenated string, got {self.slug!r}")
        if not callable(self.run):
            raise TypeError(f"{self.slug}: run must be callable (settings, seed) -> Result, got "
                            f"{type(self.run).__name__}")
        for text in ("data", "full_scale"):
            if not isinstance(getattr(self, text), str):
                raise TypeError(f"{self.slug}: {text} must be a string, got "
                                f"{type(getattr(self, text)).__name__}")
        if not isinstance(self.claims, Mapping) or not self.claims:
            raise ValueError(f"{self.slug}: claims must be a non-empty dict of short name -> "
                             f"sentence, got {self.claims!r}")
        for key in self.claims:
            if not re.fullmatch(r"[a-z0-9_]+", key):
                raise ValueError(f"{self.slug}: claim names must be snake_case, got {key!r}")
        for which in ("quick", "full"):
            s = getattr(self, which)
            if not isinstance(s, Settings):
                raise TypeError(f"{self.slug}: {which} must be a Settings instance, got "
                                f"{type(s).__name__}")
        parse_verdict(self.expected, len(self.claims), "expected")

    @property
    def claim(self) -> str:
        """The claims in one paragraph."""
        return " ".join(self.claims.values())

    def settings(self, mode: str) -> Settings:
        """``QUICK`` or ``FULL`` by name."""
        if not isinstance(mode, str) or mode not in ("quick", "full"):
            raise ValueError(f"mode must be 'quick' or 'full', got {mode!r}")
        return self.quick if mode == "quick" else self.full
