"""Pages of the documentation site that are generated from the code and the results.

``docs/conf.py`` calls :func:`generate` before Sphinx reads the sources; it can
also be run alone (``python tools/docs_site.py``) to look at the generated
sources. It writes, all git-ignored:

- ``docs/api/<family>.rst``: one API page per family, listing every name in
  each subpackage's ``__all__`` (autodoc + numpydoc);
- ``docs/gallery/``: one page per paper from ``docs/reproductions/<slug>.json``
  (claims, verdict, ours vs baseline with intervals, a figure drawn from those
  numbers, the command that reproduces it) and an index with a family and
  verdict filter;
- ``docs/benchmarks/index.md``: the benchmark tables from
  ``benchmarks/results/*.json`` (through ``benchmarks.tables``) and plots of
  time against size; without result files it shows the committed
  ``docs/benchmarks.md``.

Files are rewritten only when their content changes, so an incremental
``make docs`` re-reads only what changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import importlib
import inspect
import json
import math
import os
import re
import sys
import tempfile
import types
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
REPRODUCTIONS = DOCS / "reproductions"
PAPERS_META = Path(__file__).resolve().parent / "docs_papers.json"

for _p in (ROOT, ROOT / "src"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))


def write_if_changed(path: Path, text: str | bytes) -> bool:
    """Write ``text`` to ``path`` unless it already holds exactly that; True if written."""
    data = text.encode() if isinstance(text, str) else text
    if path.exists() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    # a unique temporary name: two builds at once (make docs beside the test suite) never
    # write into, or rename away, each other's temporary file
    with _unique_tmp(path) as tmp:
        tmp.write_bytes(data)
    return True


@contextlib.contextmanager
def _unique_tmp(path: Path):
    """A fresh temporary path beside ``path``, renamed onto it when the block succeeds."""
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp" + path.suffix,
                                dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def md_escape(text: str) -> str:
    """``text`` with Markdown's inline punctuation escaped (for table cells and prose)."""
    return re.sub(r"([\\`*_\[\]<>|#$])", r"\\\1", str(text)).replace("\n", " ")


# ============================================================================ API reference

#: (page, title, intro, modules): one page per family, each module a section.
API_PAGES: list[tuple[str, str, str, list[str]]] = [
    ("transport", "Transport", "Two measures in, a cost or a plan out: 1D kernels, slicers, "
     "sliced distances, sliced plans, partial and Gromov-Wasserstein transport, transport on "
     "signals.", ["mintlab.transport"]),
    ("pot", "POT drop-in", "``import mintlab.pot as ot``: POT's names, signatures and return "
     "types, computed by mintlab's kernels.", ["mintlab.pot"]),
    ("embed", "Embeddings", "One measure in, a vector out: scikit-learn estimators.",
     ["mintlab.embed"]),
    ("nn", "Layers and attention", "``torch.nn.Module`` layers for sets: pooling, attention, "
     "backbones.", ["mintlab.nn"]),
    ("ood", "Accuracy under shift", "Predicting a classifier's accuracy on unlabelled shifted "
     "data.", ["mintlab.ood"]),
    ("registration", "Registration", "Partial-transport point-cloud registration.",
     ["mintlab.registration"]),
    ("scale", "Scale-out", "The same embeddings and indexes on Dask and sharded FAISS.",
     ["mintlab.scale"]),
    ("generative", "Generative models", "Sinkhorn drifting and transport mean flows.",
     ["mintlab.generative"]),
    ("compress", "Compression", "Random-basis reparameterisations (PRANC, MCNC), NOLA "
     "adapters, SVD compression of language models and rotation-based quantisation.",
     ["mintlab.compress", "mintlab.compress.svd", "mintlab.compress.quant"]),
    ("continual", "Continual learning", "Task streams, strategies and plugins, lifelong "
     "metrics, attacks and unlearning.", ["mintlab.continual"]),
    ("distill", "Distillation", "Dataset distillation, soft-label compression and knowledge "
     "distillation.", ["mintlab.distill"]),
    ("apps", "Applications", "Fairness-aware prompt refinement and surgical data science.",
     ["mintlab.apps", "mintlab.apps.fairness", "mintlab.apps.surgical"]),
    ("datasets", "Datasets", "Offline data: real images, signals and corpora shipped or "
     "packaged, and procedural data.", ["mintlab.datasets"]),
    ("models", "Models", "Offline pretrained models behind one loader each.",
     ["mintlab.models"]),
    ("experiments", "Experiments", "The reproductions: experiments, claims, checks, verdicts "
     "and the runner behind ``mintlab run``.", ["mintlab.experiments"]),
    ("typing", "Types", "Type aliases used in mintlab's signatures.", ["mintlab.typing"]),
    ("errors", "Errors", "Exceptions beyond the built-in ``ValueError`` and ``TypeError``.",
     ["mintlab.errors"]),
]


