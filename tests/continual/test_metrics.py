import math

import numpy as np
import pytest

from mintlab.continual import metrics as M
from mintlab.continual.metrics import LifelongLog, lifelong_metrics


def small_log():
    log = LifelongLog(["a", "b", "c"])
    log.add_evaluation({"a": 0.2, "b": 0.3, "c": 0.1})
    log.add_training("a", [0.3, 0.5, 0.7, 0.8, 0.9, 0.9, 0.85, 0.9, 0.92, 0.9])
    log.add_evaluation({"a": 0.9, "b": 0.4, "c": 0.2})
    log.add_training("b", [0.4, 0.6, 0.8, 0.85, 0.8, 0.9, 0.95, 0.9, 0.9, 0.95])
    log.add_evaluation({"a": 0.7, "b": 0.95, "c": 0.25})
    log.add_training("c", [0.2, 0.5, 0.6, 0.7, 0.8, 0.8, 0.85, 0.8, 0.85, 0.8])
    log.add_evaluation({"a": 0.6, "b": 0.85, "c": 0.8})
    return log


def test_accuracy_matrix_and_classic_scores_by_hand():
    log = small_log()
    R, b = M.accuracy_matrix(log)
    assert np.allclose(R, [[0.9, 0.4, 0.2], [0.7, 0.95, 0.25], [0.6, 0.85, 0.8]])
    assert np.allclose(b, [0.2, 0.3, 0.1])
    assert M.average_accuracy(log) == pytest.approx((0.6 + 0.85 + 0.8) / 3)
    assert M.backward_transfer(log) == pytest.approx(((0.6 - 0.9) + (0.85 - 0.95)) / 2)
    assert M.forward_transfer(log) == pytest.approx(((0.4 - 0.3) + (0.25 - 0.1)) / 2)


def test_suite_by_hand():
    log = small_log()
    pm = M.performance_maintenance(log)
    # task a: evaluations after its post-training evaluation (0.9): 0.7, 0.6
    assert pm["a"] == pytest.approx(((0.7 - 0.9) + (0.6 - 0.9)) / 2)
    assert pm["b"] == pytest.approx(0.85 - 0.95)
    assert "c" not in pm  # never evaluated after its post-training evaluation
    ft = M.transfer(log, "forward", "ratio")
    # training a (between the evaluations 0 and 1) moves b from 0.3 to 0.4 and c from 0.1 to 0.2
    assert ft[("a", "b")] == [pytest.approx(0.4 / 0.3)]
    assert ft[("a", "c")] == [pytest.approx(0.2 / 0.1)]
    assert ft[("b", "c")] == [pytest.approx(0.25 / 0.2)]
    bt = M.transfer(log, "backward", "contrast")
    assert bt[("b", "a")] == [pytest.approx((0.7 - 0.9) / (0.7 + 0.9))]
    assert bt[("c", "a")] == [pytest.approx((0.6 - 0.7) / 1.3)]
    assert set(bt) == {("b", "a"), ("c", "a"), ("c", "b")}
    ste = {"a": [0.5] * 10, "b": [0.5] * 10, "c": [0.5] * 10}
    rp = M.relative_performance(log, ste)
    assert rp["a"] == pytest.approx(sum(log.learning_curve("a")[1]) / 5.0)
    # terminal performance of a learning block: mean of its last 10 %
    tp = M.terminal_performance(log)
    assert tp[3] == pytest.approx(0.9)


def test_sample_efficiency_by_hand():
    log = LifelongLog(["a"])
    log.add_training("a", [0.1, 0.5, 0.9, 0.9, 0.9])  # window < 3: no smoothing
    ste = {"a": [0.1, 0.2, 0.3, 0.9, 0.9]}
    # saturation 0.9 reached after 2 experiences vs 3 for the expert
    assert M.sample_efficiency(log, ste)["a"] == pytest.approx(1.0 * 3 / 2)
    falling = LifelongLog(["a"])
    falling.add_training("a", [0.9, 0.95, 0.5, 0.4, 0.3])
    assert M.sample_efficiency(falling, ste)["a"] == 0.0


def test_relabelling_tasks_is_invariant():
    """Renaming / reordering the task list does not change any per-task value."""
    log = small_log()
    perm = LifelongLog(["c", "a", "b"])
    for b in log.to_json()["blocks"]:
        if b["kind"] == "train":
            (n, v), = b["values"].items()
            perm.add_training(n, v)
        else:
            perm.add_evaluation({k: v[0] for k, v in b["values"].items()})
    m1, m2 = lifelong_metrics(log), lifelong_metrics(perm)
    assert m1.performance_maintenance == m2.performance_maintenance
    assert m1.forward_transfer == m2.forward_transfer
    assert m1.bwt == pytest.approx(m2.bwt)


def test_json_round_trip(tmp_path):
    log = small_log()
    log.save(tmp_path / "log.json")
    back = LifelongLog.load(tmp_path / "log.json")
    assert back.to_records() == log.to_records()


def test_moving_average_matches_definition():
    x = np.arange(20.0)
    y = M.moving_average(x, 4)
    assert y.shape == x.shape
    # l2metrics' window for an even length w covers x[i - w/2 : i + w/2]
    assert y[10] == pytest.approx(np.mean(x[8:12]))
    assert y[0] == pytest.approx(np.mean([x[2], x[1], x[0], x[1]]))  # reflected start


