import json
import math
from dataclasses import dataclass

import matplotlib
import numpy as np
import pytest
from scipy import stats

from mintlab.experiments import PAPERS, Experiment, Result, Settings, run_experiments
from mintlab.experiments._core import judge, merge_results, parse_verdict
from mintlab.experiments.registry import register, status, unregister

matplotlib.use("Agg")


@dataclass(frozen=True, kw_only=True)
class ToySettings(Settings):
    n: int


TOY_CLAIMS = {"mean_is_small": "The sample mean is near zero.",
              "beats_noise": "The signal beats pure noise.",
              "impossible": "One equals zero."}


def _toy_run(settings: ToySettings, seed: int) -> Result:
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    x = rng.normal(size=settings.n)
    res = Result(metrics={"mean": float(x.mean()), "n": float(x.size)}, seed=seed)
    res.check("mean_near_zero", abs(x.mean()), 0.5, "<=", claim="mean_is_small")
    res.compare("signal_beats_noise", x + 1.0, x, claim="beats_noise", margin=0.5)
    res.check("one_is_zero", 1.0, 0.0, "<=", claim="impossible",
              known_gap="measured {measured:.1f} against {threshold:.1f}")
    fig, ax = plt.subplots()
    ax.hist(x)
    res.figures["hist"] = fig
    return res


def _crash(settings, seed) -> Result:
    raise RuntimeError("boom")


QUICK, FULL = ToySettings(seeds=2, n=200), ToySettings(seeds=3, n=2000)


@pytest.fixture
def toy():
    register(Experiment("toy-exp", TOY_CLAIMS, _toy_run, QUICK, FULL,
                        "partly reproduced (2 of 3)", data="synthetic normals"), replace=True)
    register(Experiment("toy-crash", {"x": "crashes"}, _crash, QUICK, FULL, "reproduced"),
             replace=True)
    yield
    unregister("toy-exp")
    unregister("toy-crash")


def test_catalog_has_fifty_unique_slugs():
    assert len(PAPERS) == 50
    assert len({p.slug for p in PAPERS}) == 50


def test_runner_writes_verdicts_samples_figures_and_report(tmp_path, toy):
    records = run_experiments(["toy-exp", "toy-crash"], tmp_path, base_seed=1)
    assert [r.status for r in records] == ["partly reproduced (2 of 3)", "error"]
    assert records[0].change is None and records[1].change == "below"
    data = json.loads((tmp_path / "toy-exp" / "results.json").read_text())
    assert data["verdict"] == "partly reproduced (2 of 3)"
    assert data["seeds"] == [1, 2]
    assert data["claims"]["impossible"]["holds"] is False
    assert data["claims"]["impossible"]["known_gap"] == ["measured 1.0 against 0.0"]
    cmp = data["checks"]["signal_beats_noise"]
    assert cmp["samples"]["seed"] == [1] * 200 + [2] * 200
    assert len(cmp["samples"]["ours"]) == 400 and cmp["margin"] == 0.5
    assert cmp["interval"][0] > 0.5 and cmp["passed"]
    assert data["metrics"]["n"] == 200.0 and len(data["metrics_per_seed"]["mean"]) == 2
    assert data["settings"] == {"seeds": 2, "n": 200}
    png = tmp_path / "toy-exp" / "hist.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    crash = json.loads((tmp_path / "toy-crash" / "results.json").read_text())
    assert "RuntimeError: boom" in crash["error"] and crash["verdict"] == "error"
    report = (tmp_path / "report.html").read_text()
    assert report.index("Verdicts") < report.index("id='toy-exp'")
    assert "data:image/png;base64," in report and "synthetic normals" in report
    assert "measured 1.0 against 0.0" in report and "RuntimeError: boom" in report


def test_records_read_back_give_the_same_verdicts(tmp_path, toy):
    from mintlab.experiments.runner import load_records, markdown_summary

    records = run_experiments(["toy-exp", "toy-crash"], tmp_path)
    back = {r.slug: r for r in load_records(tmp_path)}
    for r in records:
        assert back[r.slug].status == r.status
    assert back["toy-exp"].result.checks == records[0].result.checks
    md = markdown_summary(list(back.values()))
    assert "| [`toy-exp`](#toy-exp) | toy-exp | partly reproduced (2 of 3) |" in md
    assert "known gap: measured 1.0 against 0.0" in md
    # the headline is the first comparison, with both means from the run
    cmp = records[0].result.checks["signal_beats_noise"]
    assert f"signal_beats_noise: {cmp.ours_mean:.4g} vs {cmp.baseline_mean:.4g} |" in md


