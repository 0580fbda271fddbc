"""The experiments API accepts every valid kind of input the earlier code took: bools and
numpy scalars as samples, pandas and float16 arrays, numpy integer seeds and thread counts."""

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import torch

from mintlab.experiments import Experiment, Result, Settings, run_seed
from mintlab.experiments.registry import register, unregister


@dataclass(frozen=True, kw_only=True)
class S(Settings):
    n: int = 4


def _run(settings, seed):
    r = Result(seed=seed)
    x = np.random.default_rng(seed).normal(size=settings.n)
    r.compare("gap", x + 1.0, x, claim="higher", margin=0.1)
    return r


@pytest.fixture
def toy():
    register(Experiment("accept-toy", {"higher": "Ours is higher."}, _run, S(seeds=1),
                        S(seeds=1), "reproduced"), replace=True)
    yield
    unregister("accept-toy")


def test_samples_of_every_numeric_kind_are_accepted():
    r = Result()
    assert r.check("flag", True, 0.5, ">=", claim="k").passed
    assert not r.check("flag_off", False, 0.5, ">=", claim="k").passed
    assert r.check("np_bool", np.bool_(True), 0.5, ">=", claim="k").passed
    assert r.check("np_scalar", np.float32(0.25), 0.5, claim="k").measured == 0.25
    assert r.check("np_int", np.int64(3), 4, claim="k").passed
    assert r.check("half", np.array([0.1, 0.2], dtype=np.float16), 0.5, claim="k").passed
    assert r.check("torch_half", torch.tensor([0.1, 0.2], dtype=torch.bfloat16), 0.5,
                   claim="k").passed
    c = r.compare("series", pd.Series([2.0, 3.0, 4.0]), pd.Series([1.0, 2.0, 3.0]),
                  claim="k", margin=0.5)
    assert c.passed and c.n == 3
    assert r.check("frame_column", pd.DataFrame({"a": [0.1, 0.2]})["a"], 0.5,
                   claim="k").passed
    with pytest.raises(TypeError, match="measured must be a number or a 1D array of samples, "
                                        "got str"):
        r.check("text", "0.1", 0.5, claim="k")
    with pytest.raises(TypeError, match="measured must be a number or a 1D array"):
        r.check("none", None, 0.5, claim="k")


def test_run_seed_accepts_numpy_integer_seeds_and_threads(toy):
    o = run_seed("accept-toy", S(seeds=1), np.int64(2), figures=False, threads=np.int32(1))
    assert o.error is None, o.error
    assert type(o.seed) is int and o.seed == 2
    json.dumps(o.to_json())  # the seed is written as a plain int
    ref = run_seed("accept-toy", S(seeds=1), 2, figures=False, threads=1)
    assert o.checks == ref.checks
    with pytest.raises(TypeError, match="seed must be a non-negative int, got bool"):
        run_seed("accept-toy", S(), True)
    with pytest.raises(TypeError, match="seed must be a non-negative int, got float"):
        run_seed("accept-toy", S(), 2.0)
    with pytest.raises(ValueError, match="seed must be a non-negative int, got -1"):
        run_seed("accept-toy", S(), np.int64(-1))
    with pytest.raises(TypeError, match="threads must be an int or None, got bool"):
        run_seed("accept-toy", S(), 0, threads=True)