def _heading(text: str, char: str, over: bool = False) -> str:
    line = char * len(text)
    return f"{line}\n{text}\n{line}\n" if over else f"{text}\n{line}\n"


def _summary_line(obj: Any) -> str:
    doc = inspect.getdoc(obj) or ""
    first = doc.strip().split("\n\n")[0].replace("\n", " ").strip()
    return first.rstrip(".")


def _kind(obj: Any) -> str:
    if isinstance(obj, types.ModuleType):
        return "module"
    if inspect.isclass(obj):
        return "class"
    if callable(obj) and (inspect.isfunction(obj) or inspect.isbuiltin(obj)
                          or hasattr(obj, "__wrapped__")):
        return "function"
    return "data"


def _public_names(mod: types.ModuleType) -> list[str]:
    names = getattr(mod, "__all__", None)
    if names is None:
        return []
    return list(names)


def _module_section(modname: str, level_char: str, documented: set[int]) -> list[str]:
    """The reST for one module: its docstring, a summary table, then each name grouped by
    the submodule that defines it."""
    mod = importlib.import_module(modname)
    names = _public_names(mod)
    out = [f".. automodule:: {modname}", "   :no-members:", "",
           f".. currentmodule:: {modname}", ""]
    if not names:
        return out
    out += [".. autosummary::", "   :nosignatures:", ""]
    out += [f"   {n}" for n in names] + [""]

    groups: dict[str, list[tuple[str, str]]] = {}
    submodules: list[str] = []
    for n in names:
        obj = getattr(mod, n)
        kind = _kind(obj)
        if kind == "module":
            submodules.append(n)
            continue
        if kind == "data":
            key = "__data__"
        else:
            key = getattr(obj, "__module__", None) or modname
            if not key.startswith("mintlab"):
                key = modname
        groups.setdefault(key, []).append((n, kind))

    for key, items in groups.items():
        if key == "__data__":
            title = "Constants and type aliases"
        elif key == modname:
            title = _summary_line(mod) or modname
            title = "Other names" if len(groups) > 1 else title
        else:
            sub = sys.modules.get(key)
            title = (_summary_line(sub) if sub is not None else "") or key
        title = re.sub(r"\s*\(``[^`]+``\)$", "", title)
        if len(title) > 90:
            title = title[:87].rsplit(" ", 1)[0]
            if title.count("``") % 2:
                title = title[:title.rfind("``")].rstrip(" ,:;(")
            title += " ..."
        out += [_heading(title, level_char), ""]
        if key not in ("__data__", modname):
            out += [f"Defined in ``{key}``.", ""]
        for n, kind in items:
            documented.add(id(getattr(mod, n)))
            out += _entry(n, kind, modname)

    for n in submodules:
        sub = getattr(mod, n)
        extra = [m for m in _public_names(sub) if id(getattr(sub, m, None)) not in documented]
        out += [_heading(f"``{sub.__name__}``", level_char), ""]
        out += [f".. automodule:: {sub.__name__}", "   :no-members:", "",
                f".. currentmodule:: {sub.__name__}", ""]
        if extra:
            out += [".. autosummary::", "   :nosignatures:", ""]
            out += [f"   {m}" for m in extra] + [""]
            for m in extra:
                obj = getattr(sub, m)
                documented.add(id(obj))
                out += _entry(m, _kind(obj), sub.__name__)
        out += [f".. currentmodule:: {modname}", ""]
    return out


