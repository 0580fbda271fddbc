"""Bad input to the continual-learning API is rejected with a message naming the argument;
lifelong logs fail safely on damaged files."""

import json

import numpy as np
import pytest
import torch

from mintlab import ArtifactError
from mintlab.continual import (
    GPM,
    ContinualMLP,
    KWinner,
    LifelongLog,
    Naive,
    Task,
    TaskStream,
    continual_swiss_roll,
    lifelong_metrics,
    rotated_digits,
    run_stream,
)


def _xy(n=8, d=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g), torch.arange(n) % 2


def _task(X=None, y=None, **kw):
    X0, y0 = _xy()
    X = X0 if X is None else X
    y = y0 if y is None else y
    return Task(0, "t", X, y, X, y, kw.pop("n_classes", 2), **kw)


# ---------------------------------------------------------------------- tasks
@pytest.mark.parametrize("bad, match", [
    (dict(X=torch.full((8, 3), float("nan"))), "X_train must be finite"),
    (dict(X=torch.randn(8)), "X_train must have 2 dimension"),
    (dict(X=torch.randn(0, 3), y=torch.zeros(0, dtype=torch.long)), "X_train must have at least"),
    (dict(y=torch.arange(8) % 3), r"y_train must lie in \[0, 2\)"),
    (dict(y=torch.arange(7) % 2), "y_train must have one label per sample"),
    (dict(y=torch.full((8,), 0.5)), "y_train must hold integer class labels"),
    (dict(n_classes=0), "n_classes must be >= 1"),
])
def test_task_rejects_bad_data(bad, match):
    with pytest.raises(ValueError, match=match):
        _task(**bad)


def test_task_converts_numpy_to_float32_tensors():
    X, y = _xy()
    t = Task(0, "t", X.numpy().astype(np.float64), y.numpy(), X.numpy(), y.numpy(), 2)
    assert t.X_train.dtype == torch.float32 and t.y_train.dtype == torch.int64
    assert t.n_features == 3


def test_task_stream_checks_its_tasks():
    with pytest.raises(TypeError, match=r"tasks\[0\] must be a Task"):
        TaskStream("s", ("not a task",), "domain-incremental")
    with pytest.raises(ValueError, match="scenario must be one of"):
        TaskStream("s", (_task(),), "online")


def test_strategy_never_trains_on_nan_data():
    """NaN inputs are rejected before the first step: the task cannot be built."""
    net = ContinualMLP(3, [8], [2], seed=0)
    before = [p.detach().clone() for p in net.parameters()]
    X, y = _xy()
    X[2, 1] = float("nan")
    with pytest.raises(ValueError, match="X_train must be finite"):
        Naive(net, epochs=1).train(Task(0, "t", X, y, X, y, 2))
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))


def test_strategy_checks_model_and_task_compatibility():
    net = ContinualMLP(3, [8], [2], seed=0)
    X, y = _xy()
    with pytest.raises(ValueError, match="n_classes=3 but the model's head"):
        Naive(net, epochs=1).train(Task(0, "t", X, y, X, y, 3))
    with pytest.raises(TypeError, match="X_train has dtype torch.float64"):
        Naive(net, epochs=1).train(Task(0, "t", X.double(), y, X.double(), y, 2))


@pytest.mark.parametrize("kw, exc, match", [
    (dict(progress="yes"), TypeError, "progress must be True or False"),
    (dict(objective="ce"), TypeError, "objective must be callable"),
    (dict(plugins="p"), TypeError, "plugins must be an iterable"),
    (dict(threshold=1.5), ValueError, r"threshold must lie in \(0, 1\]"),
    (dict(threshold="0.9"), TypeError, "threshold must be a real number"),
])
def test_gpm_rejects_bad_options(kw, exc, match):
    with pytest.raises(exc, match=match):
        GPM(ContinualMLP(3, [8], [2], seed=0), **kw)


