"""The run report: warnings per (paper, seed), per-claim states, filters, and comparing runs."""

import json
import re
import warnings
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mintlab.cli import app
from mintlab.experiments import Experiment, Result, Settings, run_experiments
from mintlab.experiments.registry import register, unregister
from mintlab.experiments.runner import (
    claim_status,
    compare_runs,
    comparison_text,
    export_records,
    load_records,
    markdown_summary,
    run_seed,
    warning_summary,
)

runner = CliRunner()
DOCS = Path(__file__).parents[2] / "docs" / "reproductions"


@dataclass(frozen=True, kw_only=True)
class S(Settings):
    n: int


CLAIMS = {"small": "The ratio n/100 is at most one half.",
          "always": "Two is more than one.",
          "gap": "One equals zero."}


def _noisy_run(settings: S, seed: int) -> Result:
    """Three UserWarnings, one numpy RuntimeWarning and one warning naming the seed."""
    for _ in range(3):
        warnings.warn("solver did not converge", UserWarning, stacklevel=1)
    with np.errstate(divide="warn"):
        np.float64(1.0) / np.zeros(1)
    warnings.warn(f"seed {seed} is odd" if seed % 2 else f"seed {seed} is even", stacklevel=1)
    r = Result(seed=seed)
    r.check("ratio", settings.n / 100, 0.5, "<=", claim="small")
    r.check("two_gt_one", 2.0, 1.0, ">", claim="always")
    r.check("one_is_zero", 1.0, 0.0, "<=", claim="gap", known_gap="measured {measured:.1f}")
    return r


def _quiet_run(settings: S, seed: int) -> Result:
    r = Result(seed=seed)
    r.check("ratio", settings.n / 100, 0.5, "<=", claim="small")
    r.check("two_gt_one", 2.0, 1.0, ">", claim="always")
    r.check("one_is_zero", 1.0, 0.0, "<=", claim="gap")  # no known gap: a failed claim
    return r


def _pot_run(settings: S, seed: int) -> Result:
    """POT's own solver warning, raised the way the experiments meet it."""
    import ot

    rng = np.random.default_rng(seed)
    a = np.full(5, 0.2)
    ot.sinkhorn(a, a, rng.random((5, 5)), 0.1, numItermax=2)
    ot.emd(a, a, rng.random((5, 5)), numItermax=2)  # warned from POT's compiled solver
    r = Result(seed=seed)
    r.check("always", 2.0, 1.0, ">", claim="always")
    return r


def _register_all() -> None:
    register(Experiment("rep-noisy", CLAIMS, _noisy_run, S(seeds=2, n=10), S(seeds=2, n=100),
                        "partly reproduced (2 of 3)", data="toy"), replace=True)
    register(Experiment("rep-quiet", CLAIMS, _quiet_run, S(seeds=2, n=10), S(seeds=2, n=100),
                        "partly reproduced (2 of 3)"), replace=True)
    register(Experiment("rep-pot", {"always": "Two is more than one."}, _pot_run,
                        S(seeds=1, n=1), S(seeds=1, n=1), "reproduced"), replace=True)


@pytest.fixture
def toys():
    _register_all()
    yield
    for slug in ("rep-noisy", "rep-quiet", "rep-pot"):
        unregister(slug)


def _by_message(ws):
    return {w["message"]: w for w in ws}


# --------------------------------------------------------------------------- warnings