def _entry(name: str, kind: str, modname: str) -> list[str]:
    if kind == "class":
        return [f".. autoclass:: {name}", "   :members:", "   :show-inheritance:", ""]
    if kind == "function":
        return [f".. autofunction:: {name}", ""]
    if kind == "module":
        return []
    value = modname == "mintlab.typing"
    return [f".. autodata:: {name}"] + ([] if value else ["   :no-value:"]) + [""]


def generate_api(docs: Path = DOCS) -> list[Path]:
    """One ``docs/api/<page>.rst`` per family; returns the pages written or kept."""
    pages = []
    for page, title, intro, modules in API_PAGES:
        lines = [f".. _api-{page}:", "", _heading(title, "=", over=True)]
        if len(modules) > 1 or not inspect.getdoc(importlib.import_module(modules[0])):
            lines += [intro, ""]
        documented: set[int] = set()
        if len(modules) == 1:
            lines += _module_section(modules[0], "-", documented)
        else:
            for m in modules:
                lines += [_heading(f"``{m}``", "-"), ""]
                lines += _module_section(m, "~", documented)
        path = docs / "api" / f"{page}.rst"
        write_if_changed(path, "\n".join(lines).rstrip() + "\n")
        pages.append(path)
    return pages


# ============================================================================ gallery

VERDICT_CLASS = {"reproduced": "reproduced", "not reproduced at this scale": "not",
                 "error": "error"}
CLAIM_MARK = {"holds": "\u2713 holds", "known gap": "\u25d0 known gap",
              "does not hold": "\u2717 does not hold", "no check": "\u2717 no check"}


def verdict_class(verdict: str) -> str:
    """The CSS class of a verdict: reproduced, partly, not or error."""
    return VERDICT_CLASS.get(verdict, "partly")


def verdict_group(verdict: str) -> str:
    """The verdict without its count: for filters and tallies."""
    return {"partly": "partly reproduced", "not": "not reproduced at this scale"}.get(
        verdict_class(verdict), verdict)


def badge(verdict: str) -> str:
    return (f'<span class="ml-badge ml-{verdict_class(verdict)}">'
            f"{html.escape(verdict)}</span>")


def _fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if not math.isfinite(f):
        return "n/a"
    return f"{f:.4g}"


def load_paper_meta() -> dict[str, dict[str, Any]]:
    """Authors and year per slug (the catalog holds slug, family and title)."""
    return json.loads(PAPERS_META.read_text(encoding="utf-8"))


def reproduction_records() -> list[Any]:
    """The judged records of ``docs/reproductions`` (empty when the folder is absent)."""
    from mintlab.experiments.runner import load_records

    if not REPRODUCTIONS.is_dir() or not any(REPRODUCTIONS.glob("*.json")):
        return []
    return load_records(REPRODUCTIONS)


def verdict_tally(records: list[Any]) -> dict[str, int]:
    """Counts of reproduced / partly / not / error over ``records``."""
    tally = {"reproduced": 0, "partly": 0, "not": 0, "error": 0}
    for r in records:
        tally[verdict_class(r.status)] += 1
    return tally


