"""Run experiments over seeds, judge them, write ``results.json``, figures and a report.

The unit of work is one (paper, seed) task (:func:`run_seed`). Tasks run one
after another in this process, or in parallel on a Dask cluster
(``workers=N`` starts a local one, ``scheduler=ADDRESS`` uses an existing
one). Each finished task is written to ``<out>/<slug>/seeds/seed-<s>.json``
as it arrives, so an interrupted run resumes where it stopped
(``resume=True``). When all seeds of a paper are in, their samples are
pooled and judged (:func:`~mintlab.experiments._core.merge_results`), the
paper gets its verdict, and one report covers every paper.

Python warnings raised inside a task (a solver that did not converge, an
infeasible LP) are not printed: they are counted per (paper, seed), stored with
the task's outcome and the paper's record, and shown in that paper's section of
the report (:func:`warning_summary` gives one line per paper). Two runs are
compared with :func:`compare_runs`.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import html
import io
import json
import math
import numbers
import re
import time
import traceback
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._artifacts import atomic_write, read_json, require_keys
from ..errors import ArtifactError
from ._core import (
    NOT_REPRODUCED,
    REPRODUCED,
    Check,
    Experiment,
    Result,
    Settings,
    Verdict,
    judge,
    merge_results,
    parse_verdict,
)
from .registry import UnknownExperimentError, get_experiment, paper

__all__ = ["RunRecord", "SeedOutcome", "run_seed", "run_experiments", "write_report",
           "summary_rows", "seed_list", "load_records", "markdown_summary", "export_records",
           "warning_summary", "claim_status", "PaperChange", "compare_runs", "comparison_text"]


def seed_list(base_seed: int, n: int) -> list[int]:
    """The seeds of a run: ``base_seed``, ``base_seed + 1``, ... (``n`` of them)."""
    if isinstance(base_seed, bool) or not isinstance(base_seed, int) or base_seed < 0:
        raise ValueError(f"base_seed must be a non-negative int, got {base_seed!r}")
    return [base_seed + i for i in range(n)]


def _write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (a temporary file renamed into place)."""
    with atomic_write(path, "w") as f:
        f.write(text)


def _write_bytes(path: Path, data: bytes) -> None:
    with atomic_write(path, "wb") as f:
        f.write(data)


def _check_optional_int(value: Any, name: str, minimum: int) -> int | None:
    """``value`` as an int (any integer type but bool), or None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int or None, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _check_flag(value: Any, name: str) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")


def _check_slug_known(slug: Any, name: str = "slug") -> Experiment:
    """The experiment of ``slug``; ``ValueError`` / ``TypeError`` naming ``name`` otherwise."""
    if not isinstance(slug, str):
        raise TypeError(f"{name} must hold paper slugs (strings), got {type(slug).__name__}")
    try:
        return get_experiment(slug)
    except UnknownExperimentError as err:
        raise UnknownExperimentError(f"{name}: {err}") from None


# --------------------------------------------------------------------------- warnings

#: distinct warnings itemised per task; further kinds are counted together
_MAX_WARNING_KINDS = 25
_MAX_WARNING_CHARS = 400


def _short_path(filename: str) -> str:
    """``filename`` without the machine's own prefix (site-packages, the checkout)."""
    f = str(filename).replace("\\", "/")
    for marker in ("/site-packages/", "/dist-packages/"):
        if marker in f:
            return f.split(marker, 1)[1]
    i = f.rfind("/mintlab/")
    if i >= 0:
        return f[i + 1:]
    return "/".join(f.split("/")[-2:])


class _WarningLog:
    """Counts the Python warnings raised inside a ``with`` block instead of printing them.

    The filters in force are kept (an ``error`` filter still raises, an
    ``ignore`` still ignores); only warnings no filter decides on are counted
    every time rather than once per location. Each distinct (category,
    message, location) is one entry with its count.
    """

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.other = 0
        self._cm: Any = None

    def _show(self, message, category, filename, lineno, file=None, line=None) -> None:
        text = str(message).strip()
        if len(text) > _MAX_WARNING_CHARS:
            text = text[:_MAX_WARNING_CHARS - 3] + "..."
        where = f"{_short_path(filename)}:{lineno}"
        key = (getattr(category, "__name__", str(category)), text, where)
        entry = self.entries.get(key)
        if entry is None and len(self.entries) >= _MAX_WARNING_KINDS:
            # a message that varies (an iteration number) counts with its location's first
            entry = next((e for (c, _, w), e in self.entries.items()
                          if c == key[0] and w == where), None)
            if entry is None:
                self.other += 1
                return
        if entry is None:
            entry = self.entries[key] = {"category": key[0], "message": text, "where": where,
                                         "count": 0}
        entry["count"] += 1

    def __enter__(self) -> _WarningLog:
        self._cm = warnings.catch_warnings()
        self._cm.__enter__()
        warnings.simplefilter("always", append=True)
        warnings.showwarning = self._show
        return self

    def __exit__(self, *exc: Any) -> None:
        self._cm.__exit__(*exc)

    def as_list(self) -> list[dict[str, Any]]:
        out = [dict(e) for e in self.entries.values()]
        if self.other:
            out.append({"category": "Warning", "message": "further warnings of other kinds",
                        "where": "", "count": self.other})
        return out


def _merge_warnings(lists: Iterable[tuple[int | str, list[dict[str, Any]]]]
                    ) -> list[dict[str, Any]]:
    """Pool warnings: one entry per (category, message, location), most frequent first.

    Each element of ``lists`` is ``(seed, warnings)`` for a task, or
    ``(stage, warnings)`` for what ran outside the tasks (``"loading"`` the
    experiment's module, ``"pooling"`` its seeds); an entry lists the seeds
    that raised it and, only when there are any, the stages.
    """
    merged: dict[tuple[str, str, str], dict[str, Any]] = {}
    for origin, items in lists:
        for w in items:
            key = (str(w.get("category", "Warning")), str(w.get("message", "")),
                   str(w.get("where", "")))
            m = merged.setdefault(key, {"category": key[0], "message": key[1], "where": key[2],
                                        "count": 0, "seeds": []})
            m["count"] += int(w.get("count", 1))
            if isinstance(origin, str):
                if origin not in m.setdefault("stages", []):
                    m["stages"].append(origin)
            elif origin not in m["seeds"]:
                m["seeds"].append(origin)
    return sorted(merged.values(), key=lambda m: -m["count"])


# --------------------------------------------------------------------------- one task


@dataclass
class SeedOutcome:
    """What one (paper, seed) task returned: plain data, so it travels between processes."""

    slug: str
    seed: int
    seconds: float
    metrics: dict[str, Any] = field(default_factory=dict)
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)
    figures: dict[str, bytes] = field(default_factory=dict)
    error: str | None = None
    #: the warnings the task raised: ``{"category", "message", "where", "count"}`` each
    warnings: list[dict[str, Any]] = field(default_factory=list)

    def result(self) -> Result:
        checks = {k: Check.from_json(k, d) for k, d in self.checks.items()}
        return Result(metrics=dict(self.metrics), checks=checks, seed=self.seed)

    def to_json(self) -> dict[str, Any]:
        return {"slug": self.slug, "seed": self.seed, "seconds": round(self.seconds, 3),
                "metrics": {k: _num(v) for k, v in self.metrics.items()},
                "checks": self.checks, "error": self.error, "warnings": self.warnings}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SeedOutcome:
        return cls(d["slug"], int(d["seed"]), float(d["seconds"]), dict(d["metrics"]),
                   dict(d["checks"]), {}, d.get("error"), list(d.get("warnings") or []))


