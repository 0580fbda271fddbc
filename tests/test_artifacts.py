"""The shared artifact helpers: atomic writes and loaders that name the broken file."""

import json
import os
import pickle

import numpy as np
import pytest
import torch

from mintlab import ArtifactError
from mintlab._artifacts import (
    atomic_write,
    check_file,
    load_npy,
    load_safetensors,
    read_json,
    save_npy,
    save_safetensors,
    torch_load,
    torch_save,
    write_json,
)


def test_artifact_error_is_a_value_error_naming_the_file(tmp_path):
    err = ArtifactError(tmp_path / "x.json", "broken")
    assert isinstance(err, ValueError)
    assert str(tmp_path / "x.json") in str(err) and "broken" in str(err)
    again = pickle.loads(pickle.dumps(err))
    assert again.path == err.path and again.problem == "broken"


def test_atomic_write_leaves_nothing_behind_on_failure(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_write(target) as f:
        f.write(b"half of the new")
        raise RuntimeError("crash mid-write")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_atomic_write_replaces_on_success(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    with atomic_write(target, "w") as f:
        f.write("new")
    assert target.read_text() == "new"
    assert os.listdir(target.parent) == ["out.txt"]


def test_atomic_files_get_the_umask_permissions_not_0600(tmp_path):
    old = os.umask(0o022)
    try:
        a = write_json({"a": 1}, tmp_path / "a.json")
        b = save_safetensors({"w": torch.ones(1)}, tmp_path / "b.safetensors")
    finally:
        os.umask(old)
    assert (a.stat().st_mode & 0o777) == 0o644
    assert (b.stat().st_mode & 0o777) == 0o644


@pytest.mark.parametrize("content, problem", [
    (None, "no such"), (b"", "empty"), (b'{"a": 1', "not valid JSON"),
    (b"\xff\xfe\x00binary", "not UTF-8"), (b"[1, 2]", "must hold a JSON object"),
])
def test_read_json_rejects_unusable_files(tmp_path, content, problem):
    path = tmp_path / "config.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ArtifactError, match=problem) as info:
        read_json(path, what="config")
    assert str(path) in str(info.value)


def test_read_json_required_keys(tmp_path):
    path = write_json({"a": 1}, tmp_path / "c.json")
    assert read_json(path, required=["a"]) == {"a": 1}
    with pytest.raises(ArtifactError, match=r"lacks required entry \['b'\]"):
        read_json(path, required=["a", "b"])
    assert json.loads(path.read_text()) == {"a": 1}


def test_check_file_rejects_a_directory(tmp_path):
    with pytest.raises(ArtifactError, match="found a directory"):
        check_file(tmp_path, "weights file")


def test_safetensors_round_trip_and_corruption(tmp_path):
    path = save_safetensors({"w": torch.arange(6.0).reshape(2, 3)}, tmp_path / "m.safetensors",
                            {"version": "1"})
    tensors, meta = load_safetensors(path, required=["w"])
    assert torch.equal(tensors["w"], torch.arange(6.0).reshape(2, 3)) and meta == {"version": "1"}
    with pytest.raises(ArtifactError, match=r"lacks required entry \['bias'\]"):
        load_safetensors(path, required=["w", "bias"])
    raw = path.read_bytes()
    for name, data in [("truncated", raw[: len(raw) // 2]), ("garbage", b"\x00" * 40 + raw[40:])]:
        bad = tmp_path / f"{name}.safetensors"
        bad.write_bytes(data)
        with pytest.raises(ArtifactError, match="not a readable safetensors file") as info:
            load_safetensors(bad)
        assert str(bad) in str(info.value)


def test_npy_round_trip_refuses_pickles(tmp_path):
    path = save_npy(np.arange(4.0), tmp_path / "a.npy")
    np.testing.assert_array_equal(load_npy(path), np.arange(4.0))
    objects = tmp_path / "objects.npy"
    np.save(objects, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ArtifactError, match="not a readable .npy file"):
        load_npy(objects)
    truncated = tmp_path / "t.npy"
    truncated.write_bytes(path.read_bytes()[:60])
    with pytest.raises(ArtifactError):
        load_npy(truncated)


class Evil:
    """Any non-tensor object: unpickling it would run arbitrary code."""


def test_torch_load_is_weights_only(tmp_path):
    path = torch_save({"w": torch.ones(2)}, tmp_path / "w.pt")
    assert torch.equal(torch_load(path)["w"], torch.ones(2))
    evil = tmp_path / "evil.pt"
    torch.save({"obj": Evil()}, evil)
    with pytest.raises(ArtifactError, match="cannot be read safely"):
        torch_load(evil)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(path.read_bytes()[:30])
    with pytest.raises(ArtifactError, match=str(cut).replace("\\", "\\\\")):
        torch_load(cut)