def test_warnings_are_counted_per_seed_not_printed(tmp_path, toys):
    with warnings.catch_warnings(record=True) as leaked:
        warnings.simplefilter("always")
        rec, quiet = run_experiments(["rep-noisy", "rep-quiet"], tmp_path, base_seed=4)
    assert leaked == [], [str(w.message) for w in leaked]
    ws = _by_message(rec.warnings)
    assert ws["solver did not converge"]["count"] == 6  # 3 per seed, 2 seeds
    assert ws["solver did not converge"]["seeds"] == [4, 5]
    assert ws["solver did not converge"]["category"] == "UserWarning"
    assert ws["seed 4 is even"]["seeds"] == [4] and ws["seed 5 is odd"]["seeds"] == [5]
    div = [w for w in rec.warnings if w["category"] == "RuntimeWarning"]
    assert len(div) == 1 and "divide by zero" in div[0]["message"] and div[0]["count"] == 2
    # the location names the line that warned, without the machine's own prefix
    where = ws["solver did not converge"]["where"]
    assert re.fullmatch(r"experiments/test_report\.py:\d+", where), where
    assert rec.n_warnings == 10 and quiet.warnings == []
    # each seed's file holds its own, the paper's results.json the pooled list
    seed4 = json.loads((tmp_path / "rep-noisy" / "seeds" / "seed-4.json").read_text())
    assert _by_message(seed4["warnings"])["solver did not converge"]["count"] == 3
    data = json.loads((tmp_path / "rep-noisy" / "results.json").read_text())
    assert data["warnings"] == rec.warnings


def test_pot_solver_warnings_are_captured(tmp_path, toys):
    with warnings.catch_warnings(record=True) as leaked:
        warnings.simplefilter("always")
        (rec,) = run_experiments(["rep-pot"], tmp_path)
    assert leaked == []
    emd, sinkhorn = sorted(rec.warnings, key=lambda w: w["message"], reverse=True)
    assert sinkhorn["message"].startswith("Sinkhorn did not converge")
    assert emd["message"].startswith("numItermax reached before optimality")
    for w in (sinkhorn, emd):
        assert w["seeds"] == [0] and w["count"] == 1 and w["where"].startswith("ot/")


def test_filters_in_force_still_apply_and_user_warnings_are_not_silenced(toys):
    settings = S(seeds=1, n=10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # as under `python -W error`
        out = run_seed("rep-noisy", settings, 0, figures=False)
    assert out.error is not None and "UserWarning: solver did not converge" in out.error
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="solver did not converge")
        out = run_seed("rep-noisy", settings, 0, figures=False)
    assert out.error is None and "solver did not converge" not in _by_message(out.warnings)
    # outside the task, the caller's warnings show as before
    with pytest.warns(UserWarning, match="mine"):
        warnings.warn("mine", UserWarning, stacklevel=1)


def test_warnings_on_loading_a_module_belong_to_its_paper(tmp_path, toys, monkeypatch):
    from mintlab.experiments import runner as runner_mod

    real = runner_mod.get_experiment
    imported = set()

    def loading(slug):  # as a paper's module that warns when first imported
        if slug == "rep-quiet" and slug not in imported:
            imported.add(slug)
            warnings.warn("an optional backend is missing", ImportWarning, stacklevel=1)
            warnings.warn("old data format", UserWarning, stacklevel=1)
        return real(slug)

    monkeypatch.setattr(runner_mod, "get_experiment", loading)
    with warnings.catch_warnings(record=True) as leaked:
        warnings.simplefilter("always")
        noisy, quiet = run_experiments(["rep-noisy", "rep-quiet"], tmp_path)
    assert leaked == []
    ws = _by_message(quiet.warnings)
    assert set(ws) == {"old data format", "an optional backend is missing"}
    assert ws["old data format"]["stages"] == ["loading"] and ws["old data format"]["seeds"] == []
    assert "old data format" not in _by_message(noisy.warnings)
    assert "(while loading)" in markdown_summary([quiet])


def test_the_same_line_warning_again_and_again_is_one_entry(toys):
    def run(settings, seed):
        for i in range(200):
            warnings.warn(f"numerical errors at iteration {i}", stacklevel=1)
        r = Result(seed=seed)
        r.check("always", 2.0, 1.0, ">", claim="always")
        return r

    register(Experiment("rep-many", {"always": "x"}, run, S(seeds=1, n=1), S(seeds=1, n=1),
                        "reproduced"), replace=True)
    try:
        out = run_seed("rep-many", S(seeds=1, n=1), 0, figures=False)
    finally:
        unregister("rep-many")
    assert sum(w["count"] for w in out.warnings) == 200
    assert len(out.warnings) <= 25  # itemised kinds are capped, nothing is lost from the count


def _register_on_worker():
    _register_all()


