"""Run experiments, write ``results.json``, figures and a self-contained HTML report."""

from __future__ import annotations

import base64
import html
import json
import math
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._core import Result
from .registry import get_experiment

__all__ = ["RunRecord", "run_experiments", "write_report", "summary_rows"]


@dataclass
class RunRecord:
    """The outcome of running one experiment."""

    slug: str
    claim: str
    seconds: float
    result: Result | None = None
    error: str | None = None
    figure_files: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.error is not None:
            return "error"
        assert self.result is not None
        if self.result.failed_checks:
            return "fail"
        if any(c.known_gap for c in self.result.checks.values()):
            return "pass (gaps)"
        return "pass"

    def to_json(self) -> dict[str, Any]:
        res = self.result or Result()
        return {
            "slug": self.slug,
            "claim": self.claim,
            "status": self.status,
            "metrics": {k: _num(v) for k, v in res.metrics.items()},
            "checks": {k: c.to_json() for k, c in res.checks.items()},
            "figures": self.figure_files,
            "seconds": round(self.seconds, 3),
            "error": self.error,
        }


def _num(v: Any) -> Any:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    return f if math.isfinite(f) else None


def run_experiments(
    slugs: list[str],
    out_dir: str | Path,
    *,
    quick: bool = True,
    seed: int = 0,
    progress: bool = False,
) -> list[RunRecord]:
    """Run the experiments ``slugs`` and write their results under ``out_dir``.

    Each experiment writes ``out_dir/<slug>/results.json`` and one PNG per
    figure; ``out_dir/report.html`` summarises all of them. An experiment that
    raises is recorded with its traceback and does not stop the others.
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    records: list[RunRecord] = []
    iterator: Any = slugs
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(slugs, desc="experiments", unit="exp")
    for slug in iterator:
        exp = get_experiment(slug)
        if progress:
            iterator.set_postfix_str(slug)
        t0 = time.perf_counter()
        try:
            result = exp.run(quick=quick, seed=seed)
            if not isinstance(result, Result):
                raise TypeError(f"run() must return a Result, got {type(result).__name__}")
            rec = RunRecord(slug, exp.claim, time.perf_counter() - t0, result=result)
        except Exception:  # noqa: BLE001 - an experiment's crash is reported, not fatal
            rec = RunRecord(slug, exp.claim, time.perf_counter() - t0,
                            error=traceback.format_exc())
        d = out / slug
        d.mkdir(parents=True, exist_ok=True)
        if rec.result is not None:
            for name, fig in rec.result.figures.items():
                fname = f"{name}.png"
                fig.savefig(d / fname, dpi=110, bbox_inches="tight")
                plt.close(fig)
                rec.figure_files.append(fname)
        (d / "results.json").write_text(json.dumps(rec.to_json(), indent=2))
        records.append(rec)
    write_report(records, out)
    return records


def summary_rows(records: list[RunRecord]) -> list[tuple[str, str, str, str, str]]:
    """(slug, status, checks passed, known gaps, seconds) per record."""
    rows = []
    for r in records:
        checks = r.result.checks if r.result else {}
        n_ok = sum(c.passed for c in checks.values())
        gaps = sum(c.known_gap is not None for c in checks.values())
        rows.append((r.slug, r.status, f"{n_ok}/{len(checks)}", str(gaps), f"{r.seconds:.1f}"))
    return rows


_CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:4px 8px;
text-align:left}th{background:#f3f3f3}.pass{color:#176b2c}.fail,.error{color:#b00020;font-weight:600}
.gap{color:#9a6700}img{max-width:100%;border:1px solid #eee;margin:0.3em 0}
pre{background:#f7f7f7;padding:0.8em;overflow-x:auto}
"""


def _fmt(v: float | None) -> str:
    if v is None:
        return "n/a"
    v = float(v)
    if not math.isfinite(v):
        return str(v)
    return f"{v:.4g}"


def write_report(records: list[RunRecord], out_dir: str | Path) -> Path:
    """Write ``out_dir/report.html`` with the summary table first and figures embedded."""
    out = Path(out_dir)
    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>mintlab report</title>",
        f"<style>{_CSS}</style></head><body><h1>mintlab reproductions</h1>",
        f"<p>{len(records)} experiment(s), written {esc(time.strftime('%Y-%m-%d %H:%M:%S'))}.</p>",
        "<h2>Summary</h2><table><tr><th>slug</th><th>status</th><th>checks passed</th>"
        "<th>known gaps</th><th>seconds</th></tr>",
    ]
    for slug, st, checks, gaps, secs in summary_rows(records):
        cls = st.split()[0]
        parts.append(
            f"<tr><td><a href='#{esc(slug)}'>{esc(slug)}</a></td><td class='{cls}'>{esc(st)}</td>"
            f"<td>{checks}</td><td>{gaps}</td><td>{secs}</td></tr>"
        )
    parts.append("</table>")
    gap_rows = [
        (r.slug, name, c)
        for r in records if r.result
        for name, c in r.result.checks.items() if c.known_gap
    ]
    if gap_rows:
        parts.append("<h2>Known gaps</h2><p>Claims that do not hold at our scale, with the reason."
                     "</p><table><tr><th>slug</th><th>check</th><th>measured</th><th>threshold</th>"
                     "<th>reason</th></tr>")
        for slug, name, c in gap_rows:
            parts.append(f"<tr><td>{esc(slug)}</td><td>{esc(name)}</td><td>{_fmt(c.measured)}</td>"
                         f"<td>{esc(c.op)} {_fmt(c.threshold)}</td>"
                         f"<td>{esc(c.known_gap)}</td></tr>")
        parts.append("</table>")
    for r in records:
        parts.append(f"<h2 id='{esc(r.slug)}'>{esc(r.slug)}</h2>"
                     f"<p><b>Claim.</b> {esc(r.claim)}</p>")
        if r.error:
            parts.append(f"<p class='error'>The experiment raised:</p><pre>{esc(r.error)}</pre>")
            continue
        assert r.result is not None
        if r.result.checks:
            parts.append("<table><tr><th>check</th><th>passed</th><th>measured</th>"
                         "<th>threshold</th><th>note</th></tr>")
            for name, c in r.result.checks.items():
                cls = "gap" if c.known_gap else ("pass" if c.passed else "fail")
                note = f"known gap: {c.known_gap}" if c.known_gap else c.description
                parts.append(
                    f"<tr><td>{esc(name)}</td><td class='{cls}'>{'yes' if c.passed else 'no'}</td>"
                    f"<td>{_fmt(c.measured)}</td><td>{esc(c.op)} {_fmt(c.threshold)}</td>"
                    f"<td>{esc(note)}</td></tr>"
                )
            parts.append("</table>")
        if r.result.metrics:
            parts.append("<table><tr><th>metric</th><th>value</th></tr>")
            for k, v in r.result.metrics.items():
                parts.append(f"<tr><td>{esc(k)}</td><td>{_fmt(_num(v))}</td></tr>")
            parts.append("</table>")
        for fname in r.figure_files:
            data = base64.b64encode((out / r.slug / fname).read_bytes()).decode("ascii")
            parts.append(f"<figure><img alt='{esc(fname)}' src='data:image/png;base64,{data}'>"
                         f"<figcaption>{esc(fname)}</figcaption></figure>")
    parts.append("</body></html>")
    path = out / "report.html"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
