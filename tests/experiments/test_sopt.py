from mintlab.experiments import get_experiment


def test_sopt_quick_checks_hold():
    res = get_experiment("sopt").run(quick=True, seed=0)
    assert not res.failed_checks, {k: c for k, c in res.checks.items() if not c.passed}
    assert set(res.checks) == {"opt1d_equals_lp", "opt1d_faster_than_lp",
                               "sopt_more_robust_than_sw"}
