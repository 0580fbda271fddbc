import json

import matplotlib
import numpy as np
import pytest

from mintlab.experiments import PAPERS, Experiment, Result, run_experiments
from mintlab.experiments.registry import register, status, unregister

matplotlib.use("Agg")


def _toy_run(quick: bool, seed: int) -> Result:
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    x = rng.normal(size=200 if quick else 2000)
    res = Result(metrics={"mean": float(x.mean()), "n": float(x.size)})
    res.check("mean_near_zero", abs(x.mean()), 0.5, "<=")
    res.check("impossible", 1.0, 0.0, "<=", known_gap="stated to show a gap")
    fig, ax = plt.subplots()
    ax.hist(x)
    res.figures["hist"] = fig
    return res


def _crash(quick: bool, seed: int) -> Result:
    raise RuntimeError("boom")


@pytest.fixture
def toy():
    register(Experiment("toy-exp", "A toy claim.", _toy_run), replace=True)
    register(Experiment("toy-crash", "Crashes.", _crash), replace=True)
    yield
    unregister("toy-exp")
    unregister("toy-crash")


def test_catalog_has_fifty_unique_slugs():
    assert len(PAPERS) == 50
    assert len({p.slug for p in PAPERS}) == 50


def test_runner_writes_results_figures_and_report(tmp_path, toy):
    records = run_experiments(["toy-exp", "toy-crash"], tmp_path, quick=True, seed=1)
    assert [r.status for r in records] == ["pass (gaps)", "error"]
    data = json.loads((tmp_path / "toy-exp" / "results.json").read_text())
    assert data["slug"] == "toy-exp" and data["claim"] == "A toy claim."
    assert set(data["checks"]) == {"mean_near_zero", "impossible"}
    chk = data["checks"]["mean_near_zero"]
    assert set(chk) >= {"passed", "measured", "threshold", "known_gap"}
    assert chk["passed"] is True and chk["known_gap"] is None
    assert data["checks"]["impossible"]["known_gap"] == "stated to show a gap"
    assert data["metrics"]["n"] == 200.0
    assert data["seconds"] >= 0
    png = tmp_path / "toy-exp" / "hist.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    crash = json.loads((tmp_path / "toy-crash" / "results.json").read_text())
    assert "RuntimeError: boom" in crash["error"]
    report = (tmp_path / "report.html").read_text()
    assert report.index("Summary") < report.index("id='toy-exp'")
    assert "data:image/png;base64," in report
    assert "Known gaps" in report and "stated to show a gap" in report
    assert "RuntimeError: boom" in report


def test_status_tracks_registration(toy):
    assert status("toy-exp") == "implemented"
    unregister("toy-exp")
    assert status("toy-exp") == "planned"


def test_failed_check_is_reported():
    res = Result()
    res.check("a", 2.0, 1.0, "<=")
    res.check("b", float("nan"), 1.0, ">=")
    assert res.failed_checks == ["a", "b"]
    with pytest.raises(ValueError, match="op must be one of"):
        res.check("c", 1.0, 1.0, "==")