def test_exported_records_read_back_as_a_flat_folder(tmp_path, toy):
    from mintlab.experiments.runner import export_records, load_records, markdown_summary

    run_experiments(["toy-exp", "toy-crash"], tmp_path / "run", mode="full", seeds=2)
    paths = export_records(load_records(tmp_path / "run"), tmp_path / "pub")
    assert sorted(p.name for p in paths) == ["toy-crash.json", "toy-exp.json"]
    back = {r.slug: r for r in load_records(tmp_path / "pub")}
    assert back["toy-exp"].mode == "full" and back["toy-exp"].settings["n"] == 2000
    assert back["toy-exp"].status == "partly reproduced (2 of 3)"
    assert back["toy-crash"].status == "error"
    # exporting what was read back gives the same files (nothing lost on the way)
    again = export_records(list(back.values()), tmp_path / "pub2")
    for p in again:
        assert p.read_text() == (tmp_path / "pub" / p.name).read_text()
    assert len((tmp_path / "pub" / "toy-exp.json").read_text().splitlines()) < 200
    md = markdown_summary(list(back.values()), source="pub")
    assert "mintlab report pub --markdown" in md and "| full | 2 |" in md
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="not the results.json"):
        load_records(tmp_path / "bad")


def test_resume_reuses_written_seeds(tmp_path, toy):
    run_experiments(["toy-exp"], tmp_path)
    first = json.loads((tmp_path / "toy-exp" / "results.json").read_text())
    (rec,) = run_experiments(["toy-exp"], tmp_path, resume=True, seeds=3)
    assert rec.seeds == [0, 1, 2]
    again = json.loads((tmp_path / "toy-exp" / "results.json").read_text())
    assert again["seed_seconds"][:2] == first["seed_seconds"]


def test_full_mode_and_seed_override(tmp_path, toy):
    (rec,) = run_experiments(["toy-exp"], tmp_path, mode="full", seeds=1)
    assert rec.settings["n"] == 2000 and rec.seeds == [0] and rec.change is None


def test_status_tracks_registration(toy):
    assert status("toy-exp") == "implemented"
    unregister("toy-exp")
    assert status("toy-exp") == "planned"


# --------------------------------------------------------------------------- judging


def test_a_tie_never_passes():
    res = Result()
    x = np.arange(10.0)
    assert not res.compare("tie_items", x, x.copy(), claim="c").passed
    assert not res.compare("tie_lower", x, x.copy(), claim="c", better="lower").passed
    merged = merge_results([_seed_compare(s, 0.7, 0.7) for s in range(5)])
    assert not merged.checks["c"].passed


def _seed_compare(seed, ours, base, **kw):
    r = Result(seed=seed)
    r.compare("c", ours, base, claim="k", **kw)
    return r


def test_seed_interval_is_students_t():
    diffs = np.array([0.3, 0.1, 0.25, 0.4])
    merged = merge_results([_seed_compare(s, 1.0 + d, 1.0) for s, d in enumerate(diffs)])
    c = merged.checks["c"]
    half = stats.t.ppf(0.975, 3) * diffs.std(ddof=1) / 2
    assert c.interval == pytest.approx((diffs.mean() - half, diffs.mean() + half))
    assert c.passed and c.n == 4 and c.unit == "seed"
    # a margin inside the interval fails
    merged = merge_results([_seed_compare(s, 1.0 + d, 1.0, margin=0.2) for s, d in
                            enumerate(diffs)])
    assert merged.checks["c"].interval[0] < 0.2 and not merged.checks["c"].passed


def test_one_seed_value_has_no_interval_and_cannot_pass():
    c = _seed_compare(0, 2.0, 1.0).checks["c"]
    assert math.isnan(c.interval[0]) and not c.passed


def test_item_bootstrap_interval_covers_the_mean_and_is_deterministic():
    rng = np.random.default_rng(0)
    ours, base = rng.normal(0.2, 1, 400), rng.normal(0.0, 1, 400)
    a = Result().compare("x", ours, base, claim="k")
    b = Result().compare("x", ours, base, claim="k")
    assert a.interval == b.interval
    d = ours - base
    se = d.std(ddof=1) / 20
    assert a.interval[0] == pytest.approx(d.mean() - 1.96 * se, abs=0.4 * se)
    assert a.interval[1] == pytest.approx(d.mean() + 1.96 * se, abs=0.4 * se)


def test_pooled_items_resample_seeds_too():
    # two seeds that disagree in sign: pooled, the interval must straddle zero
    merged = merge_results([_seed_compare(0, np.full(50, 1.0), np.zeros(50)),
                            _seed_compare(1, np.full(50, -1.0), np.zeros(50))])
    lo, hi = merged.checks["c"].interval
    assert lo < 0 < hi and not merged.checks["c"].passed


def test_unpaired_comparison_of_unequal_lengths():
    rng = np.random.default_rng(1)
    c = Result().compare("u", rng.normal(1, 1, 300), rng.normal(0, 1, 200), claim="k",
                         paired=False)
    assert c.passed and 0.7 < c.measured < 1.3
    with pytest.raises(ValueError, match="paired samples must have equal length"):
        Result().compare("u", np.ones(3), np.ones(4), claim="k")


def test_nan_samples_fail():
    c = Result().compare("n", np.array([1.0, np.nan]), np.zeros(2), claim="k")
    assert not c.passed
    c = Result().check("m", float("nan"), 1.0, ">=", claim="k")
    assert not c.passed