def run_seed(slug: str, settings: Settings, seed: int, *, figures: bool = True,
             threads: int | None = None) -> SeedOutcome:
    """Run one seed of ``slug`` at ``settings``; never raises (the error is recorded).

    Figures are rendered to PNG bytes when ``figures`` is true and closed
    otherwise. ``threads`` pins torch's intra-op threads, numba's and the BLAS /
    OpenMP pools (threadpoolctl) for the task: results are identical between two runs
    only at equal thread counts, and small models run faster on one thread when
    the cores are shared.

    The Python warnings the task raises are counted into the outcome's
    ``warnings`` instead of being printed (the filters in force still apply).

    Invalid arguments (an unknown ``slug``, ``settings`` that are not a
    :class:`Settings`, a negative ``seed``) raise ``ValueError`` / ``TypeError``
    before anything runs; only what fails inside the experiment is recorded.
    """
    _check_slug_known(slug)
    if not isinstance(settings, Settings):
        raise TypeError(f"settings must be a Settings instance (an experiment's QUICK or FULL), "
                        f"got {type(settings).__name__}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be a non-negative int, got {type(seed).__name__}")
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed}")
    _check_flag(figures, "figures")
    threads = _check_optional_int(threads, "threads", 1)
    log = _WarningLog()
    with log:
        outcome = _run_seed_pinned(slug, settings, seed, figures, threads)
    outcome.warnings = log.as_list()
    return outcome


def _run_seed_pinned(slug: str, settings: Settings, seed: int, figures: bool,
                     threads: int | None) -> SeedOutcome:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import torch

    old_threads = torch.get_num_threads()
    pools: Any = contextlib.nullcontext()
    old_numba = None
    if threads is not None:
        import numba
        from threadpoolctl import threadpool_limits

        # numba first: its first call starts its OpenMP layer, which resets the
        # OpenMP thread count torch would otherwise just have been given
        old_numba = numba.get_num_threads()
        # numba.config's attributes are set at import time, unknown to the type checker
        n_max = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]
        numba.set_num_threads(min(int(threads), n_max))
        torch.set_num_threads(int(threads))
        pools = threadpool_limits(int(threads))
    t0 = time.perf_counter()
    try:
        with pools:
            return _run_seed(slug, settings, seed, figures, t0)
    finally:
        if threads is not None:
            torch.set_num_threads(old_threads)
        if old_numba is not None:
            import numba

            numba.set_num_threads(old_numba)


def _run_seed(slug: str, settings: Settings, seed: int, figures: bool, t0: float) -> SeedOutcome:
    import matplotlib.pyplot as plt

    try:
        exp = get_experiment(slug)
        result = exp.run(settings, seed)
        if not isinstance(result, Result):
            raise TypeError(f"run() must return a Result, got {type(result).__name__}")
        judge(exp.claims, result)  # every check names a declared claim
        pngs: dict[str, bytes] = {}
        for name, fig in result.figures.items():
            if figures:
                buf = io.BytesIO()
                fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
                pngs[name] = buf.getvalue()
            plt.close(fig)
        return SeedOutcome(slug, seed, time.perf_counter() - t0, dict(result.metrics),
                           {k: c.to_json() for k, c in result.checks.items()}, pngs)
    except Exception:  # noqa: BLE001 - a crash is reported, not fatal to the other tasks
        plt.close("all")
        return SeedOutcome(slug, seed, time.perf_counter() - t0, error=traceback.format_exc())


# --------------------------------------------------------------------------- one paper


@dataclass
class RunRecord:
    """The judged outcome of one paper over all its seeds."""

    slug: str
    mode: str
    seeds: list[int]
    seconds: float
    claims: dict[str, str]
    expected: str
    settings: dict[str, Any]
    data: str = "synthetic"
    full_scale: str = ""
    result: Result | None = None
    verdict: Verdict | None = None
    error: str | None = None
    figure_files: list[str] = field(default_factory=list)
    seed_seconds: list[float] = field(default_factory=list)
    #: warnings pooled over seeds: ``{"category", "message", "where", "count", "seeds"}``
    warnings: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not isinstance(self.slug, str) or not self.slug:
            raise TypeError(f"slug must be a non-empty string, got {self.slug!r}")
        if self.mode not in ("quick", "full"):
            raise ValueError(f"mode must be 'quick' or 'full', got {self.mode!r}")
        if not isinstance(self.claims, dict):
            raise TypeError(f"claims must be a dict of short name -> sentence, got "
                            f"{type(self.claims).__name__}")
        if not isinstance(self.seeds, list):
            raise TypeError(f"seeds must be a list of ints, got {type(self.seeds).__name__}")

    @property
    def title(self) -> str:
        try:
            return paper(self.slug).title
        except KeyError:
            return self.slug

    @property
    def family(self) -> str:
        """The paper's family in the catalog (``"other"`` for a slug outside it)."""
        try:
            return paper(self.slug).family
        except KeyError:
            return "other"

    @property
    def n_warnings(self) -> int:
        return sum(int(w.get("count", 1)) for w in self.warnings)

    @property
    def status(self) -> str:
        """``"error"`` or the verdict's label."""
        if self.error is not None or self.verdict is None:
            return "error"
        return self.verdict.label

    @property
    def change(self) -> str | None:
        """``"below"`` / ``"above"`` the expected quick verdict, or ``None``.

        Only quick runs are held to ``EXPECTED``; full runs report their verdict.
        """
        if self.mode != "quick":
            return None
        if self.verdict is None:
            return "below"
        want = parse_verdict(self.expected, len(self.claims))
        if self.verdict.held < want:
            return "below"
        if self.verdict.held > want:
            return "above"
        return None

    def to_json(self) -> dict[str, Any]:
        res = self.result or Result()
        claims = {}
        for key, text in self.claims.items():
            names = [k for k, c in res.checks.items() if c.claim == key]
            claims[key] = {
                "text": text,
                "holds": bool(self.verdict.claims.get(key)) if self.verdict else False,
                "checks": names,
                "known_gap": [res.checks[k].known_gap for k in names
                              if res.checks[k].known_gap and not res.checks[k].passed],
            }
        return {
            "slug": self.slug,
            "title": self.title,
            "verdict": self.status,
            "expected": self.expected,
            "change": self.change,
            "mode": self.mode,
            "seeds": self.seeds,
            "data": self.data,
            "full_scale": self.full_scale,
            "settings": self.settings,
            "claims": claims,
            "checks": {k: c.to_json() for k, c in res.checks.items()},
            "metrics": {k: _num(v) for k, v in res.metrics.items()},
            "metrics_per_seed": {k: [_num(x) for x in v] for k, v in res.per_seed_metrics.items()},
            "figures": self.figure_files,
            "seconds": round(self.seconds, 3),
            "seed_seconds": [round(s, 3) for s in self.seed_seconds],
            "error": self.error,
            "warnings": self.warnings,
        }


def _num(v: Any) -> Any:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    return f if math.isfinite(f) else None


