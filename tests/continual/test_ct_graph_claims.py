"""The CT-graph's stated properties against its closed forms (``ct-graph``).

These held as checks of the ``ct-graph`` experiment, but they compare the
environment with formulas derived from the same specification: they are
properties of the implementation, tested here with Monte Carlo runs of the
vectorised environment.
"""

import numpy as np
import pytest

from mintlab.continual.envs import (
    CTGraphConfig,
    VecCTGraph,
    all_tasks,
    optimal_episode_length,
    optimal_return,
    random_policy_success,
    run_policy,
)

DEPTHS = (1, 2, 3)
EPISODES = {1: 100_000, 2: 300_000, 3: 1_000_000}  # about 400+ successes at every depth


@pytest.fixture(scope="module")
def random_success():
    """Random-policy success rate per depth (branching 2, no waiting), with its closed form."""
    out = {}
    for D in DEPTHS:
        cfg = CTGraphConfig(branching=2, depth=D, wait_prob=0.0)
        rets, _ = run_policy(VecCTGraph(cfg, 8192, tasks=0, seed=D), "random", EPISODES[D])
        out[D] = (float(rets.mean()), random_policy_success(cfg), len(rets))
    return out


def test_random_success_matches_closed_form(random_success):
    for m, th, n in random_success.values():
        assert abs(m - th) <= 4 * np.sqrt(th * (1 - th) / n)


def test_sparsity_exponential_in_depth(random_success):
    """log(success) is a straight line in depth, falling by 1/9 per level
    (1/3 for the right branch x 1/3 for the wait action)."""
    logs = np.log([random_success[D][0] for D in DEPTHS])
    slope, intercept = np.polyfit(DEPTHS, logs, 1)
    fit = slope * np.asarray(DEPTHS) + intercept
    r2 = 1 - np.sum((logs - fit) ** 2) / np.sum((logs - logs.mean()) ** 2)
    assert r2 >= 0.99
    assert abs(np.exp(slope) * 9 - 1) <= 0.1


def test_wait_states_lengthen_episodes_as_configured():
    lengths = []
    for p in (0.0, 0.25, 0.5, 0.75):
        cfg = CTGraphConfig(branching=2, depth=3, wait_prob=p, max_episode_steps=1000)
        _, lens = run_policy(VecCTGraph(cfg, 1024, tasks=5, seed=100), "optimal", 20_000)
        lengths.append(float(lens.mean()))
        assert lengths[-1] == pytest.approx(optimal_episode_length(cfg), rel=0.02)
        assert optimal_episode_length(cfg) == 2 + 3 + 4 / (1 - p)
    assert np.all(np.diff(lengths) > 0)


def test_every_leaf_reaches_its_optimal_return_under_a_tight_step_limit():
    cfg = CTGraphConfig(branching=2, depth=3, wait_prob=0.5, max_episode_steps=16)
    for task in all_tasks(cfg):
        rets, _ = run_policy(VecCTGraph(cfg, 1024, tasks=task, seed=200), "optimal", 8192)
        opt = optimal_return(cfg, task)
        assert 0.5 < opt < 1.0  # the limit binds: waiting can run out the clock
        assert abs(rets.mean() - opt) <= 4 * np.sqrt(opt * (1 - opt) / len(rets))


def test_experiment_settings_and_tasks():
    """The branching and wait comparisons reuse the depth sweep's depth-2 graph as baseline;
    the observability tasks take two different branches (a memoryless policy solves the
    others)."""
    from mintlab.experiments.ct_graph import FULL, QUICK, _task

    for st in (QUICK, FULL):
        assert 2 in st.depths and st.seeds >= 3
        assert all(b > 2 for b in st.branching) and all(0 < p < 1 for p in st.wait_probs)
    assert FULL.branching and FULL.wait_probs and FULL.markov_lstm
    rng = np.random.default_rng(0)
    for D in (2, 3):
        cfg = CTGraphConfig(depth=D)
        paths = {_task(cfg, rng, True) for _ in range(200)}
        assert paths == {p for p in all_tasks(cfg) if len(set(p)) > 1}


@pytest.mark.parametrize("kw", [dict(depth=2), dict(depth=2, wait_prob=0.5),
                                dict(depth=3, branching=3, wait_prob=0.3)])
def test_random_episode_length_matches_monte_carlo(kw):
    """The experiment's exact mean random-episode length (used in its gap reasons)."""
    from mintlab.experiments.ct_graph import _random_length

    cfg = CTGraphConfig(mdp_waits=True, max_episode_steps=200, **kw)
    _, lens = run_policy(VecCTGraph(cfg, 4096, tasks=0, seed=3), "random", 100_000)
    assert abs(lens.mean() - _random_length(cfg)) <= 4 * lens.std() / np.sqrt(len(lens))