def test_check_reductions():
    parts = [Result(seed=s) for s in range(3)]
    for r, v in zip(parts, [0.1, 0.2, 0.9], strict=True):
        r.check("all", v, 0.5, "<=", claim="k")
        r.check("avg", v, 0.9, "<", claim="k", reduce="mean")
    merged = merge_results(parts)
    assert not merged.checks["all"].passed  # one seed breaks the bound
    assert merged.checks["all"].interval == (0.1, 0.9)
    assert not merged.checks["avg"].passed  # the t interval of the mean reaches past 0.9
    items = Result().check("items", np.full(20, 0.3), 0.5, "<", claim="k")
    assert items.passed and items.unit == "item"


def test_known_gap_is_filled_from_pooled_numbers():
    parts = [_seed_compare(s, 1.0, 2.0 + s, known_gap="ours {ours:.1f} vs {baseline:.1f}")
             for s in range(3)]
    assert parts[0].checks["c"].known_gap == "ours 1.0 vs 2.0"
    assert merge_results(parts).checks["c"].known_gap == "ours 1.0 vs 3.0"
    with pytest.raises(KeyError, match="not one of"):
        Result().compare("c", 1.0, 2.0, claim="k", known_gap="{typo}")


def test_inconsistent_seeds_are_rejected():
    a, b = Result(seed=0), Result(seed=1)
    a.compare("c", 1.0, 0.0, claim="k")
    b.compare("c", 1.0, 0.0, claim="k", margin=0.1)
    with pytest.raises(ValueError, match="judged differently"):
        merge_results([a, b])


@pytest.mark.parametrize("kw, match", [
    (dict(better="more"), "better must be"),
    (dict(margin=-1.0), "margin must be"),
    (dict(claim=""), "claim must name"),
])
def test_compare_rejects_bad_arguments(kw, match):
    args = dict(claim="k") | kw
    with pytest.raises(ValueError, match=match):
        Result().compare("c", 1.0, 0.0, **args)
    with pytest.raises(ValueError, match="op must be one of"):
        Result().check("c", 1.0, 1.0, "==", claim="k")
    with pytest.raises(ValueError, match="both be numbers"):
        Result().compare("c", 1.0, np.ones(3), claim="k")


def test_verdicts():
    res = Result()
    res.check("a", 0.0, 1.0, claim="x")
    res.check("b", 2.0, 1.0, claim="y")
    v = judge({"x": "X holds.", "y": "Y holds."}, res)
    assert v.label == "partly reproduced (1 of 2)" and v.claims == {"x": True, "y": False}
    assert judge({"x": "X", "z": "no check"}, Result(checks={"a": res.checks["a"]})).held == 1
    with pytest.raises(ValueError, match="not in CLAIMS"):
        judge({"y": "Y"}, res)
    assert parse_verdict("reproduced", 3) == 3
    assert parse_verdict("not reproduced at this scale", 3) == 0
    assert parse_verdict("partly reproduced (2 of 3)", 3) == 2
    for bad in ("partly reproduced (3 of 3)", "partly reproduced (1 of 2)", "fine"):
        with pytest.raises(ValueError):
            parse_verdict(bad, 3)


def test_experiment_validates_its_declaration():
    with pytest.raises(ValueError, match="does not fit"):
        Experiment("t", {"a": "A"}, _toy_run, QUICK, FULL, "partly reproduced (1 of 2)")
    with pytest.raises(TypeError, match="Settings instance"):
        Experiment("t", {"a": "A"}, _toy_run, {"n": 1}, FULL, "reproduced")
    with pytest.raises(ValueError, match="seeds must be a positive int"):
        ToySettings(seeds=0, n=1)


# one worker runs this beside the experiments, never beside their timing checks
@pytest.mark.xdist_group("heavy")
def test_dask_run_equals_sequential_run(tmp_path):
    seq = run_experiments(["sopt"], tmp_path / "seq", threads=1, seeds=2)[0]
    par = run_experiments(["sopt"], tmp_path / "par", workers=2, threads=1, seeds=2)[0]
    assert par.seeds == seq.seeds == [0, 1]
    for name in ("opt1d_equals_lp", "sopt_more_robust_than_sw"):  # not the timings
        assert par.result.checks[name] == seq.result.checks[name]
    assert (tmp_path / "par" / "sopt" / "sopt.png").exists()


def test_threads_stay_pinned_in_a_fresh_process():
    """The first seed of a fresh process runs on the pinned thread count.

    numba's OpenMP layer starts on its first call and used to reset the count
    torch had been given, so the first seed ran on every core.
    """
    import subprocess
    import sys

    code = """
import torch
from dataclasses import dataclass
from mintlab.experiments import Experiment, Result, Settings
from mintlab.experiments.registry import register
from mintlab.experiments.runner import run_seed

@dataclass(frozen=True, kw_only=True)
class S(Settings):
    pass

def run(settings, seed):
    r = Result(seed=seed)
    r.metrics["torch_threads"] = float(torch.get_num_threads())
    return r

register(Experiment("thread-probe", {"c": "x"}, run, S(seeds=1), S(seeds=1), "reproduced"))
print(int(run_seed("thread-probe", S(seeds=1), 0, threads=1).result().metrics["torch_threads"]))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "1"