def _check_row(c: Any) -> tuple[str, ...]:
    lo, hi = c.interval
    interval = f'<span class="ml-nowrap">[{_fmt(lo)}, {_fmt(hi)}]</span>'
    if c.kind == "compare":
        ours, base, diff = _fmt(c.ours_mean), _fmt(c.baseline_mean), _fmt(c.measured)
    else:
        ours, base, diff = _fmt(c.measured), "\u2014", "\u2014"
    if c.passed:
        result = '<span class="ml-pass">\u2713 pass</span>'
    elif c.known_gap:
        result = '<span class="ml-gap">\u25d0 gap</span>'
    else:
        result = '<span class="ml-fail">\u2717 fail</span>'
    rule = md_escape(c.rule.replace(" - ", " \u2212 "))
    return (f'`{c.name}`<br><span class="ml-sub">claim `{c.claim}`</span>', ours, base, diff,
            interval, f'{rule}<br><span class="ml-sub">n = {c.n} {c.unit}s</span>', result)


def _target(c: Any) -> float | None:
    """The value the interval must clear: the signed margin, or the threshold."""
    if c.kind == "compare":
        m = float(c.margin or 0.0)
        return m if c.better == "higher" else -m
    return None if c.threshold is None else float(c.threshold)


def _passes_above(c: Any) -> bool:
    if c.kind == "compare":
        return c.better == "higher"
    return str(c.op).startswith(">")


