"""The experiments API rejects bad arguments up front; run folders that cannot be read raise
ArtifactError naming the file; results and reports are written atomically."""

import json
from dataclasses import dataclass

import numpy as np
import pytest
from typer.testing import CliRunner

from mintlab import ArtifactError
from mintlab.cli import app
from mintlab.experiments import (
    Experiment,
    Result,
    Settings,
    get_experiment,
    judge,
    merge_results,
    run_experiments,
    run_seed,
    write_report,
)
from mintlab.experiments.registry import UnknownExperimentError, register, unregister
from mintlab.experiments.runner import _example_record, load_records


@dataclass(frozen=True, kw_only=True)
class S(Settings):
    n: int = 5


def _run(settings, seed):
    r = Result(seed=seed)
    x = np.random.default_rng(seed).normal(size=settings.n)
    r.compare("gap", x + 1.0, x, claim="higher", margin=0.1)
    return r


@pytest.fixture
def toy():
    register(Experiment("val-toy", {"higher": "Ours is higher."}, _run, S(seeds=1),
                        S(seeds=1, n=8), "reproduced"), replace=True)
    yield
    unregister("val-toy")


def test_unknown_slugs_and_bad_arguments_are_rejected(toy, tmp_path):
    with pytest.raises(UnknownExperimentError, match="slug 'no-such' is not a paper slug"):
        get_experiment("no-such")
    with pytest.raises(KeyError):  # still a KeyError for existing handlers
        get_experiment("no-such")
    with pytest.raises(ValueError, match="slugs: slug 'nope' is not a paper slug"):
        run_experiments(["nope"], tmp_path)
    with pytest.raises(TypeError, match="slugs must be a list of paper slugs"):
        run_experiments("val-toy", tmp_path)
    with pytest.raises(ValueError, match="mode must be 'quick' or 'full', got 'fast'"):
        run_experiments(["val-toy"], tmp_path, mode="fast")
    with pytest.raises(ValueError, match="threads must be >= 1"):
        run_experiments(["val-toy"], tmp_path, threads=0)
    with pytest.raises(ValueError, match="slug 'nope'"):
        run_seed("nope", S(), 0)
    with pytest.raises(TypeError, match="settings must be a Settings instance"):
        run_seed("val-toy", {"n": 5}, 0)
    assert not list(tmp_path.iterdir())  # nothing was written for a rejected call


def test_judging_arguments_are_checked():
    r = Result()
    with pytest.raises(TypeError, match="ours must be a number or a 1D array of numbers"):
        r.compare("c", ["a", "b"], [1.0, 2.0], claim="k")
    with pytest.raises(TypeError, match="margin must be a real number"):
        r.compare("c", 1.0, 2.0, claim="k", margin="0.1")
    with pytest.raises(ValueError, match="threshold must be a finite number"):
        r.check("c", 1.0, float("nan"), claim="k")
    with pytest.raises(TypeError, match="results\\[1\\] must be a Result"):
        merge_results([Result(), "r"])
    with pytest.raises(TypeError, match="result must be a Result"):
        judge({"k": "claim"}, None)
    with pytest.raises(ValueError, match="expected must be 'reproduced'"):
        Experiment("x-y", {"k": "c"}, _run, S(), S(), "mostly")
    with pytest.raises(TypeError, match="run must be callable"):
        Experiment("x-y", {"k": "c"}, "run", S(), S(), "reproduced")
    with pytest.raises(TypeError, match="records\\[0\\] must be a RunRecord"):
        write_report([{"slug": "x"}], ".")


def _one_run(tmp_path):
    (rec,) = run_experiments(["val-toy"], tmp_path, seeds=1)
    return tmp_path / "val-toy" / "results.json"


def test_corrupted_run_folders_raise_artifact_error_naming_the_file(toy, tmp_path):
    path = _one_run(tmp_path)
    good = path.read_text()
    assert [r.slug for r in load_records(tmp_path)] == ["val-toy"]
    d = json.loads(good)
    del d["checks"]
    bad_check = json.loads(good)
    bad_check["checks"]["gap"]["samples"] = {"ours": [1.0]}
    for what, text in [("empty", ""), ("truncated", good[: len(good) // 2]),
                       ("corrupted", "\x00\x01garbage{"), ("mismatched", json.dumps(d)),
                       ("bad check", json.dumps(bad_check))]:
        path.write_text(text)
        with pytest.raises(ArtifactError, match="results.json") as err:
            load_records(tmp_path)
        assert str(path) in str(err.value), what
    path.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(ArtifactError, match="not UTF-8"):
        load_records(tmp_path)
    res = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert res.exit_code == 2 and "results.json" in res.output


def test_a_corrupted_seed_file_is_named_on_resume(toy, tmp_path):
    _one_run(tmp_path)
    seed_file = tmp_path / "val-toy" / "seeds" / "seed-0.json"
    seed_file.write_text(seed_file.read_text()[:40])
    with pytest.raises(ArtifactError, match="seed-0.json"):
        run_experiments(["val-toy"], tmp_path, seeds=1, resume=True)


def test_results_and_reports_leave_no_temporary_files(toy, tmp_path):
    _one_run(tmp_path)
    write_report([_example_record({"err": 0.1, "rate": 0.5})], tmp_path)
    left = [p.name for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    assert not left


def test_cli_resume_names_a_corrupted_seed_file(toy, tmp_path):
    _one_run(tmp_path)
    seed_file = tmp_path / "val-toy" / "seeds" / "seed-0.json"
    seed_file.write_text("{")
    res = CliRunner().invoke(app, ["run", "val-toy", "--seeds", "1", "--resume", "--out",
                                   str(tmp_path)])
    assert res.exit_code == 2 and "seed-0.json" in res.output