def _record(exp: Experiment, mode: str, settings: Settings, outcomes: list[SeedOutcome],
            out: Path, loading: list[dict[str, Any]] | None = None) -> RunRecord:
    seeds = [o.seed for o in outcomes]
    rec = RunRecord(exp.slug, mode, seeds, sum(o.seconds for o in outcomes), dict(exp.claims),
                    exp.expected, settings.to_json(), exp.data, exp.full_scale,
                    seed_seconds=[o.seconds for o in outcomes])
    errors = [f"seed {o.seed}:\n{o.error}" for o in outcomes if o.error]
    pooling = _WarningLog()
    if errors:
        rec.error = "\n".join(errors)
    else:
        with pooling:
            try:
                rec.result = merge_results([o.result() for o in outcomes])
                rec.verdict = judge(exp.claims, rec.result)
            except Exception:  # noqa: BLE001
                rec.error = traceback.format_exc()
    rec.warnings = _merge_warnings([("loading", loading or []),
                                    *((o.seed, o.warnings) for o in outcomes),
                                    ("pooling", pooling.as_list())])
    d = out / exp.slug
    d.mkdir(parents=True, exist_ok=True)
    first = next((o for o in outcomes if o.figures), None)
    if first is not None:
        for name, png in first.figures.items():
            _write_bytes(d / f"{name}.png", png)
            rec.figure_files.append(f"{name}.png")
    _write_text(d / "results.json", json.dumps(rec.to_json(), indent=2))
    return rec


# --------------------------------------------------------------------------- many papers


def _seed_file(out: Path, slug: str, seed: int) -> Path:
    return out / slug / "seeds" / f"seed-{seed}.json"


def _knobs(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings that decide a seed's outcome (how many seeds run does not)."""
    return {k: v for k, v in settings.items() if k != "seeds"}


def _load_done(out: Path, slug: str, seed: int, settings: Settings) -> SeedOutcome | None:
    path = _seed_file(out, slug, seed)
    if not path.exists():
        return None
    d = read_json(path, what="seed result", required=("slug", "seed", "seconds", "metrics",
                                                        "checks"))
    if _knobs(d.get("settings") or {}) != _knobs(settings.to_json()) or d.get("error"):
        return None
    try:
        return SeedOutcome.from_json(d)
    except (KeyError, TypeError, ValueError) as err:
        raise ArtifactError(path, f"the seed result is malformed ({type(err).__name__}: {err}); "
                                  "delete it to run that seed again") from None


def _save_seed(out: Path, o: SeedOutcome, settings: Settings) -> None:
    path = _seed_file(out, o.slug, o.seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    for name, png in o.figures.items():
        _write_bytes(path.parent / f"seed-{o.seed}-{name}.png", png)
    # the seed file last: once it exists, the seed's figures are complete
    _write_text(path, json.dumps({**o.to_json(), "settings": settings.to_json()}))


def _restore_figures(out: Path, o: SeedOutcome) -> None:
    folder = _seed_file(out, o.slug, o.seed).parent
    prefix = f"seed-{o.seed}-"
    for png in sorted(folder.glob(f"{prefix}*.png")):
        o.figures[png.stem[len(prefix):]] = png.read_bytes()


def run_experiments(
    slugs: Iterable[str],
    out_dir: str | Path,
    *,
    mode: str = "quick",
    seeds: int | None = None,
    base_seed: int = 0,
    workers: int | None = None,
    scheduler: str | None = None,
    threads: int | None = None,
    resume: bool = False,
    progress: bool = False,
) -> list[RunRecord]:
    """Run the experiments ``slugs`` over seeds and write their results under ``out_dir``.

    Parameters
    ----------
    slugs : iterable of str
        Paper slugs with a registered experiment.
    out_dir : path
        Gets ``<slug>/results.json``, ``<slug>/*.png``, ``<slug>/seeds/`` and
        ``report.html``.
    mode : {"quick", "full"}
        Which settings to run (``QUICK`` or ``FULL``).
    seeds : int, optional
        How many seeds per paper; default: the settings' own ``seeds``.
    base_seed : int
        The first seed; the others follow (see :func:`seed_list`).
    workers : int, optional
        Run the (paper, seed) tasks on a local Dask cluster of this many
        single-threaded worker processes.
    scheduler : str, optional
        Address of an existing Dask scheduler to run the tasks on.
    threads : int, optional
        Torch threads per task (default: torch's own, or 1 on a cluster's
        workers). Results are identical between runs at equal thread counts.
    resume : bool
        Reuse the seeds already written under ``out_dir`` with the same settings.
    progress : bool
        Show a progress bar over the tasks.

    Returns
    -------
    list of RunRecord
        One per paper, in the order of ``slugs``. A paper whose run raised is
        recorded with its traceback and does not stop the others.
    """
    if workers is not None and scheduler is not None:
        raise ValueError("give workers or scheduler, not both")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):
        raise ValueError(f"workers must be a positive int, got {workers!r}")
    if seeds is not None and (isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1):
        raise ValueError(f"seeds must be a positive int, got {seeds!r}")
    if not isinstance(mode, str) or mode not in ("quick", "full"):
        raise ValueError(f"mode must be 'quick' or 'full', got {mode!r}")
    seed_list(base_seed, 1)  # checks base_seed
    threads = _check_optional_int(threads, "threads", 1)
    if scheduler is not None and not isinstance(scheduler, str):
        raise TypeError(f"scheduler must be an address string or None, got "
                        f"{type(scheduler).__name__}")
    _check_flag(resume, "resume")
    _check_flag(progress, "progress")
    if isinstance(slugs, (str, bytes)):
        raise TypeError(f"slugs must be a list of paper slugs, not a single string: use "
                        f"[{slugs!r}]")
    if not isinstance(out_dir, (str, Path)):
        raise TypeError(f"out_dir must be a path, got {type(out_dir).__name__}")
    slugs = list(slugs)
    if not slugs:
        raise ValueError("slugs must name at least one experiment")
    exps, loading = {}, {}
    for s in slugs:
        with _WarningLog() as log:  # what importing the paper's module raises is its own
            exps[s] = _check_slug_known(s, "slugs")
        loading[s] = log.as_list()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plan: dict[str, tuple[Settings, list[int]]] = {}
    for s, exp in exps.items():
        st = exp.settings(mode)
        if seeds is not None:
            st = dataclasses.replace(st, seeds=seeds)
        plan[s] = (st, seed_list(base_seed, st.seeds))

    done: dict[tuple[str, int], SeedOutcome] = {}
    todo: list[tuple[str, int, bool]] = []
    for s, (st, seed_ids) in plan.items():
        for i, sd in enumerate(seed_ids):
            prev = _load_done(out, s, sd, st) if resume else None
            if prev is not None:
                _restore_figures(out, prev)
                done[(s, sd)] = prev
            else:
                todo.append((s, sd, i == 0))

    bar: Any = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), desc="experiments", unit="run")

    def _arrived(o: SeedOutcome) -> None:
        done[(o.slug, o.seed)] = o
        _save_seed(out, o, plan[o.slug][0])
        if bar is not None:
            bar.set_postfix_str(f"{o.slug} seed {o.seed}")
            bar.update(1)

    try:
        if workers is None and scheduler is None:
            for s, sd, figs in todo:
                if bar is not None:
                    bar.set_postfix_str(f"{s} seed {sd}")
                _arrived(run_seed(s, plan[s][0], sd, figures=figs, threads=threads))
        else:
            _run_on_dask(todo, plan, _arrived, workers=workers, scheduler=scheduler,
                         threads=threads)
    finally:
        if bar is not None:
            bar.close()

    records = [_record(exps[s], mode, plan[s][0], [done[(s, sd)] for sd in plan[s][1]], out,
                       loading[s]) for s in slugs]
    write_report(records, out)
    return records