def test_run_stream_checks_its_arguments():
    with pytest.raises(TypeError, match="strategy must be"):
        run_stream("naive", [_task()])
    with pytest.raises(TypeError, match=r"stream\[0\] must be a Task"):
        run_stream(Naive(ContinualMLP(3, [8], [2], seed=0)), ["t"])


def test_models_and_streams_reject_strings_for_numbers():
    with pytest.raises(TypeError, match="density"):
        KWinner(4, density="0.5")
    with pytest.raises(TypeError, match="bias must be True or False"):
        ContinualMLP(3, [8], [2], bias="yes")
    with pytest.raises(TypeError, match="noise"):
        continual_swiss_roll(2, noise="0.1")
    with pytest.raises(TypeError, match="max_degrees"):
        rotated_digits(2, max_degrees="90")


# ---------------------------------------------------------------------- logs and metrics
def _log():
    log = LifelongLog(["a", "b"])
    log.add_evaluation({"a": 0.5, "b": 0.5})
    log.add_training("a", [0.6, 0.8, 0.9])
    log.add_evaluation({"a": 0.9, "b": 0.6})
    return log


def test_log_rejects_bad_values():
    log = LifelongLog(["a"])
    with pytest.raises(ValueError, match="curve must be finite"):
        log.add_training("a", [0.5, float("nan")])
    with pytest.raises(TypeError, match="curve must be an array of numbers"):
        log.add_training("a", "0.5")
    with pytest.raises(TypeError, match="task_names must be a sequence"):
        LifelongLog("ab")
    with pytest.raises(TypeError, match="scores must be a mapping"):
        log.add_evaluation([0.5])


def test_lifelong_metrics_checks_options():
    with pytest.raises(ValueError, match="transfer_method must be one of"):
        lifelong_metrics(_log(), transfer_method="difference")
    with pytest.raises(ValueError, match=r"ste\['a'\] must be finite"):
        lifelong_metrics(_log(), ste={"a": [0.5, float("nan")]})


def test_log_round_trip(tmp_path):
    log = _log()
    log.save(tmp_path / "log.json")
    again = LifelongLog.load(tmp_path / "log.json")
    assert again.to_json() == log.to_json()
    assert [p.name for p in tmp_path.iterdir()] == ["log.json"]  # no temporary file left


