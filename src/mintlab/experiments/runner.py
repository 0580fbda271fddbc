"""Run experiments over seeds, judge them, write ``results.json``, figures and a report.

The unit of work is one (paper, seed) task (:func:`run_seed`). Tasks run one
after another in this process, or in parallel on a Dask cluster
(``workers=N`` starts a local one, ``scheduler=ADDRESS`` uses an existing
one). Each finished task is written to ``<out>/<slug>/seeds/seed-<s>.json``
as it arrives, so an interrupted run resumes where it stopped
(``resume=True``). When all seeds of a paper are in, their samples are
pooled and judged (:func:`~mintlab.experiments._core.merge_results`), the
paper gets its verdict, and one report covers every paper.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import json
import math
import re
import time
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
from .registry import get_experiment, paper

__all__ = ["RunRecord", "SeedOutcome", "run_seed", "run_experiments", "write_report",
           "summary_rows", "seed_list", "load_records", "markdown_summary"]


def seed_list(base_seed: int, n: int) -> list[int]:
    """The seeds of a run: ``base_seed``, ``base_seed + 1``, ... (``n`` of them)."""
    if isinstance(base_seed, bool) or not isinstance(base_seed, int) or base_seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {base_seed!r}")
    return [base_seed + i for i in range(n)]


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

    def result(self) -> Result:
        checks = {k: Check.from_json(k, d) for k, d in self.checks.items()}
        return Result(metrics=dict(self.metrics), checks=checks, seed=self.seed)

    def to_json(self) -> dict[str, Any]:
        return {"slug": self.slug, "seed": self.seed, "seconds": round(self.seconds, 3),
                "metrics": {k: _num(v) for k, v in self.metrics.items()},
                "checks": self.checks, "error": self.error}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SeedOutcome:
        return cls(d["slug"], int(d["seed"]), float(d["seconds"]), dict(d["metrics"]),
                   dict(d["checks"]), {}, d.get("error"))


def run_seed(slug: str, settings: Settings, seed: int, *, figures: bool = True,
             threads: int | None = None) -> SeedOutcome:
    """Run one seed of ``slug`` at ``settings``; never raises (the error is recorded).

    Figures are rendered to PNG bytes when ``figures`` is true and closed
    otherwise. ``threads`` pins torch's intra-op threads, numba's and the BLAS /
    OpenMP pools (threadpoolctl) for the task: results are identical between two runs
    only at equal thread counts, and small models run faster on one thread when
    the cores are shared.
    """
    import contextlib

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
        numba.set_num_threads(min(int(threads), numba.config.NUMBA_NUM_THREADS))
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

    @property
    def title(self) -> str:
        try:
            return paper(self.slug).title
        except KeyError:
            return self.slug

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
        }


def _num(v: Any) -> Any:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    return f if math.isfinite(f) else None


def _record(exp: Experiment, mode: str, settings: Settings, outcomes: list[SeedOutcome],
            out: Path) -> RunRecord:
    seeds = [o.seed for o in outcomes]
    rec = RunRecord(exp.slug, mode, seeds, sum(o.seconds for o in outcomes), dict(exp.claims),
                    exp.expected, settings.to_json(), exp.data, exp.full_scale,
                    seed_seconds=[o.seconds for o in outcomes])
    errors = [f"seed {o.seed}:\n{o.error}" for o in outcomes if o.error]
    if errors:
        rec.error = "\n".join(errors)
    else:
        try:
            rec.result = merge_results([o.result() for o in outcomes])
            rec.verdict = judge(exp.claims, rec.result)
        except Exception:  # noqa: BLE001
            rec.error = traceback.format_exc()
    d = out / exp.slug
    d.mkdir(parents=True, exist_ok=True)
    first = next((o for o in outcomes if o.figures), None)
    if first is not None:
        for name, png in first.figures.items():
            (d / f"{name}.png").write_bytes(png)
            rec.figure_files.append(f"{name}.png")
    (d / "results.json").write_text(json.dumps(rec.to_json(), indent=2))
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
    d = json.loads(path.read_text())
    if _knobs(d.get("settings") or {}) != _knobs(settings.to_json()) or d.get("error"):
        return None
    return SeedOutcome.from_json(d)


def _save_seed(out: Path, o: SeedOutcome, settings: Settings) -> None:
    path = _seed_file(out, o.slug, o.seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**o.to_json(), "settings": settings.to_json()}))
    for name, png in o.figures.items():
        (path.parent / f"seed-{o.seed}-{name}.png").write_bytes(png)


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
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    slugs = list(slugs)
    exps = {s: get_experiment(s) for s in slugs}
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

    records = [_record(exps[s], mode, plan[s][0], [done[(s, sd)] for sd in plan[s][1]], out)
               for s in slugs]
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
            client.close()
            cluster.close()


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
    rows = []
    for r in _sorted(records):
        held = f"{r.verdict.held}/{r.verdict.total}" if r.verdict else f"-/{len(r.claims)}"
        change = {"below": "BELOW expected", "above": "above expected"}.get(r.change or "", "")
        rows.append((r.slug, r.status, held, change, str(len(r.seeds)), f"{r.seconds:.1f}"))
    return rows


_CSS = """
body{font-family:system-ui,sans-serif;max-width:1150px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:4px 8px;
text-align:left;vertical-align:top}th{background:#f3f3f3}
.reproduced{color:#176b2c;font-weight:600}.partly{color:#9a6700;font-weight:600}
.not,.error,.fail{color:#b00020;font-weight:600}.pass{color:#176b2c}.gap{color:#9a6700}
img{max-width:100%;border:1px solid #eee;margin:0.3em 0}pre{background:#f7f7f7;padding:0.8em;
overflow-x:auto}.small{font-size:90%;color:#555}
"""


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


def write_report(records: list[RunRecord], out_dir: str | Path) -> Path:
    """Write ``out_dir/report.html``: the verdict table first, then one section per paper."""
    out = Path(out_dir)
    esc = html.escape
    ordered = _sorted(records)
    counts: dict[str, int] = {}
    for r in records:
        key = _css_class(r.status)
        counts[key] = counts.get(key, 0) + 1
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>mintlab report</title>",
        f"<style>{_CSS}</style></head><body><h1>mintlab reproductions</h1>",
        f"<p>{len(records)} paper(s), written {esc(time.strftime('%Y-%m-%d %H:%M:%S'))}: "
        f"{counts.get('reproduced', 0)} reproduced, {counts.get('partly', 0)} partly "
        f"reproduced, {counts.get('not', 0)} not reproduced at this scale, "
        f"{counts.get('error', 0)} raised an error.</p>",
        "<p class='small'>A claim holds when every check of it passes. A comparison passes "
        "only when the whole 95% interval of (ours - baseline) clears its margin, pooled over "
        "seeds; a tie never passes.</p>",
        "<h2>Verdicts</h2><table><tr><th>slug</th><th>paper</th><th>verdict</th>"
        "<th>claims held</th><th>data</th><th>scale-down</th><th>seeds</th>"
        "<th>seconds</th></tr>",
    ]
    for r in ordered:
        held = f"{r.verdict.held} of {r.verdict.total}" if r.verdict else "-"
        note = {"below": " (below expected)", "above": " (above expected)"}.get(r.change or "", "")
        parts.append(
            f"<tr><td><a href='#{esc(r.slug)}'>{esc(r.slug)}</a></td><td>{esc(r.title)}</td>"
            f"<td class='{_css_class(r.status)}'>{esc(r.status)}{esc(note)}</td><td>{held}</td>"
            f"<td>{esc(r.data)}</td><td>{esc(r.mode)} settings</td><td>{len(r.seeds)}</td>"
            f"<td>{r.seconds:.1f}</td></tr>")
    parts.append("</table>")
    for r in ordered:
        parts.append(f"<h2 id='{esc(r.slug)}'>{esc(r.slug)}: {esc(r.title)}</h2>"
                     f"<p>Verdict: <span class='{_css_class(r.status)}'>{esc(r.status)}</span>"
                     f" (expected in quick mode: {esc(r.expected)}). Data: {esc(r.data)}. "
                     f"Seeds: {', '.join(map(str, r.seeds))}.</p>")
        if r.error:
            parts.append(f"<p class='error'>The experiment raised:</p><pre>{esc(r.error)}</pre>")
            continue
        assert r.result is not None and r.verdict is not None
        parts.append("<table><tr><th>claim</th><th>check</th><th>ours vs baseline</th>"
                     "<th>95% interval</th><th>rule</th><th>result</th></tr>")
        for key, text in r.claims.items():
            mine = [c for c in r.result.checks.values() if c.claim == key]
            holds = r.verdict.claims.get(key, False)
            cls = "pass" if holds else "fail"
            head = (f"<td rowspan='{max(1, len(mine))}'><b>{esc(key)}</b>: {esc(text)}<br>"
                    f"<span class='{cls}'>{'holds' if holds else 'does not hold'}</span></td>")
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
        for fname in r.figure_files:
            data = base64.b64encode((out / r.slug / fname).read_bytes()).decode("ascii")
            parts.append(f"<figure><img alt='{esc(fname)}' src='data:image/png;base64,{data}'>"
                         f"<figcaption>{esc(fname)}</figcaption></figure>")
        if r.result.metrics:
            parts.append("<details><summary>metrics (mean over seeds)</summary><table>"
                         "<tr><th>metric</th><th>value</th></tr>")
            for k, v in r.result.metrics.items():
                parts.append(f"<tr><td>{esc(k)}</td><td>{_fmt(_num(v))}</td></tr>")
            parts.append("</table></details>")
        settings = ", ".join(f"{k}={v}" for k, v in r.settings.items())
        parts.append(f"<p class='small'>Settings ({esc(r.mode)}): {esc(settings)}.</p>")
        if r.full_scale:
            parts.append(f"<p class='small'>At full scale: {esc(r.full_scale)}</p>")
    parts.append("</body></html>")
    path = out / "report.html"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- reading runs back


def load_records(run_dir: str | Path) -> list[RunRecord]:
    """The records of a finished run, rebuilt from its ``<slug>/results.json`` files.

    ``run_dir`` is a folder written by :func:`run_experiments`, or a flat
    folder of ``<slug>.json`` files written by :func:`export_records` (such as
    ``docs/reproductions``).

    Checks are judged again from their stored samples, so a report written from
    them says exactly what the run said.
    """
    root = Path(run_dir)
    files = sorted(root.glob("*/results.json")) or sorted(root.glob("*.json"))
    if not files:
        raise FileNotFoundError(f"run_dir {str(root)!r} holds no <slug>/results.json "
                                "and no <slug>.json")
    records = []
    for f in files:
        d = json.loads(f.read_text())
        if not isinstance(d, dict) or "slug" not in d or "claims" not in d:
            raise ValueError(f"{str(f)!r} is not the results.json of a mintlab run")
        claims = {k: v["text"] for k, v in d["claims"].items()}
        rec = RunRecord(d["slug"], d["mode"], list(d["seeds"]), float(d["seconds"]), claims,
                        d["expected"], d["settings"], d.get("data", ""), d.get("full_scale", ""),
                        error=d.get("error"), figure_files=list(d.get("figures", [])),
                        seed_seconds=list(d.get("seed_seconds", [])))
        if rec.error is None:
            res = Result(metrics=dict(d["metrics"]),
                         checks={k: Check.from_json(k, c) for k, c in d["checks"].items()})
            res.per_seed_metrics = {k: list(v) for k, v in
                                    d.get("metrics_per_seed", {}).items()}
            rec.result, rec.verdict = res, judge(claims, res)
        records.append(rec)
    return records


def export_records(records: list[RunRecord], to_dir: str | Path) -> list[Path]:
    """Write each record as ``<to_dir>/<slug>.json`` (replacing an older one).

    This is how full-scale results are published (``docs/reproductions``): one
    file per paper, the same content as the run's ``results.json`` without
    figures, readable back by :func:`load_records`.
    """
    out = Path(to_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for r in records:
        d = r.to_json()
        d["figures"] = []
        path = out / f"{r.slug}.json"
        path.write_text(_compact_lists(json.dumps(d, indent=1)) + "\n")
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
            holds = "holds" if r.verdict.claims.get(key) else "does not hold"
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
    return "\n".join(lines) + "\n"