def _run_on_dask(todo, plan, arrived, *, workers, scheduler, threads) -> None:
    from mintlab.scale._client import _distributed, get_client

    distributed = _distributed()
    cluster = None
    if workers is not None:
        cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                           processes=True, dashboard_address=None)
        client = distributed.Client(cluster)
    else:
        client = get_client(scheduler)
    try:
        futures = [client.submit(run_seed, s, plan[s][0], sd, figures=figs,
                                 threads=1 if threads is None else threads, pure=False,
                                 key=f"mintlab-{s}-seed{sd}-{time.time_ns()}")
                   for s, sd, figs in todo]
        for fut in distributed.as_completed(futures):
            arrived(fut.result())
    finally:
        if cluster is not None:
            with _quiet_loggers("distributed"):  # the shutdown's notes would break the bar
                client.close()
                cluster.close()


@contextlib.contextmanager
def _quiet_loggers(prefix: str, level: int = 40):
    """Raise the level of the ``prefix`` loggers (and their children) to ``level`` (ERROR)."""
    import logging

    names = [prefix] + [n for n in logging.root.manager.loggerDict if n.startswith(prefix + ".")]
    loggers = [logging.getLogger(n) for n in names]
    old = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(max(level, lg.level))
    try:
        yield
    finally:
        for lg, lv in zip(loggers, old, strict=True):
            lg.setLevel(lv)


# --------------------------------------------------------------------------- report


_ORDER = {REPRODUCED: 0, "partly": 1, NOT_REPRODUCED: 2, "error": 3}


def _verdict_group(r: RunRecord) -> int:
    st = r.status
    return _ORDER.get(st, _ORDER["partly"])


def _sorted(records: list[RunRecord]) -> list[RunRecord]:
    return sorted(records, key=lambda r: (_verdict_group(r),
                                          -(r.verdict.rank if r.verdict else 0), r.slug))


def summary_rows(records: list[RunRecord]) -> list[tuple[str, ...]]:
    """(slug, verdict, claims held, vs expected, seeds, seconds) per record, best first."""
    _check_records(records)
    rows: list[tuple[str, ...]] = []
    for r in _sorted(records):
        held = f"{r.verdict.held}/{r.verdict.total}" if r.verdict else f"-/{len(r.claims)}"
        change = {"below": "BELOW expected", "above": "above expected"}.get(r.change or "", "")
        rows.append((r.slug, r.status, held, change, str(len(r.seeds)), f"{r.seconds:.1f}"))
    return rows


_CSS = """
body{font-family:system-ui,sans-serif;max-width:1150px;margin:2em auto;padding:0 1em;color:#222;
line-height:1.4}
table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:4px 8px;
text-align:left;vertical-align:top}th{background:#f3f3f3}
.reproduced{color:#176b2c;font-weight:600}.partly{color:#8a5a00;font-weight:600}
.not,.error,.fail{color:#b00020;font-weight:600}.pass{color:#176b2c}.gap{color:#8a5a00}
.claims{list-style:none;margin:0;padding:0}.claims li{white-space:nowrap}
img{max-width:100%;border:1px solid #eee;margin:0.3em 0}pre{background:#f7f7f7;padding:0.8em;
overflow-x:auto}.small{font-size:90%;color:#555}
details.paper{border-top:1px solid #ccc;padding:0.3em 0}
details.paper>summary{cursor:pointer;padding:0.3em 0}
details.paper>summary h2{display:inline;font-size:1.25em;margin:0}
.tally span{margin-right:1em}#filters{margin:0.5em 0;display:flex;gap:1em;flex-wrap:wrap;
align-items:center}[hidden]{display:none!important}
a:focus,summary:focus,select:focus,button:focus{outline:2px solid #1a5fb4;outline-offset:2px}
"""

# the filters and the opening of a section reached through a link; the page reads without it
_JS = """
(function(){
var form=document.getElementById('filters');if(!form)return;form.hidden=false;
var fam=document.getElementById('filter-family'),ver=document.getElementById('filter-verdict');
var shown=document.getElementById('filter-count');
function apply(){var n=0,all=0;
document.querySelectorAll('[data-verdict]').forEach(function(el){
var ok=(!fam.value||el.getAttribute('data-family')===fam.value)&&
(!ver.value||el.getAttribute('data-verdict')===ver.value);el.hidden=!ok;
if(el.tagName==='TR'){all++;if(ok)n++;}});
shown.textContent=n+' of '+all+' papers shown';}
fam.addEventListener('change',apply);ver.addEventListener('change',apply);
function setAll(open){document.querySelectorAll('details.paper').forEach(function(d){
d.open=open;});}
document.getElementById('expand-all').addEventListener('click',function(){setAll(true);});
document.getElementById('collapse-all').addEventListener('click',function(){setAll(false);});
function openTarget(){var id=decodeURIComponent(location.hash.slice(1));
var el=id&&document.getElementById(id);if(!el)return;var d=el.closest('details.paper');
if(d&&!d.open){d.open=true;el.scrollIntoView();}}
window.addEventListener('hashchange',openTarget);openTarget();apply();
})();
"""

def _example_record(values: dict[str, float], gap: str | None = None) -> RunRecord:
    """A one-seed record of a toy paper with claims ``small`` (``err <= 0.5``) and
    ``fast`` (``rate <= 1``), for the examples."""
    res = Result(seed=0)
    res.check("err", values["err"], 0.5, "<=", claim="small")
    res.check("rate", values["rate"], 1.0, "<=", claim="fast", known_gap=gap)
    claims = {"small": "The error is small.", "fast": "It is fast."}
    rec = RunRecord("toy", "quick", [0], 1.0, claims, REPRODUCED, {"seeds": 1})
    rec.result, rec.verdict = res, judge(claims, res)
    return rec


#: a claim's state: it holds; it fails only where a known gap is declared; it fails
HOLDS, KNOWN_GAP, FAILS, NO_CHECK = "holds", "known gap", "does not hold", "no check"


def claim_status(r: RunRecord, key: str) -> str:
    """The state of claim ``key`` in record ``r``.

    Only ``"holds"`` counts towards the verdict; a known gap is a failed claim
    whose failure the experiment explains.

    Parameters
    ----------
    r : RunRecord
        A judged record (``r.result is None`` after an error).
    key : str
        One of ``r.claims``.

    Returns
    -------
    str
        ``"holds"`` (every check of the claim passes), ``"known gap"`` (every
        failed check declares a known gap), ``"does not hold"`` or
        ``"no check"``.

    Examples
    --------
    >>> rec = _example_record({"err": 0.1, "rate": 2.0}, gap="only at full scale")
    >>> claim_status(rec, "small"), claim_status(rec, "fast")
    ('holds', 'known gap')
    """
    if r.result is None:
        return FAILS
    mine = [c for c in r.result.checks.values() if c.claim == key]
    if not mine:
        return NO_CHECK
    failed = [c for c in mine if not c.passed]
    if not failed:
        return HOLDS
    return KNOWN_GAP if all(c.known_gap for c in failed) else FAILS


_CLAIM_CLASS = {HOLDS: "pass", KNOWN_GAP: "gap", FAILS: "fail", NO_CHECK: "fail"}
_CLAIM_MARK = {HOLDS: "\u2713", KNOWN_GAP: "\u25d0", FAILS: "\u2717", NO_CHECK: "\u2717"}


def _fmt(v: float | None) -> str:
    if v is None:
        return "n/a"
    v = float(v)
    if not math.isfinite(v):
        return "n/a"
    return f"{v:.4g}"


def _css_class(status: str) -> str:
    return status.split()[0] if status in (REPRODUCED, NOT_REPRODUCED, "error") else "partly"


