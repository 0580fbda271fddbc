import json
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from mintlab.cli import app, markdown_table
from mintlab.experiments import Experiment, Result, Settings
from mintlab.experiments.registry import register, unregister

runner = CliRunner()


def test_list_shows_fifty_rows():
    res = runner.invoke(app, ["list"])
    assert res.exit_code == 0
    assert "sopt" in res.output and "surgformer" in res.output
    assert sum(1 for line in markdown_table().splitlines() if line.startswith("| `")) == 50


def test_docs_papers_md_is_generated():
    committed = (Path(__file__).parents[1] / "docs" / "papers.md").read_text()
    assert committed == markdown_table(), "regenerate: mintlab list --markdown > docs/papers.md"


def test_bad_slug_exits_2_and_lists_slugs():
    res = runner.invoke(app, ["run", "not-a-paper"])
    assert res.exit_code == 2
    assert "not a paper slug" in res.output
    assert "surgformer" in res.output or "Valid slugs" in res.output


@dataclass(frozen=True, kw_only=True)
class _S(Settings):
    n: int


def _toy(threshold):
    def run(settings, seed):
        r = Result(metrics={"n": float(settings.n)}, seed=seed)
        r.check("ok", 0.0, threshold, claim="holds")
        return r
    return run


def _register(slug, run, expected="reproduced"):
    register(Experiment(slug, {"holds": "Zero is small."}, run, _S(seeds=2, n=1),
                        _S(seeds=3, n=10), expected), replace=True)


def test_run_writes_report_and_picks_settings(tmp_path):
    _register("cli-toy", _toy(1.0))
    try:
        res = runner.invoke(app, ["run", "cli-toy", "--quick", "--out", str(tmp_path / "q")])
        assert res.exit_code == 0, res.output
        assert "reproduced" in res.output
        assert (tmp_path / "q" / "report.html").exists()
        data = json.loads((tmp_path / "q" / "cli-toy" / "results.json").read_text())
        assert data["checks"]["ok"]["passed"] and data["verdict"] == "reproduced"
        assert data["seeds"] == [0, 1] and data["metrics"]["n"] == 1.0
        res = runner.invoke(app, ["run", "cli-toy", "--full", "--seeds", "4", "--seed", "7",
                                  "--out", str(tmp_path / "f")])
        assert res.exit_code == 0, res.output
        data = json.loads((tmp_path / "f" / "cli-toy" / "results.json").read_text())
        assert data["seeds"] == [7, 8, 9, 10] and data["metrics"]["n"] == 10.0
        assert runner.invoke(app, ["run", "cli-toy", "--quick", "--full"]).exit_code == 2
    finally:
        unregister("cli-toy")


def test_run_exits_1_below_expected_and_says_when_above(tmp_path):
    _register("cli-below", _toy(-1.0))
    _register("cli-above", _toy(1.0), expected="not reproduced at this scale")
    try:
        res = runner.invoke(app, ["run", "cli-below", "--out", str(tmp_path / "b")])
        assert res.exit_code == 1
        assert "below its expected verdict" in res.output
        res = runner.invoke(app, ["run", "cli-above", "--out", str(tmp_path / "a")])
        assert res.exit_code == 0
        assert "above its expected verdict" in res.output
    finally:
        unregister("cli-below")
        unregister("cli-above")


def test_run_exits_nonzero_when_an_experiment_raises(tmp_path):
    def run(settings, seed):
        raise ValueError("bad")

    _register("cli-crash", run)
    try:
        res = runner.invoke(app, ["run", "cli-crash", "--out", str(tmp_path)])
        assert res.exit_code == 1
        assert "Raised an error: cli-crash" in res.output
    finally:
        unregister("cli-crash")


def test_info_prints_a_papers_claims_and_settings():
    res = runner.invoke(app, ["info", "sopt"])
    assert res.exit_code == 0, res.output
    assert "efficient_1d" in res.output and "n_projections" in res.output
    assert "quick" in res.output and "full" in res.output
    assert runner.invoke(app, ["info", "not-a-paper"]).exit_code == 2


def test_info_prints_versions():
    res = runner.invoke(app, ["info"])
    assert res.exit_code == 0 and "torch" in res.output


def test_report_rebuilds_html_and_markdown(tmp_path):
    _register("cli-rep", _toy(1.0))
    try:
        assert runner.invoke(app, ["run", "cli-rep", "--out", str(tmp_path)]).exit_code == 0
        (tmp_path / "report.html").unlink()
        res = runner.invoke(app, ["report", str(tmp_path)])
        assert res.exit_code == 0 and (tmp_path / "report.html").exists()
        res = runner.invoke(app, ["report", str(tmp_path), "--markdown"])
        assert res.exit_code == 0 and "| [`cli-rep`](#cli-rep) |" in res.output
        assert runner.invoke(app, ["report", str(tmp_path / "nothing")]).exit_code == 2
        pub = tmp_path / "pub"
        res = runner.invoke(app, ["report", str(tmp_path), "--export", str(pub)])
        assert res.exit_code == 0 and (pub / "cli-rep.json").exists()
        res = runner.invoke(app, ["report", str(pub), "--markdown"])
        assert res.exit_code == 0 and f"mintlab report {pub} --markdown" in res.output
        assert "| [`cli-rep`](#cli-rep) |" in res.output
        res = runner.invoke(app, ["report", str(pub)])
        assert res.exit_code == 2 and "--markdown" in res.output
    finally:
        unregister("cli-rep")


def test_report_compares_two_runs(tmp_path):
    _register("cli-cmp", _toy(1.0))
    try:
        for mode in ("quick", "full"):
            res = runner.invoke(app, ["run", "cli-cmp", f"--{mode}", "--out", str(tmp_path / mode)])
            assert res.exit_code == 0, res.output
        res = runner.invoke(app, ["report", str(tmp_path / "quick"), str(tmp_path / "full")])
        assert res.exit_code == 0, res.output
        assert "1 paper(s): 1 same verdict; 0 claim state(s)" in res.output
        assert "cli-cmp: reproduced -> reproduced" in res.output
        assert "settings: quick -> full" in res.output and "setting n: 1 -> 10" in res.output
        assert "seeds: 2 -> 3" in res.output
    finally:
        unregister("cli-cmp")


def test_default_run_folders_are_claimed_atomically(tmp_path, monkeypatch):
    """Two runs started in the same second never share a folder."""
    import mintlab.cli as cli

    monkeypatch.setattr(cli.time, "strftime", lambda fmt: "20260101-000000")
    first = cli._fresh_run_dir(tmp_path / "runs")
    second = cli._fresh_run_dir(tmp_path / "runs")
    assert (first.name, second.name) == ("20260101-000000", "20260101-000000-2")
    assert first.is_dir() and second.is_dir()