def test_warnings_come_back_from_dask_worker_processes(tmp_path, toys):
    distributed = pytest.importorskip("distributed")
    from mintlab.scale import _client

    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    try:
        with distributed.Client(cluster) as client:
            client.run(_register_on_worker)
            (rec,) = run_experiments(["rep-noisy"], tmp_path, scheduler=cluster.scheduler_address)
        ws = _by_message(rec.warnings)
        assert ws["solver did not converge"]["count"] == 6
        assert ws["solver did not converge"]["seeds"] == [0, 1]
    finally:
        owned = _client._OWNED.pop(cluster.scheduler_address, None)
        if owned is not None:
            owned.close()
        cluster.close()


def test_run_prints_one_warning_line_per_paper_after_the_table(tmp_path, toys):
    res = runner.invoke(app, ["run", "rep-noisy", "rep-quiet", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    out = res.output
    assert "warnings.warn(" not in out  # no raw warning in the middle of the output
    assert out.index("slug") < out.index("10 warning(s) in 1 paper(s)")
    (line,) = [x for x in out.splitlines() if x.strip().startswith("rep-noisy: ")]
    assert line.strip().startswith("rep-noisy: 10 warnings (4 kinds), most often UserWarning: "
                                   "solver did not converge")
    assert not any(x.strip().startswith("rep-quiet:") for x in out.splitlines())


# --------------------------------------------------------------------------- the report


class _Tags(HTMLParser):
    """Checks that container tags nest and collects attributes and external references."""

    CONTAINERS = {"details", "summary", "table", "tr", "form", "select", "main", "ul"}

    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.external, self.ids = [], [], [], []
        self.details = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in self.CONTAINERS:
            self.stack.append(tag)
        if tag == "details" and a.get("class") == "paper":
            self.details += 1
        if "id" in a:
            self.ids.append(a["id"])
        for key in ("src", "href"):
            v = a.get(key) or ""
            if v and not (v.startswith("#") or v.startswith("data:")):
                self.external.append(v)
        if tag == "link" or (tag == "script" and "src" in a):
            self.external.append(tag)

    def handle_endtag(self, tag):
        if tag in self.CONTAINERS:
            if not self.stack or self.stack[-1] != tag:
                self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            else:
                self.stack.pop()


def _section(report: str, slug: str) -> str:
    start = report.index(f"<details class='paper' id='{slug}'")
    return report[start:report.index("</details>\n<details class='paper'", start)
                  if "</details>\n<details class='paper'" in report[start:]
                  else report.index("</main>")]


def test_report_leads_with_verdicts_and_shows_each_claim(tmp_path, toys):
    run_experiments(["rep-quiet", "rep-noisy", "rep-pot"], tmp_path)
    report = (tmp_path / "report.html").read_text()
    tags = _Tags()
    tags.feed(report)
    assert tags.errors == [] and tags.stack == []
    assert tags.external == []  # self-contained: no network
    assert tags.details == 3 and len(tags.ids) == len(set(tags.ids))
    # verdicts first, then the sections, which are collapsible
    assert report.index("Verdicts") < report.index("<details class='paper'")
    assert report.index("reproduced") < report.index("<details")
    # both partly reproduced papers show which claim fails and whether it is a known gap
    table = report[report.index("<tbody>"):report.index("</tbody>")]
    noisy_row = table[table.index("rep-noisy"):]
    noisy_row = noisy_row[:noisy_row.index("</tr>")]
    quiet_row = table[table.index("rep-quiet"):]
    quiet_row = quiet_row[:quiet_row.index("</tr>")]
    assert "small: holds" in noisy_row and "gap: known gap" in noisy_row
    assert "gap: does not hold" in quiet_row and "known gap" not in quiet_row
    assert "class='fail'" in quiet_row
    # the warnings are in the section of the paper that raised them, and only there
    noisy, quiet = _section(report, "rep-noisy"), _section(report, "rep-quiet")
    assert "solver did not converge" in noisy and "(seeds 0, 1)" in noisy
    assert "solver did not converge" not in quiet
    assert "Sinkhorn did not converge" in _section(report, "rep-pot")
    assert "id='rep-noisy-warnings'" in noisy and "href='#rep-noisy-warnings'" in table
    # filters by family and verdict; every row and section carries both
    assert "id='filter-family'" in report and "id='filter-verdict'" in report
    assert "<option>other</option>" in report and "<option value='partly'>" in report
    assert report.count("data-verdict='partly'") == 4  # two rows, two sections
    assert report.count("data-family='other'") == 6
    assert "<form id='filters' hidden" in report  # shown by the script, absent without it


def _published(tmp_path, slugs=("sopt", "espformer", "ct-graph")):
    """A few of the published results (docs/reproductions), written before warnings existed."""
    import shutil

    for slug in slugs:
        shutil.copy(DOCS / f"{slug}.json", tmp_path / f"{slug}.json")
    return load_records(tmp_path)


def test_report_filters_use_catalog_families(tmp_path):
    families = {r.slug: r.family for r in _published(tmp_path)}
    assert families == {"sopt": "transport", "espformer": "attention",
                        "ct-graph": "continual & lifelong learning"}


def test_claim_states(tmp_path, toys):
    noisy, quiet = run_experiments(["rep-noisy", "rep-quiet"], tmp_path)
    assert [claim_status(noisy, k) for k in CLAIMS] == ["holds", "holds", "known gap"]
    assert [claim_status(quiet, k) for k in CLAIMS] == ["holds", "holds", "does not hold"]
    assert noisy.status == quiet.status == "partly reproduced (2 of 3)"  # the verdict is held
    md = markdown_summary([noisy, quiet])
    assert "| gap (known gap): One equals zero. |" in md
    assert "| gap (does not hold): One equals zero. |" in md
    assert "- 6 x UserWarning: solver did not converge (experiments/test_report.py:" in md


def test_warnings_survive_export_and_reading_back(tmp_path, toys):
    (rec,) = run_experiments(["rep-noisy"], tmp_path / "run")
    back = load_records(tmp_path / "run")
    assert back[0].warnings == rec.warnings
    export_records(back, tmp_path / "pub")
    again = load_records(tmp_path / "pub")
    assert again[0].warnings == rec.warnings
    assert warning_summary(again) == warning_summary([rec])


def test_published_results_without_warnings_still_load(tmp_path):
    records = _published(tmp_path)
    assert "warnings" not in json.loads((DOCS / "sopt.json").read_text())
    assert records and all(r.warnings == [] for r in records)
    md = markdown_summary(records, source="docs/reproductions")
    assert "Warnings (" not in md
    # a folder compared with itself has nothing to report
    changes = compare_runs(records, records)
    assert not any(c.changed for c in changes)
    assert all(c.direction == "same" for c in changes)


# --------------------------------------------------------------------------- comparing runs


def _two_runs(tmp_path):
    """OLD: quick settings (n=10, claim `small` holds), plus a paper NEW lacks;
    NEW: full settings (n=100, `small` fails)."""
    run_experiments(["rep-noisy", "rep-pot"], tmp_path / "old")
    run_experiments(["rep-noisy"], tmp_path / "new", mode="full")
    return tmp_path / "old", tmp_path / "new"


def test_compare_runs_reports_verdicts_claims_and_numbers(tmp_path, toys):
    old, new = _two_runs(tmp_path)
    changes = {c.slug: c for c in compare_runs(load_records(old), load_records(new))}
    c = changes["rep-noisy"]
    assert (c.old_verdict, c.new_verdict) == ("partly reproduced (2 of 3)",
                                             "partly reproduced (1 of 3)")
    assert c.direction == "worse" and c.changed
    assert c.claims == (("small", "holds", "does not hold"),)
    numbers = {(name, q): (a, b) for name, q, a, b in c.numbers}
    # the ratio check measured n/100: 0.1 with n=10, 1 with n=100
    assert numbers[("ratio", "measured")] == ("0.1", "1 (+0.9)")
    assert numbers[("ratio", "result")] == ("pass", "fail")
    assert ("two_gt_one", "measured") not in numbers  # 2 in both runs
    assert "settings: quick -> full" in c.notes and "setting n: 10 -> 100" in c.notes
    gone = changes["rep-pot"]
    assert gone.direction == "removed" and gone.new_verdict is None
    # the other way round the same paper got better, and rep-pot is new
    back = {c.slug: c for c in compare_runs(load_records(new), load_records(old))}
    assert back["rep-noisy"].direction == "better" and back["rep-pot"].direction == "added"
    # verdict-first: the worse paper leads
    assert compare_runs(load_records(old), load_records(new))[0].slug == "rep-noisy"


def test_report_old_new_in_the_terminal_and_as_markdown(tmp_path, toys):
    old, new = _two_runs(tmp_path)
    res = runner.invoke(app, ["report", str(old), str(new)])
    assert res.exit_code == 0, res.output
    out = res.output
    assert ("rep-noisy: partly reproduced (2 of 3) -> partly reproduced (1 of 3)  [worse]"
            in out)
    assert "claim small: holds -> does not hold" in out
    assert "check ratio: measured 0.1 -> 1 (+0.9); interval [0.1, 0.1] -> [1, 1]; result pass " \
        "-> fail" in out
    assert "rep-pot: partly reproduced" not in out and "rep-pot: reproduced -> -" in out
    assert out.index("rep-noisy:") < out.index("rep-pot:")
    res = runner.invoke(app, ["report", str(old), str(new), "--markdown"])
    assert res.exit_code == 0, res.output
    md = res.output
    assert md.startswith(f"# Changes from `{old}` to `{new}`")
    assert ("| [`rep-noisy`](#rep-noisy) | partly reproduced (2 of 3) | "
            "partly reproduced (1 of 3) | worse | 1 | ") in md
    assert "| small | holds | does not hold |" in md
    assert "| ratio | measured | 0.1 | 1 (+0.9) |" in md
    # an exported folder compares the same as the run it came from
    assert runner.invoke(app, ["report", str(new), "--export", str(tmp_path / "pub")]
                         ).exit_code == 0
    res2 = runner.invoke(app, ["report", str(old), str(tmp_path / "pub")])
    assert res2.exit_code == 0
    assert res2.output.replace(str(tmp_path / "pub"), str(new)) == out
    assert comparison_text([], "a", "b").startswith("Changes from a to b: 0 paper(s)")


def test_report_arguments_are_checked(tmp_path, toys):
    old, new = _two_runs(tmp_path)
    res = runner.invoke(app, ["report", str(old), str(new), str(old)])
    assert res.exit_code == 2 and "two to compare; got 3" in res.output
    res = runner.invoke(app, ["report", str(old), str(new), "--export", str(tmp_path / "x")])
    assert res.exit_code == 2 and "--export takes one run folder" in res.output
    res = runner.invoke(app, ["report", str(old), str(tmp_path / "missing")])
    assert res.exit_code == 2 and "holds no <slug>/results.json" in res.output


def test_run_turns_model_loading_bars_off_unless_the_user_chose(tmp_path, toys, monkeypatch):
    import os

    name = "HF_HUB_DISABLE_PROGRESS_BARS"
    monkeypatch.setenv(name, "x")  # restored to its state before the test afterwards
    monkeypatch.delenv(name)
    assert runner.invoke(app, ["run", "rep-quiet", "--out", str(tmp_path / "a")]).exit_code == 0
    assert os.environ[name] == "1"
    monkeypatch.setenv(name, "0")
    assert runner.invoke(app, ["run", "rep-quiet", "--out", str(tmp_path / "b")]).exit_code == 0
    assert os.environ[name] == "0"


def test_cluster_shutdown_notes_are_quieted_and_levels_restored(caplog):
    import logging

    from mintlab.experiments.runner import _quiet_loggers

    nanny = logging.getLogger("distributed.nanny")
    with caplog.at_level(logging.WARNING, logger="distributed.nanny"):
        with _quiet_loggers("distributed"):
            nanny.warning("Worker process still alive after 4.0 seconds, killing")
            nanny.error("a real failure")
        assert nanny.level == logging.WARNING  # the level it had before
        nanny.warning("after the shutdown")
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["a real failure", "after the shutdown"]