def _check_cells(c: Check) -> tuple[str, str, str]:
    """(ours vs baseline, interval, rule) as text."""
    lo, hi = c.interval
    if c.kind == "compare":
        what = f"{_fmt(c.ours_mean)} vs {_fmt(c.baseline_mean)} (diff {_fmt(c.measured)})"
        interval = f"[{_fmt(lo)}, {_fmt(hi)}]"
    else:
        what = _fmt(c.measured)
        interval = (f"[{_fmt(lo)}, {_fmt(hi)}]" if c.unit == "item" or c.reduce == "mean"
                    else f"seeds range [{_fmt(lo)}, {_fmt(hi)}]")
    return what, interval, f"{c.rule} (n={c.n} {c.unit}s)"


def _warning_where(w: dict[str, Any]) -> str:
    seeds = w.get("seeds") or []
    origin = []
    if seeds:
        origin.append(f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}")
    origin += [f"while {stage}" for stage in w.get("stages") or []]
    where = str(w.get("where", ""))
    return f"{where} ({'; '.join(origin)})" if origin else where


def warning_summary(records: list[RunRecord], *, width: int = 100) -> list[str]:
    """One line per paper that raised warnings: its count, kinds and the most frequent one.

    Parameters
    ----------
    records : list of RunRecord
        The papers of a run; those without warnings get no line.
    width : int
        Lines longer than this are cut with ``...``.

    Returns
    -------
    list of str

    Examples
    --------
    >>> rec = _example_record({"err": 0.1, "rate": 0.5})
    >>> rec.warnings = [{"category": "UserWarning", "message": "Sinkhorn did not converge.",
    ...                  "where": "ot/bregman/_sinkhorn.py:666", "count": 4, "seeds": [0]}]
    >>> warning_summary([rec])
    ['toy: 4 warnings, most often UserWarning: Sinkhorn did not converge.']
    """
    _check_records(records)
    lines = []
    for r in records:
        if not r.warnings:
            continue
        top = r.warnings[0]
        head = f"{r.slug}: {r.n_warnings} warning{'s' if r.n_warnings != 1 else ''}"
        if len(r.warnings) > 1:
            head += f" ({len(r.warnings)} kinds)"
        msg = " ".join(str(top.get("message", "")).split())
        line = f"{head}, most often {top.get('category', 'Warning')}: {msg}"
        if len(line) > width:
            line = line[:width - 3] + "..."
        lines.append(line)
    return lines


def _warnings_html(r: RunRecord) -> list[str]:
    esc = html.escape
    if not r.warnings:
        return []
    n = r.n_warnings
    parts = [f"<h3 id='{esc(r.slug)}-warnings'>Warnings ({n})</h3>",
             "<table><caption class='small'>Python warnings raised while this paper ran, "
             "counted instead of printed</caption><tr><th scope='col'>count</th>"
             "<th scope='col'>category</th><th scope='col'>message</th>"
             "<th scope='col'>raised at</th></tr>"]
    for w in r.warnings:
        parts.append(f"<tr><td>{int(w.get('count', 1))}</td><td>{esc(str(w.get('category')))}"
                     f"</td><td>{esc(str(w.get('message', '')))}</td>"
                     f"<td>{esc(_warning_where(w))}</td></tr>")
    parts.append("</table>")
    return parts


def _claims_list_html(r: RunRecord) -> str:
    esc = html.escape
    if r.result is None:
        return "-"
    items = []
    for key in r.claims:
        st = claim_status(r, key)
        items.append(f"<li class='{_CLAIM_CLASS[st]}'><span aria-hidden='true'>"
                     f"{_CLAIM_MARK[st]}</span> {esc(key)}: {esc(st)}</li>")
    return "<ul class='claims'>" + "".join(items) + "</ul>"


