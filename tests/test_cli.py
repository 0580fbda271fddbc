import json
from pathlib import Path

from typer.testing import CliRunner

from mintlab.cli import app, markdown_table
from mintlab.experiments import Experiment, Result
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


def test_run_writes_report(tmp_path):
    def run(quick, seed):
        r = Result(metrics={"x": 1.0})
        r.check("ok", 0.0, 1.0)
        return r

    register(Experiment("cli-toy", "toy", run), replace=True)
    try:
        res = runner.invoke(app, ["run", "cli-toy", "--quick", "--out", str(tmp_path)])
        assert res.exit_code == 0, res.output
        assert (tmp_path / "report.html").exists()
        assert json.loads((tmp_path / "cli-toy" / "results.json").read_text())["checks"]["ok"][
            "passed"
        ]
    finally:
        unregister("cli-toy")


def test_run_exits_nonzero_when_an_experiment_raises(tmp_path):
    def run(quick, seed):
        raise ValueError("bad")

    register(Experiment("cli-crash", "crash", run), replace=True)
    try:
        res = runner.invoke(app, ["run", "cli-crash", "--out", str(tmp_path)])
        assert res.exit_code == 1
    finally:
        unregister("cli-crash")


def test_info_prints_versions():
    res = runner.invoke(app, ["info"])
    assert res.exit_code == 0 and "torch" in res.output