@pytest.mark.parametrize("content, match", [
    (b"", "empty"),
    (None, "truncated"),
    (b"\x89PNG\r\n\x1a\n\x00\xff\xfe", "not UTF-8"),
    (b"[1, 2]", "must hold a JSON object"),
    (b'{"task_names": ["a"]}', "lacks required entr"),
    (b'{"task_names": ["a"], "blocks": [{"kind": "sleep", "values": {"a": [1]}}]}',
     "unknown block kind"),
    (b'{"task_names": ["a"], "blocks": [{"kind": "train", "values": {"b": [1]}}]}',
     "unknown task 'b'"),
])
def test_log_load_fails_safely(tmp_path, content, match):
    path = tmp_path / "damaged.json"
    if content is None:  # cut a valid file in half
        _log().save(path)
        content = path.read_bytes()[: path.stat().st_size // 2]
    path.write_bytes(content)
    with pytest.raises(ArtifactError, match=match) as err:
        LifelongLog.load(path)
    assert "damaged.json" in str(err.value)


def test_log_load_missing_file(tmp_path):
    with pytest.raises(ArtifactError, match="no such lifelong log") as err:
        LifelongLog.load(tmp_path / "absent.json")
    assert "absent.json" in str(err.value)


def test_log_json_is_what_save_writes(tmp_path):
    _log().save(tmp_path / "log.json")
    assert json.loads((tmp_path / "log.json").read_text())["task_names"] == ["a", "b"]


# ---------------------------------------------------------------------- CT-graph and RL
def test_ctgraph_arguments():
    from mintlab.continual.envs import CTGraphConfig, VecCTGraph, run_policy, task_similarity

    with pytest.raises(TypeError, match="mdp_waits must be True or False"):
        CTGraphConfig(mdp_waits="yes")
    with pytest.raises(TypeError, match="high_reward must be a finite number"):
        CTGraphConfig(high_reward="1")
    with pytest.raises(TypeError, match="seed must be an int"):
        VecCTGraph(CTGraphConfig(), 2, seed=1.5)
    with pytest.raises(ValueError, match="a must be finite"):
        task_similarity([0.0, float("nan")], [0, 1])
    with pytest.raises(TypeError, match="a must be an array of numbers"):
        task_similarity("01", [0, 1])
    with pytest.raises(ValueError, match="max_steps must be >= 1"):
        run_policy(VecCTGraph(CTGraphConfig(), 2), "optimal", 2, max_steps=0)


def test_cosine_similarity_does_not_turn_nan_into_zero():
    from mintlab.continual.rl import cosine_similarity

    assert cosine_similarity(np.zeros(3), np.ones(3)) == 0.0  # a zero embedding: defined as 0
    with pytest.raises(ValueError, match="u must be finite"):
        cosine_similarity(np.array([np.nan, 1.0, 0.0]), np.ones(3))
    with pytest.raises(ValueError, match="u and v must have the same length"):
        cosine_similarity(np.ones(3), np.ones(4))


def test_sar_dataset_and_masks():
    from mintlab.continual.rl import MaskedLinear, MaskedMLP, PPOSettings, mask_scores, sar_dataset

    obs, r = np.zeros((4, 3)), np.zeros(4)
    with pytest.raises(ValueError, match="actions must hold integers"):
        sar_dataset(obs, np.array([0, 1, 0.5, 1]), r, 2)
    with pytest.raises(ValueError, match=r"actions must lie in \[0, 2\)"):
        sar_dataset(obs, np.array([0, 1, 2, 1]), r, 2)
    with pytest.raises(ValueError, match=r"x must have shape \(\.\.\., 4\)"):
        MaskedLinear(4, 2, 1)(torch.zeros(3, 5))
    with pytest.raises(ValueError, match=r"task must be < n_tasks \(2\)"):
        mask_scores(MaskedMLP([3, 4, 2], 2), 5)
    with pytest.raises(TypeError, match="linear_comb must be True or False"):
        MaskedLinear(4, 2, 1, linear_comb="no")
    with pytest.raises(ValueError, match="n_steps must be >= 1"):
        PPOSettings(n_steps=0)
    with pytest.raises(ValueError, match=r"gamma must lie in \[0, 1\]"):
        PPOSettings(gamma=1.5)


# ------------------------------------------------ valid input of every accepted kind keeps working
@pytest.mark.parametrize("bounds", [
    np.array([0.0, 1.0]),
    (torch.tensor(0.0), torch.tensor(1.0)),
    torch.tensor([0.0, 1.0]),
    (np.float32(0.0), np.int64(1)),
    [0, 1],
])
def test_bounds_accept_arrays_numpy_scalars_and_0d_tensors(bounds):
    from mintlab.continual.attacks import poisoned_task
    from mintlab.continual.inversion import invert_model

    t = _task(X=torch.rand(8, 3))
    delta = torch.full((8, 3), 0.7)
    ref = poisoned_task(t, delta, (0.0, 1.0))
    assert torch.equal(poisoned_task(t, delta, bounds).X_train, ref.X_train)
    net = ContinualMLP(3, [4], [2], seed=0)
    a = invert_model(net, [0, 1], 2, 3, steps=2, bounds=bounds)
    b = invert_model(net, [0, 1], 2, 3, steps=2, bounds=(0.0, 1.0))
    assert torch.equal(a.X, b.X)


def test_bounds_still_reject_bad_values():
    from mintlab.continual.attacks import poisoned_task

    t = _task()
    with pytest.raises(ValueError, match="bounds must be"):
        poisoned_task(t, torch.zeros(8, 3), np.array([0.0, 1.0, 2.0]))
    with pytest.raises(TypeError, match=r"bounds\[1\] must be a real number"):
        poisoned_task(t, torch.zeros(8, 3), (0.0, "1"))
    with pytest.raises(ValueError, match="low < high"):
        poisoned_task(t, torch.zeros(8, 3), (torch.tensor(1.0), torch.tensor(0.0)))


def test_random_perturbation_accepts_a_numpy_shape():
    from mintlab.continual.attacks import random_perturbation

    assert torch.equal(random_perturbation(np.array([4, 3]), 0.1, "l2", seed=1),
                       random_perturbation((4, 3), 0.1, "l2", seed=1))


def test_most_probable_wrong_label_names_its_own_arguments():
    from mintlab.continual.unlearning import most_probable_wrong_label

    net = torch.nn.Linear(2, 3)
    with pytest.raises(ValueError, match="X must be finite"):
        most_probable_wrong_label(net, torch.tensor([[float("nan"), 0.0]]), torch.tensor([0]))
    with pytest.raises(TypeError, match="y must hold integer class labels"):
        most_probable_wrong_label(net, torch.zeros(1, 2), torch.tensor([0.5]))


def test_numpy_seeds_of_every_kind_numpy_accepts():
    from mintlab.continual.envs import CTGraphConfig, VecCTGraph, make_tasks

    cfg = CTGraphConfig(depth=3)
    ref = make_tasks(cfg, 2, seed=np.random.default_rng([1, 2]))
    assert make_tasks(cfg, 2, seed=[1, 2]) == ref
    assert make_tasks(cfg, 2, seed=np.array([1, 2])) == ref
    assert make_tasks(cfg, 2, seed=np.random.SeedSequence([1, 2])) == ref
    a, b = VecCTGraph(cfg, 4, seed=[3, 4]), VecCTGraph(cfg, 4, seed=np.array([3, 4]))
    assert np.array_equal(a.random_actions(), b.random_actions())
    with pytest.raises(ValueError, match="seed must hold ints >= 0"):
        make_tasks(cfg, 2, seed=[1, -2])
    with pytest.raises(TypeError, match="seed must be an int"):
        make_tasks(cfg, 2, seed=[1.5])


def test_task_stream_keeps_the_tasks_it_was_given():
    tasks = [_task()]
    s = TaskStream("s", tasks, "domain-incremental")
    assert s.tasks is tasks and isinstance(s.tasks, list)
    assert isinstance(TaskStream("s", tuple(tasks), "domain-incremental").tasks, tuple)


def test_task_accepts_anything_numpy_can_read():
    pd = pytest.importorskip("pandas")
    X, y = _xy()
    t = Task(0, "t", pd.DataFrame(X.numpy()), pd.Series(y.numpy()), X, y, 2)
    assert torch.equal(t.X_train, X) and torch.equal(t.y_train, y)
    with pytest.raises(TypeError, match="X_train must be an array of numbers"):
        Task(0, "t", pd.DataFrame({"a": ["x"] * 8}), y, X, y, 2)


def test_log_task_names_from_any_iterable():
    names = {"a": 0, "b": 1}
    assert LifelongLog(np.array(["a", "b"])).task_names == ["a", "b"]
    assert LifelongLog(names.keys()).task_names == ["a", "b"]
    with pytest.raises(TypeError, match="task_names must be a sequence of task names"):
        LifelongLog("ab")


def test_agent_widths_and_task_lists_from_numpy_arrays():
    pytest.importorskip("stable_baselines3")
    from mintlab.continual.envs import CTGraphConfig
    from mintlab.continual.rl import MosaicAgent, PPOSettings
    from mintlab.continual.rl.ppo import _check_hidden

    assert _check_hidden(np.array([8, 4])) == (8, 4)
    with pytest.raises(TypeError, match="hidden must be a sequence of layer widths"):
        _check_hidden(8)
    settings = PPOSettings(n_envs=2, n_steps=8, batch_size=8, n_epochs=1)
    agent = MosaicAgent("a", CTGraphConfig(branching=2, depth=2), np.array([[0, 1], [1, 1]]),
                        n_community=1, settings=settings, hidden=np.array([8]))
    assert agent.curriculum == [(0, 1), (1, 1)]