def write_report(records: list[RunRecord], out_dir: str | Path) -> Path:
    """Write ``out_dir/report.html``: the verdicts first, then one collapsible section per paper.

    The page is self-contained (inline CSS, a few lines of inline script for the
    family and verdict filters; without script every section is still one
    click away). Each claim's state is shown beside the verdict, so a partly
    reproduced paper shows which claims fail and which are known gaps.
    """
    _check_records(records)
    if not isinstance(out_dir, (str, Path)):
        raise TypeError(f"out_dir must be a path, got {type(out_dir).__name__}")
    out = Path(out_dir)
    esc = html.escape
    ordered = _sorted(records)
    counts: dict[str, int] = {}
    for r in records:
        key = _css_class(r.status)
        counts[key] = counts.get(key, 0) + 1
    modes = "/".join(sorted({r.mode for r in records}))
    noisy = [r for r in records if r.warnings]
    n_warn = sum(r.n_warnings for r in noisy)
    families = sorted({r.family for r in records})
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        "<title>mintlab report</title>",
        f"<style>{_CSS}</style></head><body><main><h1>mintlab reproductions</h1>",
        f"<p class='tally'>{len(records)} paper(s), {esc(modes)} settings, written "
        f"{esc(time.strftime('%Y-%m-%d %H:%M:%S'))}: "
        f"<span class='reproduced'>{counts.get('reproduced', 0)} reproduced</span> "
        f"<span class='partly'>{counts.get('partly', 0)} partly reproduced</span> "
        f"<span class='not'>{counts.get('not', 0)} not reproduced at this scale</span> "
        f"<span class='error'>{counts.get('error', 0)} raised an error</span></p>",
        "<p class='small'>A claim holds when every check of it passes. A comparison passes "
        "only when the whole 95% interval of (ours - baseline) clears its margin, pooled over "
        "seeds; a tie never passes. A <span class='gap'>known gap</span> is a claim that does "
        "not hold at this scale, for the reason its experiment gives; it does not count as "
        "held.</p>",
        (f"<p>{n_warn} warning(s) in {len(noisy)} paper(s), listed in each paper's section: "
         + ", ".join(f"<a href='#{esc(r.slug)}-warnings'>{esc(r.slug)}</a> ({r.n_warnings})"
                     for r in noisy) + ".</p>") if noisy else "<p>No warnings.</p>",
        "<h2 id='verdicts'>Verdicts</h2>",
        "<form id='filters' hidden onsubmit='return false'>"
        "<label for='filter-family'>Family</label> <select id='filter-family'>"
        "<option value=''>all</option>"
        + "".join(f"<option>{esc(f)}</option>" for f in families)
        + "</select> <label for='filter-verdict'>Verdict</label> <select id='filter-verdict'>"
        "<option value=''>all</option><option value='reproduced'>reproduced</option>"
        "<option value='partly'>partly reproduced</option>"
        "<option value='not'>not reproduced at this scale</option>"
        "<option value='error'>error</option></select> "
        "<button type='button' id='expand-all'>Expand all</button> "
        "<button type='button' id='collapse-all'>Collapse all</button> "
        "<span id='filter-count' aria-live='polite'></span></form>",
        "<table><thead><tr><th scope='col'>slug</th><th scope='col'>paper</th>"
        "<th scope='col'>family</th><th scope='col'>verdict</th><th scope='col'>claims</th>"
        "<th scope='col'>warnings</th><th scope='col'>data</th><th scope='col'>settings</th>"
        "<th scope='col'>seeds</th><th scope='col'>seconds</th></tr></thead><tbody>",
    ]
    for r in ordered:
        note = {"below": " (below expected)", "above": " (above expected)"}.get(r.change or "", "")
        warn = (f"<a href='#{esc(r.slug)}-warnings'>{r.n_warnings}</a>" if r.warnings else "0")
        parts.append(
            f"<tr data-family='{esc(r.family)}' data-verdict='{_css_class(r.status)}'>"
            f"<td><a href='#{esc(r.slug)}'>{esc(r.slug)}</a></td><td>{esc(r.title)}</td>"
            f"<td>{esc(r.family)}</td><td class='{_css_class(r.status)}'>{esc(r.status)}"
            f"{esc(note)}</td><td>{_claims_list_html(r)}</td><td>{warn}</td>"
            f"<td>{esc(r.data)}</td><td>{esc(r.mode)} settings</td><td>{len(r.seeds)}</td>"
            f"<td>{r.seconds:.1f}</td></tr>")
    parts.append("</tbody></table><h2>Papers</h2>")
    for r in ordered:
        parts.append(f"<details class='paper' id='{esc(r.slug)}' data-family='{esc(r.family)}' "
                     f"data-verdict='{_css_class(r.status)}'><summary><h2>{esc(r.slug)}: "
                     f"{esc(r.title)}</h2> &mdash; <span class='{_css_class(r.status)}'>"
                     f"{esc(r.status)}</span>"
                     + (f" <span class='small'>({r.n_warnings} warning(s))</span>"
                        if r.warnings else "") + "</summary>")
        parts.append(f"<p>Verdict: <span class='{_css_class(r.status)}'>{esc(r.status)}</span>"
                     f" (expected in quick mode: {esc(r.expected)}). Family: {esc(r.family)}. "
                     f"Data: {esc(r.data)}. Seeds: {', '.join(map(str, r.seeds))}.</p>")
        if r.error:
            parts.append(f"<p class='error'>The experiment raised:</p><pre>{esc(r.error)}</pre>")
            parts += _warnings_html(r)
            parts.append("</details>")
            continue
        assert r.result is not None and r.verdict is not None
        parts.append("<table><tr><th scope='col'>claim</th><th scope='col'>check</th>"
                     "<th scope='col'>ours vs baseline</th><th scope='col'>95% interval</th>"
                     "<th scope='col'>rule</th><th scope='col'>result</th></tr>")
        for key, text in r.claims.items():
            mine = [c for c in r.result.checks.values() if c.claim == key]
            st = claim_status(r, key)
            head = (f"<td rowspan='{max(1, len(mine))}'><b>{esc(key)}</b>: {esc(text)}<br>"
                    f"<span class='{_CLAIM_CLASS[st]}'>{esc(st)}</span></td>")
            if not mine:
                parts.append(f"<tr>{head}<td colspan='5'>no check</td></tr>")
                continue
            for i, c in enumerate(mine):
                what, interval, rule = _check_cells(c)
                if c.passed:
                    res_cell = "<span class='pass'>pass</span>"
                elif c.known_gap:
                    res_cell = f"<span class='gap'>known gap</span>: {esc(c.known_gap)}"
                else:
                    res_cell = "<span class='fail'>fail</span>"
                desc = f"<br><span class='small'>{esc(c.description)}</span>" \
                    if c.description else ""
                parts.append(f"<tr>{head if i == 0 else ''}<td>{esc(c.name)}{desc}</td>"
                             f"<td>{esc(what)}</td><td>{esc(interval)}</td><td>{esc(rule)}</td>"
                             f"<td>{res_cell}</td></tr>")
        parts.append("</table>")
        parts += _warnings_html(r)
        for fname in r.figure_files:
            path = out / r.slug / fname
            if not path.exists():
                continue
            data = base64.b64encode(path.read_bytes()).decode("ascii")
            parts.append(f"<figure><img alt='{esc(r.slug)} figure {esc(fname)}' "
                         f"src='data:image/png;base64,{data}'>"
                         f"<figcaption>{esc(fname)}</figcaption></figure>")
        if r.result.metrics:
            parts.append("<details><summary>metrics (mean over seeds)</summary><table>"
                         "<tr><th scope='col'>metric</th><th scope='col'>value</th></tr>")
            for k, v in r.result.metrics.items():
                parts.append(f"<tr><td>{esc(k)}</td><td>{_fmt(_num(v))}</td></tr>")
            parts.append("</table></details>")
        settings = ", ".join(f"{k}={v}" for k, v in r.settings.items())
        parts.append(f"<p class='small'>Settings ({esc(r.mode)}): {esc(settings)}.</p>")
        if r.full_scale:
            parts.append(f"<p class='small'>At full scale: {esc(r.full_scale)}</p>")
        parts.append("</details>")
    parts.append(f"</main><script>{_JS}</script></body></html>")
    path = out / "report.html"
    _write_text(path, "\n".join(parts))
    return path


def _check_records(records: Any, name: str = "records") -> None:
    if isinstance(records, (str, bytes)) or not isinstance(records, (list, tuple)):
        raise TypeError(f"{name} must be a list of RunRecord, got {type(records).__name__}")
    for i, r in enumerate(records):
        if not isinstance(r, RunRecord):
            raise TypeError(f"{name}[{i}] must be a RunRecord, got {type(r).__name__}")


# --------------------------------------------------------------------------- reading runs back


def load_records(run_dir: str | Path) -> list[RunRecord]:
    """The records of a finished run, rebuilt from its ``<slug>/results.json`` files.

    ``run_dir`` is a folder written by :func:`run_experiments`, or a flat
    folder of ``<slug>.json`` files written by :func:`export_records` (such as
    ``docs/reproductions``).

    Checks are judged again from their stored samples, so a report written from
    them says exactly what the run said.
    """
    if not isinstance(run_dir, (str, Path)):
        raise TypeError(f"run_dir must be a path, got {type(run_dir).__name__}")
    root = Path(run_dir)
    files = sorted(root.glob("*/results.json")) or sorted(root.glob("*.json"))
    if not files:
        raise FileNotFoundError(f"run_dir {str(root)!r} holds no <slug>/results.json "
                                "and no <slug>.json")
    records = []
    for f in files:
        records.append(_load_record(f))
    return records


_RECORD_KEYS = ("slug", "mode", "seeds", "seconds", "claims", "expected", "settings", "checks",
                "metrics")


def _load_record(f: Path) -> RunRecord:
    """One ``results.json`` (or exported ``<slug>.json``) as a :class:`RunRecord`;
    :class:`~mintlab.ArtifactError` naming the file when it cannot be used."""
    d = read_json(f, what="results file", kind=object)
    if not isinstance(d, dict) or "slug" not in d or "claims" not in d:
        raise ArtifactError(f, "the results file is not the results.json of a mintlab run (no "
                               "'slug' and 'claims')")
    require_keys(d, _RECORD_KEYS, f, "results file")
    try:
        return _record_from_json(d)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        detail = f"missing entry {err}" if isinstance(err, KeyError) else str(err)
        raise ArtifactError(f, f"the results file is malformed ({type(err).__name__}: "
                               f"{detail})") from None


def _record_from_json(d: dict[str, Any]) -> RunRecord:
    claims = {k: v["text"] for k, v in d["claims"].items()}
    rec = RunRecord(d["slug"], d["mode"], list(d["seeds"]), float(d["seconds"]), claims,
                    d["expected"], d["settings"], d.get("data", ""), d.get("full_scale", ""),
                    error=d.get("error"), figure_files=list(d.get("figures", [])),
                    seed_seconds=list(d.get("seed_seconds", [])),
                    warnings=list(d.get("warnings") or []))
    if rec.error is None:
        res = Result(metrics=dict(d["metrics"]),
                     checks={k: Check.from_json(k, c) for k, c in d["checks"].items()})
        res.per_seed_metrics = {k: list(v) for k, v in
                                d.get("metrics_per_seed", {}).items()}
        rec.result, rec.verdict = res, judge(claims, res)
    return rec


