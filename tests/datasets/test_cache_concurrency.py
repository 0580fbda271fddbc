"""Two real processes filling one cache entry at once: one builds it, both get it, none fails.

The workers are started with the ``spawn`` context (fresh interpreters, as two
``mintlab run`` processes or two pytest-xdist workers are) and meet at a
barrier right before the cached call, so their calls overlap. The builders are
tiny and slow on purpose (a sleep), to hold the race window open.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch

_TIMEOUT = 240  # seconds for a spawned interpreter to import torch and finish


def _module_worker(cache: str, log: str, barrier, queue) -> None:
    os.environ["MINTLAB_CACHE_DIR"] = cache
    torch.set_num_threads(1)
    from mintlab._cache import cached_module

    def build() -> torch.nn.Module:
        return torch.nn.Linear(3, 2)

    def train() -> torch.nn.Module:
        with open(log, "a") as fh:
            fh.write(f"{os.getpid()}\n")
        time.sleep(0.5)  # a slow trainer: the other process must wait, not read half a file
        m = torch.nn.Linear(3, 2)
        with torch.no_grad():
            m.weight.copy_(torch.arange(6.0).reshape(2, 3))
            m.bias.fill_(-0.5)
        m.train_info = {"trained_by": os.getpid()}
        return m

    barrier.wait(timeout=_TIMEOUT)
    try:
        m = cached_module("tiny-linear.pt", build, train)
        queue.put(("ok", m.weight.detach().tolist(), m.bias.detach().tolist()))
    except Exception as err:  # noqa: BLE001 - reported to the parent
        queue.put(("error", repr(err), None))


def _arrays_worker(cache: str, log: str, barrier, queue) -> None:
    os.environ["MINTLAB_CACHE_DIR"] = cache
    from mintlab._cache import cached_arrays

    def compute(name: str) -> dict[str, np.ndarray]:
        with open(log, "a") as fh:
            fh.write(f"{name}\n")
        time.sleep(0.5)
        return {"x": np.arange(100_000, dtype=np.float32).reshape(1000, 100)}

    barrier.wait(timeout=_TIMEOUT)
    try:
        sums = []
        for name in ("sub/tiny-arrays.npz", "damaged.npz"):  # a fresh entry, a damaged one
            got = cached_arrays(name, lambda n=name: compute(n), keys=("x",))
            sums.append((float(got["x"].sum()), str(got["x"].dtype)))
        queue.put(("ok", *sums))
    except Exception as err:  # noqa: BLE001
        queue.put(("error", repr(err), None))


def _race(worker, tmp_path: Path) -> tuple[list[tuple], list[str]]:
    ctx = mp.get_context("spawn")
    cache, log = tmp_path / "cache", tmp_path / "builds.log"
    barrier, queue = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=worker, args=(str(cache), str(log), barrier, queue))
             for _ in range(2)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=_TIMEOUT) for _ in procs]
    for p in procs:
        p.join(timeout=_TIMEOUT)
        assert p.exitcode == 0
    builds = log.read_text().split() if log.exists() else []
    return results, builds


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if ".tmp" in p.name)


def test_two_processes_train_a_cached_module_once(tmp_path):
    results, builds = _race(_module_worker, tmp_path)
    assert [r[0] for r in results] == ["ok", "ok"], results
    assert results[0][1:] == results[1][1:] == ([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]], [-0.5, -0.5])
    assert len(builds) == 1  # one trained, the other waited and loaded
    assert (tmp_path / "cache" / "tiny-linear.pt").is_file()
    assert _leftovers(tmp_path / "cache") == []


def test_two_processes_compute_cached_arrays_once_and_repair_a_damaged_one(tmp_path):
    damaged = tmp_path / "cache" / "damaged.npz"
    damaged.parent.mkdir(parents=True)
    damaged.write_bytes(b"PK\x03\x04 truncated")  # a zip cut off after its first bytes
    results, builds = _race(_arrays_worker, tmp_path)
    one = (float(np.arange(100_000, dtype=np.float32).sum()), "float32")
    assert results == [("ok", one, one)] * 2, results
    assert sorted(builds) == ["damaged.npz", "sub/tiny-arrays.npz"]  # each built once
    assert (tmp_path / "cache" / "sub" / "tiny-arrays.npz").is_file()
    assert _leftovers(tmp_path / "cache") == []


@pytest.mark.parametrize("damage", ["empty", "truncated", "garbage"])
def test_cached_module_rebuilds_a_damaged_entry_with_a_warning(tmp_path, monkeypatch, damage):
    from mintlab._cache import cached_module

    monkeypatch.setenv("MINTLAB_CACHE_DIR", str(tmp_path))
    calls = []

    def train() -> torch.nn.Module:
        calls.append(1)
        return torch.nn.Linear(2, 2)

    first = cached_module("m.pt", lambda: torch.nn.Linear(2, 2), train)
    path = tmp_path / "m.pt"
    raw = path.read_bytes()
    path.write_bytes({"empty": b"", "truncated": raw[: len(raw) // 2],
                      "garbage": b"\x00" * 64}[damage])
    with pytest.warns(RuntimeWarning, match=r"m\.pt.*building it again"):
        again = cached_module("m.pt", lambda: torch.nn.Linear(2, 2), train)
    assert len(calls) == 2 and isinstance(again, torch.nn.Linear)
    loaded = cached_module("m.pt", lambda: torch.nn.Linear(2, 2), train)  # intact now
    assert len(calls) == 2
    assert torch.equal(loaded.weight, again.weight)
    del first


def test_cached_module_rebuilds_an_entry_of_another_model(tmp_path, monkeypatch):
    from mintlab._cache import cached_module

    monkeypatch.setenv("MINTLAB_CACHE_DIR", str(tmp_path))
    cached_module("m.pt", lambda: torch.nn.Linear(2, 2), lambda: torch.nn.Linear(2, 2))
    with pytest.warns(RuntimeWarning, match="other weights than the model"):
        m = cached_module("m.pt", lambda: torch.nn.Linear(3, 2), lambda: torch.nn.Linear(3, 2))
    assert m.weight.shape == (2, 3)


def test_cache_file_names_stay_inside_the_cache(tmp_path, monkeypatch):
    from mintlab._cache import cached_arrays, cached_module

    monkeypatch.setenv("MINTLAB_CACHE_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="filename must be a file name inside the cache"):
        cached_arrays("../escape.npz", dict)
    with pytest.raises(ValueError, match="filename must end with '.npz'"):
        cached_arrays("x.npy", dict)
    with pytest.raises(TypeError, match="filename must be a string"):
        cached_module(3, torch.nn.Identity, torch.nn.Identity)