def test_bad_logs_rejected():
    with pytest.raises(ValueError, match="distinct"):
        LifelongLog(["a", "a"])
    log = LifelongLog(["a"])
    with pytest.raises(ValueError, match="unknown task"):
        log.add_training("b", [0.1])
    with pytest.raises(ValueError, match="finite"):
        log.add_training("a", [math.nan])
    with pytest.raises(ValueError, match="at least one"):
        log.add_evaluation({})
    with pytest.raises(TypeError, match="LifelongLog"):
        lifelong_metrics({"a": 1})


def _assert_matches_l2metrics(log, ste):
    """Every metric of our suite equals the authors' l2metrics package on ``log``."""
    pd = pytest.importorskip("pandas")
    pytest.importorskip("l2metrics")
    from l2logger.util import fill_regime_num, parse_blocks
    from l2metrics.performance_maintenance import PerformanceMaintenance
    from l2metrics.sample_efficiency import SampleEfficiency
    from l2metrics.ste_relative_performance import STERelativePerf
    from l2metrics.terminal_performance import TerminalPerformance
    from l2metrics.transfer import Transfer

    names = log.task_names
    df = pd.DataFrame(log.to_records())
    df = fill_regime_num(df).sort_values(["regime_num", "exp_num"]).set_index(
        "regime_num", drop=False)
    blocks = parse_blocks(df, include_task_params=False)
    mdf = blocks[["block_num", "block_type", "block_subtype", "task_name",
                  "regime_num"]].copy()
    mdf = TerminalPerformance("performance").calculate(df, blocks, mdf)
    assert np.allclose(mdf["term_perf"].astype(float), M.terminal_performance(log))

    mdf = PerformanceMaintenance("performance", "mrlep").calculate(df, blocks, mdf)
    ours = M.performance_maintenance(log)
    assert ours
    for n in ours:
        theirs = mdf.loc[mdf.task_name == n, "perf_maintenance_mrlep"].dropna()
        assert float(theirs.iloc[-1]) == pytest.approx(ours[n])

    mdf = Transfer("performance", "both").calculate(df, blocks, mdf)
    for direction in ("forward", "backward"):
        for method in ("ratio", "contrast"):
            col = mdf[f"{direction}_transfer_{method}"].dropna()
            theirs = {}
            for regime, d in col.items():
                target = mdf.loc[regime, "task_name"]
                for src, v in d.items():
                    theirs.setdefault((src, target), []).append(v)
            ours = M.transfer(log, direction, method)
            # l2metrics keys values by the evaluation regime, so it keeps the last pair
            # value per regime; compare the set of values per pair
            assert set(theirs) == set(ours)
            for k in ours:
                assert sorted(theirs[k]) == pytest.approx(sorted(ours[k]))

    ste_df = {n: [pd.DataFrame({"exp_num": np.arange(len(c)), "block_type": "train",
                                "performance": c})] for n, c in ste.items()}
    mdf = STERelativePerf("performance", ste_df).calculate(df, blocks, mdf)
    rp = M.relative_performance(log, ste)
    for n in names:
        theirs = mdf.loc[mdf.task_name == n, "ste_rel_perf"].dropna()
        assert float(theirs.iloc[-1][0]) == pytest.approx(rp[n])
    mdf = SampleEfficiency("performance", ste_df).calculate(df, blocks, mdf)
    se = M.sample_efficiency(log, ste)
    for n in se:
        theirs = mdf.loc[mdf.task_name == n, "sample_efficiency"].dropna()
        assert float(theirs.iloc[-1][0]) == pytest.approx(se[n])


def test_cross_check_with_l2metrics():
    """Our suite equals the authors' l2metrics package on the same log (no smoothing or
    normalisation, which l2metrics applies only in its report layer)."""
    rng = np.random.default_rng(0)
    log = LifelongLog(["a", "b", "c"])
    log.add_evaluation({n: rng.uniform(0.1, 0.3) for n in "abc"})
    for n in "abcab":  # tasks revisited, so maintenance and transfer have several terms
        log.add_training(n, np.clip(np.linspace(0.2, 0.9, 30) + rng.normal(0, 0.05, 30), 0, 1))
        log.add_evaluation({m: rng.uniform(0.3, 0.9) for m in "abc"})
    ste = {n: np.clip(np.linspace(0.1, 0.95, 40) + rng.normal(0, 0.05, 40), 0, 1).tolist()
           for n in "abc"}
    _assert_matches_l2metrics(log, ste)
    assert set(M.sample_efficiency(log, ste)) == set("abc")


def test_cross_check_with_l2metrics_on_a_trained_stream():
    """The logs that ``run_stream`` writes for real learners give l2metrics' numbers too
    (replay on three split-digits tasks, experts from fresh networks)."""
    from mintlab.continual import ContinualMLP, Naive, ReplayPlugin, Strategy, run_stream
    from mintlab.continual.benchmarks import split_digits

    stream = split_digits(5, seed=1)
    tasks = list(stream)[:3]
    common = dict(epochs=4, lr=0.02, momentum=0.9, batch_size=32, seed=1)

    def net():
        return ContinualMLP(stream.n_features, [32], stream.head_sizes, seed=1)

    log = run_stream(Strategy(net(), plugins=[ReplayPlugin(10)], **common), tasks)
    ste = {t.name: run_stream(Naive(net(), **common), [t], evaluate_initial=False)
           .learning_curve(t.name)[1].tolist() for t in tasks}
    _assert_matches_l2metrics(log, ste)