def export_records(records: list[RunRecord], to_dir: str | Path) -> list[Path]:
    """Write each record as ``<to_dir>/<slug>.json`` (replacing an older one).

    This is how full-scale results are published (``docs/reproductions``): one
    file per paper, the same content as the run's ``results.json`` without
    figures, readable back by :func:`load_records`.
    """
    _check_records(records)
    out = Path(to_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for r in records:
        d = r.to_json()
        d["figures"] = []
        path = out / f"{r.slug}.json"
        _write_text(path, _compact_lists(json.dumps(d, indent=1)) + "\n")
        paths.append(path)
    return paths


_ATOM = r"(?:[-+0-9.eE]+|null|true|false)"
_FLAT_LIST = re.compile(rf"\[\n\s*({_ATOM}(?:,\n\s*{_ATOM})*)\n\s*\]")


def _compact_lists(text: str) -> str:
    """Put lists of plain numbers on one line (samples would take a line per number)."""
    return _FLAT_LIST.sub(lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(","))
                          + "]", text)


def headline(r: RunRecord) -> str:
    """The first comparison of the first claim, as ``name: ours vs baseline``.

    Falls back to the first check when no claim has a comparison.
    """
    if r.result is None:
        return ""
    checks = list(r.result.checks.values())
    order = {k: i for i, k in enumerate(r.claims)}
    checks.sort(key=lambda c: order.get(c.claim, len(order)))
    pick = next((c for c in checks if c.kind == "compare"), checks[0] if checks else None)
    if pick is None:
        return ""
    if pick.kind == "compare":
        return f"{pick.name}: {_fmt(pick.ours_mean)} vs {_fmt(pick.baseline_mean)}"
    return f"{pick.name}: {_fmt(pick.measured)} ({pick.op} {_fmt(pick.threshold)})"