def draw_checks_figure(record: Any, path: Path) -> bool:
    """One row per check: the measured value, its 95% interval and the margin to clear.

    Returns False (and writes nothing) when the record has no checks.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    checks = list(record.result.checks.values()) if record.result is not None else []
    if not checks:
        return False
    order = {k: i for i, k in enumerate(record.claims)}
    checks.sort(key=lambda c: order.get(c.claim, len(order)))
    n = len(checks)
    fig, axes = plt.subplots(n, 1, figsize=(7.5, 0.9 * n + 0.5), squeeze=False,
                             layout="constrained")
    for ax, c in zip(axes[:, 0], checks, strict=True):
        lo, hi = (float("nan") if v is None else float(v) for v in c.interval)
        mid = float("nan") if c.measured is None else float(c.measured)
        target = _target(c)
        values = [v for v in (lo, hi, mid, target) if v is not None and math.isfinite(v)]
        if not values:
            ax.set_axis_off()
            continue
        span = (max(values) - min(values)) or max(abs(values[0]), 1.0)
        left, right = min(values) - 0.15 * span, max(values) + 0.15 * span
        ax.set_xlim(left, right)
        if target is not None and math.isfinite(target):
            if _passes_above(c):
                ax.axvspan(target, right, color="#d8f0dd", zorder=0)
            else:
                ax.axvspan(left, target, color="#d8f0dd", zorder=0)
            ax.axvline(target, color="#555555", ls="--", lw=1, zorder=1)
        color = "#176b2c" if c.passed else ("#b7791f" if c.known_gap else "#b00020")
        if math.isfinite(lo) and math.isfinite(hi):
            ax.plot([lo, hi], [0, 0], color=color, lw=3, solid_capstyle="butt", zorder=2)
        if math.isfinite(mid):
            ax.plot([mid], [0], "o", color=color, ms=6, zorder=3)
        ax.set_yticks([])
        ax.set_ylim(-1, 1)
        label = c.name if len(c.name) <= 38 else c.name[:36] + "\u2026"
        what = "ours \u2212 baseline" if c.kind == "compare" else "value"
        ax.set_title(f"{label}  ({what})", fontsize=8.5, loc="left", pad=2)
        ax.tick_params(axis="x", labelsize=7.5)
        for side in ("left", "right", "top"):
            ax.spines[side].set_visible(False)
    fig.suptitle(f"{record.slug}: each check's 95% interval (bar), mean (dot) and margin "
                 "(dashed); the green side passes", fontsize=9, x=0.01, ha="left")
    path.parent.mkdir(parents=True, exist_ok=True)
    with _unique_tmp(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return True


def _run_figures(slug: str) -> list[Path]:
    """PNGs of the newest local run of ``slug`` under ``runs/`` (none is needed)."""
    runs = ROOT / "runs"
    if not runs.is_dir():
        return []
    candidates = sorted((p for p in runs.glob(f"*/{slug}") if p.is_dir()),
                        key=lambda p: p.parent.name)
    for folder in reversed(candidates):
        pngs = sorted(folder.glob("*.png"))
        if pngs:
            return pngs
    return []


def gallery_page(record: Any, meta: dict[str, Any], family: str, figure: str | None,
                 run_figures: list[str]) -> str:
    from mintlab.experiments.runner import claim_status

    slug = record.slug
    held = (f"{record.verdict.held} of {record.verdict.total} claims hold"
            if record.verdict is not None else "the run raised an error")
    authors = meta.get("authors", "")
    year = meta.get("year", "")
    lines = [f"(gallery-{slug})=", f"# {md_escape(record.title)}", "",
             f'<p class="ml-meta">{badge(record.status)} '
             f'<span class="ml-family">{html.escape(family)}</span> '
             f'<code>{html.escape(slug)}</code></p>', "",
             f"**Paper.** *{md_escape(record.title)}*, {md_escape(authors)}, {year}.", "",
             f"**Verdict: {record.status}** ({held}), measured with the **{record.mode}** "
             f"settings over {len(record.seeds)} seed{'s' if len(record.seeds) != 1 else ''} "
             f"in {record.seconds:.0f} s. The quick settings are expected to reach "
             f"*{record.expected}* (`EXPECTED`, enforced by the test suite).", "",
             f"**Data.** {md_escape(record.data)}", ""]
    if record.full_scale:
        lines += [f"**At the paper's scale.** {md_escape(record.full_scale)}", ""]
    if record.error:
        lines += ["```{error}", "This run raised an error; its traceback is in the JSON file.",
                  "```", ""]

    lines += ["## Claims", "", "From the paper's abstract; a claim holds when every check "
              "of it passes.", "", "| claim | status | statement |", "| --- | --- | --- |"]
    for key, text in record.claims.items():
        st = claim_status(record, key)
        cls = {"holds": "ml-pass", "known gap": "ml-gap"}.get(st, "ml-fail")
        lines.append(f'| `{key}` | <span class="{cls}">{CLAIM_MARK.get(st, st)}</span> | '
                     f"{md_escape(text)} |")
    lines.append("")

    checks = list(record.result.checks.values()) if record.result is not None else []
    if checks:
        order = {k: i for i, k in enumerate(record.claims)}
        checks.sort(key=lambda c: order.get(c.claim, len(order)))
        lines += ["## Ours vs baseline", "",
                  "Each comparison pools the paired samples over seeds; it passes only when "
                  "the whole 95% interval of ours \u2212 baseline clears the margin. A check "
                  "without a baseline compares a measured value with a threshold. Result: "
                  "\u2713 passes, \u25d0 fails with a declared known gap, \u2717 fails.", "",
                  "| check | ours | baseline | ours \u2212 baseline | 95% interval | passes when "
                  "| result |", "| --- | --- | --- | --- | --- | --- | --- |"]
        lines += ["| " + " | ".join(_check_row(c)) + " |" for c in checks]
        lines.append("")
        described = [c for c in checks if c.description]
        if described:
            lines += ["What each check measures:", ""]
            lines += [f"`{c.name}`\n: {md_escape(c.description)}\n" for c in described]
        gaps = [c for c in checks if c.known_gap and not c.passed]
        if gaps:
            lines += ["### Known gaps", ""]
            lines += [f"- `{c.name}`: {md_escape(c.known_gap)}" for c in gaps]
            lines.append("")

    if figure or run_figures:
        lines += ["## Figures", ""]
    if figure:
        lines += [f"```{{figure}} {figure}", f":alt: intervals of the checks of {slug}", "",
                  "Each row is one check: the dot is the measured mean (ours \u2212 baseline "
                  "for a comparison), the bar its 95% interval, the dashed line the margin or "
                  "threshold it must clear; the shaded side passes. Green: passes; amber: a "
                  "declared known gap; red: fails.", "```", ""]
    if run_figures:
        lines += ["The figures below come from the newest local run of this paper under "
                  "`runs/` (its own settings and seeds; not necessarily the run whose numbers "
                  "are shown above).", ""]
    for f in run_figures:
        lines += [f"```{{image}} {f}", f":alt: {slug} run figure", "```", ""]

    metrics = record.result.metrics if record.result is not None else {}
    if metrics:
        lines += ["## Metrics", "", "| metric | value |", "| --- | --- |"]
        lines += [f"| `{k}` | {_fmt(v)} |" for k, v in metrics.items()]
        lines.append("")

    lines += ["## Reproduce it", "",
              f"The numbers on this page come from `docs/reproductions/{slug}.json`, written "
              f"by a {record.mode}-mode run. To run it yourself:", "",
              "```console", f"$ mintlab run {slug} --quick    # the quick settings "
              "(what `make demo` and the tests run)",
              f"$ mintlab run {slug} --full     # the full settings",
              "```", "",
              "Each run writes `runs/<time>/<slug>/results.json`, the figures and a "
              "`report.html`.", ""]
    if record.settings:
        lines += [f"### Settings of this run ({record.mode})", "", "| knob | value |",
                  "| --- | --- |"]
        lines += [f"| `{k}` | {md_escape(json.dumps(v))} |" for k, v in record.settings.items()]
        lines.append("")
    return "\n".join(lines)


def gallery_index(records: list[Any], families: dict[str, str],
                  meta: dict[str, dict[str, Any]], family_order: list[str]) -> str:
    tally = verdict_tally(records)
    n = len(records)
    lines = ["(gallery)=", "# Gallery", "",
             f"One page per paper: the claims from its abstract, the verdict, ours against "
             f"the paper's baseline with 95% intervals, a figure of those intervals and the "
             f"command that reproduces it. Of {n} papers, **{tally['reproduced']} are "
             f"reproduced**, {tally['partly']} partly and {tally['not']} not at this scale"
             + (f" ({tally['error']} raised an error)" if tally["error"] else "") + ".", "",
             "The numbers come from `docs/reproductions/*.json` (full-mode runs where a full "
             "run was made, quick-mode runs otherwise).", ""]
    fam_opts = "".join(f'<option value="{html.escape(f)}">{html.escape(f)}</option>'
                       for f in family_order)
    ver_opts = "".join(f'<option value="{v}">{v}</option>' for v in
                       ("reproduced", "partly reproduced", "not reproduced at this scale"))
    from mintlab.experiments.catalog import PAPERS

    rank = {p.slug: i for i, p in enumerate(PAPERS)}
    ordered = sorted(records, key=lambda r: (rank.get(r.slug, len(rank)), r.slug))
    rows = []
    for r in ordered:
        fam = families.get(r.slug, "other")
        m = meta.get(r.slug, {})
        rows.append(
            f'<tr data-family="{html.escape(fam)}" data-verdict="'
            f'{html.escape(verdict_group(r.status))}">'
            f'<td><a href="{r.slug}.html">{html.escape(r.title)}</a>'
            f'<div class="ml-sub">{html.escape(m.get("authors", ""))} '
            f'({m.get("year", "")}) \u00b7 <code>{r.slug}</code></div></td>'
            f"<td>{html.escape(fam)}</td><td>{badge(r.status)}</td>"
            f"<td>{r.mode}</td></tr>")
    lines += ['<div class="ml-gallery">',
              '<form id="ml-filters" class="ml-filters" hidden>',
              f'<label>Family <select id="ml-family"><option value="">all</option>{fam_opts}'
              "</select></label>",
              f'<label>Verdict <select id="ml-verdict"><option value="">all</option>{ver_opts}'
              "</select></label>",
              '<span id="ml-count" class="ml-sub"></span></form>',
              '<table class="ml-table"><thead><tr><th>paper</th><th>family</th><th>verdict</th>'
              "<th>settings</th></tr></thead><tbody>", *rows, "</tbody></table></div>", ""]
    lines += ["```{toctree}", ":hidden:", ":maxdepth: 1", ""]
    lines += [r.slug for r in ordered]
    lines += ["```", ""]
    return "\n".join(lines)


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return h.hexdigest()[:16]


def generate_gallery(docs: Path = DOCS) -> list[Path]:
    """The gallery pages and figures; returns the pages written or kept."""
    from mintlab.experiments.catalog import FAMILIES, PAPERS

    out = docs / "gallery"
    figdir = out / "figures"
    records = reproduction_records()
    families = {p.slug: p.family for p in PAPERS}
    meta = load_paper_meta()
    code = Path(__file__).read_bytes()
    pages = []
    keep = {"index.md"}
    for r in records:
        src = REPRODUCTIONS / f"{r.slug}.json"
        stamp = _digest(src.read_bytes(), code)
        fig = figdir / f"{r.slug}.png"
        stamp_file = figdir / f"{r.slug}.stamp"
        has_fig = fig.exists() and stamp_file.exists() and stamp_file.read_text() == stamp
        if not has_fig:
            has_fig = draw_checks_figure(r, fig)
            if has_fig:
                write_if_changed(stamp_file, stamp)
        run_figs = []
        for png in _run_figures(r.slug):
            dst = figdir / "runs" / r.slug / png.name
            write_if_changed(dst, png.read_bytes())
            run_figs.append(f"figures/runs/{r.slug}/{png.name}")
        text = gallery_page(r, meta.get(r.slug, {}), families.get(r.slug, "other"),
                            f"figures/{r.slug}.png" if has_fig else None, run_figs)
        path = out / f"{r.slug}.md"
        write_if_changed(path, text)
        keep.add(path.name)
        pages.append(path)
    write_if_changed(out / "index.md", gallery_index(records, families, meta, list(FAMILIES)))
    for stale in out.glob("*.md"):
        if stale.name not in keep:
            stale.unlink(missing_ok=True)
    return pages


# ============================================================================ benchmarks

_SIZE = re.compile(r"^n=([0-9.]+(?:e[+-]?[0-9]+)?)(.*)$")


def _series(rows: list[dict[str, Any]]) -> dict[str, list[tuple[float, dict[str, Any]]]]:
    """Rows grouped by (kernel or method, size without n), each a list of (n, row)."""
    groups: dict[str, list[tuple[float, dict[str, Any]]]] = {}
    for r in rows:
        m = _SIZE.match(str(r.get("size", "")))
        if m is None or not isinstance(r.get("ours_s"), (int, float)):
            continue
        label = str(r.get("kernel") or r.get("method") or "")
        label = re.sub(r"\s*\(.*?\)", "", label)
        rest = m.group(2).strip(" ,")
        groups.setdefault(f"{label} {rest}".strip(), []).append((float(m.group(1)), r))
    return {k: sorted(v, key=lambda t: t[0]) for k, v in groups.items()
            if len({n for n, _ in v}) >= 2}


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(float(v))


def draw_scaling_figure(name: str, data: dict[str, Any], path: Path) -> bool:
    """Time against size for ours, POT and the floor, one colour per kernel; False if the
    result file has fewer than two sizes of one kernel."""
    groups = _series(data.get("rows", []))
    if not groups:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    fig, ax = plt.subplots(figsize=(8.6, 4.0))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    styles = (("ours_s", "-o", "ours"), ("pot_s", "--s", "POT"), ("floor_s", ":^", "floor"))
    handles, used = [], set()
    for i, (label, pts) in enumerate(groups.items()):
        color = colors[i % len(colors)]
        ns = [n for n, _ in pts]
        for key, style, who in styles:
            ys = [r.get(key) for _, r in pts]
            if all(_finite(y) for y in ys):
                ax.plot(ns, ys, style, color=color, ms=4, lw=1.4)
                used.add(who)
        handles.append(Line2D([], [], color=color, lw=6, label=label))
    handles += [Line2D([], [], color="black", ls=style[:-1] or "-", marker=style[-1], ms=4,
                       label=who) for _, style, who in styles if who in used]
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("n (points per measure)")
    ax.set_ylabel("seconds (median)")
    ax.set_title(f"{data.get('title', name)}", fontsize=9)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(handles=handles, fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              frameon=False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with _unique_tmp(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return True


def _shift_headings(markdown: str, levels: int = 1) -> str:
    return re.sub(r"^(#+) ", lambda m: "#" * (len(m.group(1)) + levels) + " ", markdown,
                  flags=re.M)


def generate_benchmarks(docs: Path = DOCS) -> Path:
    """``docs/benchmarks/index.md``: tables and scaling plots, or the committed tables."""
    out = docs / "benchmarks"
    page = out / "index.md"
    try:
        from benchmarks import tables
    except ImportError:  # pragma: no cover - the repository always has it
        tables = None
    results = tables.load_results() if tables is not None else {}
    lines = ["(benchmarks)=", "# Benchmarks", "",
             "Each benchmark builds its data once, times ours and the anchor (POT, or the "
             "library the paper compares with) alternately after a warm-up, and reports "
             "medians; `anchor/ours` above 1 means ours is faster, `ours/floor` compares "
             "with the cheapest possible computation (for sliced distances one matmul and "
             "one sort). Both sides run at the same torch thread count. Run them with "
             "`make bench` (`make bench-cuda` on a GPU).", ""]
    if not results:
        committed = docs / "benchmarks.md"
        lines += ["```{note}", "No `benchmarks/results/*.json` in this checkout, so the "
                  "plots are left out; the tables below are the committed "
                  "`docs/benchmarks.md`.", "```", ""]
        if committed.exists():
            lines += _all_results(committed.read_text(encoding="utf-8"))
        write_if_changed(page, "\n".join(lines))
        return page

    lines += ["## Headline", "", tables.headline_table(results), ""]
    plots = []
    for name, data in results.items():
        png = out / "figures" / f"{name}.png"
        stamp = _digest(json.dumps(data, sort_keys=True).encode(),
                        Path(__file__).read_bytes())
        stamp_file = png.with_suffix(".stamp")
        if png.exists() and stamp_file.exists() and stamp_file.read_text() == stamp:
            plots.append(name)
        elif draw_scaling_figure(name, data, png):
            write_if_changed(stamp_file, stamp)
            plots.append(name)
    if plots:
        lines += ["## Time against size", "",
                  "Median seconds on log-log axes: ours (solid), POT (dashed) and the floor "
                  "(dotted) where the benchmark measures one.", ""]
        for name in plots:
            lines += [f"```{{figure}} figures/{name}.png", f":alt: {name}: time against size",
                      "", f"`{name}.json`", "```", ""]
    lines += _all_results(tables.full_tables(results))
    write_if_changed(page, "\n".join(lines))
    return page


def _all_results(full: str) -> list[str]:
    """The full tables (``benchmarks.tables.full_tables`` output) under "All results"."""
    body = full.split("\n", 1)[1] if full.startswith("# ") else full
    return ["## All results", "", _shift_headings(body, 1).strip(), ""]


# ============================================================================ landing numbers


def headline_numbers() -> dict[str, str]:
    """Substitutions for the landing page: counts of verdicts over docs/reproductions."""
    records = reproduction_records()
    tally = verdict_tally(records)
    return {"n_papers": str(len(records)), "n_reproduced": str(tally["reproduced"]),
            "n_partly": str(tally["partly"]), "n_not": str(tally["not"])}


def generate(docs: Path = DOCS) -> None:
    """Every generated page of the site."""
    generate_api(docs)
    generate_gallery(docs)
    generate_benchmarks(docs)


if __name__ == "__main__":
    generate()
    print(f"generated the API pages, the gallery and the benchmarks page under {DOCS}")