def markdown_summary(records: list[RunRecord], *, title: str = "Reproductions",
                     source: str = "RUN_DIR") -> str:
    """A Markdown page: the verdict table, then each paper's claims with intervals."""
    _check_records(records)
    lines = [f"# {title}", "",
             f"Generated by `mintlab report {source} --markdown`; do not edit by hand. A claim "
             "holds when every check of it passes; a comparison passes only when the whole 95% "
             "interval of (ours - baseline), pooled over seeds, clears its margin.", ""]
    modes = sorted({r.mode for r in records})
    counts: dict[str, int] = {}
    for r in records:
        key = _css_class(r.status)
        counts[key] = counts.get(key, 0) + 1
    lines += [f"{len(records)} papers, {'/'.join(modes)} settings: "
              f"{counts.get('reproduced', 0)} reproduced, {counts.get('partly', 0)} partly "
              f"reproduced, {counts.get('not', 0)} not reproduced at this scale, "
              f"{counts.get('error', 0)} errors.", "",
              "| slug | paper | verdict | headline (ours vs baseline) | data | settings | seeds "
              "| seconds |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in _sorted(records):
        cells = [f"[`{r.slug}`](#{r.slug})", r.title, r.status, headline(r), r.data, r.mode,
                 str(len(r.seeds)), f"{r.seconds:.0f}"]
        lines.append("| " + " | ".join(x.replace("|", "/") for x in cells) + " |")
    for r in _sorted(records):
        lines += ["", f"## {r.slug}", "", f"**{r.title}**: {r.status}.", ""]
        if r.error or r.result is None or r.verdict is None:
            lines.append("The experiment raised an error.")
            continue
        lines += ["| claim | check | ours vs baseline | 95% interval | rule | result |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for key, text in r.claims.items():
            mine = [c for c in r.result.checks.values() if c.claim == key]
            holds = claim_status(r, key)
            for i, c in enumerate(mine):
                what, interval, rule = _check_cells(c)
                if c.passed:
                    outcome = "pass"
                elif c.known_gap:
                    outcome = f"known gap: {c.known_gap}"
                else:
                    outcome = "fail"
                head = f"{key} ({holds}): {text}" if i == 0 else ""
                cells = [head, c.name, what, interval, rule, outcome]
                lines.append("| " + " | ".join(x.replace("|", "/") for x in cells) + " |")
        if r.full_scale:
            lines += ["", f"At full scale: {r.full_scale}"]
        if r.warnings:
            lines += ["", f"Warnings ({r.n_warnings}):", ""]
            lines += [f"- {int(w.get('count', 1))} x {w.get('category')}: "
                      f"{' '.join(str(w.get('message', '')).split())} "
                      f"({_warning_where(w)})" for w in r.warnings]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- comparing runs


@dataclass(frozen=True)
class PaperChange:
    """What changed for one paper between two runs (see :func:`compare_runs`).

    ``old_verdict`` / ``new_verdict`` are ``None`` where the paper is missing
    from that run. ``claims`` holds ``(claim, old state, new state)`` for each
    claim whose state (:func:`claim_status`) changed; ``numbers`` holds
    ``(check, quantity, old, new)`` for each measured value, mean, interval (the
    95% interval, or the seeds' range) or check result whose printed value (4
    significant digits) changed;
    ``notes`` lists changed settings, seeds and checks present in one run only.
    """

    slug: str
    old_verdict: str | None
    new_verdict: str | None
    direction: str
    claims: tuple[tuple[str, str, str], ...] = ()
    numbers: tuple[tuple[str, str, str, str], ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return (self.old_verdict != self.new_verdict or bool(self.claims) or bool(self.numbers)
                or bool(self.notes))


def _held_fraction(r: RunRecord) -> float:
    return r.verdict.rank if r.verdict is not None and r.error is None else -1.0


def _with_delta(a: float | None, b: float | None) -> tuple[str, str]:
    old, new = _fmt(a), _fmt(b)
    if old != new and old != "n/a" and new != "n/a":
        assert a is not None and b is not None  # "n/a" stands for None
        new += f" ({float(b) - float(a):+.3g})"
    return old, new


def _check_numbers(c: Check) -> dict[str, tuple[float | None, ...]]:
    lo, hi = c.interval
    values: dict[str, tuple[float | None, ...]] = {}
    if c.kind == "compare":
        values["ours"] = (c.ours_mean,)
        values["baseline"] = (c.baseline_mean,)
        values["ours - baseline"] = (c.measured,)
    else:
        values["measured"] = (c.measured,)
    values["interval"] = (lo, hi)
    return values


def _check_result(c: Check) -> str:
    return "pass" if c.passed else ("known gap" if c.known_gap else "fail")


def _compare_paper(old: RunRecord, new: RunRecord) -> PaperChange:
    claims = []
    for key in dict.fromkeys([*old.claims, *new.claims]):
        a = claim_status(old, key) if key in old.claims else "absent"
        b = claim_status(new, key) if key in new.claims else "absent"
        if a != b:
            claims.append((key, a, b))
    numbers: list[tuple[str, str, str, str]] = []
    notes: list[str] = []
    if old.mode != new.mode:
        notes.append(f"settings: {old.mode} -> {new.mode}")
    if old.seeds != new.seeds:
        notes.append(f"seeds: {len(old.seeds)} -> {len(new.seeds)}")
    for k in dict.fromkeys([*old.settings, *new.settings]):
        if k != "seeds" and old.settings.get(k) != new.settings.get(k):
            notes.append(f"setting {k}: {old.settings.get(k)} -> {new.settings.get(k)}")
    if (old.error is None) != (new.error is None):
        notes.append("raised an error" if new.error else "no longer raises an error")
    oc = old.result.checks if old.result is not None else {}
    nc = new.result.checks if new.result is not None else {}
    if old.result is not None and new.result is not None:
        for name in dict.fromkeys([*oc, *nc]):
            if name not in nc:
                notes.append(f"check {name} only in the old run")
                continue
            if name not in oc:
                notes.append(f"check {name} only in the new run")
                continue
            ca, cb = oc[name], nc[name]
            va, vb = _check_numbers(ca), _check_numbers(cb)
            for q in dict.fromkeys([*va, *vb]):
                xa, xb = va.get(q, (None,)), vb.get(q, (None,))
                if len(xa) == 1 and len(xb) == 1:
                    ta, tb = _with_delta(xa[0], xb[0])
                else:
                    ta = "[" + ", ".join(_fmt(x) for x in xa) + "]"
                    tb = "[" + ", ".join(_fmt(x) for x in xb) + "]"
                if ta != tb:
                    numbers.append((name, q, ta, tb))
            if _check_result(ca) != _check_result(cb):
                numbers.append((name, "result", _check_result(ca), _check_result(cb)))
    fa, fb = _held_fraction(old), _held_fraction(new)
    direction = ("same" if old.status == new.status else "better" if fb > fa
                 else "worse" if fb < fa else "changed")
    return PaperChange(new.slug, old.status, new.status, direction, tuple(claims),
                       tuple(numbers), tuple(notes))


def compare_runs(old: list[RunRecord], new: list[RunRecord]) -> list[PaperChange]:
    """What changed from run ``old`` to run ``new``, one :class:`PaperChange` per paper.

    Papers come verdict-first: worse verdicts, better ones, other verdict
    changes, papers in one run only, then papers whose verdict stayed (those
    whose claims or numbers moved first); by slug within each group.

    Parameters
    ----------
    old, new : list of RunRecord
        Two runs, e.g. from :func:`load_records` of two run folders or of
        exported ``<slug>.json`` folders.

    Returns
    -------
    list of PaperChange

    Examples
    --------
    >>> before = _example_record({"err": 0.1, "rate": 0.5})
    >>> after = _example_record({"err": 0.8, "rate": 0.5})
    >>> (change,) = compare_runs([before], [after])
    >>> change.old_verdict, change.new_verdict, change.direction
    ('reproduced', 'partly reproduced (1 of 2)', 'worse')
    >>> change.claims
    (('small', 'holds', 'does not hold'),)
    >>> print(comparison_text([change], "a", "b"), end="")
    Changes from a to b: 1 paper(s): 1 worse; 1 claim state(s) and 3 number(s) changed.
    <BLANKLINE>
    toy: reproduced -> partly reproduced (1 of 2)  [worse]
      claim small: holds -> does not hold
      check err: measured 0.1 -> 0.8 (+0.7); interval [0.1, 0.1] -> [0.8, 0.8]; result pass -> fail
    """
    _check_records(old, "old")
    _check_records(new, "new")
    a = {r.slug: r for r in old}
    b = {r.slug: r for r in new}
    changes = []
    for slug in dict.fromkeys([*a, *b]):
        if slug not in b:
            changes.append(PaperChange(slug, a[slug].status, None, "removed"))
        elif slug not in a:
            changes.append(PaperChange(slug, None, b[slug].status, "added"))
        else:
            changes.append(_compare_paper(a[slug], b[slug]))
    order = {"worse": 0, "better": 1, "changed": 2, "removed": 3, "added": 4, "same": 5}
    return sorted(changes, key=lambda c: (order[c.direction], not c.changed, c.slug))


def comparison_text(changes: list[PaperChange], old_label: str = "OLD", new_label: str = "NEW",
                    *, markdown: bool = False) -> str:
    """:func:`compare_runs`'s changes as terminal text or (``markdown=True``) Markdown.

    Parameters
    ----------
    changes : list of PaperChange
        From :func:`compare_runs`.
    old_label, new_label : str
        How the two runs are named (their folders).
    markdown : bool
        Markdown tables (a summary table, then one section per changed paper)
        instead of plain lines.

    Returns
    -------
    str
        A summary line, then each changed paper: its verdicts, the claims whose
        state changed, the numbers that changed, changed settings; then the
        unchanged papers on one line. See :func:`compare_runs` for an example.
    """
    tally: dict[str, int] = {}
    for c in changes:
        tally[c.direction] = tally.get(c.direction, 0) + 1
    n_claims = sum(len(c.claims) for c in changes)
    n_numbers = sum(len(c.numbers) for c in changes)
    words = {"worse": "worse", "better": "better", "changed": "changed verdict",
             "removed": f"only in {old_label}", "added": f"only in {new_label}",
             "same": "same verdict"}
    kinds = ", ".join(f"{tally[k]} {words[k]}" for k in words if tally.get(k))
    summary = (f"{len(changes)} paper(s){': ' + kinds if kinds else ''}; "
               f"{n_claims} claim state(s) and {n_numbers} number(s) changed.")
    moved = [c for c in changes if c.changed]
    same = [c.slug for c in changes if not c.changed]

    def verdict(v: str | None) -> str:
        return "-" if v is None else v

    if markdown:
        lines = [f"# Changes from `{old_label}` to `{new_label}`", "",
                 f"Generated by `mintlab report {old_label} {new_label} --markdown`. {summary}",
                 ""]
        if moved:
            lines += ["| slug | old verdict | new verdict | change | claims changed "
                      "| numbers changed |", "| --- | --- | --- | --- | --- | --- |"]
            for c in moved:
                cells = [f"[`{c.slug}`](#{c.slug})", verdict(c.old_verdict),
                         verdict(c.new_verdict), c.direction, str(len(c.claims)),
                         str(len(c.numbers))]
                lines.append("| " + " | ".join(x.replace("|", "/") for x in cells) + " |")
        for c in moved:
            lines += ["", f"## {c.slug}", "",
                      f"**{verdict(c.old_verdict)}** -> **{verdict(c.new_verdict)}** "
                      f"({c.direction})."]
            if c.claims:
                lines += ["", "| claim | old | new |", "| --- | --- | --- |"]
                lines += [f"| {k} | {a} | {b} |" for k, a, b in c.claims]
            if c.numbers:
                lines += ["", "| check | quantity | old | new |", "| --- | --- | --- | --- |"]
                lines += ["| " + " | ".join(x.replace("|", "/") for x in row) + " |"
                          for row in c.numbers]
            if c.notes:
                lines += [""] + [f"- {n}" for n in c.notes]
        if same:
            lines += ["", "Unchanged: " + ", ".join(f"`{s}`" for s in same) + "."]
        return "\n".join(lines) + "\n"
    lines = [f"Changes from {old_label} to {new_label}: {summary}"]
    for c in moved:
        tag = "" if c.direction == "same" else f"  [{c.direction}]"
        lines += ["", f"{c.slug}: {verdict(c.old_verdict)} -> {verdict(c.new_verdict)}{tag}"]
        lines += [f"  claim {k}: {a} -> {b}" for k, a, b in c.claims]
        by_check: dict[str, list[str]] = {}
        for name, q, a, b in c.numbers:
            by_check.setdefault(name, []).append(f"{q} {a} -> {b}")
        lines += [f"  check {name}: {'; '.join(parts)}" for name, parts in by_check.items()]
        lines += [f"  {n}" for n in c.notes]
    if same:
        lines += ["", "Unchanged: " + ", ".join(same) + "."]
    return "\n".join(lines) + "\n"
